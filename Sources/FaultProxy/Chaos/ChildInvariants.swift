import Foundation
import KubeClient
import KubeCore
import TandemAPI

/// One child object, by kind and name.
public struct ChildKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var kind: String
    public var name: String
    public init(kind: String, name: String) {
        self.kind = kind
        self.name = name
    }
    public var description: String { "\(kind)/\(name)" }
    public static func < (a: ChildKey, b: ChildKey) -> Bool { (a.kind, a.name) < (b.kind, b.name) }
}

/// What the chaos suite checks after every scenario, read from the API server.
public struct InvariantReport: Sendable, CustomStringConvertible {
    /// Pools and children looked at.
    public var pools = 0
    public var children = 0
    /// Each broken invariant, naming the object and what is wrong.
    public var violations: [String] = []
    /// Children owned by no pool, or by a pool that is gone.
    public var orphans = 0
    /// Children with more than one owning pool.
    public var multiplyOwned = 0
    /// Children a fresh render has and the cluster lacks (lost), and the reverse (extra, e.g. duplicated).
    public var missing = 0
    public var extra = 0
    /// Pools whose `status.observedGeneration` is not `metadata.generation`.
    public var staleGenerations = 0
    public var holds: Bool { violations.isEmpty }
    public var description: String {
        holds ? "invariants hold (\(pools) pools, \(children) children)"
            : "\(violations.count) invariant violations (\(pools) pools, \(children) children):\n  " + violations.joined(separator: "\n  ")
    }
}

/// The invariants "no orphans, each child owned by exactly one pool, `observedGeneration`
/// current" and, given the expected children of each pool, "children equal a fresh render".
public enum ChildInvariants {
    /// `apiVersion` prefix of Tandem's pools in owner references.
    static let poolGroup = InferencePool.apiResource.group + "/"
    /// The label every Tandem child carries (app.kubernetes.io/managed-by, see Rendering's PoolLabels).
    static let managedBy = ("app.kubernetes.io/managed-by", "tandem")

    /// Checks the pools of `namespace` and the objects of the kinds Tandem renders there.
    ///
    /// - Parameter expectedChildren: a fresh render of a pool's children (kind and name), or
    ///   nil to skip that comparison. A pool being deleted is not compared.
    public static func check(
        client: KubernetesClient, namespace: String,
        expectedChildren: (@Sendable (InferencePool) async throws -> Set<ChildKey>)? = nil
    ) async throws -> InvariantReport {
        var report = InvariantReport()
        let pools = try await client.resources(InferencePool.self, namespace: namespace).list().items
        report.pools = pools.count
        let poolsByUID = Dictionary(pools.compactMap { pool in pool.metadata.uid.map { ($0, pool) } }) { first, _ in first }
        var owned: [String: Set<ChildKey>] = [:]

        func visit(kind: String, _ metadata: [ObjectMeta]) {
            for meta in metadata {
                let name = meta.name ?? "?"
                let key = ChildKey(kind: kind, name: name)
                let refs = (meta.ownerReferences ?? []).filter { $0.kind == "InferencePool" && $0.apiVersion.hasPrefix(poolGroup) }
                let managed = meta.labels?[managedBy.0] == managedBy.1
                guard managed || !refs.isEmpty else { continue }
                report.children += 1
                if refs.isEmpty {
                    report.orphans += 1
                    report.violations.append("orphan: \(key) in \(namespace) is managed by tandem but owned by no pool")
                    continue
                }
                if refs.count > 1 {
                    report.multiplyOwned += 1
                    report.violations.append("\(key) in \(namespace) is owned by \(refs.count) pools: \(refs.map(\.name).joined(separator: ", "))")
                }
                for ref in refs {
                    if ref.controller != true {
                        report.violations.append("\(key) in \(namespace): the owner reference to pool \(ref.name) is not the controller")
                    }
                    if poolsByUID[ref.uid] == nil {
                        report.orphans += 1
                        report.violations.append("orphan: \(key) in \(namespace) is owned by pool \(ref.name) uid \(ref.uid), which no longer exists")
                    } else {
                        owned[ref.uid, default: []].insert(key)
                    }
                }
            }
        }
        visit(kind: "Deployment", try await client.resources(Deployment.self, namespace: namespace).list().items.map(\.metadata))
        visit(kind: "Service", try await client.resources(Service.self, namespace: namespace).list().items.map(\.metadata))
        visit(kind: "ConfigMap", try await client.resources(ConfigMap.self, namespace: namespace).list().items.map(\.metadata))
        visit(kind: "ServiceAccount", try await client.resources(ServiceAccount.self, namespace: namespace).list().items.map(\.metadata))
        visit(kind: "Role", try await client.resources(Role.self, namespace: namespace).list().items.map(\.metadata))
        visit(kind: "RoleBinding", try await client.resources(RoleBinding.self, namespace: namespace).list().items.map(\.metadata))

        for pool in pools where pool.metadata.deletionTimestamp == nil {
            let name = pool.metadata.name ?? "?"
            let generation = pool.metadata.generation
            let observed = pool.status?.observedGeneration
            if observed != generation {
                report.staleGenerations += 1
                report.violations.append(
                    "pool \(namespace)/\(name): status.observedGeneration \(observed.map(String.init) ?? "unset") is not metadata.generation \(generation.map(String.init) ?? "unset")")
            }
            guard let expectedChildren, let uid = pool.metadata.uid else { continue }
            let expected = try await expectedChildren(pool)
            let actual = owned[uid] ?? []
            let missing = expected.subtracting(actual).sorted()
            let extra = actual.subtracting(expected).sorted()
            report.missing += missing.count
            report.extra += extra.count
            if !missing.isEmpty || !extra.isEmpty {
                report.violations.append(
                    "pool \(namespace)/\(name): children differ from a fresh render; missing \(missing.map(\.description)), extra \(extra.map(\.description))")
            }
        }
        return report
    }
}
