import Foundation

/// The patch formats the API server accepts, by their content type.
public enum PatchType: String, Sendable, Hashable, CaseIterable {
    /// RFC 7386 JSON merge patch: maps merge, lists are replaced whole.
    case merge = "application/merge-patch+json"
    /// RFC 6902 JSON patch: a list of operations.
    case json = "application/json-patch+json"
    /// Kubernetes' strategic merge patch (built-in kinds only).
    case strategicMerge = "application/strategic-merge-patch+json"
    /// Server-side apply: the full intent of one field manager.
    case apply = "application/apply-patch+yaml"

    /// The `Content-Type` header value.
    public var contentType: String { rawValue }
}

/// One RFC 6902 JSON patch operation.
public struct JSONPatchOperation: Codable, Hashable, Sendable {
    /// `add`, `remove`, `replace`, `move`, `copy` or `test`.
    public var op: String
    /// A JSON pointer (`/metadata/labels/app`).
    public var path: String
    public var value: JSONValue?
    /// The source pointer of `move` and `copy`.
    public var from: String?

    public init(op: String, path: String, value: JSONValue? = nil, from: String? = nil) {
        self.op = op
        self.path = path
        self.value = value
        self.from = from
    }

    public static func add(_ path: String, _ value: JSONValue) -> Self { .init(op: "add", path: path, value: value) }
    public static func replace(_ path: String, _ value: JSONValue) -> Self { .init(op: "replace", path: path, value: value) }
    public static func remove(_ path: String) -> Self { .init(op: "remove", path: path) }
    public static func test(_ path: String, _ value: JSONValue) -> Self { .init(op: "test", path: path, value: value) }

    /// Escapes one reference token of a JSON pointer (`~` → `~0`, `/` → `~1`).
    public static func escape(_ token: String) -> String {
        token.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }
}

/// How a delete propagates to the objects the deleted one owns.
public enum PropagationPolicy: String, Codable, Sendable {
    /// Delete the owner now; the garbage collector deletes dependents afterwards.
    case background = "Background"
    /// Delete dependents first; the owner waits (with a `foregroundDeletion` finalizer).
    case foreground = "Foreground"
    /// Leave dependents, removing their owner references.
    case orphan = "Orphan"
}
