import KubeCore

/// A request the API server answered with a failure ``Status``.
///
/// Tell kinds apart with ``reason``: `catch let error as APIError where error.reason == .conflict`.
public struct APIError: Error, Sendable, CustomStringConvertible {
    /// The server's Status, or one built from the HTTP answer when the body was not a Status.
    public var status: Status
    /// The HTTP method and path of the request, for messages.
    public var method: String
    public var path: String

    public init(status: Status, method: String, path: String) {
        self.status = status
        self.method = method
        self.path = path
    }

    /// The HTTP status code.
    public var code: Int { status.code ?? 0 }

    /// What kind of failure this is.
    public var reason: Reason { Reason(code: code, reason: status.reason) }

    /// The per-field causes of an `Invalid` answer.
    public var causes: [StatusCause] { status.details?.causes ?? [] }

    /// The failure kinds callers branch on.
    public enum Reason: Sendable, Hashable {
        /// 404: the object (or its namespace) does not exist.
        case notFound
        /// 409 AlreadyExists: a create found the name taken.
        case alreadyExists
        /// 409 Conflict: the resourceVersion was stale, or an apply conflicts with another manager.
        case conflict
        /// 422: the object failed validation; see ``APIError/causes``.
        case invalid
        /// 410: the resourceVersion is too old (compacted): list again.
        case gone
        case badRequest
        case unauthorized
        case forbidden
        case methodNotAllowed
        case tooManyRequests
        case timeout
        case serverError
        case other

        init(code: Int, reason: String?) {
            switch (code, reason) {
            case (404, _): self = .notFound
            case (409, "AlreadyExists"): self = .alreadyExists
            case (409, _): self = .conflict
            case (422, _): self = .invalid
            case (410, _), (_, "Expired"), (_, "Gone"): self = .gone
            case (400, _): self = .badRequest
            case (401, _): self = .unauthorized
            case (403, _): self = .forbidden
            case (405, _): self = .methodNotAllowed
            case (429, _): self = .tooManyRequests
            case (504, _), (_, "Timeout"): self = .timeout
            case (500..., _): self = .serverError
            default: self = .other
            }
        }
    }

    public var description: String {
        var text = "\(method) \(path): \(status.code.map(String.init) ?? "?") \(status.reason ?? "") \(status.message ?? "")"
        for cause in causes {
            text += "\n  \(cause.field ?? "<object>"): \(cause.message ?? cause.reason ?? "")"
        }
        if let hint { text += "\n  (\(hint))" }
        return text
    }

    /// What a caller can usually do about this failure.
    public var hint: String? {
        switch reason {
        case .conflict where status.message?.contains("conflict") == true && method == "PATCH":
            "another field manager owns these fields: apply with force to take them, or leave them to it"
        case .conflict: "the object changed since it was read: read it again and retry"
        case .gone: "the resourceVersion is too old: list again and watch from the list's resourceVersion"
        case .unauthorized: "the credentials were rejected: check the token or client certificate"
        case .forbidden: "RBAC denies this request: grant the verb on the resource to this identity"
        case .notFound where path.contains("/apis/") && status.details?.name == nil:
            "the resource type may not be installed: check that its CRD exists"
        default: nil
        }
    }
}

/// Failures of the client itself, as opposed to answers from the server (``APIError``).
public enum KubeClientError: Error, Sendable, CustomStringConvertible {
    /// The configuration (kubeconfig, in-cluster files) is unusable; the message says which part.
    case configuration(String)
    /// The request could not be completed: connection refused, TLS failure, timeout.
    case transport(method: String, path: String, underlying: String)
    /// The server answered something that is not the expected JSON.
    case decoding(method: String, path: String, type: String, underlying: String)
    /// A watch line grew past the client's limit without a newline.
    case watchLineTooLong(resource: String, limit: Int)
    /// A watch stream received no bytes for the configured idle timeout.
    case watchIdle(resource: String, after: Duration)

    public var description: String {
        switch self {
        case .configuration(let message):
            "configuration: \(message)"
        case .transport(let method, let path, let underlying):
            "\(method) \(path): request failed: \(underlying) (is the API server reachable and its certificate trusted?)"
        case .decoding(let method, let path, let type, let underlying):
            "\(method) \(path): the answer is not a valid \(type): \(underlying)"
        case .watchLineTooLong(let resource, let limit):
            "watch of \(resource): an event exceeded \(limit) bytes; the stream was closed (raise the line limit if objects are this large)"
        case .watchIdle(let resource, let after):
            "watch of \(resource): no data for \(after); the stream was closed (restart the watch from the last resourceVersion)"
        }
    }
}
