import AsyncHTTPClient
import Foundation
import KubeClient
import KubeCore
import KubeTestSupport
import NIOCore
import Routing
import Simulation
import Sizing
import Synchronization
import TandemAPI
import Testing

/// A cluster of its own for the router: Tandem's CRD and GIE's InferencePool CRD installed, a
/// CPU node (for the endpoint picker, which asks for no GPU) beside the GPU nodes.
enum RouterCluster {
    static let shared = PreparedCluster("router") { cluster in
        try await installCRD(cluster, file: GatewayCRD.file, name: GatewayCRD.name)
    }
}

/// A word prompt of exactly `count` tokens (the emulator counts words), distinct per `tag`.
func wordPrompt(_ count: Int, _ tag: String) -> String {
    (0..<count).map { "\(tag)\($0)" }.joined(separator: " ")
}

/// Sends one completion and returns the answer's body; `stream` counts the SSE token events.
@discardableResult
func completion(_ http: HTTPClient, _ base: String, prompt: String, maxTokens: Int = 2, stream: Bool = false,
                headers: [(String, String)] = []) async throws -> (status: UInt, body: String) {
    var request = HTTPClientRequest(url: base + "/v1/completions")
    request.method = .POST
    request.headers.add(name: "Content-Type", value: "application/json")
    for (name, value) in headers { request.headers.add(name: name, value: value) }
    request.body = .bytes(ByteBuffer(string:
        #"{"model":"meta-llama/Llama-3.1-8B-Instruct","prompt":"\#(prompt)","max_tokens":\#(maxTokens),"stream":\#(stream)}"#))
    let response = try await http.execute(request, timeout: .seconds(60))
    let body = String(buffer: try await response.body.collect(upTo: 8 << 20))
    return (response.status.code, body)
}

/// A pool with a scheduler block, created as a Tandem InferencePool for the operator to render
/// llm-d's router for (endpoint picker, GIE InferencePool, routing sidecars).
struct RouterFixture {
    let namespace: String
    let pool: String
    let scheduler: SchedulerSpec
    let prefillReplicas: Int32
    let decodeReplicas: Int32
    static let model = "meta-llama/Llama-3.1-8B-Instruct"

    /// 8B on one H200 per replica, with a modest KV cache and context (2,600-token prompts fit).
    func tier(_ replicas: Int32) -> TierConfig {
        TierConfig(replicas: replicas, vllmArgs: ["--gpu-memory-utilization=0.3", "--max-model-len=8192"])
    }

    func create(_ client: KubernetesClient) async throws {
        _ = try await client.resources(InferencePool.self, namespace: namespace).create(InferencePool(
            metadata: ObjectMeta(name: pool),
            spec: InferencePoolSpec(model: Self.model, accelerator: "nvidia-h200", prefillConfig: tier(prefillReplicas),
                                    decodeConfig: tier(decodeReplicas), scheduler: scheduler)))
    }
}

/// A running pool behind its emulated router: the gateway's URL and the pods' addresses.
struct RoutedPool {
    let gateway: String
    let metrics: String
    let prefill: [String]
    let decode: [String]

    /// Waits until the EPP serves and sees every pod of both tiers as ready.
    static func wait(_ client: KubernetesClient, _ fixture: RouterFixture, http: HTTPClient) async throws -> RoutedPool {
        let pods = client.resources(Pod.self, namespace: fixture.namespace)
        func ready(_ selector: String) async throws -> [String] {
            try await pods.list(ListOptions(labelSelector: selector)).items
                .filter { $0.status?.isReady == true && $0.metadata.deletionTimestamp == nil }
                .compactMap(\.status?.podIP).sorted()
        }
        return try await eventually("pool \(fixture.pool) routed by its endpoint picker") { () -> RoutedPool? in
            guard let picker = try await ready("\(EndpointPickerPod.poolLabel)=\(fixture.pool)").first else { return nil }
            let prefill = try await ready("inference.x-k8s.io/pool=\(fixture.pool),inference.x-k8s.io/role=prefill")
            let decode = try await ready("inference.x-k8s.io/pool=\(fixture.pool),inference.x-k8s.io/role=decode")
            guard prefill.count == Int(fixture.prefillReplicas), decode.count == Int(fixture.decodeReplicas) else { return nil }
            let metrics = "http://\(picker):9090"
            let text = try await scrapeMetrics(http, metrics).text
            let seen = (firstSample(text, #"tandem_epp_ready_endpoints{pool="\#(fixture.pool)",role="prefill"}"#),
                        firstSample(text, #"tandem_epp_ready_endpoints{pool="\#(fixture.pool)",role="decode"}"#))
            guard seen == (Double(prefill.count), Double(decode.count)) else { return nil }
            return RoutedPool(gateway: "http://\(picker):\(EndpointPickerPod.gatewayPort)", metrics: metrics, prefill: prefill, decode: decode)
        }
    }

    /// A counter of each prefill pod, by address.
    func prefillCounters(_ http: HTTPClient, _ name: String = "vllm:prompt_tokens_total{") async throws -> [String: Double] {
        var values: [String: Double] = [:]
        for address in prefill {
            values[address] = firstSample(try await scrapeMetrics(http, "http://\(address):8000").text, name)
        }
        return values
    }

    /// A counter of the (first) decode pod, read through its routing sidecar.
    func decodeCounter(_ http: HTTPClient, _ name: String) async throws -> Double {
        firstSample(try await scrapeMetrics(http, "http://\(decode[0]):8000").text, name)
    }

    func decisions(_ http: HTTPClient, _ decision: String) async throws -> Double {
        let text = try await scrapeMetrics(http, metrics).text
        return firstSample(text, #"tandem_epp_requests_total{decision="\#(decision)""#)
    }
}

@Suite("llm-d's router, emulated", .serialized)
struct RouterTests {
    static let computed = "tandem_emulator_prompt_tokens_computed_total{"
    static let prompt = "vllm:prompt_tokens_total{"

    /// The routing sidecar in front of a decode vLLM: with `x-prefiller-host-port` the prompt is
    /// prefilled on the peer and decode pulls the KV (computes 1 token); without it, decode
    /// prefills; streams pass through; `/metrics` is vLLM's.
    @Test func sidecarPrefillsOnTheNamedPeerAndDecodePullsTheKV() async throws {
        let h100 = try #require(AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h100"))
        let args = ["--model=\(RouterFixture.model)"]
        let prefill = try await EmulatedModelServer.start(
            try EmulatorConfiguration.make(args: args, accelerator: h100, devices: 1, role: .prefill), address: "127.1.0.90", port: 8000)
        var decodeConfiguration = try EmulatorConfiguration.make(args: args, accelerator: h100, devices: 1, role: .decode)
        decodeConfiguration.routesToPrefillItself = false
        let decode = try await EmulatedModelServer.start(decodeConfiguration, address: "127.1.0.91", port: 8200)
        let sidecar = try await EmulatedRoutingSidecar.start(
            RoutingSidecarSpec(port: 8000, vllmPort: 8200, connector: "nixlv2"), address: "127.1.0.91")
        let http = HTTPClient()
        do {
            let front = "http://127.1.0.91:8000"
            let answer = try await completion(http, front, prompt: wordPrompt(150, "p"), maxTokens: 3,
                                              headers: [("x-prefiller-host-port", "127.1.0.90:8000")])
            #expect(answer.status == 200 && answer.body.contains(#""completion_tokens":3"#), "\(answer.body)")
            let onPrefill = try await scrapeMetrics(http, "http://127.1.0.90:8000").text
            #expect(firstSample(onPrefill, Self.prompt) == 150)
            #expect(firstSample(onPrefill, Self.computed) == 150)
            var onDecode = try await scrapeMetrics(http, front).text
            #expect(firstSample(onDecode, Self.prompt) == 150, "vLLM 0.12 counts the whole prompt on decode too")
            #expect(firstSample(onDecode, Self.computed) == 1, "decode pulled the KV and computed only the last token")

            // No header: decode prefills, the peer sees nothing; a stream passes token by token.
            let streamed = try await completion(http, front, prompt: wordPrompt(150, "q"), maxTokens: 4, stream: true)
            #expect(streamed.status == 200)
            #expect(streamed.body.components(separatedBy: #""text":" tok""#).count - 1 == 3, "4 tokens streamed: \(streamed.body)")
            #expect(streamed.body.hasSuffix("data: [DONE]\n\n"))
            onDecode = try await scrapeMetrics(http, front).text
            #expect(firstSample(onDecode, Self.computed) == 151)
            #expect(firstSample(try await scrapeMetrics(http, "http://127.1.0.90:8000").text, Self.prompt) == 150)

            // A peer off loopback is refused, not dialled.
            let refused = try await completion(http, front, prompt: wordPrompt(150, "r"), headers: [("x-prefiller-host-port", "10.0.0.1:8000")])
            #expect(refused.status == 502 && refused.body.contains("only 127.0.0.0/8"), "\(refused.body)")
        } catch {
            Issue.record(error)
        }
        try await http.shutdown()
        await sidecar.stop()
        await decode.stop()
        await prefill.stop()
    }

    /// The issue's acceptance, through the emulated Gateway on a real control plane: the
    /// threshold decides (5 and 99 tokens stay on decode; 100 and 2,600 go to prefill), a shared
    /// prefix sticks to one prefill pod with cache-aware routing, and spreads with load balancing.
    @Test func routesByTheRenderedConfig() async throws {
        let cluster = try await RouterCluster.shared.get()
        let id = UUID().uuidString.prefix(6).lowercased()
        let h200 = try #require(AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h200"))
        let nodes = [EmulatedNode.cpu(name: "router-cpu-\(id)"), EmulatedNode(name: "router-h200-\(id)", accelerator: h200, devices: 8)]
        // Scrapes every 200 ms, not llm-d's 50: nothing here needs fresher load, and the e2e phase
        // shares two cores with the timing-sensitive autoscaling scenarios.
        let router = EndpointPickerOptions(metricsRefresh: .milliseconds(200))
        try await withNodeAgent(cluster, nodes, startupDelay: .fixed(.milliseconds(200)), router: router) { _, admin, http in
            try await cluster.withNamespace("router") { client, namespace in
                let running = try RunningOperator(cluster: cluster, namespace: namespace)
                do {
                    // Two pools at once: cache-aware (A) and load-balancing (B), threshold 100.
                    let sticky = RouterFixture(
                        namespace: namespace, pool: "sticky",
                        scheduler: SchedulerSpec(enableCacheAwareRouting: true, enableLoadBalancing: false, disaggregationThreshold: 100),
                        prefillReplicas: 2, decodeReplicas: 1)
                    let spread = RouterFixture(
                        namespace: namespace, pool: "spread",
                        scheduler: SchedulerSpec(enableCacheAwareRouting: false, enableLoadBalancing: true, disaggregationThreshold: 100),
                        prefillReplicas: 2, decodeReplicas: 1)
                    try await sticky.create(client)
                    try await spread.create(client)
                    let a = try await RoutedPool.wait(client, sticky, http: http)
                    let b = try await RoutedPool.wait(client, spread, http: http)
                    // The operator sees its picker ready and the GIE pool applied.
                    for name in ["sticky", "spread"] {
                        let routing = try await eventually("\(name) RouterReady") { () -> Condition? in
                            let ready = condition(try await pool(client, namespace, name), PoolCondition.routerReady)
                            return ready?.status == .true ? ready : nil
                        }
                        #expect(routing.reason == "Routing" && routing.message.contains("≥ 100 uncached tokens"), "\(routing)")
                    }

                    func prefillTotal(_ pool: RoutedPool) async throws -> Double {
                        try await pool.prefillCounters(http).values.reduce(0, +)
                    }
                    // 5 tokens: decode alone, no prefill pod touched.
                    var before = try await a.prefillCounters(http)
                    var decodeBefore = try await a.decodeCounter(http, Self.prompt)
                    var answer = try await completion(http, a.gateway, prompt: wordPrompt(5, "five"))
                    #expect(answer.status == 200, "\(answer.body)")
                    #expect(try await a.prefillCounters(http) == before, "a 5-token prompt touched a prefill pod")
                    #expect(try await a.decodeCounter(http, Self.prompt) == decodeBefore + 5)

                    // 2,600 tokens: prefilled on one prefill pod; decode computes less than the prompt.
                    let computedBefore = try await a.decodeCounter(http, Self.computed)
                    decodeBefore = try await a.decodeCounter(http, Self.prompt)
                    answer = try await completion(http, a.gateway, prompt: wordPrompt(2600, "long"), maxTokens: 4, stream: true)
                    #expect(answer.status == 200 && answer.body.hasSuffix("data: [DONE]\n\n"), "\(answer.body.suffix(300))")
                    var after = try await a.prefillCounters(http)
                    let rises = after.map { $0.value - (before[$0.key] ?? 0) }.sorted()
                    #expect(rises == [0, 2600], "one prefill pod computed the 2,600-token prompt: \(rises)")
                    let decodeComputed = try await a.decodeCounter(http, Self.computed) - computedBefore
                    #expect(decodeComputed < 2600 && decodeComputed == 1, "decode computed \(decodeComputed) of 2,600 prompt tokens")
                    #expect(try await a.decodeCounter(http, Self.prompt) == decodeBefore + 2600, "vLLM 0.12 counts the whole prompt on decode too")

                    // The boundary: exactly 100 uncached tokens disaggregates, 99 does not.
                    before = after
                    _ = try await completion(http, a.gateway, prompt: wordPrompt(100, "hundred"))
                    after = try await a.prefillCounters(http)
                    #expect(try await prefillTotal(a) - before.values.reduce(0, +) == 100, "100 tokens went to prefill")
                    _ = try await completion(http, a.gateway, prompt: wordPrompt(99, "ninetynine"))
                    #expect(try await a.prefillCounters(http) == after, "99 tokens stayed on decode")
                    #expect(try await a.decisions(http, "disaggregated") == 2)
                    #expect(try await a.decisions(http, "decode_only") == 2)

                    // Cache-aware: a shared 800-token prefix with 150-token suffixes (still ≥ 100
                    // uncached on decode) sticks to one prefill pod.
                    let prefix = wordPrompt(800, "doc")
                    before = try await a.prefillCounters(http)
                    for index in 0..<6 {
                        let sent = try await completion(http, a.gateway, prompt: prefix + " " + wordPrompt(150, "q\(index)-"))
                        #expect(sent.status == 200, "\(sent.body)")
                    }
                    after = try await a.prefillCounters(http)
                    let sharedRises = after.map { $0.value - (before[$0.key] ?? 0) }.sorted()
                    #expect(sharedRises == [0, 6 * 950], "every request sharing the prefix went to one prefill pod: \(sharedRises)")

                    // Load balancing, no prefix scorer: the same requests, concurrently, spread.
                    before = try await b.prefillCounters(http)
                    try await withThrowingTaskGroup(of: UInt.self) { group in
                        for index in 0..<16 {
                            group.addTask {
                                try await completion(http, b.gateway, prompt: prefix + " " + wordPrompt(150, "q\(index)-"), stream: true).status
                            }
                        }
                        for try await status in group { #expect(status == 200) }
                    }
                    after = try await b.prefillCounters(http)
                    let spreadRises = after.map { $0.value - (before[$0.key] ?? 0) }
                    #expect(spreadRises.reduce(0, +) == 16 * 950, "every request was disaggregated: \(spreadRises)")
                    #expect(spreadRises.filter { $0 > 0 }.count > 1, "load balancing spread the requests: \(spreadRises)")

                    // `tandem load --pool` finds the pool's endpoint picker and sends through it.
                    let decided = try await a.decisions(http, "disaggregated")
                    let load = try await Script.exec([
                        Script.projectRoot + "/.build/debug/tandem", "load", "--pool", "sticky", "--namespace", namespace,
                        "--kubeconfig", cluster.kubeconfigPath, "--rate", "10", "--duration", "1", "--prompt-tokens", "300",
                        "--output-tokens", "2"])
                    #expect(load.status == 0, "\(load.output)")
                    #expect(load.output.contains("to 1 server(s): \(a.gateway)"), "\(load.output)")
                    #expect(load.output.contains(" 0 failed"), "\(load.output)")
                    let sent = Double(load.output.split(separator: "\n").first { $0.hasPrefix("sending ") }?.split(separator: " ")[1] ?? "") ?? -1
                    let decidedAfter = try await a.decisions(http, "disaggregated")
                    #expect(sent > 0 && decidedAfter == decided + sent, "every 300-token request was disaggregated")

                    // A config the router refuses: the EPP does not start, and says why.
                    var broken = EndpointPickerConfig.forScheduler(SchedulerSpec())
                    broken.schedulingProfiles[0].plugins.removeLast()
                    _ = try await client.resources(ConfigMap.self, namespace: namespace).create(
                        ConfigMap(metadata: ObjectMeta(name: "broken-epp"), data: ["epp-config.yaml": try broken.yaml()]))
                    var pod = Pod(metadata: ObjectMeta(name: "broken-epp-0", namespace: namespace))
                    pod.spec = PodSpec(containers: [Container(
                        name: "epp", args: ["--pool-name", "sticky", "--config-file", "/etc/epp/epp-config.yaml"],
                        volumeMounts: [VolumeMount(name: "epp-config", mountPath: "/etc/epp")])])
                    pod.spec?.volumes = [Volume(name: "epp-config", configMap: ConfigMapVolumeSource(name: "broken-epp"))]
                    let refused = try cluster.adminClient()
                    await #expect { _ = try await EmulatedEndpointPicker.start(pod: pod, address: "127.1.0.95", client: refused) }
                        throws: { "\($0)".contains("is refused") && "\($0)".contains("has 0 pickers") }
                    // A GIE pool that is not there: the start gives up after its timeout, naming it.
                    pod.spec?.containers?[0].args = ["--pool-name", "absent", "--config-file", "/etc/epp/epp-config.yaml"]
                    pod.spec?.volumes = [Volume(name: "epp-config", configMap: ConfigMapVolumeSource(name: "sticky-epp"))]
                    await #expect {
                        _ = try await EmulatedEndpointPicker.start(pod: pod, address: "127.1.0.95", client: refused,
                                                                   options: EndpointPickerOptions(startTimeout: .milliseconds(500)))
                    } throws: { "\($0)".contains("gave up waiting for InferencePool \(namespace)/absent") }
                    try await refused.shutdown()
                } catch {
                    try? await running.stop()
                    throw error
                }
                try await running.stop()
            }
            for node in nodes { _ = try? await admin.resources(Node.self).delete(node.name) }
        }
    }
}
