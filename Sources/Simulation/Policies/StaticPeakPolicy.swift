import Autoscaling
import TandemAPI

/// `static-peak`: a fixed number of replicas per tier, sized once for the trace's peak and
/// never changed — what a pool without an autoscaler runs.
///
/// The benchmark computes the counts (from the performance model and the trace's busiest
/// window); this policy only holds them. A tier not in `replicas` keeps what it has.
public struct StaticPeakPolicy: DocumentedPolicy {
    /// `static-peak`.
    public var name: String { "static-peak" }

    /// The replicas of each tier.
    public var replicas: [TierName: Int]

    /// A static pool with the given replicas per tier (each at least 0).
    public init(replicas: [TierName: Int]) {
        self.replicas = replicas.mapValues { max(0, $0) }
    }

    /// Every parameter of the policy.
    public static let parameters: [PolicyParameter] = [
        PolicyParameter(
            name: "replicas per tier", value: "given at construction (the benchmark sizes it for the trace's peak)",
            source: "the benchmark's own sizing; no outside value"),
    ]

    /// Sets each tier it sizes to its fixed count.
    public mutating func decide(
        spec: InferencePoolSpec, observations: [TierName: TierObservation], fixed: [TierName: Int], now: Duration
    ) -> [TierName: TierScaling] {
        var decisions: [TierName: TierScaling] = [:]
        for (tier, observation) in observations {
            let target = replicas[tier] ?? observation.current
            decisions[tier] = TierScaling(
                tier: tier, from: observation.current, to: target, reason: "static: \(target) replicas sized for the peak",
                observed: PolicyMath.observed(observation), desired: target)
        }
        return decisions
    }
}
