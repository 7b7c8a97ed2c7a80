import KubeCore
import Synchronization

/// The informer cache: a thread-safe, read-mostly view of one kind's objects.
///
/// Written only by its ``Informer``; read from anywhere. Reads return copies, never live
/// references, so a reconcile can never change the cache by accident.
public final class Store<Object: KubernetesObject>: Sendable {
    private let state = Mutex(StoreState<Object>())
    private let synced = Atomic<Bool>(false)

    public init() {}

    /// Whether the first list has completed: until then the cache is not the cluster.
    public var hasSynced: Bool { synced.load(ordering: .acquiring) }

    func markSynced() { synced.store(true, ordering: .releasing) }

    /// The cached object with `key`, if any.
    public func get(_ key: ObjectKey) -> Object? {
        state.withLock { $0[key] }
    }

    /// The cached object named `name` in `namespace`.
    public func get(namespace: String?, name: String) -> Object? {
        get(ObjectKey(namespace: namespace, name: name))
    }

    /// Every cached object.
    public func list() -> [Object] {
        state.withLock { Array($0.objects.values) }
    }

    /// Every cached key.
    public func keys() -> [ObjectKey] {
        state.withLock { Array($0.objects.keys) }
    }

    public var count: Int { state.withLock { $0.count } }

    /// Objects in `namespace`.
    public func list(namespace: String) -> [Object] {
        lookup(.namespace, namespace)
    }

    /// Objects that name `uid` among their owner references.
    public func owned(by uid: String) -> [Object] {
        lookup(.owner, uid)
    }

    /// Objects carrying the label `key=value`.
    public func labelled(_ key: String, _ value: String) -> [Object] {
        lookup(.label, "\(key)=\(value)")
    }

    private func lookup(_ index: StoreState<Object>.Index, _ value: String) -> [Object] {
        state.withLock { state in state.keys(index: index, value: value).compactMap { state[$0] } }
    }

    func apply(_ event: WatchEvent<Object>) -> StoreChange<Object>? {
        state.withLock { $0.apply(event) }
    }

    func remove(key: ObjectKey) -> StoreChange<Object>? {
        state.withLock { $0.remove(key: key) }
    }

    func replace(with items: [Object]) -> [StoreChange<Object>] {
        state.withLock { $0.replace(with: items) }
    }
}
