import ArgumentParser
import Foundation
import KubeClient
import KubeRuntime
import Logging
import Simulation
import Sizing

/// `tandem node-agent`: emulated GPU nodes for a cluster without GPUs or containers.
struct NodeAgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node-agent",
        abstract: "Play the kubelet for emulated GPU and CPU nodes: register them, and run an emulated vLLM server for every model-server pod bound to them (with llm-d's routing sidecar when the pod has one) and an emulated endpoint picker for every llm-d EPP pod.",
        discussion: "Only loopback addresses are used (127.0.0.2 and up, one per pod). An EPP pod also serves the OpenAI API on its address at port 8080, in place of the Gateway.")

    @Option(help: "Kubeconfig file(s), ':'-separated (default: $KUBECONFIG, else ~/.kube/config).")
    var kubeconfig: String?

    @Option(name: .customLong("nodes"), help: "ACCELERATOR=COUNT, e.g. nvidia-h200=2 (repeatable).")
    var nodes: [String] = ["nvidia-h200=2"]

    @Option(help: "Nodes without accelerators or taints (named cpu-0, cpu-1, …), where pods without a GPU request run: llm-d's endpoint picker.")
    var cpuNodes: Int = 1

    @Option(help: "Milliseconds between the emulated endpoint picker's scrapes of its pods' metrics (llm-d's EPP: 50).")
    var eppRefreshMs: Int = 50

    @Option(help: "Devices per node (default: the accelerator's typical count).")
    var devices: Int?

    @Option(help: "Seconds an emulated server takes to start before loading weights.")
    var startupDelay: Double = 2

    @Option(help: "Extra seconds per GiB of weights each device loads (0: the same delay for every model).")
    var secondsPerGib: Double = 0

    @Option(help: "Log format: text or json.")
    var logFormat: String = "text"

    func run() async throws {
        guard let format = LogFormat(rawValue: logFormat) else { throw ValidationError("--log-format must be text or json") }
        format.bootstrap()
        var emulated: [EmulatedNode] = []
        for entry in nodes {
            let parts = entry.split(separator: "=")
            guard parts.count == 2, let count = Int(parts[1]), count > 0 else {
                throw ValidationError("--nodes takes ACCELERATOR=COUNT, got \(entry)")
            }
            guard let accelerator = AcceleratorCatalog.builtIn.accelerator(named: String(parts[0])) else {
                throw ValidationError("unknown accelerator \(parts[0]); known: \(AcceleratorCatalog.builtIn.accelerators.map(\.name).joined(separator: ", "))")
            }
            let prefix = accelerator.name.split(separator: "-").last.map(String.init) ?? accelerator.name
            for index in 0..<count {
                emulated.append(EmulatedNode(name: "\(prefix)-\(index)", accelerator: accelerator, devices: devices))
            }
        }
        guard cpuNodes >= 0 else { throw ValidationError("--cpu-nodes must be 0 or more, got \(cpuNodes)") }
        guard eppRefreshMs > 0 else { throw ValidationError("--epp-refresh-ms must be positive, got \(eppRefreshMs)") }
        for index in 0..<cpuNodes { emulated.append(.cpu(name: "cpu-\(index)")) }
        let configuration = try ClientConfiguration.fromKubeconfig(path: kubeconfig)
        let client = try KubernetesClient(configuration: configuration)
        let agent = NodeAgent(client: client, nodes: emulated, launcher: EmulatorLauncher(
                                  client: client, router: EndpointPickerOptions(metricsRefresh: .milliseconds(eppRefreshMs))),
                              startupDelay: .byModelSize(base: .milliseconds(Int64(startupDelay * 1000)),
                                                         perGiB: .milliseconds(Int64(secondsPerGib * 1000))))
        let task = Task { try await agent.run() }
        // SIGTERM / SIGINT stop the servers and leave.
        await SignalSources.waitForTermination()
        task.cancel()
        _ = await task.result
        try await client.shutdown()
    }
}

/// SIGTERM and SIGINT for commands that run until stopped.
enum SignalSources {
    /// Keeps the sources alive for the life of the process.
    nonisolated(unsafe) static var sources: [any DispatchSourceSignal] = []

    /// Returns when the process receives SIGTERM or SIGINT.
    static func waitForTermination() async {
        let signals = AsyncStream<Int32>.makeStream()
        for signal in [SIGTERM, SIGINT] {
            Foundation.signal(signal, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signal)
            source.setEventHandler { signals.continuation.yield(signal) }
            source.resume()
            sources.append(source)
        }
        for await _ in signals.stream { break }
    }
}
