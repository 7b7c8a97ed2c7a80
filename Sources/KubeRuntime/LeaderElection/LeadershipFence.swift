import Foundation
import Synchronization

/// The leader's term as the operator's writes see it: an instant after which this process sends
/// no write, whatever its workers are doing.
///
/// ``LeaderElector`` moves ``leadingUntil`` forward at every successful renewal (to the start of
/// that renewal + the renew deadline) and clears it when it stops leading. Install
/// ``writeGate`` as the `writeGate` of the operator's `ClientConfiguration`: the client then
/// consults it before sending every request that may change state (and before every retry), so
/// a worker still running after the term ended (cancellation is cooperative) gets
/// ``NotLeadingError`` instead of a request on the wire.
///
/// Exempt: the election's own Lease (``LeaderElector`` bounds those writes by the term itself),
/// and TokenReview/SubjectAccessReview (`/metrics` authorization; they change nothing).
///
/// Kubernetes has no fencing tokens: a write sent just before ``leadingUntil`` may still reach
/// the API server after it. The lease duration − renew deadline margin covers that; see
/// docs/kube-runtime.md.
public final class LeadershipFence: Sendable {
    private let end = Mutex<ContinuousClock.Instant?>(nil)
    /// Path prefixes whose writes are never fenced.
    public let exemptPathPrefixes: [String]

    /// - Parameters:
    ///   - leaseNamespace, leaseName: the election's Lease, whose writes the elector fences itself.
    public init(leaseNamespace: String, leaseName: String) {
        exemptPathPrefixes = [
            "/apis/coordination.k8s.io/v1/namespaces/\(leaseNamespace)/leases/\(leaseName)",
            "/apis/authentication.k8s.io/",
            "/apis/authorization.k8s.io/",
        ]
        leaseCollection = "/apis/coordination.k8s.io/v1/namespaces/\(leaseNamespace)/leases"
    }

    /// The Lease collection, where the first acquisition creates the Lease (a POST).
    private let leaseCollection: String

    /// The instant this process stops leading unless it renews first; `nil` when it does not lead.
    public var leadingUntil: ContinuousClock.Instant? { end.withLock { $0 } }

    /// Whether this process leads at `now` (strictly before ``leadingUntil``).
    public func isLeading(at now: ContinuousClock.Instant = .now) -> Bool {
        end.withLock { $0.map { now < $0 } ?? false }
    }

    /// Sets the term's end (the elector's successful acquire or renewal).
    func lead(until instant: ContinuousClock.Instant) {
        end.withLock { $0 = instant }
    }

    /// Ends the term now: from here on every fenced write is refused.
    func close() {
        end.withLock { $0 = nil }
    }

    /// Throws ``NotLeadingError`` unless a write of `method` to `path` may be sent now.
    public func check(method: String, path: String, now: ContinuousClock.Instant = .now) throws {
        if method == "GET" || method == "HEAD" { return }
        if path == leaseCollection || exemptPathPrefixes.contains(where: { path.hasPrefix($0) }) { return }
        let until = leadingUntil
        guard let until, now < until else {
            throw NotLeadingError(method: method, path: path, endedAgo: until.map { now - $0 })
        }
    }

    /// The closure for `ClientConfiguration.writeGate`.
    public var writeGate: @Sendable (_ method: String, _ path: String) throws -> Void {
        { [self] method, path in try check(method: method, path: path) }
    }
}

/// A write refused because this process does not lead (any more).
public struct NotLeadingError: Error, CustomStringConvertible {
    public let method: String
    public let path: String
    /// How long ago the term ended; `nil` when this process was not leading at all.
    public let endedAgo: Duration?

    public var description: String {
        let why = endedAgo.map { "its leadership term ended \($0) ago (no renewal within the renew deadline)" }
            ?? "this process does not hold the leader-election lease"
        return "not sending \(method) \(path): \(why); only the leader writes, and this process will exit to compete again"
    }
}
