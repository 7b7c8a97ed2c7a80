/// An rbac.authorization.k8s.io/v1 `Role`: permissions within one namespace.
public struct Role: KubernetesResource, Hashable {
    public static let apiResource = APIResource(
        group: "rbac.authorization.k8s.io", version: "v1", kind: "Role", plural: "roles", namespaced: true)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var rules: [PolicyRule]?

    public init(metadata: ObjectMeta = ObjectMeta(), rules: [PolicyRule]? = nil) {
        self.apiVersion = Self.apiResource.apiVersion
        self.kind = Self.apiResource.kind
        self.metadata = metadata
        self.rules = rules
    }
}

/// An rbac.authorization.k8s.io/v1 `ClusterRole`: permissions cluster-wide or, bound by a
/// ``RoleBinding``, within a namespace (cluster-scoped).
public struct ClusterRole: KubernetesResource, Hashable {
    public static let apiResource = APIResource(
        group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRole", plural: "clusterroles",
        namespaced: false)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var rules: [PolicyRule]?
    /// `rbacv1.AggregationRule` (rules collected from labelled ClusterRoles), passed through.
    public var aggregationRule: JSONValue?

    public init(metadata: ObjectMeta = ObjectMeta(), rules: [PolicyRule]? = nil, aggregationRule: JSONValue? = nil) {
        self.apiVersion = Self.apiResource.apiVersion
        self.kind = Self.apiResource.kind
        self.metadata = metadata
        self.rules = rules
        self.aggregationRule = aggregationRule
    }
}

/// An rbac.authorization.k8s.io/v1 `RoleBinding`: grants a Role or ClusterRole within a namespace.
public struct RoleBinding: KubernetesResource, Hashable {
    public static let apiResource = APIResource(
        group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding", plural: "rolebindings",
        namespaced: true)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    /// The role granted; immutable after creation.
    public var roleRef: RoleRef?
    public var subjects: [Subject]?

    public init(metadata: ObjectMeta = ObjectMeta(), roleRef: RoleRef? = nil, subjects: [Subject]? = nil) {
        self.apiVersion = Self.apiResource.apiVersion
        self.kind = Self.apiResource.kind
        self.metadata = metadata
        self.roleRef = roleRef
        self.subjects = subjects
    }
}

/// An rbac.authorization.k8s.io/v1 `ClusterRoleBinding`: grants a ClusterRole cluster-wide
/// (cluster-scoped).
public struct ClusterRoleBinding: KubernetesResource, Hashable {
    public static let apiResource = APIResource(
        group: "rbac.authorization.k8s.io", version: "v1", kind: "ClusterRoleBinding",
        plural: "clusterrolebindings", namespaced: false)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    /// The ClusterRole granted; immutable after creation.
    public var roleRef: RoleRef?
    public var subjects: [Subject]?

    public init(metadata: ObjectMeta = ObjectMeta(), roleRef: RoleRef? = nil, subjects: [Subject]? = nil) {
        self.apiVersion = Self.apiResource.apiVersion
        self.kind = Self.apiResource.kind
        self.metadata = metadata
        self.roleRef = roleRef
        self.subjects = subjects
    }
}

/// `rbacv1.PolicyRule`: verbs allowed on resources (or non-resource URLs).
public struct PolicyRule: Codable, Hashable, Sendable {
    /// `""` is the core group; `*` is every group.
    public var apiGroups: [String]?
    /// Plurals, optionally with a subresource (`deployments/scale`); `*` is every resource.
    public var resources: [String]?
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, `*`.
    public var verbs: [String]?
    /// Restricts the rule to these object names.
    public var resourceNames: [String]?
    /// URL paths such as `/healthz` (ClusterRoles only).
    public var nonResourceURLs: [String]?

    public init(
        apiGroups: [String]? = nil, resources: [String]? = nil, verbs: [String]? = nil,
        resourceNames: [String]? = nil, nonResourceURLs: [String]? = nil
    ) {
        self.apiGroups = apiGroups
        self.resources = resources
        self.verbs = verbs
        self.resourceNames = resourceNames
        self.nonResourceURLs = nonResourceURLs
    }
}

/// `rbacv1.RoleRef`: the role a binding grants.
public struct RoleRef: Codable, Hashable, Sendable {
    /// `rbac.authorization.k8s.io`.
    public var apiGroup: String?
    /// `Role` or `ClusterRole`.
    public var kind: String?
    public var name: String?

    public init(apiGroup: String? = "rbac.authorization.k8s.io", kind: String? = nil, name: String? = nil) {
        self.apiGroup = apiGroup
        self.kind = kind
        self.name = name
    }
}

/// `rbacv1.Subject`: who a binding grants the role to.
public struct Subject: Codable, Hashable, Sendable {
    /// `ServiceAccount`, `User` or `Group`.
    public var kind: String?
    public var name: String?
    /// For service accounts.
    public var namespace: String?
    /// `""` for service accounts, `rbac.authorization.k8s.io` for users and groups.
    public var apiGroup: String?

    public init(kind: String? = nil, name: String? = nil, namespace: String? = nil, apiGroup: String? = nil) {
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.apiGroup = apiGroup
    }
}
