import TandemAPI

/// Load figures of a pod that vLLM's `/metrics` does not export but a router or a simulator
/// knows: baseline policies that scale on prompt tokens (llm-d's KEDA recipe, Dynamo's planner)
/// read them from their routers' metrics. The operator leaves them empty.
public struct PodLoad: Sendable, Hashable {
    /// Prompt tokens of the requests waiting at this pod: for prefill on a prefill pod, for
    /// admission to the running batch on a decode pod.
    public var queuedPromptTokens: Double
    /// Prompt tokens waiting for or in prefill.
    public var inFlightPromptTokens: Double

    public init(queuedPromptTokens: Double = 0, inFlightPromptTokens: Double = 0) {
        self.queuedPromptTokens = queuedPromptTokens
        self.inFlightPromptTokens = inFlightPromptTokens
    }
}

/// A way of sizing both tiers of a pool from what one round observed: the operator's
/// ``PoolAutoscaler`` and the baselines the benchmark compares it with.
///
/// Called once per round with a non-decreasing `now`; tiers absent from `observations` are not
/// the policy's to size and count with their `fixed` replicas.
public protocol AutoscalingPolicy: Sendable {
    /// The name in reports: `tandem`, `hpa`, `keda-llmd`, ….
    var name: String { get }

    /// The decisions of one round.
    mutating func decide(
        spec: InferencePoolSpec, observations: [TierName: TierObservation], fixed: [TierName: Int], now: Duration
    ) -> [TierName: TierScaling]
}

extension PoolAutoscaler: AutoscalingPolicy {
    /// `tandem`.
    public var name: String { "tandem" }

    /// ``decide(spec:observations:fixed:panic:now:)`` with Knative's panic windows.
    public mutating func decide(
        spec: InferencePoolSpec, observations: [TierName: TierObservation], fixed: [TierName: Int], now: Duration
    ) -> [TierName: TierScaling] {
        decide(spec: spec, observations: observations, fixed: fixed, panic: .default, now: now)
    }
}
