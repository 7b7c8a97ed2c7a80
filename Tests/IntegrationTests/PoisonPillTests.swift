import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import KubeTestSupport
import Logging
import TandemAPI
import TandemOperator
import Testing

/// Pools the Swift types cannot decode, stored under a loose CRD before the schema was
/// tightened, must not stop the operator: it stays Ready, healthy pools reconcile, and each bad
/// pool gets a Warning Event and counts in `tandem_undecodable_objects`.
@Suite("Poison pills: undecodable pools stored under an older CRD", .serialized)
struct PoisonPillTests {
    static let crdName = "inferencepools.inference.x-k8s.io"

    /// The generated CRD with `spec` and `status` accepting anything: what an older, looser
    /// schema let into etcd.
    static func looseCRD() throws -> CustomResourceDefinition {
        var crd = try CRDGenerator.inferencePool()
        let anything: JSONValue = ["type": "object", "x-kubernetes-preserve-unknown-fields": true]
        crd.spec?.versions?[0].schema = ["openAPIV3Schema": [
            "type": "object",
            "properties": [
                "apiVersion": ["type": "string"], "kind": ["type": "string"], "metadata": ["type": "object"],
                "spec": anything, "status": anything,
            ],
        ]]
        return crd
    }

    /// Each poison pool's spec, with the field path the operator must name.
    static let poison: [(name: String, spec: JSONValue, field: String)] = [
        // An unquoted number where EnvVar.value is a string.
        ("env-number", ["model": "meta-llama/Llama-3.1-8B-Instruct", "accelerator": "nvidia-h200",
                        "env": [["name": "X", "value": 1]]], "spec.env[0].value"),
        // A string where Toleration.tolerationSeconds is an integer.
        ("toleration-string", ["model": "meta-llama/Llama-3.1-8B-Instruct", "accelerator": "nvidia-h200",
                               "tolerations": [["key": "k", "operator": "Exists", "tolerationSeconds": "300"]]],
         "spec.tolerations[0].tolerationSeconds"),
        // A quantity past what Quantity holds.
        ("quantity-1e101", ["model": "meta-llama/Llama-3.1-8B-Instruct", "accelerator": "nvidia-h200",
                            "decodeConfig": ["resources": ["nvidia.com/gpu": "1e101"]]],
         #"spec.decodeConfig.resources["nvidia.com/gpu"]"#),
    ]

    static func object(_ name: String, spec: JSONValue) -> DynamicObject {
        DynamicObject(apiVersion: InferencePool.apiResource.apiVersion, kind: "InferencePool",
                      metadata: ObjectMeta(name: name), fields: ["spec": spec])
    }

    static func applyCRD(_ client: KubernetesClient, _ crd: CustomResourceDefinition) async throws {
        let crds = client.resources(CustomResourceDefinition.self)
        _ = try await crds.apply(crd, fieldManager: "poison-pill-test", force: true)
        _ = try await eventually("the CRD to be established") {
            try await crds.get(crdName).isEstablished ? true : nil
        }
    }

    /// The cluster with the poison pools stored under the loose CRD, then the generated CRD applied.
    static let prepared = PreparedPoison()

    actor PreparedPoison {
        private var ready: (TestCluster, String)?

        func get() async throws -> (cluster: TestCluster, namespace: String) {
            if let ready { return ready }
            let cluster = try await TestCluster.dedicated("poison")
            let client = try cluster.adminClient()
            defer { Task { try? await client.shutdown() } }
            try await PoisonPillTests.applyCRD(client, try PoisonPillTests.looseCRD())
            let namespace = "poison"
            _ = try? await client.resources(Namespace.self).create(Namespace(metadata: ObjectMeta(name: namespace)))
            let raw = client.dynamic(InferencePool.apiResource, namespace: namespace)
            for pill in PoisonPillTests.poison {
                _ = try await raw.create(PoisonPillTests.object(pill.name, spec: pill.spec))
            }
            // The schema is tightened; the stored pools stay as they are.
            try await PoisonPillTests.applyCRD(client, try CRDGenerator.inferencePool())
            ready = (cluster, namespace)
            return (cluster, namespace)
        }
    }

    /// Tandem's operator in this process with a health server's readiness checks.
    struct Operator {
        let task: Task<Void, any Error>
        let client: KubernetesClient
        let metrics: RuntimeMetrics
        let health: HealthServer

        init(_ cluster: TestCluster, namespace: String) throws {
            let metrics = RuntimeMetrics()
            client = try KubernetesClient(
                configuration: try ClientConfiguration.fromKubeconfig(path: cluster.kubeconfigPath),
                observer: { metrics.request($0) })
            health = HealthServer(metrics: metrics)
            let runtime = TandemOperator.makeRuntime(
                client: client, options: OperatorOptions(namespaces: [namespace], leaderElection: false),
                metrics: metrics, health: health)
            self.metrics = metrics
            task = Task { try await runtime.run() }
        }

        /// The value of `tandem_undecodable_objects` for pools, once it is 3 (the poison pools).
        var undecodableGauge: Double? {
            let line = metrics.registry.emitToString().split(separator: "\n")
                .first { $0.hasPrefix("tandem_undecodable_objects{") && $0.contains(PoisonPillTests.crdName) }
            return line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }.flatMap { $0 == 3 ? $0 : nil }
        }

        func stop() async throws {
            task.cancel()
            _ = await task.result
            try await client.shutdown()
        }
    }

    @Test func theTightenedSchemaRefusesEachPoisonPool() async throws {
        let (cluster, namespace) = try await Self.prepared.get()
        let client = try cluster.adminClient()
        defer { Task { try? await client.shutdown() } }
        let raw = client.dynamic(InferencePool.apiResource, namespace: namespace)
        for pill in Self.poison {
            await expectAPIError(.invalid) { try await raw.create(Self.object("new-" + pill.name, spec: pill.spec)) }
        }
        // Out-of-range integers too.
        let huge: JSONValue = ["model": "m", "decodeConfig": ["replicas": 2_147_483_648]]
        await expectAPIError(.invalid) { try await raw.create(Self.object("huge-replicas", spec: huge)) }
    }

    @Test func theOperatorStaysReadyReportsThePoisonAndReconcilesAHealthyPool() async throws {
        let (cluster, namespace) = try await Self.prepared.get()
        let client = try cluster.adminClient()
        defer { Task { try? await client.shutdown() } }
        let running = try Operator(cluster, namespace: namespace)
        do {
            _ = try await eventually("the operator to be ready") {
                running.health.failingChecks().isEmpty ? true : nil
            }
            // Each poison pool: a Warning Event naming the field, on the pool itself.
            let events = client.resources(Event.self, namespace: namespace)
            for pill in Self.poison {
                let event = try await eventually("the UndecodableSpec event on \(pill.name)") {
                    try await events.list().items.first {
                        $0.reason == "UndecodableSpec" && $0.regarding?.name == pill.name
                    }
                }
                #expect(event.type == "Warning")
                #expect(event.regarding?.kind == "InferencePool" && event.regarding?.uid?.isEmpty == false)
                #expect(event.note?.contains(pill.field) == true, "\(event.note ?? "")")
            }
            _ = try await eventually("tandem_undecodable_objects to count the 3 poison pools") { running.undecodableGauge }

            // A healthy pool created now gets its children, and an edit is reconciled.
            let pools = client.resources(InferencePool.self, namespace: namespace)
            let deployments = client.resources(Deployment.self, namespace: namespace)
            _ = try await pools.create(InferencePool(
                metadata: ObjectMeta(name: "healthy"),
                spec: InferencePoolSpec(model: "meta-llama/Llama-3.1-8B-Instruct", accelerator: "nvidia-h200",
                                        decodeConfig: TierConfig(replicas: 1))))
            _ = try await eventually("the healthy pool's decode Deployment") {
                try await deployments.getIfExists("healthy-decode")?.spec?.replicas == 1 ? true : nil
            }
            _ = try await pools.patch("healthy", .merge(["spec": ["decodeConfig": ["replicas": 2]]]))
            _ = try await eventually("the edit to be reconciled") {
                try await deployments.getIfExists("healthy-decode")?.spec?.replicas == 2 ? true : nil
            }
            #expect(running.health.failingChecks().isEmpty)
        } catch {
            try? await running.stop()
            throw error
        }
        try await running.stop()

        // A restart with the poison already present: it syncs, and the healthy pool still
        // reconciles an edit.
        let restarted = try Operator(cluster, namespace: namespace)
        do {
            _ = try await eventually("the restarted operator to be ready") {
                restarted.health.failingChecks().isEmpty ? true : nil
            }
            _ = try await eventually("tandem_undecodable_objects to count the 3 poison pools after the restart") {
                restarted.undecodableGauge
            }
            let pools = client.resources(InferencePool.self, namespace: namespace)
            let deployments = client.resources(Deployment.self, namespace: namespace)
            _ = try await pools.patch("healthy", .merge(["spec": ["decodeConfig": ["replicas": 3]]]))
            _ = try await eventually("the edit after the restart to be reconciled") {
                try await deployments.getIfExists("healthy-decode")?.spec?.replicas == 3 ? true : nil
            }
        } catch {
            try? await restarted.stop()
            throw error
        }
        try await restarted.stop()
    }
}
