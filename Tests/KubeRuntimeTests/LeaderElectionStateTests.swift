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

    // MARK: Timing (client-go's NewLeaderElector checks)

    @Test func clientGoDefaultsAreValid() throws {
        let timing = LeaderElectionTiming()
        #expect(timing.leaseDuration == .seconds(15) && timing.renewDeadline == .seconds(10) && timing.retryPeriod == .seconds(2))
        try timing.validate()
        // The compressed timings the fault suite runs with.
        try LeaderElectionTiming(leaseDuration: .seconds(4), renewDeadline: .seconds(3), retryPeriod: .milliseconds(500)).validate()
    }

    @Test func aRenewDeadlineNotBelowTheLeaseIsRefused() {
        #expect(throws: LeaderElectionConfigurationError.self) {
            try LeaderElectionTiming(leaseDuration: .seconds(10), renewDeadline: .seconds(10)).validate()
        }
        do {
            try LeaderElectionTiming(leaseDuration: .seconds(10), renewDeadline: .seconds(12)).validate()
            Issue.record("accepted a renew deadline above the lease duration")
        } catch {
            #expect("\(error)".contains("must be longer than the renew deadline"), "\(error)")
        }
    }

    @Test func aRetryPeriodTooCloseToTheRenewDeadlineIsRefused() {
        // 2 s × 1.2 = 2.4 s ≥ 2.4 s.
        #expect(throws: LeaderElectionConfigurationError.self) {
            try LeaderElectionTiming(leaseDuration: .seconds(4), renewDeadline: .milliseconds(2400), retryPeriod: .seconds(2)).validate()
        }
        #expect(throws: LeaderElectionConfigurationError.self) {
            try LeaderElectionTiming(retryPeriod: .zero).validate()
        }
    }

    @Test func aLeaseDurationOfPartSecondsIsRefused() {
        // leaseDurationSeconds is an integer: 4.5 s would be written as 4 and followers would wait too little.
        #expect(throws: LeaderElectionConfigurationError.self) {
            try LeaderElectionTiming(leaseDuration: .milliseconds(4500), renewDeadline: .seconds(3), retryPeriod: .milliseconds(500)).validate()
        }
    }

    // MARK: The leader's term

    @Test func theTermRunsFromTheStartOfTheLastSuccessfulRenewal() {
        var state = LeaderElectionState(identity: "a")
        #expect(!state.mayWrite(at: .zero), "a process that never led may not write")
        guard case .create(let spec) = state.decide(current: nil, now: .seconds(1), wallClock: wall) else {
            Issue.record("expected create")
            return
        }
        // The attempt sent its GET at 0.5 s, the create answered at 1.2 s: the term ends at 10.5 s.
        state.wrote(spec, startedAt: .milliseconds(500), now: .milliseconds(1200))
        #expect(state.termEnd == .milliseconds(10_500))
        #expect(state.mayWrite(at: .seconds(10)))
        #expect(!state.mayWrite(at: .milliseconds(10_500)), "a write at the deadline itself")
        #expect(state.termIsOver(at: .milliseconds(10_500)))
        // While leading, an attempt must be done by the term's end, not by now + renew deadline.
        #expect(state.attemptDeadline(now: .seconds(8)) == .milliseconds(10_500))
        // A renewal that started at 8 s and answered at 9.9 s extends the term to 18 s.
        state.wrote(spec, startedAt: .seconds(8), now: .milliseconds(9900))
        #expect(state.termEnd == .seconds(18))
        // A late answer of an older attempt never shortens it.
        state.wrote(spec, startedAt: .seconds(7), now: .seconds(10))
        #expect(state.termEnd == .seconds(18))
        state.endTerm()
        #expect(!state.mayWrite(at: .seconds(11)))
        // Not leading: an acquire attempt gets the renew deadline from its start.
        #expect(state.attemptDeadline(now: .seconds(20)) == .seconds(30))
    }

    @Test func theTermEndsBeforeAFollowerMayTakeOver() {
        // The leader's renewal starts at t = 100 and its PUT lands; the follower's GET sent at
        // 100.1 answers at 103 (a slow answer). Both on one monotonic time line here.
        let timing = LeaderElectionTiming()
        var leader = LeaderElectionState(identity: "a", timing: timing)
        let record = LeaseSpec(holderIdentity: "a", leaseDurationSeconds: 15, renewTime: MicroTime(wall), leaseTransitions: 0)
        leader.wrote(record, startedAt: .seconds(100), now: .milliseconds(100_050))
        var follower = LeaderElectionState(identity: "b", timing: timing)
        // The observation is dated at the answer (103 s), so the follower waits until 118 s.
        #expect(follower.decide(current: record, now: .seconds(103), wallClock: wall) == .heldByOther(holder: "a", remaining: .seconds(15)))
        guard case .heldByOther = follower.decide(current: record, now: .milliseconds(117_999), wallClock: wall) else {
            Issue.record("took over before the lease duration had passed since the observation")
            return
        }
        // The leader stopped writing at 110 s: a margin of lease duration − renew deadline at least.
        let leaderStops = leader.termEnd!
        #expect(leaderStops == .seconds(110))
        guard case .update = follower.decide(current: record, now: .seconds(118), wallClock: wall) else {
            Issue.record("no takeover after the lease expired")
            return
        }
        #expect(.seconds(118) - leaderStops >= timing.leaseDuration - timing.renewDeadline)
    }
}

@Suite("Leadership fence")
struct LeadershipFenceTests {
    let fence = LeadershipFence(leaseNamespace: "ops", leaseName: "tandem-operator")
    let start = ContinuousClock.now

    @Test func writesNeedATermThatHasNotEnded() throws {
        #expect(throws: NotLeadingError.self) {
            try fence.check(method: "PATCH", path: "/apis/apps/v1/namespaces/a/deployments/x", now: start)
        }
        // Reads are never fenced.
        try fence.check(method: "GET", path: "/apis/apps/v1/namespaces/a/deployments/x", now: start)
        fence.lead(until: start + .seconds(10))
        #expect(fence.isLeading(at: start + .seconds(9)))
        try fence.check(method: "PATCH", path: "/apis/apps/v1/namespaces/a/deployments/x", now: start + .seconds(9))
        // At and after the term's end: refused, saying how long ago it ended.
        do {
            try fence.check(method: "DELETE", path: "/api/v1/namespaces/a/services/x", now: start + .seconds(11))
            Issue.record("a write after the term's end was allowed")
        } catch let error as NotLeadingError {
            #expect(error.endedAgo == .seconds(1))
            #expect(error.description.contains("DELETE /api/v1/namespaces/a/services/x"))
        }
        #expect(!fence.isLeading(at: start + .seconds(10)))
        fence.close()
        #expect(fence.leadingUntil == nil)
    }

    @Test func theLeaseAndReviewsAreExempt() throws {
        // Not leading, yet the elector may create and update its Lease (it bounds those itself).
        try fence.check(method: "POST", path: "/apis/coordination.k8s.io/v1/namespaces/ops/leases", now: start)
        try fence.check(method: "PUT", path: "/apis/coordination.k8s.io/v1/namespaces/ops/leases/tandem-operator", now: start)
        try fence.check(method: "POST", path: "/apis/authentication.k8s.io/v1/tokenreviews", now: start)
        try fence.check(method: "POST", path: "/apis/authorization.k8s.io/v1/subjectaccessreviews", now: start)
        // Another Lease is not.
        #expect(throws: NotLeadingError.self) {
            try fence.check(method: "PUT", path: "/apis/coordination.k8s.io/v1/namespaces/ops/leases/other", now: start)
        }
    }
}
