/// `metav1.ObjectMeta`: the metadata every persisted object carries.
///
/// Every field is optional so that encoding writes only what was set: a server-side apply built
/// from an `ObjectMeta` claims only the fields its author filled in.
public struct ObjectMeta: Codable, Hashable, Sendable {
    public var name: String?
    /// A prefix the server completes with random characters when `name` is empty.
    public var generateName: String?
    public var namespace: String?
    public var uid: String?
    /// Opaque version for optimistic concurrency and for resuming watches.
    public var resourceVersion: String?
    /// Incremented by the server on every change to the desired state (spec).
    public var generation: Int64?
    public var creationTimestamp: KubeTime?
    /// Set when deletion was requested and finalizers still hold the object.
    public var deletionTimestamp: KubeTime?
    public var deletionGracePeriodSeconds: Int64?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var ownerReferences: [OwnerReference]?
    public var finalizers: [String]?
    /// Which field manager owns which fields (server-side apply bookkeeping).
    public var managedFields: [ManagedFieldsEntry]?

    public init(
        name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil,
        annotations: [String: String]? = nil, ownerReferences: [OwnerReference]? = nil,
        finalizers: [String]? = nil
    ) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
        self.ownerReferences = ownerReferences
        self.finalizers = finalizers
    }

    /// `namespace/name`, or `name` for a cluster-scoped object: the key caches and queues use.
    public var key: String {
        let name = self.name ?? ""
        if let namespace, !namespace.isEmpty { return "\(namespace)/\(name)" }
        return name
    }
}

/// `metav1.OwnerReference`: ties a child to the object that owns it, for garbage collection.
public struct OwnerReference: Codable, Hashable, Sendable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    /// At most one owner is the controller of an object.
    public var controller: Bool?
    /// With foreground deletion, the owner waits until this child is gone.
    public var blockOwnerDeletion: Bool?

    public init(
        apiVersion: String, kind: String, name: String, uid: String, controller: Bool? = nil,
        blockOwnerDeletion: Bool? = nil
    ) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }
}

/// One field manager's claim in `metadata.managedFields`.
public struct ManagedFieldsEntry: Codable, Hashable, Sendable {
    public var manager: String?
    /// `Apply` for server-side apply, `Update` for every other write.
    public var operation: String?
    public var apiVersion: String?
    public var time: KubeTime?
    public var fieldsType: String?
    /// The owned field set in `FieldsV1` form (`{"f:data":{"f:key":{}}}`).
    public var fieldsV1: JSONValue?
    /// Empty for the main resource, `status` or `scale` for a subresource.
    public var subresource: String?

    public init(manager: String? = nil, operation: String? = nil, fieldsV1: JSONValue? = nil) {
        self.manager = manager
        self.operation = operation
        self.fieldsV1 = fieldsV1
    }
}

/// `metav1.ListMeta`: the metadata of a list response.
public struct ListMeta: Codable, Hashable, Sendable {
    public var resourceVersion: String?
    /// Present when more items remain: pass it back as `continue` to get the next page.
    public var `continue`: String?
    /// An estimate of how many items remain after this page, when the server knows.
    public var remainingItemCount: Int64?

    public init(resourceVersion: String? = nil, continue: String? = nil) {
        self.resourceVersion = resourceVersion
        self.continue = `continue`
    }
}
