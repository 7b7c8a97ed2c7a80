import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import KubeTestSupport
import Testing

/// Churn: concurrent creates, updates and deletes of ConfigMaps in one namespace, tolerant of
/// failures (the API server may be down part of the time).
actor Churn {
    let configMaps: ResourceClient<ConfigMap>
    var failures = 0
    var writes = 0

    init(_ configMaps: ResourceClient<ConfigMap>) {
        self.configMaps = configMaps
    }

    func record(_ ok: Bool) {
        if ok { writes += 1 } else { failures += 1 }
    }

    /// Runs `workers` loops of random writes over names `c-0..<population` until cancelled.
    nonisolated func run(workers: Int, population: Int) async {
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<workers {
                group.addTask {
                    var generator = SystemRandomNumberGenerator()
                    var step = 0
                    while !Task.isCancelled {
                        step += 1
                        let name = "c-\(Int.random(in: 0..<population, using: &generator))"
                        let ok: Bool
                        do {
                            switch Int.random(in: 0..<10, using: &generator) {
                            case 0..<6:
                                _ = try await self.configMaps.apply(
                                    ConfigMap(metadata: ObjectMeta(name: name), data: ["w": "\(worker)-\(step)"]),
                                    fieldManager: "churn", force: true)
                            case 6..<8:
                                try await self.configMaps.delete(name)
                            default:
                                _ = try await self.configMaps.patch(name, .merge(["metadata": ["labels": ["step": .string("\(step)")]]]))
                            }
                            ok = true
                        } catch let error as APIError where error.reason == .notFound {
                            ok = true
                        } catch {
                            ok = false
                            try? await Task.sleep(for: .milliseconds(50))
                        }
                        await self.record(ok)
                    }
                }
            }
        }
    }
}

/// Waits until the informer's cache holds exactly what a fresh list returns (names and versions).
func expectConverged(
    _ informer: Informer<ConfigMap>, _ configMaps: ResourceClient<ConfigMap>, timeout: Duration = .seconds(60)
) async throws {
    var lastDifference = ""
    do {
        _ = try await eventually(timeout: timeout, "the informer to converge") { () -> Bool? in
            let fresh = try await configMaps.listAll()
            let truth = Dictionary(uniqueKeysWithValues: fresh.items.map { ($0.metadata.name ?? "", $0.metadata.resourceVersion ?? "") })
            let cached = Dictionary(uniqueKeysWithValues: informer.store.list().map { ($0.metadata.name ?? "", $0.metadata.resourceVersion ?? "") })
            if truth == cached { return true }
            let missing = Set(truth.keys).subtracting(cached.keys).count
            let extra = Set(cached.keys).subtracting(truth.keys).count
            let stale = truth.filter { cached[$0.key] != nil && cached[$0.key] != $0.value }.count
            lastDifference = "\(missing) missing, \(extra) extra, \(stale) stale of \(truth.count)"
            return nil
        }
    } catch {
        Issue.record("informer did not converge: \(lastDifference)")
        throw error
    }
}

@Suite("Informer against a real API server")
struct InformerTests {
    @Test func convergesUnderChurnAcrossAPIServerRestartAndGone() async throws {
        // Killing the API server and compacting etcd disrupt the cluster: a cluster of our own,
        // without the watch cache so a compaction reaches watches as 410 Gone.
        try await TestCluster.withPrivateCluster(name: "informer", apiserverFlags: ["--watch-cache=false"]) { cluster in
            try await cluster.withNamespace("churn") { client, namespace in
                let configMaps = client.resources(ConfigMap.self, namespace: namespace)
                // 2,000 objects to start with.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    var next = 0
                    func add() {
                        let index = next
                        next += 1
                        group.addTask { _ = try await configMaps.create(ConfigMap(metadata: ObjectMeta(name: "c-\(index)"), data: ["w": "0"])) }
                    }
                    for _ in 0..<32 { add() }
                    while try await group.next() != nil { if next < 2_000 { add() } }
                }
                // Short server-side watch timeouts: the informer resumes from its resourceVersion often.
                let informer = Informer(configMaps, watchOptions: WatchOptions(timeoutSeconds: 4),
                                        backoff: Backoff(initial: .milliseconds(200), maximum: .seconds(2), factor: 2, jitter: 0.2, resetAfter: .seconds(30)))
                // Liveness's informer silence, read at one fixed future instant: it only falls
                // when the API server answers (the list here, the watches after the restart).
                let probe = ContinuousClock.now + .seconds(3600)
                let unheard = informer.silence(at: probe)
                let running = Task { await informer.run() }
                defer { running.cancel() }
                try await informer.waitUntilSynced()
                #expect(informer.store.count >= 2_000)
                let listed = informer.silence(at: probe)
                #expect(listed < unheard, "the list did not count as contact")

                // Churn, and kill the API server in the middle of it.
                let churn = Churn(configMaps)
                let churning = Task { await churn.run(workers: 8, population: 2_500) }
                try await Task.sleep(for: .seconds(4))
                try cluster.killAPIServer()
                try await Task.sleep(for: .seconds(2))
                try await cluster.restart()
                try await Task.sleep(for: .seconds(4))
                churning.cancel()
                await churning.value
                let writes = await churn.writes
                let failures = await churn.failures
                #expect(writes > 200, "churn made only \(writes) writes")
                #expect(failures > 0, "the API server restart was not felt by the churn")
                try await expectConverged(informer, configMaps)
                #expect(informer.silence(at: probe) < listed, "no watch event after the restart counted as contact")

                // 410: while the informer's namespace is quiet, other writes move etcd on and a
                // compaction removes the informer's resourceVersion; its next re-watch is Gone.
                let listsBefore = informer.listCount
                let noise = client.resources(ConfigMap.self, namespace: "default")
                var latest = try await noise.apply(ConfigMap(metadata: ObjectMeta(name: "noise-\(namespace)"), data: ["n": "0"]), fieldManager: "noise")
                for index in 1...20 {
                    latest = try await noise.apply(ConfigMap(metadata: ObjectMeta(name: "noise-\(namespace)"), data: ["n": String(index)]), fieldManager: "noise")
                }
                try await cluster.compactEtcd(to: try #require(latest.metadata.resourceVersion.flatMap { Int64($0) }))
                // (No write to the informer's namespace until then: its live watch would move it
                // past the compaction.)
                _ = try await eventually("a re-list after 410 Gone") {
                    informer.listCount > listsBefore ? true : nil
                }
                _ = try await configMaps.create(ConfigMap(metadata: ObjectMeta(name: "after-compaction")))
                _ = try await configMaps.create(ConfigMap(metadata: ObjectMeta(name: "doomed")))
                try await configMaps.delete("doomed")
                try await expectConverged(informer, configMaps)
                #expect(informer.store.get(namespace: namespace, name: "after-compaction") != nil)
            }
        }
    }
}
