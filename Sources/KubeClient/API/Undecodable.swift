import Foundation
import KubeCore

/// An object the server sent that the Swift type could not decode: a value the CRD schema
/// accepts but the type refuses (`value: 1` where a string is expected, a quantity too large).
///
/// Lists and informers skip such objects instead of failing as a whole, so one bad object
/// cannot stop the others; this record says which object it was and which field broke it.
public struct UndecodableObject: Sendable, Hashable, CustomStringConvertible {
    public var apiVersion: String?
    public var kind: String?
    public var namespace: String?
    public var name: String?
    public var uid: String?
    public var resourceVersion: String?
    /// The path of the field that failed, from the object's root (`spec.env[0].value`);
    /// empty when the object itself is not an object.
    public var fieldPath: String
    /// What the decoder said about that field.
    public var reason: String

    public init(apiVersion: String? = nil, kind: String? = nil, namespace: String? = nil, name: String? = nil,
                uid: String? = nil, resourceVersion: String? = nil, fieldPath: String, reason: String) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.resourceVersion = resourceVersion
        self.fieldPath = fieldPath
        self.reason = reason
    }

    /// A reference to the object built from its raw metadata, for Events about it.
    public var reference: ObjectReference {
        ObjectReference(apiVersion: apiVersion, kind: kind, name: name, namespace: namespace, uid: uid,
                        resourceVersion: resourceVersion)
    }

    /// `namespace/name` (or `name` for a cluster-scoped object).
    public var displayName: String {
        if let namespace, !namespace.isEmpty { return "\(namespace)/\(name ?? "<unnamed>")" }
        return name ?? "<unnamed>"
    }

    public var description: String {
        "\(kind ?? "object") \(displayName) (uid \(uid ?? "?")) cannot be decoded at "
            + "\(fieldPath.isEmpty ? "<root>" : fieldPath): \(reason)"
    }

    /// Describes a decoding failure of an object whose own path in the document is
    /// `basePath` (the path is made relative to the object).
    init(_ error: any Error, metadata: RawMetadata?, basePath: [any CodingKey]) {
        let (path, reason) = Self.describe(error, dropping: basePath.count)
        self.init(apiVersion: metadata?.apiVersion, kind: metadata?.kind, namespace: metadata?.metadata?.namespace,
                  name: metadata?.metadata?.name, uid: metadata?.metadata?.uid,
                  resourceVersion: metadata?.metadata?.resourceVersion, fieldPath: path, reason: reason)
    }

    /// The field path (`spec.env[0].value`) and a short reason of a `DecodingError`.
    static func describe(_ error: any Error, dropping prefix: Int) -> (path: String, reason: String) {
        guard let error = error as? DecodingError else { return ("", "\(error)") }
        let path: [any CodingKey]
        let reason: String
        switch error {
        case .typeMismatch(let type, let context):
            path = context.codingPath
            reason = "expected \(Self.typeName(type)): \(context.debugDescription)"
        case .valueNotFound(let type, let context):
            path = context.codingPath
            reason = "expected \(Self.typeName(type)), found null: \(context.debugDescription)"
        case .keyNotFound(let key, let context):
            path = context.codingPath + [key]
            reason = "required field is missing"
        case .dataCorrupted(let context):
            path = context.codingPath
            reason = context.debugDescription
        @unknown default:
            return ("", "\(error)")
        }
        return (Self.render(Array(path.dropFirst(prefix))), reason)
    }

    static func render(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else if key.stringValue.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) {
                text += text.isEmpty ? key.stringValue : ".\(key.stringValue)"
            } else {
                // A map key such as `nvidia.com/gpu`: quoted, so its dots are not read as steps.
                text += "[\"\(key.stringValue)\"]"
            }
        }
        return text
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch "\(type)" {
        case "String": "a string"
        case "Int", "Int32", "Int64", "UInt", "UInt32", "UInt64": "an integer"
        case "Double", "Float": "a number"
        case "Bool": "a boolean"
        case let other where other.hasPrefix("Array"): "a list"
        case let other where other.hasPrefix("Dictionary"): "an object"
        case let other: "\(other)"
        }
    }
}

/// Just enough of any object to name it, decoded when the full type fails.
struct RawMetadata: Decodable, Sendable {
    var apiVersion: String?
    var kind: String?
    var metadata: Meta?

    struct Meta: Decodable, Sendable {
        var name: String?
        var namespace: String?
        var uid: String?
        var resourceVersion: String?
    }
}

/// One element decoded on its own: the object, or why it could not be.
enum Lenient<Object: Decodable & Sendable>: Decodable, Sendable {
    case decoded(Object)
    case undecodable(UndecodableObject)

    init(from decoder: any Decoder) throws {
        do {
            self = .decoded(try Object(from: decoder))
        } catch {
            // Not even named: the document is broken, not just this object.
            let metadata = try RawMetadata(from: decoder)
            self = .undecodable(UndecodableObject(error, metadata: metadata, basePath: decoder.codingPath))
        }
    }
}

/// A list page whose items are decoded one by one.
struct LenientList<Object: Decodable & Sendable>: Decodable, Sendable {
    var apiVersion: String?
    var kind: String?
    var metadata: ListMeta
    var items: [Lenient<Object>]

    enum CodingKeys: String, CodingKey { case apiVersion, kind, metadata, items }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        apiVersion = try container.decodeIfPresent(String.self, forKey: .apiVersion)
        kind = try container.decodeIfPresent(String.self, forKey: .kind)
        metadata = try container.decodeIfPresent(ListMeta.self, forKey: .metadata) ?? ListMeta()
        items = try container.decodeIfPresent([Lenient<Object>].self, forKey: .items) ?? []
    }
}

/// The result of ``ResourceClient/listAllSkippingUndecodable(_:pageSize:)``: every object that
/// decoded, and a record of each one that did not.
public struct DecodedList<Object: KubernetesObject>: Sendable {
    /// The decoded objects, with the snapshot's resourceVersion.
    public var list: ObjectList<Object>
    /// Objects skipped because they could not be decoded, in list order.
    public var undecodable: [UndecodableObject]

    public init(list: ObjectList<Object>, undecodable: [UndecodableObject]) {
        self.list = list
        self.undecodable = undecodable
    }
}

/// One element of a ``LenientWatchStream``: a decoded event, or an object event whose object
/// could not be decoded.
public enum WatchUpdate<Object: KubernetesObject>: Sendable {
    case event(WatchEvent<Object>)
    /// An ADDED, MODIFIED or DELETED event whose object the type refuses.
    case undecodable(WatchEventType, UndecodableObject)

    /// The resourceVersion the stream has reached after this element, if it says.
    public var resourceVersion: String? {
        switch self {
        case .event(let event): event.resourceVersion
        case .undecodable(_, let object): object.resourceVersion
        }
    }
}

/// A watch event whose object is decoded on its own.
struct LenientWatchEvent<Object: KubernetesObject>: Decodable, Sendable {
    var update: WatchUpdate<Object>

    private enum CodingKeys: String, CodingKey { case type, object }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let type = try container.decode(WatchEventType.self, forKey: .type)
        switch type {
        case .bookmark, .error:
            update = .event(try WatchEvent<Object>(from: decoder))
        case .added, .modified, .deleted:
            switch try container.decode(Lenient<Object>.self, forKey: .object) {
            case .decoded(let object):
                update = .event(type == .added ? .added(object) : type == .modified ? .modified(object) : .deleted(object))
            case .undecodable(let record):
                update = .undecodable(type, record)
            }
        }
    }
}
