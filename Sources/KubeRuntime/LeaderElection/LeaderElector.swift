import Foundation
import KubeClient
import KubeCore
import Logging

/// Why leader election stopped.
public enum LeaderElectionError: Error, CustomStringConvertible {
    /// The lease could not be renewed within the renew deadline; another process may lead now.
    case lost(lease: String, identity: String)

    public var description: String {
        switch self {
        case .lost(let lease, let identity):
            "\(identity) lost lease \(lease): no renewal within the renew deadline; restart to compete again"
        }
    }
}

/// Leader election on a `coordination.k8s.io/v1` Lease with client-go's semantics
/// (see ``LeaderElectionState``): acquire, renew every retry period, give up when no renewal
/// has succeeded by the renew deadline (counted from the start of the last successful one),
/// release on a graceful stop.
///
/// The term: ``fence`` holds the instant leadership ends unless renewed (``leadingUntil``).
/// No renewal is sent past it, ``isLeader`` turns false at it, the work is cancelled at it, and
/// writes through a client whose `writeGate` is ``LeadershipFence/writeGate`` are refused from
/// it on, so a worker that has not yet noticed its cancellation sends nothing either.
///
/// While waiting to acquire, a follower also watches the lease, so a graceful release by the
/// leader is noticed at once rather than at the next retry.
///
/// RBAC: `get`, `create`, `update` and `watch` on `leases` in `coordination.k8s.io`.
public final class LeaderElector: Sendable {
    public let leaseName: String
    public let namespace: String
    public let identity: String
    public let timing: LeaderElectionTiming
    /// The term, for the operator's writes to consult (see ``LeadershipFence``).
    public let fence: LeadershipFence
    let leases: ResourceClient<Lease>
    let metrics: RuntimeMetrics?
    let logger: Logger

    /// - Parameters:
    ///   - identity: unique per process; defaults to `hostname_uuid` as client-go builds it.
    ///   - timing: must pass ``LeaderElectionTiming/validate()`` (checked by the caller; an
    ///     invalid timing is a programming error here).
    ///   - fence: the fence the operator's client consults; a new one when absent.
    public init(
        client: KubernetesClient, namespace: String, leaseName: String,
        identity: String = "\(ProcessInfo.processInfo.hostName)_\(UUID().uuidString.lowercased())",
        timing: LeaderElectionTiming = LeaderElectionTiming(), fence: LeadershipFence? = nil, metrics: RuntimeMetrics? = nil,
        logger: Logger = Logger(label: "kube.leader-election")
    ) {
        do { try timing.validate() } catch { preconditionFailure("invalid leader-election timing: \(error)") }
        self.leaseName = leaseName
        self.namespace = namespace
        self.identity = identity
        self.timing = timing
        self.fence = fence ?? LeadershipFence(leaseNamespace: namespace, leaseName: leaseName)
        self.leases = client.resources(Lease.self, namespace: namespace)
        self.metrics = metrics
        var logger = logger
        logger[metadataKey: "lease"] = "\(namespace)/\(leaseName)"
        logger[metadataKey: "identity"] = "\(identity)"
        self.logger = logger
        metrics?.leader(name: leaseName, false)
    }

    /// Whether this process holds the lease right now: it acquired it and its term has not
    /// passed (``leadingUntil`` is in the future).
    public var isLeader: Bool { fence.isLeading() }

    /// When leadership ends unless renewed first; `nil` when not leading.
    public var leadingUntil: ContinuousClock.Instant? { fence.leadingUntil }

    /// Competes for the lease and runs `whileLeading` while holding it.
    ///
    /// Returns when the calling task is cancelled (`whileLeading` is cancelled and awaited) or
    /// when `whileLeading` returns by itself; either way the lease is then released. Throws
    /// ``LeaderElectionError/lost(lease:identity:)`` when the term ended without a renewal
    /// (after cancelling and awaiting `whileLeading`); the process should then exit, as
    /// client-go's `OnStoppedLeading` usually does.
    public func run(whileLeading: @escaping @Sendable () async -> Void) async throws {
        let origin = ContinuousClock.now
        var state = LeaderElectionState(identity: identity, timing: timing)
        func now() -> Duration { .now - origin }

        // Acquire.
        while !Task.isCancelled {
            let (acquired, resourceVersion) = await attempt(&state, origin: origin)
            if acquired { break }
            let wait = timing.retryPeriod * (1 + timing.jitter * Double.random(in: 0..<1))
            await waitForRelease(after: resourceVersion, upTo: wait)
        }
        if Task.isCancelled { return }

        guard state.mayWrite(at: now()) else {
            // Acquired, but the answer came after the term it opened had already passed.
            logger.error("acquired the lease too late to lead: the write's answer came after the renew deadline")
            throw LeaderElectionError.lost(lease: "\(namespace)/\(leaseName)", identity: identity)
        }
        setLeading(true)
        logger.info("acquired the lease")
        let renewer = state
        let outcome = await withTaskGroup(of: Outcome.self) { group in
            group.addTask {
                await whileLeading()
                return .workEnded
            }
            group.addTask { await self.renew(renewer, origin: origin) }
            let first = await group.next() ?? .workEnded
            group.cancelAll()
            while await group.next() != nil {}
            return first
        }
        setLeading(false)
        if case .lost = outcome {
            logger.error("lost the lease: no renewal succeeded within the renew deadline (\(timing.renewDeadline)); workers stopped, no write sent after it")
            throw LeaderElectionError.lost(lease: "\(namespace)/\(leaseName)", identity: identity)
        }
        // Cancelled, or the work finished: hand the lease over (even though this task may be
        // cancelled, the release runs in a task of its own).
        await Task { await self.release(renewer) }.value
    }

    private enum Outcome: Sendable {
        case workEnded
        case lost
        case cancelled
    }

    /// Renews every retry period until cancelled (`.cancelled`) or until the term ends without a
    /// successful renewal (`.lost`, returned at the term's end at the latest).
    private func renew(_ initial: LeaderElectionState, origin: ContinuousClock.Instant) async -> Outcome {
        var state = initial
        func now() -> Duration { .now - origin }
        while true {
            guard let termEnd = state.termEnd, now() < termEnd else { return .lost }
            do {
                // Never sleep past the term's end: at it, the work must stop.
                try await Task.sleep(for: min(timing.retryPeriod, termEnd - now()))
            } catch {
                return .cancelled
            }
            if state.termIsOver(at: now()) { return .lost }
            let renewed = await attempt(&state, origin: origin).acquired
            if Task.isCancelled { return .cancelled }
            if renewed, let termEnd = state.termEnd {
                fence.lead(until: origin + termEnd)
            } else if state.termIsOver(at: now()) {
                return .lost
            }
        }
    }

    private func setLeading(_ value: Bool) {
        if !value { fence.close() }
        metrics?.leader(name: leaseName, value)
    }

    /// One `tryAcquireOrRenew`: read, decide, write, all before ``LeaderElectionState/attemptDeadline(now:)``.
    /// Returns whether this process now holds the lease, and the resourceVersion last seen.
    private func attempt(_ state: inout LeaderElectionState, origin: ContinuousClock.Instant) async
        -> (acquired: Bool, resourceVersion: String?)
    {
        func now() -> Duration { .now - origin }
        let startedAt = now()
        let deadline = state.attemptDeadline(now: startedAt)
        let current: Lease?
        do {
            current = try await withTimeout(deadline - now()) { try await self.leases.getIfExists(self.leaseName) }
        } catch {
            logger.warning("reading the lease failed: \(error)")
            return (false, nil)
        }
        // The observation is dated now, when the answer arrived: dating it at the request's
        // start would let a slow GET shorten the wait for another holder's lease.
        let answeredAt = now()
        let decision = state.decide(current: current?.spec, now: answeredAt, wallClock: Date())
        // No write is sent past the deadline: while leading, that is the term's end.
        guard answeredAt < deadline else {
            logger.warning("the lease's GET answered after the renew deadline; not writing")
            return (false, current?.metadata.resourceVersion)
        }
        let written: LeaseSpec
        do {
            switch decision {
            case .heldByOther(let holder, let remaining):
                logger.debug("lease held by \(holder) for about \(remaining) more")
                return (false, current?.metadata.resourceVersion)
            case .create(let spec):
                _ = try await withTimeout(deadline - now()) {
                    try await self.leases.create(Lease(metadata: ObjectMeta(name: self.leaseName, namespace: self.namespace), spec: spec))
                }
                written = spec
            case .update(let spec):
                guard var lease = current else { return (false, nil) }
                lease.spec = spec
                let updated = lease
                _ = try await withTimeout(deadline - now()) { try await self.leases.replace(updated) }
                written = spec
            }
        } catch {
            // A Conflict or AlreadyExists means another candidate wrote first: it leads.
            logger.debug("writing the lease failed: \(error)")
            return (false, current?.metadata.resourceVersion)
        }
        state.wrote(written, startedAt: startedAt, now: now())
        if let termEnd = state.termEnd, state.mayWrite(at: now()) {
            fence.lead(until: origin + termEnd)
        }
        return (true, nil)
    }

    private func release(_ state: LeaderElectionState) async {
        do {
            guard var lease = try await leases.getIfExists(leaseName), let spec = lease.spec,
                let released = state.releaseSpec(current: spec, wallClock: Date())
            else { return }
            lease.spec = released
            _ = try await leases.replace(lease)
            logger.info("released the lease")
        } catch {
            logger.warning("releasing the lease failed (it will expire instead): \(error)")
        }
    }

    /// Sleeps up to `wait`, waking early if the lease is released or deleted.
    private func waitForRelease(after resourceVersion: String?, upTo wait: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: wait) }
            if let resourceVersion {
                let leases = self.leases
                let name = leaseName
                group.addTask {
                    let seconds = max(1, Int(wait.components.seconds) + 1)
                    let stream = leases.watch(
                        ListOptions(fieldSelector: "metadata.name=\(name)", resourceVersion: resourceVersion),
                        watch: WatchOptions(allowBookmarks: false, timeoutSeconds: seconds))
                    do {
                        for try await event in stream {
                            switch event {
                            case .modified(let lease) where (lease.spec?.holderIdentity ?? "").isEmpty: return
                            case .deleted: return
                            default: continue
                            }
                        }
                    } catch {}
                    try? await Task.sleep(for: wait)
                }
            }
            await group.next()
            group.cancelAll()
        }
    }
}

/// Runs `operation`, throwing `CancellationError` if it takes longer than `timeout` (at once
/// when `timeout` is not positive).
func withTimeout<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    guard timeout > .zero else { throw CancellationError() }
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw CancellationError() }
        return value
    }
}
