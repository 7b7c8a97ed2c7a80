import Autoscaling
import Foundation
import KubeClient
import KubeCore
import Rendering
import Simulation
import Sizing
import AsyncHTTPClient
import TandemAPI
import TandemOperator
import Testing

/// Issue 14's defects 3 and 9 on the real control plane: stalled scrapes, long names, and
/// pools deleted and created again. Part of the serialized end-to-end suite (one node agent
/// at a time).
extension AutoscalingScenarioTests {
    /// The `inference.x-k8s.io/pool` selector of a tier's pods, as the renderer labels them.
    static func selector(_ pool: String, _ tier: TierName) -> String {
        PoolLabels.selectorString(pool: pool, tier: tier)
    }

    /// Three pools whose decode pods send their headers and then stall: with two workers, an
    /// edit to a fourth pool is still applied promptly, and the three say MetricsUnavailable.
    @Test func stalledScrapesHoldNoOtherPoolBack() async throws {
        try await Scenario.run(gpus: 8) { scenario in
            let autoscaled = AutoscalingSpec(mode: .operator, minReplicas: 1, maxReplicas: 2)
            let stalled = ["stall-a", "stall-b", "stall-c"]
            for name in stalled + ["edited"] {
                try await scenario.create(name, prefill: tier(nil, replicas: 1), decode: tier(autoscaled))
            }
            for name in stalled { try await scenario.waitReady(name, .decode, atLeast: 1) }
            for name in stalled {
                let done = try await scenario.kubectl([
                    "annotate", "pods", "--overwrite", "-l", Self.selector(name, .decode), "\(MetricsFault.annotation)=stall-after-headers",
                ])
                #expect(done.status == 0, "\(done.output)")
            }
            // Every stalled pool reports it, naming its pod and the deadline.
            for name in stalled {
                let unavailable = try await eventually("MetricsUnavailable on \(name)") { () -> Condition? in
                    let found = condition(try await scenario.pool(name), PoolCondition.scalingActive)
                    return found?.reason == "MetricsUnavailable" && found?.message.contains("timed out") == true ? found : nil
                }
                #expect(unavailable.status == .false)
                #expect(unavailable.message.contains("\(name)-decode-"), "\(unavailable.message)")
                #expect(unavailable.message.contains("timed out after 2 s"), "\(unavailable.message)")
            }
            // While they stall, a spec edit to another pool goes through.
            let pools = scenario.client.resources(InferencePool.self, namespace: scenario.namespace)
            _ = try await pools.patch("edited", .merge(["spec": ["prefillConfig": ["replicas": 2]]]))
            _ = try await eventually("the edit to the fourth pool applied") { () -> Bool? in
                try await scenario.replicas("edited", .prefill) == 2 ? true : nil
            }
            // And the stalled pools still report, rather than wedging the workers.
            for name in stalled {
                let still = condition(try await scenario.pool(name), PoolCondition.scalingActive)
                #expect(still?.reason == "MetricsUnavailable", "\(name): \(String(describing: still))")
            }
            // Healed: back to scaling on metrics.
            for name in stalled {
                _ = try await scenario.kubectl(["annotate", "pods", "--overwrite", "-l", Self.selector(name, .decode), "\(MetricsFault.annotation)-"])
            }
            for name in stalled {
                _ = try await eventually("ScalingActive=True on \(name) once healed") { () -> Bool? in
                    condition(try await scenario.pool(name), PoolCondition.scalingActive)?.status == .true ? true : nil
                }
            }
        }
    }

    /// A pool name of 70 characters: its pods carry a shortened, hashed label value, and the
    /// autoscaler still finds and reads them.
    @Test func aPoolWithA70CharacterNameIsAutoscaled() async throws {
        let name = "long-" + String(repeating: "n", count: 60) + "-name"
        #expect(name.count == 70)
        #expect(ChildNames.poolLabel(name) != name)
        try await Scenario.run(gpus: 2) { scenario in
            try await scenario.create(name, prefill: tier(nil, replicas: 1),
                                      decode: tier(AutoscalingSpec(mode: .operator, minReplicas: 1, maxReplicas: 2)))
            // Signals in the status come only from pods the autoscaler found and read.
            let metrics = try await eventually("decode signals of the long-named pool") { () -> TierMetrics? in
                try await scenario.pool(name).status?.decode?.metrics
            }
            #expect(metrics.runningRequests != nil, "\(metrics)")
            let active = condition(try await scenario.pool(name), PoolCondition.scalingActive)
            #expect(active?.status == .true, "\(String(describing: active))")
        }
    }

    /// A pool deleted and created again under the same name starts with an empty history and
    /// none of the old pool's metric series; the deleted one leaves no state behind.
    @Test func aPoolDeletedAndCreatedAgainStartsAfresh() async throws {
        try await Scenario.run(gpus: 4) { scenario in
            let name = "again"
            let pools = scenario.client.resources(InferencePool.self, namespace: scenario.namespace)
            let scaling = ScalingMetrics(registry: scenario.metrics.registry)
            func series() -> [Substring] {
                scaling.text.split(separator: "\n").filter { !$0.hasPrefix("#") && $0.contains("pool=\"\(name)\"") }
            }
            try await scenario.create(name, prefill: tier(nil, replicas: 1),
                                      decode: tier(AutoscalingSpec(mode: .operator, minReplicas: 1, maxReplicas: 2)))
            try await scenario.waitReady(name, .decode, atLeast: 1)
            // Raising the minimum scales decode 1 → 2: one entry in the history.
            _ = try await pools.patch(name, .merge(["spec": ["decodeConfig": ["autoscaling": ["minReplicas": 2]]]]))
            let history = try await eventually("a scale-up in the history") { () -> [ScalingRecord]? in
                let history = try await scenario.pool(name).status?.scalingHistory ?? []
                return history.contains { $0.tier == .decode && $0.to == 2 } ? history : nil
            }
            #expect(!history.isEmpty)
            #expect(series().contains { $0.contains("direction=\"up\"") }, "\(series())")

            // Deleted: its series go (the deletion hook ran).
            _ = try await pools.delete(name)
            _ = try await eventually("the deleted pool's series gone") { () -> Bool? in
                series().isEmpty ? true : nil
            }
            let deployments = scenario.client.resources(Deployment.self, namespace: scenario.namespace)
            for deployment in try await deployments.list().items { _ = try? await deployments.delete(deployment.metadata.name ?? "") }
            _ = try await eventually("the old pool's children gone") { () -> Bool? in
                try await deployments.list().items.isEmpty ? true : nil
            }

            // Created again under the same name: no inherited history or counters.
            try await scenario.create(name, prefill: tier(nil, replicas: 1),
                                      decode: tier(AutoscalingSpec(mode: .operator, minReplicas: 1, maxReplicas: 2)))
            _ = try await eventually("the new pool autoscaled") { () -> Bool? in
                condition(try await scenario.pool(name), PoolCondition.scalingActive) != nil && !series().isEmpty ? true : nil
            }
            let fresh = try await scenario.pool(name)
            #expect((fresh.status?.scalingHistory ?? []).isEmpty, "inherited: \(fresh.status?.scalingHistory ?? [])")
            #expect(!series().contains { $0.contains("direction=\"up\"") }, "inherited series: \(series())")
        }
    }
}

/// The scrapers' overall deadline against an emulated server whose `/metrics` sends its head
/// and then stalls (loopback only; no control plane needed).
@Suite("Scrape deadlines against a stalled body")
struct StalledScrapeTests {
    @Test func aBodyThatStallsAfterTheHeadersFailsTheScrapeAtItsDeadline() async throws {
        let h100 = try #require(AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h100"))
        let configuration = try EmulatorConfiguration.make(
            args: ["--model=meta-llama/Llama-3.1-8B-Instruct", "--port=8000"], accelerator: h100, devices: 1, role: .both,
            disaggregationThreshold: 100)
        let address = "127.1.0.96"
        let emulator = try await EmulatedModelServer.start(configuration, address: address, port: Int.random(in: 20_000..<30_000))
        emulator.setMetricsFault(.stallAfterHeaders)
        let scraper = DirectScraper.standalone(timeout: .milliseconds(500))
        let http = HTTPClient()
        // Every path shuts the clients down: an HTTPClient dropped unshut stops the process.
        func check() async throws {
            // The head does arrive (a deadline on the head alone would pass): the stall is in the body.
            let response = try await http.execute(HTTPClientRequest(url: "http://\(address):\(emulator.port)/metrics"), timeout: .seconds(10))
            #expect(response.status == .ok)
            let body = Task { try await response.body.collect(upTo: 1 << 20) }

            let started = ContinuousClock.now
            let target = ScrapeTarget(namespace: "ns", pod: "stalled-0", address: "\(address):\(emulator.port)")
            let readings = await scraper.read([target], modelName: nil)
            let elapsed = ContinuousClock.now - started
            guard case .failed(let why)? = readings["stalled-0"] else {
                Issue.record("a stalled scrape was read: \(String(describing: readings))")
                return
            }
            #expect(why.contains("timed out after 0.5 s"), "\(why)")
            #expect(why.contains("ns/stalled-0"), "\(why)")
            #expect(elapsed < .seconds(10), "the scrape took \(elapsed)")

            // Healed: the held body ends, and a scrape reads the metrics again (on a busy
            // machine one 0.5 s attempt may still time out: attempts go on until one reads).
            emulator.setMetricsFault(.none)
            _ = try? await body.value
            _ = try await eventually("a scrape to read the healed server") { () -> Bool? in
                if case .metrics? = await scraper.read([target], modelName: nil)["stalled-0"] { return true }
                return nil
            }
        }
        var failure: (any Error)?
        do { try await check() } catch { failure = error }
        await emulator.stop()
        try? await scraper.shutdown()
        try? await http.shutdown()
        if let failure { throw failure }
    }
}
