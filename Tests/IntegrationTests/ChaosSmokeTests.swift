import FaultProxy
import Foundation
import KubeClient
import KubeCore
import KubeTestSupport
import Rendering
import Synchronization
import TandemAPI
import Testing
import Yams

/// The chaos smoke (issue 14, "The fault suite", the `make test` tier): two `tandem operator`
/// processes through the fault proxy on a cluster of the suite's own, compressed election
/// timings, a few pools with `Disabled` tiers (no node agent: pods need not run). Safety is
/// asserted exactly from the proxy's record; liveness against generous deadlines. Every figure
/// is printed with the prefix `chaos-smoke:`.
@Suite("Chaos smoke: operator processes through the fault proxy", .serialized)
struct ChaosSmokeTests {
    @Test func leaderBlackhole() async throws {
        try await ChaosSetup.run("blackhole") { setup in
            try await setup.createPools(["alpha", "beta", "gamma"])
            let leader = try await setup.waitForLeader()
            let follower = setup.other(than: leader)
            _ = try await setup.waitForInvariants("the pools to converge before the blackhole")

            // Not restarted: a new process of the same identity would be blackholed too, and its
            // requests must not be taken for the old one's.
            setup.supervisor.hold(leader)
            let holeStart = ContinuousClock.now
            let hole = setup.proxy.inject(.blackhole, at: .connection, for: .identity(leader))
            let takeover = try await setup.waitForLeader(timeout: .seconds(60), notBeing: leader)
            #expect(takeover == follower)
            let tookOver = ContinuousClock.now - holeStart
            // The old leader stops leading at its renew deadline and exits (client-go's OnStoppedLeading).
            let exited = try? await eventually("the old leader \(leader) to exit") {
                setup.fleet.isRunning(leader) ? nil : true
            }
            #expect(exited == true, "the blackholed leader \(leader) still runs a minute after losing its lease")
            let exitStatus = setup.fleet.status(leader)?.exit
            setup.proxy.remove(hole)
            // Whatever the hole held is now recorded (with the time its bytes arrived).
            try await Task.sleep(for: .seconds(1))

            let records = setup.proxy.records
            let renewals = records.filter {
                $0.identity == leader && $0.method == "PUT" && $0.path == setup.leasePath && $0.status == 200 && $0.arrived < holeStart
            }
            let lastRenewal = try #require(renewals.max { $0.arrived < $1.arrived }, "no successful renewal of \(leader) in the record")
            let deadline = lastRenewal.arrived + ChaosTiming.renewDeadline
            let late = records.filter { $0.identity == leader && $0.isMutating && $0.arrived > deadline }
            let lastWrite = records.filter { $0.identity == leader && $0.isMutating && !$0.path.hasPrefix(setup.leaseCollection) }
                .map(\.arrived).max()
            let acquisition = try #require(records.first {
                $0.identity == follower && $0.arrived > holeStart && [200, 201].contains($0.status ?? 0)
                    && (($0.method == "PUT" && $0.path == setup.leasePath) || ($0.method == "POST" && $0.path == setup.leaseCollection))
            }, "no accepted Lease write of \(follower) after the blackhole")
            // The follower cannot have observed the renewal before the API server had it, which
            // is after the proxy forwarded it.
            let renewalForwarded = lastRenewal.forwarded ?? lastRenewal.arrived
            let acquireMargin = (acquisition.arrived - renewalForwarded) - ChaosTiming.lease
            #expect(late.isEmpty, "writes of \(leader) after its renew deadline: \(late.map(\.description))")
            #expect(acquireMargin >= .zero, "\(follower) acquired \(acquireMargin) before lease duration after \(leader)'s last renewal")
            let writeMargin = lastWrite.map { deadline - $0 }
            print("chaos-smoke: leader blackhole: faults 1 (connection blackhole on \(leader)); \(follower) led after \(chaosSeconds(tookOver)); "
                  + "\(leader) exited with \(exitStatus.map(String.init) ?? "-"); writes after the renew deadline \(late.count); "
                  + "last write of \(leader) \(writeMargin.map(chaosSeconds) ?? "-") before its renew deadline; "
                  + "acquisition \(chaosSeconds(acquireMargin)) after lease duration past the last renewal")

            // The new leader reconciles an edit.
            let edited = ContinuousClock.now
            try await setup.edit("beta", seqs: 77)
            let report = try await setup.waitForInvariants("the edit to be reconciled by \(follower)")
            #expect(setup.proxy.records.contains {
                $0.identity == follower && $0.isMutating && $0.received > edited && $0.path.contains("/inferencepools/beta")
            }, "\(follower) wrote nothing for the edited pool")
            setup.print(report, scenario: "leader blackhole", faults: 1)
        }
    }

    @Test func tooManyRequestsAndUnavailableFlood() async throws {
        try await ChaosSetup.run("flood") { setup in
            let pools = ["alpha", "beta", "gamma"]
            try await setup.createPools(pools)
            _ = try await setup.waitForLeader()
            _ = try await setup.waitForInvariants("the pools to converge before the flood")

            // Half of every request but the election's refused: writes with 429, reads and
            // watches with 503. (The Lease is spared: losing it is the blackhole's subject.)
            let spared = !RequestMatch.path(containing: "/leases/")
            let floodStart = ContinuousClock.now
            let rules = [
                setup.proxy.inject(.tooManyRequests(fraction: 0.5, retryAfterSeconds: 1), for: spared && .mutating),
                setup.proxy.inject(.serviceUnavailable(fraction: 0.5), for: spared && !RequestMatch.mutating),
            ]
            var edits = 0
            while ContinuousClock.now - floodStart < ChaosTiming.flood {
                let pool = pools[edits % pools.count]
                edits += 1
                try await setup.edit(pool, seqs: 100 + edits)
                try await Task.sleep(for: .seconds(2))
            }
            for rule in rules { setup.proxy.remove(rule) }
            let floodEnd = ContinuousClock.now
            // A lost lease (possible on a busy machine with a 3 s renew deadline) is an orderly
            // exit and a restart; anything else is a crash.
            let crashes = setup.supervisor.crashes
            #expect(crashes.isEmpty, "operator processes crashed during the flood: \(crashes)")

            let records = setup.proxy.records.filter { $0.received >= floodStart && $0.received <= floodEnd && $0.identity != nil }
            let refused = records.filter { [429, 503].contains($0.status ?? 0) && !$0.faults.isEmpty }.count
            var perSecond: [String: [Int: Int]] = [:]
            for record in records {
                let second = Int((record.received - floodStart) / .seconds(1))
                perSecond[record.identity!, default: [:]][second, default: 0] += 1
            }
            let peaks = perSecond.mapValues { $0.values.max() ?? 0 }
            let peak = peaks.values.max() ?? 0
            // A hot retry loop makes hundreds a second; the client's retries, the informers'
            // backoff and the queue's rate limiter keep a process far below.
            #expect(peak <= ChaosTiming.maxRequestsPerSecond, "request rate peaked at \(peak)/s: \(peaks)")

            let report = try await setup.waitForInvariants("every pool to converge after the flood", timeout: .seconds(120))
            #expect(setup.supervisor.crashes.isEmpty, "operator processes crashed after the flood: \(setup.supervisor.crashes)")
            print("chaos-smoke: 429/503 flood: \(chaosSeconds(floodEnd - floodStart)) with \(edits) edits; \(records.count) requests, "
                  + "\(refused) refused; peak requests per second by process \(peaks.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); "
                  + "crashes \(crashes.count), exits on a lost lease \(setup.supervisor.exits.filter(\.leadershipLost).count)")
            setup.print(report, scenario: "429/503 flood", faults: refused)
        }
    }

    @Test func killTheLeaderMidReconcile() async throws {
        try await ChaosSetup.run("kill") { setup in
            try await setup.createPools(["alpha", "beta", "gamma"])
            _ = try await setup.waitForLeader()
            _ = try await setup.waitForInvariants("the pools to converge before the kills")

            // alpha's Disabled decode tier asks for 3 replicas: no sample may see another number.
            let decode = ChildNames.tier("alpha", .decode)
            let samples = Mutex<(count: Int, wrong: [Int32?])>((0, []))
            let deployments = setup.admin.resources(Deployment.self, namespace: setup.namespace)
            let sampler = Task {
                while !Task.isCancelled {
                    if let deployment = try? await deployments.getIfExists(decode) {
                        let replicas = deployment.spec?.replicas
                        samples.withLock { s in
                            s.count += 1
                            if replicas != 3 { s.wrong.append(replicas) }
                        }
                    }
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
            defer { sampler.cancel() }

            var random = SplitMix64(seed: ChaosTiming.killSeed)
            var takeovers: [Duration] = []
            var delays: [Duration] = []
            for kill in 1...ChaosTiming.kills {
                let leader = try await setup.waitForLeader()
                try await setup.edit("alpha", seqs: 300 + kill)
                let delay = Duration.milliseconds(Int64(random.next() % 3001))
                delays.append(delay)
                try await Task.sleep(for: delay)
                let killedAt = ContinuousClock.now
                setup.supervisor.hold(leader)
                setup.fleet.kill(leader)
                let next = try await setup.waitForLeader(timeout: .seconds(60), notBeing: leader)
                #expect(next == setup.other(than: leader))
                takeovers.append(ContinuousClock.now - killedAt)
                // The Deployment restarts it: it competes again as a follower.
                try await setup.restart(leader)
            }
            // A lease and a margin, then every invariant (polled: liveness).
            try await Task.sleep(for: ChaosTiming.lease + .seconds(2))
            let leader = try await setup.waitForLeader()
            let report = try await setup.waitForInvariants("every invariant after the kills", timeout: .seconds(90))
            let final = try await deployments.get(decode).spec?.replicas
            sampler.cancel()
            _ = await sampler.result
            let (count, wrong) = samples.withLock { $0 }
            #expect(wrong.isEmpty, "\(decode) replicas left 3 in \(wrong.count) of \(count) samples: \(wrong)")
            #expect(final == 3)
            #expect(count > 0)
            #expect(setup.supervisor.crashes.isEmpty, "operator processes crashed: \(setup.supervisor.crashes)")
            print("chaos-smoke: kill mid-reconcile: \(ChaosTiming.kills) SIGKILLs (seed \(ChaosTiming.killSeed), delays after the edit "
                  + "\(delays.map(chaosSeconds).joined(separator: ", "))); takeovers \(takeovers.map(chaosSeconds).joined(separator: ", ")); "
                  + "\(leader) leads; \(decode) replicas 3 in \(count - wrong.count) of \(count) samples")
            setup.print(report, scenario: "kill mid-reconcile", faults: ChaosTiming.kills)
        }
    }

    /// Only the leader's existing watch connections frozen: the watchdog notices the silence,
    /// the client moves new watches to a new connection (a resumed watch must not go out as one
    /// more HTTP/2 stream on the half-open one), and a child deleted meanwhile comes back.
    @Test
    func halfOpenWatch() async throws {
        try await ChaosSetup.run("halfopen", extraArguments: ["--watch-idle-timeout", "\(ChaosTiming.watchIdleSeconds)s"]) { setup in
            try await setup.createPools(["alpha", "beta"])
            let leader = try await setup.waitForLeader()
            _ = try await setup.waitForInvariants("the pools to converge before the half-open watch")
            _ = try await eventually("\(leader)'s watch connection in the proxy") {
                setup.proxy.connections.contains { $0.classifier?.identity == leader && $0.classifier?.isWatch == true } ? true : nil
            }
            let frozenAt = ContinuousClock.now
            let freeze = setup.proxy.inject(.blackhole, at: .connection, for: .identity(leader) && .watches, scope: .existing)
            let child = ChildNames.tier("beta", .decode)
            let deployments = setup.admin.resources(Deployment.self, namespace: setup.namespace)
            let old = try await deployments.get(child).metadata.uid
            let deletedAt = ContinuousClock.now
            _ = try await deployments.delete(child)
            let bound = ChaosTiming.watchIdle + ChaosTiming.halfOpenMargin
            let recreated = try? await eventually(timeout: bound, "\(child) to be re-created through a re-established watch") {
                () -> Deployment? in
                guard let deployment = try await deployments.getIfExists(child), deployment.metadata.uid != old else { return nil }
                return deployment
            }
            guard let back = recreated else {
                let watches = setup.proxy.records.filter { $0.identity == leader && $0.isWatch && $0.received > frozenAt }.count
                let frozen = setup.proxy.connections.filter { $0.classifier?.identity == leader && $0.classifier?.isWatch == true }
                Issue.record("\(child) not back within \(chaosSeconds(bound)); watch requests of \(leader) the proxy received since the freeze: \(watches); its watch connections (id, held in/out bytes): \(frozen.map { "c\($0.id) \($0.heldInboundBytes)/\($0.heldOutboundBytes)" })")
                return
            }
            let elapsed = ContinuousClock.now - deletedAt
            // The old watch connection was frozen indeed: the DELETED event waits in the gate.
            let held = setup.proxy.connections.filter { $0.classifier?.identity == leader && $0.classifier?.isWatch == true }
                .map(\.heldOutboundBytes).reduce(0, +)
            #expect(back.spec?.replicas == 3)
            let watchesAfter = setup.proxy.records.filter { $0.identity == leader && $0.isWatch && $0.received > frozenAt }.count
            #expect(try await setup.leaderIdentity() == leader, "the leader changed during the half-open watch")
            setup.proxy.remove(freeze)
            let report = try await setup.waitForInvariants("every invariant after the half-open watch")
            print("chaos-smoke: half-open watch: faults 1 (existing watch connections of \(leader) blackholed); \(child) deleted by hand "
                  + "and back after \(chaosSeconds(elapsed)) (bound: idle timeout \(ChaosTiming.watchIdleSeconds) s + margin "
                  + "\(chaosSeconds(ChaosTiming.halfOpenMargin))); \(watchesAfter) watch requests of \(leader) since the freeze; \(held) bytes held on the frozen connection(s)")
            setup.print(report, scenario: "half-open watch", faults: 1)
        }
    }
}

/// The suite's timings and sizes, in two profiles: the smoke (`make test`, the default) with
/// compressed election timings, and `make chaos`'s production profile
/// (`TANDEM_CHAOS_PROFILE=production`, set by hack/test.sh's `chaos` phase) with client-go's
/// timings and the full counts. Both print every figure.
enum ChaosTiming {
    static let production = ProcessInfo.processInfo.environment["TANDEM_CHAOS_PROFILE"] == "production"
    static var profile: String { production ? "production" : "smoke" }

    // Production: client-go's leaderelection defaults as controller-runtime's manager sets them
    // (LeaseDuration 15 s, RenewDeadline 10 s, RetryPeriod 2 s; controller-runtime
    // pkg/manager/manager.go defaultLeaseDuration/defaultRenewDeadline/defaultRetryPeriod).
    // Smoke: compressed (issue 14: "e.g. a 4 s lease"); renew < lease, retry × 1.2 < renew.
    static let lease: Duration = production ? .seconds(15) : .seconds(4)
    static let renewDeadline: Duration = production ? .seconds(10) : .seconds(3)
    static let retry: Duration = production ? .seconds(2) : .milliseconds(500)
    static var flags: [String] {
        ["--leader-elect-lease-duration", flag(lease), "--leader-elect-renew-deadline", flag(renewDeadline),
         "--leader-elect-retry-period", flag(retry)]
    }

    static let flood: Duration = production ? .seconds(120) : .seconds(30)
    static let maxRequestsPerSecond = 100
    static let kills = production ? 20 : 5
    static let killSeed: UInt64 = 14
    static let watchIdleSeconds = 5
    static var watchIdle: Duration { .seconds(watchIdleSeconds) }
    /// Generous: a watch resumed after the idle timeout, a reconcile, on a busy machine.
    static let halfOpenMargin = Duration.seconds(40)

    /// API server restarts of the restart storm, and the seed of their intervals.
    static let restarts = production ? 20 : 5
    static let restartSeed: UInt64 = 1414
    /// How long the API server stays up between restarts (drawn uniformly; edits and deletions
    /// meanwhile), and how long it stays down before it is started again.
    static let stormUptime: ClosedRange<Int> = production ? 5_000...20_000 : 2_000...6_000  // ms
    static let stormDowntime: ClosedRange<Int> = production ? 0...5_000 : 0...2_000  // ms

    /// How long etcd is compacted (one compaction, one child deleted by hand, per round).
    static let compaction: Duration = production ? .seconds(120) : .seconds(30)

    /// The slow-API runs: one-way latency on every byte of the leader's connections (a round
    /// trip gains twice that), below and above lease duration − renew deadline; how long the
    /// leader edits under it before its renewals are held to force a handover.
    static var electionSlack: Duration { lease - renewDeadline }
    static var slowBelow: Duration { electionSlack / 4 }
    static var slowAbove: Duration { electionSlack + electionSlack / 2 }
    static let slowWindow: Duration = production ? .seconds(30) : .seconds(10)

    /// `15s`, `500ms`: the operator's duration flags.
    static func flag(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)s" : "\(milliseconds)ms"
    }
}

/// `1.23 s`.
func chaosSeconds(_ duration: Duration) -> String {
    let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    return String(format: "%.2f s", value)
}

/// The suite's cluster: its own, with the CRD.
enum ChaosCluster {
    static let shared = PreparedCluster("chaos")
}

/// A namespace, a fault proxy, two operator processes (`op-a`, `op-b`) reaching the API server
/// only through it, each with a ServiceAccount and token of its own.
struct ChaosSetup: Sendable {
    let cluster: TestCluster
    let proxy: FaultProxy
    let admin: KubernetesClient
    let namespace: String
    let fleet: OperatorFleet
    let tokens: [String: String]
    let render: ExpectedChildren
    let supervisor: Supervisor

    static let identities = ["op-a", "op-b"]
    static let leaseName = "tandem-operator"

    var leaseCollection: String { "/apis/coordination.k8s.io/v1/namespaces/\(namespace)/leases" }
    var leasePath: String { leaseCollection + "/" + Self.leaseName }

    func other(than identity: String) -> String { Self.identities.first { $0 != identity }! }

    func leaderIdentity() async throws -> String? {
        let holder = try await admin.resources(Lease.self, namespace: namespace).getIfExists(Self.leaseName)?.spec?.holderIdentity
        return holder?.isEmpty == false ? holder : nil
    }

    /// Waits until a running process holds the Lease (not `notBeing`), and returns its identity.
    func waitForLeader(timeout: Duration = .seconds(90), notBeing excluded: String? = nil) async throws -> String {
        try await eventually(timeout: timeout, "a running operator other than \(excluded ?? "-") to lead") { () -> String? in
            guard let holder = try await leaderIdentity(), holder != excluded, fleet.isRunning(holder) else { return nil }
            return holder
        }
    }

    func restart(_ identity: String) async throws {
        // The killed process is reaped asynchronously.
        _ = try await eventually("\(identity) to have exited") { fleet.isRunning(identity) ? nil : true }
        try fleet.start(identity: identity, token: tokens[identity]!, namespace: namespace)
        supervisor.release(identity)
    }

    func createPools(_ names: [String]) async throws {
        let pools = admin.resources(InferencePool.self, namespace: namespace)
        for name in names {
            _ = try await pools.create(InferencePool(metadata: ObjectMeta(name: name), spec: Self.spec()))
        }
    }

    static func spec() -> InferencePoolSpec {
        InferencePoolSpec(
            model: "meta-llama/Llama-3.1-8B-Instruct", accelerator: "nvidia-h200",
            prefillConfig: TierConfig(replicas: 1, autoscaling: AutoscalingSpec(mode: .disabled)),
            decodeConfig: TierConfig(replicas: 3, autoscaling: AutoscalingSpec(mode: .disabled)))
    }

    /// A spec edit (a new generation): the decode tier's `--max-num-seqs`.
    func edit(_ pool: String, seqs: Int) async throws {
        _ = try await admin.resources(InferencePool.self, namespace: namespace).patch(
            pool, .merge(["spec": ["decodeConfig": ["vllmArgs": [.string("--max-num-seqs=\(seqs)")]]]]))
    }

    func invariants() async throws -> InvariantReport {
        let render = self.render
        return try await ChildInvariants.check(client: admin, namespace: namespace) { pool in try await render.children(of: pool) }
    }

    /// Polls until every invariant holds with every pool present and children rendered.
    func waitForInvariants(_ what: String, timeout: Duration = .seconds(90)) async throws -> InvariantReport {
        let last = Mutex<InvariantReport?>(nil)
        do {
            return try await eventually(timeout: timeout, what) { () -> InvariantReport? in
                let report = try await invariants()
                last.withLock { $0 = report }
                return report.holds && report.pools > 0 && report.children > 0 ? report : nil
            }
        } catch {
            throw TestClusterError("\(error)\nlast check: \(last.withLock { $0 }.map(\.description) ?? "none")")
        }
    }

    func print(_ report: InvariantReport, scenario: String, faults: Int) {
        Swift.print("chaos-smoke: \(scenario): faults injected \(faults); invariant checks passed (\(report.pools) pools, "
                    + "\(report.children) children); lost children \(report.missing), duplicated or extra \(report.extra), "
                    + "orphans \(report.orphans), multiply owned \(report.multiplyOwned), stale observedGeneration \(report.staleGenerations)")
    }

    static func run(_ name: String, extraArguments: [String] = [], _ body: (ChaosSetup) async throws -> Void) async throws {
        let binary = Script.projectRoot + "/.build/debug/tandem"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the tandem binary first (swift build)")
        let cluster = try await ChaosCluster.shared.get()
        let caKey = (cluster.caFile as NSString).deletingLastPathComponent + "/ca.key"
        let certificate = try ProxyCertificate.make(caCertificateFile: cluster.caFile, caKeyFile: caKey)
        let proxy = try await FaultProxy.start(FaultProxy.Configuration(
            upstream: cluster.apiserverURL, upstreamCAPEM: try caPEM(cluster),
            certificatePEM: certificate.certificatePEM, privateKeyPEM: certificate.privateKeyPEM))
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            try await cluster.withNamespace("chaos-\(name)") { admin, namespace in
                // Each process has a ServiceAccount of its own (the proxy tells them apart by
                // token), bound to the chart's own roles: the rules it renders, verbatim.
                for identity in identities {
                    _ = try await admin.resources(ServiceAccount.self, namespace: namespace)
                        .create(ServiceAccount(metadata: ObjectMeta(name: identity)))
                }
                let rbac = try await ChartRBAC.apply(cluster, namespace: namespace, accounts: identities, folder: folder)
                let fleet = OperatorFleet(
                    binary: binary, proxy: proxy, caFile: cluster.caFile, folder: folder,
                    arguments: ["--namespace", namespace, "--leader-election-namespace", namespace,
                                "--metrics-address", "127.0.0.1:0", "--log-format", "json"] + ChaosTiming.flags + extraArguments)
                var tokens: [String: String] = [:]
                for identity in identities {
                    tokens[identity] = try await tokenRequest(admin, namespace: namespace, name: identity)
                }
                for identity in identities {
                    try fleet.start(identity: identity, token: tokens[identity]!, namespace: namespace)
                }
                let setup = ChaosSetup(cluster: cluster, proxy: proxy, admin: admin, namespace: namespace, fleet: fleet,
                                       tokens: tokens, render: ExpectedChildren(binary: binary, folder: folder),
                                       supervisor: Supervisor())
                let supervising = Task { await setup.supervisor.run(setup) }
                do {
                    try await body(setup)
                } catch {
                    supervising.cancel()
                    _ = await supervising.result
                    proxy.removeAllFaults()
                    await fleet.stopAll()
                    await rbac.remove()
                    Swift.print("chaos-smoke: \(name) failed; operator logs (tails):")
                    for identity in identities { Swift.print("--- \(identity):\n\(fleet.output(identity).suffix(4000))") }
                    throw error
                }
                supervising.cancel()
                _ = await supervising.result
                Swift.print("chaos-smoke: \(name): processes restarted after exiting: \(setup.supervisor.exits.map(\.description))")
                proxy.removeAllFaults()
                await fleet.stopAll()
                await rbac.remove()
            }
        } catch {
            try? await proxy.shutdown()
            throw error
        }
        try await proxy.shutdown()
    }
}

/// The chart's RBAC for the fleet: `hack/helm.py template` of `charts/tandem` released in the
/// scenario's namespace and watching only it (`watchNamespaces: [namespace]`, as the fleet's
/// `--namespace`), its ClusterRoles, Roles and bindings that name the chart's ServiceAccount
/// applied with that subject replaced by the fleet's accounts. Rules are the chart's, verbatim:
/// a scenario that needs more found a chart bug.
struct ChartRBAC: Sendable {
    let cluster: TestCluster
    let file: URL
    /// `kind/name` of what was applied.
    let objects: [String]

    static func apply(_ cluster: TestCluster, namespace: String, accounts: [String], folder: URL) async throws -> ChartRBAC {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let values = folder.appendingPathComponent("rbac-values.yaml")
        try "watchNamespaces: [\(namespace)]\n".write(to: values, atomically: true, encoding: .utf8)
        // The release name makes the cluster-scoped names unique per scenario.
        let release = "chaos-\(namespace.split(separator: "-").last ?? "x")"
        let documents = try await Helm.template(["-f", values.path, "--name", release, "--namespace", namespace]).documents
        let account = try #require(documents.objects("Deployment").first?["spec"]?["template"]?["spec"]?["serviceAccountName"]?.stringValue,
                                   "the chart rendered no Deployment with a serviceAccountName")
        let subjects = JSONValue.array(accounts.map {
            .object(["kind": .string("ServiceAccount"), "name": .string($0), "namespace": .string(namespace)])
        })
        var bindings: [JSONValue] = []
        for binding in documents.objects("ClusterRoleBinding") + documents.objects("RoleBinding") {
            let names = binding["subjects"]?.arrayValue ?? []
            guard names.contains(where: { $0["kind"]?.stringValue == "ServiceAccount" && $0["name"]?.stringValue == account }) else { continue }
            var bound = binding
            bound["subjects"] = subjects
            bindings.append(bound)
        }
        let roles = bindings.compactMap { binding -> JSONValue? in
            guard let kind = binding["roleRef"]?["kind"]?.stringValue, let name = binding["roleRef"]?["name"]?.stringValue else { return nil }
            return documents.object(kind, name, namespace: kind == "Role" ? binding["metadata"]?["namespace"]?.stringValue : nil)
        }
        let objects = roles + bindings
        guard bindings.contains(where: { $0["kind"]?.stringValue == "RoleBinding" }), roles.count == bindings.count else {
            throw TestClusterError("the chart's RBAC for \(account): \(roles.count) roles for \(bindings.count) bindings (or no RoleBinding)")
        }
        let file = folder.appendingPathComponent("rbac-\(namespace).json")
        try KubeJSON.encode(JSONValue.object(["apiVersion": .string("v1"), "kind": .string("List"), "items": .array(objects)])).write(to: file)
        let applied = try await cluster.run(["kubectl", "apply", "-f", file.path])
        guard applied.status == 0 else { throw TestClusterError("applying the chart's RBAC failed: \(applied.output)") }
        return ChartRBAC(cluster: cluster, file: file, objects: objects.map {
            "\($0["kind"]?.stringValue ?? "?")/\($0["metadata"]?["name"]?.stringValue ?? "?")"
        })
    }

    /// Deletes what was applied (the namespaced part goes with the namespace too).
    func remove() async {
        _ = try? await cluster.run(["kubectl", "delete", "--ignore-not-found", "--wait=false", "-f", file.path])
    }
}

/// Plays the Deployment's part: restarts an operator process that exited (an operator exits
/// with status 1 when it loses its lease, to compete again with fresh caches), except the ones
/// a scenario holds (a killed leader until the other has taken over; a blackholed one).
final class Supervisor: Sendable {
    struct Exit: Sendable, CustomStringConvertible {
        var identity: String
        var status: Int32?
        var leadershipLost: Bool
        var description: String { "\(identity) exit \(status.map(String.init) ?? "?")\(leadershipLost ? " (lost its lease)" : "")" }
    }

    private let held = Mutex<Set<String>>([])
    private let exitList = Mutex<[Exit]>([])
    static let lostLine = "exiting with status 1: leadership lost"

    func hold(_ identity: String) { _ = held.withLock { $0.insert(identity) } }
    func release(_ identity: String) { _ = held.withLock { $0.remove(identity) } }
    var exits: [Exit] { exitList.withLock { $0 } }
    /// Exits that are neither a lost lease nor a kill by the scenario.
    var crashes: [Exit] { exits.filter { !$0.leadershipLost } }

    func run(_ setup: ChaosSetup) async {
        while !Task.isCancelled {
            for identity in ChaosSetup.identities where !held.withLock({ $0.contains(identity) }) && !setup.fleet.isRunning(identity) {
                let status = setup.fleet.status(identity)?.exit
                let lostSoFar = setup.fleet.output(identity).components(separatedBy: Self.lostLine).count - 1
                let lostBefore = exits.filter { $0.identity == identity && $0.leadershipLost }.count
                exitList.withLock { $0.append(Exit(identity: identity, status: status, leadershipLost: status == 1 && lostSoFar > lostBefore)) }
                try? setup.fleet.start(identity: identity, token: setup.tokens[identity]!, namespace: setup.namespace)
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }
}

/// The children `tandem render` prints for a pool (kind and name), cached per generation.
final class ExpectedChildren: Sendable {
    let binary: String
    let folder: URL
    private let cache = Mutex<[String: Set<ChildKey>]>([:])
    /// The kinds ChildInvariants reads (the GIE InferencePool is not among them).
    static let kinds: Set<String> = ["Deployment", "Service", "ConfigMap", "ServiceAccount", "Role", "RoleBinding"]

    init(binary: String, folder: URL) {
        self.binary = binary
        self.folder = folder
    }

    func children(of pool: InferencePool) async throws -> Set<ChildKey> {
        let name = pool.metadata.name ?? "?"
        let key = "\(name)@\(pool.metadata.generation ?? 0)"
        if let known = cache.withLock({ $0[key] }) { return known }
        let manifest = InferencePool(metadata: ObjectMeta(name: name, namespace: pool.metadata.namespace), spec: pool.spec)
        let file = folder.appendingPathComponent("render-\(key).json")
        try KubeJSON.encode(manifest).write(to: file)
        // stdout only: warnings go to stderr; exit 1 still prints the tiers that can run.
        let result = try await Script.exec(["sh", "-c", "'\(binary)' render -f '\(file.path)' 2>/dev/null"])
        var children: Set<ChildKey> = []
        for document in try Yams.load_all(yaml: result.output) {
            guard let object = document as? [String: Any], let kind = object["kind"] as? String, Self.kinds.contains(kind),
                  let metadata = object["metadata"] as? [String: Any], let childName = metadata["name"] as? String
            else { continue }
            children.insert(ChildKey(kind: kind, name: childName))
        }
        guard !children.isEmpty else {
            throw TestClusterError("tandem render printed no children for pool \(name) (exit \(result.status)): \(result.output.prefix(500))")
        }
        cache.withLock { $0[key] = children }
        return children
    }
}
