import Crypto
import Foundation
import KubeClient
import KubeCore
import Logging
import Synchronization

/// The answer for one `/metrics` request.
public enum MetricsAccess: Sendable, Equatable {
    /// The token's user may `get` the path: 200.
    case allowed(user: String)
    /// No bearer token, or the API server did not authenticate it: 401.
    case unauthenticated(reason: String)
    /// Authenticated, but not allowed `get` on the path: 403.
    case forbidden(user: String, reason: String)
    /// The SubjectAccessReview could not be made: 500 (try again).
    case failed(reason: String)

    /// The HTTP status code this access answers with.
    public var statusCode: Int {
        switch self {
        case .allowed: 200
        case .unauthenticated: 401
        case .forbidden: 403
        case .failed: 500
        }
    }
}

/// A small time-bounded cache of review answers (pure: time is passed in).
///
/// A key's answer is kept for a TTL chosen per answer (allowed answers longer than denials, as
/// Kubernetes' delegating authorizer does), and at most `capacity` keys are kept (the oldest
/// answer goes first), so a flood of distinct tokens cannot grow memory without bound.
public struct ReviewCache<Value: Sendable>: Sendable {
    private var entries: [String: (value: Value, expires: Duration, stored: Duration)] = [:]
    public let capacity: Int

    public init(capacity: Int = 1024) {
        self.capacity = capacity
    }

    /// The answer for `key` if it is still fresh at `now`.
    public func lookup(_ key: String, now: Duration) -> Value? {
        guard let entry = entries[key], now < entry.expires else { return nil }
        return entry.value
    }

    /// Stores `value` for `key` until `now + ttl`.
    public mutating func store(_ key: String, _ value: Value, ttl: Duration, now: Duration) {
        entries = entries.filter { now < $0.value.expires }
        if entries.count >= capacity, entries[key] == nil,
            let oldest = entries.min(by: { $0.value.stored < $1.value.stored })?.key
        {
            entries[oldest] = nil
        }
        entries[key] = (value, now + ttl, now)
    }

    public var count: Int { entries.count }
}

/// Delegated authentication and authorization for `/metrics`, as controller-runtime's secure
/// metrics serving (`filters.WithAuthenticationAndAuthorization`) does: the bearer token is
/// checked with a TokenReview, and its user's right to `get` the non-resource URL with a
/// SubjectAccessReview.
///
/// RBAC: `create` on `tokenreviews` (authentication.k8s.io) and `subjectaccessreviews`
/// (authorization.k8s.io). A scraper needs a ClusterRole with `nonResourceURLs: ["/metrics"]`,
/// `verbs: ["get"]` (the chart's `metrics-reader`).
public final class MetricsAuthorizer: Sendable {
    /// Answers are cached so that a Prometheus scraping every few seconds does not cost two API
    /// requests per scrape. The TTLs are those controller-runtime's filter configures for
    /// Kubernetes' delegating authenticator and authorizer: tokens 1 minute, allowed 5 minutes,
    /// denied 30 seconds (so a new RoleBinding takes effect within half a minute).
    public static let tokenTTL: Duration = .seconds(60)
    public static let allowTTL: Duration = .seconds(300)
    public static let denyTTL: Duration = .seconds(30)

    let client: KubernetesClient
    let logger: Logger
    private let origin = ContinuousClock.now
    private let tokens = Mutex(ReviewCache<TokenReviewStatus>())
    private let decisions = Mutex(ReviewCache<MetricsAccess>())

    public init(client: KubernetesClient, logger: Logger = Logger(label: "kube.metrics-auth")) {
        self.client = client
        self.logger = logger
    }

    /// The token of an `Authorization: Bearer <token>` header, or `nil`.
    public static func bearerToken(from header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }

    /// Decides whether the request with this `Authorization` header may `verb` `path`.
    public func authorize(authorization header: String?, path: String = "/metrics", verb: String = "get") async
        -> MetricsAccess
    {
        guard let token = Self.bearerToken(from: header) else {
            return .unauthenticated(reason: "no bearer token")
        }
        // Tokens are cached by their SHA-256, never kept as they are.
        let tokenKey = SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
        let now = ContinuousClock.now - origin
        let status: TokenReviewStatus
        if let cached = tokens.withLock({ $0.lookup(tokenKey, now: now) }) {
            status = cached
        } else {
            do {
                let review = try await client.resources(TokenReview.self).create(TokenReview(token: token))
                status = review.status ?? TokenReviewStatus(authenticated: false)
            } catch {
                logger.warning("TokenReview failed: \(error)")
                return .unauthenticated(reason: "the token could not be reviewed: \(error)")
            }
            tokens.withLock { $0.store(tokenKey, status, ttl: Self.tokenTTL, now: now) }
        }
        guard status.authenticated == true, let user = status.user, let name = user.username else {
            return .unauthenticated(reason: status.error ?? "the API server did not authenticate the token")
        }
        let decisionKey = "\(tokenKey) \(verb) \(path)"
        if let cached = decisions.withLock({ $0.lookup(decisionKey, now: now) }) { return cached }
        let access: MetricsAccess
        do {
            let review = try await client.resources(SubjectAccessReview.self).create(
                SubjectAccessReview(spec: SubjectAccessReviewSpec(user: user, nonResourcePath: path, verb: verb)))
            if review.status?.allowed == true {
                access = .allowed(user: name)
            } else {
                let reason = review.status?.reason ?? review.status?.evaluationError ?? ""
                access = .forbidden(user: name, reason: reason)
            }
        } catch {
            logger.warning("SubjectAccessReview failed: \(error)")
            return .failed(reason: "the access review failed: \(error)")
        }
        let ttl = if case .allowed = access { Self.allowTTL } else { Self.denyTTL }
        decisions.withLock { $0.store(decisionKey, access, ttl: ttl, now: now) }
        return access
    }
}
