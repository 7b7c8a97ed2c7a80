import Foundation
import KubeCore
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import KubeClient

/// An emulated vLLM server listening on one loopback address: `/health`, `/v1/models`,
/// `/metrics` and the OpenAI endpoints of vLLM's API server, on the port the pod names `metrics`.
///
/// ``setMetricsFault(_:)`` breaks `/metrics` on purpose (see ``MetricsFault``).
public final class EmulatedModelServer: ModelServerHandle {
    public let configuration: EmulatorConfiguration
    public let address: String
    public let port: Int
    private let servers: LoopbackServers
    private let faults: MetricsFaultSwitch

    private init(configuration: EmulatorConfiguration, address: String, port: Int, servers: LoopbackServers,
                 faults: MetricsFaultSwitch) {
        self.configuration = configuration
        self.address = address
        self.port = port
        self.servers = servers
        self.faults = faults
    }

    /// The fault `/metrics` shows now.
    public var metricsFault: MetricsFault { faults.fault }

    /// Makes `/metrics` show `fault` from now on (`.none` heals it); scrapes held by `hang`
    /// are answered as the new fault says.
    public func setMetricsFault(_ fault: MetricsFault) {
        faults.set(fault)
    }

    /// `/metrics` requests held by ``MetricsFault/hang`` now.
    public var heldMetricsRequests: Int { faults.heldRequests }

    /// Starts listening on `address:port` and returns once the socket is bound.
    public static func start(_ configuration: EmulatorConfiguration, address: String, port: Int,
                             logger: Logger = Logger(label: "tandem.emulator")) async throws -> EmulatedModelServer {
        let driver = EngineDriver(simulator: configuration.engine)
        let api = OpenAIEndpoints(configuration: configuration, driver: driver, address: address)
        let faults = MetricsFaultSwitch()
        let router = Router()
        router.get("/health") { _, _ in Response(status: .ok) }
        router.get("/v1/models") { _, _ in api.models() }
        router.get("/metrics") { _, _ in
            switch await faults.gate() {
            case .serve(.none), .serve(.hang): return await api.metrics()
            case .serve(.garbage): return MetricsFault.garbageResponse()
            case .serve(.error): return Response(status: .internalServerError, body: ResponseBody(byteBuffer: ByteBuffer(string: "Internal Server Error")))
            case .serve(.stallAfterHeaders):
                return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"], body: ResponseBody { writer in
                    try await writer.write(ByteBuffer(string: "# vllm metrics follow\n"))
                    await faults.stall()
                    try await writer.finish(nil)
                })
            case .stopping: return Response(status: .serviceUnavailable)
            }
        }
        router.post("/v1/completions") { request, _ in try await api.complete(request, chat: false) }
        router.post("/v1/chat/completions") { request, _ in try await api.complete(request, chat: true) }
        let servers = try await LoopbackServers.start(
            [.init(router: router, port: port, name: "tandem-emulator")], address: address, logger: logger,
            onExit: { await driver.shutDown() })
        return EmulatedModelServer(configuration: configuration, address: address, port: port, servers: servers, faults: faults)
    }

    /// Stops accepting connections, lets open requests finish (scrapes held by a `hang` fault
    /// are answered 503), and returns when closed.
    public func stop() async {
        faults.stop()
        await servers.stop()
    }

    /// Stops gracefully, and cancels whatever is still open after `grace` (a request waiting
    /// on a prefill peer that went away, say), as the kubelet's SIGKILL would.
    public func stop(grace: Duration) async {
        faults.stop()
        await servers.stop(grace: grace)
    }
}

/// Starts what a pod runs under the node agent: an ``EmulatedModelServer`` for a model-server
/// pod (sized for the node's accelerator and the pod's devices and flags), with llm-d's
/// ``EmulatedRoutingSidecar`` in front when the pod has one, or an ``EmulatedEndpointPicker``
/// for an endpoint-picker pod.
public struct EmulatorLauncher: ModelServerLauncher {
    /// Finds prefill peers of decode pods through the API, and serves endpoint pickers;
    /// `nil`: only the request header names peers, and EPP pods fail to start.
    let client: KubernetesClient?
    let router: EndpointPickerOptions

    public init(client: KubernetesClient? = nil, router: EndpointPickerOptions = EndpointPickerOptions()) {
        self.client = client
        self.router = router
    }

    public func start(pod: Pod, node: EmulatedNode, address: String, port: Int) async throws -> any ModelServerHandle {
        let name = "\(pod.metadata.namespace ?? "")/\(pod.metadata.name ?? "")"
        if EndpointPickerPod.isEndpointPicker(pod) {
            guard let client else { throw EmulatorError("endpoint-picker pod \(name) needs the API: the launcher has no client") }
            // As a kubelet would, the picker runs with its ServiceAccount's token: it reads the
            // API with exactly what its Role allows.
            guard let account = pod.spec?.serviceAccountName, let namespace = pod.metadata.namespace else {
                return try await EmulatedEndpointPicker.start(pod: pod, address: address, client: client, options: router)
            }
            let token: String
            do {
                token = try await client.requestToken(namespace: namespace, serviceAccount: account)
            } catch {
                throw EmulatorError("endpoint-picker pod \(name): no token for its ServiceAccount \(account): \(error)")
            }
            let scoped = try client.authenticating(withToken: token)
            do {
                let picker = try await EmulatedEndpointPicker.start(pod: pod, address: address, client: scoped, kubelet: client,
                                                                    options: router)
                return ClientOwningHandle(picker, client: scoped)
            } catch {
                try? await scoped.shutdown()
                throw error
            }
        }
        guard let accelerator = node.accelerator else {
            throw EmulatorError("model-server pod \(name) is bound to \(node.name), a node without accelerators; vLLM cannot start there")
        }
        let container = pod.spec?.containers?.first { $0.name == "vllm" } ?? pod.spec?.containers?.first
        let devices = container?.resources?.limits?[accelerator.resourceName].map { Int($0.int64Value) }
        let role: EngineRole = switch pod.metadata.labels?["llm-d.ai/role"] {
        case "prefill": .prefill
        case "decode": .decode
        default: .both
        }
        let threshold = container?.env?.first { $0.name == "TANDEM_DISAGGREGATION_THRESHOLD" }?.value.flatMap { Int($0) } ?? 100
        var configuration = try EmulatorConfiguration.make(
            args: container?.args ?? [], accelerator: accelerator, devices: devices, role: role,
            image: container?.image, disaggregationThreshold: threshold)
        let sidecar = try RoutingSidecarSpec.find(in: pod)
        if let sidecar {
            guard sidecar.vllmPort == port else {
                throw EmulatorError("pod \(name): the routing sidecar forwards to --vllm-port \(sidecar.vllmPort) but vLLM serves on \(port)")
            }
            // The sidecar routes to prefill (as the router told it); vLLM only follows kv_transfer_params.
            configuration.routesToPrefillItself = false
        } else if role == .decode, let client, let pool = pod.metadata.labels?["inference.x-k8s.io/pool"] {
            configuration.prefillPeers = PrefillPeers(client: client, namespace: pod.metadata.namespace ?? "", pool: pool).next
        }
        let server = try await EmulatedModelServer.start(configuration, address: address, port: port)
        guard let sidecar else { return server }
        do {
            let proxy = try await EmulatedRoutingSidecar.start(sidecar, address: address)
            return PodContainers(server: server, sidecar: proxy)
        } catch {
            await server.stop()
            throw EmulatorError("pod \(name): the routing sidecar cannot listen on \(address):\(sidecar.port): \(error)")
        }
    }
}

/// A decode pod's two containers: vLLM and llm-d's routing sidecar in front of it.
struct PodContainers: ModelServerHandle {
    let server: EmulatedModelServer
    let sidecar: EmulatedRoutingSidecar

    /// Both containers get the signal at once, as the kubelet sends it.
    func stop() async {
        async let front: Void = sidecar.stop()
        async let back: Void = server.stop()
        _ = await (front, back)
    }

    func stop(grace: Duration) async {
        async let front: Void = sidecar.stop(grace: grace)
        async let back: Void = server.stop(grace: grace)
        _ = await (front, back)
    }

    func setMetricsFault(_ fault: MetricsFault) {
        server.setMetricsFault(fault)
    }
}

/// The ready prefill pods of a pool, found by label selector through the API (Services do not
/// route on the local cluster), taken in turn. Only loopback pod IPs are returned.
final class PrefillPeers: Sendable {
    let pods: ResourceClient<Pod>
    let selector: String
    private let turn = Atomic<Int>(0)

    init(client: KubernetesClient, namespace: String, pool: String) {
        pods = client.resources(Pod.self, namespace: namespace)
        selector = LabelSelector(matchLabels: ["inference.x-k8s.io/pool": pool, "inference.x-k8s.io/role": "prefill"]).selectorString
    }

    @Sendable func next() async -> String? {
        guard let listed = try? await pods.list(ListOptions(labelSelector: selector)).items else { return nil }
        let ready = listed.compactMap { pod -> String? in
            // A terminating pod leaves the endpoints at once (as the EndpointSlice controller does).
            guard pod.metadata.deletionTimestamp == nil,
                pod.status?.isReady == true,
                let ip = pod.status?.podIP, ip.hasPrefix("127.")
            else { return nil }
            let port = pod.spec?.containers?.first?.ports?.first { $0.name == "metrics" }?.containerPort ?? 8000
            return "\(ip):\(port)"
        }.sorted()
        guard !ready.isEmpty else { return nil }
        return ready[turn.add(1, ordering: .relaxed).oldValue % ready.count]
    }
}

/// A server that runs on a client of its own (a pod's ServiceAccount token), shut down with it.
struct ClientOwningHandle: ModelServerHandle {
    let server: any ModelServerHandle
    let client: KubernetesClient

    init(_ server: any ModelServerHandle, client: KubernetesClient) {
        self.server = server
        self.client = client
    }

    func stop() async {
        await server.stop()
        try? await client.shutdown()
    }

    func stop(grace: Duration) async {
        await server.stop(grace: grace)
        try? await client.shutdown()
    }

    func setMetricsFault(_ fault: MetricsFault) {
        server.setMetricsFault(fault)
    }
}
