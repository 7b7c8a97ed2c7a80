import Synchronization
import Testing

@testable import KubeRuntime

@Suite(.timeLimit(.minutes(1))) struct WorkQueueTests {
    @Test func addingTheSameKeyThreeTimesHandsItOutOnce() async {
        let queue = WorkQueue<String>(name: "test", clock: ManualClock())
        for _ in 0..<3 { await queue.add("a") }
        #expect(await queue.depth == 1)
        #expect(await queue.next() == "a")
        #expect(await queue.depth == 0)
        await queue.done("a")
        await queue.shutDown()
        #expect(await queue.next() == nil)
    }

    @Test func keyAddedWhileProcessingGoesToNoOtherWorkerUntilDone() async throws {
        let queue = WorkQueue<String>(name: "test", clock: ManualClock())
        await queue.add("a")
        #expect(await queue.next() == "a")
        await queue.add("a")
        await queue.add("a")

        let secondWorker = Task { await queue.next() }
        try await waitUntil { await queue.suspendedWorkerCount == 1 }
        await queue.add("b")
        #expect(await secondWorker.value == "b", "the free key goes out, the processing one does not")

        let thirdWorker = Task { await queue.next() }
        try await waitUntil { await queue.suspendedWorkerCount == 1 }
        await queue.done("a")
        #expect(await thirdWorker.value == "a")
        await queue.done("a")
        await queue.done("b")
        #expect(await queue.depth == 0, "handed out again exactly once")
        await queue.shutDown()
    }

    @Test func delayedKeyIsNotHandedOutBeforeItIsDue() async throws {
        let clock = ManualClock()
        let queue = WorkQueue<String>(name: "test", clock: clock)
        await queue.add("a", after: .seconds(1))
        let worker = Task { await queue.next() }
        try await clock.waitForSleepers(1)
        #expect(clock.sleeperDeadlines == [.seconds(1)], "one timer, due with the key")

        clock.advance(by: .milliseconds(999))
        #expect(await queue.depth == 1)
        #expect(await queue.suspendedWorkerCount == 1, "the worker still waits at 999 ms")

        clock.advance(by: .milliseconds(1))
        #expect(await worker.value == "a")
        await queue.shutDown()
    }

    @Test func earlierDelayReplacesTheTimer() async throws {
        let clock = ManualClock()
        let queue = WorkQueue<String>(name: "test", clock: clock)
        await queue.add("a", after: .seconds(10))
        let worker = Task { await queue.next() }
        try await clock.waitForSleepers(1)
        await queue.add("a", after: .seconds(2))
        try await waitUntil { clock.sleeperDeadlines == [.seconds(2)] }

        clock.advance(by: .seconds(2))
        #expect(await worker.value == "a")
        #expect(await queue.depth == 0, "the 10 s request merged into the 2 s one")
        await queue.shutDown()
    }

    @Test func dueKeysAreHandedOutInOrderOfAdds() async {
        let queue = WorkQueue<Int>(name: "test", clock: ManualClock())
        for key in [3, 1, 2] { await queue.add(key) }
        var order: [Int] = []
        for _ in 0..<3 { order.append(await queue.next()!) }
        #expect(order == [3, 1, 2])
        await queue.shutDown()
    }

    @Test func rateLimitedAddsBackOffPerKeyUntilForgotten() async throws {
        let clock = ManualClock()
        let queue = WorkQueue<String>(name: "test", clock: clock)
        for expected in [Duration.milliseconds(5), .milliseconds(10), .milliseconds(20)] {
            await queue.addRateLimited("a")
            let start = clock.now
            let worker = Task { await queue.next() }
            try await clock.waitForSleepers(1)
            #expect(clock.sleeperDeadlines == [start.offset + expected])
            clock.advance(by: expected)
            #expect(await worker.value == "a")
            await queue.done("a")
        }
        #expect(await queue.failures("a") == 3)
        await queue.forget("a")
        #expect(await queue.failures("a") == 0)
        await queue.addRateLimited("a")
        let worker = Task { await queue.next() }
        try await clock.waitForSleepers(1)
        #expect(clock.sleeperDeadlines == [clock.now.offset + .milliseconds(5)])
        clock.advance(by: .milliseconds(5))
        #expect(await worker.value == "a")
        await queue.shutDown()
    }

    @Test func customRateLimiterIsUsed() async {
        let queue = WorkQueue<String>(
            name: "test", clock: ManualClock(), rateLimiter: ItemExponentialBackoff(base: .zero))
        await queue.addRateLimited("a")
        #expect(await queue.next() == "a", "a zero delay makes the key due at once")
        #expect(await queue.failures("a") == 1)
        await queue.shutDown()
    }

    @Test func shutDownWakesEveryWaitingWorkerAndStopsHandOuts() async throws {
        let queue = WorkQueue<String>(name: "test", clock: ManualClock())
        let workers = (0..<3).map { _ in Task { await queue.next() } }
        try await waitUntil { await queue.suspendedWorkerCount == 3 }
        await queue.add("late", after: .seconds(1))
        await queue.shutDown()
        for worker in workers { #expect(await worker.value == nil) }
        #expect(await queue.isShutDown)
        await queue.add("ignored")
        #expect(await queue.depth == 1, "only the key added before shutdown remains")
        #expect(await queue.next() == nil)
    }

    @Test func shutDownAndDrainWaitsForProcessingKeys() async throws {
        let clock = ManualClock()
        let queue = WorkQueue<String>(name: "test", clock: clock)
        await queue.add("a")
        #expect(await queue.next() == "a")
        let drain = Task { await queue.shutDownAndDrain(timeout: .seconds(30)) }
        try await clock.waitForSleepers(1)
        #expect(await queue.isShutDown)
        await queue.done("a")
        #expect(await drain.value == true)
        #expect(await queue.shutDownAndDrain(timeout: .zero) == true, "nothing left to drain")
    }

    @Test func shutDownAndDrainTimesOut() async throws {
        let clock = ManualClock()
        let queue = WorkQueue<String>(name: "test", clock: clock)
        await queue.add("a")
        #expect(await queue.next() == "a")
        let drain = Task { await queue.shutDownAndDrain(timeout: .seconds(30)) }
        try await clock.waitForSleepers(1)
        clock.advance(by: .seconds(30))
        #expect(await drain.value == false)
        #expect(await queue.processingCount == 1)
    }

    @Test func cancellingAWaitingWorkerLosesNoKey() async throws {
        let clock = ManualClock()
        let queue = WorkQueue<String>(name: "test", clock: clock)
        let cancelled = Task { await queue.next() }
        try await waitUntil { await queue.suspendedWorkerCount == 1 }
        cancelled.cancel()
        #expect(await cancelled.value == nil)
        #expect(await queue.suspendedWorkerCount == 0, "the continuation was removed")

        await queue.add("a")
        #expect(await queue.next() == "a")

        // A cancelled worker that was waiting for a delayed key must not take it.
        await queue.add("b", after: .seconds(1))
        let cancelledDelayed = Task { await queue.next() }
        try await clock.waitForSleepers(1)
        cancelledDelayed.cancel()
        #expect(await cancelledDelayed.value == nil)
        try await clock.waitForSleepers(0)
        clock.advance(by: .seconds(1))
        #expect(await queue.next() == "b")
        await queue.shutDown()
    }

    @Test func alreadyCancelledWorkerGetsNilWhenNothingIsDue() async {
        let queue = WorkQueue<String>(name: "test", clock: ManualClock())
        let worker = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await queue.next()
        }
        #expect(await worker.value == nil)
        #expect(await queue.suspendedWorkerCount == 0)
        await queue.shutDown()
    }

    @Test func cancellationRacingWithAddsLosesNoKey() async throws {
        let queue = WorkQueue<Int>(name: "test")
        let keyCount = 200
        let received = Locked<[Int]>([])
        var workers: [Task<Void, Never>] = []
        await withTaskGroup(of: Void.self) { group in
            for key in 0..<keyCount {
                let worker = Task {
                    if let key = await queue.next() {
                        received.withLock { $0.append(key) }
                        await queue.done(key)
                    }
                }
                workers.append(worker)
                group.addTask { await queue.add(key) }
                if key.isMultiple(of: 2) { worker.cancel() }
            }
        }
        // Settled: every key is either with a worker or still queued, and keys are left
        // only if no worker waits for them.
        try await waitUntil {
            let depth = await queue.depth
            let idle = await queue.suspendedWorkerCount == 0
            return received.withLock { $0.count } + depth == keyCount && (depth == 0 || idle)
        }
        while await queue.depth > 0, let key = await queue.next() {
            received.withLock { $0.append(key) }
            await queue.done(key)
        }
        await queue.shutDown()
        for worker in workers { await worker.value }
        let keys = received.withLock { $0 }
        #expect(keys.count == keyCount)
        #expect(Set(keys) == Set(0..<keyCount))
    }

    @Test func waitingWorkersAreServedInOrder() async throws {
        let queue = WorkQueue<Int>(name: "test", clock: ManualClock())
        var workers: [Task<Int?, Never>] = []
        for index in 0..<3 {
            workers.append(Task { await queue.next() })
            try await waitUntil { await queue.suspendedWorkerCount == index + 1 }
        }
        for key in [10, 11, 12] { await queue.add(key) }
        var results: [Int?] = []
        for worker in workers { results.append(await worker.value) }
        #expect(results == [10, 11, 12])
        await queue.shutDown()
    }

    @Test func delaysWorkOnTheContinuousClock() async {
        let queue = WorkQueue<String>(name: "test")
        let clock = ContinuousClock()
        let start = clock.now
        await queue.add("a", after: .milliseconds(20))
        #expect(await queue.next() == "a")
        #expect(start.duration(to: clock.now) >= .milliseconds(20))
        await queue.shutDown()
    }

    @Test func concurrentWorkersNeverShareAKeyAndProcessEveryAdd() async {
        let queue = WorkQueue<Int>(name: "test")
        let keyCount = 1000
        for key in 0..<keyCount {
            for _ in 0..<3 { await queue.add(key) }
        }
        let inFlight = Locked<Set<Int>>([])
        let processed = Locked<[Int: Int]>([:])
        let overlaps = Locked(0)
        let total = Locked(0)

        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    while let key = await queue.next() {
                        if !inFlight.withLock({ $0.insert(key).inserted }) {
                            overlaps.withLock { $0 += 1 }
                        }
                        let times = processed.withLock { counts in
                            counts[key, default: 0] += 1
                            return counts[key]!
                        }
                        if times == 1 {
                            // Changes during processing: the key must be handed out once more.
                            await queue.add(key)
                            await queue.add(key)
                        }
                        await Task.yield()
                        inFlight.withLock { _ = $0.remove(key) }
                        await queue.done(key)
                        let finished = total.withLock { count in
                            count += 1
                            return count
                        }
                        if finished == 2 * keyCount {
                            await queue.shutDown()
                        }
                    }
                }
            }
        }
        #expect(overlaps.withLock { $0 } == 0)
        let counts = processed.withLock { $0 }
        #expect(counts.count == keyCount)
        #expect(counts.values.allSatisfy { $0 == 2 })
        #expect(await queue.depth == 0)
        #expect(await queue.processingCount == 0)
    }

    @Test func observerSeesAddsDepthLatencyWorkAndRetries() async throws {
        let clock = ManualClock()
        let observer = RecordingObserver()
        let queue = WorkQueue<String>(name: "pods", clock: clock, observer: observer)
        await queue.add("a")
        await queue.add("a")
        await queue.add("b")
        clock.advance(by: .seconds(2))
        #expect(await queue.next() == "a")
        clock.advance(by: .seconds(3))
        await queue.addRateLimited("a")
        await queue.done("a")
        #expect(await queue.next() == "b")

        let events = observer.events
        #expect(events.filter { $0 == .added("pods") }.count == 3, "two first adds and one during processing")
        #expect(events.filter { $0 == .retried("pods") }.count == 1)
        // Depth counts due keys only: "a", re-added with a 5 ms backoff, is not due yet.
        #expect(events.compactMap { if case .depth(_, let depth) = $0 { depth } else { nil } } == [1, 2, 1, 0])
        #expect(events.contains(.queueLatency("pods", .seconds(2))))
        #expect(events.contains(.queueLatency("pods", .seconds(5))), "b waited from 0 s to 5 s")
        #expect(events.contains(.workDuration("pods", .seconds(3))))
        await queue.shutDown()
    }
}

/// A value shared between tasks, guarded by a mutex.
private final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<Result: Sendable>(_ body: (inout sending Value) -> sending Result) -> Result {
        mutex.withLock(body)
    }
}

/// Polls `condition` until it holds; fails the test after about two seconds.
private func waitUntil(
    _ condition: @Sendable () async -> Bool, sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    for _ in 0..<2000 {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(1))
    }
    Issue.record("condition did not become true", sourceLocation: sourceLocation)
}

/// A clock that moves only when a test calls ``advance(by:)``.
private final class ManualClock: Clock, Sendable {
    struct Instant: InstantProtocol {
        var offset: Duration

        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private struct Sleeper {
        var id: UInt64
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var sleepers: [Sleeper] = []
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    var now: Instant { state.withLock { $0.now } }
    var minimumResolution: Duration { .zero }

    /// The deadlines of the tasks sleeping on this clock, earliest first.
    var sleeperDeadlines: [Duration] {
        state.withLock { $0.sleepers.map(\.deadline.offset).sorted() }
    }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        let id = state.withLock { state in
            defer { state.nextID += 1 }
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // Checked under the lock so a concurrent cancel either sees the sleeper or
                // happened before this check.
                let outcome: Result<Void, any Error>? = state.withLock { state in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return nil
                }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward and wakes every sleeper whose deadline has come.
    func advance(by duration: Duration) {
        let woken = state.withLock { state in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let due = state.sleepers.filter { $0.deadline <= now }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in woken { sleeper.continuation.resume() }
    }

    /// Waits until exactly `count` tasks sleep on this clock.
    func waitForSleepers(_ count: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await waitUntil({ self.state.withLock { $0.sleepers.count } == count }, sourceLocation: sourceLocation)
    }
}

/// Records every observer call, for assertions.
private final class RecordingObserver: WorkQueueObserver {
    enum Event: Equatable {
        case added(String)
        case depth(String, Int)
        case queueLatency(String, Duration)
        case workDuration(String, Duration)
        case retried(String)
    }

    private let recorded = Mutex<[Event]>([])

    var events: [Event] { recorded.withLock { $0 } }

    func added(queue: String) { recorded.withLock { $0.append(.added(queue)) } }
    func depth(queue: String, _ depth: Int) { recorded.withLock { $0.append(.depth(queue, depth)) } }
    func queueLatency(queue: String, _ duration: Duration) {
        recorded.withLock { $0.append(.queueLatency(queue, duration)) }
    }
    func workDuration(queue: String, _ duration: Duration) {
        recorded.withLock { $0.append(.workDuration(queue, duration)) }
    }
    func retried(queue: String) { recorded.withLock { $0.append(.retried(queue)) } }
}
