import Foundation
import KubeClient
import KubeCore
import KubeTestSupport
import Simulation
import Sizing
import TandemAPI
import TandemOperator
import Testing

/// A cluster with one H200 node, for the tests that add and remove nodes of other types.
enum SafetyCluster {
    static let shared = PreparedCluster("safety") { cluster in
        let client = try cluster.adminClient()
        defer { Task { try? await client.shutdown() } }
        let h200 = try #require(AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h200"))
        try await EmulatedNode(name: "h200-0", accelerator: h200, devices: 8).register(with: client)
    }
}

/// Reconciles the operator has finished so far (`controller_runtime_reconcile_total`, all results).
func reconcileCount(_ running: RunningOperator) -> Int {
    running.metrics.render().split(separator: "\n")
        .filter { $0.hasPrefix("controller_runtime_reconcile_total{") }
        .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
        .reduce(0) { $0 + Int($1) }
}

/// Issue 14's defects 5–8: the desired state does not move with the Node list, child names never
/// collide, foreign objects are never taken over, and refused applies are reported.
@Suite("A pool's children are safe from other pools, other tools and the Node list", .serialized)
struct ReconcileSafetyTests {
    let model = "meta-llama/Llama-3.1-8B-Instruct"

    func events(_ client: KubernetesClient, _ namespace: String, reason: String) async throws -> [Event] {
        try await client.resources(Event.self, namespace: namespace).list().items.filter { $0.reason == reason }
    }

    @Test func aNodeOfAnotherTypeJoiningAndLeavingReRendersNothing() async throws {
        let cluster = try await SafetyCluster.shared.get()
        try await cluster.withNamespace("mixed") { client, namespace in
            let running = try RunningOperator(cluster: cluster, namespace: namespace)
            defer { Task { try? await running.stop() } }
            let pools = client.resources(InferencePool.self, namespace: namespace)
            _ = try await pools.create(InferencePool(metadata: ObjectMeta(name: "inferred"), spec: InferencePoolSpec(model: model)))
            let deployments = client.resources(Deployment.self, namespace: namespace)
            let first = try await eventually("the decode Deployment") { try await deployments.getIfExists("inferred-decode") }
            let resolved = try await eventually("the resolution in status") { () -> InferencePool? in
                let current = try await pools.get("inferred")
                return current.status?.acceleratorResolution != nil ? current : nil
            }
            #expect(resolved.status?.acceleratorResolution?.inferred == "nvidia-h200")
            #expect(condition(resolved, PoolCondition.acceleratorResolved)?.reason == "Inferred")
            #expect(first.spec?.template?.spec?.nodeSelector?["nvidia.com/gpu.product"] == "NVIDIA-H200")

            // An H100 node joins: the nodes disagree, the pool keeps its H200 rendering and says so.
            let h100 = try #require(AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h100"))
            try await EmulatedNode(name: "h100-\(namespace)", accelerator: h100, devices: 8).register(with: client)
            let disagreeing = try await eventually("AcceleratorResolved=NodesDisagree") { () -> InferencePool? in
                let current = try await pools.get("inferred")
                return condition(current, PoolCondition.acceleratorResolved)?.reason == "NodesDisagree" ? current : nil
            }
            #expect(condition(disagreeing, PoolCondition.acceleratorResolved)?.status == .true)
            #expect(condition(disagreeing, PoolCondition.acceleratorResolved)?.message.contains("nvidia-h100") == true)
            #expect(try await deployments.get("inferred-decode").metadata.generation == first.metadata.generation)
            _ = try await eventually("a NodesDisagree Warning") { () -> Event? in
                try await events(client, namespace, reason: "NodesDisagree").first { $0.type == "Warning" }
            }

            // It leaves: back to Inferred, and still no new rollout.
            _ = try await client.resources(Node.self).delete("h100-\(namespace)")
            _ = try await eventually("AcceleratorResolved=Inferred again") { () -> Bool? in
                condition(try await pools.get("inferred"), PoolCondition.acceleratorResolved)?.reason == "Inferred" ? true : nil
            }
            #expect(try await deployments.get("inferred-decode").metadata.generation == first.metadata.generation)
        }
    }

    @Test func poolsWhoseNamesMapToTheSameChildrenDoNotFight() async throws {
        let cluster = try await SafetyCluster.shared.get()
        try await cluster.withNamespace("names") { client, namespace in
            let running = try RunningOperator(cluster: cluster, namespace: namespace, resync: .seconds(1))
            defer { Task { try? await running.stop() } }
            let pools = client.resources(InferencePool.self, namespace: namespace)
            let spec = InferencePoolSpec(model: model, accelerator: "nvidia-h200")
            let first = try await pools.create(InferencePool(metadata: ObjectMeta(name: "a-b"), spec: spec))
            let services = client.resources(Service.self, namespace: namespace)
            let deployments = client.resources(Deployment.self, namespace: namespace)
            // a-b's four children first, so a.b meets them all at once (one Warning, one message).
            let service = try await eventually("a-b's children") { () -> Service? in
                let names = Set(try await deployments.list().items.compactMap(\.metadata.name))
                let serviceNames = Set(try await services.list().items.compactMap(\.metadata.name))
                guard names == ["a-b-prefill", "a-b-decode"], serviceNames.isSuperset(of: names) else { return nil }
                return try await services.get("a-b-decode")
            }
            _ = try await pools.create(InferencePool(metadata: ObjectMeta(name: "a.b"), spec: spec))
            let blocked = try await eventually("a.b's ChildNameConflict") { () -> InferencePool? in
                let current = try await pools.get("a.b")
                return condition(current, PoolCondition.ready)?.reason == ChildReason.nameConflict ? current : nil
            }
            #expect(condition(blocked, PoolCondition.ready)?.message.contains("InferencePool a-b") == true)
            _ = try await eventually("a ChildNameConflict Warning") { () -> Event? in
                try await events(client, namespace, reason: ChildReason.nameConflict).first { $0.regarding?.name == "a.b" }
            }
            // Ten more reconciles of the namespace's two pools (resync every second) later, a-b's
            // children are as they were: one owner, one selector, and a.b warned once.
            let before = reconcileCount(running)
            _ = try await eventually("ten more reconciles") { reconcileCount(running) >= before + 10 ? true : nil }
            let after = try await services.get("a-b-decode")
            #expect(after.metadata.resourceVersion == service.metadata.resourceVersion)
            #expect(after.metadata.ownerReferences?.map(\.uid) == [first.metadata.uid ?? ""])
            let warnings = try await events(client, namespace, reason: ChildReason.nameConflict)
            #expect(warnings.count == 1, "one Warning, not one per resync: \(warnings.map { $0.note ?? "" })")
            #expect(Set(try await deployments.list().items.compactMap(\.metadata.name)) == ["a-b-prefill", "a-b-decode"])
            #expect(try await deployments.list().items.allSatisfy { $0.metadata.ownerReferences?.map(\.uid) == [first.metadata.uid ?? ""] })
        }
    }

    @Test func anObjectTandemDoesNotOwnIsLeftAlone() async throws {
        let cluster = try await SafetyCluster.shared.get()
        try await cluster.withNamespace("foreign") { client, namespace in
            let running = try RunningOperator(cluster: cluster, namespace: namespace)
            defer { Task { try? await running.stop() } }
            let services = client.resources(Service.self, namespace: namespace)
            let foreign = try await services.create(Service(
                metadata: ObjectMeta(name: "mine-decode", labels: ["app": "someone-else"]),
                spec: ServiceSpec(selector: ["app": "someone-else"], ports: [ServicePort(name: "http", port: 80)])))
            let pools = client.resources(InferencePool.self, namespace: namespace)
            _ = try await pools.create(InferencePool(metadata: ObjectMeta(name: "mine"),
                                                     spec: InferencePoolSpec(model: model, accelerator: "nvidia-h200")))
            let blocked = try await eventually("Ready=False, ChildConflict") { () -> InferencePool? in
                let current = try await pools.get("mine")
                return condition(current, PoolCondition.ready)?.reason == ChildReason.conflict ? current : nil
            }
            #expect(condition(blocked, PoolCondition.ready)?.message.contains("Service mine-decode (it has no controller)") == true)
            // The rest of the pool is rolled out; the foreign Service is untouched.
            _ = try await eventually("the decode Deployment") {
                try await client.resources(Deployment.self, namespace: namespace).getIfExists("mine-decode")
            }
            let after = try await services.get("mine-decode")
            #expect(after.metadata.resourceVersion == foreign.metadata.resourceVersion)
            #expect(after.spec?.selector == ["app": "someone-else"])
            // Nobody applied to it (the test's own create is an Update; its manager name comes from
            // the User-Agent, which is Tandem's client's too).
            #expect(after.metadata.managedFields?.contains { $0.operation == "Apply" } != true)
            _ = try await eventually("a ChildConflict Warning") { () -> Event? in
                try await events(client, namespace, reason: ChildReason.conflict).first
            }
        }
    }

    @Test func aRefusedApplyIsReportedAndRetried() async throws {
        let cluster = try await SafetyCluster.shared.get()
        try await cluster.withNamespace("refused") { client, namespace in
            let running = try RunningOperator(cluster: cluster, namespace: namespace)
            defer { Task { try? await running.stop() } }
            let pools = client.resources(InferencePool.self, namespace: namespace)
            var spec = InferencePoolSpec(model: model, accelerator: "nvidia-h200")
            var decode = spec.decodeConfig ?? TierConfig()
            decode.pod.podLabels = ["team": String(repeating: "x", count: 80)]  // a label value holds at most 63
            spec.decodeConfig = decode
            _ = try await pools.create(InferencePool(metadata: ObjectMeta(name: "refused"), spec: spec))
            let failed = try await eventually("Ready=False, ApplyFailed") { () -> InferencePool? in
                let current = try await pools.get("refused")
                return condition(current, PoolCondition.ready)?.reason == ChildReason.applyFailed ? current : nil
            }
            let message = condition(failed, PoolCondition.ready)?.message ?? ""
            #expect(message.contains("Deployment refused-decode: 422"), "\(message)")
            #expect(message.contains("must be no more than 63 characters"), "\(message)")
            #expect(condition(failed, PoolCondition.progressing)?.reason == ChildReason.applyFailed)
            _ = try await eventually("an ApplyFailed Warning") { () -> Event? in
                try await events(client, namespace, reason: ChildReason.applyFailed).first { $0.type == "Warning" }
            }
            // Fixed in the spec: the pool rolls out and the condition clears.
            _ = try await pools.patch("refused", .merge(["spec": ["decodeConfig": ["podLabels": ["team": "x"]]]]))
            _ = try await eventually("the decode Deployment once the label fits") {
                try await client.resources(Deployment.self, namespace: namespace).getIfExists("refused-decode")
            }
            _ = try await eventually("Ready no longer ApplyFailed") { () -> Bool? in
                condition(try await pools.get("refused"), PoolCondition.ready)?.reason != ChildReason.applyFailed ? true : nil
            }
        }
    }
}
