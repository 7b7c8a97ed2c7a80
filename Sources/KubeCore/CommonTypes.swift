/// `corev1.ObjectReference`: points at another object, possibly at one field of it (events,
/// service account secrets).
public struct ObjectReference: Codable, Hashable, Sendable {
    public var apiVersion: String?
    public var kind: String?
    public var name: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    /// A path within the object, such as `spec.containers{vllm}`.
    public var fieldPath: String?

    public init(
        apiVersion: String? = nil, kind: String? = nil, name: String? = nil, namespace: String? = nil,
        uid: String? = nil, resourceVersion: String? = nil, fieldPath: String? = nil
    ) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.uid = uid
        self.resourceVersion = resourceVersion
        self.fieldPath = fieldPath
    }

    /// A reference to `object`, filling apiVersion and kind from its type.
    public init<Object: KubernetesResource>(to object: Object, fieldPath: String? = nil) {
        self.init(
            apiVersion: object.apiVersion ?? Object.apiResource.apiVersion,
            kind: object.kind ?? Object.apiResource.kind,
            name: object.metadata.name, namespace: object.metadata.namespace, uid: object.metadata.uid,
            resourceVersion: object.metadata.resourceVersion, fieldPath: fieldPath)
    }
}

/// `corev1.LocalObjectReference`: names an object in the same namespace (image pull secrets).
public struct LocalObjectReference: Codable, Hashable, Sendable {
    public var name: String?

    public init(name: String? = nil) {
        self.name = name
    }
}

extension KeyedDecodingContainer {
    /// Decodes a missing or `null` `metadata` as an empty ``ObjectMeta``.
    ///
    /// Synthesized `Decodable` conformances call this more specific overload for their
    /// non-optional `metadata` property (in any module that imports KubeCore), which is what lets
    /// every typed model decode objects (such as watch bookmarks or list items) that omit it.
    public func decode(_ type: ObjectMeta.Type, forKey key: Key) throws -> ObjectMeta {
        try decodeIfPresent(ObjectMeta.self, forKey: key) ?? ObjectMeta()
    }
}
