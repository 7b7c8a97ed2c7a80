import Autoscaling
import TandemAPI

/// `keda-llmd`: llm-d's token-aware KEDA recipe for a P/D-disaggregated pool (guide
/// `guides/workload-autoscaling/keda-epp-token-aware`, overlay `pd-disaggregation`): one
/// `ScaledObject` per tier, each a Prometheus trigger with `metricType: AverageValue` feeding
/// the HPA that KEDA creates.
///
/// - prefill: `sum(llm_d_epp_inflight_tokens{prefill pods}) / V_P` — seconds of prefill backlog
///   — against a threshold of 1.5 s per replica, so `desired = ceil(Σ in-flight prompt tokens ÷
///   V_P ÷ 1.5)`; `V_P` (`peakPrefillThroughput`, prompt tokens one replica prefills per
///   second) is a constructor parameter the benchmark computes from the performance model.
///   The in-flight tokens come from ``TierObservation/load`` (``PodLoad/inFlightPromptTokens``),
///   which the simulator fills as the EPP would;
/// - decode: `sum(vllm:kv_cache_usage_perc{decode pods})` against 0.8 per replica, so
///   `desired = ceil(Σ KV usage ÷ 0.8)`;
/// - each HPA: 10% tolerance on `total ÷ (threshold × ready pods)`, scale-up window 0 s and at
///   most 1 pod per 180 s, scale-down window 300 s and at most 1 pod per 300 s, 1–10 replicas,
///   acting every 15 s (the HPA sync period: the guide notes `pollingInterval` is inert with
///   `minReplicaCount: 1`).
///
/// Choices where the recipe is silent (see docs/benchmark-policies.md): a query that finds no
/// series reads 0 (the recipe's `or vector(0)`), so missing data lets a tier shrink; pods
/// without a reading simply add nothing to the sum, as with Prometheus; the tolerance ratio
/// uses ready pods, as Kubernetes documents for external metrics.
public struct KEDALLMDPolicy: DocumentedPolicy {
    /// `keda-llmd`.
    public var name: String { "keda-llmd" }

    /// `V_P`: prompt tokens one prefill replica prefills per second.
    public var peakPrefillThroughput: Double
    /// Prefill's threshold: seconds of backlog tolerated per replica.
    public var prefillBacklogSecondsPerReplica: Double
    /// Decode's threshold: pods' worth of full KV cache per replica.
    public var decodeKVCachePerReplica: Double
    /// Replica bounds of each `ScaledObject`.
    public var bounds: ClosedRange<Int>
    /// The HPA behavior the recipe sets on both tiers.
    public var behavior: HPABehavior
    /// How often KEDA's HPAs act.
    public var syncPeriod: Duration

    var controllers: [TierName: HPAController] = [:]
    var lastDesired: [TierName: Int] = [:]

    /// The prefill threshold.
    ///
    /// Source: llm-d `guides/workload-autoscaling/keda-epp-token-aware/pd-disaggregation/base/prefill-scaledobject.yaml`,
    /// `threshold: "1.5"` (seconds of prefill backlog per replica).
    public static let defaultPrefillBacklogSeconds = 1.5

    /// The decode threshold.
    ///
    /// Source: llm-d `.../pd-disaggregation/base/decode-scaledobject.yaml`, `threshold: "0.8"`.
    public static let defaultDecodeKVCache = 0.8

    /// The replica bounds.
    ///
    /// Source: llm-d `.../pd-disaggregation/base/{prefill,decode}-scaledobject.yaml`,
    /// `minReplicaCount: 1`, `maxReplicaCount: 10` (the benchmark gives every policy the pool's own bounds instead: docs/benchmarks.md).
    public static let defaultBounds = 1...10

    /// The recipe's behavior, the same for both tiers.
    ///
    /// Source: llm-d `.../pd-disaggregation/base/{prefill,decode}-scaledobject.yaml`,
    /// `advanced.horizontalPodAutoscalerConfig.behavior`: scale-up window 0 s, `Pods 1 per 180 s`;
    /// scale-down window 300 s, `Pods 1 per 300 s`.
    public static let recipeBehavior = HPABehavior(
        scaleUp: HPAScalingRules(
            stabilizationWindowSeconds: 0,  // Source: llm-d token-aware ScaledObjects, scaleUp.
            policies: [.init(.pods, value: 1, periodSeconds: 180)]),  // Source: ibid.
        scaleDown: HPAScalingRules(
            stabilizationWindowSeconds: 300,  // Source: llm-d token-aware ScaledObjects, scaleDown.
            policies: [.init(.pods, value: 1, periodSeconds: 300)]))  // Source: ibid.

    /// The recipe for a pool whose prefill replicas each prefill `peakPrefillThroughput` prompt
    /// tokens per second; other defaults are llm-d's (thresholds, bounds, behavior) and
    /// Kubernetes' (15 s sync period, 10% tolerance).
    public init(
        peakPrefillThroughput: Double,
        prefillBacklogSecondsPerReplica: Double = KEDALLMDPolicy.defaultPrefillBacklogSeconds,
        decodeKVCachePerReplica: Double = KEDALLMDPolicy.defaultDecodeKVCache,
        bounds: ClosedRange<Int> = KEDALLMDPolicy.defaultBounds,
        behavior: HPABehavior = KEDALLMDPolicy.recipeBehavior,
        syncPeriod: Duration = HPAController.defaultSyncPeriod
    ) {
        precondition(peakPrefillThroughput > 0, "peakPrefillThroughput must be positive")
        self.peakPrefillThroughput = peakPrefillThroughput
        self.prefillBacklogSecondsPerReplica = prefillBacklogSecondsPerReplica
        self.decodeKVCachePerReplica = decodeKVCachePerReplica
        self.bounds = bounds
        self.behavior = behavior
        self.syncPeriod = syncPeriod
    }

    private static let guide = "llm-d/llm-d guides/workload-autoscaling/keda-epp-token-aware"

    /// Every parameter of the policy.
    public static let parameters: [PolicyParameter] = [
        PolicyParameter(
            name: "prefill metric", value: "sum of in-flight prompt tokens over prefill pods ÷ peakPrefillThroughput (seconds of backlog)",
            source: "\(guide)/README.md \"How it works\" and pd-disaggregation/base/prefill-scaledobject.yaml (query on llm_d_epp_inflight_tokens)"),
        PolicyParameter(
            name: "peakPrefillThroughput (V_P)", value: "constructor parameter, from the performance model",
            source: "\(guide)/README.md: prompt tokens one replica prefills per second, measured per deployment (calibrate.sh)"),
        PolicyParameter(
            name: "prefill threshold", value: "1.5 s per replica (AverageValue)",
            source: "\(guide)/pd-disaggregation/base/prefill-scaledobject.yaml, threshold \"1.5\""),
        PolicyParameter(
            name: "decode metric and threshold", value: "sum of vllm:kv_cache_usage_perc over decode pods, 0.8 per replica (AverageValue)",
            source: "\(guide)/pd-disaggregation/base/decode-scaledobject.yaml, threshold \"0.8\""),
        PolicyParameter(
            name: "scale-up behavior", value: "window 0 s; at most 1 pod per 180 s",
            source: "\(guide)/pd-disaggregation/base/*-scaledobject.yaml, behavior.scaleUp"),
        PolicyParameter(
            name: "scale-down behavior", value: "window 300 s; at most 1 pod per 300 s",
            source: "\(guide)/pd-disaggregation/base/*-scaledobject.yaml, behavior.scaleDown"),
        PolicyParameter(
            name: "replica bounds", value: "1–10 per tier",
            source: "\(guide)/pd-disaggregation/base/*-scaledobject.yaml, minReplicaCount 1, maxReplicaCount 10"),
        PolicyParameter(
            name: "evaluation period", value: "15 s (the HPA sync period)",
            source: "\(guide)/README.md \"Verify\": responsiveness is governed by the HPA sync period (15 s), pollingInterval is inert at minReplicaCount 1"),
        PolicyParameter(
            name: "tolerance", value: "0.1 on total ÷ (threshold × ready pods)",
            source: "kubernetes.io \"Horizontal Pod Autoscaling\": default tolerance 10%; external metrics count Running and Ready pods"),
        PolicyParameter(
            name: "no series", value: "reads 0 (the tier may shrink)",
            source: "our reading of the recipe's `or vector(0)` in both queries"),
    ]

    /// Each tier's KEDA-made HPA, acting when its sync is due.
    public mutating func decide(
        spec: InferencePoolSpec, observations: [TierName: TierObservation], fixed: [TierName: Int], now: Duration
    ) -> [TierName: TierScaling] {
        var decisions: [TierName: TierScaling] = [:]
        for tier in [TierName.prefill, .decode] {
            guard let observation = observations[tier] else { continue }
            var controller = controllers[tier] ?? HPAController(
                behavior: behavior, minReplicas: bounds.lowerBound, maxReplicas: bounds.upperBound, syncPeriod: syncPeriod)
            decisions[tier] = decide(tier: tier, observation: observation, controller: &controller, now: now)
            controllers[tier] = controller
        }
        return decisions
    }

    /// The trigger's value for a tier: seconds of prefill backlog, or pods' worth of full KV cache.
    public func metric(tier: TierName, observation: TierObservation) -> Double {
        switch tier {
        case .prefill:
            let tokens = observation.load.values.compactMap { PolicyMath.usable($0.inFlightPromptTokens) }.reduce(0, +)
            return tokens / peakPrefillThroughput
        case .decode:
            return PolicyMath.signals(observation).compactMap { PolicyMath.usable($0.kvCacheUtilization) }.reduce(0, +)
        }
    }

    private mutating func decide(tier: TierName, observation: TierObservation, controller: inout HPAController, now: Duration) -> TierScaling {
        let current = observation.current
        let observed = PolicyMath.observed(observation)
        guard controller.sync(now: now) else {
            let next = controller.nextSync.map { PolicyMath.seconds($0 - now) } ?? 0
            return TierScaling(
                tier: tier, from: current, to: current, reason: "keda-llmd: next sync in \(PolicyMath.format(next))s",
                observed: observed, desired: lastDesired[tier] ?? current)
        }
        let threshold = tier == .prefill ? prefillBacklogSecondsPerReplica : decodeKVCachePerReplica
        let value = metric(tier: tier, observation: observation)
        let desired: Int
        if current > controller.maxReplicas || current < controller.minReplicas {
            desired = current
        } else {
            desired = controller.externalAverageValueReplicas(
                total: value, readyPods: observation.ready, current: current, target: threshold)
        }
        let outcome = controller.normalize(current: current, desired: desired, now: now)
        lastDesired[tier] = desired
        let label = tier == .prefill ? "prefill backlog" : "decode kv-cache sum"
        let unit = tier == .prefill ? "s" : ""
        var reason = "keda-llmd: \(label) \(PolicyMath.format(value))\(unit) vs \(PolicyMath.format(threshold))\(unit)/replica"
        reason += desired == current ? ", no change" : ", wants \(desired)"
        if let limit = outcome.limitedBy { reason += "; \(limit)" }
        return TierScaling(tier: tier, from: current, to: outcome.replicas, reason: reason, observed: observed, desired: desired)
    }
}
