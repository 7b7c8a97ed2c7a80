import TandemAPI

/// What keeps a tier from growing, whatever its metrics say.
public enum CapacityLimit: Sendable, Hashable {
    /// Pods of the tier are Pending: the scheduler found no node with room (`Unschedulable`).
    case insufficientCapacity(String)
    /// The ReplicaSet cannot create pods: a ResourceQuota denies them (`ReplicaFailure`/`FailedCreate`).
    case quotaExceeded(String)

    /// The condition reason.
    public var reason: String {
        switch self {
        case .insufficientCapacity: "InsufficientCapacity"
        case .quotaExceeded: "QuotaExceeded"
        }
    }

    /// What the cluster said.
    public var message: String {
        switch self {
        case .insufficientCapacity(let message), .quotaExceeded(let message): message
        }
    }
}

/// What the autoscaler sees of one tier in one round.
public struct TierObservation: Sendable, Hashable {
    /// The Deployment's `spec.replicas`.
    public var current: Int
    /// Ready pods.
    public var ready: Int
    /// One reading per ready pod that could be addressed, by pod name.
    public var readings: [String: PodReading]
    /// Set when the tier cannot grow.
    public var capacity: CapacityLimit?
    /// Router-side load of the ready pods, by pod name, where known (a simulator; see ``PodLoad``).
    public var load: [String: PodLoad]
    /// How long a new pod of the tier takes to become ready, where known: growth is sized for
    /// the load expected then (``RecommendationInput/lead``).
    public var startupDelay: Duration?

    public init(current: Int, ready: Int, readings: [String: PodReading], capacity: CapacityLimit? = nil,
                load: [String: PodLoad] = [:], startupDelay: Duration? = nil) {
        self.current = current
        self.ready = ready
        self.readings = readings
        self.capacity = capacity
        self.load = load
        self.startupDelay = startupDelay
    }
}

/// One tier's decision in one round.
public struct TierScaling: Sendable, Hashable {
    public var tier: TierName
    /// The replicas before the decision.
    public var from: Int
    /// The replicas to set.
    public var to: Int
    /// Why, with the numbers.
    public var reason: String
    /// The mean signals over the pods that reported them.
    public var observed: PodSignals
    /// Set when no ready pod's metrics could be read; the size was held.
    public var metricsUnavailable: String?
    /// Set when the tier wanted to grow and could not.
    public var capacity: CapacityLimit?
    /// What the signals alone asked for.
    public var desired: Int

    /// A decision; ``PoolAutoscaler`` makes these, tests and other policies may too.
    public init(tier: TierName, from: Int, to: Int, reason: String, observed: PodSignals, metricsUnavailable: String? = nil,
                capacity: CapacityLimit? = nil, desired: Int) {
        self.tier = tier
        self.from = from
        self.to = to
        self.reason = reason
        self.observed = observed
        self.metricsUnavailable = metricsUnavailable
        self.capacity = capacity
        self.desired = desired
    }

    /// `true` when the replicas change.
    public var changed: Bool { from != to }
}

/// The autoscaling settings of one tier, from its `autoscaling` block.
public struct TierSettings: Sendable, Hashable {
    public var targets: ScalingTargets
    public var minReplicas: Int
    public var maxReplicas: Int
    public var behavior: Autoscaling.ScalingBehavior

    /// The largest tier when the spec sets no `maxReplicas`.
    ///
    /// Source: Tandem's own guard against runaway scale-up; API.md's examples set 8–16.
    public static let defaultMaxReplicas = 10

    public init(spec: AutoscalingSpec?, tier: TierName) {
        let defaults: ScalingTargets = tier == .prefill ? .prefillDefault : .decodeDefault
        if let target = spec?.target,
            target.waitingRequestsPerReplica != nil || target.kvCacheUtilization != nil || target.runningRequestsPerReplica != nil
                || target.inFlightRequestsPerReplica != nil
        {
            targets = ScalingTargets(
                waitingRequestsPerReplica: target.waitingRequestsPerReplica, kvCacheUtilization: target.kvCacheUtilization,
                runningRequestsPerReplica: target.runningRequestsPerReplica, inFlightRequestsPerReplica: target.inFlightRequestsPerReplica)
        } else {
            targets = defaults
        }
        // Decode keeps at least one replica: with no decode nothing is served.
        let floor = tier == .decode ? 1 : 0
        minReplicas = max(floor, Int(spec?.minReplicas ?? 1))
        maxReplicas = max(minReplicas, Int(spec?.maxReplicas ?? Int32(Self.defaultMaxReplicas)))
        func policy(_ rules: ScalingRules?, _ fallback: ScalingPolicy) -> ScalingPolicy {
            ScalingPolicy(
                stabilizationSeconds: rules?.stabilizationSeconds.map(Int.init) ?? fallback.stabilizationSeconds,
                maxReplicasPerStep: rules?.maxReplicasPerStep.map(Int.init) ?? fallback.maxReplicasPerStep,
                periodSeconds: rules?.periodSeconds.map(Int.init) ?? fallback.periodSeconds)
        }
        behavior = Autoscaling.ScalingBehavior(
            scaleUp: policy(spec?.behavior?.scaleUp, .scaleUpDefault),
            scaleDown: policy(spec?.behavior?.scaleDown, .scaleDownDefault))
    }
}

/// The autoscaler of one pool: both tiers' recommenders, the ratio guard and the wake-up of a
/// prefill tier scaled to zero. Pure: the caller brings observations and the time.
public struct PoolAutoscaler: Sendable {
    var recommenders: [TierName: TierRecommender] = [:]
    /// Decode's prompts at or above the threshold per pod at the last round (for the wake-up).
    var longPrompts: [String: Double]?
    /// Since when every prefill pod has been idle (nothing waiting, nothing running).
    var prefillIdleSince: Duration?


    public init() {}

    /// Decides both tiers. `observations` holds the tiers in `Operator` mode only; a tier
    /// absent from it is left alone (and counts with `fixed` replicas in the ratio guard).
    public mutating func decide(
        spec: InferencePoolSpec, observations: [TierName: TierObservation], fixed: [TierName: Int],
        panic: PanicPolicy = .default, averagingWindow: Duration = RecommendationInput.defaultAveragingWindow, now: Duration
    ) -> [TierName: TierScaling] {
        var decisions: [TierName: TierScaling] = [:]
        let longPromptsNow = observations[.decode].map(Self.longPrompts(spec: spec))
        for tier in [TierName.decode, .prefill] {
            guard let observation = observations[tier] else { continue }
            let settings = TierSettings(spec: spec.config(tier).autoscaling, tier: tier)
            var scaling = decide(
                tier: tier, observation: observation, settings: settings, panic: panic, averagingWindow: averagingWindow, now: now)
            if tier == .prefill, observation.current == 0 {
                wake(&scaling, spec: spec, longPromptsNow: longPromptsNow)
            }
            decisions[tier] = scaling
        }
        if let longPromptsNow { longPrompts = longPromptsNow }

        // The ratio guard moves prefill only, after both tiers are decided.
        if var prefill = decisions[.prefill], let ratio = spec.ratio {
            let decode = decisions[.decode]?.to ?? fixed[.decode] ?? 1
            let settings = TierSettings(spec: spec.prefillConfig?.autoscaling, tier: .prefill)
            let guardrail = RatioGuard(minPrefillPerDecode: ratio.minPrefillPerDecode, maxPrefillPerDecode: ratio.maxPrefillPerDecode)
            let outcome = guardrail.apply(prefill: prefill.to, decode: decode, prefillBounds: settings.minReplicas...settings.maxReplicas)
            if outcome.adjustment != nil {
                var guarded = outcome.prefillReplicas
                if guarded > prefill.from, let capacity = observations[.prefill]?.capacity {
                    guarded = max(prefill.from, prefill.to)
                    prefill.capacity = capacity
                }
                if guarded != prefill.to {
                    prefill.to = guarded
                    prefill.reason = "ratio guard: \(outcome.reason)"
                }
            }
            decisions[.prefill] = prefill
        }
        return decisions
    }

    mutating func decide(
        tier: TierName, observation: TierObservation, settings: TierSettings, panic: PanicPolicy,
        averagingWindow: Duration = RecommendationInput.defaultAveragingWindow, now: Duration
    ) -> TierScaling {
        // In pod-name order: sums of doubles depend on their order, and decisions must not
        // depend on a dictionary's (per-process random) one.
        let pods = observation.readings.sorted { $0.key < $1.key }.compactMap { _, reading -> PodSignals? in
            if case .metrics(let metrics) = reading { return metrics.signals }
            return nil
        }
        let input = RecommendationInput(
            currentReplicas: observation.current, readyReplicas: observation.ready, pods: pods, targets: settings.targets,
            minReplicas: settings.minReplicas, maxReplicas: settings.maxReplicas, behavior: settings.behavior, panic: panic,
            averagingWindow: averagingWindow, lead: observation.startupDelay ?? .zero)
        var recommender = recommenders[tier] ?? TierRecommender()
        let recommendation = recommender.recommend(input, now: now)
        recommenders[tier] = recommender

        var scaling = TierScaling(
            tier: tier, from: observation.current, to: recommendation.replicas, reason: recommendation.reason,
            observed: recommendation.observed, desired: recommendation.desiredReplicas)
        if recommendation.limitedBy == .metricsUnavailable {
            let failures = observation.readings.values.compactMap { reading -> String? in
                if case .failed(let why) = reading { return why }
                return nil
            }.sorted()
            if observation.ready == 0 {
                scaling.reason = "no ready pods to read; holding \(observation.current)"
            } else {
                // Each failure names its pod and what went wrong (e.g. the scrape's timeout); the
                // first three are listed, so a condition message stays short for a large tier.
                let listed = failures.prefix(3).joined(separator: "; ") + (failures.count > 3 ? "; and \(failures.count - 3) more" : "")
                scaling.metricsUnavailable = failures.isEmpty
                    ? "no ready pod reports a signal this tier scales on"
                    : "\(failures.count) of \(observation.ready) ready pods unreadable: \(listed)"
                scaling.reason = "metrics unavailable; holding \(observation.current)"
            }
            scaling.to = min(max(observation.current, settings.minReplicas), settings.maxReplicas)
        }
        // A prefill tier goes to zero only after it has been idle for its whole scale-down
        // window: prompts in flight need their prefill pods, and a tier just woken stays a while.
        if tier == .prefill {
            let idle = !pods.isEmpty && pods.allSatisfy { ($0.waiting ?? 0) == 0 && ($0.running ?? 0) == 0 }
            prefillIdleSince = idle ? (prefillIdleSince ?? now) : nil
            let window = Duration.seconds(settings.behavior.scaleDown.stabilizationSeconds)
            if scaling.to == 0, observation.current > 0 {
                if let since = prefillIdleSince, now - since >= window {
                    scaling.reason = "idle for \(TierRecommender.format(now - since)) (window \(TierRecommender.format(window))); prefill goes to 0, decode prefills locally"
                } else {
                    scaling.to = 1
                    if scaling.to == observation.current { scaling.reason += "; kept at 1 until idle for \(TierRecommender.format(window))" }
                }
            }
        }
        // Pods that cannot be placed or created: no further growth, and the limit is reported
        // for as long as the tier wants at least what it has (its last step may be the one stuck).
        if let capacity = observation.capacity, scaling.to > observation.current || scaling.desired >= observation.current {
            scaling.capacity = capacity
            if scaling.to > observation.current {
                scaling.reason = "wanted \(scaling.to) (\(scaling.reason)) but \(capacity.message); holding \(observation.current)"
                scaling.to = observation.current
            }
        }
        return scaling
    }

    /// A prefill tier at zero comes back when decode saw new prompts long enough to be disaggregated.
    mutating func wake(_ scaling: inout TierScaling, spec: InferencePoolSpec, longPromptsNow: [String: Double]?) {
        guard let now = longPromptsNow, let before = longPrompts else { return }
        let fresh = now.sorted { $0.key < $1.key }.reduce(0.0) { sum, entry in
            guard let previous = before[entry.key] else { return sum }
            return sum + max(0, entry.value - previous)
        }
        guard fresh > 0 else { return }
        let threshold = (spec.scheduler ?? SchedulerSpec()).threshold
        let settings = TierSettings(spec: spec.prefillConfig?.autoscaling, tier: .prefill)
        scaling.to = max(1, min(settings.minReplicas, settings.maxReplicas), scaling.to)
        scaling.metricsUnavailable = nil
        scaling.reason = "decode served \(Int(fresh)) new prompt\(fresh == 1 ? "" : "s") of ≥ \(threshold) tokens; prefill wakes from 0"
    }

    static func longPrompts(spec: InferencePoolSpec) -> (TierObservation) -> [String: Double] {
        let threshold = Double((spec.scheduler ?? SchedulerSpec()).threshold)
        return { observation in
            var counts: [String: Double] = [:]
            for (pod, reading) in observation.readings {
                if case .metrics(let metrics) = reading, let histogram = metrics.promptTokens {
                    counts[pod] = histogram.count(atLeast: threshold)
                }
            }
            return counts
        }
    }
}
