/// The type of a watch event, as the API server spells it.
public enum WatchEventType: String, Codable, Sendable {
    case added = "ADDED"
    case modified = "MODIFIED"
    case deleted = "DELETED"
    case bookmark = "BOOKMARK"
    case error = "ERROR"
}

/// One event of a watch stream, typed.
///
/// A bookmark carries only a resourceVersion (the server promises no event at or below it is
/// still to come); an error carries the server's ``Status`` (410 `Expired`/`Gone` means the
/// requested resourceVersion is too old: list again).
public enum WatchEvent<Object: KubernetesObject>: Sendable {
    case added(Object)
    case modified(Object)
    case deleted(Object)
    case bookmark(resourceVersion: String)
    case error(Status)

    /// The event type as the server names it.
    public var type: WatchEventType {
        switch self {
        case .added: .added
        case .modified: .modified
        case .deleted: .deleted
        case .bookmark: .bookmark
        case .error: .error
        }
    }

    /// The object of an ADDED, MODIFIED or DELETED event.
    public var object: Object? {
        switch self {
        case .added(let object), .modified(let object), .deleted(let object): object
        case .bookmark, .error: nil
        }
    }

    /// The resourceVersion the stream has reached after this event, if it says.
    public var resourceVersion: String? {
        switch self {
        case .added(let object), .modified(let object), .deleted(let object): object.metadata.resourceVersion
        case .bookmark(let version): version
        case .error: nil
        }
    }
}

extension WatchEvent: Decodable {
    private enum CodingKeys: String, CodingKey { case type, object }
    private struct Bookmark: Decodable { var metadata: ObjectMeta? }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(WatchEventType.self, forKey: .type)
        switch type {
        case .added: self = .added(try container.decode(Object.self, forKey: .object))
        case .modified: self = .modified(try container.decode(Object.self, forKey: .object))
        case .deleted: self = .deleted(try container.decode(Object.self, forKey: .object))
        case .bookmark:
            let bookmark = try container.decode(Bookmark.self, forKey: .object)
            self = .bookmark(resourceVersion: bookmark.metadata?.resourceVersion ?? "")
        case .error: self = .error(try container.decode(Status.self, forKey: .object))
        }
    }
}
