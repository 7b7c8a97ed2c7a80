/// An API group and version, such as `apps/v1` or the core group's `v1`.
public struct GroupVersion: Hashable, Sendable, CustomStringConvertible {
    /// Empty for the core (legacy) group.
    public var group: String
    public var version: String

    public init(group: String, version: String) {
        self.group = group
        self.version = version
    }

    /// Parses an `apiVersion` string: `v1` (core) or `apps/v1`.
    public init(apiVersion: String) {
        if let slash = apiVersion.firstIndex(of: "/") {
            group = String(apiVersion[..<slash])
            version = String(apiVersion[apiVersion.index(after: slash)...])
        } else {
            group = ""
            version = apiVersion
        }
    }

    /// The `apiVersion` form: `v1` or `apps/v1`.
    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    public var description: String { apiVersion }
}

/// A group, version and kind: what an object *is*.
public struct GroupVersionKind: Hashable, Sendable, CustomStringConvertible {
    public var group: String
    public var version: String
    public var kind: String

    public init(group: String, version: String, kind: String) {
        self.group = group
        self.version = version
        self.kind = kind
    }

    public var groupVersion: GroupVersion { GroupVersion(group: group, version: version) }
    public var description: String { "\(groupVersion.apiVersion), Kind=\(kind)" }
}

/// A group, version and resource (plural): where an object *lives* in the REST API.
public struct GroupVersionResource: Hashable, Sendable, CustomStringConvertible {
    public var group: String
    public var version: String
    public var resource: String

    public init(group: String, version: String, resource: String) {
        self.group = group
        self.version = version
        self.resource = resource
    }

    public var description: String { group.isEmpty ? "\(version)/\(resource)" : "\(group)/\(version)/\(resource)" }
}

/// Everything a client needs to address a kind over REST: its group, version, kind, plural and
/// whether it is namespaced.
public struct APIResource: Hashable, Sendable, CustomStringConvertible {
    public var group: String
    public var version: String
    public var kind: String
    /// The lower-case plural used in URLs (`deployments`, `inferencepools`).
    public var plural: String
    public var namespaced: Bool

    public init(group: String, version: String, kind: String, plural: String, namespaced: Bool) {
        self.group = group
        self.version = version
        self.kind = kind
        self.plural = plural
        self.namespaced = namespaced
    }

    public var apiVersion: String { GroupVersion(group: group, version: version).apiVersion }
    public var groupVersionKind: GroupVersionKind { GroupVersionKind(group: group, version: version, kind: kind) }
    public var groupVersionResource: GroupVersionResource {
        GroupVersionResource(group: group, version: version, resource: plural)
    }

    /// A readable name for errors and logs: `deployments.apps` or `configmaps`.
    public var description: String { group.isEmpty ? plural : "\(plural).\(group)" }

    /// The URL path of the collection or of one object, with an optional subresource.
    ///
    /// - Parameters:
    ///   - namespace: required for namespaced kinds unless listing across all namespaces (`nil`).
    ///   - name: the object, or `nil` for the collection.
    ///   - subresource: `status`, `scale`, `token`, …
    public func path(namespace: String?, name: String? = nil, subresource: String? = nil) -> String {
        var path = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if namespaced, let namespace {
            path += "/namespaces/\(PathSegment.escape(namespace))"
        }
        path += "/\(plural)"
        if let name {
            path += "/\(PathSegment.escape(name))"
            if let subresource { path += "/\(subresource)" }
        }
        return path
    }
}

enum PathSegment {
    /// Percent-encodes everything but RFC 3986 unreserved characters. Valid Kubernetes names need
    /// no escaping; this keeps an invalid one from changing the path.
    static func escape(_ segment: String) -> String {
        var out = ""
        for byte in segment.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"), UInt8(ascii: ":"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
