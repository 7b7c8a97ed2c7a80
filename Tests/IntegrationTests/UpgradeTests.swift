import FaultProxy
import Foundation
import KubeClient
import KubeCore
import KubeTestSupport
import Routing
import Simulation
import Sizing
import Synchronization
import TandemAPI
import TandemOperator
import Testing
import Yams

/// The previous release's CRD and children (Fixtures/upgrade-fa8e6d4, README there).
enum PreviousRelease {
    static let commit = "fa8e6d4"
    static let folder = Script.projectRoot + "/Tests/IntegrationTests/Fixtures/upgrade-fa8e6d4"
    static let crd = folder + "/crd.yaml"
    static let pools = folder + "/pools.yaml"

    /// The children `tandem render` printed at that commit for `pool`, in `namespace`.
    static func children(of pool: String, namespace: String) throws -> [JSONValue] {
        let text = try String(contentsOfFile: folder + "/children-\(pool).yaml", encoding: .utf8)
            .replacingOccurrences(of: "NAMESPACE", with: namespace)
        return try Yams.compose_all(yaml: text).map { try YAMLDecoder().decode(JSONValue.self, from: $0) }.filter { $0 != .null }
    }

    /// The pools of pools.yaml, by name.
    static func poolNames() throws -> [String] {
        let text = try String(contentsOfFile: pools, encoding: .utf8)
        return try Manifest.pools(from: text).compactMap(\.metadata.name)
    }
}

/// The template fields docs/install.md's upgrade notes list for the release after `commit`:
/// every word in backquotes in that row of the table.
func upgradeNotesFields(after commit: String) throws -> Set<String> {
    let text = try String(contentsOfFile: Script.projectRoot + "/docs/install.md", encoding: .utf8)
    guard let section = text.range(of: "## Upgrade notes") else { throw TestClusterError("docs/install.md has no \"## Upgrade notes\"") }
    let row = text[section.upperBound...].split(separator: "\n").first { $0.hasPrefix("| after `\(commit)`") }
    guard let row else { throw TestClusterError("docs/install.md's upgrade notes have no row \"| after `\(commit)`\"") }
    let cells = row.split(separator: "|", omittingEmptySubsequences: false)
    guard cells.count > 2 else { throw TestClusterError("the upgrade notes' row for \(commit) has no second column: \(row)") }
    var fields: Set<String> = []
    for (index, part) in cells[2].split(separator: "`", omittingEmptySubsequences: false).enumerated() where index % 2 == 1 {
        for word in part.split(whereSeparator: { !($0.isLetter || $0.isNumber) }) { fields.insert(String(word)) }
    }
    return fields
}

/// Paths where two JSON trees differ: a member on one side only, a scalar that changed, arrays
/// of another length. Array elements are named by index (`containers.0`).
func jsonDifferences(_ old: JSONValue?, _ new: JSONValue?, path: [String] = []) -> [[String]] {
    switch (old, new) {
    case (.object(let a)?, .object(let b)?):
        return Set(a.keys).union(b.keys).sorted().flatMap { jsonDifferences(a[$0], b[$0], path: path + [$0]) }
    case (.array(let a)?, .array(let b)?) where a.count == b.count:
        return zip(a, b).enumerated().flatMap { jsonDifferences($1.0, $1.1, path: path + [String($0)]) }
    default:
        return old == new ? [] : [path]
    }
}

@Suite("Upgrading from the previous release", .serialized)
struct UpgradeTests {
    /// The pool a child belongs to (its controller reference).
    static func owner(_ metadata: ObjectMeta) -> String? {
        metadata.ownerReferences?.first { $0.kind == "InferencePool" && $0.controller == true }?.name
    }

    /// Every child of the namespace (the kinds Tandem renders), `Kind/name` → UID.
    static func children(_ client: KubernetesClient, _ namespace: String) async throws -> [String: String] {
        var found: [String: String] = [:]
        func add(_ kind: String, _ items: [ObjectMeta]) {
            for meta in items where owner(meta) != nil { found["\(kind)/\(meta.name ?? "")"] = meta.uid ?? "" }
        }
        add("Deployment", try await client.resources(Deployment.self, namespace: namespace).list().items.map(\.metadata))
        add("Service", try await client.resources(Service.self, namespace: namespace).list().items.map(\.metadata))
        add("ConfigMap", try await client.resources(ConfigMap.self, namespace: namespace).list().items.map(\.metadata))
        add("ServiceAccount", try await client.resources(ServiceAccount.self, namespace: namespace).list().items.map(\.metadata))
        add("Role", try await client.resources(Role.self, namespace: namespace).list().items.map(\.metadata))
        add("RoleBinding", try await client.resources(RoleBinding.self, namespace: namespace).list().items.map(\.metadata))
        add("GatewayInferencePool", try await client.resources(GatewayInferencePool.self, namespace: namespace).list().items.map(\.metadata))
        return found
    }

    /// Applies one child as the previous operator did: owned by the pool, stamped with the hash
    /// of what it applied, server-side under Tandem's field manager; a tier whose replicas are
    /// not the spec's is created at its minimum and its `spec.replicas` then handed over.
    static func applyAsPreviousRelease<Object: KubernetesResource>(
        _ type: Object.Type, _ json: JSONValue, pool: InferencePool, client: KubernetesClient
    ) async throws {
        var object = try json.decode(as: Object.self)
        object.metadata.namespace = pool.metadata.namespace
        object.metadata.ownerReferences = [try #require(pool.controllerReference())]
        let resources = client.resources(Object.self, namespace: pool.metadata.namespace)
        if var deployment = object as? Deployment, deployment.spec?.replicas == nil,
            let tier = deployment.metadata.labels?["inference.x-k8s.io/role"].flatMap(TierName.init(rawValue:))
        {
            let autoscaling = pool.spec?.config(tier).autoscaling
            let minimum = autoscaling?.minReplicas ?? 1
            deployment.spec?.replicas = tier == .decode ? max(1, minimum) : max(0, minimum)
            let deployments = client.resources(Deployment.self, namespace: pool.metadata.namespace)
            _ = try await deployments.apply(try ChildComparison.stamped(deployment), fieldManager: PoolReconciler.fieldManager, force: true)
            let manager = autoscaling?.mode == .operator ? Autoscaler.fieldManager : PoolReconciler.handoverFieldManager
            _ = try await deployments.apply(
                Deployment(metadata: ObjectMeta(name: deployment.metadata.name, namespace: pool.metadata.namespace),
                           spec: DeploymentSpec(replicas: deployment.spec?.replicas)),
                fieldManager: manager, force: true)
        }
        _ = try await resources.apply(try ChildComparison.stamped(object), fieldManager: PoolReconciler.fieldManager, force: true)
    }

    @Test func theNewOperatorRollsEachPoolOnceOneAtATimeAndKeepsEveryChild() async throws {
        // Nodes and CRDs are cluster-wide: a cluster of this test's own, with the previous CRD.
        let cluster = try await TestCluster.dedicated("upgrade")
        try await installCRD(cluster, file: PreviousRelease.crd, name: "inferencepools.inference.x-k8s.io")
        try await installCRD(cluster, file: GatewayCRD.file, name: GatewayCRD.name)
        let listed = try upgradeNotesFields(after: PreviousRelease.commit)
        let h100 = try #require(AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h100"))
        // 7 GPUs asked for, 8 on the node: with maxSurge 0 a rollout needs none more.
        let nodes = [EmulatedNode.cpu(name: "upgrade-cpu"), EmulatedNode(name: "upgrade-h100", accelerator: h100, devices: 8)]
        try await withNodeAgent(cluster, nodes, startupDelay: .fixed(.milliseconds(200))) { _, _, _ in
            try await cluster.withNamespace("upgrade") { client, namespace in
                // The pools, and their children as the previous operator left them.
                let applied = try await kubectl(cluster, ["apply", "-n", namespace, "-f", PreviousRelease.pools])
                try #require(applied.status == 0, "\(applied.output)")
                let names = try PreviousRelease.poolNames()
                let pools = client.resources(InferencePool.self, namespace: namespace)
                for name in names {
                    let current = try await pools.get(name)
                    for child in try PreviousRelease.children(of: name, namespace: namespace) {
                        let kind = child["kind"]?.stringValue ?? ""
                        let apiVersion = child["apiVersion"]?.stringValue ?? ""
                        switch (apiVersion, kind) {
                        case ("apps/v1", "Deployment"): try await Self.applyAsPreviousRelease(Deployment.self, child, pool: current, client: client)
                        case ("v1", "Service"): try await Self.applyAsPreviousRelease(Service.self, child, pool: current, client: client)
                        case ("v1", "ConfigMap"): try await Self.applyAsPreviousRelease(ConfigMap.self, child, pool: current, client: client)
                        case ("v1", "ServiceAccount"): try await Self.applyAsPreviousRelease(ServiceAccount.self, child, pool: current, client: client)
                        case (_, "Role"): try await Self.applyAsPreviousRelease(Role.self, child, pool: current, client: client)
                        case (_, "RoleBinding"): try await Self.applyAsPreviousRelease(RoleBinding.self, child, pool: current, client: client)
                        case (GatewayInferencePool.apiResource.apiVersion, "InferencePool"):
                            try await Self.applyAsPreviousRelease(GatewayInferencePool.self, child, pool: current, client: client)
                        default: Issue.record("fixture child of \(name) of an unknown kind: \(apiVersion) \(kind)")
                        }
                    }
                }
                let deployments = client.resources(Deployment.self, namespace: namespace)
                let before = try await eventually(timeout: .seconds(120), "the previous release's pods Ready") { () -> [Deployment]? in
                    let items = try await deployments.list().items
                    return !items.isEmpty && items.allSatisfy { RolloutPolicy.isRolledOut($0) } ? items : nil
                }
                // Status as the previous operator left it: this generation observed, serving.
                for name in names {
                    let current = try await pools.get(name)
                    let now = KubeTime(Date())
                    var conditions: [Condition] = []
                    for (type, status, reason) in [(PoolCondition.sizingValid, ConditionStatus.true, "Fits"),
                                                   (PoolCondition.ready, .true, "Serving"), (PoolCondition.progressing, .false, "RolledOut")] {
                        conditions.set(Condition(type: type, status: status, reason: reason, message: "as \(PreviousRelease.commit) left it",
                                                 observedGeneration: current.metadata.generation), now: now)
                    }
                    var update = InferencePool(metadata: ObjectMeta(name: name, namespace: namespace))
                    update.status = InferencePoolStatus(observedGeneration: current.metadata.generation)
                    update.status?.conditions = conditions
                    _ = try await pools.applyStatus(update, fieldManager: PoolReconciler.fieldManager, force: true)
                }
                let childrenBefore = try await Self.children(client, namespace)
                #expect(childrenBefore.count >= 4 * 4, "\(childrenBefore.keys.sorted())")
                let templatesBefore = Dictionary(uniqueKeysWithValues: try before.map { ($0.metadata.name ?? "", try JSONValue(encoding: $0.spec?.template)) })

                // The new CRD, then the new operator; one sample every 200 ms meanwhile.
                let crd = try await kubectl(cluster, ["apply", "-f", Script.projectRoot + "/crds/"])
                try #require(crd.status == 0, "\(crd.output)")
                let samples = Mutex<(count: Int, maxRolling: Int, overlaps: [String], queued: Set<String>)>((0, 0, [], []))
                let sampler = Task {
                    while !Task.isCancelled {
                        if let items = try? await deployments.list().items, let listedPools = try? await pools.list().items {
                            let rolling = Set(items.filter { !RolloutPolicy.isRolledOut($0) }.compactMap { Self.owner($0.metadata) })
                            let queued = listedPools.filter {
                                $0.status?.conditions?[type: PoolCondition.progressing]?.reason == RolloutPolicy.queuedReason
                            }.compactMap(\.metadata.name)
                            samples.withLock { sample in
                                sample.count += 1
                                sample.maxRolling = max(sample.maxRolling, rolling.count)
                                if rolling.count > 1 { sample.overlaps.append(rolling.sorted().joined(separator: "+")) }
                                sample.queued.formUnion(queued)
                            }
                        }
                        try? await Task.sleep(for: .milliseconds(200))
                    }
                }
                let running = try RunningOperator(cluster: cluster, namespace: namespace)
                do {
                    // Converged: every Deployment rolled out on the new templates, every pool observed.
                    let after = try await eventually(timeout: .seconds(180), "every pool rolled out on the new pod templates") { () -> [Deployment]? in
                        let items = try await deployments.list().items
                        let done = items.allSatisfy { $0.spec?.template?.spec?.securityContext?.seccompProfile?.type == "RuntimeDefault" && RolloutPolicy.isRolledOut($0) }
                        let observed = try await pools.list().items.allSatisfy { pool in
                            pool.status?.observedGeneration == pool.metadata.generation
                                && pool.status?.conditions?[type: PoolCondition.progressing]?.reason == "RolledOut"
                        }
                        return done && observed ? items : nil
                    }
                    sampler.cancel()
                    _ = await sampler.result
                    let sampled = samples.withLock { $0 }
                    print("upgrade: \(sampled.count) samples, at most \(sampled.maxRolling) pool(s) rolling at once, queued seen: \(sampled.queued.sorted())")

                    // (a) No child created or deleted: the same names and UIDs; the invariants hold.
                    let childrenAfter = try await Self.children(client, namespace)
                    #expect(childrenAfter == childrenBefore,
                            "children changed: gone or re-created \(childrenBefore.filter { childrenAfter[$0.key] != $0.value }.keys.sorted()), new \(childrenAfter.keys.filter { childrenBefore[$0] == nil }.sorted())")
                    let render = ExpectedChildren(binary: Script.projectRoot + "/.build/debug/tandem", folder: try temporaryFolder())
                    defer { try? FileManager.default.removeItem(at: render.folder) }
                    let report = try await ChildInvariants.check(client: client, namespace: namespace) { pool in try await render.children(of: pool) }
                    #expect(report.holds, "\(report)")
                    #expect(report.orphans == 0 && report.missing == 0 && report.extra == 0)

                    // (b) Every template change is one the upgrade notes list.
                    for deployment in after {
                        let name = deployment.metadata.name ?? ""
                        let paths = jsonDifferences(templatesBefore[name], try JSONValue(encoding: deployment.spec?.template))
                        #expect(!paths.isEmpty, "Deployment \(name): its pod template did not change")
                        let unlisted = paths.filter { path in !path.contains { listed.contains($0) } }
                        #expect(unlisted.isEmpty,
                                "Deployment \(name): pod-template changes docs/install.md's upgrade notes do not list for \(PreviousRelease.commit): \(unlisted.map { $0.joined(separator: ".") })")
                    }

                    // (c) One pool at a time, and the others were told to wait.
                    #expect(sampled.maxRolling <= 1, "pools rolling together: \(Set(sampled.overlaps).sorted())")
                    #expect(!sampled.queued.isEmpty, "no pool was seen waiting (Progressing reason \(RolloutPolicy.queuedReason))")
                    let events = client.resources(Event.self, namespace: namespace)
                    _ = try await eventually("a RolloutStarted Event for each pool \(names)") { () -> Bool? in
                        let started = try await events.list().items.filter { $0.reason == "RolloutStarted" }.compactMap { $0.regarding?.name }
                        return Set(started) == Set(names) ? true : nil
                    }
                } catch {
                    sampler.cancel()
                    try await running.stop()
                    throw error
                }
                try await running.stop()
            }
        }
    }
}
