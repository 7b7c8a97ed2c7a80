import Foundation
import KubeCore

/// Timing of leader election. The defaults are client-go's (and controller-runtime's), from
/// `k8s.io/client-go/tools/leaderelection` and kube-controller-manager's `--leader-elect-*` flags.
///
/// The safety argument, as client-go's: a leader stops writing once ``renewDeadline`` has passed
/// since the start of its last successful renewal, while a follower waits ``leaseDuration``
/// after it *observed* that renewal; the difference is the margin left for clock-rate drift and
/// for a write already in flight (see docs/kube-runtime.md). Hence ``validate()``.
public struct LeaderElectionTiming: Sendable, Equatable {
    /// How long a lease is honoured after its holder's last observed renewal. client-go: 15 s.
    /// Whole seconds: it is written into `Lease.spec.leaseDurationSeconds`, an integer.
    public var leaseDuration: Duration
    /// A leader that has not renewed within this long of its last successful renewal's start
    /// stops leading (and writing). client-go: 10 s.
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

    /// Checks the relations client-go's `NewLeaderElector` enforces: lease duration > renew
    /// deadline > retry period × jitter factor > 0, and a lease duration of whole seconds.
    ///
    /// - Throws: ``LeaderElectionConfigurationError`` saying which relation fails and how to fix it.
    public func validate() throws {
        func text(_ duration: Duration) -> String {
            let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
            return "\(seconds)s"
        }
        guard retryPeriod > .zero, renewDeadline > .zero, leaseDuration > .zero, jitter >= 0 else {
            throw LeaderElectionConfigurationError(
                "lease duration (\(text(leaseDuration))), renew deadline (\(text(renewDeadline))) and retry period (\(text(retryPeriod))) must all be positive")
        }
        guard leaseDuration > renewDeadline else {
            throw LeaderElectionConfigurationError(
                "the lease duration (\(text(leaseDuration))) must be longer than the renew deadline (\(text(renewDeadline))): a follower could take over while the leader still writes; lengthen the lease or shorten the renew deadline (client-go's defaults: 15s and 10s)")
        }
        guard renewDeadline > retryPeriod * jitter, renewDeadline > retryPeriod else {
            throw LeaderElectionConfigurationError(
                "the renew deadline (\(text(renewDeadline))) must be longer than the retry period (\(text(retryPeriod))) × \(jitter) (client-go's JitterFactor), or a leader gets no second renewal attempt; shorten the retry period (client-go's default: 2s)")
        }
        guard leaseDuration.components.attoseconds == 0, leaseDuration.components.seconds <= Int64(Int32.max) else {
            throw LeaderElectionConfigurationError(
                "the lease duration (\(text(leaseDuration))) must be a whole number of seconds: Lease.spec.leaseDurationSeconds is an integer")
        }
    }
}

/// A leader-election timing that cannot be safe; the message names the relation that fails.
public struct LeaderElectionConfigurationError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The decision half of leader election on a `coordination.k8s.io/v1` Lease, pure and
/// clock-free: client-go's `tryAcquireOrRenew`.
///
/// Expiry is judged by *local observation*: a lease is held until `leaseDuration` has passed
/// on this process's monotonic clock since it last saw the lease record change, so clock skew
/// between machines never matters. The observation is dated when the GET's *answer arrived*
/// (`now` of ``decide(current:now:wallClock:)``), never before the request was sent: dating it
/// earlier would shorten the wait by the request's latency. Writes are PUTs (or a create)
/// carrying the read resourceVersion, so of two candidates only one can win.
///
/// The leader's side is the *term*: ``termEnd`` is the start of its last successful acquire or
/// renewal plus the renew deadline. Past it the leader sends nothing more: no renewal (see
/// ``attemptDeadline(now:)``) and no other write (``mayWrite(at:)``).
public struct LeaderElectionState: Sendable {
    public let identity: String
    public let timing: LeaderElectionTiming
    private var observedRecord: LeaseSpec?
    private var observedAt: Duration?
    /// When this process's leadership ends unless renewed: the start of its last successful
    /// acquire or renewal + renew deadline (monotonic). `nil` while it has never led.
    public private(set) var termEnd: Duration?

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
    ///   - now: this process's monotonic time when the GET's answer *arrived* (the observation's date).
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

    /// Records a successful write of `spec`, answered at `now`, by the attempt that started (sent
    /// its GET) at `startedAt`: the write is the new observation, and the term now runs until
    /// `startedAt + renewDeadline`.
    ///
    /// The term is measured from the attempt's *start*, not its answer: a follower's clock for
    /// this record cannot have started before the write was sent, which is after `startedAt`.
    public mutating func wrote(_ spec: LeaseSpec, startedAt: Duration, now: Duration) {
        observedRecord = spec
        observedAt = now
        let end = startedAt + timing.renewDeadline
        termEnd = max(termEnd ?? end, end)
    }

    /// Whether a write may still be *sent* at `now`: only strictly before ``termEnd``.
    public func mayWrite(at now: Duration) -> Bool {
        guard let termEnd else { return false }
        return now < termEnd
    }

    /// Whether a term this process held has ended at `now` (it led, and `now` ≥ ``termEnd``).
    public func termIsOver(at now: Duration) -> Bool {
        guard let termEnd else { return false }
        return now >= termEnd
    }

    /// The instant by which an acquire or renew attempt starting at `now` must have sent its
    /// write, and its requests must have answered: ``termEnd`` while leading (a renewal past it
    /// would extend a term the followers may already consider over), else `now + renewDeadline`.
    public func attemptDeadline(now: Duration) -> Duration {
        if let termEnd, now < termEnd { return termEnd }
        return now + timing.renewDeadline
    }

    /// Forgets the term (after it ended, or after a release): ``mayWrite(at:)`` is false from now on.
    public mutating func endTerm() {
        termEnd = nil
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
