import Foundation  // libm

/// One rate policy of an HPA `behavior` direction (`autoscaling/v2` `HPAScalingPolicy`).
public struct HPAScalingPolicy: Sendable, Hashable {
    /// What `value` counts.
    public enum Kind: String, Sendable, Hashable {
        /// A number of pods.
        case pods = "Pods"
        /// A percentage of the replicas at the start of the period.
        case percent = "Percent"
    }

    public var kind: Kind
    /// Pods, or percent of the replicas at the start of the period.
    public var value: Int
    /// The sliding window, looking back from now, within which the policy must hold.
    public var periodSeconds: Int

    /// A policy: at most `value` pods (or percent) per `periodSeconds`.
    public init(_ kind: Kind, value: Int, periodSeconds: Int) {
        self.kind = kind
        self.value = value
        self.periodSeconds = periodSeconds
    }
}

/// Which of several policies applies (`selectPolicy`).
public enum HPASelectPolicy: String, Sendable, Hashable {
    /// The policy that allows the largest change (the default).
    case max = "Max"
    /// The policy that allows the smallest change.
    case min = "Min"
    /// No scaling in this direction.
    case disabled = "Disabled"
}

/// One direction of an HPA `behavior` (`HPAScalingRules`).
public struct HPAScalingRules: Sendable, Hashable {
    /// Recommendations remembered for this long bound the move: the lowest one bounds a
    /// scale-up, the highest one a scale-down.
    public var stabilizationWindowSeconds: Int
    public var policies: [HPAScalingPolicy]
    public var selectPolicy: HPASelectPolicy

    /// Rules with the given window, policies and selection.
    public init(stabilizationWindowSeconds: Int, policies: [HPAScalingPolicy], selectPolicy: HPASelectPolicy = .max) {
        self.stabilizationWindowSeconds = stabilizationWindowSeconds
        self.policies = policies
        self.selectPolicy = selectPolicy
    }
}

/// An HPA's `spec.behavior`.
public struct HPABehavior: Sendable, Hashable {
    public var scaleUp: HPAScalingRules
    public var scaleDown: HPAScalingRules

    /// A behavior with the given directions.
    public init(scaleUp: HPAScalingRules, scaleDown: HPAScalingRules) {
        self.scaleUp = scaleUp
        self.scaleDown = scaleDown
    }

    /// The behavior an HPA has when its spec sets none.
    ///
    /// Source: kubernetes.io, "Horizontal Pod Autoscaling", section "Default behavior"
    /// (kubernetes/website content/en/docs/concepts/workloads/autoscaling/horizontal-pod-autoscale.md):
    /// scale-down window 300 s, 100% per 15 s; scale-up window 0 s, 100% or 4 pods per 15 s, `Max`.
    public static let kubernetesDefault = HPABehavior(
        scaleUp: HPAScalingRules(
            stabilizationWindowSeconds: 0,  // Source: k8s HPA docs, "Default behavior".
            policies: [.init(.percent, value: 100, periodSeconds: 15), .init(.pods, value: 4, periodSeconds: 15)],  // Source: ibid.
            selectPolicy: .max),  // Source: ibid.
        scaleDown: HPAScalingRules(
            stabilizationWindowSeconds: 300,  // Source: ibid. (also --horizontal-pod-autoscaler-downscale-stabilization).
            policies: [.init(.percent, value: 100, periodSeconds: 15)]))  // Source: ibid.
}

/// The part of the Kubernetes horizontal pod autoscaler that does not depend on the metric:
/// the sync period, the tolerance, the stabilization windows, the rate policies and the bounds,
/// as documented on kubernetes.io ("Algorithm details", "Configurable scaling behavior").
///
/// A value type holding one HPA's history: when it last synced, its recommendations and its
/// scale events. Time is a `Duration` since any fixed origin. Written from the documentation
/// (not transliterated); where the documentation is silent the behaviour of the upstream
/// controller is followed and said so:
/// - a sync happens at the first call and then whenever `syncPeriod` has passed since the last;
/// - a recommendation is remembered at every sync; a scale-up is bounded by the lowest
///   recommendation whose age is below the scale-up window (the current one included), a
///   scale-down by the highest below the scale-down window;
/// - a policy's limit is computed from the replicas at the start of its period: the current
///   replicas minus what was added and plus what was removed by this HPA less than
///   `periodSeconds` ago; `Pods` adds (removes) `value`, `Percent` multiplies by `1 ± value/100`
///   (rounded up when growing, down when shrinking); `Max` takes the policy allowing the largest
///   change, `Min` the smallest, `Disabled` none;
/// - `[minReplicas, maxReplicas]` is applied last; a target outside it is first brought inside.
public struct HPAController: Sendable, Hashable {
    /// How often the controller acts.
    public var syncPeriod: Duration
    /// A usage ratio within `1 ± tolerance` asks for no change.
    public var tolerance: Double
    public var behavior: HPABehavior
    public var minReplicas: Int
    public var maxReplicas: Int

    struct Stamped: Sendable, Hashable {
        var time: Duration
        var replicas: Int
    }

    private(set) var lastSync: Duration?
    private var recommendations: [Stamped] = []
    /// Scale events of this HPA: `replicas` is the signed change.
    private var events: [Stamped] = []

    /// The HPA's sync period when the controller manager's flag is not set.
    ///
    /// Source: k8s HPA docs: `--horizontal-pod-autoscaler-sync-period`, default 15 seconds.
    public static let defaultSyncPeriod = Duration.seconds(15)

    /// The HPA's tolerance when neither the flag nor the behavior sets one.
    ///
    /// Source: k8s HPA docs, "Tolerance": default cluster-wide tolerance of 10%
    /// (`--horizontal-pod-autoscaler-tolerance`).
    public static let defaultTolerance = 0.1

    /// An HPA with the given settings and no history.
    public init(
        behavior: HPABehavior = .kubernetesDefault, minReplicas: Int, maxReplicas: Int,
        syncPeriod: Duration = HPAController.defaultSyncPeriod, tolerance: Double = HPAController.defaultTolerance
    ) {
        self.behavior = behavior
        self.minReplicas = max(0, minReplicas)
        self.maxReplicas = max(self.minReplicas, maxReplicas)
        self.syncPeriod = syncPeriod
        self.tolerance = tolerance.isFinite ? max(0, tolerance) : HPAController.defaultTolerance
    }

    /// `true` when a sync is due at `now` (the first call always is). Marks the sync.
    public mutating func sync(now: Duration) -> Bool {
        if let lastSync, now - lastSync < syncPeriod { return false }
        lastSync = now
        return true
    }

    /// When the next sync is due, `nil` before the first one.
    public var nextSync: Duration? { lastSync.map { $0 + syncPeriod } }

    /// `true` when `ratio` is close enough to 1 to ask for no change.
    public func withinTolerance(_ ratio: Double) -> Bool { abs(1 - ratio) <= tolerance }

    // MARK: - Replica calculations (one metric)

    /// The replicas a per-pod metric with an average-value target asks for (`type: Pods`, or a
    /// `Resource` with `AverageValue`), HPA's rules for pods without metrics included; `nil`
    /// when no pod reports the metric (the HPA cannot compute it and does not scale).
    ///
    /// - `values`: the metric of each ready pod that reported it;
    /// - `missing`: ready pods that did not report it: they count at the target on the way
    ///   down and at 0 on the way up;
    /// - `notYetReady`: pods that exist but are not ready yet (`Pending`, starting): they count
    ///   at 0 on the way up and are ignored otherwise;
    /// - after filling in, a ratio within tolerance or on the other side of 1 keeps `current`.
    public func podMetricReplicas(values: [Double], missing: Int, notYetReady: Int, current: Int, target: Double) -> Int? {
        guard !values.isEmpty, target > 0, target.isFinite else { return nil }
        let sum = values.reduce(0, +)
        let ratio = sum / (target * Double(values.count))
        let scaleUpWithNotReady = notYetReady > 0 && ratio > 1
        if !scaleUpWithNotReady && missing == 0 {
            return withinTolerance(ratio) ? current : PolicyMath.ceilInt(ratio * Double(values.count))
        }
        var filledSum = sum
        var count = values.count
        if missing > 0 {
            if ratio < 1 { filledSum += target * Double(missing) }
            count += missing
        }
        if scaleUpWithNotReady { count += notYetReady }
        let newRatio = filledSum / (target * Double(count))
        if withinTolerance(newRatio) || (ratio < 1 && newRatio > 1) || (ratio > 1 && newRatio < 1) { return current }
        let replicas = PolicyMath.ceilInt(newRatio * Double(count))
        if (newRatio < 1 && replicas > current) || (newRatio > 1 && replicas < current) { return current }
        return replicas
    }

    /// The replicas an external metric with an `AverageValue` target asks for (what a KEDA
    /// `ScaledObject` trigger feeds its HPA): `ceil(total / target)`, unless
    /// `total / (target × readyPods)` is within tolerance, which keeps `current`.
    public func externalAverageValueReplicas(total: Double, readyPods: Int, current: Int, target: Double) -> Int {
        guard target > 0, target.isFinite, total.isFinite else { return current }
        if readyPods > 0, withinTolerance(total / (target * Double(readyPods))) { return current }
        return PolicyMath.ceilInt(total / target)
    }

    // MARK: - Behavior

    /// What the behavior made of a metric recommendation.
    public struct Outcome: Sendable, Hashable {
        /// The replicas to set.
        public var replicas: Int
        /// What held the recommendation back, in words; `nil` when nothing did.
        public var limitedBy: String?
    }

    /// Applies the bounds, the stabilization windows and the rate policies to `desired` (what
    /// the metrics asked for) and records the recommendation and, when the replicas change,
    /// the scale event. Call once per sync.
    public mutating func normalize(current: Int, desired: Int, now: Duration) -> Outcome {
        // Outside the bounds: HPA moves straight to the nearest bound.
        if current > maxReplicas { return record(current: current, to: maxReplicas, now: now, note: "above max \(maxReplicas)") }
        if current < minReplicas { return record(current: current, to: minReplicas, now: now, note: "below min \(minReplicas)") }

        // Stabilization.
        let upCutoff = now - .seconds(behavior.scaleUp.stabilizationWindowSeconds)
        let downCutoff = now - .seconds(behavior.scaleDown.stabilizationWindowSeconds)
        var upBound = desired
        var downBound = desired
        for entry in recommendations {
            if entry.time > upCutoff { upBound = min(upBound, entry.replicas) }
            if entry.time > downCutoff { downBound = max(downBound, entry.replicas) }
        }
        let longest = max(behavior.scaleUp.stabilizationWindowSeconds, behavior.scaleDown.stabilizationWindowSeconds)
        recommendations.removeAll { $0.time <= now - .seconds(longest) }
        recommendations.append(Stamped(time: now, replicas: desired))

        var target = current
        if target < upBound { target = upBound }
        if target > downBound { target = downBound }
        var note: String?
        if target != desired {
            note = desired > current
                ? "scale-up stabilization (\(behavior.scaleUp.stabilizationWindowSeconds)s) holds at \(target)"
                : "scale-down stabilization (\(behavior.scaleDown.stabilizationWindowSeconds)s) holds at \(target)"
        }

        // Rate policies and bounds.
        var lower = minReplicas
        var upper = maxReplicas
        if target > current {
            upper = min(maxReplicas, max(current, scaleUpLimit(current: current, now: now)))
        } else if target < current {
            lower = max(minReplicas, min(current, scaleDownLimit(current: current, now: now)))
        }
        let bounded = min(max(target, lower), upper)
        if bounded != target {
            if target > current, bounded < target {
                note = bounded == maxReplicas && upper == maxReplicas
                    ? "clamped to max \(maxReplicas)" : "scale-up policy \(describe(behavior.scaleUp)) allows \(bounded)"
            } else if target < current, bounded > target {
                note = bounded == minReplicas && lower == minReplicas
                    ? "raised to min \(minReplicas)" : "scale-down policy \(describe(behavior.scaleDown)) allows \(bounded)"
            } else {
                note = bounded == maxReplicas ? "clamped to max \(maxReplicas)" : "raised to min \(minReplicas)"
            }
        }
        return record(current: current, to: bounded, now: now, note: note)
    }

    private mutating func record(current: Int, to replicas: Int, now: Duration, note: String?) -> Outcome {
        if replicas != current { events.append(Stamped(time: now, replicas: replicas - current)) }
        let longest = (behavior.scaleUp.policies + behavior.scaleDown.policies).map(\.periodSeconds).max() ?? 0
        events.removeAll { $0.time <= now - .seconds(longest) }
        return Outcome(replicas: replicas, limitedBy: note)
    }

    /// Pods added and removed by this HPA less than `periodSeconds` ago.
    private func changes(within periodSeconds: Int, now: Duration) -> (added: Int, removed: Int) {
        let cutoff = now - .seconds(periodSeconds)
        var added = 0
        var removed = 0
        for event in events where event.time > cutoff {
            if event.replicas > 0 { added += event.replicas } else { removed -= event.replicas }
        }
        return (added, removed)
    }

    func scaleUpLimit(current: Int, now: Duration) -> Int {
        let rules = behavior.scaleUp
        guard rules.selectPolicy != .disabled, !rules.policies.isEmpty else { return current }
        let proposals = rules.policies.map { policy -> Int in
            let change = changes(within: policy.periodSeconds, now: now)
            let start = current - change.added + change.removed
            switch policy.kind {
            case .pods: return start + policy.value
            case .percent: return PolicyMath.ceilInt(Double(start) * (1 + Double(policy.value) / 100))
            }
        }
        return (rules.selectPolicy == .min ? proposals.min() : proposals.max()) ?? current
    }

    func scaleDownLimit(current: Int, now: Duration) -> Int {
        let rules = behavior.scaleDown
        guard rules.selectPolicy != .disabled, !rules.policies.isEmpty else { return current }
        let proposals = rules.policies.map { policy -> Int in
            let change = changes(within: policy.periodSeconds, now: now)
            let start = current + change.removed - change.added
            switch policy.kind {
            case .pods: return start - policy.value
            case .percent: return PolicyMath.floorInt(Double(start) * (1 - Double(policy.value) / 100))
            }
        }
        // The largest change downwards is the smallest result.
        return (rules.selectPolicy == .min ? proposals.max() : proposals.min()) ?? current
    }

    private func describe(_ rules: HPAScalingRules) -> String {
        let parts = rules.policies.map { "\($0.value)\($0.kind == .percent ? "%" : " pod\($0.value == 1 ? "" : "s")") per \($0.periodSeconds)s" }
        return parts.count == 1 ? parts[0] : "\(parts.joined(separator: " or ")) (\(rules.selectPolicy.rawValue))"
    }
}
