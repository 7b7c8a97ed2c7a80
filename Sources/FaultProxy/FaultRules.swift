import Foundation

/// What the proxy knows about one request when it decides which faults apply.
public struct RequestInfo: Sendable, Hashable {
    /// The proxy's sequence number of the request (1, 2, …, in order of arrival).
    public var sequence: Int
    /// The client connection that carried it.
    public var connection: Int
    /// `<identity>` of a `User-Agent: tandem/<identity>` header (up to the first space), else
    /// the identity registered for its bearer token (``FaultProxy/identify(bearerToken:as:)``).
    public var identity: String?
    /// `GET`, `POST`, `PUT`, `PATCH`, `DELETE`, …
    public var method: String
    /// The path without the query.
    public var path: String
    /// The query string without `?` (empty when none).
    public var query: String
    /// Whether it is a watch (`watch=true` or `watch=1` in the query, or a `/watch/` path).
    public var isWatch: Bool

    public init(sequence: Int = 0, connection: Int = 0, identity: String?, method: String, path: String, query: String = "",
                isWatch: Bool? = nil) {
        self.sequence = sequence
        self.connection = connection
        self.identity = identity
        self.method = method.uppercased()
        self.path = path
        self.query = query
        self.isWatch = isWatch ?? RequestInfo.isWatch(path: path, query: query)
    }

    /// POST, PUT, PATCH or DELETE: the verbs that change state.
    public var isMutating: Bool { ["POST", "PUT", "PATCH", "DELETE"].contains(method) }

    /// Parses `tandem/<identity>` (the form every Tandem process sends) out of a User-Agent.
    public static func identity(fromUserAgent userAgent: String?) -> String? {
        guard let userAgent, userAgent.hasPrefix("tandem/") else { return nil }
        let rest = userAgent.dropFirst("tandem/".count).prefix { $0 != " " }
        return rest.isEmpty ? nil : String(rest)
    }

    /// A request is a watch when its query says `watch=true|1` or its path uses the old
    /// `/watch/` prefix (both forms the API server accepts).
    public static func isWatch(path: String, query: String) -> Bool {
        if path.contains("/watch/") { return true }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.first == "watch", let value = parts.dropFirst().first, value == "true" || value == "1" { return true }
        }
        return false
    }
}

/// A predicate over ``RequestInfo`` that selects the traffic a fault applies to.
///
/// Combine with `&&`, `||` and `!`: `.identity("op-a") && .watches` is "only the watch
/// traffic of process op-a".
public struct RequestMatch: Sendable, CustomStringConvertible {
    public let description: String
    let test: @Sendable (RequestInfo) -> Bool

    public init(_ description: String, _ test: @escaping @Sendable (RequestInfo) -> Bool) {
        self.description = description
        self.test = test
    }

    public func matches(_ request: RequestInfo) -> Bool { test(request) }

    /// Every request.
    public static let all = RequestMatch("all") { _ in true }
    /// Requests whose User-Agent is `tandem/<identity>`.
    public static func identity(_ identity: String) -> RequestMatch {
        RequestMatch("identity=\(identity)") { $0.identity == identity }
    }
    /// Watch requests only.
    public static let watches = RequestMatch("watches") { $0.isWatch }
    /// POST, PUT, PATCH, DELETE.
    public static let mutating = RequestMatch("mutating") { $0.isMutating }
    /// Requests of one HTTP method.
    public static func method(_ method: String) -> RequestMatch {
        let method = method.uppercased()
        return RequestMatch("method=\(method)") { $0.method == method }
    }
    /// Requests whose path contains `fragment` (`/leases/`, `/inferencepools`).
    public static func path(containing fragment: String) -> RequestMatch {
        RequestMatch("path~\(fragment)") { $0.path.contains(fragment) }
    }

    public static func && (lhs: RequestMatch, rhs: RequestMatch) -> RequestMatch {
        RequestMatch("(\(lhs) && \(rhs))") { lhs.test($0) && rhs.test($0) }
    }
    public static func || (lhs: RequestMatch, rhs: RequestMatch) -> RequestMatch {
        RequestMatch("(\(lhs) || \(rhs))") { lhs.test($0) || rhs.test($0) }
    }
    public static prefix func ! (match: RequestMatch) -> RequestMatch {
        RequestMatch("!\(match)") { !match.test($0) }
    }
}

/// One kind of misbehaviour the proxy can inject.
public enum Fault: Sendable, Hashable, CustomStringConvertible {
    /// Every byte (request and response, each chunk of a stream) is delivered `d` later than it
    /// arrived, order kept: a slower network path, not a slower server.
    case latency(Duration)
    /// Bytes in both directions are held, never dropped, and released in order when the rule
    /// is removed: a partitioned path that heals.
    case blackhole
    /// The client connection is aborted (TCP RST): a matching request's connection when the
    /// request arrives, and at once every live connection that matches when the rule is added.
    case reset
    /// A fraction (0…1) of matching requests is answered by the proxy with `429 TooManyRequests`
    /// and `Retry-After`, in the API server's `Status` form; the others pass.
    case tooManyRequests(fraction: Double, retryAfterSeconds: Int)
    /// A fraction of matching requests is answered with `503 ServiceUnavailable` (`Status` form).
    case serviceUnavailable(fraction: Double)
    /// A watch gets its response head, then its stream ends at once (`abrupt`: the stream is
    /// reset, or for HTTP/1.1 the connection closed, instead of a clean end).
    case closeWatchAfterHead(abrupt: Bool)

    public var description: String {
        switch self {
        case .latency(let d): "latency(\(d))"
        case .blackhole: "blackhole"
        case .reset: "reset"
        case .tooManyRequests(let f, let s): "429(fraction: \(f), retryAfter: \(s)s)"
        case .serviceUnavailable(let f): "503(fraction: \(f))"
        case .closeWatchAfterHead(let abrupt): abrupt ? "closeWatchAfterHead(abrupt)" : "closeWatchAfterHead"
        }
    }
}

/// Where a fault is applied.
public enum FaultLayer: Sendable, Hashable {
    /// Per request (per HTTP/2 stream), after TLS termination: two requests on one HTTP/2
    /// connection can be treated apart.
    case request
    /// Per client connection, on the raw bytes before TLS: a connection is selected by the first
    /// request it carried (with ``RequestInfo/isWatch`` true once it carried any watch), and
    /// everything on it is affected. Only ``Fault/latency(_:)``, ``Fault/blackhole`` and
    /// ``Fault/reset`` exist at this layer.
    case connection
}

/// Which requests or connections a rule may catch.
public enum FaultScope: Sendable, Hashable {
    /// Present and future ones.
    case all
    /// Only those that existed when the rule was added (a half-open path: what was open
    /// hangs, a new connection or request goes through).
    case existing
}

/// Identifies an installed rule, to remove it.
public struct FaultID: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int
    public var description: String { "fault#\(rawValue)" }
}

/// One installed fault: what, where, for which traffic.
public struct FaultRule: Sendable, CustomStringConvertible {
    public var id: FaultID
    public var fault: Fault
    public var layer: FaultLayer
    public var match: RequestMatch
    public var scope: FaultScope
    /// The last request sequence number and connection number seen when the rule was added
    /// (for ``FaultScope/existing``).
    var requestWatermark: Int
    var connectionWatermark: Int
    /// How many matching requests a fractional rule has seen (to refuse an exact fraction).
    var seen: Int = 0

    public var description: String { "\(id) \(fault) at \(layer) for \(match)\(scope == .existing ? " (existing only)" : "")" }

    func catches(request: RequestInfo) -> Bool {
        if scope == .existing, request.sequence > requestWatermark { return false }
        return match.matches(request)
    }

    func catches(connection: Int, view: RequestInfo) -> Bool {
        if scope == .existing, connection > connectionWatermark { return false }
        return match.matches(view)
    }
}

/// What the proxy does with one request, decided when it arrives.
public enum RequestVerdict: Sendable, Equatable {
    /// Forward it (other faults such as latency or blackhole may still shape it).
    case forward
    /// Answer it with this status (429 or 503) without forwarding.
    case refuse(code: Int, retryAfterSeconds: Int?, rule: FaultID)
    /// Abort its connection.
    case reset(rule: FaultID)
}

/// The installed rules and the decisions they imply: a value type, so the decisions are
/// testable without sockets. ``FaultProxy`` keeps one behind a lock.
public struct FaultSet: Sendable {
    public private(set) var rules: [FaultRule] = []
    private var nextID = 1

    public init() {}

    /// Installs a rule; `requestWatermark` and `connectionWatermark` are the highest request and
    /// connection numbers seen so far (what ``FaultScope/existing`` covers).
    public mutating func add(_ fault: Fault, layer: FaultLayer, match: RequestMatch, scope: FaultScope,
                             requestWatermark: Int, connectionWatermark: Int) -> FaultRule {
        let rule = FaultRule(id: FaultID(rawValue: nextID), fault: fault, layer: layer, match: match, scope: scope,
                             requestWatermark: requestWatermark, connectionWatermark: connectionWatermark)
        nextID += 1
        rules.append(rule)
        return rule
    }

    @discardableResult
    public mutating func remove(_ id: FaultID) -> Bool {
        let before = rules.count
        rules.removeAll { $0.id == id }
        return rules.count != before
    }

    public mutating func removeAll() { rules.removeAll() }

    /// Decides a newly arrived request: reset beats refusal; among refusals the first rule that
    /// takes this request wins. Fractions are exact: with fraction f, the n-th matching request
    /// is refused when ⌈n·f⌉ > ⌈(n−1)·f⌉ (0.5 refuses the first, third, fifth…; 1 refuses all).
    public mutating func verdict(for request: RequestInfo) -> RequestVerdict {
        if let reset = rules.first(where: { $0.layer == .request && $0.fault == .reset && $0.catches(request: request) }) {
            return .reset(rule: reset.id)
        }
        for index in rules.indices where rules[index].layer == .request && rules[index].catches(request: request) {
            let code: Int, fraction: Double, retryAfter: Int?
            switch rules[index].fault {
            case .tooManyRequests(let f, let seconds): (code, fraction, retryAfter) = (429, f, seconds)
            case .serviceUnavailable(let f): (code, fraction, retryAfter) = (503, f, nil)
            default: continue
            }
            rules[index].seen += 1
            let n = Double(rules[index].seen)
            let f = min(max(fraction, 0), 1)
            if (n * f).rounded(.up) > ((n - 1) * f).rounded(.up) {
                return .refuse(code: code, retryAfterSeconds: retryAfter, rule: rules[index].id)
            }
        }
        return .forward
    }

    /// The request-layer shaping in force for a request now: whether it is held, and its added
    /// latency (the largest of the matching rules).
    public func shaping(request: RequestInfo) -> (held: Bool, latency: Duration) {
        var held = false
        var latency = Duration.zero
        for rule in rules where rule.layer == .request && rule.catches(request: request) {
            switch rule.fault {
            case .blackhole: held = true
            case .latency(let d): latency = max(latency, d)
            default: break
            }
        }
        return (held, latency)
    }

    /// Whether a watch request is to be closed after its head (and whether abruptly).
    public func closesAfterHead(_ request: RequestInfo) -> (close: Bool, abrupt: Bool) {
        guard request.isWatch else { return (false, false) }
        for rule in rules where rule.layer == .request && rule.catches(request: request) {
            if case .closeWatchAfterHead(let abrupt) = rule.fault { return (true, abrupt) }
        }
        return (false, false)
    }

    /// The connection-layer shaping for connection `connection` whose first request (with
    /// `isWatch` set when it carried any watch) is `view`; nil `view`: no request seen yet, so
    /// only rules matching every request apply… none: a connection is classified by a request.
    public func shaping(connection: Int, view: RequestInfo?) -> (held: Bool, latency: Duration, reset: FaultID?) {
        guard let view else { return (false, .zero, nil) }
        var held = false
        var latency = Duration.zero
        var reset: FaultID?
        for rule in rules where rule.layer == .connection && rule.catches(connection: connection, view: view) {
            switch rule.fault {
            case .blackhole: held = true
            case .latency(let d): latency = max(latency, d)
            case .reset: reset = reset ?? rule.id
            default: break
            }
        }
        return (held, latency, reset)
    }
}
