import KubeCore

/// A change the store applied, handed to whoever watches the cache (controllers map it to keys).
public enum StoreChange<Object: KubernetesObject>: Sendable {
    case added(Object)
    case updated(old: Object, new: Object)
    case deleted(Object)

    /// The object after the change (the last known state for a delete).
    public var object: Object {
        switch self {
        case .added(let object), .deleted(let object): object
        case .updated(_, let new): new
        }
    }
}

/// The informer cache's contents: objects by key plus secondary indexes. Pure.
///
/// Built-in indexes: ``Index/namespace``, ``Index/owner`` (controller and other owner UIDs) and
/// ``Index/label`` (`key=value` pairs). Lookups by index are O(matches).
public struct StoreState<Object: KubernetesObject>: Sendable {
    /// The secondary indexes a store keeps.
    public enum Index: Sendable, Hashable, CaseIterable {
        case namespace
        case owner
        case label
    }

    public private(set) var objects: [ObjectKey: Object] = [:]
    private var indexes: [Index: [String: Set<ObjectKey>]] = [:]

    public init() {}

    public var count: Int { objects.count }

    public subscript(key: ObjectKey) -> Object? { objects[key] }

    /// Keys of objects whose `index` has `value` (`"team-a"`, an owner UID, `"app=web"`).
    public func keys(index: Index, value: String) -> Set<ObjectKey> {
        indexes[index]?[value] ?? []
    }

    static func values(_ index: Index, of object: Object) -> [String] {
        switch index {
        case .namespace: [object.metadata.namespace ?? ""]
        case .owner: object.metadata.ownerReferences?.map(\.uid) ?? []
        case .label: object.metadata.labels?.map { "\($0.key)=\($0.value)" } ?? []
        }
    }

    private mutating func unindex(_ key: ObjectKey, _ object: Object) {
        for index in Index.allCases {
            for value in Self.values(index, of: object) {
                indexes[index]?[value]?.remove(key)
                if indexes[index]?[value]?.isEmpty == true { indexes[index]?[value] = nil }
            }
        }
    }

    private mutating func index(_ key: ObjectKey, _ object: Object) {
        for index in Index.allCases {
            for value in Self.values(index, of: object) {
                indexes[index, default: [:]][value, default: []].insert(key)
            }
        }
    }

    /// Inserts or replaces one object.
    @discardableResult
    public mutating func upsert(_ object: Object) -> StoreChange<Object> {
        let key = ObjectKey(object)
        let old = objects[key]
        if let old { unindex(key, old) }
        objects[key] = object
        index(key, object)
        return old.map { .updated(old: $0, new: object) } ?? .added(object)
    }

    /// Removes one object; returns the change, or `nil` if it was not there.
    @discardableResult
    public mutating func remove(_ object: Object) -> StoreChange<Object>? {
        let key = ObjectKey(object)
        guard let old = objects.removeValue(forKey: key) else { return nil }
        unindex(key, old)
        return .deleted(old)
    }

    /// Removes the object with `key`; returns the change, or `nil` if it was not there.
    @discardableResult
    public mutating func remove(key: ObjectKey) -> StoreChange<Object>? {
        guard let old = objects.removeValue(forKey: key) else { return nil }
        unindex(key, old)
        return .deleted(old)
    }

    /// Applies one watch event.
    public mutating func apply(_ event: WatchEvent<Object>) -> StoreChange<Object>? {
        switch event {
        case .added(let object), .modified(let object): upsert(object)
        case .deleted(let object): remove(object)
        case .bookmark, .error: nil
        }
    }

    /// Replaces the whole contents with a fresh list, returning what changed: objects that
    /// vanished while the watch was down come back as deletes, so no handler misses them.
    ///
    /// An object whose resourceVersion did not change yields no change.
    public mutating func replace(with items: [Object]) -> [StoreChange<Object>] {
        var fresh = StoreState()
        var changes: [StoreChange<Object>] = []
        for item in items {
            fresh.upsert(item)
            let key = ObjectKey(item)
            if let old = objects[key] {
                if old.metadata.resourceVersion != item.metadata.resourceVersion || old.metadata.resourceVersion == nil {
                    changes.append(.updated(old: old, new: item))
                }
            } else {
                changes.append(.added(item))
            }
        }
        for (key, old) in objects where fresh.objects[key] == nil {
            changes.append(.deleted(old))
        }
        self = fresh
        return changes
    }
}
