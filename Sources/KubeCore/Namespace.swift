/// A core/v1 `Namespace` (cluster-scoped).
public struct Namespace: KubernetesResource, Hashable {
    public static let apiResource = APIResource(
        group: "", version: "v1", kind: "Namespace", plural: "namespaces", namespaced: false)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: NamespaceSpec?
    public var status: NamespaceStatus?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: NamespaceSpec? = nil, status: NamespaceStatus? = nil) {
        self.apiVersion = Self.apiResource.apiVersion
        self.kind = Self.apiResource.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

/// The spec of a ``Namespace``.
public struct NamespaceSpec: Codable, Hashable, Sendable {
    /// Must be empty before the namespace can be removed (`kubernetes`).
    public var finalizers: [String]?

    public init(finalizers: [String]? = nil) {
        self.finalizers = finalizers
    }
}

/// The status of a ``Namespace``.
public struct NamespaceStatus: Codable, Hashable, Sendable {
    /// `Active` or `Terminating`.
    public var phase: String?
    public var conditions: JSONValue?

    public init(phase: String? = nil, conditions: JSONValue? = nil) {
        self.phase = phase
        self.conditions = conditions
    }
}
