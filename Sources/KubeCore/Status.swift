/// `metav1.Status`: what the API server returns when a call fails (and for some deletes).
public struct Status: Codable, Hashable, Sendable, Error, CustomStringConvertible {
    public var apiVersion: String?
    public var kind: String?
    /// `Success` or `Failure`.
    public var status: String?
    /// A human-readable explanation, written by the server.
    public var message: String?
    /// A machine-readable reason (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, `Expired`, …).
    public var reason: String?
    public var details: StatusDetails?
    /// The HTTP status code the server meant.
    public var code: Int?

    public init(status: String? = "Failure", message: String? = nil, reason: String? = nil,
                details: StatusDetails? = nil, code: Int? = nil) {
        self.apiVersion = "v1"
        self.kind = "Status"
        self.status = status
        self.message = message
        self.reason = reason
        self.details = details
        self.code = code
    }

    public var description: String {
        var text = "\(code.map(String.init) ?? "?") \(reason ?? "Unknown")"
        if let message, !message.isEmpty { text += ": \(message)" }
        return text
    }
}

/// `metav1.StatusDetails`: which object a ``Status`` is about, and per-field causes.
public struct StatusDetails: Codable, Hashable, Sendable {
    public var name: String?
    public var group: String?
    public var kind: String?
    public var uid: String?
    /// For `Invalid`: one entry per offending field.
    public var causes: [StatusCause]?
    /// Set by the server with 429 and some 5xx answers.
    public var retryAfterSeconds: Int?

    public init(name: String? = nil, group: String? = nil, kind: String? = nil, causes: [StatusCause]? = nil,
                retryAfterSeconds: Int? = nil) {
        self.name = name
        self.group = group
        self.kind = kind
        self.causes = causes
        self.retryAfterSeconds = retryAfterSeconds
    }
}

/// `metav1.StatusCause`: one reason a request failed, often naming a field.
public struct StatusCause: Codable, Hashable, Sendable {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`, …
    public var reason: String?
    public var message: String?
    /// The JSON path of the field (`metadata.name`, `spec.replicas`).
    public var field: String?

    public init(reason: String? = nil, message: String? = nil, field: String? = nil) {
        self.reason = reason
        self.message = message
        self.field = field
    }
}
