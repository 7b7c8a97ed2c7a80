/// An authentication.k8s.io/v1 `TokenReview`: asks the API server who a bearer token belongs to
/// (create-only; nothing is stored). What delegated authentication (`/metrics`) sends.
public struct TokenReview: KubernetesResource, Hashable {
    public static let apiResource = APIResource(
        group: "authentication.k8s.io", version: "v1", kind: "TokenReview", plural: "tokenreviews", namespaced: false)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: TokenReviewSpec
    public var status: TokenReviewStatus?

    public init(token: String, audiences: [String]? = nil) {
        self.apiVersion = Self.apiResource.apiVersion
        self.kind = Self.apiResource.kind
        self.metadata = ObjectMeta()
        self.spec = TokenReviewSpec(token: token, audiences: audiences)
    }
}

/// `authenticationv1.TokenReviewSpec`.
public struct TokenReviewSpec: Codable, Hashable, Sendable {
    public var token: String?
    /// Audiences the token must be valid for; absent: the API server's own.
    public var audiences: [String]?

    public init(token: String? = nil, audiences: [String]? = nil) {
        self.token = token
        self.audiences = audiences
    }
}

/// `authenticationv1.TokenReviewStatus`.
public struct TokenReviewStatus: Codable, Hashable, Sendable {
    public var authenticated: Bool?
    public var user: UserInfo?
    public var audiences: [String]?
    /// Why the token could not be checked (not: why it is invalid).
    public var error: String?

    public init(authenticated: Bool? = nil, user: UserInfo? = nil, audiences: [String]? = nil, error: String? = nil) {
        self.authenticated = authenticated
        self.user = user
        self.audiences = audiences
        self.error = error
    }
}

/// `authenticationv1.UserInfo`: who a token names.
public struct UserInfo: Codable, Hashable, Sendable {
    public var username: String?
    public var uid: String?
    public var groups: [String]?
    public var extra: [String: [String]]?

    public init(username: String? = nil, uid: String? = nil, groups: [String]? = nil, extra: [String: [String]]? = nil) {
        self.username = username
        self.uid = uid
        self.groups = groups
        self.extra = extra
    }
}

/// An authorization.k8s.io/v1 `SubjectAccessReview`: asks the API server whether a user may do
/// something (create-only; nothing is stored). What delegated authorization (`/metrics`) sends.
public struct SubjectAccessReview: KubernetesResource, Hashable {
    public static let apiResource = APIResource(
        group: "authorization.k8s.io", version: "v1", kind: "SubjectAccessReview", plural: "subjectaccessreviews",
        namespaced: false)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: SubjectAccessReviewSpec
    public var status: SubjectAccessReviewStatus?

    public init(spec: SubjectAccessReviewSpec) {
        self.apiVersion = Self.apiResource.apiVersion
        self.kind = Self.apiResource.kind
        self.metadata = ObjectMeta()
        self.spec = spec
    }
}

/// `authorizationv1.SubjectAccessReviewSpec`: exactly one of the attribute blocks is set.
public struct SubjectAccessReviewSpec: Codable, Hashable, Sendable {
    public var resourceAttributes: ResourceAttributes?
    public var nonResourceAttributes: NonResourceAttributes?
    public var user: String?
    public var groups: [String]?
    public var uid: String?
    public var extra: [String: [String]]?

    public init(resourceAttributes: ResourceAttributes? = nil, nonResourceAttributes: NonResourceAttributes? = nil,
                user: String? = nil, groups: [String]? = nil, uid: String? = nil, extra: [String: [String]]? = nil) {
        self.resourceAttributes = resourceAttributes
        self.nonResourceAttributes = nonResourceAttributes
        self.user = user
        self.groups = groups
        self.uid = uid
        self.extra = extra
    }

    /// The review of `user` doing `verb` on `path` (a non-resource URL such as `/metrics`).
    public init(user: UserInfo, nonResourcePath path: String, verb: String) {
        self.init(nonResourceAttributes: NonResourceAttributes(path: path, verb: verb), user: user.username,
                  groups: user.groups, uid: user.uid, extra: user.extra)
    }
}

/// `authorizationv1.ResourceAttributes`.
public struct ResourceAttributes: Codable, Hashable, Sendable {
    public var namespace: String?
    public var verb: String?
    public var group: String?
    public var version: String?
    public var resource: String?
    public var subresource: String?
    public var name: String?

    public init(namespace: String? = nil, verb: String? = nil, group: String? = nil, version: String? = nil,
                resource: String? = nil, subresource: String? = nil, name: String? = nil) {
        self.namespace = namespace
        self.verb = verb
        self.group = group
        self.version = version
        self.resource = resource
        self.subresource = subresource
        self.name = name
    }
}

/// `authorizationv1.NonResourceAttributes`: a URL path and an HTTP verb in lower case (`get`).
public struct NonResourceAttributes: Codable, Hashable, Sendable {
    public var path: String?
    public var verb: String?

    public init(path: String? = nil, verb: String? = nil) {
        self.path = path
        self.verb = verb
    }
}

/// `authorizationv1.SubjectAccessReviewStatus`.
public struct SubjectAccessReviewStatus: Codable, Hashable, Sendable {
    public var allowed: Bool?
    /// An explicit deny (only some authorizers say so); `allowed: false` alone means "no opinion".
    public var denied: Bool?
    public var reason: String?
    public var evaluationError: String?

    public init(allowed: Bool? = nil, denied: Bool? = nil, reason: String? = nil, evaluationError: String? = nil) {
        self.allowed = allowed
        self.denied = denied
        self.reason = reason
        self.evaluationError = evaluationError
    }
}
