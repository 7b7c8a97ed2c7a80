import KubeTestSupport
import Testing

@testable import KubeRuntime

@Suite struct WorkQueueStateTests {
    @Test func readyDepthCountsOnlyDueKeys() {
        var state = WorkQueueState<String>()
        state.add("now", at: .seconds(1))
        state.add("soon", at: .seconds(5))
        state.add("later", at: .seconds(60))
        state.add("soon", at: .seconds(3))  // rescheduled earlier: the old heap entry is stale
        #expect(state.depth == 3)
        #expect(state.readyDepth(now: .zero) == 0)
        #expect(state.readyDepth(now: .seconds(1)) == 1)
        #expect(state.readyDepth(now: .seconds(4)) == 2)
        #expect(state.readyDepth(now: .seconds(59)) == 2)
        #expect(state.readyDepth(now: .seconds(60)) == 3)
        _ = state.next(now: .seconds(4))
        #expect(state.readyDepth(now: .seconds(4)) == 1)
    }

    @Test func addingTheSameKeyKeepsOneSlot() {
        var state = WorkQueueState<String>()
        #expect(state.add("a", now: .zero) == .queued)
        #expect(state.add("a", now: .zero) == .merged)
        #expect(state.add("a", now: .seconds(1)) == .merged)
        #expect(state.depth == 1)
        #expect(state.totalAdds == 1)
        #expect(state.next(now: .seconds(1))?.key == "a")
        #expect(state.next(now: .seconds(1)) == nil)
        #expect(state.depth == 0)
    }

    @Test func keyAddedWhileProcessingIsHeldUntilDone() {
        var state = WorkQueueState<String>()
        state.add("a", now: .zero)
        #expect(state.next(now: .zero)?.key == "a")
        #expect(state.isProcessing("a"))
        #expect(state.add("a", now: .seconds(1)) == .deferredUntilDone)
        #expect(state.add("a", now: .seconds(2)) == .merged)
        #expect(state.next(now: .seconds(3)) == nil, "a second worker must not get a processing key")
        #expect(state.depth == 0)

        #expect(state.done("a", now: .seconds(4)) == .seconds(4))
        #expect(state.depth == 1)
        let again = state.next(now: .seconds(5))
        #expect(again == .init(key: "a", waited: .seconds(4)), "latency counts from the add during processing")
        #expect(state.done("a", now: .seconds(6)) == .seconds(1))
        #expect(state.next(now: .seconds(7)) == nil, "handed out again exactly once")
        #expect(state.totalAdds == 2)
    }

    @Test func earliestDueTimeWins() {
        var state = WorkQueueState<String>()
        state.add("a", at: .seconds(10))
        #expect(state.add("a", at: .seconds(5)) == .merged)
        #expect(state.dueTime(of: "a") == .seconds(5))
        state.add("a", at: .seconds(20))
        #expect(state.dueTime(of: "a") == .seconds(5), "a later time does not postpone the key")
        #expect(state.nextDueTime == .seconds(5))
        #expect(state.next(now: .seconds(4)) == nil)
        #expect(state.next(now: .seconds(5))?.key == "a")
        #expect(state.next(now: .seconds(30)) == nil, "the stale entry at 10 s is not handed out")
        #expect(state.nextDueTime == nil)

        // The same rule while the key is processing.
        state.add("a", at: .seconds(50))
        state.add("a", at: .seconds(40))
        state.add("a", at: .seconds(60))
        state.done("a", now: .seconds(31))
        #expect(state.dueTime(of: "a") == .seconds(40))
    }

    @Test func dueKeysGoOutEarliestFirstThenInOrderOfAdds() {
        var state = WorkQueueState<String>()
        for key in ["c", "a", "b"] { state.add(key, at: .seconds(2)) }
        state.add("early", at: .seconds(1))
        state.add("d", at: .seconds(2))
        var order: [String] = []
        while let handOut = state.next(now: .seconds(3)) { order.append(handOut.key) }
        #expect(order == ["early", "c", "a", "b", "d"])
    }

    @Test func keysAreNotHandedOutBeforeTheyAreDue() {
        var state = WorkQueueState<String>()
        state.add("later", at: .seconds(10))
        state.add("sooner", at: .seconds(5))
        #expect(state.nextDueTime == .seconds(5))
        #expect(state.next(now: .milliseconds(4999)) == nil)
        #expect(state.next(now: .seconds(5)) == .init(key: "sooner", waited: .zero))
        #expect(state.nextDueTime == .seconds(10))
        #expect(state.next(now: .seconds(9)) == nil)
        #expect(state.next(now: .seconds(12)) == .init(key: "later", waited: .seconds(2)))
    }

    @Test func doneOfAnUnknownKeyIsIgnored() {
        var state = WorkQueueState<String>()
        state.add("a", now: .zero)
        #expect(state.done("a", now: .seconds(1)) == nil, "a waiting key is not processing")
        #expect(state.done("b", now: .seconds(1)) == nil)
        #expect(state.depth == 1)
        #expect(state.processingCount == 0)
    }

    @Test func countsWaitingAndProcessingKeys() {
        var state = WorkQueueState<Int>()
        for key in 0..<5 { state.add(key, now: .zero) }
        state.add(5, at: .seconds(100))
        #expect(state.depth == 6)
        _ = state.next(now: .zero)
        _ = state.next(now: .zero)
        #expect(state.depth == 4)
        #expect(state.processingCount == 2)
        state.done(0, now: .zero)
        #expect(state.processingCount == 1)
        #expect(state.totalAdds == 6)
    }

    @Test func failuresAreCountedPerKeyUntilForgotten() {
        var state = WorkQueueState<String>()
        #expect(state.failures("a") == 0)
        state.recordFailure("a")
        state.recordFailure("a")
        state.recordFailure("b")
        #expect(state.failures("a") == 2)
        #expect(state.failures("b") == 1)
        state.forget("a")
        #expect(state.failures("a") == 0)
        #expect(state.failures("b") == 1)
    }

    @Test func shutDownStopsHandOutsAndAdds() {
        var state = WorkQueueState<String>()
        state.add("held", now: .zero)
        state.add("waiting", now: .zero)
        #expect(state.next(now: .zero)?.key == "held")
        state.add("held", now: .zero)
        state.shutDown()

        #expect(state.isShutDown)
        #expect(state.next(now: .seconds(1)) == nil, "keys remain but are not handed out")
        #expect(state.nextDueTime == nil)
        #expect(state.add("new", now: .zero) == .ignored)
        #expect(state.depth == 1)
        #expect(state.done("held", now: .seconds(2)) == .seconds(2), "processing keys can still be done")
        #expect(state.depth == 1, "a key added during processing is not queued again after shutdown")
        #expect(state.processingCount == 0)
    }

    @Test func rescheduledKeysDoNotGrowTheHeapWithoutBound() {
        var state = WorkQueueState<Int>()
        for key in 0..<10 { state.add(key, at: .seconds(1_000_000)) }
        for step in 1...10_000 { state.add(step % 10, at: .seconds(1_000_000 - step)) }
        #expect(state.depth == 10)
        #expect(state.heapEntryCount <= 2 * 10 + 64 + 1)
        var handedOut: [Int] = []
        while let handOut = state.next(now: .seconds(1_000_000)) { handedOut.append(handOut.key) }
        #expect(handedOut == [0, 9, 8, 7, 6, 5, 4, 3, 2, 1], "earliest of the last reschedules first")
    }

    @Test func handlesOneHundredThousandKeys() {
        var state = WorkQueueState<Int>()
        var random = SplitMix64(seed: 42)
        let count = 100_000
        var expectedDue: [Int: Duration] = [:]
        for key in 0..<count {
            let due = Duration.milliseconds(Int64(random.next() % 1_000_000))
            state.add(key, at: due)
            expectedDue[key] = due
        }
        // Move a tenth of the keys earlier, and try to move another tenth later.
        for key in stride(from: 0, to: count, by: 10) {
            let earlier = expectedDue[key]! / 2
            state.add(key, at: earlier)
            expectedDue[key] = earlier
            state.add(key + 1, at: expectedDue[key + 1]! + .seconds(5))
        }
        #expect(state.depth == count)

        var seen = Set<Int>()
        var previousDue = Duration.zero
        var outOfOrder = 0
        var wrongDue = 0
        let end = Duration.seconds(1_000_000)
        while let handOut = state.next(now: end) {
            let due = end - handOut.waited
            if due < previousDue { outOfOrder += 1 }
            if due != expectedDue[handOut.key] { wrongDue += 1 }
            previousDue = due
            seen.insert(handOut.key)
        }
        #expect(seen.count == count)
        #expect(outOfOrder == 0)
        #expect(wrongDue == 0)
        #expect(state.depth == 0)
        #expect(state.processingCount == count)
    }
}
