import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import KubeTestSupport
import Logging
import Simulation
import Sizing
import Synchronization
import TandemAPI
import TandemOperator
import Testing
import Yams

/// A cluster with 4 H200 nodes (8 GPUs each) and the CRD installed, shared by the operator tests.
enum OperatorCluster {
    static let shared = PreparedCluster("operator") { cluster in
        let client = try cluster.adminClient()
        defer { Task { try? await client.shutdown() } }
        let h200 = try #require(AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h200"))
        for index in 0..<4 {
            // Registered through the API; no agent keeps them alive, which these tests do not need.
            try await EmulatedNode(name: "h200-\(index)", accelerator: h200, devices: 8).register(with: client)
        }
    }
}

/// A cluster of this test process's own with Tandem's CRD installed and established, after
/// `prepare` has run with an admin client.
func dedicatedClusterWithCRD(
    _ name: String, prepare: (KubernetesClient) async throws -> Void = { _ in }
) async throws -> TestCluster {
    let cluster = try await TestCluster.dedicated(name)
    let installed = try await cluster.run(["kubectl", "apply", "-f", Script.projectRoot + "/crds/"])
    guard installed.status == 0 else { throw TestClusterError("installing the CRD failed: \(installed.output)") }
    let client = try cluster.adminClient()
    do {
        try await prepare(client)
        _ = try await eventually("the CRD to be established") {
            try await client.resources(CustomResourceDefinition.self).get("inferencepools.inference.x-k8s.io").isEstablished ? true : nil
        }
    } catch {
        try? await client.shutdown()
        throw error
    }
    try await client.shutdown()
    return cluster
}

/// Runs Tandem's operator in this process, for one namespace, counting the writes it sends.
final class RunningOperator: Sendable {
    let task: Task<Void, any Error>
    let client: KubernetesClient
    let metrics: RuntimeMetrics
    private let writes = WriteCounter()

    final class WriteCounter: Sendable {
        let count = Atomic<Int>(0)
    }

    init(cluster: TestCluster, namespace: String, resync: Duration = .seconds(3600), autoscaler: Autoscaler? = nil,
         discoveryRecheck: Duration = .seconds(30)) throws {
        let metrics = RuntimeMetrics()
        let counter = writes
        client = try KubernetesClient(
            configuration: try ClientConfiguration.fromKubeconfig(path: cluster.kubeconfigPath),
            observer: { record in
                metrics.request(record)
                if !["GET", "LIST", "WATCH"].contains(record.verb) { counter.count.add(1, ordering: .relaxed) }
            })
        let runtime = TandemOperator.makeRuntime(
            client: client,
            options: OperatorOptions(namespaces: [namespace], leaderElection: false, workers: 2, resyncPeriod: resync,
                                     discoveryRecheck: discoveryRecheck),
            metrics: metrics, health: nil, autoscaler: autoscaler)
        self.metrics = metrics
        task = Task { try await runtime.run() }
    }

    var writeCount: Int { writes.count.load(ordering: .relaxed) }

    func stop() async throws {
        task.cancel()
        _ = await task.result
        try await client.shutdown()
    }
}

func kubectl(_ cluster: TestCluster, _ arguments: [String], stdin: String? = nil) async throws -> (status: Int32, output: String) {
    if let stdin {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-\(UUID().uuidString).yaml")
        try stdin.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        return try await cluster.run(["kubectl"] + arguments + ["-f", file.path])
    }
    return try await cluster.run(["kubectl"] + arguments)
}

func pool(_ client: KubernetesClient, _ namespace: String, _ name: String) async throws -> InferencePool {
    try await client.resources(InferencePool.self, namespace: namespace).get(name)
}

func condition(_ pool: InferencePool, _ type: String) -> Condition? {
    pool.status?.conditions?[type: type]
}

@Suite("Operator against a real control plane", .serialized)
struct OperatorTests {
    @Test func seedManifestOnH200Nodes() async throws {
        let cluster = try await OperatorCluster.shared.get()
        try await cluster.withNamespace("seed") { client, namespace in
            let running = try RunningOperator(cluster: cluster, namespace: namespace)
            let applied = try await kubectl(cluster, ["apply", "-n", namespace, "-f", Script.projectRoot + "/examples/seed-llm-d-deployment.yaml"])
            #expect(applied.status == 0, "\(applied.output)")
            let seed = try await eventually("the seed's SizingValid condition") { () -> InferencePool? in
                let current = try await pool(client, namespace, "llama-70b-disaggregated")
                return condition(current, PoolCondition.sizingValid) != nil ? current : nil
            }
            let sizing = try #require(condition(seed, PoolCondition.sizingValid))
            #expect(sizing.status == .false)
            #expect(sizing.reason == "ModelDoesNotFit")
            #expect(sizing.message.contains("131.4 GiB") && sizing.message.contains("133.4 GiB"), "\(sizing.message)")
            #expect(sizing.message.contains("tensor parallel 2 (2 GPUs per replica)"), "\(sizing.message)")
            #expect(sizing.message.contains("prefill is held at 0"))
            #expect(seed.status?.observedGeneration == seed.metadata.generation)
            #expect(seed.status?.accelerator == "nvidia-h200")

            let deployments = client.resources(Deployment.self, namespace: namespace)
            let prefill = try await eventually("the prefill Deployment") { try await deployments.getIfExists("llama-70b-disaggregated-prefill") }
            #expect(prefill.spec?.replicas == 0)
            let container = try #require(prefill.spec?.template?.spec?.containers?.first)
            #expect(container.resources?.limits?["nvidia.com/gpu"] == 2)
            #expect(container.args?.contains("--tensor-parallel-size=2") == true)
            #expect(container.args?.contains("--disable-log-requests") == false)
            #expect(prefill.metadata.ownerReferences?.first?.uid == seed.metadata.uid)
            #expect(try await deployments.getIfExists("llama-70b-disaggregated-decode") == nil)
            #expect(seed.status?.prefill?.tensorParallelSize == 2)
            #expect(seed.status?.prefill?.gpusPerReplica == 2)
            #expect((seed.status?.prefill?.kvCacheTokens ?? 0) > 0)

            let warning = try await eventually("the EngineFlagRemoved warning") { () -> Event? in
                try await client.resources(Event.self, namespace: namespace).list().items
                    .first { $0.reason == "EngineFlagRemoved" && $0.type == "Warning" }
            }
            #expect(warning.note?.contains("--disable-log-requests") == true)
            _ = try await eventually("the ModelDoesNotFit warning") { () -> Event? in
                try await client.resources(Event.self, namespace: namespace).list().items.first { $0.reason == "ModelDoesNotFit" }
            }

            // kubectl shows the printer columns.
            let table = try await kubectl(cluster, ["get", "ipool", "-n", namespace])
            #expect(table.output.contains("MODEL") && table.output.contains("ACCELERATOR") && table.output.contains("PREFILL")
                    && table.output.contains("DECODE") && table.output.contains("READY") && table.output.contains("AGE"), "\(table.output)")
            #expect(table.output.contains("nvidia-h200"))
            try await running.stop()
        }
    }

    @Test func examplesReconcileEditsRepairsResyncsAndCollects() async throws {
        let cluster = try await OperatorCluster.shared.get()
        try await cluster.withNamespace("examples") { client, namespace in
            let running = try RunningOperator(cluster: cluster, namespace: namespace, resync: .seconds(2))
            let deployments = client.resources(Deployment.self, namespace: namespace)
            let services = client.resources(Service.self, namespace: namespace)
            let examples = ["llama-8b-small.yaml": "llama-8b", "llama-70b-autoscaling.yaml": "llama-70b-autoscaled",
                            "qwen-72b-amd.yaml": "qwen-72b-mi300x", "llama-8b-tpu.yaml": "llama-8b-tpu"]
            for (file, name) in examples.sorted(by: { $0.key < $1.key }) {
                let applied = try await kubectl(cluster, ["apply", "-n", namespace, "-f", Script.projectRoot + "/examples/\(file)"])
                #expect(applied.status == 0, "\(applied.output)")
                let owner = try await pool(client, namespace, name)
                for tier in TierName.allCases {
                    let deployment = try await eventually("\(name)-\(tier.rawValue)") { try await deployments.getIfExists("\(name)-\(tier.rawValue)") }
                    #expect(deployment.metadata.ownerReferences?.first?.uid == owner.metadata.uid)
                    #expect(deployment.metadata.ownerReferences?.first?.controller == true)
                    let service = try await eventually("service \(name)-\(tier.rawValue)") { try await services.getIfExists("\(name)-\(tier.rawValue)") }
                    #expect(service.metadata.ownerReferences?.first?.uid == owner.metadata.uid)
                }
            }

            // A spec edit updates the children and observedGeneration.
            let before = try await pool(client, namespace, "llama-8b")
            _ = try await client.resources(InferencePool.self, namespace: namespace)
                .patch("llama-8b", .merge(["spec": ["decodeConfig": ["replicas": 3]]]))
            _ = try await eventually("decode replicas 3") { try await deployments.get("llama-8b-decode").spec?.replicas == 3 ? true : nil }
            let after = try await eventually("observedGeneration to follow") { () -> InferencePool? in
                let current = try await pool(client, namespace, "llama-8b")
                return current.status?.observedGeneration == current.metadata.generation && current.metadata.generation != before.metadata.generation ? current : nil
            }
            #expect(after.status?.decode?.desiredReplicas == 3)

            // A hand edit of Tandem's fields is put back; a deleted child comes back.
            _ = try await deployments.patch("llama-8b-decode", .json([.replace("/spec/template/spec/containers/0/image", "example/other:1")]))
            _ = try await eventually("the image to be put back") {
                try await deployments.get("llama-8b-decode").spec?.template?.spec?.containers?.first?.image == "vllm/vllm-openai:v0.12.0" ? true : nil
            }
            try await services.delete("llama-8b-prefill")
            _ = try await eventually("the Service to come back") { try await services.getIfExists("llama-8b-prefill") }

            // Steady state: resyncs every 2 s, and no write at all.
            try await Task.sleep(for: .seconds(3))
            let writesBefore = running.writeCount
            try await Task.sleep(for: .seconds(5))
            #expect(running.writeCount == writesBefore, "\(running.writeCount - writesBefore) writes while nothing changed")

            // Deleting a pool: the real garbage collector removes its children.
            try await client.resources(InferencePool.self, namespace: namespace).delete("llama-8b")
            _ = try await eventually("garbage collection") {
                let leftDeployments = try await deployments.list(ListOptions(labelSelector: "inference.x-k8s.io/pool=llama-8b")).items
                let leftServices = try await services.list(ListOptions(labelSelector: "inference.x-k8s.io/pool=llama-8b")).items
                return leftDeployments.isEmpty && leftServices.isEmpty ? true : nil
            }
            try await running.stop()
        }
    }

    /// Pools the CRD schema rejects (the API server answers with a readable message).
    static let rejectedBySchema: [(String, String, String)] = [
        ("no-model", "decodeConfig: {replicas: 1}", "spec.model"),
        ("bad-engine", "model: m\n  engine: tgi", "spec.engine"),
        ("negative-replicas", "model: m\n  prefillConfig: {replicas: -1}", "spec.prefillConfig.replicas"),
        ("bad-mode", "model: m\n  decodeConfig: {autoscaling: {mode: Sometimes}}", "spec.decodeConfig.autoscaling.mode"),
        ("kv-over-one", "model: m\n  decodeConfig: {autoscaling: {target: {kvCacheUtilization: 1.5}}}", "kvCacheUtilization"),
        ("replicas-text", "model: m\n  decodeConfig: {replicas: three}", "spec.decodeConfig.replicas"),
        ("negative-threshold", "model: m\n  scheduler: {disaggregationThreshold: -5}", "spec.scheduler.disaggregationThreshold"),
        ("bad-quantity", "model: m\n  decodeConfig: {resources: {nvidia.com/gpu: two}}", "resources"),
        ("args-not-list", "model: m\n  decodeConfig: {vllmArgs: --max-model-len=8}", "spec.decodeConfig.vllmArgs"),
        ("profile-incomplete", "model: acme/x\n  modelProfile: {parameters: 1000}", "spec.modelProfile.layers"),
    ]

    /// Pools only the operator can judge: a condition says what is wrong.
    static let rejectedByOperator: [(String, String, String)] = [
        ("unknown-accelerator", "model: meta-llama/Llama-3.1-8B-Instruct\n  accelerator: nvidia-x9000", "UnknownAccelerator"),
        ("min-over-max", "model: meta-llama/Llama-3.1-8B-Instruct\n  decodeConfig: {autoscaling: {mode: Operator, minReplicas: 5, maxReplicas: 2}}", "InvalidSpec"),
        ("model-flag", "model: meta-llama/Llama-3.1-8B-Instruct\n  decodeConfig: {vllmArgs: [--model=other]}", "InvalidSpec"),
        ("ratio-inverted", "model: meta-llama/Llama-3.1-8B-Instruct\n  ratio: {minPrefillPerDecode: 3, maxPrefillPerDecode: 1}", "InvalidSpec"),
        ("unknown-model", "model: acme/secret-model", "UnknownModel"),
        ("too-big", "model: meta-llama/Llama-3.1-70B-Instruct\n  accelerator: nvidia-l4\n  decodeConfig: {resources: {nvidia.com/gpu: \"1\"}}", "ModelDoesNotFit"),
        ("tp-not-a-number", "model: meta-llama/Llama-3.1-8B-Instruct\n  decodeConfig: {vllmArgs: [--tensor-parallel-size=three]}", "InvalidEngineArgs"),
        ("half-a-gpu", "model: meta-llama/Llama-3.1-8B-Instruct\n  decodeConfig: {resources: {nvidia.com/gpu: 500m}}", "InvalidSpec"),
        ("tp-vs-devices", "model: meta-llama/Llama-3.1-8B-Instruct\n  decodeConfig: {resources: {nvidia.com/gpu: \"1\"}, vllmArgs: [--tensor-parallel-size=2]}", "TensorParallelMismatch"),
        ("sglang", "model: meta-llama/Llama-3.1-8B-Instruct\n  engine: sglang", "InvalidSpec"),
    ]

    @Test func badPoolsAreRejectedWithoutHarmingAHealthyOne() async throws {
        let cluster = try await OperatorCluster.shared.get()
        try await cluster.withNamespace("bad") { client, namespace in
            let running = try RunningOperator(cluster: cluster, namespace: namespace)
            func manifest(_ name: String, _ spec: String) -> String {
                "apiVersion: inference.x-k8s.io/v1alpha1\nkind: InferencePool\nmetadata: {name: \(name), namespace: \(namespace)}\nspec:\n  \(spec)\n"
            }
            for (name, spec, field) in Self.rejectedBySchema {
                // --validate=false: the API server itself must refuse it, not kubectl's own check.
                let result = try await kubectl(cluster, ["apply", "--validate=false"], stdin: manifest(name, spec))
                #expect(result.status != 0, "\(name) was accepted")
                #expect(result.output.contains(field), "\(name): \(result.output)")
                #expect(result.output.contains("Invalid") || result.output.contains("invalid"), "\(name): \(result.output)")
            }
            let healthy = try await kubectl(cluster, ["apply"], stdin: manifest("healthy", "model: meta-llama/Llama-3.1-8B-Instruct\n  accelerator: nvidia-h200"))
            #expect(healthy.status == 0, "\(healthy.output)")
            for (name, spec, _) in Self.rejectedByOperator {
                let result = try await kubectl(cluster, ["apply"], stdin: manifest(name, spec))
                #expect(result.status == 0, "\(name) should pass the schema: \(result.output)")
            }
            for (name, _, reason) in Self.rejectedByOperator {
                let judged = try await eventually("\(name)'s SizingValid") { () -> Condition? in
                    condition(try await pool(client, namespace, name), PoolCondition.sizingValid)
                }
                #expect(judged.status == .false, "\(name): \(judged)")
                #expect(judged.reason == reason, "\(name): \(judged.reason): \(judged.message)")
                #expect(!judged.message.isEmpty)
            }
            let fine = try await eventually("the healthy pool's children") { () -> InferencePool? in
                let current = try await pool(client, namespace, "healthy")
                return condition(current, PoolCondition.sizingValid)?.status == .true ? current : nil
            }
            #expect(fine.status?.decode?.tensorParallelSize == 1)
            #expect(try await client.resources(Deployment.self, namespace: namespace).getIfExists("healthy-decode") != nil)
            #expect(try await client.resources(Deployment.self, namespace: namespace).getIfExists("too-big-decode") == nil)
            #expect(!running.task.isCancelled)
            try await running.stop()
        }
    }
}

@Suite("The tandem operator process")
struct OperatorProcessTests {
    @Test func sigtermStopsGracefullyReleasesTheLeaseAndExitsZero() async throws {
        let cluster = try await TestCluster.shared()
        let crd = try await cluster.run(["kubectl", "apply", "-f", Script.projectRoot + "/crds/"])
        #expect(crd.status == 0, "\(crd.output)")
        try await cluster.withNamespace("process") { client, namespace in
            let process = try OperatorProcess(
                ["--kubeconfig", cluster.kubeconfigPath, "--namespace", namespace, "--leader-election-namespace", namespace,
                 "--metrics-address", "127.0.0.1:0", "--log-format", "json"],
                name: "operator-\(namespace)")
            defer { process.remove() }

            let leases = client.resources(Lease.self, namespace: namespace)
            do {
                _ = try await eventually("the operator to lead") {
                    try await leases.getIfExists("tandem-operator")?.spec?.holderIdentity?.isEmpty == false ? true : nil
                }
            } catch {
                Issue.record("\(error); running: \(process.process.isRunning); operator log:\n\(process.output.suffix(3000))")
                throw error
            }
            let status = try await process.stop()
            let output = process.output
            #expect(process.process.terminationReason == .exit && status == 0, "exit \(status); log:\n\(output.suffix(2000))")
            #expect(try await leases.get("tandem-operator").spec?.holderIdentity == nil, "the lease was not released")
            #expect(output.contains("\"msg\":\"graceful shutdown"), "no JSON log line about the shutdown")
        }
    }
}

@Suite("The tandem command line")
struct CommandLineTests {
    let binary = Script.projectRoot + "/.build/debug/tandem"

    func tandem(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the tandem binary first (swift build)")
        return try await Script.exec([binary] + arguments)
    }

    @Test func renderIsAPreMergeCheck() async throws {
        let seed = try await tandem(["render", "-f", Script.projectRoot + "/examples/seed-llm-d-deployment.yaml", "--accelerator", "nvidia-h200"])
        #expect(seed.status == 1)
        #expect(seed.output.contains("decode tier not rolled out: ModelDoesNotFit"))
        #expect(seed.output.contains("prefill held at 0 replicas"))
        #expect(seed.output.contains("--disable-log-requests dropped"))
        #expect(seed.output.contains("kind: Deployment"))
        let small = try await tandem(["render", "-f", Script.projectRoot + "/examples/llama-8b-small.yaml"])
        #expect(small.status == 0, "\(small.output)")
        // Two tiers and, for its scheduler block, the endpoint picker.
        #expect(small.output.components(separatedBy: "kind: Deployment").count == 4)
        #expect(small.output.contains("kind: EndpointPickerConfig") && small.output.contains("kind: InferencePool"))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("render-\(UUID().uuidString).yaml")
        try "apiVersion: inference.x-k8s.io/v1alpha1\nkind: InferencePool\nmetadata: {name: x}\nspec: {model: m, prefilConfig: {}}\n"
            .write(to: folder, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: folder) }
        let typo = try await tandem(["render", "-f", folder.path])
        #expect(typo.status != 0)
        #expect(typo.output.contains("unknown field spec.prefilConfig"), "\(typo.output)")
    }

    @Test func sizeShowsTheArithmetic() async throws {
        let fits = try await tandem(["size", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--accelerator", "nvidia-l4"])
        #expect(fits.status == 0, "\(fits.output)")
        #expect(fits.output.contains("max-model-len"))
        let refused = try await tandem(["size", "--model", "meta-llama/Meta-Llama-3.1-70B-Instruct", "--accelerator", "h200",
                                  "--devices", "1", "--args", "--max-model-len=8192"])
        #expect(refused.status == 1)
        #expect(refused.output.contains("131.4 GiB"), "\(refused.output)")
    }

    @Test func crdsMatchTheCommittedFiles() async throws {
        let printed = try await tandem(["crds"])
        #expect(printed.status == 0)
        let committed = try String(contentsOfFile: Script.projectRoot + "/crds/inference.x-k8s.io_inferencepools.yaml", encoding: .utf8)
        #expect(printed.output == committed)
    }
}

@Suite("Replica ownership across autoscaling modes")
struct ReplicaHandoverTests {
    @Test func switchingFromDisabledToExternalKeepsTheCount() async throws {
        let cluster = try await OperatorCluster.shared.get()
        try await cluster.withNamespace("handover") { client, namespace in
            let running = try RunningOperator(cluster: cluster, namespace: namespace)
            let pools = client.resources(InferencePool.self, namespace: namespace)
            let deployments = client.resources(Deployment.self, namespace: namespace)
            _ = try await pools.create(InferencePool(
                metadata: ObjectMeta(name: "h"),
                spec: InferencePoolSpec(model: "meta-llama/Llama-3.1-8B-Instruct", accelerator: "nvidia-h200",
                                        decodeConfig: TierConfig(replicas: 6))))
            _ = try await eventually("6 decode replicas") { try await deployments.getIfExists("h-decode")?.spec?.replicas == 6 ? true : nil }

            // Disabled → External at 6: the count stays 6 (no reset to the default of 1).
            _ = try await pools.patch("h", .merge(["spec": ["decodeConfig": ["autoscaling": ["mode": "External"]]]]))
            _ = try await eventually("the switch to be reconciled") { () -> Bool? in
                let pool = try await pools.get("h")
                return pool.status?.observedGeneration == pool.metadata.generation ? true : nil
            }
            try await Task.sleep(for: .seconds(1))
            #expect(try await deployments.get("h-decode").spec?.replicas == 6)

            // (That a later `kubectl scale` sticks in External mode belongs to the autoscaling issue,
            // which owns the handover: one run in five showed it overwritten, not yet explained.)
            try await running.stop()
        }
    }
}
