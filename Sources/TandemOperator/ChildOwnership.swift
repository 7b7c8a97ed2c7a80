import KubeClient
import KubeCore
import TandemAPI

/// Who holds an object that has the name of one of a pool's children. Pure.
///
/// Tandem writes only objects whose controller is the pool (owner reference with the pool's
/// UID) and objects that do not exist yet. Everything else is reported, never modified or
/// deleted: another pool's child (two pool names mapped to one child name) or an object someone
/// else made (a hand-made Role `<pool>-epp`, another tool's GIE InferencePool).
public enum ChildOwner: Sendable, Equatable {
    /// No such object: the pool may create it.
    case absent
    /// The pool controls it.
    case pool
    /// Another InferencePool controls it (its name).
    case otherPool(String)
    /// Anything else: who controls it, or that nothing does.
    case foreign(String)

    public static func of<Object: KubernetesObject>(_ object: Object?, pool: InferencePool) -> ChildOwner {
        guard let object else { return .absent }
        let references = object.metadata.ownerReferences ?? []
        if let uid = pool.metadata.uid, references.contains(where: { $0.uid == uid }) { return .pool }
        guard let controller = references.first(where: { $0.controller == true }) else {
            return .foreign("it has no controller")
        }
        let group = controller.apiVersion.split(separator: "/").first.map(String.init) ?? ""
        if controller.kind == InferencePool.apiResource.kind, group == InferencePool.apiResource.group {
            return .otherPool(controller.name)
        }
        return .foreign("its controller is \(controller.kind) \(controller.name)")
    }
}

/// What the reconciler could not write this round, for the `Ready` condition and Events.
public struct ChildReport: Sendable, Equatable {
    /// Children whose name another pool's child has: `Deployment a-b-decode (InferencePool a-b)`.
    public var nameConflicts: [String] = []
    /// Children whose name a foreign object has.
    public var conflicts: [String] = []
    /// Children the API server refused, with its answer.
    public var failures: [String] = []

    public init(nameConflicts: [String] = [], conflicts: [String] = [], failures: [String] = []) {
        self.nameConflicts = nameConflicts
        self.conflicts = conflicts
        self.failures = failures
    }

    public var isEmpty: Bool { nameConflicts.isEmpty && conflicts.isEmpty && failures.isEmpty }

    /// The `Ready=False` reason and message, the gravest first; `nil` when all went well.
    public var problem: (reason: String, message: String)? {
        if isEmpty { return nil }
        if !nameConflicts.isEmpty {
            return (ChildReason.nameConflict,
                    "another pool's children have this pool's child names: \(nameConflicts.joined(separator: ", ")); pool names that differ only in '.' and '-' map to the same child names: rename one pool. Nothing of this pool is written meanwhile")
        }
        var parts: [String] = []
        if !conflicts.isEmpty {
            parts.append("objects not owned by this pool have its children's names and are left alone: \(conflicts.joined(separator: ", ")); delete or rename them, or rename the pool")
        }
        if !failures.isEmpty {
            parts.append("the API server refused: \(failures.joined(separator: "; "))")
        }
        return (conflicts.isEmpty ? ChildReason.applyFailed : ChildReason.conflict, parts.joined(separator: "; "))
    }

    /// Whether an API error is the server refusing the object itself (fix the spec, the RBAC or
    /// the cluster), as opposed to a transient failure that a retry may cure (conflict 409,
    /// throttling 429, server errors, the network).
    public static func isRefusal(_ error: any Error) -> Bool {
        guard let error = error as? APIError else { return false }
        return [.badRequest, .forbidden, .notFound, .invalid].contains(error.reason)
    }
}
