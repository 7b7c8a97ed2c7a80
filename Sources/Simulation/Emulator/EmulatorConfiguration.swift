import Foundation
import KubeCore
import Sizing

/// Why an emulated server would not start (as vLLM would refuse to).
public struct EmulatorError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What an emulated model server serves and how fast: built from the same vLLM arguments a
/// real server would get, sized with the same rules as the operator.
public struct EmulatorConfiguration: Sendable {
    /// The name clients use (`--served-model-name`, else `--model`).
    public var servedModelName: String
    public var role: EngineRole
    public var engine: EngineSimulator
    /// vLLM's `vllm:cache_config_info` labels.
    public var numGPUBlocks: Int
    public var blockSize: Int
    public var gpuMemoryUtilization: Double
    /// A decode server sends prompts with at least this many uncached tokens to its prefill peer
    /// (llm-d's `prefix-based-pd-decider` rule); shorter ones it prefills itself.
    public var disaggregationThreshold: Int
    /// Finds a prefill peer (`host:port`) when a request names none, as llm-d's router would
    /// choose one: the node agent looks up the pool's ready prefill pods through the API.
    public var prefillPeers: (@Sendable () async -> String?)?
    /// Whether a decode server sends long prompts to a prefill peer itself (the header's, else
    /// ``prefillPeers``'). `false` behind llm-d's routing sidecar, which does that instead: the
    /// server then prefills what reaches it, unless the request's `kv_transfer_params` say the
    /// KV comes from a peer (`do_remote_prefill`).
    public var routesToPrefillItself = true

    /// Flags Tandem or llm-d set that do not concern the engine's size.
    static let servingFlags: Set<String> = ["--model", "--served-model-name", "--port", "--host", "--kv-transfer-config"]

    /// A configuration from a server's command line, as vLLM would read it.
    ///
    /// - Throws: ``EmulatorError`` when vLLM would refuse: an unknown model, a flag the pinned
    ///   image no longer accepts, or a size that does not fit.
    public static func make(
        args: [String], accelerator: Accelerator?, devices: Int?, role: EngineRole, image: String? = nil,
        disaggregationThreshold: Int = 100
    ) throws -> EmulatorConfiguration {
        func value(_ flag: String) -> String? {
            for (index, argument) in args.enumerated() {
                if argument.hasPrefix(flag + "=") { return String(argument.dropFirst(flag.count + 1)) }
                if argument == flag, index + 1 < args.count { return args[index + 1] }
            }
            return nil
        }
        guard let model = value("--model") else { throw EmulatorError("no --model given") }
        guard let profile = ModelCatalog.builtIn.profile(for: model) else {
            throw EmulatorError("model \(model) is not in the catalog the emulator knows")
        }
        var engineTokens: [String] = []
        var skipNext = false
        for (index, argument) in args.enumerated() {
            if skipNext { skipNext = false; continue }
            let flag = String(argument.split(separator: "=", maxSplits: 1).first ?? "")
            if servingFlags.contains(flag) {
                skipNext = !argument.contains("=") && index + 1 < args.count
                continue
            }
            engineTokens.append(argument)
        }
        let engineArgs: EngineArgs
        do {
            engineArgs = try EngineArgs(engineTokens)
        } catch {
            throw EmulatorError("\(error)")
        }
        if let policy = EngineFlagPolicy.policy(forImage: image ?? EngineFlagPolicy.pinnedVLLMImage) {
            let review = policy.review(engineArgs)
            // The pinned vLLM exits on a flag it no longer has, whatever its old meaning.
            if let removed = (review.refused + review.dropped).first {
                throw EmulatorError("vllm: error: unrecognized arguments: \(removed.flag) (\(removed.reason))")
            }
        }
        let tier: Tier = role == .prefill ? .prefill : .decode
        let sizing: TierSizing
        do {
            sizing = try TierSizer().size(TierSizingRequest(tier: tier, model: profile, accelerator: accelerator,
                                                           explicitDevices: devices, args: engineArgs))
        } catch {
            throw EmulatorError("the engine cannot start: \(error.message)")
        }
        guard let accelerator,
            let configuration = EngineConfiguration(sizing: sizing, role: role, recordsTokenEvents: true)
        else {
            throw EmulatorError("the emulator needs a known accelerator to size the KV cache")
        }
        let engine = EngineSimulator(
            configuration: configuration, stepTime: StepTimeModel(sizing: sizing, model: profile, accelerator: accelerator))
        return EmulatorConfiguration(
            servedModelName: value("--served-model-name") ?? model, role: role, engine: engine,
            numGPUBlocks: configuration.kvCacheBlocks, blockSize: configuration.blockSize,
            gpuMemoryUtilization: sizing.gpuMemoryUtilization.value, disaggregationThreshold: disaggregationThreshold,
            prefillPeers: nil)
    }
}
