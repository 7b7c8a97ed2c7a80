import Foundation
import KubeCore
import Testing

@testable import KubeRuntime

@Suite("Leader election decisions")
struct LeaderElectionStateTests {
    let wall = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func createsTheLeaseWhenAbsent() {
        var state = LeaderElectionState(identity: "a")
        guard case .create(let spec) = state.decide(current: nil, now: .zero, wallClock: wall) else {
            Issue.record("expected create")
            return
        }
        #expect(spec.holderIdentity == "a")
        #expect(spec.leaseDurationSeconds == 15)
        #expect(spec.leaseTransitions == 0)
    }

    @Test func validLeaseOfAnotherHolderIsRespectedUntilLocalExpiry() {
        var state = LeaderElectionState(identity: "b")
        let held = LeaseSpec(holderIdentity: "a", leaseDurationSeconds: 15, acquireTime: MicroTime(wall),
                             renewTime: MicroTime(wall), leaseTransitions: 3)
        #expect(state.decide(current: held, now: .seconds(100), wallClock: wall) == .heldByOther(holder: "a", remaining: .seconds(15)))
        // The same record seen later: time runs from the first observation, not from renewTime.
        #expect(state.decide(current: held, now: .seconds(110), wallClock: wall) == .heldByOther(holder: "a", remaining: .seconds(5)))
        // A renewal (a changed record) restarts the local clock.
        var renewed = held
        renewed.renewTime = MicroTime(wall.addingTimeInterval(8))
        #expect(state.decide(current: renewed, now: .seconds(112), wallClock: wall) == .heldByOther(holder: "a", remaining: .seconds(15)))
        // Unchanged for 15 s: expired, take it over with one more transition.
        guard case .update(let spec) = state.decide(current: renewed, now: .seconds(127), wallClock: wall) else {
            Issue.record("expected takeover")
            return
        }
        #expect(spec.holderIdentity == "b")
        #expect(spec.leaseTransitions == 4)
    }

    @Test func wallClockSkewDoesNotMatter() {
        // The holder's clock is a day behind: renewTime looks ancient, but it is still observed fresh.
        var state = LeaderElectionState(identity: "b")
        let held = LeaseSpec(holderIdentity: "a", leaseDurationSeconds: 15, renewTime: MicroTime(wall.addingTimeInterval(-86_400)))
        guard case .heldByOther = state.decide(current: held, now: .seconds(5), wallClock: wall) else {
            Issue.record("a skewed renewTime was taken as expiry")
            return
        }
    }

    @Test func holderRenewsKeepingAcquireTimeAndTransitions() {
        var state = LeaderElectionState(identity: "a")
        let acquired = MicroTime(wall.addingTimeInterval(-60))
        let mine = LeaseSpec(holderIdentity: "a", leaseDurationSeconds: 15, acquireTime: acquired,
                             renewTime: MicroTime(wall.addingTimeInterval(-2)), leaseTransitions: 2)
        guard case .update(let spec) = state.decide(current: mine, now: .seconds(1), wallClock: wall) else {
            Issue.record("expected a renewal")
            return
        }
        #expect(spec.acquireTime == acquired)
        #expect(spec.renewTime == MicroTime(wall))
        #expect(spec.leaseTransitions == 2)
    }

    @Test func releasedLeaseIsTakenAtOnce() {
        var state = LeaderElectionState(identity: "b")
        let released = LeaseSpec(holderIdentity: nil, leaseDurationSeconds: 1, leaseTransitions: 5)
        guard case .update(let spec) = state.decide(current: released, now: .seconds(1), wallClock: wall) else {
            Issue.record("a released lease was not taken")
            return
        }
        #expect(spec.holderIdentity == "b")
        #expect(spec.leaseTransitions == 6)
    }

    @Test func releaseOnlyByTheHolder() {
        let state = LeaderElectionState(identity: "a")
        let mine = LeaseSpec(holderIdentity: "a", leaseDurationSeconds: 15, leaseTransitions: 1)
        let released = state.releaseSpec(current: mine, wallClock: wall)
        #expect(released?.holderIdentity == nil)
        #expect(released?.leaseDurationSeconds == 1)
        #expect(released?.leaseTransitions == 1)
        #expect(state.releaseSpec(current: LeaseSpec(holderIdentity: "other"), wallClock: wall) == nil)
    }
}
