import Foundation
import KubeCore

/// Timing of leader election. The defaults are client-go's (and controller-runtime's).
public struct LeaderElectionTiming: Sendable, Equatable {
    /// How long a lease is honoured after its holder's last observed renewal. client-go: 15 s.
    public var leaseDuration: Duration
    /// A leader that cannot renew within this long gives up. client-go: 10 s.
    public var renewDeadline: Duration
    /// Interval between acquire and renew attempts. client-go: 2 s.
    public var retryPeriod: Duration
    /// Acquire attempts wait `retryPeriod × (1 + jitter × random)`. client-go's `JitterFactor`: 1.2.
    public var jitter: Double

    public init(leaseDuration: Duration = .seconds(15), renewDeadline: Duration = .seconds(10),
                retryPeriod: Duration = .seconds(2), jitter: Double = 1.2) {
        self.leaseDuration = leaseDuration
        self.renewDeadline = renewDeadline
        self.retryPeriod = retryPeriod
        self.jitter = jitter
    }
}

/// The decision half of leader election on a `coordination.k8s.io/v1` Lease, pure and
/// clock-free: client-go's `tryAcquireOrRenew`.
///
/// Expiry is judged by *local observation*: a lease is held until `leaseDuration` has passed
/// on this process's monotonic clock since it last saw the lease record change, so clock skew
/// between machines never matters. Writes are PUTs (or a create) carrying the read
/// resourceVersion, so of two candidates only one can win.
public struct LeaderElectionState: Sendable {
    public let identity: String
    public let timing: LeaderElectionTiming
    private var observedRecord: LeaseSpec?
    private var observedAt: Duration?

    /// What to do after reading the lease.
    public enum Decision: Sendable, Equatable {
        /// No lease yet: create it with this spec.
        case create(LeaseSpec)
        /// Write this spec with a PUT guarded by the read resourceVersion.
        case update(LeaseSpec)
        /// Another holder's lease is still valid for about this long.
        case heldByOther(holder: String, remaining: Duration)
    }

    public init(identity: String, timing: LeaderElectionTiming = LeaderElectionTiming()) {
        self.identity = identity
        self.timing = timing
    }

    /// Whether the last record this process saw names it as holder.
    public var observedLeader: String? { observedRecord?.holderIdentity }

    /// Decides after reading `current` (nil: the lease does not exist).
    ///
    /// - Parameters:
    ///   - now: this process's monotonic time.
    ///   - wallClock: the time written into `acquireTime`/`renewTime` (informational only).
    public mutating func decide(current: LeaseSpec?, now: Duration, wallClock: Date) -> Decision {
        let stamp = MicroTime(wallClock)
        let seconds = Int32(timing.leaseDuration.components.seconds)
        guard let current else {
            return .create(LeaseSpec(holderIdentity: identity, leaseDurationSeconds: seconds, acquireTime: stamp,
                                     renewTime: stamp, leaseTransitions: 0))
        }
        if observedRecord != current || observedAt == nil {
            observedRecord = current
            observedAt = now
        }
        let holder = current.holderIdentity ?? ""
        let heldFor = current.leaseDurationSeconds.map { Duration.seconds(Int64($0)) } ?? timing.leaseDuration
        if !holder.isEmpty, holder != identity, let observedAt, observedAt + heldFor > now {
            return .heldByOther(holder: holder, remaining: observedAt + heldFor - now)
        }
        var next = LeaseSpec(holderIdentity: identity, leaseDurationSeconds: seconds, acquireTime: stamp,
                             renewTime: stamp, leaseTransitions: current.leaseTransitions ?? 0)
        if holder == identity {
            next.acquireTime = current.acquireTime ?? stamp
        } else {
            next.leaseTransitions = (current.leaseTransitions ?? 0) + 1
        }
        return .update(next)
    }

    /// Records a successful write of `spec` at `now` (the write is the new observation).
    public mutating func wrote(_ spec: LeaseSpec, now: Duration) {
        observedRecord = spec
        observedAt = now
    }

    /// The spec that gives the lease up on a graceful stop: no holder, a 1 s duration, so
    /// any candidate may take it at once (client-go's `release`).
    public func releaseSpec(current: LeaseSpec, wallClock: Date) -> LeaseSpec? {
        guard current.holderIdentity == identity else { return nil }
        let stamp = MicroTime(wallClock)
        return LeaseSpec(holderIdentity: nil, leaseDurationSeconds: 1, acquireTime: stamp, renewTime: stamp,
                         leaseTransitions: current.leaseTransitions)
    }
}
