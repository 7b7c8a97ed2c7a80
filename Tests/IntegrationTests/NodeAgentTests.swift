import AsyncHTTPClient
import Foundation
import NIOCore
import KubeClient
import KubeCore
import KubeTestSupport
import Simulation
import Sizing
import Synchronization
import Testing

/// Runs `body` with a node agent serving `nodes` on `cluster` (endpoint pickers with `router`),
/// then stops the agent (and its servers) and closes the clients, whether `body` returns or throws.
func withNodeAgent(
    _ cluster: TestCluster, _ nodes: [EmulatedNode], startupDelay: StartupDelay, router: EndpointPickerOptions = EndpointPickerOptions(),
    launcher: (any ModelServerLauncher)? = nil, addresses: LoopbackAddresses = .shared,
    _ body: (NodeAgent, KubernetesClient, HTTPClient) async throws -> Void
) async throws {
    let client = try cluster.adminClient()
    let agent = NodeAgent(client: client, nodes: nodes, launcher: launcher ?? EmulatorLauncher(client: client, router: router),
                          startupDelay: startupDelay, maxTerminationGrace: .seconds(1), addresses: addresses)
    let running = Task { try await agent.run() }
    let http = HTTPClient()
    func stop() async {
        running.cancel()
        _ = await running.result
    }
    do {
        try await body(agent, client, http)
    } catch {
        await stop()
        try? await http.shutdown()
        try? await client.shutdown()
        throw error
    }
    await stop()
    #expect(agent.servedAddresses.isEmpty, "servers left running after the agent stopped")
    try await http.shutdown()
    try await client.shutdown()
}

/// A pod spec asking for one device of `accelerator`, as Tandem renders a model server.
func modelServerPodSpec(_ accelerator: Accelerator) throws -> PodSpec {
    let label = try #require(accelerator.nodeLabels.first)
    return PodSpec(
        containers: [Container(
            name: "vllm", image: "vllm/vllm-openai:v0.12.0", args: ["--model=meta-llama/Llama-3.1-8B-Instruct"],
            ports: [ContainerPort(name: "metrics", containerPort: 8000)],
            resources: ResourceRequirements(limits: [accelerator.resourceName: 1], requests: [accelerator.resourceName: 1]))],
        nodeSelector: [label.key: label.value],
        tolerations: [Toleration(key: accelerator.resourceName, operator: "Exists", effect: "NoSchedule")],
        terminationGracePeriodSeconds: 5)
}

/// A container runtime whose start of one pod waits until the test opens the gate, and which
/// records any start on an address another of its servers still holds.
final class GatedLauncher: ModelServerLauncher, Sendable {
    struct State {
        var gate: CheckedContinuation<Void, Never>?
        var opened = false
        var live: Set<String> = []
        var started: [String: String] = [:]
        var clashes: [String] = []
    }
    struct Handle: ModelServerHandle {
        let address: String
        let launcher: GatedLauncher
        func stop() async { _ = launcher.state.withLock { $0.live.remove(address) } }
    }
    let state = Mutex(State())
    let gated: String

    init(gating pod: String) { gated = pod }

    func start(pod: Pod, node: EmulatedNode, address: String, port: Int) async throws -> any ModelServerHandle {
        let name = pod.metadata.name ?? ""
        if name == gated {
            await withCheckedContinuation { (gate: CheckedContinuation<Void, Never>) in
                let now = state.withLock { state -> Bool in
                    if state.opened { return true }
                    state.gate = gate
                    return false
                }
                if now { gate.resume() }
            }
        }
        state.withLock { state in
            if state.live.contains(address) { state.clashes.append("\(name) started on \(address), which a running server holds") }
            state.live.insert(address)
            state.started[name] = address
        }
        return Handle(address: address, launcher: self)
    }

    var waiting: Bool { state.withLock { $0.gate != nil } }

    func open() {
        let gate = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.opened = true
            defer { state.gate = nil }
            return state.gate
        }
        gate?.resume()
    }
}

@Suite("Node agent against a real control plane")
struct NodeAgentTests {
    /// A pod deleted while its server is still starting keeps its address until that server is
    /// stopped: handed to the next pod at once, it was still bound ("Address already in use",
    /// seen beside stress-ng, and the next pod never served).
    @Test func aPodDeletedWhileItsServerStartsKeepsItsAddressUntilTheServerStops() async throws {
        let cluster = try await TestCluster.dedicated("nodeagent")
        let launcher = GatedLauncher(gating: "first")
        let nodes = [EmulatedNode.cpu(name: "cpu-address-race")]
        try await withNodeAgent(cluster, nodes, startupDelay: .fixed(.milliseconds(100)), launcher: launcher,
                                addresses: LoopbackAddresses(block: 250)) { _, _, _ in
            try await cluster.withNamespace("race") { admin, namespace in
                let pods = admin.resources(Pod.self, namespace: namespace)
                func pod(_ name: String) -> Pod {
                    Pod(metadata: ObjectMeta(name: name), spec: PodSpec(
                        containers: [Container(name: "vllm", image: "vllm/vllm-openai:v0.12.0",
                                               ports: [ContainerPort(name: "metrics", containerPort: 8000)])],
                        nodeName: "cpu-address-race", terminationGracePeriodSeconds: 5))
                }
                _ = try await pods.create(pod("first"))
                _ = try await eventually("the first pod's server to be starting") { launcher.waiting ? true : nil }
                _ = try await pods.delete("first")
                _ = try await eventually("the node agent to finish deleting the first pod") { () -> Bool? in
                    (try? await pods.get("first")) == nil ? true : nil
                }
                _ = try await pods.create(pod("second"))
                let second = try await eventually("the second pod Running") { () -> String? in
                    let pod = try await pods.get("second")
                    return pod.status?.phase == "Running" ? pod.status?.podIP : nil
                }
                launcher.open()
                let first = try await eventually("the first pod's late server started and stopped") { () -> String? in
                    launcher.state.withLock { state in state.started["first"].flatMap { state.live.contains($0) ? nil : $0 } }
                }
                #expect(first != second, "the second pod got the address of a server still starting")
                let clashes = launcher.state.withLock { $0.clashes }
                #expect(clashes.isEmpty, "\(clashes)")
            }
        }
    }

    @Test func podsOnEmulatedGPUNodesRunServeAndComeBack() async throws {
        // Nodes are cluster-wide state: a cluster of this test's own.
        let cluster = try await TestCluster.dedicated("nodeagent")
        let accelerator = try #require(AcceleratorCatalog.builtIn.accelerator(named: "nvidia-a100-80gb"))
        let nodes = (0..<2).map { EmulatedNode(name: "a100-\($0)", accelerator: accelerator, devices: 8) }
        try await withNodeAgent(cluster, nodes, startupDelay: .fixed(.milliseconds(300))) { _, client, http in
            _ = try await eventually("both nodes Ready and schedulable") { () -> Bool? in
                let listed = try await client.resources(Node.self).list().items.filter { $0.metadata.name?.hasPrefix("a100-") == true }
                let ready = listed.filter { node in
                    node.status?.conditions?.contains { $0.type == "Ready" && $0.status == "True" } == true
                        && !(node.spec?.taints ?? []).contains { $0.key == "node.kubernetes.io/not-ready" }
                }
                return ready.count == 2 ? true : nil
            }
            try await cluster.withNamespace("agent") { admin, namespace in
                let deployment = Deployment(
                    metadata: ObjectMeta(name: "gpu", namespace: namespace),
                    spec: DeploymentSpec(
                        replicas: 17, selector: LabelSelector(matchLabels: ["app": "gpu"]),
                        template: PodTemplateSpec(
                            metadata: ObjectMeta(labels: ["app": "gpu", "llm-d.ai/role": "decode"]),
                            spec: try modelServerPodSpec(accelerator))))
                _ = try await admin.resources(Deployment.self, namespace: namespace).create(deployment)
                let pods = admin.resources(Pod.self, namespace: namespace)

                let ready = try await eventually(timeout: .seconds(120), "16 Ready pods and 1 Unschedulable") { () -> [Pod]? in
                    let all = try await pods.list(ListOptions(labelSelector: "app=gpu")).items.filter { $0.metadata.deletionTimestamp == nil }
                    let serving = all.filter { $0.status?.phase == "Running" && $0.status?.isReady == true }
                    let pending = all.filter {
                        $0.status?.conditions?.contains { $0.type == "PodScheduled" && $0.status == "False" && $0.reason == "Unschedulable" } == true
                    }
                    return serving.count == 16 && pending.count == 1 ? serving : nil
                }
                let addresses = ready.compactMap(\.status?.podIP)
                #expect(Set(addresses).count == 16, "pod IPs are not distinct: \(addresses)")
                #expect(addresses.allSatisfy { $0.hasPrefix("127.") && $0 != "127.0.0.1" })
                let pending = try await pods.list(ListOptions(labelSelector: "app=gpu")).items.first { $0.status?.phase == "Pending" }
                let message = pending?.status?.conditions?.first { $0.type == "PodScheduled" }?.message ?? ""
                #expect(message.contains("Insufficient nvidia.com/gpu"), "\(message)")
                for address in addresses {
                    let response = try await http.execute(HTTPClientRequest(url: "http://\(address):8000/health"), timeout: .seconds(30))
                    #expect(response.status == .ok, "\(address) does not serve")
                }

                // A deleted pod: its server stops, the object goes, a replacement runs and serves.
                let victim = ready[0]
                try await pods.delete(victim.metadata.name ?? "")
                let replacement = try await eventually("a replacement pod serving") { () -> Pod? in
                    let all = try await pods.list(ListOptions(labelSelector: "app=gpu")).items
                    guard !all.contains(where: { $0.metadata.uid == victim.metadata.uid }) else { return nil }
                    let serving = all.filter { $0.status?.phase == "Running" }
                    return serving.count == 16 ? serving.first { pod in !ready.contains { $0.metadata.uid == pod.metadata.uid } } : nil
                }
                let address = try #require(replacement.status?.podIP)
                let response = try await http.execute(HTTPClientRequest(url: "http://\(address):8000/v1/models"), timeout: .seconds(30))
                #expect(response.status == .ok)
                let body = String(buffer: try await response.body.collect(upTo: 1 << 16))
                #expect(body.contains("meta-llama/Llama-3.1-8B-Instruct"))
            }
        }
    }

    @Test func decodePodsFindTheirPoolsPrefillPodsThroughTheAPI() async throws {
        let cluster = try await TestCluster.dedicated("nodeagent")
        let h100 = try #require(AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h100"))
        let nodes = [EmulatedNode(name: "h100-pd", accelerator: h100, devices: 8)]
        try await withNodeAgent(cluster, nodes, startupDelay: .fixed(.milliseconds(200))) { _, _, http in
            try await cluster.withNamespace("pd") { admin, namespace in
                for role in ["prefill", "decode"] {
                    let labels = ["inference.x-k8s.io/pool": "p", "inference.x-k8s.io/role": role, "llm-d.ai/role": role]
                    _ = try await admin.resources(Pod.self, namespace: namespace).create(
                        Pod(metadata: ObjectMeta(name: "p-\(role)", labels: labels), spec: try modelServerPodSpec(h100)))
                }
                let pods = admin.resources(Pod.self, namespace: namespace)
                let addresses = try await eventually("both pods serving") { () -> [String: String]? in
                    let listed = try await pods.list().items.filter { $0.status?.phase == "Running" }
                    let byRole = Dictionary(uniqueKeysWithValues: listed.compactMap { pod in
                        pod.status?.podIP.map { (pod.metadata.labels?["llm-d.ai/role"] ?? "", $0) }
                    })
                    return byRole.count == 2 ? byRole : nil
                }
                func promptTokens(_ address: String) async throws -> Double {
                    let response = try await http.execute(HTTPClientRequest(url: "http://\(address):8000/metrics"), timeout: .seconds(30))
                    let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
                    let line = text.split(separator: "\n").first { $0.hasPrefix("vllm:prompt_tokens_total{") }
                    return Double(line?.split(separator: " ").last ?? "") ?? -1
                }
                var request = HTTPClientRequest(url: "http://\(addresses["decode"]!):8000/v1/completions")
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                let prompt = (0..<150).map { "q\($0)" }.joined(separator: " ")
                request.body = .bytes(ByteBuffer(string: #"{"model":"meta-llama/Llama-3.1-8B-Instruct","prompt":"\#(prompt)","max_tokens":3}"#))
                let response = try await http.execute(request, timeout: .seconds(30))
                _ = try await response.body.collect(upTo: 1 << 20)
                #expect(response.status == .ok)
                // No header: the decode server found the pool's prefill pod through the API.
                #expect(try await promptTokens(addresses["prefill"]!) == 150)
            }
        }
    }

    /// A decode pod whose pool has no prefill pods (the prefill tier scaled to 0) prefills
    /// itself; then `kubectl annotate` of the fault turns its `/metrics` to garbage, then to a
    /// hang, then back, while the OpenAI endpoints keep serving.
    @Test func aLoneDecodePodServesAndItsMetricsFaultFollowsTheAnnotation() async throws {
        let cluster = try await TestCluster.dedicated("nodeagent")
        // H200: no other test on this cluster asks for it, so no other pod lands here.
        let h200 = try #require(AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h200"))
        let nodes = [EmulatedNode(name: "h200-fault", accelerator: h200, devices: 8)]
        try await withNodeAgent(cluster, nodes, startupDelay: .fixed(.milliseconds(200))) { _, _, http in
            try await cluster.withNamespace("fault") { admin, namespace in
                let pods = admin.resources(Pod.self, namespace: namespace)
                let labels = ["inference.x-k8s.io/pool": "solo", "inference.x-k8s.io/role": "decode", "llm-d.ai/role": "decode"]
                _ = try await pods.create(Pod(metadata: ObjectMeta(name: "solo-decode", labels: labels), spec: try modelServerPodSpec(h200)))
                let address = try await eventually("the decode pod serving") { () -> String? in
                    let pod = try await pods.get("solo-decode")
                    return pod.status?.phase == "Running" ? pod.status?.podIP : nil
                }
                let base = "http://\(address):8000"

                // No prefill pod and no x-prefiller-host-port: a 150-token prompt (over the
                // threshold of 100) is prefilled here.
                var request = HTTPClientRequest(url: base + "/v1/completions")
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                let prompt = (0..<150).map { "w\($0)" }.joined(separator: " ")
                request.body = .bytes(ByteBuffer(string: #"{"model":"meta-llama/Llama-3.1-8B-Instruct","prompt":"\#(prompt)","max_tokens":3}"#))
                let completion = try await http.execute(request, timeout: .seconds(30))
                let answer = String(buffer: try await completion.body.collect(upTo: 1 << 20))
                #expect(completion.status == .ok, "\(answer)")
                #expect(answer.contains(#""prompt_tokens":150"#), "\(answer)")
                let served = try await scrapeMetrics(http, base)
                #expect(served.status == 200)
                #expect(firstSample(served.text, "vllm:prompt_tokens_total{") == 150, "the prompt was computed on decode")
                #expect(firstSample(served.text, "vllm:request_prompt_tokens_sum{") == 150)
                #expect(firstSample(served.text, "vllm:request_prompt_tokens_count{") == 1)

                // The deadlines below bound how long a failure takes to show (the node agent sees
                // the annotation through its watch, late on a busy machine), not a window.
                func annotate(_ value: String?) async throws {
                    _ = try await pods.patch("solo-decode", .merge(["metadata": ["annotations": [
                        MetricsFault.annotation: value.map { .string($0) } ?? .null]]]))
                }
                let started = ContinuousClock.now
                try await annotate("garbage")
                let garbage = try await eventually("/metrics to turn to garbage") { () -> MetricsScrape? in
                    let scraped = try await scrapeMetrics(http, base, timeout: .seconds(2))
                    return scraped.text.contains("vllm:") ? nil : scraped
                }
                #expect(garbage.status == 200)
                #expect(garbage.text.contains("<html>"))

                try await annotate("hang")
                _ = try await eventually("/metrics to hang past a 1 s timeout") { () -> Bool? in
                    do {
                        _ = try await scrapeMetrics(http, base, timeout: .seconds(1))
                        return nil  // still answering
                    } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
                        return true
                    }
                }
                let models = try await http.execute(HTTPClientRequest(url: base + "/v1/models"), timeout: .seconds(30))
                #expect(models.status == .ok, "the OpenAI endpoints keep serving while /metrics hangs")
                _ = try await models.body.collect(upTo: 1 << 16)

                try await annotate(nil)
                let healed = try await eventually("/metrics to answer normally again") { () -> MetricsScrape? in
                    let scraped = try await scrapeMetrics(http, base, timeout: .seconds(2))
                    return scraped.status == 200 && scraped.text.contains("vllm:num_requests_running{") ? scraped : nil
                }
                #expect(firstSample(healed.text, "vllm:request_prompt_tokens_count{") == 1)
                // How long the round trip took is a figure, not a pass mark: on a shared machine a
                // CPU hog stretches it past any fixed window (the deadlines above bound it).
                print("node agent: the metrics fault round trip took \(ContinuousClock.now - started)")
            }
        }
    }
}

/// One `/metrics` answer.
struct MetricsScrape {
    var status: UInt
    var text: String
}

/// GETs `base/metrics` within `timeout` (throws `HTTPClientError.deadlineExceeded` past it).
/// Reads `base/metrics`. The default deadline bounds a failure of a scrape that should answer (a
/// loaded machine answers late); pass a short one only where the timeout is the subject.
func scrapeMetrics(_ http: HTTPClient, _ base: String, timeout: TimeAmount = .seconds(30)) async throws -> MetricsScrape {
    let response = try await http.execute(HTTPClientRequest(url: base + "/metrics"), timeout: timeout)
    let body = try await response.body.collect(upTo: 1 << 20)
    return MetricsScrape(status: response.status.code, text: String(decoding: body.readableBytesView, as: UTF8.self))
}

/// The value of the first sample line starting with `prefix` (`-1` when there is none).
func firstSample(_ text: String, _ prefix: String) -> Double {
    let line = text.split(separator: "\n").first { $0.hasPrefix(prefix) }
    return Double(line?.split(separator: " ").last ?? "") ?? -1
}
