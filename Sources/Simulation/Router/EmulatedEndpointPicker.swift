import Autoscaling
import Foundation
import Hummingbird
import KubeClient
import KubeCore
import KubeRuntime
import Logging
import NIOCore
import Routing
import ServiceLifecycle
import Synchronization

/// Settings of the emulated endpoint picker.
public struct EndpointPickerOptions: Sendable {
    /// How often each endpoint's `/metrics` is scraped: GIE's EPP refreshes every 50 ms
    /// (`--refresh-metrics-interval`).
    public var metricsRefresh: Duration
    /// One scrape's limit; an endpoint that does not answer keeps its last values.
    public var scrapeTimeout: Duration
    /// How long start-up waits for the config's ConfigMap and the GIE InferencePool to exist
    /// (the operator may create them after the pod); past it the start fails and the node agent
    /// retries at its next resync.
    public var startTimeout: Duration

    public init(metricsRefresh: Duration = .milliseconds(50), scrapeTimeout: Duration = .seconds(1),
                startTimeout: Duration = .seconds(30)) {
        self.metricsRefresh = metricsRefresh
        self.scrapeTimeout = scrapeTimeout
        self.startTimeout = startTimeout
    }
}

/// llm-d's endpoint picker (EPP), emulated for a cluster without Envoy, run by the node agent
/// for EPP pods.
///
/// Start-up reads what the real EPP reads: its `EndpointPickerConfig` from the ConfigMap mounted
/// over `--config-file` (refused, and the pod left unready, when it does not parse or has
/// ``EndpointPickerConfig/problems()``), and the GIE InferencePool named by `--pool-name`,
/// `--pool-namespace`, `--pool-group` (its selector and target port). It then watches the
/// selected pods (ready, not terminating, loopback IPs only) and scrapes their `/metrics` on the
/// target port every ``EndpointPickerOptions/metricsRefresh``.
///
/// The real EPP answers Envoy's ext-proc calls on 9002 and Envoy proxies. Here the EPP plays
/// the Gateway's data path too: the OpenAI API over HTTP on the pod's address at
/// ``EndpointPickerPod/gatewayPort`` (8080); each completion is scheduled with
/// ``EndpointPicker`` and proxied (streams too) to the decode pod's target port, with
/// `x-prefiller-host-port` when the prefill profile ran. `/metrics` on `--metrics-port` counts
/// decisions (`tandem_epp_requests_total{decision}`) and picks per endpoint.
public final class EmulatedEndpointPicker: ModelServerHandle {
    public let address: String
    public let pod: EndpointPickerPod
    private let state: PickerState
    private let servers: LoopbackServers

    private init(address: String, pod: EndpointPickerPod, state: PickerState, servers: LoopbackServers) {
        self.address = address
        self.pod = pod
        self.state = state
        self.servers = servers
    }

    /// The GIE InferencePool kind (v1) in `group` (`--pool-group`; GIE's own by default).
    public static func inferencePoolResource(group: String) -> APIResource {
        var resource = GatewayInferencePool.apiResource
        resource.group = group
        return resource
    }

    /// Reads the config and pool, starts watching and scraping, and returns once the gateway
    /// and metrics ports listen.
    ///
    /// - Throws: ``EmulatorError`` naming the pod and what is wrong: the config (missing, not an
    ///   `EndpointPickerConfig`, refused), the pool (missing after the start timeout, no
    ///   selector or target port), or a port already taken.
    ///   - client: the picker's own credentials (its ServiceAccount's token, as in a pod): the GIE
    ///     pool and the pods are read with them.
    ///   - kubelet: reads the ConfigMap behind the config volume, as the kubelet mounts it (the
    ///     picker's Role grants no ConfigMaps); `nil`: `client`.
    public static func start(
        pod spec: Pod, address: String, client: KubernetesClient, kubelet: KubernetesClient? = nil,
        options: EndpointPickerOptions = EndpointPickerOptions(), logger: Logger = Logger(label: "tandem.epp")
    ) async throws -> EmulatedEndpointPicker {
        let pod = try EndpointPickerPod(spec)
        let podName = "\(spec.metadata.namespace ?? "")/\(spec.metadata.name ?? "")"
        var tagged = logger
        tagged[metadataKey: "pool"] = "\(pod.poolNamespace)/\(pod.poolName)"
        let logger = tagged
        let deadline = ContinuousClock.now + options.startTimeout

        // The config, as the EPP reads its mounted file.
        let configMaps = (kubelet ?? client).resources(ConfigMap.self, namespace: spec.metadata.namespace)
        let configMap = try await waitFor(deadline, "ConfigMap \(pod.configMap) of endpoint-picker pod \(podName)") {
            try await configMaps.getIfExists(pod.configMap)
        }
        guard let text = configMap.data?[pod.configKey] else {
            throw EmulatorError("endpoint-picker pod \(podName): ConfigMap \(pod.configMap) has no key \(pod.configKey) (the file \(pod.configFile)); keys: \((configMap.data ?? [:]).keys.sorted().joined(separator: ", "))")
        }
        let picker: EndpointPicker
        do {
            picker = try EndpointPicker(config: try EndpointPickerConfig.parse(text))
        } catch {
            throw EmulatorError("endpoint-picker pod \(podName): \(pod.configFile) from ConfigMap \(pod.configMap) is refused: \(error); fix the config and recreate the pod")
        }

        // The pool, as the EPP watches it.
        let pools = client.dynamic(inferencePoolResource(group: pod.poolGroup), namespace: pod.poolNamespace)
        let pool = try await waitFor(deadline, "InferencePool \(pod.poolNamespace)/\(pod.poolName) (\(pod.poolGroup)) of endpoint-picker pod \(podName)") {
            try await pools.getIfExists(pod.poolName)
        }
        let spec: GatewayInferencePool.Spec
        do {
            spec = try KubeJSON.decode(GatewayInferencePool.Spec.self, from: KubeJSON.encode(pool["spec"] ?? .null))
        } catch {
            throw EmulatorError("InferencePool \(pod.poolNamespace)/\(pod.poolName) has no v1 spec (selector.matchLabels, targetPorts, endpointPickerRef): \(error)")
        }
        let matchLabels = spec.selector.matchLabels
        guard !matchLabels.isEmpty else {
            throw EmulatorError("InferencePool \(pod.poolNamespace)/\(pod.poolName) has no spec.selector.matchLabels; the endpoint picker selects no pods")
        }
        guard let targetPort = spec.targetPorts.first?.number else {
            throw EmulatorError("InferencePool \(pod.poolNamespace)/\(pod.poolName) has no spec.targetPorts[0].number")
        }
        let selector = LabelSelector(matchLabels: matchLabels).selectorString
        let informer = Informer(client.resources(Pod.self, namespace: pod.poolNamespace), listOptions: ListOptions(labelSelector: selector),
                                logger: logger)
        let state = PickerState(picker: picker, informer: informer, targetPort: Int(targetPort), poolName: pod.poolName)

        let gateway = Router()
        for path in ["/v1/completions", "/v1/chat/completions"] {
            gateway.post(RouterPath(path)) { request, _ in
                await route(request, path: path, chat: path.contains("chat"), state: state, logger: logger)
            }
        }
        gateway.get("/v1/models") { _, _ in
            guard let endpoint = state.endpoints().first(where: { $0.role != "prefill" }) else {
                return UpstreamProxy.error(.serviceUnavailable, "no ready endpoint in InferencePool \(pod.poolName)")
            }
            do {
                return try await UpstreamProxy.forward(.get, path: "/v1/models", body: nil, to: endpoint.address, timeout: .seconds(30))
            } catch {
                return UpstreamProxy.error(.badGateway, "\(endpoint.name) did not answer /v1/models: \(error)")
            }
        }
        gateway.get("/health") { _, _ in Response(status: .ok) }
        let metrics = Router()
        metrics.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: state.metricsText())))
        }

        // The watch and the scrapes run beside the servers; stopping the servers ends them.
        let servers: LoopbackServers
        do {
            servers = try await LoopbackServers.start(
                [.init(router: gateway, port: EndpointPickerPod.gatewayPort, name: "tandem-epp-gateway"),
                 .init(router: metrics, port: pod.metricsPort, name: "tandem-epp-metrics")],
                address: address, logger: logger,
                alongside: [{ await informer.run() },
                            { await state.scrapeLoop(every: options.metricsRefresh, timeout: options.scrapeTimeout) }])
        } catch {
            throw EmulatorError("endpoint-picker pod \(podName) cannot listen on \(address): \(error)")
        }
        do {
            _ = try await waitFor(deadline, "the first list of pods \(selector) for endpoint-picker pod \(podName)") {
                informer.hasSynced ? true : nil
            }
        } catch {
            await servers.stop()
            throw error
        }
        logger.info("endpoint picker of \(pod.poolNamespace)/\(pod.poolName) routes \(selector) on target port \(targetPort); gateway http://\(address):\(EndpointPickerPod.gatewayPort)")
        return EmulatedEndpointPicker(address: address, pod: pod, state: state, servers: servers)
    }

    /// Polls `find` every 200 ms until it returns a value or `deadline` passes.
    static func waitFor<T>(_ deadline: ContinuousClock.Instant, _ what: String, _ find: () async throws -> T?) async throws -> T {
        var lastError: (any Error)?
        while true {
            do {
                if let found = try await find() { return found }
            } catch {
                lastError = error
            }
            guard ContinuousClock.now < deadline else {
                throw EmulatorError("gave up waiting for \(what)\(lastError.map { " (last error: \($0))" } ?? ""); the pod stays unready, and the node agent tries again at its next resync")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Schedules one OpenAI request and proxies it to the decode endpoint chosen.
    static func route(_ request: Request, path: String, chat: Bool, state: PickerState, logger: Logger) async -> Response {
        var request = request
        guard let buffer = try? await request.collectBody(upTo: 64 << 20),
            let body = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer.readableBytesView))
        else { return UpstreamProxy.error(.badRequest, "the body is not JSON") }
        let prompt = OpenAIEndpoints.promptTokens(body, chat: chat)
        let decision: SchedulingDecision
        do {
            decision = try state.schedule(prompt)
        } catch {
            // FailClose: no endpoint, no service.
            logger.warning("request refused: \(error)")
            return UpstreamProxy.error(.serviceUnavailable, "\(error)")
        }
        logger.debug("scheduled \(prompt.count) tokens: \(decision.reason)")
        let headers = decision.prefill.map { [(EmulatedRoutingSidecar.prefillerHeader, $0.address)] } ?? []
        do {
            return try await UpstreamProxy.forward(.post, path: path, body: buffer, to: decision.decode.address, headers: headers)
        } catch {
            logger.warning("\(decision.decode.name) did not answer: \(error)")
            return UpstreamProxy.error(.badGateway, "\(decision.decode.name) at \(decision.decode.address) did not answer: \(error)")
        }
    }

    /// Decisions so far by outcome (`disaggregated`, `decode_only`, `rejected`).
    public var decisions: [String: Int] { state.decisionCounts() }

    /// Stops the gateway and metrics servers (open requests finish), then the watch and the
    /// scrapes; returns when all have ended.
    public func stop() async {
        await servers.stop()
    }
}

/// The emulated EPP's moving parts: the picker (its prefix index), the pods from the informer,
/// the last scrape of each, and the counters.
final class PickerState: Sendable {
    private struct Scheduling {
        var picker: EndpointPicker
        var random = SystemRandomNumberGenerator()
        var decisions: [String: Int] = ["disaggregated": 0, "decode_only": 0, "rejected": 0]
        var picks: [String: Int] = [:]  // "profile\u{0}endpoint"
    }

    private let scheduling: Mutex<Scheduling>
    private let signals = Mutex<[String: PodSignals]>([:])
    let informer: Informer<Pod>
    let targetPort: Int
    let poolName: String

    init(picker: EndpointPicker, informer: Informer<Pod>, targetPort: Int, poolName: String) {
        scheduling = Mutex(Scheduling(picker: picker))
        self.informer = informer
        self.targetPort = targetPort
        self.poolName = poolName
    }

    /// The ready endpoints now, with their last scraped load.
    func endpoints() -> [Endpoint] {
        let scraped = signals.withLock { $0 }
        return informer.store.list().compactMap { pod -> Endpoint? in
            // A terminating pod leaves the endpoints at once (as the EndpointSlice controller does).
            guard pod.metadata.deletionTimestamp == nil, pod.status?.isReady == true,
                let ip = pod.status?.podIP, ip.hasPrefix("127.")
            else { return nil }
            let address = "\(ip):\(targetPort)"
            let load = scraped[address]
            return Endpoint(name: "\(pod.metadata.namespace ?? "")/\(pod.metadata.name ?? "")", address: address,
                            role: pod.metadata.labels?["llm-d.ai/role"], waitingRequests: load?.waiting ?? 0,
                            kvCacheUsage: load?.kvCacheUtilization ?? 0)
        }
        .sorted { $0.name < $1.name }
    }

    func schedule(_ prompt: [Substring]) throws -> SchedulingDecision {
        let current = endpoints()
        return try scheduling.withLock { state throws -> SchedulingDecision in
            do {
                let decision = try state.picker.schedule(prompt: prompt, endpoints: current, random: &state.random)
                state.decisions[decision.isDisaggregated ? "disaggregated" : "decode_only", default: 0] += 1
                state.picks["decode\u{0}\(decision.decode.name)", default: 0] += 1
                if let prefill = decision.prefill { state.picks["prefill\u{0}\(prefill.name)", default: 0] += 1 }
                return decision
            } catch {
                state.decisions["rejected", default: 0] += 1
                throw error
            }
        }
    }

    func decisionCounts() -> [String: Int] { scheduling.withLock { $0.decisions } }

    /// Scrapes every endpoint's `/metrics` each `interval` until cancelled.
    func scrapeLoop(every interval: Duration, timeout: Duration) async {
        while !Task.isCancelled {
            let started = ContinuousClock.now
            let current = endpoints()
            await withTaskGroup(of: (String, PodSignals?).self) { group in
                for endpoint in current {
                    group.addTask {
                        guard let response = try? await UpstreamProxy.client.execute(
                            .init(url: "http://\(endpoint.address)/metrics"), timeout: .milliseconds(timeout.inMilliseconds)),
                            response.status == .ok,
                            let body = try? await response.body.collect(upTo: 4 << 20)
                        else { return (endpoint.address, nil) }
                        let samples = PrometheusText.parseLenient(String(decoding: body.readableBytesView, as: UTF8.self)).samples
                        return (endpoint.address, PodSignals.extract(from: samples))
                    }
                }
                var fresh: [String: PodSignals] = [:]
                for await (address, scraped) in group {
                    if let scraped { fresh[address] = scraped }
                }
                let live = Set(current.map(\.address))
                signals.withLock { table in
                    table = table.filter { live.contains($0.key) }
                    table.merge(fresh) { _, new in new }
                }
            }
            scheduling.withLock { $0.picker.retainPrefixes(of: Set(current.map(\.name))) }
            try? await Task.sleep(until: started + interval, clock: .continuous)
        }
    }

    /// `/metrics` of the emulated EPP.
    func metricsText() -> String {
        let (decisions, picks) = scheduling.withLock { ($0.decisions, $0.picks) }
        let ready = endpoints()
        let pool = VLLMMetricsText.escape(poolName)
        var out = "# HELP tandem_epp_requests_total Requests the emulated endpoint picker scheduled, by decision.\n"
        out += "# TYPE tandem_epp_requests_total counter\n"
        for (decision, count) in decisions.sorted(by: { $0.key < $1.key }) {
            out += #"tandem_epp_requests_total{decision="\#(decision)",pool="\#(pool)"} \#(count)"# + "\n"
        }
        out += "# HELP tandem_epp_endpoint_picks_total Endpoints picked, by scheduling profile.\n"
        out += "# TYPE tandem_epp_endpoint_picks_total counter\n"
        for (key, count) in picks.sorted(by: { $0.key < $1.key }) {
            let parts = key.split(separator: "\u{0}", maxSplits: 1).map(String.init)
            out += #"tandem_epp_endpoint_picks_total{endpoint="\#(VLLMMetricsText.escape(parts[1]))",pool="\#(pool)",profile="\#(parts[0])"} \#(count)"# + "\n"
        }
        out += "# HELP tandem_epp_ready_endpoints Ready endpoints the picker chooses among, by llm-d.ai/role.\n"
        out += "# TYPE tandem_epp_ready_endpoints gauge\n"
        for (role, members) in Dictionary(grouping: ready, by: { $0.role ?? "" }).sorted(by: { $0.key < $1.key }) {
            out += #"tandem_epp_ready_endpoints{pool="\#(pool)",role="\#(VLLMMetricsText.escape(role))"} \#(members.count)"# + "\n"
        }
        return out
    }
}

extension Duration {
    var inMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
