import AsyncHTTPClient
import Autoscaling
import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import KubeTestSupport
import Simulation
import Sizing
import TandemAPI
import TandemOperator
import Testing

/// A cluster of its own with the CRD, for the autoscaling scenarios: their pods run on
/// emulated H200 nodes served by a node agent, so GPUs are scarce only where a test says so.
enum AutoscaleCluster {
    static let shared = PreparedCluster("autoscale")
}

/// One autoscaling scenario: a node agent with `gpus` H200 devices (2 per node), a namespace,
/// and the operator with its autoscaler on compressed time (a round a second, status every 2 s).
struct Scenario {
    let cluster: TestCluster
    let client: KubernetesClient
    let namespace: String
    let http: HTTPClient
    /// The operator's metrics registry (what its `/metrics` serves).
    let metrics: RuntimeMetrics

    static let model = "meta-llama/Llama-3.1-8B-Instruct"
    /// The scenarios' overall scrape deadline.
    static let scrapeTimeout = Duration.seconds(2)

    /// Panic mode compressed like the windows (2 s, 6 s stable).
    static let fastPanic = PanicPolicy(window: .seconds(2), stableWindow: .seconds(6))

    static func run(gpus: Int, panic: PanicPolicy = fastPanic, _ body: (Scenario) async throws -> Void) async throws {
        let cluster = try await AutoscaleCluster.shared.get()
        let h200 = try #require(AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h200"))
        // Node names of this scenario's own: a node left by an earlier one has no agent any more.
        let id = UUID().uuidString.prefix(6).lowercased()
        let nodes = (0..<(gpus + 1) / 2).map { EmulatedNode(name: "as-\(id)-\($0)", accelerator: h200, devices: min(2, gpus - 2 * $0)) }
        try await withNodeAgent(cluster, nodes, startupDelay: .fixed(.milliseconds(300))) { _, _, http in
            try await cluster.withNamespace("as") { client, namespace in
                // Scrapes run off the reconcile workers under one overall deadline (head and
                // body): the production default, 2 s, leaves a busy machine's emulated pods time
                // to answer without slowing any reconcile.
                let scraper = DirectScraper.standalone(timeout: Scenario.scrapeTimeout)
                let autoscaler = Autoscaler(source: scraper, options: AutoscalerOptions(
                    interval: .seconds(1), statusInterval: .seconds(2), panic: panic, averagingWindow: .seconds(2)))
                let running = try RunningOperator(cluster: cluster, namespace: namespace, autoscaler: autoscaler)
                let scenario = Scenario(cluster: cluster, client: client, namespace: namespace, http: http, metrics: running.metrics)
                // The autoscaler's background reads end with the scenario.
                defer { autoscaler.stop() }
                do {
                    try await body(scenario)
                } catch {
                    await scenario.tearDown(running, scraper, nodes: nodes)
                    throw error
                }
                await scenario.tearDown(running, scraper, nodes: nodes)
            }
        }
    }

    /// Stops the operator, then deletes the pools and waits for their pods to go while the
    /// node agent still runs (so no pod is left Terminating on a node without an agent).
    func tearDown(_ running: RunningOperator, _ scraper: DirectScraper, nodes: [EmulatedNode]) async {
        try? await running.stop()
        try? await scraper.shutdown()
        let pools = client.resources(InferencePool.self, namespace: namespace)
        for pool in (try? await pools.list().items) ?? [] { _ = try? await pools.delete(pool.metadata.name ?? "") }
        // The garbage collector may not watch the freshly installed CRD yet: delete the children too.
        let deployments = client.resources(Deployment.self, namespace: namespace)
        for deployment in (try? await deployments.list().items) ?? [] { _ = try? await deployments.delete(deployment.metadata.name ?? "") }
        let pods = client.resources(Pod.self, namespace: namespace)
        do {
            _ = try await eventually("the scenario's pods to be gone") {
                try await pods.list().items.isEmpty ? true : nil
            }
        } catch {
            let left = (try? await pods.list().items) ?? []
            print("teardown: \(error); left: \(left.map { "\($0.metadata.name ?? "") \($0.status?.phase ?? "") node=\($0.spec?.nodeName ?? "-") deleting=\($0.metadata.deletionTimestamp != nil)" })")
        }
        for node in nodes { _ = try? await client.resources(Node.self).delete(node.name) }
    }

    /// Fast behavior: scale up at once (4 per 2 s), scale down after 5 s, 1 per 3 s.
    static let fast = TandemAPI.ScalingBehavior(
        scaleUp: ScalingRules(stabilizationSeconds: 0, maxReplicasPerStep: 4, periodSeconds: 2),
        scaleDown: ScalingRules(stabilizationSeconds: 5, maxReplicasPerStep: 1, periodSeconds: 3))

    func create(_ name: String, prefill: TierConfig, decode: TierConfig, ratio: RatioSpec? = nil) async throws {
        _ = try await client.resources(InferencePool.self, namespace: namespace).create(InferencePool(
            metadata: ObjectMeta(name: name),
            spec: InferencePoolSpec(model: Self.model, accelerator: "nvidia-h200", prefillConfig: prefill, decodeConfig: decode, ratio: ratio)))
    }

    func pool(_ name: String) async throws -> InferencePool {
        try await client.resources(InferencePool.self, namespace: namespace).get(name)
    }

    func replicas(_ name: String, _ tier: TierName) async throws -> Int {
        Int(try await client.resources(Deployment.self, namespace: namespace).get("\(name)-\(tier.rawValue)").spec?.replicas ?? -1)
    }

    func readyPods(_ name: String, _ tier: TierName) async throws -> [Pod] {
        try await client.resources(Pod.self, namespace: namespace)
            .list(ListOptions(labelSelector: "inference.x-k8s.io/pool=\(name),inference.x-k8s.io/role=\(tier.rawValue)"))
            .items.filter { $0.status?.isReady == true && $0.metadata.deletionTimestamp == nil }
    }

    /// Waits until the tier has `count` ready pods and returns their base URLs.
    @discardableResult
    func waitReady(_ name: String, _ tier: TierName, atLeast count: Int, timeout: Duration = .seconds(60)) async throws -> [String] {
        try await eventually(timeout: timeout, "\(count) ready \(tier.rawValue) pods of \(name)") { () -> [String]? in
            let pods = try await readyPods(name, tier)
            return pods.count >= count ? pods.compactMap { $0.status?.podIP.map { "http://\($0):8000" } } : nil
        }
    }

    /// Sends Poisson load to the decode pods in the background.
    func load(_ targets: [String], rate: Double, seconds: Int, promptTokens: Int, outputTokens: Int) -> Task<LoadReport, any Error> {
        let plan = ArrivalSchedule.generate(
            pattern: .steady, rate: rate, duration: .seconds(seconds), promptTokens: promptTokens, outputTokens: outputTokens, seed: 7)
        return Task { try await LoadRunner.run(targets: targets, model: Self.model, plan: plan, requestTimeout: .seconds(60)) }
    }

    /// Once both tiers serve, sends long prompts (more than one prefill pod can take) and waits
    /// for `ScalingLimited`; returns it and the load, still running.
    func overloadPrefillUntilLimited(_ name: String) async throws -> (Condition, Task<LoadReport, any Error>) {
        let targets = try await waitReady(name, .decode, atLeast: 1)
        try await waitReady(name, .prefill, atLeast: 1)
        // Load that lasts until the condition is seen (the caller cancels it): on a busy machine
        // the pods take longer to fill, never less load.
        let load = load(targets, rate: 40, seconds: 150, promptTokens: 3000, outputTokens: 2)
        do {
            let limited = try await eventually(timeout: .seconds(150), "ScalingLimited") { () -> Condition? in
                let found = condition(try await pool(name), ScalingStatus.scalingLimited)
                return found?.status == .true ? found : nil
            }
            return (limited, load)
        } catch {
            load.cancel()
            throw error
        }
    }

    func kubectl(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await cluster.run(["kubectl", "--namespace", namespace] + arguments)
    }
}

/// A tier's config for the scenarios: the 8B model on one H200 with a small KV cache
/// (`--gpu-memory-utilization=0.13` leaves about 18k tokens), so modest load fills it.
func tier(_ autoscaling: AutoscalingSpec?, replicas: Int32? = nil, extra: [String] = []) -> TierConfig {
    TierConfig(replicas: replicas, vllmArgs: ["--gpu-memory-utilization=0.13", "--max-model-len=4096"] + extra, autoscaling: autoscaling)
}

@Suite("Autoscaling end to end", .serialized)
struct AutoscalingScenarioTests {
    @Test func longPromptsScalePrefillThenBothTiersStepDownAfterTheirWindows() async throws {
        try await Scenario.run(gpus: 6) { scenario in
            try await scenario.create(
                "lp",
                prefill: tier(AutoscalingSpec(mode: .operator, minReplicas: 1, maxReplicas: 4,
                                              target: ScalingTarget(waitingRequestsPerReplica: 2), behavior: Scenario.fast),
                              extra: ["--max-num-seqs=2"]),
                decode: tier(AutoscalingSpec(mode: .operator, minReplicas: 1, maxReplicas: 4, behavior: Scenario.fast)))
            let targets = try await scenario.waitReady("lp", .decode, atLeast: 1)
            try await scenario.waitReady("lp", .prefill, atLeast: 1)

            // Long prompts, short outputs: prefill is the bottleneck. The load lasts until prefill
            // has grown (a busy machine fills the pods later, never with less load), then 12 s
            // more while decode is watched: an upper bound, which a slow machine cannot break.
            let load = scenario.load(targets, rate: 40, seconds: 150, promptTokens: 3000, outputTokens: 2)
            var decodeMax = 1
            let grown = try await eventually(timeout: .seconds(150), "prefill to scale up") { () -> Int? in
                decodeMax = max(decodeMax, try await scenario.replicas("lp", .decode))
                let replicas = try await scenario.replicas("lp", .prefill)
                return replicas >= 2 ? replicas : nil
            }
            #expect(grown >= 2)
            let watchUntil = ContinuousClock.now + .seconds(12)
            while ContinuousClock.now < watchUntil {
                decodeMax = max(decodeMax, try await scenario.replicas("lp", .decode))
                try await Task.sleep(for: .milliseconds(300))
            }
            load.cancel()
            let report = try await load.value
            #expect(report.succeeded > 0, "\(report.summary())")
            #expect(decodeMax <= 2, "decode went to \(decodeMax) replicas under prefill-heavy load")

            // Load stopped: both tiers come down to their minimum, one step per period, after the window.
            _ = try await eventually(timeout: .seconds(180), "both tiers back at 1") { () -> Bool? in
                let prefill = try await scenario.replicas("lp", .prefill)
                let decode = try await scenario.replicas("lp", .decode)
                return prefill == 1 && decode == 1 ? true : nil
            }
            // The status records the last step in the reconcile that took it. ScalingActive may be
            // False for a round (a scrape past its 2 s timeout on a busy machine is reported, as
            // HPA reports a failed fetch); it is True again at the next round that reads.
            let pool = try await eventually("the last scale-down in the history, with ScalingActive True") { () -> InferencePool? in
                let pool = try await scenario.pool("lp")
                guard pool.status?.scalingHistory?.first(where: { $0.tier == .prefill })?.to == 1 else { return nil }
                return condition(pool, PoolCondition.scalingActive)?.status == .true ? pool : nil
            }
            let history = Array((pool.status?.scalingHistory ?? []).reversed())  // oldest first
            let prefill = history.filter { $0.tier == .prefill }
            let downs = prefill.filter { $0.to < $0.from }
            #expect(!downs.isEmpty, "no scale-down recorded: \(history)")
            for record in downs {
                #expect(record.from - record.to == 1, "a scale-down of more than one step: \(record)")
                #expect(record.to >= 1, "below min: \(record)")
            }
            for (earlier, later) in zip(downs, downs.dropFirst()) {
                let gap = later.time.date.timeIntervalSince(earlier.time.date)
                #expect(gap >= 2, "scale-downs \(gap) s apart, the period is 3 s: \(earlier) then \(later)")
            }
            // Each scale-down waits out the window after the scale-up before it. The scale-up is
            // found by its place in the history, not by its time: times are whole seconds, and a
            // scale-up that came after a scale-down in the same second is not the one before it.
            for (index, down) in prefill.enumerated() where down.to < down.from {
                guard let up = prefill[..<index].last(where: { $0.to > $0.from }) else { continue }
                let waited = down.time.date.timeIntervalSince(up.time.date)
                #expect(waited >= 4, "scaled down \(waited) s after a scale-up; the window is 5 s: \(up) then \(down)")
            }
            // Each loop's part of the status under its own field manager.
            func statusFields(_ manager: String) -> [String: JSONValue] {
                // (1.20 records no `subresource` in managedFields: the status is found by its fields.)
                let entry = pool.metadata.managedFields?.first { $0.manager == manager && $0.fieldsV1?["f:status"] != nil }
                return entry?.fieldsV1?["f:status"]?.objectValue ?? [:]
            }
            #expect(statusFields(Autoscaler.fieldManager)["f:scalingHistory"] != nil, "\(pool.metadata.managedFields ?? [])")
            #expect(statusFields(PoolReconciler.fieldManager)["f:scalingHistory"] == nil)
            #expect(statusFields(PoolReconciler.fieldManager)["f:observedGeneration"] != nil)
            let events = try await scenario.client.resources(Event.self, namespace: scenario.namespace).list().items
            #expect(events.contains { $0.reason == "ScaledUp" } && events.contains { $0.reason == "ScaledDown" })
            let exposed = scenario.metrics.render()
            let labels = #"namespace="\#(scenario.namespace)",pool="lp",tier="prefill""#
            #expect(exposed.contains("tandem_scaling_decisions_total{\(labels),direction=\"up\"}"), "\(exposed)")
            #expect(exposed.contains("tandem_tier_desired_replicas{\(labels)} 1"), "\(exposed)")
            #expect(exposed.contains("tandem_tier_signal{\(labels),signal=\"waiting_requests\"}"), "\(exposed)")
        }
    }

    @Test func shortPromptsWithLongOutputsScaleDecodeOnKVCache() async throws {
        try await Scenario.run(gpus: 6) { scenario in
            try await scenario.create(
                "kv",
                prefill: tier(AutoscalingSpec(mode: .operator, minReplicas: 1, maxReplicas: 3, behavior: Scenario.fast)),
                decode: tier(AutoscalingSpec(mode: .operator, minReplicas: 1, maxReplicas: 4,
                                             target: ScalingTarget(kvCacheUtilization: 0.3), behavior: Scenario.fast)))
            let targets = try await scenario.waitReady("kv", .decode, atLeast: 1)
            try await scenario.waitReady("kv", .prefill, atLeast: 1)
            let load = scenario.load(targets, rate: 8, seconds: 10, promptTokens: 64, outputTokens: 1500)
            _ = try await eventually("decode to scale up on KV cache") { () -> Bool? in
                try await scenario.replicas("kv", .decode) >= 2 ? true : nil
            }
            #expect(try await scenario.replicas("kv", .prefill) == 1, "prefill moved under decode-heavy load")
            let up = try await eventually("the decode scale-up in the history") { () -> ScalingRecord? in
                try await scenario.pool("kv").status?.scalingHistory?.first { $0.tier == .decode && $0.to > $0.from }
            }
            #expect(up.reason.contains("kv-cache"), "\(up)")
            load.cancel()
            _ = await load.result
        }
    }

    @Test func aTierStopsAtTheClusterCapacityWithScalingLimited() async throws {
        // 3 GPUs: decode takes 1, prefill can have 2 of the 10 it may want. One replica per step
        // and no panic mode, so the step that finds no room is the last one.
        let stepwise = TandemAPI.ScalingBehavior(
            scaleUp: ScalingRules(stabilizationSeconds: 0, maxReplicasPerStep: 1, periodSeconds: 2),
            scaleDown: ScalingRules(stabilizationSeconds: 30, maxReplicasPerStep: 1, periodSeconds: 3))
        try await Scenario.run(gpus: 3, panic: PanicPolicy(threshold: 0)) { scenario in
            try await scenario.create(
                "cap",
                prefill: tier(AutoscalingSpec(mode: .operator, minReplicas: 1, maxReplicas: 10,
                                              target: ScalingTarget(waitingRequestsPerReplica: 1), behavior: stepwise),
                              extra: ["--max-num-seqs=1"]),
                decode: tier(AutoscalingSpec(mode: .operator, minReplicas: 1, maxReplicas: 1)))
            let (limited, load) = try await scenario.overloadPrefillUntilLimited("cap")
            #expect(limited.reason == "InsufficientCapacity", "\(limited)")
            // It stays where the cluster stopped it: no runaway into more Pending pods.
            let held = try await scenario.replicas("cap", .prefill)
            try await Task.sleep(for: .seconds(3))
            #expect(try await scenario.replicas("cap", .prefill) == held)
            #expect(held == 3, "prefill went to \(held) replicas with room for 2")
            #expect(try await scenario.readyPods("cap", .prefill).count == 2)
            #expect(limited.message.contains("prefill held at 3"), "\(limited.message)")
            let events = try await scenario.client.resources(Event.self, namespace: scenario.namespace).list().items
            #expect(events.contains { $0.reason == "ScalingLimited" && $0.type == "Warning" })
            load.cancel()
            _ = await load.result
        }
    }

    @Test func aResourceQuotaStopsScaleUpWithQuotaExceeded() async throws {
        try await Scenario.run(gpus: 6) { scenario in
            let quota = """
                apiVersion: v1
                kind: ResourceQuota
                metadata: {name: gpus, namespace: \(scenario.namespace)}
                spec: {hard: {requests.nvidia.com/gpu: "2"}}
                """
            let applied = try await kubectl(scenario.cluster, ["apply"], stdin: quota)
            #expect(applied.status == 0, "\(applied.output)")
            try await scenario.create(
                "q",
                prefill: tier(AutoscalingSpec(mode: .operator, minReplicas: 1, maxReplicas: 6,
                                              target: ScalingTarget(waitingRequestsPerReplica: 1), behavior: Scenario.fast),
                              extra: ["--max-num-seqs=1"]),
                decode: tier(AutoscalingSpec(mode: .operator, minReplicas: 1, maxReplicas: 1)))
            let (limited, load) = try await scenario.overloadPrefillUntilLimited("q")
            #expect(limited.reason == "QuotaExceeded", "\(limited)")
            load.cancel()
            _ = await load.result
        }
    }

    @Test func externalModeLeavesKubectlScaleAloneAndModeSwitchesKeepSix() async throws {
        try await Scenario.run(gpus: 8) { scenario in
            try await scenario.create(
                "ext", prefill: tier(nil, replicas: 1), decode: tier(nil, replicas: 6))
            _ = try await eventually("6 decode replicas") { try await scenario.replicas("ext", .decode) == 6 ? true : nil }
            let pools = scenario.client.resources(InferencePool.self, namespace: scenario.namespace)
            func switchDecode(to mode: String) async throws {
                _ = try await pools.patch("ext", .merge(["spec": ["decodeConfig": ["autoscaling": ["mode": .string(mode), "minReplicas": 1, "maxReplicas": 8]]]]))
                _ = try await eventually("the switch to \(mode) to be reconciled") { () -> Bool? in
                    let pool = try await pools.get("ext")
                    return pool.status?.observedGeneration == pool.metadata.generation ? true : nil
                }
                try await Task.sleep(for: .seconds(2))
            }
            // Disabled → External at 6 keeps 6; a manual scale then sticks.
            try await switchDecode(to: "External")
            #expect(try await scenario.replicas("ext", .decode) == 6)
            let scaled = try await scenario.kubectl(["scale", "deployment/ext-decode", "--replicas=3"])
            #expect(scaled.status == 0, "\(scaled.output)")
            // Other changes to the pool and its pods make the operator reconcile again meanwhile.
            _ = try await pools.patch("ext", .merge(["metadata": ["labels": ["touched": "1"]]]))
            try await Task.sleep(for: .seconds(4))
            #expect(try await scenario.replicas("ext", .decode) == 3, "kubectl scale was overwritten in External mode")

            // External → Disabled → Operator at 6: never reset to 1.
            _ = try await pools.patch("ext", .merge(["spec": ["decodeConfig": ["autoscaling": .null, "replicas": 6]]]))
            _ = try await eventually("6 decode replicas again") { try await scenario.replicas("ext", .decode) == 6 ? true : nil }
            try await switchDecode(to: "Operator")
            #expect(try await scenario.replicas("ext", .decode) == 6, "switching Disabled → Operator changed the count")
            let deployment = try await scenario.client.resources(Deployment.self, namespace: scenario.namespace).get("ext-decode")
            let managers = (deployment.metadata.managedFields ?? []).filter {
                if case .object(let spec)? = $0.fieldsV1?["f:spec"] { return spec["f:replicas"] != nil }
                return false
            }.compactMap(\.manager)
            #expect(managers == [Autoscaler.fieldManager], "spec.replicas owned by \(managers)")
        }
    }

    @Test func theRatioGuardHoldsThroughABurst() async throws {
        try await Scenario.run(gpus: 8) { scenario in
            // At most 1.5 prefill per decode replica: with 2 decode, prefill stops at 3, below
            // what its queue asks for and below the scale-up rate's 2 × 2 ready.
            try await scenario.create(
                "ratio",
                prefill: tier(AutoscalingSpec(mode: .operator, minReplicas: 2, maxReplicas: 6,
                                              target: ScalingTarget(waitingRequestsPerReplica: 1), behavior: Scenario.fast),
                              extra: ["--max-num-seqs=1"]),
                decode: tier(AutoscalingSpec(mode: .operator, minReplicas: 2, maxReplicas: 2)),
                ratio: RatioSpec(minPrefillPerDecode: 0.5, maxPrefillPerDecode: 1.5))
            let targets = try await scenario.waitReady("ratio", .decode, atLeast: 2)
            // Both prefill pods ready first: the scale-up rate (2 × ready) then allows 4, above the guard's 3.
            _ = try await scenario.waitReady("ratio", .prefill, atLeast: 2)
            // The burst lasts until the guard has acted (recorded in the history); every sample on
            // the way counts towards the most prefill ever asked for.
            let load = scenario.load(targets, rate: 60, seconds: 150, promptTokens: 3000, outputTokens: 2)
            var most = 0
            let pool: InferencePool
            do {
                pool = try await eventually(timeout: .seconds(150), "the ratio guard to hold prefill") { () -> InferencePool? in
                    most = max(most, try await scenario.replicas("ratio", .prefill))
                    let pool = try await scenario.pool("ratio")
                    let guarded = pool.status?.scalingHistory?.contains { $0.tier == .prefill && $0.reason.contains("ratio") } == true
                    return guarded && most >= 3 ? pool : nil
                }
            } catch {
                // What the autoscaler saw, and what the load achieved, say why it never acted.
                load.cancel()
                let report = try? await load.value
                let status = try? await scenario.pool("ratio").status
                Issue.record("prefill reached \(most); status: \(String(describing: status)); load: \(report?.summary() ?? "none")")
                throw error
            }
            most = max(most, try await scenario.replicas("ratio", .prefill))
            #expect(most == 3, "prefill reached \(most) with 2 decode replicas and at most 1.5 prefill per decode; status: \(String(describing: pool.status))")
            #expect(pool.status?.scalingHistory?.contains { $0.tier == .prefill && $0.reason.contains("ratio") } == true,
                    "\(pool.status?.scalingHistory ?? [])")
            load.cancel()
            _ = await load.result
        }
    }
}

extension AutoscalingScenarioTests {
    @Test func unreadableMetricsHoldTheSizeAndSayMetricsUnavailable() async throws {
        try await Scenario.run(gpus: 4) { scenario in
            try await scenario.create("mu", prefill: tier(nil, replicas: 1), decode: tier(nil, replicas: 2))
            try await scenario.waitReady("mu", .decode, atLeast: 2)
            func fault(_ value: String?) async throws {
                let annotation = "emulator.tandem.x-k8s.io/fault" + (value.map { "=\($0)" } ?? "-")
                let done = try await scenario.kubectl(["annotate", "pods", "--overwrite", "-l", "inference.x-k8s.io/pool=mu,inference.x-k8s.io/role=decode", annotation])
                #expect(done.status == 0, "\(done.output)")
            }
            // Garbage first, then hand the idle decode tier to the autoscaler: with metrics it
            // would step down to 1 after 5 s; without, it must hold 2.
            try await fault("garbage")
            let pools = scenario.client.resources(InferencePool.self, namespace: scenario.namespace)
            _ = try await pools.patch("mu", .merge(["spec": ["decodeConfig": ["autoscaling": [
                "mode": "Operator", "minReplicas": 1, "maxReplicas": 4,
                "behavior": ["scaleDown": ["stabilizationSeconds": 5, "maxReplicasPerStep": 1, "periodSeconds": 3]],
            ]]]]))
            let unavailable = try await eventually("MetricsUnavailable") { () -> Condition? in
                let found = condition(try await scenario.pool("mu"), PoolCondition.scalingActive)
                return found?.reason == "MetricsUnavailable" ? found : nil
            }
            #expect(unavailable.status == .false)
            #expect(unavailable.message.contains("not Prometheus text"), "\(unavailable.message)")
            try await Task.sleep(for: .seconds(7))
            #expect(try await scenario.replicas("mu", .decode) == 2, "scaled on garbage")

            // Hanging scrapes time out: still held, still said.
            try await fault("hang")
            try await Task.sleep(for: .seconds(4))
            #expect(try await scenario.replicas("mu", .decode) == 2, "scaled on hanging scrapes")
            let hanging = condition(try await scenario.pool("mu"), PoolCondition.scalingActive)
            #expect(hanging?.reason == "MetricsUnavailable", "\(String(describing: hanging))")
            let events = try await scenario.client.resources(Event.self, namespace: scenario.namespace).list().items
            #expect(events.contains { $0.reason == "MetricsUnavailable" && $0.type == "Warning" })

            // Metrics back: the idle tier steps down to its minimum.
            try await fault(nil)
            _ = try await eventually("decode to step down once metrics are back") { () -> Bool? in
                try await scenario.replicas("mu", .decode) == 1 ? true : nil
            }
            // The status follows the scale-down within the same reconcile.
            _ = try await eventually("ScalingActive=True once metrics are back") { () -> Bool? in
                condition(try await scenario.pool("mu"), PoolCondition.scalingActive)?.status == .true ? true : nil
            }
        }
    }

    @Test func idlePrefillGoesToZeroAndLongPromptsBringItBack() async throws {
        try await Scenario.run(gpus: 4) { scenario in
            try await scenario.create(
                "zero",
                prefill: tier(AutoscalingSpec(mode: .operator, minReplicas: 0, maxReplicas: 2, behavior: Scenario.fast)),
                decode: tier(AutoscalingSpec(mode: .operator, minReplicas: 1, maxReplicas: 2, behavior: Scenario.fast)))
            let targets = try await scenario.waitReady("zero", .decode, atLeast: 1)
            // A new pool starts at minReplicas: no prefill pod; decode serves alone, prefilling
            // locally, and the long prompts it counts wake the prefill tier.
            #expect(try await scenario.replicas("zero", .prefill) == 0)
            let load = scenario.load(targets, rate: 4, seconds: 6, promptTokens: 600, outputTokens: 4)
            _ = try await eventually("prefill back from 0") { () -> Bool? in
                try await scenario.replicas("zero", .prefill) >= 1 ? true : nil
            }
            let report = try await load.value
            #expect(report.failed == 0, "\(report.summary())")
            // Idle again: back to 0, but only after a whole idle window (5 s).
            _ = try await eventually("prefill idle at 0") { () -> Bool? in
                try await scenario.replicas("zero", .prefill) == 0 ? true : nil
            }
            let history = try await eventually("the return to 0 in the history") { () -> [ScalingRecord]? in
                let history = try await scenario.pool("zero").status?.scalingHistory ?? []
                return history.first { $0.tier == .prefill }?.to == 0 ? history : nil
            }
            let wake = history.first { $0.tier == .prefill && $0.from == 0 && $0.reason.contains("wakes") }
            let sleep = history.first { $0.tier == .prefill && $0.to == 0 && $0.reason.contains("idle") }
            #expect(wake != nil && sleep != nil, "\(history)")
            if let wake, let sleep {
                // Times are whole seconds; the pod needs a moment to start before it can idle.
                #expect(sleep.time.date.timeIntervalSince(wake.time.date) >= 5, "woke \(wake.time), back to 0 at \(sleep.time)")
            }
            #expect(history.filter { $0.tier == .prefill }.count <= 3, "prefill flapped: \(history)")
        }
    }
}

/// The value of `body`, or nil when it takes longer than `limit`.
func withTimeout<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T? {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            return nil
        }
        let first = try await group.next() ?? nil
        group.cancelAll()
        return first
    }
}
