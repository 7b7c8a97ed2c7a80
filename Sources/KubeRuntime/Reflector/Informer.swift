import KubeClient
import KubeCore
import Logging
import Synchronization

/// Keeps a ``Store`` equal to the API server's view of one kind: lists, then watches, and
/// recovers from every failure on its own (see ``ReflectorState`` for the rules).
///
/// Subscribers are called synchronously, in order, for every change the store applies; they
/// must be quick (controllers only enqueue keys).
public final class Informer<Object: KubernetesObject>: Sendable {
    /// The cache this informer fills.
    public let store = Store<Object>()
    let resources: ResourceClient<Object>
    let listOptions: ListOptions
    let watchOptions: WatchOptions
    let backoff: Backoff
    let logger: Logger
    private let subscribers = Mutex<[@Sendable (StoreChange<Object>) -> Void]>([])
    private let relists = Atomic<Int>(0)

    /// - Parameters:
    ///   - resources: the kind, bound to a namespace or to all namespaces.
    ///   - listOptions: label and field selectors (paging is the informer's own).
    public init(
        _ resources: ResourceClient<Object>, listOptions: ListOptions = ListOptions(),
        watchOptions: WatchOptions = WatchOptions(), backoff: Backoff = .reflector,
        logger: Logger = Logger(label: "kube.informer")
    ) {
        self.resources = resources
        self.listOptions = listOptions
        self.watchOptions = watchOptions
        self.backoff = backoff
        var logger = logger
        logger[metadataKey: "resource"] = "\(resources.resource)"
        self.logger = logger
    }

    /// Adds a handler for every change from now on.
    public func subscribe(_ handler: @escaping @Sendable (StoreChange<Object>) -> Void) {
        subscribers.withLock { $0.append(handler) }
    }

    /// Whether the first list has landed in the store.
    public var hasSynced: Bool { store.hasSynced }

    /// How many lists this informer has made (1 + re-lists after 410 or failures).
    public var listCount: Int { relists.load(ordering: .relaxed) }

    /// Suspends until the store has synced (or the task is cancelled).
    public func waitUntilSynced() async throws {
        while !hasSynced {
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    private func dispatch(_ change: StoreChange<Object>) {
        for handler in subscribers.withLock({ $0 }) { handler(change) }
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
                    let list = try await resources.listAll(options)
                    relists.add(1, ordering: .relaxed)
                    let changes = store.replace(with: list.items)
                    store.markSynced()
                    for change in changes { dispatch(change) }
                    logger.debug("listed", metadata: ["count": "\(list.items.count)", "resourceVersion": "\(list.metadata.resourceVersion ?? "")"])
                    action = state.listed(resourceVersion: list.metadata.resourceVersion ?? "0")
                } catch {
                    if Task.isCancelled { return }
                    action = state.listFailed(Self.classify(error), now: .now - origin)
                    logger.warning("list failed: \(error)", metadata: ["retryIn": "\(action.delay)"])
                }
            case .watch(let version):
                var options = listOptions
                options.resourceVersion = version
                do {
                    for try await event in resources.watch(options, watch: watchOptions) {
                        if let change = store.apply(event) { dispatch(change) }
                        state.observed(resourceVersion: event.resourceVersion)
                    }
                    action = state.watchEnded()
                } catch {
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
