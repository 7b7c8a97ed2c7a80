/// An apiextensions.k8s.io/v1 `CustomResourceDefinition` (cluster-scoped).
///
/// Modelled far enough to install a CRD and wait for its `Established` condition; schemas and
/// subresources are passed through as JSON.
public struct CustomResourceDefinition: KubernetesResource, Hashable {
    public static let apiResource = APIResource(
        group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition",
        plural: "customresourcedefinitions", namespaced: false)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: CustomResourceDefinitionSpec?
    public var status: CustomResourceDefinitionStatus?

    public init(
        metadata: ObjectMeta = ObjectMeta(), spec: CustomResourceDefinitionSpec? = nil,
        status: CustomResourceDefinitionStatus? = nil
    ) {
        self.apiVersion = Self.apiResource.apiVersion
        self.kind = Self.apiResource.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    /// Whether the API server serves the new resource (`Established` is `True`).
    public var isEstablished: Bool {
        status?.conditions?.contains { $0.type == "Established" && $0.status == "True" } ?? false
    }
}

/// `apiextensionsv1.CustomResourceDefinitionSpec`.
public struct CustomResourceDefinitionSpec: Codable, Hashable, Sendable {
    public var group: String?
    public var names: CustomResourceDefinitionNames?
    /// `Namespaced` or `Cluster`.
    public var scope: String?
    public var versions: [CustomResourceDefinitionVersion]?
    /// `apiextensionsv1.CustomResourceConversion`, passed through.
    public var conversion: JSONValue?

    public init(
        group: String? = nil, names: CustomResourceDefinitionNames? = nil, scope: String? = nil,
        versions: [CustomResourceDefinitionVersion]? = nil, conversion: JSONValue? = nil
    ) {
        self.group = group
        self.names = names
        self.scope = scope
        self.versions = versions
        self.conversion = conversion
    }
}

/// `apiextensionsv1.CustomResourceDefinitionNames`.
public struct CustomResourceDefinitionNames: Codable, Hashable, Sendable {
    public var plural: String?
    public var singular: String?
    public var kind: String?
    public var listKind: String?
    public var shortNames: [String]?
    /// Groupings such as `all`.
    public var categories: [String]?

    public init(
        plural: String? = nil, singular: String? = nil, kind: String? = nil, listKind: String? = nil,
        shortNames: [String]? = nil, categories: [String]? = nil
    ) {
        self.plural = plural
        self.singular = singular
        self.kind = kind
        self.listKind = listKind
        self.shortNames = shortNames
        self.categories = categories
    }
}

/// `apiextensionsv1.CustomResourceDefinitionVersion`.
public struct CustomResourceDefinitionVersion: Codable, Hashable, Sendable {
    public var name: String?
    public var served: Bool?
    /// Exactly one version is the storage version.
    public var storage: Bool?
    public var deprecated: Bool?
    /// `apiextensionsv1.CustomResourceValidation` (`{"openAPIV3Schema": …}`), passed through.
    public var schema: JSONValue?
    /// `{"status": {}, "scale": {…}}`, passed through.
    public var subresources: JSONValue?
    public var additionalPrinterColumns: JSONValue?

    public init(
        name: String? = nil, served: Bool? = nil, storage: Bool? = nil, deprecated: Bool? = nil,
        schema: JSONValue? = nil, subresources: JSONValue? = nil, additionalPrinterColumns: JSONValue? = nil
    ) {
        self.name = name
        self.served = served
        self.storage = storage
        self.deprecated = deprecated
        self.schema = schema
        self.subresources = subresources
        self.additionalPrinterColumns = additionalPrinterColumns
    }
}

/// `apiextensionsv1.CustomResourceDefinitionStatus`.
public struct CustomResourceDefinitionStatus: Codable, Hashable, Sendable {
    /// `Established`, `NamesAccepted`, `NonStructuralSchema`, `Terminating`, …
    public var conditions: [CustomResourceDefinitionCondition]?
    /// The names actually served (may differ from the spec's when they conflict).
    public var acceptedNames: CustomResourceDefinitionNames?
    public var storedVersions: [String]?

    public init(
        conditions: [CustomResourceDefinitionCondition]? = nil, acceptedNames: CustomResourceDefinitionNames? = nil,
        storedVersions: [String]? = nil
    ) {
        self.conditions = conditions
        self.acceptedNames = acceptedNames
        self.storedVersions = storedVersions
    }
}

/// `apiextensionsv1.CustomResourceDefinitionCondition`.
public struct CustomResourceDefinitionCondition: Codable, Hashable, Sendable {
    public var type: String?
    /// `True`, `False` or `Unknown`.
    public var status: String?
    public var reason: String?
    public var message: String?
    public var lastTransitionTime: KubeTime?

    public init(
        type: String? = nil, status: String? = nil, reason: String? = nil, message: String? = nil,
        lastTransitionTime: KubeTime? = nil
    ) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.lastTransitionTime = lastTransitionTime
    }
}
