import KubeClient
import KubeCore
import Logging
import Synchronization

/// Keeps a ``Store`` equal to the API server's view of one kind: lists, then watches, and
/// recovers from every failure on its own (see ``ReflectorState`` for the rules).
///
/// Subscribers are called synchronously, in order, for every change the store applies; they
/// must be quick (controllers only enqueue keys).
///
/// **Undecodable objects.** Lists and watch events are decoded object by object. An object the
/// Swift type cannot decode (the schema accepted a value the type refuses) is left out of the
/// store, logged with its name, uid and failing field, and handed to the
/// ``onUndecodable(_:)`` handlers; the informer goes on and the watch's resourceVersion still
/// advances past it. If an object that decoded before turns undecodable (a MODIFIED event),
/// its old copy is *removed* from the store and subscribers see a delete: the cache must
/// never present a version the cluster no longer holds as current, and a reconcile of the
/// key then finds nothing and changes nothing (the object still exists in the API server, so
/// garbage collection leaves its children alone). A later decodable version adds it back.
///
/// **Watchdog.** A watch that delivers neither an event nor a bookmark for
/// ``watchIdleTimeout`` is cancelled and resumed from the last resourceVersion (not a
/// re-list), so a half-open connection cannot keep the cache stale.
public final class Informer<Object: KubernetesObject>: Sendable {
    /// How long a watch may stay silent before the watchdog restarts it, by default.
    ///
    /// The API server's watch cache sends a bookmark about once a minute to watchers that ask
    /// for them and set a timeout (`bookmarkFrequency` in k8s.io/apiserver's cacher, 1.17+), so a
    /// healthy watch is never silent for 90 s once its kind has seen any change since the API
    /// server started; a quieter one is resumed from the same version, which costs one watch
    /// request, no list. It stays below the watch's own server-side timeout
    /// (``WatchOptions/timeoutSeconds``, 290 s; client-go's reflector asks for a random
    /// 5–10 min, `minWatchTimeout` = 5 min in reflector.go), so a half-open connection is found
    /// well before that timeout would have ended the watch.
    public static var defaultWatchIdleTimeout: Duration { .seconds(90) }

    /// The cache this informer fills.
    public let store = Store<Object>()
    let resources: ResourceClient<Object>
    let listOptions: ListOptions
    let watchOptions: WatchOptions
    let backoff: Backoff
    let logger: Logger
    /// How long a watch may stay silent before it is cancelled and resumed.
    public let watchIdleTimeout: Duration
    private let subscribers = Mutex<[@Sendable (StoreChange<Object>) -> Void]>([])
    private let undecodableHandlers = Mutex<[@Sendable (UndecodableObject) -> Void]>([])
    private let undecodable = Mutex<[ObjectKey: UndecodableObject]>([:])
    private let metrics = Mutex<RuntimeMetrics?>(nil)
    private let relists = Atomic<Int>(0)
    private let watchdogs = Atomic<Int>(0)
    /// When the API server last answered this informer: a list, an accepted watch, an event
    /// or a bookmark (nil: never yet).
    private let lastContact = Mutex<ContinuousClock.Instant?>(nil)
    private let created = ContinuousClock.now

    /// - Parameters:
    ///   - resources: the kind, bound to a namespace or to all namespaces.
    ///   - listOptions: label and field selectors (paging is the informer's own).
    ///   - watchIdleTimeout: how long a watch may receive nothing before it is resumed; `nil`
    ///     takes ``defaultWatchIdleTimeout``, or the client's
    ///     `ClientConfiguration.watchIdleTimeout` when that is shorter.
    public init(
        _ resources: ResourceClient<Object>, listOptions: ListOptions = ListOptions(),
        watchOptions: WatchOptions = WatchOptions(), backoff: Backoff = .reflector, watchIdleTimeout: Duration? = nil,
        logger: Logger = Logger(label: "kube.informer")
    ) {
        self.resources = resources
        self.listOptions = listOptions
        var watchOptions = watchOptions
        // Bookmarks are what keeps a quiet, healthy watch from looking idle.
        watchOptions.allowBookmarks = true
        self.watchOptions = watchOptions
        self.backoff = backoff
        self.watchIdleTimeout = max(
            .milliseconds(100),
            watchIdleTimeout ?? min(Self.defaultWatchIdleTimeout, resources.client.configuration.watchIdleTimeout))
        var logger = logger
        logger[metadataKey: "resource"] = "\(resources.resource)"
        self.logger = logger
    }

    /// How long since the API server last answered this informer (a list, an accepted watch,
    /// an event or a bookmark), or since the informer was created if it never has: what
    /// ``LivenessPolicy/maxInformerSilence`` bounds.
    ///
    /// An accepted watch counts because a 1.20 API server sends no bookmark for a kind that
    /// has not changed since it started (the cacher dispatches bookmarks only after its first
    /// event), so a healthy informer of a quiet kind sees nothing but re-opened watches.
    public func silence(at now: ContinuousClock.Instant = .now) -> Duration {
        now - (lastContact.withLock { $0 } ?? created)
    }

    private func contact() {
        lastContact.withLock { $0 = .now }
    }

    /// Adds a handler for every change from now on.
    public func subscribe(_ handler: @escaping @Sendable (StoreChange<Object>) -> Void) {
        subscribers.withLock { $0.append(handler) }
    }

    /// Adds a handler called for every object the informer had to skip because it could not be
    /// decoded: once per list that contains it and once per watch event that carries it. Called
    /// synchronously from the informer's task: hand slow work (recording an Event) to a task.
    public func onUndecodable(_ handler: @escaping @Sendable (UndecodableObject) -> Void) {
        undecodableHandlers.withLock { $0.append(handler) }
    }

    /// Reports this informer's undecodable objects and watchdog restarts in `metrics`
    /// (`tandem_undecodable_objects`, `tandem_informer_watchdog_restarts_total`, by resource).
    public func report(to metrics: RuntimeMetrics) {
        self.metrics.withLock { $0 = metrics }
        metrics.undecodableObjects(resource: resourceLabel, undecodableCount)
        metrics.registerWatchdog(resource: resourceLabel)
    }

    /// Whether the first list has landed in the store.
    public var hasSynced: Bool { store.hasSynced }

    /// How many lists this informer has made (1 + re-lists after 410 or failures).
    public var listCount: Int { relists.load(ordering: .relaxed) }

    /// How many watches the watchdog cancelled and resumed because nothing arrived.
    public var watchdogRestarts: Int { watchdogs.load(ordering: .relaxed) }

    /// The objects currently left out of the store because they cannot be decoded.
    public var undecodableObjects: [UndecodableObject] {
        undecodable.withLock { map in map.keys.sorted().compactMap { map[$0] } }
    }

    /// How many objects are currently left out of the store because they cannot be decoded.
    public var undecodableCount: Int { undecodable.withLock { $0.count } }

    var resourceLabel: String { "\(resources.resource)" }

    /// Suspends until the store has synced (or the task is cancelled).
    public func waitUntilSynced() async throws {
        while !hasSynced {
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private func dispatch(_ change: StoreChange<Object>) {
        for handler in subscribers.withLock({ $0 }) { handler(change) }
    }

    private func reportUndecodable(_ object: UndecodableObject, event: WatchEventType?) {
        logger.error(
            "skipping an object that cannot be decoded: fix or delete it (\(object.description))",
            metadata: [
                "namespace": "\(object.namespace ?? "")", "name": "\(object.name ?? "")", "uid": "\(object.uid ?? "")",
                "field": "\(object.fieldPath)", "event": "\(event?.rawValue ?? "LIST")",
            ])
        for handler in undecodableHandlers.withLock({ $0 }) { handler(object) }
    }

    private func publishUndecodableCount() {
        guard let metrics = metrics.withLock({ $0 }) else { return }
        metrics.undecodableObjects(resource: resourceLabel, undecodableCount)
    }

    /// Applies one watch element to the store; returns nothing, dispatches what changed.
    private func handle(_ update: WatchUpdate<Object>) {
        switch update {
        case .event(let event):
            if let object = event.object {
                let key = ObjectKey(object)
                let cleared = undecodable.withLock { $0.removeValue(forKey: key) != nil }
                if cleared { publishUndecodableCount() }
            }
            if let change = store.apply(event) { dispatch(change) }
        case .undecodable(let type, let object):
            let key = ObjectKey(namespace: object.namespace, name: object.name ?? "")
            if type == .deleted {
                undecodable.withLock { _ = $0.removeValue(forKey: key) }
            } else {
                undecodable.withLock { $0[key] = object }
                reportUndecodable(object, event: type)
            }
            publishUndecodableCount()
            // The cached copy (if any) is no longer what the cluster holds: drop it.
            if let change = store.remove(key: key) { dispatch(change) }
        }
    }

    /// Runs until the task is cancelled. Never throws: failures are retried with backoff.
    public func run() async {
        let origin = ContinuousClock.now
        var state = ReflectorState(backoff: backoff)
        var action = state.start()
        while !Task.isCancelled {
            switch action {
            case .list:
                do {
                    var options = listOptions
                    options.resourceVersion = nil
                    let result = try await resources.listAllSkippingUndecodable(options)
                    let list = result.list
                    relists.add(1, ordering: .relaxed)
                    contact()
                    var skipped: [ObjectKey: UndecodableObject] = [:]
                    for object in result.undecodable {
                        skipped[ObjectKey(namespace: object.namespace, name: object.name ?? "")] = object
                    }
                    undecodable.withLock { $0 = skipped }
                    publishUndecodableCount()
                    for object in result.undecodable { reportUndecodable(object, event: nil) }
                    let changes = store.replace(with: list.items)
                    store.markSynced()
                    for change in changes { dispatch(change) }
                    logger.debug("listed", metadata: [
                        "count": "\(list.items.count)", "undecodable": "\(result.undecodable.count)",
                        "resourceVersion": "\(list.metadata.resourceVersion ?? "")",
                    ])
                    action = state.listed(resourceVersion: list.metadata.resourceVersion ?? "0")
                } catch {
                    if Task.isCancelled { return }
                    action = state.listFailed(Self.classify(error), now: .now - origin)
                    logger.warning("list failed: \(error)", metadata: ["retryIn": "\(action.delay)"])
                }
            case .watch(let version):
                let outcome = await watch(from: version, origin: origin)
                if let last = outcome.lastResourceVersion { state.observed(resourceVersion: last) }
                switch outcome.end {
                case .stopped:
                    return
                case .ended:
                    action = state.watchEnded()
                case .idle:
                    action = state.watchIdle()
                    watchdogs.add(1, ordering: .relaxed)
                    metrics.withLock { $0 }?.watchdogRestarted(resource: resourceLabel)
                    logger.info(
                        "watch silent for \(watchIdleTimeout) (no event, no bookmark): resuming it",
                        metadata: ["resourceVersion": "\(outcome.lastResourceVersion ?? version)"])
                case .failed(let error):
                    if Task.isCancelled { return }
                    let failure = Self.classify(error)
                    action = state.watchFailed(failure, now: .now - origin)
                    if failure == .gone {
                        logger.info("watch expired (410), listing again", metadata: ["resourceVersion": "\(version)"])
                    } else {
                        logger.warning("watch failed: \(error)", metadata: ["retryIn": "\(action.delay)"])
                    }
                }
            case .wait(let delay, let then):
                do {
                    try await Task.sleep(for: delay)
                } catch {
                    return
                }
                action = then
            }
        }
    }

    /// How one watch request ended.
    struct WatchOutcome: Sendable {
        enum End: Sendable {
            /// The server closed the stream (its timeout).
            case ended
            /// The watchdog cancelled it: nothing arrived for the idle timeout.
            case idle
            case failed(any Error)
            /// The informer's task was cancelled.
            case stopped
        }
        var lastResourceVersion: String?
        var end: End
    }

    private enum Finished: Sendable {
        case watch(WatchOutcome)
        case silent
        case stopped
    }

    /// Runs one watch beside its watchdog; whichever finishes first ends both.
    private func watch(from version: String, origin: ContinuousClock.Instant) async -> WatchOutcome {
        var options = listOptions
        options.resourceVersion = version
        let generation = resources.client.watchConnectionGeneration
        let stream = resources.watchSkippingUndecodable(options, watch: watchOptions) { [weak self] in self?.contact() }
        let watchdog = WatchdogClock(WatchWatchdog(idleTimeout: watchIdleTimeout, startedAt: .now - origin))
        return await withTaskGroup(of: Finished.self) { group in
            group.addTask {
                var last: String?
                do {
                    for try await update in stream {
                        watchdog.state.withLock { $0.activity(at: .now - origin) }
                        self.contact()
                        self.handle(update)
                        if let version = update.resourceVersion, !version.isEmpty { last = version }
                    }
                    return .watch(WatchOutcome(lastResourceVersion: last, end: Task.isCancelled ? .stopped : .ended))
                } catch {
                    return .watch(WatchOutcome(lastResourceVersion: last, end: Task.isCancelled ? .stopped : .failed(error)))
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    let deadline = watchdog.state.withLock { $0 }
                    if deadline.isExpired(at: .now - origin) { return .silent }
                    do {
                        try await Task.sleep(until: origin + deadline.deadline, tolerance: .milliseconds(50))
                    } catch {
                        return .stopped
                    }
                }
                return .stopped
            }
            let first = await group.next() ?? .stopped
            group.cancelAll()
            switch first {
            case .watch(let outcome):
                return outcome
            case .stopped:
                return WatchOutcome(lastResourceVersion: nil, end: .stopped)
            case .silent:
                // Wait for the cancelled watch to let go of its stream and say how far it got.
                var last: String?
                while let rest = await group.next() {
                    if case .watch(let outcome) = rest { last = outcome.lastResourceVersion }
                }
                if Task.isCancelled { return WatchOutcome(lastResourceVersion: last, end: .stopped) }
                // The connection under a silent watch may be half-open: the resumed watch must
                // not go out as one more stream on it.
                resources.client.replaceWatchConnections(ifGeneration: generation)
                return WatchOutcome(lastResourceVersion: last, end: .idle)
            }
        }
    }

    /// The watchdog's state, shared by the watch and the timer (a class: a `Mutex` cannot be
    /// captured by the tasks' closures).
    private final class WatchdogClock: Sendable {
        let state: Mutex<WatchWatchdog>
        init(_ watchdog: WatchWatchdog) { state = Mutex(watchdog) }
    }

    static func classify(_ error: any Error) -> ReflectorState.Failure {
        if let error = error as? APIError, error.reason == .gone { return .gone }
        return .other
    }
}

extension ReflectorState.Action {
    var delay: Duration {
        if case .wait(let delay, _) = self { return delay }
        return .zero
    }
}
