import Autoscaling
import Foundation
import KubeCore
import KubeRuntime
import Rendering
import Synchronization
import TandemAPI
import Testing

@testable import TandemOperator

/// A signal source whose reads each take `delay` (honouring cancellation) and answer every
/// target with `waiting` requests; counts the reads.
private final class FakeSource: SignalSource {
    let delay: Duration
    let waiting: Double
    let reads = Atomic<Int>(0)

    init(delay: Duration = .zero, waiting: Double = 1) {
        self.delay = delay
        self.waiting = waiting
    }

    func read(_ targets: [ScrapeTarget], modelName: String?) async -> [String: PodReading] {
        if delay > .zero { try? await Task.sleep(for: delay) }
        reads.add(1, ordering: .relaxed)
        var readings: [String: PodReading] = [:]
        for target in targets {
            readings[target.pod] = .metrics(PodMetrics(signals: PodSignals(waiting: waiting, running: 1, kvCacheUtilization: 0.1)))
        }
        return readings
    }
}

private func pool(_ name: String, uid: String = "uid-1") -> InferencePool {
    var metadata = ObjectMeta(name: name, namespace: "ns")
    metadata.uid = uid
    let autoscaling = AutoscalingSpec(mode: .operator, minReplicas: 1, maxReplicas: 4)
    return InferencePool(metadata: metadata, spec: InferencePoolSpec(
        model: "m", prefillConfig: TierConfig(replicas: 1), decodeConfig: TierConfig(autoscaling: autoscaling)))
}

private func deployment(_ pool: String) -> Deployment {
    Deployment(metadata: ObjectMeta(name: ChildNames.tier(pool, .decode), namespace: "ns"), spec: DeploymentSpec(replicas: 2))
}

/// A ready decode pod of `pool`, labelled as the renderer labels it.
private func pod(_ pool: String, _ index: Int) -> Pod {
    Pod(metadata: ObjectMeta(name: "\(ChildNames.tier(pool, .decode))-\(index)", namespace: "ns",
                             labels: PoolLabels.selector(pool: pool, tier: .decode)),
        status: PodStatus(phase: "Running", conditions: [PodCondition(type: "Ready", status: "True")], podIP: "127.0.0.\(index + 1)"))
}

/// Polls `body` until it returns a value, for up to `limit`.
private func eventually<T>(_ limit: Duration = .seconds(20), _ body: () async -> T?) async -> T? {
    let end = ContinuousClock.now + limit
    while ContinuousClock.now < end {
        if let value = await body() { return value }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await body()
}

@Suite("Autoscaler: background sampling, long names, forgetting deleted pools")
struct AutoscalerStateTests {
    @Test func aRoundNeverWaitsOnTheSourceAndDecidesOnceASampleLands() async throws {
        // A read that takes an hour stands for a pod that stalls: the round must not wait on it.
        let stalled = Autoscaler(source: FakeSource(delay: .seconds(3600)), options: AutoscalerOptions(interval: .milliseconds(100)))
        let name = "stalls"
        let started = ContinuousClock.now
        for _ in 0..<3 {
            let round = await stalled.round(pool: pool(name), deployments: [.decode: deployment(name)], pods: [pod(name, 0)])
            guard case .notDue = round else {
                Issue.record("decided without a sample: \(round)")
                return
            }
        }
        // Far below the source's hour (not a window: a loaded machine is slow, never that slow).
        #expect(ContinuousClock.now - started < .seconds(600), "a round waited on the source")
        stalled.forget(ObjectKey(pool(name)))
        #expect(stalled.rememberedPools.isEmpty)

        // A source that answers: its sample lands, the listener hears of it, the round decides once.
        let source = FakeSource()
        let autoscaler = Autoscaler(source: source, options: AutoscalerOptions(interval: .milliseconds(100)))
        let notified = Atomic<Int>(0)
        autoscaler.onSample(namespace: "ns") { _ in notified.add(1, ordering: .relaxed) }
        autoscaler.onSample(namespace: "elsewhere") { _ in Issue.record("a listener of another namespace was told") }
        _ = await autoscaler.round(pool: pool(name), deployments: [.decode: deployment(name)], pods: [pod(name, 0)])
        let decisions = await eventually { () -> [TierName: TierScaling]? in
            guard notified.load(ordering: .relaxed) > 0 else { return nil }
            if case .decided(let decisions) = await autoscaler.round(pool: pool(name), deployments: [.decode: deployment(name)], pods: [pod(name, 0)]) {
                return decisions
            }
            return nil
        }
        #expect(decisions?[.decode]?.metricsUnavailable == nil, "\(String(describing: decisions))")
        #expect(decisions?[.decode]?.observed.waiting == 1)
        autoscaler.stop()
    }

    @Test func podsOfAPoolWithA70CharacterNameAreRead() async throws {
        let name = String(repeating: "a", count: 40) + "-" + String(repeating: "b", count: 29)
        #expect(name.count == 70)
        #expect(ChildNames.poolLabel(name) != name, "the label is not shortened; the test does not test long names")
        let autoscaler = Autoscaler(source: FakeSource(waiting: 3), options: AutoscalerOptions(interval: .milliseconds(100)))
        let pods = [pod(name, 0), pod(name, 1)]
        let decisions = await eventually { () -> [TierName: TierScaling]? in
            if case .decided(let decisions) = await autoscaler.round(pool: pool(name), deployments: [.decode: deployment(name)], pods: pods) {
                return decisions
            }
            return nil
        }
        // Both pods were found by their (hashed) label and read: no "no ready pods" hold.
        #expect(decisions?[.decode]?.observed.waiting == 3, "\(String(describing: decisions))")
        #expect(decisions?[.decode]?.reason.contains("no ready pods") == false)
        autoscaler.stop()
    }

    @Test func aPoolCreatedAgainUnderTheSameNameStartsWithAnEmptyHistory() {
        let autoscaler = Autoscaler(source: FakeSource())
        let first = pool("again", uid: "uid-1")
        let now = KubeTime(Date())
        let scaled = TierScaling(tier: .decode, from: 1, to: 3, reason: "load", observed: PodSignals(), desired: 3)
        let record = autoscaler.record([.decode: scaled], pool: first, now: now)
        #expect(record.history.count == 1)
        autoscaler.remember(InferencePoolStatus(scalingHistory: record.history), pool: first)

        // Same name, new UID, before any deletion hook ran: nothing of the old pool shows.
        let second = pool("again", uid: "uid-2")
        #expect(autoscaler.record([:], pool: second, now: now).history.isEmpty)
        var status = InferencePoolStatus()
        autoscaler.restore(into: &status, pool: second)
        #expect(status.scalingHistory == nil)

        // Forgotten: no state kept at all.
        autoscaler.forget(ObjectKey(second))
        #expect(autoscaler.rememberedPools.isEmpty)
        #expect(autoscaler.record([:], pool: first, now: now).history.isEmpty)
    }

    @Test func forgettingAPoolRemovesEveryMetricSeriesLabelledWithIt() {
        let metrics = ScalingMetrics()
        let gone = pool("gone")
        let kept = pool("kept")
        let decision = TierScaling(tier: .decode, from: 1, to: 2, reason: "load", observed: PodSignals(waiting: 3, running: 1, kvCacheUtilization: 0.5), desired: 2)
        for pool in [gone, kept] {
            metrics.record(pool: pool, decisions: [.decode: decision], status: InferencePoolStatus())
        }
        #expect(metrics.text.contains("pool=\"gone\""))
        metrics.forget(ObjectKey(gone))
        metrics.forget(ObjectKey(gone))  // idempotent
        #expect(!metrics.text.contains("pool=\"gone\""), "\(metrics.text)")
        #expect(metrics.text.contains("tandem_tier_desired_replicas{namespace=\"ns\",pool=\"kept\""), "\(metrics.text)")
        #expect(metrics.poolsWithSeries == [ObjectKey(kept)])

        // Created again: its counters start from zero.
        metrics.record(pool: gone, decisions: [.decode: decision], status: InferencePoolStatus())
        #expect(metrics.text.contains("tandem_scaling_decisions_total{namespace=\"ns\",pool=\"gone\",tier=\"decode\",direction=\"up\"} 1\n"), "\(metrics.text)")
    }

    /// Every snapshot of every pool reads the sampler's listener. A bare closure in a `Mutex`
    /// gained a thunk pair per read (swiftlang/swift#91348): the heap grew with every snapshot
    /// in `make soak`, and 200,000 reads overflowed the stack of a debug build.
    @Test func readingTheListenerTwoHundredThousandTimesLeavesItAsItWas() async {
        let sampler = MetricsSampler(source: FakeSource(), interval: .seconds(1), idleLimit: .seconds(30))
        let calls = Atomic<Int>(0)
        sampler.setListener { _ in calls.add(1, ordering: .relaxed) }
        for _ in 0..<200_000 { #expect(sampler.currentListener() != nil) }
        await sampler.currentListener()?.notify(ObjectKey(namespace: "ns", name: "pool"))
        #expect(calls.load(ordering: .relaxed) == 1)
    }

    @Test func theOverallDeadlineCutsAnOperationThatNeverEnds() async {
        let started = ContinuousClock.now
        await #expect(throws: OverallDeadline.Exceeded.self) {
            try await OverallDeadline.run(within: .milliseconds(200)) { try await Task.sleep(for: .seconds(3600)) }
        }
        // Cut long before the operation's hour would end. (Not a timing window: a loaded machine
        // took 11 s to run this 200 ms deadline's cancellation beside stress-ng.)
        #expect(ContinuousClock.now - started < .seconds(600))
        #expect(OverallDeadline.format(.milliseconds(800)) == "0.8 s")
        #expect(OverallDeadline.format(.seconds(2)) == "2 s")
    }
}
