import Foundation
import KubeClient
import KubeCore
import Logging
import Synchronization

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
/// succeeds within the renew deadline, release on a graceful stop.
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
    let leases: ResourceClient<Lease>
    let metrics: RuntimeMetrics?
    let logger: Logger
    private let leading = Atomic<Bool>(false)

    /// - Parameters:
    ///   - identity: unique per process; defaults to `hostname_uuid` as client-go builds it.
    public init(
        client: KubernetesClient, namespace: String, leaseName: String,
        identity: String = "\(ProcessInfo.processInfo.hostName)_\(UUID().uuidString.lowercased())",
        timing: LeaderElectionTiming = LeaderElectionTiming(), metrics: RuntimeMetrics? = nil,
        logger: Logger = Logger(label: "kube.leader-election")
    ) {
        self.leaseName = leaseName
        self.namespace = namespace
        self.identity = identity
        self.timing = timing
        self.leases = client.resources(Lease.self, namespace: namespace)
        self.metrics = metrics
        var logger = logger
        logger[metadataKey: "lease"] = "\(namespace)/\(leaseName)"
        logger[metadataKey: "identity"] = "\(identity)"
        self.logger = logger
        metrics?.leader(name: leaseName, false)
    }

    /// Whether this process holds the lease right now.
    public var isLeader: Bool { leading.load(ordering: .acquiring) }

    /// Competes for the lease and runs `whileLeading` while holding it.
    ///
    /// Returns when the calling task is cancelled (`whileLeading` is cancelled and awaited) or
    /// when `whileLeading` returns by itself; either way the lease is then released. Throws ``LeaderElectionError/lost(lease:identity:)`` when renewal
    /// fails (after cancelling `whileLeading`); the process should then exit.
    public func run(whileLeading: @escaping @Sendable () async -> Void) async throws {
        let origin = ContinuousClock.now
        var state = LeaderElectionState(identity: identity, timing: timing)
        func now() -> Duration { .now - origin }

        // Acquire.
        while !Task.isCancelled {
            let (acquired, resourceVersion) = await attempt(&state, now: now())
            if acquired { break }
            let wait = timing.retryPeriod * (1 + timing.jitter * Double.random(in: 0..<1))
            await waitForRelease(after: resourceVersion, upTo: wait)
        }
        if Task.isCancelled { return }

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
            logger.error("lost the lease: no renewal within \(timing.renewDeadline)")
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

    /// Renews every retry period until cancelled (`.cancelled`) or until no renewal succeeds
    /// within the renew deadline (`.lost`).
    private func renew(_ initial: LeaderElectionState, origin: ContinuousClock.Instant) async -> Outcome {
        var state = initial
        func now() -> Duration { .now - origin }
        var lastRenew = now()
        while true {
            do {
                try await Task.sleep(for: timing.retryPeriod)
            } catch {
                return .cancelled
            }
            let remaining = timing.renewDeadline - (now() - lastRenew)
            let renewed = remaining > .zero ? await attempt(&state, now: now(), timeout: remaining).acquired : false
            if Task.isCancelled { return .cancelled }
            if renewed {
                lastRenew = now()
            } else if now() - lastRenew >= timing.renewDeadline {
                return .lost
            }
        }
    }

    private func setLeading(_ value: Bool) {
        leading.store(value, ordering: .releasing)
        metrics?.leader(name: leaseName, value)
    }

    /// One `tryAcquireOrRenew`: read, decide, write. Returns whether this process now holds the
    /// lease, and the resourceVersion last seen.
    private func attempt(_ state: inout LeaderElectionState, now: Duration, timeout: Duration? = nil) async
        -> (acquired: Bool, resourceVersion: String?)
    {
        let deadline = timeout ?? timing.renewDeadline
        let current: Lease?
        do {
            current = try await withTimeout(deadline) { try await self.leases.getIfExists(self.leaseName) }
        } catch {
            logger.warning("reading the lease failed: \(error)")
            return (false, nil)
        }
        let decision = state.decide(current: current?.spec, now: now, wallClock: Date())
        let written: LeaseSpec
        do {
            switch decision {
            case .heldByOther(let holder, let remaining):
                logger.debug("lease held by \(holder) for about \(remaining) more")
                return (false, current?.metadata.resourceVersion)
            case .create(let spec):
                _ = try await withTimeout(deadline) {
                    try await self.leases.create(Lease(metadata: ObjectMeta(name: self.leaseName, namespace: self.namespace), spec: spec))
                }
                written = spec
            case .update(let spec):
                guard var lease = current else { return (false, nil) }
                lease.spec = spec
                let updated = lease
                _ = try await withTimeout(deadline) { try await self.leases.replace(updated) }
                written = spec
            }
        } catch {
            // A Conflict or AlreadyExists means another candidate wrote first: it leads.
            logger.debug("writing the lease failed: \(error)")
            return (false, current?.metadata.resourceVersion)
        }
        state.wrote(written, now: now)
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

/// Runs `operation`, throwing `CancellationError` if it takes longer than `timeout`.
func withTimeout<T: Sendable>(_ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
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
