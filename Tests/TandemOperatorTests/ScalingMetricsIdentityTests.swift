import Autoscaling
import KubeCore
import KubeRuntime
import TandemAPI
import Testing

@testable import TandemOperator

/// Found by the soak (`make soak`): a pool deleted and created again under the same name before
/// a worker saw it gone never reaches the deletion hook, and its successor showed the old pool's
/// `tandem_scaling_decisions_total{direction="up"}`.
@Suite struct ScalingMetricsIdentityTests {
    static func pool(_ name: String, uid: String, operated: Bool = true) -> InferencePool {
        var metadata = ObjectMeta(name: name, namespace: "ns")
        metadata.uid = uid
        let mode: AutoscalingMode = operated ? .operator : .disabled
        return InferencePool(metadata: metadata, spec: InferencePoolSpec(
            model: "m", prefillConfig: TierConfig(autoscaling: AutoscalingSpec(mode: mode, minReplicas: 0))))
    }

    static let up = TierScaling(tier: .prefill, from: 0, to: 1, reason: "raised to min 1", observed: PodSignals(), desired: 1)
    static let hold = TierScaling(tier: .prefill, from: 0, to: 0, reason: "holding", observed: PodSignals(), desired: 0)
    static let upSeries = "tandem_scaling_decisions_total{namespace=\"ns\",pool=\"again\",tier=\"prefill\",direction=\"up\"}"

    @Test func aPoolCreatedAgainBeforeTheDeletionHookRanStartsWithoutTheOldSeries() {
        let metrics = ScalingMetrics()
        metrics.record(pool: Self.pool("again", uid: "uid-1"), decisions: [.prefill: Self.up], status: InferencePoolStatus())
        #expect(metrics.text.contains(Self.upSeries))

        // No forget: the same name, a new UID, autoscaled.
        metrics.record(pool: Self.pool("again", uid: "uid-2"), decisions: [.prefill: Self.hold], status: InferencePoolStatus())
        #expect(!metrics.text.contains(Self.upSeries), "\(metrics.text)")
        #expect(metrics.text.contains("direction=\"hold\"} 1"), "\(metrics.text)")
        #expect(metrics.poolsWithSeries == [ObjectKey(namespace: "ns", name: "again")])
    }

    @Test func aSuccessorThatIsNotAutoscaledDropsTheOldSeriesToo() {
        let metrics = ScalingMetrics()
        metrics.record(pool: Self.pool("again", uid: "uid-1"), decisions: [.prefill: Self.up], status: InferencePoolStatus())
        metrics.record(pool: Self.pool("again", uid: "uid-2", operated: false), decisions: [:], status: InferencePoolStatus())
        #expect(!metrics.text.contains("pool=\"again\""), "\(metrics.text)")
        #expect(metrics.poolsWithSeries.isEmpty)
    }

    @Test func theSamePoolKeepsItsSeries() {
        let metrics = ScalingMetrics()
        let pool = Self.pool("again", uid: "uid-1")
        metrics.record(pool: pool, decisions: [.prefill: Self.up], status: InferencePoolStatus())
        metrics.record(pool: pool, decisions: [:], status: InferencePoolStatus())
        metrics.record(pool: pool, decisions: [.prefill: Self.up], status: InferencePoolStatus())
        #expect(metrics.text.contains(Self.upSeries + " 2"), "\(metrics.text)")
    }
}
