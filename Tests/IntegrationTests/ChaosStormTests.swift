import FaultProxy
import Foundation
import KubeClient
import KubeCore
import KubeTestSupport
import Rendering
import Synchronization
import TandemAPI
import Testing

/// The fault suite's scenarios on the control plane itself and on the leader's path (issue 14,
/// "The fault suite"): API server restarts, etcd compaction, a slow API. Part of the chaos smoke
/// suite (same cluster, same serialization, same `chaos-smoke:` figures).
extension ChaosSmokeTests {
    /// kube-apiserver SIGKILLed and started again at seeded random intervals while the test edits
    /// specs and deletes pods and children: no child lost or duplicated, every pool converged
    /// after the last restart, no crash (a lost lease is an orderly exit, restarted).
    @Test func apiServerRestartStorm() async throws {
        try await ChaosSetup.run("storm") { setup in
            let pools = ["alpha", "beta", "gamma"]
            try await setup.createPools(pools)
            _ = try await setup.waitForLeader()
            _ = try await setup.waitForInvariants("the pools to converge before the restart storm")

            var random = SplitMix64(seed: ChaosTiming.restartSeed)
            func draw(_ range: ClosedRange<Int>) -> Duration {
                .milliseconds(range.lowerBound + Int(random.next() % UInt64(range.count)))
            }
            var uptimes: [Duration] = []
            var downtimes: [Duration] = []
            var churn = StormChurn()
            for restart in 1...ChaosTiming.restarts {
                let uptime = draw(ChaosTiming.stormUptime)
                uptimes.append(uptime)
                let until = ContinuousClock.now + uptime
                repeat {
                    await churn.step(setup, pools: pools, seqs: 500 + restart)
                    try await Task.sleep(for: .milliseconds(700))
                } while ContinuousClock.now < until
                try setup.cluster.killAPIServer()
                let killed = ContinuousClock.now
                try await Task.sleep(for: draw(ChaosTiming.stormDowntime))
                try await setup.cluster.restart()
                downtimes.append(ContinuousClock.now - killed)
            }
            let lastRestart = ContinuousClock.now
            // One more edit after the last restart: the pools must converge to it.
            _ = try await eventually("the edit after the last restart to be accepted") { () -> Bool? in
                try await setup.edit("alpha", seqs: 999)
                return true
            }
            churn.edits += 1
            let leader = try await setup.waitForLeader(timeout: .seconds(120))
            let report = try await setup.waitForInvariants("every pool to converge after the last restart", timeout: .seconds(180))
            let converged = ContinuousClock.now - lastRestart
            let crashes = setup.supervisor.crashes
            #expect(crashes.isEmpty, "operator processes crashed in the restart storm: \(crashes)")
            #expect(report.missing == 0 && report.extra == 0)
            let lost = setup.supervisor.exits.filter(\.leadershipLost).count
            print("chaos-smoke: restart storm (\(ChaosTiming.profile)): \(ChaosTiming.restarts) API server restarts (seed \(ChaosTiming.restartSeed)), "
                  + "up \(uptimes.map(chaosSeconds).joined(separator: ", ")) before each, down (kill to ready) \(downtimes.map(chaosSeconds).joined(separator: ", ")); "
                  + "\(churn.edits) spec edits, \(churn.podDeletions) pods and \(churn.childDeletions) children deleted, \(churn.refused) churn requests refused while down; "
                  + "converged \(chaosSeconds(converged)) after the last restart, \(leader) leads; crashes \(crashes.count), exits on a lost lease \(lost)")
            setup.print(report, scenario: "restart storm", faults: ChaosTiming.restarts)
        }
    }

    /// etcd compacted up to its current revision again and again, each time the operator
    /// processes' watch connections reset (so every informer resumes its watch from a version
    /// older than the compaction) and a child deleted by hand: each child back, and at most one
    /// LIST per informer (process and resource) per compaction.
    @Test func etcdCompaction() async throws {
        try await ChaosSetup.run("compact") { setup in
            try await setup.createPools(["alpha", "beta"])
            _ = try await setup.waitForLeader()
            _ = try await setup.waitForInvariants("the pools to converge before the compactions")
            // The initial lists are done: count from here.
            let start = ContinuousClock.now
            let children = try await setup.deletableChildren(["alpha", "beta"])
            var compactions = 0
            var resets = 0
            var back: [Duration] = []
            var revisions: [Int64] = []
            while ContinuousClock.now - start < ChaosTiming.compaction {
                let revision = try await setup.cluster.etcdRevision()
                try await setup.cluster.compactEtcd(to: revision)
                revisions.append(revision)
                compactions += 1
                // To the reflector a reset is a failed watch: its backoff (client-go's, 0.8 s doubling
                // to 30 s, jitter 1.0, forgotten after 2 min without a failure) grows round by
                // round, so a child deleted in a later round is back later (hence the deadline).
                resets += setup.proxy.resetConnections(where: .watches)
                let child = children[(compactions - 1) % children.count]
                back.append(try await setup.deleteAndAwaitBack(child, timeout: .seconds(180)))
                try await Task.sleep(for: .seconds(1))
            }
            let end = ContinuousClock.now
            let report = try await setup.waitForInvariants("every invariant after the compactions")

            let lists = setup.proxy.records.filter {
                $0.received > start && $0.received <= end && $0.identity != nil && $0.method == "GET" && !$0.isWatch
                    && collectionResource($0.path) != nil
            }
            var perInformer: [String: Int] = [:]
            for list in lists { perInformer["\(list.identity!) \(collectionResource(list.path)!)", default: 0] += 1 }
            // A process the supervisor restarted lists everything once more when it starts.
            let starts = Dictionary(grouping: setup.supervisor.exits, by: \.identity).mapValues(\.count)
            let over = perInformer.filter { key, count in
                count > compactions + (starts[String(key.split(separator: " ")[0])] ?? 0)
            }
            #expect(over.isEmpty, "informers that listed more than once per compaction (\(compactions)): \(over)")
            #expect(setup.supervisor.crashes.isEmpty, "operator processes crashed: \(setup.supervisor.crashes)")
            let expired = ChaosSetup.identities.map { identity in
                "\(identity) \(setup.fleet.output(identity).components(separatedBy: "watch expired (410)").count - 1)"
            }
            let watches = setup.proxy.records.filter { $0.received > start && $0.received <= end && $0.isWatch && $0.identity != nil }
            let gone = watches.filter { $0.status == 410 }.count
            print("chaos-smoke: compaction (\(ChaosTiming.profile)): \(compactions) compactions in \(chaosSeconds(end - start)) "
                  + "(revisions \(revisions.first ?? 0)…\(revisions.last ?? 0)), \(resets) watch connections reset after them; "
                  + "\(compactions) children deleted by hand, each back after \(back.map(chaosSeconds).joined(separator: ", ")); "
                  + "\(watches.count) watch requests, \(gone) answered 410; watch-expired relists logged: \(expired.joined(separator: ", ")); "
                  + "LISTs after the initial ones by process and resource: "
                  + (perInformer.isEmpty ? "none" : perInformer.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
            setup.print(report, scenario: "compaction", faults: compactions)
        }
    }

    /// Latency on the leader's connections below lease duration − renew deadline, then its
    /// renewals held to force a handover while it still writes: no identity's write reaches the
    /// API server in another identity's leadership term (asserted).
    @Test func slowAPIBelowTheElectionSlack() async throws {
        try await slowAPI("slowbelow", latency: ChaosTiming.slowBelow, asserted: true)
    }

    /// The same with latency above lease duration − renew deadline: the overlap of terms and
    /// writes is measured and printed, not asserted.
    @Test func slowAPIAboveTheElectionSlack() async throws {
        try await slowAPI("slowabove", latency: ChaosTiming.slowAbove, asserted: false)
    }

    private func slowAPI(_ name: String, latency: Duration, asserted: Bool) async throws {
        try await ChaosSetup.run(name) { setup in
            let pools = ["alpha", "beta"]
            try await setup.createPools(pools)
            let leader = try await setup.waitForLeader()
            _ = try await setup.waitForInvariants("the pools to converge before the slow API")

            // Every byte of the leader's connections, both ways, `latency` late (new ones too:
            // a restarted process of the same identity is as slow).
            let slow = setup.proxy.inject(.latency(latency), at: .connection, for: .identity(leader))
            let slowStart = ContinuousClock.now
            var edits = 0
            while ContinuousClock.now - slowStart < ChaosTiming.slowWindow {
                edits += 1
                try await setup.edit(pools[edits % pools.count], seqs: 600 + edits)
                try await Task.sleep(for: .seconds(1))
            }
            // A handover under the latency: the leader's Lease writes held while it keeps
            // writing (a process the supervisor restarts under its identity is held alike, so
            // it stays a follower until the faults end).
            let exitsUnderLatency = setup.supervisor.exits.filter { $0.identity == leader }.count
            // The leader's Lease requests under the latency alone: how long each took at the
            // proxy (its bytes' arrival to the response's end, before the way back's latency).
            let heldFrom = ContinuousClock.now
            let leaseRequests = setup.proxy.records.filter {
                $0.identity == leader && $0.path.hasPrefix(setup.leaseCollection) && !$0.isWatch && $0.received >= slowStart && $0.received < heldFrom
            }
            let slowest = leaseRequests.compactMap { record in record.finished.map { $0 - record.arrived } }.max()
            let leaseFailures = leaseRequests.filter { ![200, 201].contains($0.status ?? 0) }.count
            let held = setup.proxy.inject(.blackhole, for: .identity(leader) && .path(containing: "/leases/") && .mutating)
            let heldAt = ContinuousClock.now
            let deadline = heldAt + .seconds(Int64(90 + 4 * ChaosTiming.lease.components.seconds))
            var newLeader: String?
            while ContinuousClock.now < deadline {
                edits += 1
                try await setup.edit(pools[edits % pools.count], seqs: 600 + edits)
                if let holder = try await setup.leaderIdentity(), holder != leader, setup.fleet.isRunning(holder) {
                    newLeader = holder
                    break
                }
                try await Task.sleep(for: .milliseconds(500))
            }
            let handover = ContinuousClock.now - heldAt
            try #require(newLeader != nil, "no handover from \(leader) within \(chaosSeconds(deadline - heldAt)) of holding its renewals")
            // A few more edits for the new leader, while the old one's last writes are in flight.
            for _ in 1...3 {
                edits += 1
                try await setup.edit(pools[edits % pools.count], seqs: 600 + edits)
                try await Task.sleep(for: .seconds(1))
            }
            setup.proxy.remove(held)
            setup.proxy.remove(slow)
            let report = try await setup.waitForInvariants("every invariant after the slow API", timeout: .seconds(120))

            let analysis = LeadershipTerms(records: setup.proxy.records, leasePath: setup.leasePath, leaseCollection: setup.leaseCollection)
            let worst = analysis.overlaps.map(\.overlap).max()
            if asserted {
                #expect(analysis.overlaps.isEmpty, "writes in another identity's term: \(analysis.overlaps.map(\.description))")
            }
            #expect(setup.supervisor.crashes.isEmpty, "operator processes crashed: \(setup.supervisor.crashes)")
            print("chaos-smoke: slow API \(asserted ? "below" : "above") lease − renew deadline (\(ChaosTiming.profile)): "
                  + "latency \(chaosSeconds(latency)) each way on \(leader)'s connections (slack \(chaosSeconds(ChaosTiming.electionSlack))); "
                  + "\(edits) edits; \(leader) exited on a lost lease under the latency alone \(exitsUnderLatency) times "
                  + "(its \(leaseRequests.count) Lease requests meanwhile: slowest \(slowest.map(chaosSeconds) ?? "-") at the proxy, \(leaseFailures) not 200/201); "
                  + "handover after its renewals were held \(chaosSeconds(handover)); \(analysis.terms.count) terms "
                  + "(\(analysis.terms.map(\.identity).joined(separator: " → "))), \(analysis.writes) writes reached the API server; "
                  + "writes in another identity's term \(analysis.overlaps.count)"
                  + (worst.map { ", overlap up to \(chaosSeconds($0))" } ?? "")
                  + (asserted ? "" : " (measured, not asserted)"))
            setup.print(report, scenario: "slow API \(asserted ? "below" : "above")", faults: 2)
        }
    }
}

/// The restart storm's churn: spec edits, pod and child deletions in turn, each tolerated to
/// fail while the API server is down (counted).
struct StormChurn {
    var edits = 0
    var podDeletions = 0
    var childDeletions = 0
    var refused = 0
    private var turn = 0

    mutating func step(_ setup: ChaosSetup, pools: [String], seqs: Int) async {
        turn += 1
        let pool = pools[turn % pools.count]
        do {
            switch turn % 3 {
            case 0:
                try await setup.edit(pool, seqs: seqs * 10 + turn % 10)
                edits += 1
            case 1:
                // The controller-manager's ReplicaSets make the (Pending) pods; it makes them again.
                let pods = try await setup.admin.resources(Pod.self, namespace: setup.namespace).list().items
                if let pod = pods.randomElement(), let name = pod.metadata.name {
                    _ = try await setup.admin.resources(Pod.self, namespace: setup.namespace).delete(name)
                    podDeletions += 1
                }
            default:
                let tier: TierName = turn % 2 == 0 ? .decode : .prefill
                _ = try await setup.admin.resources(Deployment.self, namespace: setup.namespace).delete(ChildNames.tier(pool, tier))
                childDeletions += 1
            }
        } catch {
            refused += 1
        }
    }
}

extension ChaosSetup {
    /// The Deployments, Services and ConfigMaps `tandem render` gives the pools.
    func deletableChildren(_ pools: [String]) async throws -> [ChildKey] {
        var keys: [ChildKey] = []
        for name in pools {
            let pool = try await admin.resources(InferencePool.self, namespace: namespace).get(name)
            keys += try await render.children(of: pool).filter { ["Deployment", "Service", "ConfigMap"].contains($0.kind) }.sorted()
        }
        return keys
    }

    /// Deletes `child` and waits until the operator made it again (a new uid); returns how long.
    func deleteAndAwaitBack(_ child: ChildKey, timeout: Duration) async throws -> Duration {
        func uid() async throws -> String? {
            switch child.kind {
            case "Deployment": return try await admin.resources(Deployment.self, namespace: namespace).getIfExists(child.name)?.metadata.uid
            case "Service": return try await admin.resources(Service.self, namespace: namespace).getIfExists(child.name)?.metadata.uid
            default: return try await admin.resources(ConfigMap.self, namespace: namespace).getIfExists(child.name)?.metadata.uid
            }
        }
        let old = try #require(try await uid(), "\(child) does not exist before its deletion")
        switch child.kind {
        case "Deployment": _ = try await admin.resources(Deployment.self, namespace: namespace).delete(child.name)
        case "Service": _ = try await admin.resources(Service.self, namespace: namespace).delete(child.name)
        default: _ = try await admin.resources(ConfigMap.self, namespace: namespace).delete(child.name)
        }
        let deleted = ContinuousClock.now
        _ = try await eventually(timeout: timeout, "\(child) to be made again after its deletion") { () -> Bool? in
            guard let now = try await uid(), now != old else { return nil }
            return true
        }
        return ContinuousClock.now - deleted
    }
}

/// `group/resource` of a collection path (`/api/v1/namespaces/n/pods` → `pods`,
/// `/apis/apps/v1/deployments` → `apps/deployments`); nil for an object or subresource path.
func collectionResource(_ path: String) -> String? {
    let parts = path.split(separator: "/").map(String.init)
    let rest: ArraySlice<String>
    let group: String
    if parts.first == "api", parts.count >= 2 {
        group = ""
        rest = parts.dropFirst(2)
    } else if parts.first == "apis", parts.count >= 3 {
        group = parts[1]
        rest = parts.dropFirst(3)
    } else {
        return nil
    }
    let resource: String
    switch rest.count {
    case 1: resource = rest[rest.startIndex]
    case 3 where rest[rest.startIndex] == "namespaces": resource = rest[rest.startIndex + 2]
    default: return nil
    }
    return group.isEmpty ? resource : "\(group)/\(resource)"
}

/// Leadership terms from the proxy's record of accepted Lease writes (a process writes the
/// Lease only while it holds it or to take it), and the mutating requests each identity had
/// forwarded to the API server while another identity's term ran.
struct LeadershipTerms {
    struct Term {
        var identity: String
        var start: ContinuousClock.Instant
    }
    struct Overlap: CustomStringConvertible {
        var record: ProxyRecord
        var holder: String
        /// How long after the holder's term began the write reached the API server.
        var overlap: Duration
        var description: String { "\(record) \(chaosSeconds(overlap)) into \(holder)'s term" }
    }

    var terms: [Term] = []
    var overlaps: [Overlap] = []
    var writes = 0

    init(records: [ProxyRecord], leasePath: String, leaseCollection: String) {
        func at(_ record: ProxyRecord) -> ContinuousClock.Instant { record.forwarded ?? record.received }
        let leaseWrites = records.filter {
            $0.identity != nil && [200, 201].contains($0.status ?? 0)
                && (($0.method == "PUT" && $0.path == leasePath) || ($0.method == "POST" && $0.path == leaseCollection))
        }.sorted { at($0) < at($1) }
        for write in leaseWrites where terms.last?.identity != write.identity {
            terms.append(Term(identity: write.identity!, start: at(write)))
        }
        for record in records where record.isMutating && record.identity != nil && record.forwarded != nil
            && !record.path.hasPrefix(leaseCollection) {
            writes += 1
            let t = at(record)
            guard let term = terms.last(where: { $0.start <= t }) else {
                overlaps.append(Overlap(record: record, holder: "nobody", overlap: .zero))
                continue
            }
            if term.identity != record.identity {
                overlaps.append(Overlap(record: record, holder: term.identity, overlap: t - term.start))
            }
        }
    }
}
