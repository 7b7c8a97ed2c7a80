import Foundation
import KubeClient
import KubeCore
import Logging
import Synchronization

/// What a reconcile asks for next.
public enum ReconcileAction: Sendable, Equatable {
    /// Reconcile this object again after `after`, even if nothing changes (polling).
    case requeue(after: Duration)
    /// Nothing to do until the object, an owned child or a watched object changes.
    case awaitChange
}

/// Passed to every reconcile: its logger (with the object and a reconcile id in the metadata).
///
/// It deliberately does not say *why* the reconcile runs: reconciles are level-triggered.
public struct ReconcileContext: Sendable {
    public var key: ObjectKey
    /// A short random id that ties together the log lines of one reconcile.
    public var reconcileID: String
    public var logger: Logger
}

/// Tuning of a ``Controller``.
public struct ControllerConfiguration: Sendable {
    /// Reconciles run at once, never two for one object. controller-runtime's
    /// `MaxConcurrentReconciles` defaults to 1.
    public var workers: Int
    /// Every cached object is reconciled again this often, to repair drift no event reported.
    public var resyncPeriod: Duration
    /// How long ``Controller/runWorkers(reconcile:)`` lets running reconciles finish after a
    /// shutdown request.
    public var shutdownGracePeriod: Duration

    /// Skip updates of the primary that change neither its generation nor its metadata (status
    /// writes, including the controller's own). Off by default, as in controller-runtime, where
    /// this is the opt-in `GenerationChangedPredicate`.
    public var skipStatusOnlyUpdates: Bool

    public init(
        workers: Int = 1, resyncPeriod: Duration = .seconds(3600), shutdownGracePeriod: Duration = .seconds(30),
        skipStatusOnlyUpdates: Bool = false
    ) {
        self.workers = max(1, workers)
        self.skipStatusOnlyUpdates = skipStatusOnlyUpdates
        self.resyncPeriod = resyncPeriod
        self.shutdownGracePeriod = shutdownGracePeriod
    }
}

/// Runs a reconcile function for every object of a primary kind whenever it, an object it owns,
/// or a watched object mapped to it changes (kube-rs' `Controller`, controller-runtime's builder).
///
/// Build it, add ``owns(_:listOptions:)`` and ``watches(_:listOptions:map:)`` sources, then
/// ``run(reconcile:)`` (or ``runInformers()`` and, while leading, ``runWorkers(reconcile:)``).
///
/// Guarantees:
/// - One reconcile at a time per object; changes during a reconcile cause exactly one more.
/// - A reconcile that throws is retried with per-object exponential backoff (5 ms → 1000 s)
///   under a 10 qps / burst 100 bucket; a success resets the backoff.
/// - Objects that are gone from the cache are not reconciled (their children are garbage
///   collected through owner references; use finalizers for cleanup outside the cluster).
///   Instead, the functions given to ``onDeleted(_:)`` are called with the key, from the worker
///   that took it and under the same one-at-a-time guarantee per key: the place to drop what
///   the process itself keeps per object (caches, background tasks, metric series).
///   controller-runtime reconciles such a key and lets the reconciler find it gone; here the
///   vanished object gets this hook instead.
public final class Controller<Primary: KubernetesResource>: Sendable {
    public let name: String
    /// The cache of primary objects.
    public let primary: Informer<Primary>
    public let configuration: ControllerConfiguration
    let queue: WorkQueue<ObjectKey>
    let metrics: RuntimeMetrics?
    let logger: Logger
    private let sources = Mutex<[any InformerSource]>([])
    private let deletionHandlers = Mutex<[@Sendable (ObjectKey) async -> Void]>([])
    private let activeWorkers = Atomic<Int>(0)
    private let inFlight = Mutex<[String: ContinuousClock.Instant]>([:])

    /// How long the oldest reconcile still running has been running (`nil`: none runs), for
    /// liveness (``LivenessPolicy``).
    public var oldestReconcileAge: Duration? {
        let now = ContinuousClock.now
        return inFlight.withLock { $0.values.min() }.map { now - $0 }
    }

    /// How long since the API server last answered each of this controller's informers (a
    /// list, an accepted watch, an event or a bookmark), by resource, for liveness
    /// (``LivenessPolicy``).
    public var informerSilence: [String: Duration] {
        let now = ContinuousClock.now
        var silences: [String: Duration] = [:]
        for informer in sources.withLock({ $0 }) {
            silences[informer.resourceLabel] = max(silences[informer.resourceLabel] ?? .zero, informer.silence(at: now))
        }
        return silences
    }

    /// - Parameters:
    ///   - name: the controller's name in logs and metrics.
    ///   - resources: the primary kind, bound to a namespace or cluster-wide.
    public init(
        name: String, _ resources: ResourceClient<Primary>, listOptions: ListOptions = ListOptions(),
        configuration: ControllerConfiguration = ControllerConfiguration(), metrics: RuntimeMetrics? = nil,
        logger: Logger = Logger(label: "kube.controller")
    ) {
        self.name = name
        self.configuration = configuration
        self.metrics = metrics
        var logger = logger
        logger[metadataKey: "controller"] = "\(name)"
        self.logger = logger
        primary = Informer(resources, listOptions: listOptions, logger: logger)
        queue = WorkQueue(name: name, observer: metrics)
        metrics?.registerController(name)
        let queue = self.queue
        primary.subscribe { change in
            let key = ObjectKey(change.object)
            if configuration.skipStatusOnlyUpdates, case .updated(let old, let new) = change,
                !Self.worthReconciling(old: old, new: new)
            {
                return
            }
            Task { await queue.add(key) }
        }
        sources.withLock { $0.append(primary) }
    }

    /// Status-only updates and resyncs that changed nothing do not need a reconcile: only a new
    /// generation, new metadata (labels, annotations, finalizers, deletion) or a kind without
    /// generation tracking does.
    static func worthReconciling(old: Primary, new: Primary) -> Bool {
        if old.metadata.resourceVersion == new.metadata.resourceVersion { return false }
        guard let oldGeneration = old.metadata.generation, let newGeneration = new.metadata.generation else { return true }
        return oldGeneration != newGeneration || old.metadata.labels != new.metadata.labels
            || old.metadata.annotations != new.metadata.annotations || old.metadata.finalizers != new.metadata.finalizers
            || old.metadata.deletionTimestamp != new.metadata.deletionTimestamp
            || old.metadata.ownerReferences != new.metadata.ownerReferences
    }

    /// Watches `Child` objects and reconciles the primary object that controls each one (its
    /// owner reference with `controller: true` of the primary's kind).
    ///
    /// - Returns: the children's cache, for reconciles to read.
    @discardableResult
    public func owns<Child: KubernetesObject>(_ resources: ResourceClient<Child>, listOptions: ListOptions = ListOptions())
        -> Store<Child>
    {
        let kind = Primary.apiResource.kind
        let group = Primary.apiResource.group
        return watches(resources, listOptions: listOptions) { child in
            guard let owner = child.metadata.ownerReferences?.first(where: { $0.controller == true }),
                owner.kind == kind, GroupVersion(apiVersion: owner.apiVersion).group == group
            else { return [] }
            return [ObjectKey(namespace: child.metadata.namespace, name: owner.name)]
        }
    }

    /// Watches `Other` objects and reconciles the primary objects `map` names for each change
    /// (for an update, the keys of both the old and the new state).
    ///
    /// - Returns: the watched kind's cache.
    @discardableResult
    public func watches<Other: KubernetesObject>(
        _ resources: ResourceClient<Other>, listOptions: ListOptions = ListOptions(),
        map: @escaping @Sendable (Other) -> [ObjectKey]
    ) -> Store<Other> {
        let informer = Informer(resources, listOptions: listOptions, logger: logger)
        let queue = self.queue
        informer.subscribe { change in
            var keys = Set(map(change.object))
            if case .updated(let old, _) = change { keys.formUnion(map(old)) }
            guard !keys.isEmpty else { return }
            Task { for key in keys { await queue.add(key) } }
        }
        sources.withLock { $0.append(informer) }
        return informer.store
    }

    /// Calls `handler` with each key a worker takes whose object is not in the primary cache
    /// (deleted, or never there: a watched object may map to a name no primary has).
    ///
    /// Contract: the handler runs on a worker, never concurrently with a reconcile of the same
    /// key; it may be called more than once for one deletion (every event mapped to a vanished
    /// key brings one) and for keys never reconciled, so it must be idempotent and cheap. It
    /// cannot fail: what it drops is the process' own state. A primary deleted while no worker
    /// runs (a follower) gets the call once the workers start and an event names the key, or
    /// never (a new leader has nothing to forget).
    public func onDeleted(_ handler: @escaping @Sendable (ObjectKey) async -> Void) {
        deletionHandlers.withLock { $0.append(handler) }
    }

    /// Whether every cache this controller reads has completed its first list.
    public var hasSynced: Bool {
        sources.withLock { $0.allSatisfy(\.hasSynced) }
    }

    /// Asks for a reconcile of `key` (for example from an external trigger).
    public func enqueue(_ key: ObjectKey, after delay: Duration = .zero) async {
        if delay > .zero { await queue.add(key, after: delay) } else { await queue.add(key) }
    }

    /// Runs the caches and the workers until the task is cancelled or ``shutDown()`` is called.
    public func run(reconcile: @escaping @Sendable (Primary, ReconcileContext) async throws -> ReconcileAction) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.runInformers() }
            group.addTask { await self.runWorkers(reconcile: reconcile) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Runs every cache this controller reads, and the periodic resync, until cancelled.
    public func runInformers() async {
        let informers = sources.withLock { $0 }
        await withTaskGroup(of: Void.self) { group in
            for informer in informers {
                group.addTask { await informer.run() }
            }
            group.addTask { await self.resyncLoop() }
        }
    }

    private func resyncLoop() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: configuration.resyncPeriod)
            } catch {
                return
            }
            for key in primary.store.keys() { await queue.add(key) }
        }
    }

    /// Runs `configuration.workers` workers until ``shutDown()`` or cancellation, waiting for the
    /// caches to sync first. On shutdown, running reconciles get
    /// ``ControllerConfiguration/shutdownGracePeriod`` to finish.
    public func runWorkers(reconcile: @escaping @Sendable (Primary, ReconcileContext) async throws -> ReconcileAction) async {
        while !hasSynced {
            do {
                try await Task.sleep(for: .milliseconds(20))
            } catch {
                return
            }
        }
        logger.info("caches synced, starting \(configuration.workers) worker(s)")
        await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<configuration.workers {
                    group.addTask { await self.worker(reconcile) }
                }
            }
        } onCancel: {
            let queue = self.queue
            Task { await queue.shutDown() }
        }
        logger.info("workers stopped")
    }

    /// Stops handing out work; running reconciles finish.
    public func shutDown() async {
        await queue.shutDown()
    }

    private func worker(_ reconcile: @escaping @Sendable (Primary, ReconcileContext) async throws -> ReconcileAction) async {
        while let key = await queue.next() {
            guard let object = primary.store.get(key) else {
                for handler in deletionHandlers.withLock({ $0 }) { await handler(key) }
                await queue.forget(key)
                await queue.done(key)
                continue
            }
            let id = String(UInt32.random(in: 0...UInt32.max), radix: 16)
            var logger = self.logger
            logger[metadataKey: "object"] = "\(key)"
            logger[metadataKey: "reconcileID"] = "\(id)"
            let active = activeWorkers.add(1, ordering: .relaxed).newValue
            metrics?.activeWorkers(controller: name, active)
            let started = ContinuousClock.now
            inFlight.withLock { $0[id] = started }
            defer { inFlight.withLock { _ = $0.removeValue(forKey: id) } }
            let result: String
            let context = ReconcileContext(key: key, reconcileID: id, logger: logger)
            // The reconcile runs in a task of its own so that a shutdown request (which stops the
            // queue) lets it finish; only cancelling the workers (the grace period is over)
            // cancels it.
            let reconciling = Task { @Sendable in try await reconcile(object, context) }
            let outcome = await withTaskCancellationHandler {
                await reconciling.result
            } onCancel: {
                reconciling.cancel()
            }
            switch outcome {
            case .success(.requeue(let after)):
                result = "requeue_after"
                await queue.forget(key)
                await queue.add(key, after: after)
            case .success(.awaitChange):
                result = "success"
                await queue.forget(key)
            case .failure(let error):
                result = "error"
                logger.error("reconcile failed: \(error)")
                await queue.addRateLimited(key)
            }
            let remaining = activeWorkers.subtract(1, ordering: .relaxed).newValue
            metrics?.activeWorkers(controller: name, remaining)
            metrics?.reconciled(controller: name, result: result, duration: .now - started)
            await queue.done(key)
        }
    }
}

/// What a controller needs from each of its informers, whatever their kind.
protocol InformerSource: Sendable {
    var hasSynced: Bool { get }
    var resourceLabel: String { get }
    func silence(at now: ContinuousClock.Instant) -> Duration
    func run() async
}

extension Informer: InformerSource {}
