/// The work queue's bookkeeping as a pure value: which keys wait and when they are due, which
/// are being processed, and how often each has failed.
///
/// Time is injected: every `now` and due time is a `Duration` since an origin the caller
/// chooses (``WorkQueue`` uses the moment it was created). Nothing here reads a clock, sleeps or
/// suspends, so every rule can be tested step by step.
///
/// ## Guarantees
/// - One slot per key: adding a key that already has a slot keeps one slot, due at the earlier
///   of the two times (kube-rs's scheduler rule).
/// - Never two workers on one key: ``next(now:)`` hands out only keys that are not being
///   processed; adds of a processing key are remembered and queue it again at
///   ``done(_:now:)`` (client-go's `dirty` and `processing` sets).
/// - Due keys go out earliest due time first; ties go in the order they were added.
/// - ``add(_:at:)``, ``next(now:)`` and ``done(_:now:)`` take O(log n) amortized time.
public struct WorkQueueState<Key: Hashable & Sendable>: Sendable {
    /// What ``WorkQueueState/add(_:at:)`` did with a key.
    public enum AddOutcome: Sendable, Hashable {
        /// The key got a new slot in the queue.
        case queued
        /// The key is being processed; it is queued again when it is done.
        case deferredUntilDone
        /// The key already had a slot (waiting or deferred); it keeps it, due at the earlier time.
        case merged
        /// The queue is shut down; the add was dropped.
        case ignored

        /// Whether this add counts towards `workqueue_adds_total`; like client-go, adds that
        /// merge into an existing slot do not.
        public var isCounted: Bool { self == .queued || self == .deferredUntilDone }
    }

    /// A key handed to a worker by ``WorkQueueState/next(now:)``.
    public struct HandOut: Sendable, Hashable {
        /// The key the worker now owns until it calls `done`.
        public var key: Key
        /// How long the key had been due when it was handed out
        /// (`workqueue_queue_duration_seconds`).
        public var waited: Duration
    }

    /// A waiting key's due time and its place in the order of adds.
    private struct Slot: Sendable {
        var due: Duration
        var sequence: UInt64
    }

    /// Keys waiting to be handed out.
    private var waiting: [Key: Slot] = [:]
    /// The waiting keys by due time; may hold stale entries of rescheduled or handed-out keys.
    private var dueOrder = DueHeap()
    /// Keys handed out and not yet done, with the time they were handed out.
    private var processingSince: [Key: Duration] = [:]
    /// Keys added while processing, with the earliest due time asked for.
    private var deferred: [Key: Duration] = [:]
    private var failureCounts: [Key: Int] = [:]
    private var nextSequence: UInt64 = 0

    /// Whether ``shutDown()`` was called: no more adds are accepted and nothing is handed out.
    public private(set) var isShutDown = false
    /// How many adds gave a key a new slot since the queue was created (`workqueue_adds_total`).
    public private(set) var totalAdds = 0

    /// An empty, running queue.
    public init() {}

    // MARK: Adding

    /// Asks for `key` to be handed out at `due` or later.
    ///
    /// If `key` already has a slot, it keeps that one slot and is due at the earlier of the two
    /// times. If `key` is being processed, it is queued again when ``done(_:now:)`` is called.
    /// A `due` in the past makes the key due now, with its queue latency counted from `due`.
    @discardableResult
    public mutating func add(_ key: Key, at due: Duration) -> AddOutcome {
        guard !isShutDown else { return .ignored }
        if processingSince[key] != nil {
            if let earlier = deferred[key] {
                deferred[key] = min(earlier, due)
                return .merged
            }
            deferred[key] = due
            totalAdds += 1
            return .deferredUntilDone
        }
        if let slot = waiting[key] {
            if due < slot.due {
                schedule(key, at: due)
                compactIfMostlyStale()
            }
            return .merged
        }
        schedule(key, at: due)
        totalAdds += 1
        return .queued
    }

    /// Asks for `key` to be handed out as soon as possible.
    @discardableResult
    public mutating func add(_ key: Key, now: Duration) -> AddOutcome {
        add(key, at: now)
    }

    // MARK: Handing out

    /// Hands out the earliest due key whose due time has come, and marks it processing.
    ///
    /// - Returns: The key and how long it waited, or `nil` when no key is due or the queue is
    ///   shut down.
    public mutating func next(now: Duration) -> HandOut? {
        guard !isShutDown, let first = dueOrder.first, first.due <= now else { return nil }
        dueOrder.removeFirst()
        waiting[first.key] = nil
        dropStaleEntriesOnTop()
        processingSince[first.key] = now
        return HandOut(key: first.key, waited: max(.zero, now - first.due))
    }

    /// Marks `key` as no longer processing; if it was added meanwhile, it is queued again.
    ///
    /// - Returns: How long the key was processed (`workqueue_work_duration_seconds`), or `nil`
    ///   if it was not being processed.
    @discardableResult
    public mutating func done(_ key: Key, now: Duration) -> Duration? {
        guard let since = processingSince.removeValue(forKey: key) else { return nil }
        if let due = deferred.removeValue(forKey: key), !isShutDown {
            schedule(key, at: due)
        }
        return max(.zero, now - since)
    }

    /// When the earliest waiting key is due, so a driver knows when to wake; `nil` when nothing
    /// waits or the queue is shut down. The time may already have passed.
    public var nextDueTime: Duration? {
        isShutDown ? nil : dueOrder.first?.due
    }

    // MARK: Failures

    /// How many times `key` failed since it was last forgotten (client-go's `NumRequeues`).
    public func failures(_ key: Key) -> Int {
        failureCounts[key, default: 0]
    }

    /// Counts one more failure of `key`.
    public mutating func recordFailure(_ key: Key) {
        failureCounts[key, default: 0] += 1
    }

    /// Resets the failure count of `key`; call it after `key` was processed successfully.
    public mutating func forget(_ key: Key) {
        failureCounts[key] = nil
    }

    // MARK: Shutdown and counters

    /// Stops the queue: adds are dropped and ``next(now:)`` returns `nil`. Keys being processed
    /// can still be marked done, but are not queued again.
    public mutating func shutDown() {
        isShutDown = true
        deferred.removeAll()
    }

    /// How many keys wait for their turn, including keys due later.
    public var depth: Int { waiting.count }

    /// How many waiting keys are due at `now` (`workqueue_depth`: like client-go, keys scheduled
    /// for later are not counted until they are due). O(due keys).
    public func readyDepth(now: Duration) -> Int {
        dueOrder.countEntries(dueBy: now, where: isLive)
    }

    /// How many keys are handed out and not yet done.
    public var processingCount: Int { processingSince.count }

    /// When `key` is due, if it waits in the queue.
    public func dueTime(of key: Key) -> Duration? { waiting[key]?.due }

    /// Whether `key` is handed out and not yet done.
    public func isProcessing(_ key: Key) -> Bool { processingSince[key] != nil }

    /// The heap's size including stale entries; exposed for tests of compaction.
    var heapEntryCount: Int { dueOrder.count }

    // MARK: Heap upkeep

    /// Gives `key` a fresh slot; an older heap entry of `key`, if any, becomes stale.
    private mutating func schedule(_ key: Key, at due: Duration) {
        let slot = Slot(due: due, sequence: nextSequence)
        nextSequence &+= 1
        waiting[key] = slot
        dueOrder.insert(Entry(key: key, due: due, sequence: slot.sequence))
    }

    private func isLive(_ entry: Entry) -> Bool {
        waiting[entry.key]?.sequence == entry.sequence
    }

    /// Keeps the invariant that the heap's first entry, if any, is live.
    private mutating func dropStaleEntriesOnTop() {
        while let first = dueOrder.first, !isLive(first) {
            dueOrder.removeFirst()
        }
    }

    /// Rebuilds the heap from the live slots when stale entries outnumber them, so repeated
    /// reschedules cannot grow it without bound.
    private mutating func compactIfMostlyStale() {
        guard dueOrder.count > 2 * waiting.count + 64 else { return }
        dueOrder = DueHeap(waiting.map { Entry(key: $0.key, due: $0.value.due, sequence: $0.value.sequence) })
    }
}
