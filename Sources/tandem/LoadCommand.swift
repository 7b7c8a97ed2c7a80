import ArgumentParser
import Foundation
import KubeClient
import KubeCore
import Rendering
import Simulation
import Sizing
import TandemAPI

/// `tandem load`: OpenAI traffic at a pool's decode pods, with TTFT/TPOT percentiles.
struct Load: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send OpenAI completions to a pool (through its router when it has one), its decode pods, or URLs, and print TTFT and TPOT percentiles.",
        discussion: """
            A pool with a scheduler block has llm-d's router: requests go to its endpoint picker's pod, whose \
            emulation serves the OpenAI API on port 8080 in place of the Gateway. Otherwise pods are found \
            through the API by the decode Service's selector and dialled on their pod IPs (Services do not \
            route on the local cluster). Only 127.0.0.0/8 addresses are used.
            """)

    @Option(help: "The InferencePool to load (its decode pods).")
    var pool: String?

    @Option(help: "Namespace of the pool (default: the kubeconfig context's).")
    var namespace: String?

    @Option(help: "Kubeconfig file(s).")
    var kubeconfig: String?

    @Option(help: "A model server URL instead of a pool (repeatable), e.g. http://127.0.0.2:8000.")
    var url: [String] = []

    @Option(help: "The served model name (default: the pool's spec.model).")
    var model: String?

    @Option(help: "Requests per second.")
    var rate: Double = 2

    @Option(help: "Seconds to run.")
    var duration: Double = 30

    @Option(help: "steady, step, burst, diurnal or surge (prompts ×4 in the middle third).")
    var pattern: String = "steady"

    @Option(help: "A trace CSV (TIMESTAMP,ContextTokens,GeneratedTokens) instead of a rate.")
    var trace: String?

    @Option(help: "Replay a trace this many times faster.")
    var speedup: Double = 1

    @Option(help: "At most this many requests.")
    var limit: Int = 10_000

    @Option(help: "Prompt tokens per request (rate patterns).")
    var promptTokens: Int = 512

    @Option(help: "Output tokens per request (rate patterns).")
    var outputTokens: Int = 128

    @Option(help: "Random seed of the arrival times.")
    var seed: UInt64 = 1

    func run() async throws {
        var targets = url
        var servedModel = model
        if let pool {
            let configuration = try ClientConfiguration.fromKubeconfig(path: kubeconfig)
            let client = try KubernetesClient(configuration: configuration)
            defer { Task { try? await client.shutdown() } }
            let namespace = self.namespace ?? configuration.namespace
            let found = try await client.resources(InferencePool.self, namespace: namespace).get(pool)
            servedModel = servedModel ?? found.spec?.model
            targets += try await Self.targets(of: pool, namespace: namespace, client: client)
        }
        guard let servedModel else { throw ValidationError("name the model with --model (or load a --pool)") }
        let plan: [PlannedRequest]
        if let trace {
            plan = try ArrivalSchedule.trace(csv: String(contentsOfFile: trace, encoding: .utf8), speedup: speedup, limit: limit)
        } else {
            plan = Array(try SyntheticLoad.plan(
                pattern: pattern, rate: rate, seconds: duration, promptTokens: promptTokens, outputTokens: outputTokens,
                seed: seed).prefix(limit))
        }
        print("sending \(plan.count) requests to \(targets.count) server(s): \(targets.joined(separator: " "))")
        let report = try await LoadRunner.run(targets: targets, model: servedModel, plan: plan)
        print(report.summary())
    }
}

extension Load {
    /// Where a pool takes requests: its endpoint picker's gateway (emulated on the EPP pod's
    /// port 8080) when a ready one serves it, else each ready decode pod's serving port (llm-d's
    /// routing sidecar's `http` port when the pod has one, else vLLM's `metrics` port).
    static func targets(of pool: String, namespace: String, client: KubernetesClient) async throws -> [String] {
        let pods = client.resources(Pod.self, namespace: namespace)
        let pickers = try await pods.list(ListOptions(
            labelSelector: LabelSelector(matchLabels: [EndpointPickerPod.poolLabel: ChildNames.poolLabel(pool)]).selectorString)).items
        if let picker = pickers.first(where: { $0.status?.isReady == true && $0.metadata.deletionTimestamp == nil }),
            let ip = picker.status?.podIP
        {
            return ["http://\(ip):\(EndpointPickerPod.gatewayPort)"]
        }
        let service = try await client.resources(Service.self, namespace: namespace).get(ChildNames.tier(pool, .decode))
        let selector = LabelSelector(matchLabels: service.spec?.selector).selectorString
        return try await pods.list(ListOptions(labelSelector: selector)).items.compactMap { pod -> String? in
            guard pod.status?.isReady == true, pod.metadata.deletionTimestamp == nil, let ip = pod.status?.podIP else { return nil }
            let containers = (pod.spec?.containers ?? []) + (pod.spec?.initContainers ?? [])
            let sidecar = containers.first { $0.name == RoutingSidecarSpec.containerName }?.ports?.first { $0.name == "http" }?.containerPort
            let vllm = pod.spec?.containers?.first?.ports?.first { $0.name == Renderer.metricsPortName }?.containerPort
            return "http://\(ip):\(sidecar ?? vllm ?? Renderer.servingPort)"
        }
    }
}

/// `tandem emulate`: one emulated vLLM server, outside any cluster.
struct Emulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one emulated vLLM server (OpenAI API and /metrics) on a loopback address.")

    @Option(help: "Loopback address to listen on.")
    var address: String = "127.0.0.2"

    @Option(help: "Port.")
    var port: Int = 8000

    @Option(help: "Accelerator it pretends to run on.")
    var accelerator: String = "nvidia-h100"

    @Option(help: "Devices per server.")
    var devices: Int = 1

    @Option(help: "both, prefill or decode.")
    var role: String = "both"

    @Option(parsing: .remaining, help: "vLLM flags, e.g. --args --model=meta-llama/Llama-3.1-8B-Instruct")
    var args: [String] = ["--model=meta-llama/Llama-3.1-8B-Instruct"]

    func run() async throws {
        guard address.hasPrefix("127.") else { throw ValidationError("--address must be a loopback address (127.0.0.0/8)") }
        guard let engineRole = EngineRole(rawValue: role) else { throw ValidationError("--role must be both, prefill or decode") }
        guard let chosen = AcceleratorCatalog.builtIn.accelerator(named: accelerator) else {
            throw ValidationError("unknown accelerator \(accelerator)")
        }
        let configuration = try EmulatorConfiguration.make(args: args, accelerator: chosen, devices: devices, role: engineRole)
        let server = try await EmulatedModelServer.start(configuration, address: address, port: port)
        print("serving \(configuration.servedModelName) on http://\(address):\(port) (Ctrl-C stops)")
        await SignalSources.waitForTermination()
        await server.stop()
    }
}

