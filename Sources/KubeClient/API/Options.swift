import KubeCore

/// Parameters of a list or watch request.
public struct ListOptions: Sendable {
    /// A label selector in its string form (`app=x,tier in (a,b)`).
    public var labelSelector: String?
    /// A field selector (`metadata.name=x`, `spec.nodeName=n1`).
    public var fieldSelector: String?
    /// Page size for list; `nil` asks for everything at once.
    public var limit: Int?
    /// The continue token of the previous page.
    public var continueToken: String?
    /// For list: `"0"` allows the watch cache's copy; `nil` reads from etcd (consistent).
    /// For watch: where to start.
    public var resourceVersion: String?

    public init(labelSelector: String? = nil, fieldSelector: String? = nil, limit: Int? = nil,
                continueToken: String? = nil, resourceVersion: String? = nil) {
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
        self.limit = limit
        self.continueToken = continueToken
        self.resourceVersion = resourceVersion
    }

    /// Selects by a typed ``LabelSelector``.
    public init(selector: LabelSelector, limit: Int? = nil) {
        self.init(labelSelector: selector.selectorString, limit: limit)
    }

    var query: [(String, String)] {
        var query: [(String, String)] = []
        if let labelSelector, !labelSelector.isEmpty { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector, !fieldSelector.isEmpty { query.append(("fieldSelector", fieldSelector)) }
        if let limit { query.append(("limit", String(limit))) }
        if let continueToken, !continueToken.isEmpty { query.append(("continue", continueToken)) }
        if let resourceVersion { query.append(("resourceVersion", resourceVersion)) }
        return query
    }
}

/// Parameters of a watch request beyond ``ListOptions``.
public struct WatchOptions: Sendable {
    /// Ask the server for BOOKMARK events, which advance the resourceVersion on quiet streams.
    public var allowBookmarks: Bool
    /// The server closes the stream after this long. client-go picks 5–10 minutes; kube-rs uses
    /// 290 s to stay under load balancers' common 300 s idle limit.
    public var timeoutSeconds: Int
    /// The longest single event accepted, in bytes. Bounds the line buffer.
    public var maxEventBytes: Int

    public init(allowBookmarks: Bool = true, timeoutSeconds: Int = 290, maxEventBytes: Int = 16 << 20) {
        self.allowBookmarks = allowBookmarks
        self.timeoutSeconds = timeoutSeconds
        self.maxEventBytes = maxEventBytes
    }
}

/// Parameters of a delete.
public struct DeleteOptions: Codable, Sendable {
    public var apiVersion: String = "v1"
    public var kind: String = "DeleteOptions"
    public var propagationPolicy: PropagationPolicy?
    public var gracePeriodSeconds: Int64?
    /// Refuse the delete unless the object still has this uid / resourceVersion.
    public var preconditions: Preconditions?

    public struct Preconditions: Codable, Sendable {
        public var uid: String?
        public var resourceVersion: String?
        public init(uid: String? = nil, resourceVersion: String? = nil) {
            self.uid = uid
            self.resourceVersion = resourceVersion
        }
    }

    public init(propagationPolicy: PropagationPolicy? = nil, gracePeriodSeconds: Int64? = nil,
                preconditions: Preconditions? = nil) {
        self.propagationPolicy = propagationPolicy
        self.gracePeriodSeconds = gracePeriodSeconds
        self.preconditions = preconditions
    }
}

/// A patch body in one of the formats the API server accepts (server-side apply has its own
/// calls: ``ResourceClient/apply(_:fieldManager:force:)``).
public enum Patch: Sendable {
    /// RFC 7386 JSON merge patch.
    case merge(JSONValue)
    /// RFC 6902 JSON patch.
    case json([JSONPatchOperation])
    /// Kubernetes strategic merge patch (built-in kinds only).
    case strategicMerge(JSONValue)

    var type: PatchType {
        switch self {
        case .merge: .merge
        case .json: .json
        case .strategicMerge: .strategicMerge
        }
    }

    func body() throws -> [UInt8] {
        switch self {
        case .merge(let value), .strategicMerge(let value): Array(try KubeJSON.encode(value))
        case .json(let operations): Array(try KubeJSON.encode(operations))
        }
    }
}
