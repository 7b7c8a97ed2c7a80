import Autoscaling
import Foundation  // libm (ceil/floor) is linked through Foundation on Linux.
import TandemAPI

/// One configuration value of a baseline policy, with where it is documented.
///
/// Every baseline lists its values in a `parameters` table; docs/benchmark-policies.md prints
/// the same tables, and `PolicyTests` checks that the two agree.
public struct PolicyParameter: Sendable, Hashable {
    /// The parameter, e.g. `scale-up policy`.
    public var name: String
    /// Its value as configured by default, e.g. `4 pods or 100% per 15 s, the larger`.
    public var value: String
    /// Where the value is documented (page or file), and how it was read.
    public var source: String

    /// A parameter with its value and source.
    public init(name: String, value: String, source: String) {
        self.name = name
        self.value = value
        self.source = source
    }
}

/// A baseline whose configuration is documented parameter by parameter.
public protocol DocumentedPolicy: AutoscalingPolicy {
    /// Every parameter of the policy, its default value and where it is documented.
    static var parameters: [PolicyParameter] { get }
}

/// Small helpers the baselines share.
enum PolicyMath {
    /// `ceil`, minus floating-point noise (`12.000000000000002` is 12), clamped to [0, 1 000 000].
    static func ceilInt(_ value: Double) -> Int {
        guard value.isFinite else { return value > 0 ? 1_000_000 : 0 }
        return Int(min(max((value - 1e-9).rounded(.up), 0), 1_000_000))
    }

    /// `floor`, plus floating-point noise (`2.9999999999999996` is 3), clamped to [-1 000 000, 1 000 000].
    static func floorInt(_ value: Double) -> Int {
        guard value.isFinite else { return value > 0 ? 1_000_000 : -1_000_000 }
        return Int(min(max((value + 1e-9).rounded(.down), -1_000_000), 1_000_000))
    }

    /// A duration in seconds.
    static func seconds(_ duration: Duration) -> Double {
        let parts = duration.components
        return Double(parts.seconds) + Double(parts.attoseconds) * 1e-18
    }

    /// Two decimals, for reasons.
    static func format(_ value: Double) -> String { TierRecommender.format(value) }

    /// The mean signals over the pods of an observation that reported them (for ``TierScaling/observed``).
    static func observed(_ observation: TierObservation) -> PodSignals {
        let pods = signals(observation)
        func mean(_ pick: (PodSignals) -> Double?) -> Double? {
            let values = pods.compactMap(pick).filter { $0.isFinite && $0 >= 0 }
            return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
        }
        return PodSignals(waiting: mean(\.waiting), running: mean(\.running), kvCacheUtilization: mean(\.kvCacheUtilization))
    }

    /// The signals of the pods that answered, by pod name.
    static func signalsByPod(_ observation: TierObservation) -> [String: PodSignals] {
        observation.readings.compactMapValues { reading in
            if case .metrics(let metrics) = reading { return metrics.signals }
            return nil
        }
    }

    /// The signals of the pods that answered.
    static func signals(_ observation: TierObservation) -> [PodSignals] { Array(signalsByPod(observation).values) }

    /// A usable value of a signal: finite and not negative.
    static func usable(_ value: Double?) -> Double? {
        guard let value, value.isFinite, value >= 0 else { return nil }
        return value
    }

    /// The tier's `[minReplicas, maxReplicas]` from the pool spec, as the operator reads it.
    static func specBounds(_ spec: InferencePoolSpec, _ tier: TierName) -> ClosedRange<Int> {
        let settings = TierSettings(spec: spec.config(tier).autoscaling, tier: tier)
        return settings.minReplicas...settings.maxReplicas
    }
}
