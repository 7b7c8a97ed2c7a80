import Autoscaling
import KubeCore
import KubeRuntime
import Synchronization

/// Runs an operation under one overall deadline.
///
/// AsyncHTTPClient's `execute(_:deadline:)` covers connecting and the response head only: its
/// deadline task is cancelled as soon as `execute` returns the response, and reading the body
/// afterwards has no deadline at all (a server that sends its headers and then stalls holds the
/// reader for ever; the client's `read` timeout is an idle timeout, which a trickling body
/// evades). So each scrape and each Prometheus query races its whole exchange against a timer
/// here; the loser is cancelled, which AsyncHTTPClient turns into closing the connection, both
/// while waiting for the head and while iterating the body.
enum OverallDeadline {
    /// Thrown when the operation did not finish within its limit.
    struct Exceeded: Error, CustomStringConvertible {
        var limit: Duration
        var description: String { "timed out after \(OverallDeadline.format(limit))" }
    }

    /// The value of `operation`, or ``Exceeded`` once `limit` has passed (the operation is then
    /// cancelled and awaited: it must honour cancellation, as AsyncHTTPClient's requests do).
    static func run<T: Sendable>(within limit: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await operation() }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw Exceeded(limit: limit) }
            return value
        }
    }

    /// The deadline to give `execute` inside an overall `limit`: nine tenths of it. AsyncHTTPClient
    /// retries a refused connection until its own deadline and then reports the connection's
    /// error; expiring first, it names that error (connection refused, say) instead of the
    /// overall deadline's bare timeout.
    static func headDeadline(within limit: Duration) -> Duration {
        limit * 0.9
    }

    /// `2 s`, `0.8 s`: a duration in seconds as messages show it.
    static func format(_ duration: Duration) -> String {
        let millis = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if millis % 1000 == 0 { return "\(millis / 1000) s" }
        let text = String(Double(millis) / 1000)
        return "\(text) s"
    }
}

/// Reads the pools' pods in the background, off the reconcile workers, and keeps each pool's
/// latest reading (a ``MetricsSampler/Snapshot``) for the next reconcile.
///
/// A reconcile never waits on the network for metrics: it hands the sampler the pool's current
/// targets (``want(_:targets:modelName:)``) and reads back the latest snapshot. One task per
/// pool reads its targets once per interval (each read bounded by the source's overall
/// deadline), stores the snapshot and calls ``setListener(_:)``'s function, so that the pool is
/// reconciled again with the fresh sample (level-triggered reconciles then see it).
///
/// A pool's task ends when the pool is forgotten (``forget(_:)``, on deletion) or when no
/// reconcile asked for its pool for ``idleLimit`` (its tiers left `Operator` mode); the next
/// ``want(_:targets:modelName:)`` starts it again.
final class MetricsSampler: Sendable {
    /// One reading of a pool's targets.
    struct Snapshot: Sendable {
        /// Per pod name.
        var readings: [String: PodReading]
        /// When the read started.
        var takenAt: ContinuousClock.Instant
        /// When the read completed (at most the source's overall deadline after ``takenAt``).
        var completedAt: ContinuousClock.Instant
        /// Counts the pool's snapshots from 1, so a reconcile knows whether it has seen this one.
        var sequence: Int
    }

    private struct Entry {
        /// Tells apart the entries of a pool forgotten and asked for again.
        var id: Int
        var targets: [ScrapeTarget]
        var modelName: String?
        var wantedAt: ContinuousClock.Instant
        var snapshot: Snapshot?
        var task: Task<Void, Never>?
    }

    private struct State {
        var entries: [ObjectKey: Entry] = [:]
        var nextID = 0
        var stopped = false
    }

    let source: any SignalSource
    /// Time between the starts of two reads of one pool.
    let interval: Duration
    /// A pool not asked for this long stops being read.
    let idleLimit: Duration
    private let state = Mutex(State())
    /// The function told of each new snapshot, in a struct: a bare closure read out of a `Mutex`
    /// is wrapped in another reabstraction thunk pair by every read (swiftlang/swift#91348), so
    /// every snapshot of every pool deepened the chain the next one walked. `make soak` found it:
    /// the heap grew by several MiB a minute (the chain's task-allocator frames) with the same
    /// pools alive, and the operator fell behind.
    struct Listener: Sendable { let notify: @Sendable (ObjectKey) async -> Void }
    private let listener = Mutex<Listener?>(nil)

    init(source: any SignalSource, interval: Duration, idleLimit: Duration) {
        self.source = source
        self.interval = interval
        self.idleLimit = idleLimit
    }

    /// Sets the function told of each new snapshot (e.g. one that enqueues the pool).
    func setListener(_ listener: @escaping @Sendable (ObjectKey) async -> Void) {
        self.listener.withLock { $0 = Listener(notify: listener) }
    }

    /// Notes the pool's current targets, starts its reads if they do not run, and returns its
    /// latest snapshot (nil before the first read completed). Never waits on I/O.
    func want(_ key: ObjectKey, targets: [ScrapeTarget], modelName: String?) -> Snapshot? {
        let now = ContinuousClock.now
        var start: Int?
        let snapshot = state.withLock { state -> Snapshot? in
            guard !state.stopped else { return nil }
            if var entry = state.entries[key] {
                entry.targets = targets
                entry.modelName = modelName
                entry.wantedAt = now
                state.entries[key] = entry
                return entry.snapshot
            }
            state.nextID += 1
            state.entries[key] = Entry(id: state.nextID, targets: targets, modelName: modelName, wantedAt: now)
            start = state.nextID
            return nil
        }
        if let id = start {
            let task = Task { [self] in await loop(key, id: id) }
            let orphan = state.withLock { state -> Bool in
                guard state.entries[key]?.id == id else { return true }
                state.entries[key]?.task = task
                return false
            }
            if orphan { task.cancel() }
        }
        return snapshot
    }

    /// Stops reading the pool and drops its snapshot.
    func forget(_ key: ObjectKey) {
        state.withLock { $0.entries.removeValue(forKey: key) }?.task?.cancel()
    }

    /// Stops every pool's reads; ``want(_:targets:modelName:)`` starts none after this.
    func stop() {
        let tasks = state.withLock { state -> [Task<Void, Never>] in
            state.stopped = true
            defer { state.entries.removeAll() }
            return state.entries.values.compactMap(\.task)
        }
        for task in tasks { task.cancel() }
    }

    /// The listener ``setListener(_:)`` set, if any.
    func currentListener() -> Listener? {
        listener.withLock { $0 }
    }

    /// Pools being read now.
    var sampledPools: Set<ObjectKey> { state.withLock { Set($0.entries.keys) } }

    private func loop(_ key: ObjectKey, id: Int) async {
        var sequence = 0
        while !Task.isCancelled {
            let started = ContinuousClock.now
            let wanted = state.withLock { state -> (targets: [ScrapeTarget], modelName: String?)? in
                guard let entry = state.entries[key], entry.id == id else { return nil }
                if started - entry.wantedAt > idleLimit {
                    state.entries.removeValue(forKey: key)
                    return nil
                }
                return (entry.targets, entry.modelName)
            }
            guard let wanted else { return }
            let readings = wanted.targets.isEmpty ? [:] : await source.read(wanted.targets, modelName: wanted.modelName)
            guard !Task.isCancelled else { return }
            sequence += 1
            let snapshot = Snapshot(readings: readings, takenAt: started, completedAt: .now, sequence: sequence)
            let stored = state.withLock { state -> Bool in
                guard state.entries[key]?.id == id else { return false }
                state.entries[key]?.snapshot = snapshot
                return true
            }
            guard stored else { return }
            if let listener = currentListener() { await listener.notify(key) }
            do {
                try await Task.sleep(until: started + interval, clock: .continuous)
            } catch {
                return
            }
        }
    }
}
