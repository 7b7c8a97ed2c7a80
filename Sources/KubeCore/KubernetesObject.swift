/// Any object the API server stores: it has `apiVersion`, `kind` and ``ObjectMeta``.
///
/// Conforming types decode leniently (unknown fields are ignored) and encode only what is set, so
/// the same type serves reads and server-side applies.
public protocol KubernetesObject: Codable, Sendable {
    var apiVersion: String? { get set }
    var kind: String? { get set }
    var metadata: ObjectMeta { get set }
}

/// A ``KubernetesObject`` whose REST location is known at compile time.
public protocol KubernetesResource: KubernetesObject {
    /// Group, version, kind, plural and scope of this type.
    static var apiResource: APIResource { get }
}

extension KubernetesObject {
    public var name: String? { metadata.name }
    public var namespace: String? { metadata.namespace }
    /// `namespace/name` (or `name`), the key caches and queues use.
    public var key: String { metadata.key }
}

extension KubernetesResource {
    /// Fills `apiVersion` and `kind` from ``apiResource`` where they are empty.
    public mutating func fillTypeMeta() {
        if apiVersion == nil || apiVersion == "" { apiVersion = Self.apiResource.apiVersion }
        if kind == nil || kind == "" { kind = Self.apiResource.kind }
    }

    /// An owner reference naming this object as the controller of another.
    ///
    /// Returns `nil` when the object has no name or uid yet (it was never read from the server).
    public func controllerReference(blockOwnerDeletion: Bool = true) -> OwnerReference? {
        guard let name = metadata.name, let uid = metadata.uid else { return nil }
        return OwnerReference(
            apiVersion: Self.apiResource.apiVersion, kind: Self.apiResource.kind, name: name, uid: uid,
            controller: true, blockOwnerDeletion: blockOwnerDeletion)
    }
}

/// A list response: `{"kind":"ConfigMapList","metadata":{…},"items":[…]}`.
public struct ObjectList<Item: Codable & Sendable>: Codable, Sendable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ListMeta
    public var items: [Item]

    public init(metadata: ListMeta = ListMeta(), items: [Item]) {
        self.metadata = metadata
        self.items = items
    }

    enum CodingKeys: String, CodingKey { case apiVersion, kind, metadata, items }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try container.decodeIfPresent(String.self, forKey: .apiVersion)
        kind = try container.decodeIfPresent(String.self, forKey: .kind)
        metadata = try container.decodeIfPresent(ListMeta.self, forKey: .metadata) ?? ListMeta()
        // The server sends `"items": null` for an empty list of some kinds.
        items = try container.decodeIfPresent([Item].self, forKey: .items) ?? []
    }
}

/// An object of a kind known only at run time: its metadata typed, everything else kept as JSON.
///
/// Round-trips every top-level field it was decoded from, so it can be read, changed and
/// written back (or applied) without a Swift type for the kind.
public struct DynamicObject: KubernetesObject, Hashable {
    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    /// Every top-level field other than `apiVersion`, `kind` and `metadata` (`spec`, `status`, `data`, …).
    public var fields: [String: JSONValue]

    public init(apiVersion: String?, kind: String?, metadata: ObjectMeta, fields: [String: JSONValue] = [:]) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.metadata = metadata
        self.fields = fields
    }

    /// A top-level field such as `spec` or `status`.
    public subscript(field: String) -> JSONValue? {
        get { fields[field] }
        set { fields[field] = newValue }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        var fields: [String: JSONValue] = [:]
        var apiVersion: String?
        var kind: String?
        var metadata = ObjectMeta()
        for key in container.allKeys {
            switch key.stringValue {
            case "apiVersion": apiVersion = try container.decodeIfPresent(String.self, forKey: key)
            case "kind": kind = try container.decodeIfPresent(String.self, forKey: key)
            case "metadata": metadata = try container.decodeIfPresent(ObjectMeta.self, forKey: key) ?? ObjectMeta()
            default: fields[key.stringValue] = try container.decode(JSONValue.self, forKey: key)
            }
        }
        self.init(apiVersion: apiVersion, kind: kind, metadata: metadata, fields: fields)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyKey.self)
        try container.encodeIfPresent(apiVersion, forKey: AnyKey(stringValue: "apiVersion"))
        try container.encodeIfPresent(kind, forKey: AnyKey(stringValue: "kind"))
        try container.encode(metadata, forKey: AnyKey(stringValue: "metadata"))
        for (key, value) in fields {
            try container.encode(value, forKey: AnyKey(stringValue: key))
        }
    }
}

/// A coding key for any member name, for types that keep members they do not model.
struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
