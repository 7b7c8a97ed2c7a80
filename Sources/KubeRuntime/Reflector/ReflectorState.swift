/// The list-then-watch loop of an informer as a pure state machine, stepped by one function
/// per input (kube-rs' watcher, client-go's ListAndWatch).
///
/// - A successful list replaces the cache and starts a watch from the list's resourceVersion.
/// - Every event, bookmarks included, advances the resourceVersion.
/// - A watch that simply ends (the server's timeout) is resumed at once from that version.
/// - A watch the watchdog cancelled (no event or bookmark for the idle timeout: the connection
///   may be half-open) is also resumed at once from that version, never by a list.
/// - `410 Gone` (the version was compacted away) forces a fresh list at once.
/// - Any other failure waits with ``Backoff/reflector`` (800 ms → 30 s, ×2, jitter, reset after
///   2 min of health) and retries the same step: a failed list lists again, a failed watch
///   watches again from the last version.
public struct ReflectorState: Sendable, Equatable {
    /// What the I/O shell must do next.
    public enum Action: Sendable, Equatable {
        /// List everything (paged) and replace the cache.
        case list
        /// Watch from this resourceVersion.
        case watch(resourceVersion: String)
        /// Sleep, then perform `then`.
        indirect case wait(Duration, then: Action)
    }

    /// Why a list or watch failed, as far as the state machine cares.
    public enum Failure: Sendable, Equatable {
        /// `410 Gone` / `Expired`: the resourceVersion is too old.
        case gone
        /// Anything else: connection refused, 5xx, timeouts, decoding errors.
        case other
    }

    /// The resourceVersion the cache reflects; `nil` before the first list.
    public private(set) var resourceVersion: String?
    /// Whether a list has completed at least once (client-go's `HasSynced`).
    public private(set) var hasSynced = false
    /// Consecutive failures since the last success (for logs and metrics).
    public private(set) var consecutiveFailures = 0
    /// Watches the watchdog cancelled for want of any event or bookmark.
    public private(set) var watchdogRestarts = 0
    private var backoff: Backoff

    public init(backoff: Backoff = .reflector) {
        self.backoff = backoff
    }

    /// The first action.
    public func start() -> Action { .list }

    /// A list completed with the snapshot's resourceVersion.
    public mutating func listed(resourceVersion: String) -> Action {
        self.resourceVersion = resourceVersion
        hasSynced = true
        consecutiveFailures = 0
        return .watch(resourceVersion: resourceVersion)
    }

    /// A watch event (or bookmark) arrived carrying `resourceVersion`.
    public mutating func observed(resourceVersion: String?) {
        if let resourceVersion, !resourceVersion.isEmpty { self.resourceVersion = resourceVersion }
        consecutiveFailures = 0
    }

    /// The watch stream ended normally: resume from the last version.
    public mutating func watchEnded() -> Action {
        guard let resourceVersion else { return .list }
        return .watch(resourceVersion: resourceVersion)
    }

    /// The watchdog cancelled a watch that received nothing for its idle timeout: resume
    /// from the last version. Not a failure (no backoff): a quiet resource is healthy, and
    /// re-watching from a known version costs one request, not a list.
    public mutating func watchIdle() -> Action {
        watchdogRestarts += 1
        guard let resourceVersion else { return .list }
        return .watch(resourceVersion: resourceVersion)
    }

    /// The list failed.
    public mutating func listFailed(_ failure: Failure, now: Duration, random: Double = .random(in: 0..<1)) -> Action {
        consecutiveFailures += 1
        return .wait(backoff.next(now: now, random: random), then: .list)
    }

    /// The watch failed.
    public mutating func watchFailed(_ failure: Failure, now: Duration, random: Double = .random(in: 0..<1)) -> Action {
        consecutiveFailures += 1
        switch failure {
        case .gone:
            resourceVersion = nil
            return .list
        case .other:
            let delay = backoff.next(now: now, random: random)
            guard let resourceVersion else { return .wait(delay, then: .list) }
            return .wait(delay, then: .watch(resourceVersion: resourceVersion))
        }
    }
}
