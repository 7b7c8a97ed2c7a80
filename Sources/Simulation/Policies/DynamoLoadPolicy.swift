import Autoscaling
import TandemAPI

/// `dynamo-load`: NVIDIA Dynamo planner's load-based scaling with its default optimization
/// target, `throughput` ("static thresholds on queue depth and KV cache utilization", no SLA,
/// no profiling), in disaggregated mode.
///
/// Every adjustment interval (5 s), per tier, from each engine's own numbers:
/// - prefill: `queued prompt tokens ÷ context length` per engine (``PodLoad/queuedPromptTokens``);
///   **+1** when any engine is at or above 1.0 (a full context's worth queued), **−1** when every
///   engine is below 0.1 (and the tier has more than one replica);
/// - decode: `(KV tokens in use + KV tokens of queued requests) ÷ KV capacity` per engine —
///   `vllm:kv_cache_usage_perc` plus ``PodLoad/queuedPromptTokens`` ÷ `kvCacheTokensPerReplica`,
///   so it exceeds 1 when requests wait for cache; **+1** when any engine is above 1.0, **−1**
///   when every engine is below 0.6;
/// - never below `min_endpoint` (1); a tier whose replicas are still changing (ready ≠ desired)
///   or whose engines do not all report is only observed, as the planner does.
///
/// The thresholds are the planner's built-in `throughput` values; Dynamo's documentation names
/// them ("static thresholds on queue depth and KV cache utilization") without printing the
/// numbers, which live in `components/src/dynamo/planner/core/load_scaling.py`. The older,
/// deprecated load planner (prefill queue 5.0/0.2 requests per worker, KV 0.9/0.5 per 180 s) is
/// not modelled: Dynamo's docs call it inoperable.
public struct DynamoLoadPolicy: DocumentedPolicy {
    /// `dynamo-load`.
    public var name: String { "dynamo-load" }

    /// The model's context length (tokens), the unit of the prefill queue ratio.
    public var contextLength: Double
    /// KV-cache capacity of one decode replica (tokens), the unit of queued decode KV.
    public var kvCacheTokensPerReplica: Double
    /// Prefill: scale up when any engine's queued tokens ÷ context length reach this.
    public var prefillScaleUp: Double
    /// Prefill: scale down when every engine's ratio is below this.
    public var prefillScaleDown: Double
    /// Decode: scale up when any engine's KV utilization (queued included) exceeds this.
    public var decodeScaleUp: Double
    /// Decode: scale down when every engine's KV utilization is below this.
    public var decodeScaleDown: Double
    /// Seconds between decisions.
    public var adjustmentInterval: Duration
    /// The fewest replicas per tier.
    public var minEndpoint: Int
    /// The most replicas per tier; `nil` uses the pool spec's `maxReplicas`.
    public var maxReplicas: Int?
    /// The most GPUs over both tiers (`max_gpu_budget`); `nil`: none beyond `maxReplicas`.
    public var gpuBudget: Int?
    /// GPUs per replica of each tier, for `gpuBudget`.
    public var gpusPerReplica: [TierName: Int]

    var lastAdjustment: Duration?

    /// Source: ai-dynamo/dynamo `components/src/dynamo/planner/core/load_scaling.py`,
    /// `_PREFILL_THROUGHPUT_SCALE_UP = 1.0` (queued ≥ context length).
    public static let defaultPrefillScaleUp = 1.0
    /// Source: ibid., `_PREFILL_THROUGHPUT_SCALE_DOWN = 0.1` (queued < context length ÷ 10).
    public static let defaultPrefillScaleDown = 0.1
    /// Source: ibid., `_DECODE_THROUGHPUT_SCALE_UP = 1.0` (utilization incl. queued > 100%).
    public static let defaultDecodeScaleUp = 1.0
    /// Source: ibid., `_DECODE_THROUGHPUT_SCALE_DOWN = 0.6` (utilization < 60%).
    public static let defaultDecodeScaleDown = 0.6
    /// Source: Dynamo Planner Guide, "Load-Based Scaling Settings": `load_adjustment_interval` default 5 s.
    public static let defaultAdjustmentInterval = Duration.seconds(5)
    /// Source: Dynamo Planner docs, PlannerConfig `min_endpoint` default 1.
    public static let defaultMinEndpoint = 1

    /// The planner for a model with the given context length whose decode replicas each hold
    /// `kvCacheTokensPerReplica` KV tokens; thresholds and interval default to Dynamo's.
    public init(
        contextLength: Double, kvCacheTokensPerReplica: Double,
        prefillScaleUp: Double = DynamoLoadPolicy.defaultPrefillScaleUp,
        prefillScaleDown: Double = DynamoLoadPolicy.defaultPrefillScaleDown,
        decodeScaleUp: Double = DynamoLoadPolicy.defaultDecodeScaleUp,
        decodeScaleDown: Double = DynamoLoadPolicy.defaultDecodeScaleDown,
        adjustmentInterval: Duration = DynamoLoadPolicy.defaultAdjustmentInterval,
        minEndpoint: Int = DynamoLoadPolicy.defaultMinEndpoint,
        maxReplicas: Int? = nil, gpuBudget: Int? = nil, gpusPerReplica: [TierName: Int] = [:]
    ) {
        precondition(contextLength > 0 && kvCacheTokensPerReplica > 0, "contextLength and kvCacheTokensPerReplica must be positive")
        self.contextLength = contextLength
        self.kvCacheTokensPerReplica = kvCacheTokensPerReplica
        self.prefillScaleUp = prefillScaleUp
        self.prefillScaleDown = prefillScaleDown
        self.decodeScaleUp = decodeScaleUp
        self.decodeScaleDown = decodeScaleDown
        self.adjustmentInterval = adjustmentInterval
        self.minEndpoint = max(1, minEndpoint)
        self.maxReplicas = maxReplicas
        self.gpuBudget = gpuBudget
        self.gpusPerReplica = gpusPerReplica
    }

    private static let code = "ai-dynamo/dynamo components/src/dynamo/planner/core/load_scaling.py (easy-mode static thresholds)"
    private static let guide = "Dynamo Planner Guide and Planner overview (docs.nvidia.com/dynamo, ai-dynamo/dynamo docs/.../planner)"

    /// Every parameter of the policy.
    public static let parameters: [PolicyParameter] = [
        PolicyParameter(
            name: "optimization target", value: "throughput (the default): load-based scaling on static thresholds",
            source: "\(guide): \"throughput (default): Uses static thresholds on queue depth and KV cache utilization\""),
        PolicyParameter(
            name: "prefill signal", value: "per engine: queued prefill tokens ÷ context length",
            source: code),
        PolicyParameter(
            name: "prefill scale-up", value: "+1 when any engine ≥ 1.0",
            source: "\(code): _PREFILL_THROUGHPUT_SCALE_UP = 1.0"),
        PolicyParameter(
            name: "prefill scale-down", value: "−1 when every engine < 0.1",
            source: "\(code): _PREFILL_THROUGHPUT_SCALE_DOWN = 0.1"),
        PolicyParameter(
            name: "decode signal", value: "per engine: (KV tokens in use + KV tokens of queued requests) ÷ KV capacity",
            source: code),
        PolicyParameter(
            name: "decode scale-up", value: "+1 when any engine > 1.0",
            source: "\(code): _DECODE_THROUGHPUT_SCALE_UP = 1.0"),
        PolicyParameter(
            name: "decode scale-down", value: "−1 when every engine < 0.6",
            source: "\(code): _DECODE_THROUGHPUT_SCALE_DOWN = 0.6"),
        PolicyParameter(
            name: "adjustment interval", value: "5 s, at most ±1 replica per tier each",
            source: "\(guide): load_adjustment_interval(_seconds) default 5; the load-based planner changes workers by 1 per adjustment interval"),
        PolicyParameter(
            name: "min_endpoint", value: "1 per tier",
            source: "\(guide): PlannerConfig min_endpoint default 1"),
        PolicyParameter(
            name: "while scaling", value: "observe only until ready = desired and every engine reports",
            source: "\(code) (_scaling_in_progress, worker-count reconciliation); the older load-planner doc says adjustment is blocked while workers change"),
        PolicyParameter(
            name: "max_gpu_budget", value: "not applied by default (Dynamo's default is 8 GPUs); maxReplicas is the pool's, as for the other policies",
            source: "\(guide): max_gpu_budget default 8; left out for a like-for-like ceiling"),
    ]

    /// One adjustment when the interval has passed.
    public mutating func decide(
        spec: InferencePoolSpec, observations: [TierName: TierObservation], fixed: [TierName: Int], now: Duration
    ) -> [TierName: TierScaling] {
        let due = lastAdjustment.map { now - $0 >= adjustmentInterval } ?? true
        if due { lastAdjustment = now }
        var decisions: [TierName: TierScaling] = [:]
        var counts: [TierName: Int] = fixed
        for (tier, observation) in observations { counts[tier] = observation.current }
        for tier in [TierName.prefill, .decode] {
            guard let observation = observations[tier] else { continue }
            var scaling = decide(tier: tier, observation: observation, spec: spec, due: due)
            if scaling.to > observation.current, let budget = gpuBudget {
                var after = counts
                after[tier] = scaling.to
                let gpus = after.reduce(0) { $0 + $1.value * (gpusPerReplica[$1.key] ?? 1) }
                if gpus > budget {
                    scaling.reason += "; GPU budget \(budget) reached, holding \(observation.current)"
                    scaling.to = observation.current
                }
            }
            counts[tier] = scaling.to
            decisions[tier] = scaling
        }
        return decisions
    }

    /// Each engine's load ratio for a tier (prefill: queued tokens ÷ context length; decode:
    /// KV utilization with queued requests), `nil` when an engine's numbers are missing.
    public func ratios(tier: TierName, observation: TierObservation) -> [Double]? {
        let signals = PolicyMath.signalsByPod(observation)
        switch tier {
        case .prefill:
            guard !observation.load.isEmpty else { return nil }
            return observation.load.values.map { (PolicyMath.usable($0.queuedPromptTokens) ?? 0) / contextLength }
        case .decode:
            var ratios: [Double] = []
            for (pod, podSignals) in signals {
                guard let kv = PolicyMath.usable(podSignals.kvCacheUtilization) else { return nil }
                let queued = PolicyMath.usable(observation.load[pod]?.queuedPromptTokens) ?? 0
                ratios.append(kv + queued / kvCacheTokensPerReplica)
            }
            return ratios.isEmpty ? nil : ratios
        }
    }

    private func decide(tier: TierName, observation: TierObservation, spec: InferencePoolSpec, due: Bool) -> TierScaling {
        let current = observation.current
        let observed = PolicyMath.observed(observation)
        let upper = max(minEndpoint, maxReplicas ?? PolicyMath.specBounds(spec, tier).upperBound)
        func hold(_ why: String, metricsUnavailable: String? = nil) -> TierScaling {
            TierScaling(tier: tier, from: current, to: current, reason: "dynamo-load: \(why)", observed: observed,
                        metricsUnavailable: metricsUnavailable, desired: current)
        }
        guard due else { return hold("between adjustments") }
        if current < minEndpoint {
            return TierScaling(tier: tier, from: current, to: minEndpoint, reason: "dynamo-load: raised to min_endpoint \(minEndpoint)",
                               observed: observed, desired: minEndpoint)
        }
        guard observation.ready == current else { return hold("scaling in progress (\(observation.ready) of \(current) ready), observing only") }
        guard let ratios = ratios(tier: tier, observation: observation), ratios.count >= observation.ready else {
            return hold("not every engine reports its load", metricsUnavailable: "engine load incomplete")
        }
        let up = tier == .prefill ? prefillScaleUp : decodeScaleUp
        let down = tier == .prefill ? prefillScaleDown : decodeScaleDown
        let label = tier == .prefill ? "queued/context" : "kv incl. queued"
        let peak = ratios.max() ?? 0
        let scaleUp = tier == .prefill ? ratios.contains { $0 >= up } : ratios.contains { $0 > up }
        if scaleUp {
            let to = min(current + 1, upper)
            let why = "max \(label) \(PolicyMath.format(peak)) ≥ \(PolicyMath.format(up)), +1"
            return TierScaling(tier: tier, from: current, to: to,
                               reason: "dynamo-load: \(why)\(to == current ? "; at max \(upper)" : "")", observed: observed, desired: current + 1)
        }
        if current > 1, ratios.allSatisfy({ $0 < down }) {
            let to = max(current - 1, minEndpoint)
            return TierScaling(tier: tier, from: current, to: to,
                               reason: "dynamo-load: max \(label) \(PolicyMath.format(peak)) < \(PolicyMath.format(down)) on every engine, −1",
                               observed: observed, desired: to)
        }
        return hold("max \(label) \(PolicyMath.format(peak)) within [\(PolicyMath.format(down)), \(PolicyMath.format(up))], no change")
    }
}
