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
            _ = try await eventually(timeout: .seconds(10), "a to lead") { a.isLeader ? true : nil }
            let runB = Task { try await b.run { try? await Task.sleep(for: .seconds(3600)) } }
            try await Task.sleep(for: .seconds(3))
            #expect(!b.isLeader, "b leads while a renews")

            // a stops without releasing: its connections die (a crash or a partition).
            let stoppedAt = ContinuousClock.now
            try await clients[0].shutdown()
            _ = try await eventually(timeout: .seconds(40), "b to take over") { b.isLeader ? true : nil }
            let takeover = ContinuousClock.now - stoppedAt
            print("leader election: takeover after an unreleased stop took \(takeover)")
            // lease duration + 2 × retry period × (1 + jitter 1.2): client-go's bound, ≈ 23.8 s.
            #expect(takeover <= .seconds(15) + .seconds(2) * 2 * 2.2, "took over after \(takeover)")
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

            // A graceful stop releases the lease: c takes over within two retry periods.
            let runC = Task { try await c.run { try? await Task.sleep(for: .seconds(3600)) } }
            try await Task.sleep(for: .seconds(2))
            #expect(!c.isLeader)
            let releasedAt = ContinuousClock.now
            runB.cancel()
            try await runB.value
            _ = try await eventually(timeout: .seconds(10), "c to take over after the release") { c.isLeader ? true : nil }
            let handover = ContinuousClock.now - releasedAt
            print("leader election: takeover after a graceful release took \(handover)")
            #expect(handover <= .seconds(4), "took over \(handover) after a graceful release")

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
}
