/// The controller work queue: keys go in when objects change, workers take them out one key at a
/// time, with delays, retries and per-key backoff.
///
/// A controller adds the key of every object that changed (``add(_:)``), schedules a later check
/// (``add(_:after:)``) or a retry after a failure (``addRateLimited(_:)``). Workers loop on
/// ``next()``, reconcile the key and call ``done(_:)``; after a success they call ``forget(_:)``
/// to reset the key's backoff:
///
/// ```swift
/// while let key = await queue.next() {
///     do {
///         try await reconcile(key)
///         await queue.forget(key)
///     } catch {
///         await queue.addRateLimited(key)
///     }
///     await queue.done(key)
/// }
/// ```
///
/// The rules live in ``WorkQueueState``; this actor adds the clock, the waiting workers and the
/// metrics.
///
/// ## Guarantees
/// - One slot per key, the earliest requested time wins; a key is never handed to two workers at
///   once, and a key added while it is processed is handed out again after ``done(_:)``.
/// - Workers suspended in ``next()`` are served in the order they started waiting.
/// - After ``shutDown()`` every suspended and future ``next()`` returns `nil`.
///
/// ## Caveats
/// - Every key returned by ``next()`` must be passed to ``done(_:)``, or it is never handed out
///   again.
/// - Failure counts are kept until ``forget(_:)``; forget the keys of deleted objects too.
/// - Unlike client-go, keys still waiting at shutdown are not handed out.
public actor WorkQueue<Key: Hashable & Sendable> {
    /// The queue's name, the `name` label of its metrics.
    public nonisolated let name: String

    private var state = WorkQueueState<Key>()
    private var rateLimiter: any RateLimiter
    private let observer: (any WorkQueueObserver)?
    private let clock: WorkQueueClock

    /// Workers suspended in ``next()``, oldest first.
    private var waiters: [Waiter] = []
    private var nextWaiterID: UInt64 = 0
    /// The single task sleeping until the earliest waiting key is due, while workers wait.
    private var timer: Timer?
    private var nextTimerGeneration: UInt64 = 0
    /// Callers of ``shutDownAndDrain(timeout:)`` waiting for processing keys to be done.
    private var drainers: [UInt64: Drainer] = [:]
    private var lastReportedDepth = 0

    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Key?, Never>
    }

    private struct Timer {
        var deadline: Duration
        var generation: UInt64
        var task: Task<Void, Never>
    }

    private struct Drainer {
        var continuation: CheckedContinuation<Bool, Never>
        var timeout: Task<Void, Never>
    }

    /// Creates a running, empty queue.
    ///
    /// - Parameters:
    ///   - name: The `name` label of the queue's metrics; usually the controller's name.
    ///   - clock: The clock delays are measured on; tests pass a manual clock.
    ///   - rateLimiter: Computes the delays of ``addRateLimited(_:)``; client-go's default
    ///     controller limiter unless given.
    ///   - observer: Receives the queue's metrics, if given.
    public init(
        name: String,
        clock: some Clock<Duration> = ContinuousClock(),
        rateLimiter: some RateLimiter = .defaultController,
        observer: (any WorkQueueObserver)? = nil
    ) {
        self.name = name
        self.clock = WorkQueueClock(clock)
        self.rateLimiter = rateLimiter
        self.observer = observer
    }

    deinit {
        timer?.task.cancel()
    }

    // MARK: Adding

    /// Queues `key` to be handed out as soon as a worker is free; no-op if it already waits.
    public func add(_ key: Key) {
        add(key, at: clock.now())
    }

    /// Queues `key` to be handed out after `delay`; if it already waits, the earlier time wins.
    public func add(_ key: Key, after delay: Duration) {
        add(key, at: clock.now() + max(delay, .zero))
    }

    /// Queues `key` again after the rate limiter's delay and counts one more failure of it.
    ///
    /// With the default limiter the delay is the longer of the key's backoff (5 ms doubling per
    /// failure up to 1000 s) and the wait for a token of the shared 10 qps / burst 100 bucket.
    /// Counts towards `workqueue_retries_total`.
    public func addRateLimited(_ key: Key) {
        guard !state.isShutDown else { return }
        let now = clock.now()
        let delay = rateLimiter.delay(failures: state.failures(key), now: now)
        state.recordFailure(key)
        observer?.retried(queue: name)
        add(key, at: now + delay)
    }

    /// Resets the failure count, and so the backoff, of `key`; call it after a success.
    public func forget(_ key: Key) {
        state.forget(key)
    }

    /// How many times `key` failed since it was last forgotten (client-go's `NumRequeues`).
    public func failures(_ key: Key) -> Int {
        state.failures(key)
    }

    private func add(_ key: Key, at due: Duration) {
        if state.add(key, at: due).isCounted {
            observer?.added(queue: name)
        }
        dispatch()
    }

    // MARK: Handing out

    /// Waits until a key is due and no other worker has it, then hands it to the caller, who
    /// must call ``done(_:)`` with it.
    ///
    /// - Returns: The key, or `nil` once the queue is shut down or when the calling task is
    ///   cancelled while waiting.
    ///
    /// ## Caveats
    /// A task cancelled just as a key was handed to it still gets the key: it must call
    /// ``done(_:)`` with it.
    public func next() async -> Key? {
        guard !state.isShutDown else { return nil }
        if waiters.isEmpty, let handOut = state.next(now: clock.now()) {
            reportHandOut(handOut)
            reportDepthIfChanged()
            return handOut.key
        }
        let id = nextWaiterID
        nextWaiterID &+= 1
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                guard !Task.isCancelled else {
                    continuation.resume(returning: nil)
                    return
                }
                waiters.append(Waiter(id: id, continuation: continuation))
                dispatch()
            }
        } onCancel: {
            Task { await self.cancelWaiter(id) }
        }
    }

    /// Marks `key` as processed; if it was added meanwhile, it is queued again.
    public func done(_ key: Key) {
        if let workDuration = state.done(key, now: clock.now()) {
            observer?.workDuration(queue: name, workDuration)
        }
        dispatch()
        if state.processingCount == 0 {
            for id in Array(drainers.keys) { finishDrain(id, drained: true) }
        }
    }

    // MARK: Shutdown

    /// Stops the queue: suspended and future ``next()`` calls return `nil` and adds are dropped.
    /// Workers can still call ``done(_:)`` for the keys they hold.
    public func shutDown() {
        state.shutDown()
        timer?.task.cancel()
        timer = nil
        let woken = waiters
        waiters.removeAll()
        for waiter in woken { waiter.continuation.resume(returning: nil) }
    }

    /// Shuts the queue down, then waits until workers have called ``done(_:)`` for every key
    /// they hold (client-go's `ShutDownWithDrain`), or until `timeout` passes on the queue's
    /// clock.
    ///
    /// - Returns: `true` if every key was done in time; `false` on timeout or cancellation.
    public func shutDownAndDrain(timeout: Duration) async -> Bool {
        shutDown()
        guard state.processingCount > 0 else { return true }
        let id = nextWaiterID
        nextWaiterID &+= 1
        let deadline = clock.now() + timeout
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                guard !Task.isCancelled else {
                    continuation.resume(returning: false)
                    return
                }
                let timeoutTask = Task { [weak self, clock] in
                    do { try await clock.sleep(deadline) } catch { return }
                    await self?.finishDrain(id, drained: false)
                }
                drainers[id] = Drainer(continuation: continuation, timeout: timeoutTask)
            }
        } onCancel: {
            Task { await self.finishDrain(id, drained: false) }
        }
    }

    /// Whether ``shutDown()`` was called.
    public var isShutDown: Bool { state.isShutDown }

    /// How many keys wait for their turn, including keys due later.
    public var depth: Int { state.depth }

    /// How many waiting keys are due now (what `workqueue_depth` reports).
    public var readyDepth: Int { state.readyDepth(now: clock.now()) }

    /// How many keys are handed out and not yet done.
    public var processingCount: Int { state.processingCount }

    /// How many workers are suspended in ``next()``; for tests.
    var suspendedWorkerCount: Int { waiters.count }

    // MARK: Waking workers

    /// Hands due keys to suspended workers, then makes sure a timer wakes them when the next
    /// key is due. Called after every change to the state.
    private func dispatch() {
        guard !state.isShutDown else { return }
        if !waiters.isEmpty {
            let now = clock.now()
            while !waiters.isEmpty, let handOut = state.next(now: now) {
                let waiter = waiters.removeFirst()
                reportHandOut(handOut)
                waiter.continuation.resume(returning: handOut.key)
            }
        }
        reportDepthIfChanged()
        scheduleTimer()
    }

    /// Keeps exactly one timer, due when the earliest waiting key is, while workers wait.
    private func scheduleTimer() {
        let wanted = waiters.isEmpty ? nil : state.nextDueTime
        guard wanted != timer?.deadline else { return }
        timer?.task.cancel()
        timer = nil
        guard let deadline = wanted else { return }
        let generation = nextTimerGeneration
        nextTimerGeneration &+= 1
        let task = Task { [weak self, clock] in
            do { try await clock.sleep(deadline) } catch { return }
            await self?.timerFired(generation)
        }
        timer = Timer(deadline: deadline, generation: generation, task: task)
    }

    private func timerFired(_ generation: UInt64) {
        // A replaced timer may still get here if it was cancelled after its sleep ended.
        guard timer?.generation == generation else { return }
        timer = nil
        dispatch()
    }

    private func cancelWaiter(_ id: UInt64) {
        // Absent if the waiter was already served a key or woken by shutdown.
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        let waiter = waiters.remove(at: index)
        waiter.continuation.resume(returning: nil)
        scheduleTimer()
    }

    private func finishDrain(_ id: UInt64, drained: Bool) {
        guard let drainer = drainers.removeValue(forKey: id) else { return }
        drainer.timeout.cancel()
        drainer.continuation.resume(returning: drained)
    }

    // MARK: Metrics

    private func reportHandOut(_ handOut: WorkQueueState<Key>.HandOut) {
        observer?.queueLatency(queue: name, handOut.waited)
    }

    private func reportDepthIfChanged() {
        let depth = state.readyDepth(now: clock.now())
        guard depth != lastReportedDepth else { return }
        lastReportedDepth = depth
        observer?.depth(queue: name, depth)
    }
}

/// A clock reduced to what the queue needs: time as a `Duration` since the queue was created.
private struct WorkQueueClock: Sendable {
    let now: @Sendable () -> Duration
    let sleep: @Sendable (_ deadline: Duration) async throws -> Void

    init<C: Clock<Duration>>(_ clock: C) {
        let origin = clock.now
        now = { origin.duration(to: clock.now) }
        sleep = { deadline in
            try await clock.sleep(until: origin.advanced(by: deadline), tolerance: nil)
        }
    }
}
