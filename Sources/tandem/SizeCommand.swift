import ArgumentParser
import Foundation
import Sizing

/// `tandem size`: one tier's sizing decision and the arithmetic behind it.
struct Size: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show how Tandem sizes a tier: tensor parallelism, devices, memory, KV cache, and why.")

    @Option(help: "Hugging Face model id (the built-in catalog).")
    var model: String

    @Option(help: "Accelerator catalog name (nvidia-h200, amd-mi300x, …).")
    var accelerator: String?

    @Option(help: "prefill or decode.")
    var tier: String = "decode"

    @Option(help: "Devices per replica, as resources would ask for them.")
    var devices: Int?

    @Option(parsing: .remaining, help: "vLLM flags, as vllmArgs would give them (after --args).")
    var args: [String] = []

    func run() throws {
        guard let sizingTier = Tier(rawValue: tier) else { throw ValidationError("--tier must be prefill or decode") }
        guard let profile = ModelCatalog.builtIn.profile(for: model) else {
            throw CLIFailure("model \(model) is not in the built-in catalog; known: \(ModelCatalog.builtIn.models.map(\.id).joined(separator: ", "))")
        }
        var chosen: Accelerator?
        if let accelerator {
            guard let found = AcceleratorCatalog.builtIn.accelerator(named: accelerator) else {
                throw CLIFailure("unknown accelerator \(accelerator); known: \(AcceleratorCatalog.builtIn.accelerators.map(\.name).joined(separator: ", "))")
            }
            chosen = found
        }
        let engineArgs: EngineArgs
        do {
            engineArgs = try EngineArgs(args)
        } catch {
            throw CLIFailure("\(error)")
        }
        do {
            let sizing = try TierSizer().size(TierSizingRequest(
                tier: sizingTier, model: profile, accelerator: chosen, explicitDevices: devices, args: engineArgs))
            print(sizing.report())
        } catch {
            print(error.report())
            throw ExitCode(1)
        }
    }
}
