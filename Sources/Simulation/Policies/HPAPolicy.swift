import Autoscaling
import TandemAPI

/// `hpa`: a Kubernetes `autoscaling/v2` HorizontalPodAutoscaler per tier, each on one
/// per-pod custom metric with an `AverageValue` target, with every HPA default:
/// prefill on `vllm:num_requests_waiting` per replica, decode on `vllm:kv_cache_usage_perc`.
///
/// The rules (see ``HPAController``): acts every 15 s of simulated time however often it is
/// called; `desired = ceil(pods with metrics × mean / target)` unless the ratio is within 10%;
/// ready pods without the metric count at the target on the way down and at 0 on the way up,
/// pods not ready yet at 0 on the way up; no pod with the metric holds the size (the HPA's
/// `ScalingActive=False`); then the default behavior (up: no window, 4 pods or 100% per 15 s,
/// the larger; down: 300 s window, 100% per 15 s) and the bounds.
///
/// Targets default to Tandem's own (4 waiting per replica, KV 0.8) so the two differ only in
/// the algorithm. Bounds default to the pool's `minReplicas`/`maxReplicas` as the operator reads
/// them (``TierSettings``), with the minimum raised to 1 (an HPA cannot scale to zero by default).
public struct HPAPolicy: DocumentedPolicy {
    /// `hpa`.
    public var name: String { "hpa" }

    /// Prefill's target: waiting requests per replica.
    public var prefillWaitingPerReplica: Double
    /// Decode's target: KV-cache usage per replica, 0–1.
    public var decodeKVCacheUtilization: Double
    /// Replica bounds per tier; a tier without bounds uses the pool spec's.
    public var bounds: [TierName: ClosedRange<Int>]
    /// The behavior of both tiers' HPAs.
    public var behavior: HPABehavior
    /// How often each HPA acts.
    public var syncPeriod: Duration
    /// The usage ratio within which an HPA leaves the tier alone.
    public var tolerance: Double

    var controllers: [TierName: HPAController] = [:]
    var lastDesired: [TierName: Int] = [:]

    /// The prefill HPA's target: queue depth, one signal.
    ///
    /// Source: API.md's `target.waitingRequestsPerReplica` example (4), the queue target an admin
    /// would give an HPA on vLLM's `vllm:num_requests_waiting`.
    public static let defaultPrefillWaitingPerReplica = 4.0

    /// The decode HPA's target: KV-cache usage, one signal.
    ///
    /// Source: API.md's `target.kvCacheUtilization` example (0.8), also Tandem's decode default.
    public static let defaultDecodeKVCacheUtilization = ScalingTargets.decodeDefault.kvCacheUtilization ?? 0.8

    /// An HPA per tier; every default is Kubernetes' (behavior, sync period, tolerance) or
    /// API.md's examples (targets).
    public init(
        prefillWaitingPerReplica: Double = HPAPolicy.defaultPrefillWaitingPerReplica,
        decodeKVCacheUtilization: Double = HPAPolicy.defaultDecodeKVCacheUtilization,
        bounds: [TierName: ClosedRange<Int>] = [:],
        behavior: HPABehavior = .kubernetesDefault,
        syncPeriod: Duration = HPAController.defaultSyncPeriod,
        tolerance: Double = HPAController.defaultTolerance
    ) {
        self.prefillWaitingPerReplica = prefillWaitingPerReplica
        self.decodeKVCacheUtilization = decodeKVCacheUtilization
        self.bounds = bounds
        self.behavior = behavior
        self.syncPeriod = syncPeriod
        self.tolerance = tolerance
    }

    private static let k8sDocs = "kubernetes.io \"Horizontal Pod Autoscaling\" (kubernetes/website, content/en/docs/concepts/workloads/autoscaling/horizontal-pod-autoscale.md)"

    /// Every parameter of the policy.
    public static let parameters: [PolicyParameter] = [
        PolicyParameter(
            name: "prefill metric and target", value: "vllm:num_requests_waiting, AverageValue 4 per replica",
            source: "API.md's target example (Tandem's prefill default until the benchmark replaced it with requests in flight, docs/benchmarks.md): one queue signal, as an HPA on vLLM's metrics is set up"),
        PolicyParameter(
            name: "decode metric and target", value: "vllm:kv_cache_usage_perc, AverageValue 0.8 per replica",
            source: "API.md's target example, also Tandem's decode KV target (docs/autoscaling.md): one signal per tier, as the issue asks of this baseline"),
        PolicyParameter(
            name: "sync period", value: "15 s",
            source: "\(k8sDocs): --horizontal-pod-autoscaler-sync-period defaults to 15 seconds"),
        PolicyParameter(
            name: "tolerance", value: "0.1",
            source: "\(k8sDocs), \"Tolerance\": the default cluster-wide tolerance of 10%"),
        PolicyParameter(
            name: "scale-up behavior", value: "window 0 s; 4 pods or 100% per 15 s, the larger (selectPolicy Max)",
            source: "\(k8sDocs), \"Default behavior\""),
        PolicyParameter(
            name: "scale-down behavior", value: "window 300 s; 100% per 15 s",
            source: "\(k8sDocs), \"Default behavior\" (also --horizontal-pod-autoscaler-downscale-stabilization, 5 minutes)"),
        PolicyParameter(
            name: "missing metrics", value: "ready pods without the metric: target on scale-down, 0 on scale-up; not-ready pods: 0 on scale-up; a reversed or within-tolerance ratio holds",
            source: "\(k8sDocs), \"Algorithm details\""),
        PolicyParameter(
            name: "no metric at all", value: "size held (ScalingActive=False)",
            source: "\(k8sDocs), \"Algorithm details\": a metric that cannot be computed does not scale down"),
        PolicyParameter(
            name: "bounds", value: "the pool's minReplicas (at least 1) and maxReplicas (Tandem default 10)",
            source: "Tandem's TierSettings, for fairness; HPA's minReplicas defaults to 1 (kubernetes.io HPA API reference)"),
    ]

    /// Each tier's HPA, acting when its sync is due.
    public mutating func decide(
        spec: InferencePoolSpec, observations: [TierName: TierObservation], fixed: [TierName: Int], now: Duration
    ) -> [TierName: TierScaling] {
        var decisions: [TierName: TierScaling] = [:]
        for tier in [TierName.prefill, .decode] {
            guard let observation = observations[tier] else { continue }
            let range = bounds[tier] ?? PolicyMath.specBounds(spec, tier)
            var controller = controllers[tier] ?? HPAController(
                behavior: behavior, minReplicas: max(1, range.lowerBound), maxReplicas: range.upperBound,
                syncPeriod: syncPeriod, tolerance: tolerance)
            decisions[tier] = decide(tier: tier, observation: observation, controller: &controller, now: now)
            controllers[tier] = controller
        }
        return decisions
    }

    private mutating func decide(tier: TierName, observation: TierObservation, controller: inout HPAController, now: Duration) -> TierScaling {
        let current = observation.current
        let observed = PolicyMath.observed(observation)
        guard controller.sync(now: now) else {
            let next = controller.nextSync.map { PolicyMath.seconds($0 - now) } ?? 0
            return TierScaling(
                tier: tier, from: current, to: current, reason: "hpa: next sync in \(PolicyMath.format(next))s",
                observed: observed, desired: lastDesired[tier] ?? current)
        }
        let target = tier == .prefill ? prefillWaitingPerReplica : decodeKVCacheUtilization
        let label = tier == .prefill ? "waiting/replica" : "kv-cache"
        let values = PolicyMath.signals(observation).compactMap { pod in
            PolicyMath.usable(tier == .prefill ? pod.waiting : pod.kvCacheUtilization)
        }
        let missing = max(0, observation.ready - values.count)
        let notYetReady = max(0, current - observation.ready)

        // HPA's checks before any metric: a target outside the bounds moves to the nearest one.
        if current > controller.maxReplicas || current < controller.minReplicas {
            let outcome = controller.normalize(current: current, desired: current, now: now)
            lastDesired[tier] = outcome.replicas
            return TierScaling(
                tier: tier, from: current, to: outcome.replicas, reason: "hpa: \(outcome.limitedBy ?? "bounds")",
                observed: observed, desired: outcome.replicas)
        }
        guard let desired = controller.podMetricReplicas(
            values: values, missing: missing, notYetReady: notYetReady, current: current, target: target)
        else {
            return TierScaling(
                tier: tier, from: current, to: current, reason: "hpa: no pod reports \(label); holding \(current)",
                observed: observed, metricsUnavailable: "no ready pod reports \(label)", desired: current)
        }
        let outcome = controller.normalize(current: current, desired: desired, now: now)
        lastDesired[tier] = desired
        let mean = values.reduce(0, +) / Double(values.count)
        var reason = "hpa: \(label) \(PolicyMath.format(mean)) vs target \(PolicyMath.format(target)) over \(values.count) pod\(values.count == 1 ? "" : "s")"
        if missing > 0 { reason += " (\(missing) without metrics)" }
        if notYetReady > 0 { reason += " (\(notYetReady) not ready)" }
        reason += desired == current ? ", no change" : ", wants \(desired)"
        if let limit = outcome.limitedBy { reason += "; \(limit)" }
        return TierScaling(tier: tier, from: current, to: outcome.replicas, reason: reason, observed: observed, desired: desired)
    }
}
