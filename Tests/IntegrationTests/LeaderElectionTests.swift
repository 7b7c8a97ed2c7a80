import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import KubeTestSupport
import Synchronization
import Testing

@Suite("Leader election against a real API server")
struct LeaderElectionTests {
    @Test func oneLeaderAtATimeWithTimelyHandover() async throws {
        let cluster = try await TestCluster.shared()
        try await cluster.withNamespace("lease") { admin, namespace in
            let clients = try (0..<3).map { _ in try cluster.adminClient() }
            let electors = ["a", "b", "c"].enumerated().map { index, name in
                LeaderElector(client: clients[index], namespace: namespace, leaseName: "demo", identity: name)
            }
            let a = electors[0], b = electors[1], c = electors[2]

            // A watchdog samples who thinks it leads; two at once is a failure.
            let overlap = Atomic<Int>(0)
            let watchdog = Task {
                while !Task.isCancelled {
                    if electors.filter(\.isLeader).count > 1 { overlap.add(1, ordering: .relaxed) }
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
            defer { watchdog.cancel() }

            let runA = Task { try await a.run { try? await Task.sleep(for: .seconds(3600)) } }
            _ = try await eventually("a to lead") { a.isLeader ? true : nil }
            let runB = Task { try await b.run { try? await Task.sleep(for: .seconds(3600)) } }
            try await Task.sleep(for: .seconds(3))
            #expect(!b.isLeader, "b leads while a renews")

            // a stops without releasing: its connections die (a crash or a partition).
            let stoppedAt = ContinuousClock.now
            try await clients[0].shutdown()
            // Liveness: b takes over. The deadline bounds a failure (client-go's bound on an idle
            // machine is lease duration + 2 × retry period × (1 + jitter 1.2) ≈ 23.8 s; beside a
            // busy core the API calls on the way took 25 s): the figure is printed, not asserted.
            _ = try await eventually("b to take over") { b.isLeader ? true : nil }
            let takeover = ContinuousClock.now - stoppedAt
            print("leader election: takeover after an unreleased stop took \(takeover) (client-go's idle bound ≈ 23.8 s)")
            // (No lower bound: a's last renewal may precede the stop under load. Safety is the
            // watchdog's business: never two leaders at once.)
            // a noticed it could not renew and stopped leading.
            let aResult = await runA.result
            if case .failure(let error) = aResult {
                #expect(error is LeaderElectionError, "\(error)")
            } else {
                Issue.record("a kept running after losing the lease")
            }
            #expect(!a.isLeader)

            // A graceful stop releases the lease: c takes over without waiting out its 15 s (on an
            // idle machine within two retry periods, the printed figure).
            let runC = Task { try await c.run { try? await Task.sleep(for: .seconds(3600)) } }
            try await Task.sleep(for: .seconds(2))
            #expect(!c.isLeader)
            let releasedAt = ContinuousClock.now
            runB.cancel()
            try await runB.value
            _ = try await eventually("c to take over after the release") { c.isLeader ? true : nil }
            let handover = ContinuousClock.now - releasedAt
            print("leader election: takeover after a graceful release took \(handover)")
            #expect(handover < .seconds(15), "took over \(handover) after a graceful release: it waited out the lease")

            let lease = try await admin.resources(Lease.self, namespace: namespace).get("demo")
            #expect(lease.spec?.holderIdentity == "c")
            #expect(lease.spec?.leaseTransitions == 2)
            runC.cancel()
            try await runC.value
            let released = try await admin.resources(Lease.self, namespace: namespace).get("demo")
            #expect(released.spec?.holderIdentity == nil)
            #expect(overlap.load(ordering: .relaxed) == 0, "two leaders were seen at once")
            for client in clients.dropFirst() { try await client.shutdown() }
        }
    }

    /// A leader whose Lease traffic is cut while its worker keeps writing (a reconcile does not
    /// notice cancellation between two requests): no write of the worker is accepted once the
    /// term has ended, and the follower takes over only lease duration − renew deadline later.
    @Test func noWriteLeavesALeaderAfterItsRenewDeadline() async throws {
        let cluster = try await TestCluster.shared()
        try await cluster.withNamespace("fence") { admin, namespace in
            _ = try await admin.resources(ConfigMap.self, namespace: namespace).create(
                ConfigMap(metadata: ObjectMeta(name: "counter"), data: ["n": "0"]))
            // On a machine busy enough that the API server answers a renewal only after the
            // renew deadline, a loses its term before the test cuts it: nothing is then left to
            // observe, so the scenario starts again on a fresh Lease (safety is checked in every
            // attempt that reaches the cut).
            for attempt in 1...3 {
                if try await fencedLeader(cluster: cluster, admin: admin, namespace: namespace, leaseName: "fenced-\(attempt)") {
                    return
                }
                print("leader election: a lost its lease under load before the cut (attempt \(attempt)); again on a fresh Lease")
            }
            Issue.record("in 3 attempts a lost its lease before the cut every time: the API server answered no renewal within 6 s")
        }
    }

    /// One run of the fenced-leader scenario; false when a lost its term before the cut.
    func fencedLeader(cluster: TestCluster, admin: KubernetesClient, namespace: String, leaseName: String) async throws -> Bool {
        // Compressed timings, roomy enough that a busy machine's slow renewals seldom end the
        // term before the test cuts it.
        let timing = LeaderElectionTiming(leaseDuration: .seconds(8), renewDeadline: .seconds(6), retryPeriod: .seconds(1))
        let fence = LeadershipFence(leaseNamespace: namespace, leaseName: leaseName)
        let leaseClient = try cluster.adminClient()
        let workClient = try cluster.adminClient { $0.writeGate = fence.writeGate }
        let followerClient = try cluster.adminClient()
        defer {
            Task {
                try? await leaseClient.shutdown()
                try? await workClient.shutdown()
                try? await followerClient.shutdown()
            }
        }
        let a = LeaderElector(client: leaseClient, namespace: namespace, leaseName: leaseName, identity: "a", timing: timing, fence: fence)
        let b = LeaderElector(client: followerClient, namespace: namespace, leaseName: leaseName, identity: "b", timing: timing)

        // The last term end a ever had, sampled often (the fence forgets it when a stops).
        let lastTermEnd = Mutex<ContinuousClock.Instant?>(nil)
        let bLeadsSince = Mutex<ContinuousClock.Instant?>(nil)
        let sampler = Task {
            while !Task.isCancelled {
                if let until = a.leadingUntil { lastTermEnd.withLock { $0 = until } }
                if b.isLeader { bLeadsSince.withLock { $0 = $0 ?? .now } }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        defer { sampler.cancel() }

        let runA = Task { try await a.run { try? await Task.sleep(for: .seconds(3600)) } }
        _ = try await eventually("a to lead") { a.isLeader ? true : nil }
        let runB = Task { try await b.run { try? await Task.sleep(for: .seconds(3600)) } }
        defer { runB.cancel() }

        // The worker: writes every 50 ms whatever happens, logging when each was sent.
        let log = Mutex<[(sentAt: ContinuousClock.Instant, outcome: String)]>([])
        let worker = Task {
            var n = 0
            while !Task.isCancelled {
                n += 1
                let sentAt = ContinuousClock.now
                let outcome: String
                do {
                    _ = try await workClient.resources(ConfigMap.self, namespace: namespace)
                        .patch("counter", .merge(["data": ["n": .string("\(n)")]]))
                    outcome = "accepted"
                } catch is NotLeadingError {
                    outcome = "fenced"
                } catch {
                    outcome = "failed: \(error)"
                }
                log.withLock { $0.append((sentAt, outcome)) }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        defer { worker.cancel() }
        let ready = try await eventually("accepted writes while leading (or a's term lost before the cut)") { () -> Bool? in
            if log.withLock({ $0.filter { $0.outcome == "accepted" }.count }) >= 5 { return true }
            return a.isLeader ? nil : false
        }
        guard ready, a.isLeader else {
            runA.cancel()
            _ = await runA.result
            return false
        }

        // Cut a's Lease traffic only.
        try await leaseClient.shutdown()
        let aResult = await runA.result
        guard case .failure(let error) = aResult, error is LeaderElectionError else {
            Issue.record("a did not stop with a lost lease: \(aResult)")
            return true
        }
        let termEnd = try #require(lastTermEnd.withLock { $0 })
        #expect(!a.isLeader)
        #expect(ContinuousClock.now - termEnd < .seconds(10), "a stopped \(ContinuousClock.now - termEnd) after its term")
        _ = try await eventually("fenced writes after the term") { () -> Bool? in
            log.withLock { $0.contains { $0.sentAt > termEnd && $0.outcome == "fenced" } } ? true : nil
        }
        let entries = log.withLock { $0 }
        let late = entries.filter { $0.sentAt >= termEnd && $0.outcome == "accepted" }
        #expect(late.isEmpty, "\(late.count) writes accepted that were started after the term's end")
        #expect(entries.contains { $0.sentAt < termEnd && $0.outcome == "accepted" })

        // The follower leads no earlier than lease duration after a's last renewal began,
        // i.e. at least lease duration − renew deadline after a's term ended.
        // Waits for the sampler's record, not for b.isLeader: on a busy machine the sampler may
        // not have run between b's acquisition and this check.
        let since = try await eventually("b to take over") { bLeadsSince.withLock { $0 } }
        print("leader election: term ended → follower leads after \(since - termEnd) (margin ≥ \(timing.leaseDuration - timing.renewDeadline))")
        #expect(since - termEnd >= timing.leaseDuration - timing.renewDeadline, "b led \(since - termEnd) after a's term ended")
        runB.cancel()
        try await runB.value
        worker.cancel()
        _ = await worker.result
        return true
    }
}
