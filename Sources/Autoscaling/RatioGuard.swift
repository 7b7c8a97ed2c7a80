import Foundation  // libm (ceil/floor/round) is linked through Foundation on Linux.

/// The optional bounds on prefill replicas per decode replica (`spec.ratio`).
///
/// After both tiers have their recommendation, the guard moves **prefill only** into
/// `[ceil(minPrefillPerDecode × decode), floor(maxPrefillPerDecode × decode)]`.
///
/// ## Rounding
/// The lower bound rounds up and the upper bound rounds down, so the result always satisfies
/// both ratios when it can; an epsilon of 1e-9 is applied first so floating-point noise does not
/// move a bound (0.3 × 10 = 3.0000000000000004 gives 3, not 4). When the rounded bounds cross
/// (e.g. ratio [0.6, 0.7] with 1 decode replica gives [1, 0]), the lower bound wins: too little
/// prefill stalls serving, too much only costs.
///
/// ## Exemptions and bounds
/// - A prefill recommendation of 0 (scaled to zero) is exempt from the lower bound.
/// - The prefill tier's own [min, max], when given, win over the ratio: they are hard limits.
/// - A bound that is `nil`, negative or not finite is ignored.
public struct RatioGuard: Sendable, Hashable {
    /// The fewest prefill replicas per decode replica.
    public var minPrefillPerDecode: Double?
    /// The most prefill replicas per decode replica.
    public var maxPrefillPerDecode: Double?

    /// A guard with the given ratios.
    public init(minPrefillPerDecode: Double? = nil, maxPrefillPerDecode: Double? = nil) {
        self.minPrefillPerDecode = minPrefillPerDecode
        self.maxPrefillPerDecode = maxPrefillPerDecode
    }

    /// What the guard did to a prefill recommendation.
    public struct Outcome: Sendable, Hashable {
        /// Which bound moved prefill.
        public enum Adjustment: String, Sendable, Hashable {
            /// Raised to `ceil(minPrefillPerDecode × decode)`.
            case raisedToMinimumRatio
            /// Lowered to `floor(maxPrefillPerDecode × decode)`.
            case loweredToMaximumRatio
        }

        /// The prefill replicas after the guard.
        public var prefillReplicas: Int
        /// What moved them; `nil` when the guard left them alone.
        public var adjustment: Adjustment?
        /// A human-readable explanation with the numbers; empty when nothing moved.
        public var reason: String
    }

    /// Applies the ratio bounds to a prefill recommendation.
    ///
    /// - Parameters:
    ///   - prefill: The prefill tier's recommendation.
    ///   - decode: The decode tier's recommendation.
    ///   - prefillBounds: The prefill tier's own [min, max], which win over the ratio.
    /// - Returns: The guarded prefill replicas, with what moved them.
    public func apply(prefill: Int, decode: Int, prefillBounds: ClosedRange<Int>? = nil) -> Outcome {
        let decode = max(0, decode)
        var replicas = max(0, prefill)
        var adjustment: Outcome.Adjustment?
        var reason = ""

        if let ratio = Self.usable(maxPrefillPerDecode) {
            let upper = Self.floorInt(ratio * Double(decode))
            if replicas > upper {
                replicas = upper
                adjustment = .loweredToMaximumRatio
                reason = "prefill \(prefill) > \(TierRecommender.format(ratio)) × \(decode) decode; lowered to \(upper)"
            }
        }
        if let ratio = Self.usable(minPrefillPerDecode), prefill > 0 {
            let lower = TierRecommender.ceilInt(ratio * Double(decode))
            if replicas < lower {
                replicas = lower
                adjustment = .raisedToMinimumRatio
                reason = "prefill \(prefill) < \(TierRecommender.format(ratio)) × \(decode) decode; raised to \(lower)"
            }
        }
        if let bounds = prefillBounds, adjustment != nil {
            let clamped = min(max(replicas, max(0, bounds.lowerBound)), bounds.upperBound)
            if clamped != replicas {
                reason += " but kept within the prefill tier's [\(bounds.lowerBound), \(bounds.upperBound)] at \(clamped)"
                replicas = clamped
            }
            if replicas == max(0, prefill) {
                adjustment = nil
                reason = ""
            }
        }
        return Outcome(prefillReplicas: replicas, adjustment: adjustment, reason: reason)
    }

    private static func usable(_ ratio: Double?) -> Double? {
        guard let ratio, ratio.isFinite, ratio >= 0 else { return nil }
        return ratio
    }

    private static func floorInt(_ value: Double) -> Int {
        guard value.isFinite else { return value > 0 ? 1_000_000 : 0 }
        return Int(min(max((value + 1e-9).rounded(.down), 0), 1_000_000))
    }
}
