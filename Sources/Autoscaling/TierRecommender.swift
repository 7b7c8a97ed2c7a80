import Foundation  // libm (ceil/floor/round) is linked through Foundation on Linux.
import KubeCore

/// Per-replica targets for the signals a tier scales on; a `nil` target means the signal is not used.
public struct ScalingTargets: Sendable, Hashable {
    /// Requests waiting per replica (a queue signal; prefill's default).
    public var waitingRequestsPerReplica: Double?
    /// KV-cache usage per replica, 0–1 (a memory signal; decode's default).
    public var kvCacheUtilization: Double?
    /// Requests running per replica.
    public var runningRequestsPerReplica: Double?
    /// Requests in flight per replica: running plus waiting (both tiers' default).
    public var inFlightRequestsPerReplica: Double?

    /// Targets for the given signals.
    public init(
        waitingRequestsPerReplica: Double? = nil,
        kvCacheUtilization: Double? = nil,
        runningRequestsPerReplica: Double? = nil,
        inFlightRequestsPerReplica: Double? = nil
    ) {
        self.waitingRequestsPerReplica = waitingRequestsPerReplica
        self.kvCacheUtilization = kvCacheUtilization
        self.runningRequestsPerReplica = runningRequestsPerReplica
        self.inFlightRequestsPerReplica = inFlightRequestsPerReplica
    }

    /// Prefill's default: scale on the requests in its queue, counting the ones being prefilled.
    ///
    /// Source: Tandem's benchmark, tuned on synthetic patterns only (docs/benchmarks.md): one request
    /// in flight per replica kept TTFT within 2 s on 1–2k-token prompts where API.md's example
    /// (4 waiting, which reads 0 until a replica saturates) let the tier collapse then panic to max.
    public static let prefillDefault = ScalingTargets(inFlightRequestsPerReplica: 1)

    /// Decode's default: scale on the requests in flight (the batch it runs plus those waiting
    /// for room in it), and on KV-cache fill for long contexts.
    ///
    /// Source: 0.8 KV usage: API.md's `target` example; 100 in flight: Tandem's benchmark on
    /// synthetic patterns (docs/benchmarks.md) — a 70B decode step on H200 stays near 55 ms there,
    /// while 200 running (API.md's example) is blind to the queue once `--max-num-seqs` is reached.
    public static let decodeDefault = ScalingTargets(kvCacheUtilization: 0.8, inFlightRequestsPerReplica: 100)
}

/// How fast a tier may move in one direction.
public struct ScalingPolicy: Sendable, Hashable {
    /// How far back recommendations are remembered: scale-up takes the lowest, scale-down the
    /// highest recommendation within this window (HPA's stabilization window).
    public var stabilizationSeconds: Int
    /// The most replicas added (or removed) within any ``periodSeconds``; 0 disables this direction.
    public var maxReplicasPerStep: Int
    /// The length of the window ``maxReplicasPerStep`` applies to.
    public var periodSeconds: Int

    /// A policy with the given window, step and period.
    public init(stabilizationSeconds: Int, maxReplicasPerStep: Int, periodSeconds: Int) {
        self.stabilizationSeconds = stabilizationSeconds
        self.maxReplicasPerStep = maxReplicasPerStep
        self.periodSeconds = periodSeconds
    }

    /// The default scale-up policy.
    ///
    /// Source: Kubernetes HPA defaults: scale-up stabilization 0 s; policy "4 pods or 100% per 15 s"
    ///   (we keep the pods policy). API.md's example uses the same numbers.
    public static let scaleUpDefault = ScalingPolicy(stabilizationSeconds: 0, maxReplicasPerStep: 4, periodSeconds: 15)

    /// The default scale-down policy.
    ///
    /// Source: Kubernetes HPA default scale-down stabilization 300 s; 1 replica per 60 s from API.md's
    ///   example (HPA's default would allow 100% per 15 s, too abrupt for GPU pods). Tandem's
    ///   benchmark on synthetic patterns (docs/benchmarks.md) found 600 s no better overall.
    public static let scaleDownDefault = ScalingPolicy(stabilizationSeconds: 300, maxReplicasPerStep: 1, periodSeconds: 60)
}

/// The scale-up and scale-down policies of a tier.
public struct ScalingBehavior: Sendable, Hashable {
    /// How the tier grows.
    public var scaleUp: ScalingPolicy
    /// How the tier shrinks.
    public var scaleDown: ScalingPolicy

    /// A behavior with the given policies (defaults: ``ScalingPolicy/scaleUpDefault`` and
    /// ``ScalingPolicy/scaleDownDefault``).
    public init(scaleUp: ScalingPolicy = .scaleUpDefault, scaleDown: ScalingPolicy = .scaleDownDefault) {
        self.scaleUp = scaleUp
        self.scaleDown = scaleDown
    }

    /// ``ScalingPolicy/scaleUpDefault`` and ``ScalingPolicy/scaleDownDefault``.
    public static let `default` = ScalingBehavior()
}

/// Knative-KPA-style panic mode: a sudden burst scales up at once instead of waiting for windows.
public struct PanicPolicy: Sendable, Hashable {
    /// The short window whose mean recommendation is compared with the ready pods.
    ///
    /// Source: Knative KPA: panic window = 10% of the stable window = 6 s.
    public var window: Duration
    /// Panic ends once this long has passed with no trigger.
    ///
    /// Source: Knative KPA: stable window 60 s.
    public var stableWindow: Duration
    /// Panic starts when the panic-window recommendation ≥ threshold × ready pods.
    ///
    /// Source: Knative KPA: panic threshold 200%.
    public var threshold: Double

    /// A panic policy; `threshold` ≤ 0 or non-finite disables panic mode.
    public init(window: Duration = .seconds(6), stableWindow: Duration = .seconds(60), threshold: Double = 2.0) {
        self.window = window
        self.stableWindow = stableWindow
        self.threshold = threshold
    }

    /// The Knative KPA numbers: 6 s window, 60 s stable window, 200% threshold.
    public static let `default` = PanicPolicy()
}

/// Everything one scaling decision for one tier needs.
public struct RecommendationInput: Sendable, Hashable {
    /// The tier's replicas as the Deployment's spec has them.
    public var currentReplicas: Int
    /// The tier's ready pods.
    public var readyReplicas: Int
    /// The signals of the ready pods that could be scraped, one entry per pod. Ready pods with
    /// no entry (`readyReplicas > pods.count`), and entries with a `nil` field, count as pods
    /// without metrics for that signal.
    public var pods: [PodSignals]
    /// The targets; signals with a `nil` target are ignored.
    public var targets: ScalingTargets
    /// The lower bound; prefill may use 0 (scale to zero).
    public var minReplicas: Int
    /// The upper bound.
    public var maxReplicas: Int
    /// The rate limits and stabilization windows.
    public var behavior: ScalingBehavior
    /// Panic mode's windows and threshold.
    public var panic: PanicPolicy
    /// The usage ratio within which the tier is left alone.
    ///
    /// Source: Kubernetes HPA: --horizontal-pod-autoscaler-tolerance defaults to 0.1 (10%).
    public var tolerance: Double
    /// Each signal's tier-wide sum is averaged over the samples of this window for the
    /// recommendation that bounds a scale-down (growth and panic follow each sample); zero uses
    /// each sample alone.
    public var averagingWindow: Duration

    /// The most replicas a tier may ask for, as a multiple of its ready pods (at least 1), in
    /// panic too: a queue that grows while new pods start is the start-up delay, not new
    /// demand, and must not ask for ever more pods.
    public var maxScaleUpRate: Double

    /// Tandem's cap on a scale-up: twice the ready pods.
    ///
    /// Source: Knative KPA's `max-scale-up-rate` (a ratio of desired to ready pods, 1000 by
    /// default); 2 is Tandem's, from its benchmark on synthetic patterns (docs/benchmarks.md),
    /// where 3 and no cap cost 20–100 % more GPU-hours after every overload.
    public static let defaultMaxScaleUpRate = 2.0

    /// A new pod's start-up: it serves only this long after it is asked for, so growth is sized
    /// for the load the averaging window's trend reaches ``trendShare`` of it ahead. Zero sizes
    /// for the present.
    public var lead: Duration
    /// The share of ``lead`` a rising trend is extrapolated over.
    public var trendShare: Double

    /// A quarter of the start-up.
    ///
    /// Source: Tandem's benchmark on synthetic patterns, three seeds each (docs/benchmarks.md):
    /// a one-minute trend extrapolated over a whole start-up (158 s for 70B) amplifies its noise
    /// into overshoot; a quarter raised attainment on every pattern for 4–10 % more GPU-hours.
    public static let defaultTrendShare = 0.25

    /// Knative KPA's stable window: desired pods come from the concurrency averaged over 60 s.
    ///
    /// Source: Knative Serving autoscaler defaults, `stable-window: 60s`.
    public static let defaultAveragingWindow = Duration.seconds(60)

    /// An input; `behavior`, `panic`, `tolerance` and `averagingWindow` default to the HPA/KPA numbers.
    public init(
        currentReplicas: Int,
        readyReplicas: Int,
        pods: [PodSignals],
        targets: ScalingTargets,
        minReplicas: Int,
        maxReplicas: Int,
        behavior: ScalingBehavior = .default,
        panic: PanicPolicy = .default,
        tolerance: Double = 0.1,
        averagingWindow: Duration = RecommendationInput.defaultAveragingWindow,
        maxScaleUpRate: Double = RecommendationInput.defaultMaxScaleUpRate,
        lead: Duration = .zero,
        trendShare: Double = RecommendationInput.defaultTrendShare
    ) {
        self.currentReplicas = currentReplicas
        self.readyReplicas = readyReplicas
        self.pods = pods
        self.targets = targets
        self.minReplicas = minReplicas
        self.maxReplicas = maxReplicas
        self.behavior = behavior
        self.panic = panic
        self.tolerance = tolerance
        self.averagingWindow = averagingWindow
        self.maxScaleUpRate = maxScaleUpRate
        self.lead = lead
        self.trendShare = trendShare
    }
}

/// The signals a tier can scale on.
public enum ScalingSignal: String, Sendable, Hashable, CaseIterable {
    /// Requests waiting per replica.
    case waitingRequests
    /// KV-cache usage 0–1.
    case kvCacheUtilization
    /// Requests running per replica.
    case runningRequests
    /// Requests running or waiting per replica.
    case inFlightRequests

    /// The name used in reasons.
    public var label: String {
        switch self {
        case .waitingRequests: "waiting requests/replica"
        case .kvCacheUtilization: "kv-cache"
        case .runningRequests: "running requests/replica"
        case .inFlightRequests: "in-flight requests/replica"
        }
    }
}

/// What one signal said in one decision.
public struct SignalReading: Sendable, Hashable {
    /// Which signal.
    public var signal: ScalingSignal
    /// The mean over pods that reported it.
    public var average: Double
    /// The per-replica target.
    public var target: Double
    /// Pods that reported the signal.
    public var podsWithMetrics: Int
    /// Ready pods that did not report it.
    public var podsWithoutMetrics: Int
    /// The replicas this signal alone asks for (HPA's formula, tolerance applied).
    public var desiredReplicas: Int
    /// `true` when the usage ratio was within the tolerance, so the signal asked for no change.
    public var withinTolerance: Bool
    /// The averaging window ``average`` is the mean over; `nil` for a single sample.
    public var averagedOver: Duration?
    /// How far ahead ``average`` was projected along a rising trend; `nil` for the present.
    public var projectedAhead: Duration?

    /// A reading; the recommender builds these, tests and callers may too.
    public init(
        signal: ScalingSignal, average: Double, target: Double, podsWithMetrics: Int,
        podsWithoutMetrics: Int, desiredReplicas: Int, withinTolerance: Bool, averagedOver: Duration? = nil,
        projectedAhead: Duration? = nil
    ) {
        self.signal = signal
        self.average = average
        self.target = target
        self.podsWithMetrics = podsWithMetrics
        self.podsWithoutMetrics = podsWithoutMetrics
        self.desiredReplicas = desiredReplicas
        self.withinTolerance = withinTolerance
        self.averagedOver = averagedOver
        self.projectedAhead = projectedAhead
    }
}

/// Why a recommendation differs from what the signals alone asked for.
public enum ScalingLimit: String, Sendable, Hashable {
    /// Clamped to `maxReplicas`.
    case max
    /// Raised to `minReplicas`.
    case min
    /// Held back by `maxReplicasPerStep` per `periodSeconds`.
    case stepPolicy
    /// Held by a stabilization window.
    case stabilization
    /// Set by panic mode (scale-up at once, scale-down blocked).
    case panic
    /// No metrics: size held.
    case metricsUnavailable
}

/// One scaling decision for one tier.
public struct Recommendation: Sendable, Hashable {
    /// The replicas the tier should have.
    public var replicas: Int
    /// A human-readable reason with the numbers, e.g. `kv-cache 0.93 > target 0.80 across 4 pods`.
    public var reason: String
    /// What held the recommendation away from ``desiredReplicas``; `nil` when nothing did.
    public var limitedBy: ScalingLimit?
    /// What the signals alone asked for (the largest across signals), before windows and bounds.
    public var desiredReplicas: Int
    /// Each signal's reading, for signals with a target and at least one pod reporting it.
    public var readings: [SignalReading]
    /// Mean per-pod values of all three signals over pods reporting them (for status).
    public var observed: PodSignals
    /// `true` while panic mode is on.
    public var inPanic: Bool

    /// Shorthand for ``ScalingLimit``.
    public typealias Limit = ScalingLimit

    /// A recommendation; the recommender builds these, tests and callers may too.
    public init(
        replicas: Int, reason: String, limitedBy: ScalingLimit?, desiredReplicas: Int,
        readings: [SignalReading], observed: PodSignals, inPanic: Bool
    ) {
        self.replicas = replicas
        self.reason = reason
        self.limitedBy = limitedBy
        self.desiredReplicas = desiredReplicas
        self.readings = readings
        self.observed = observed
        self.inPanic = inPanic
    }
}

/// The HPA-style recommender of one tier, with KPA-style panic mode.
///
/// A value type holding the little history the rules need: recent recommendations (for the
/// stabilization and panic windows), recent scale events (for the step policies) and panic state.
/// Time is a `Duration` since any fixed origin, passed in by the caller.
///
/// ## Rules, in order
/// 1. Per signal, `desired = ceil(podsWithMetrics × average / target)` (HPA's formula); a usage
///    ratio `average / target` within the tolerance of 1 keeps the current size. Ready pods without
///    metrics are assumed at 0 when scaling up and at the target when scaling down (HPA's rule);
///    if that flips the direction or lands within tolerance, the size is kept. The largest
///    desired count across signals wins. A tiny epsilon (1e-9) is subtracted before `ceil` so that
///    floating-point noise (`12.000000000000002`) does not add a replica.
///    Two such recommendations are made per call: one from this sample (*instant*), one from
///    each signal's tier-wide sum averaged over `averagingWindow` (*averaged*, Knative's stable
///    window). Growth follows the instant one, shrinking the averaged one: a tier grows as soon
///    as its load does and shrinks only on what a whole window saw.
/// 2. No pod reports any targeted signal: the size is held (`MetricsUnavailable`), only clamped
///    to [min, max]. If some targeted signal is missing while others are present, the tier does
///    not scale down.
/// 3. Panic: when the mean instant recommendation over the panic window ≥ threshold × ready
///    pods, the tier scales up at once to it (no stabilization, no step policy; bounded by the
///    scale-up rate and max) and does not scale down until a whole stable window passes without
///    a trigger.
/// 4. Otherwise stabilization: the lowest instant recommendation within the scale-up window
///    bounds a scale-up, the highest averaged one within the scale-down window bounds a
///    scale-down (HPA's behavior).
/// 5. Step policies: at most `maxReplicasPerStep` added (removed) within any `periodSeconds`.
/// 6. Scale-up rate: never more than `maxScaleUpRate` × the ready pods (Knative's
///    `max-scale-up-rate`): while new pods start, the queue they are meant to serve keeps
///    growing, and without this cap it would keep asking for more.
/// 7. Clamp to [min, max].
///
/// ## Caveats
/// The first call seeds the history with the current size, so after a restart the tier does not
/// scale down until a whole scale-down stabilization window has passed. Scale events are inferred from changes of `currentReplicas` between calls and timed when first
/// seen, so changes made by others (the ratio guard, a user) also count against the step
/// policies, and a failed update counts as nothing. Call once per decision with a non-decreasing
/// `now`.
public struct TierRecommender: Sendable, Hashable {
    private struct TimedRecommendation: Sendable, Hashable {
        var time: Duration
        var replicas: Int
        /// `false` for the entry seeded with the current size on the first call.
        var fromMetrics: Bool
        /// What this sample alone asked for (panic mode's input); `replicas` when not averaged.
        var instant: Int
    }

    private struct ScaleEvent: Sendable, Hashable {
        var time: Duration
        var delta: Int
    }

    private struct SignalSample: Sendable, Hashable {
        var time: Duration
        /// Each signal's sum over the pods reporting it.
        var sums: [ScalingSignal: Double]
    }

    private var history: [TimedRecommendation] = []
    private var samples: [SignalSample] = []
    private var events: [ScaleEvent] = []
    private var lastObservedReplicas: Int?
    private var lastPanicTrigger: Duration?

    /// A recommender with no history.
    public init() {}

    /// `true` while panic mode is on.
    public var inPanic: Bool { lastPanicTrigger != nil }

    /// Makes one decision and remembers what it needs for the next.
    ///
    /// - Parameters:
    ///   - input: The tier's size, pods' signals, targets, bounds and behavior.
    ///   - now: The time of the decision, since a fixed origin.
    /// - Returns: The replicas to set, with the reason and what limited them.
    public mutating func recommend(_ input: RecommendationInput, now: Duration) -> Recommendation {
        // Out-of-range numbers are brought into [0, replicaCeiling] so arithmetic cannot overflow.
        let current = Self.sane(input.currentReplicas)
        let maxBound = Self.sane(input.maxReplicas)
        let minBound = min(Self.sane(input.minReplicas), maxBound)

        // Scale events, inferred from the spec changing between calls. On the first call, seed
        // the history with the current size so a restarted operator does not scale down before
        // a whole scale-down window has been observed.
        if let last = lastObservedReplicas {
            if last != current { events.append(ScaleEvent(time: now, delta: current - last)) }
        } else {
            history.append(TimedRecommendation(time: now, replicas: current, fromMetrics: false, instant: current))
        }
        lastObservedReplicas = current

        // The tier-wide sums of this sample, and their means over the averaging window.
        let window = max(.zero, input.averagingWindow)
        var sums: [ScalingSignal: Double] = [:]
        for signal in Self.targetedSignals(input.targets) {
            let values = input.pods.compactMap { Self.value(of: signal, in: $0) }
            if !values.isEmpty { sums[signal] = values.reduce(0, +) }
        }
        samples.removeAll { $0.time <= now - window || $0.time > now }
        samples.append(SignalSample(time: now, sums: sums))
        var averaged: [ScalingSignal: Double] = [:]
        for signal in sums.keys {
            let seen = samples.compactMap { $0.sums[signal] }
            averaged[signal] = seen.reduce(0, +) / Double(seen.count)
        }
        let readings = Self.readings(input, current: current, sums: averaged, averaged: samples.count > 1 ? window : nil)
        let observed = Self.observed(input.pods)
        let targeted = Self.targetedSignals(input.targets)

        // Forget what no window can reach any more.
        let longest = [
            Duration.seconds(max(0, input.behavior.scaleUp.stabilizationSeconds)),
            .seconds(max(0, input.behavior.scaleDown.stabilizationSeconds)),
            .seconds(max(0, input.behavior.scaleUp.periodSeconds)),
            .seconds(max(0, input.behavior.scaleDown.periodSeconds)),
            input.panic.window,
        ].max() ?? .zero
        history.removeAll { $0.time <= now - longest }
        events.removeAll { $0.time <= now - longest }

        guard let winner = readings.max(by: { $0.desiredReplicas < $1.desiredReplicas }) else {
            // No metrics at all: hold, only within bounds.
            let held = min(max(current, minBound), maxBound)
            var reason = targeted.isEmpty
                ? "no valid target set; holding \(current) replicas"
                : "no pod reports \(targeted.map(\.label).joined(separator: " or ")) (MetricsUnavailable); holding \(current) replicas"
            var limit = ScalingLimit.metricsUnavailable
            if held > current { limit = .min; reason += "; raised to min \(minBound)" }
            if held < current { limit = .max; reason += "; clamped to max \(maxBound)" }
            return Recommendation(
                replicas: held, reason: reason, limitedBy: limit, desiredReplicas: current,
                readings: [], observed: observed, inPanic: inPanic)
        }

        // Two recommendations: from the window's mean (`raw`, which bounds a scale-down) and from
        // this sample alone (`instant`, which drives a scale-up and panic): a tier grows as soon as
        // its load does, and shrinks only on what a whole window saw.
        let missingSignals = targeted.filter { signal in !readings.contains { $0.signal == signal } }
        // Growth looks `trendShare × lead` ahead along the window's trend (a least-squares line
        // through the samples), when the load rises.
        var ahead = sums
        var projectedSignals: Set<ScalingSignal> = []
        let horizon = input.trendShare.isFinite ? input.lead.inSeconds * max(0, input.trendShare) : 0
        if horizon > 0, samples.count >= 3 {
            for signal in sums.keys {
                let points = samples.compactMap { sample in sample.sums[signal].map { ((sample.time - now).inSeconds, $0) } }
                guard points.count >= 3 else { continue }
                let n = Double(points.count)
                let meanT = points.reduce(0) { $0 + $1.0 } / n
                let meanY = points.reduce(0) { $0 + $1.1 } / n
                let sxx = points.reduce(0) { $0 + ($1.0 - meanT) * ($1.0 - meanT) }
                guard sxx > 0 else { continue }
                let slope = points.reduce(0) { $0 + ($1.0 - meanT) * ($1.1 - meanY) } / sxx
                guard slope > 0 else { continue }
                let projected = meanY + slope * (horizon - meanT)
                if projected > sums[signal] ?? 0 { ahead[signal] = projected; projectedSignals.insert(signal) }
            }
        }
        var instantReadings = samples.count > 1 ? Self.readings(input, current: current, sums: ahead, averaged: nil) : readings
        for index in instantReadings.indices where projectedSignals.contains(instantReadings[index].signal) {
            instantReadings[index].projectedAhead = .milliseconds(Int64(horizon * 1000))
        }
        let instantWinner = instantReadings.max(by: { $0.desiredReplicas < $1.desiredReplicas }) ?? winner
        var raw = winner.desiredReplicas
        var instant = instantWinner.desiredReplicas
        var reason = Self.describe(instant > current ? instantWinner : winner)
        if !missingSignals.isEmpty && max(raw, instant) < current {
            reason += "; no pod reports \(missingSignals.map(\.label).joined(separator: ", ")), so not scaling down"
        }
        if !missingSignals.isEmpty {
            raw = max(raw, current)
            instant = max(instant, min(raw, current))
        }
        history.append(TimedRecommendation(time: now, replicas: raw, fromMetrics: true, instant: instant))
        // What the signals ask for: this sample's count when it grows the tier, else the mean's.
        let wanted = instant > current ? instant : raw

        // Panic mode (Knative KPA).
        let ready = max(0, input.readyReplicas, input.pods.count)
        let panicWindow = history.filter { $0.fromMetrics && ($0.time > now - input.panic.window || $0.time == now) }
        let panicMean = Double(panicWindow.reduce(0) { $0 + $1.instant }) / Double(max(1, panicWindow.count))
        let panicDesired = Self.ceilInt(panicMean)
        let threshold = input.panic.threshold
        if ready > 0, threshold.isFinite, threshold > 0, panicMean >= threshold * Double(ready) {
            if lastPanicTrigger == nil {
                reason += "; panic: \(panicDesired) over \(Self.format(input.panic.window)) ≥ \(Self.format(threshold))×\(ready) ready"
            }
            lastPanicTrigger = now
        } else if let trigger = lastPanicTrigger, now - trigger >= input.panic.stableWindow {
            lastPanicTrigger = nil
            reason += "; panic over (no trigger for \(Self.format(input.panic.stableWindow)))"
        }

        // The scale-up rate: at most `maxScaleUpRate` × the ready pods (never below the current size).
        let rate = input.maxScaleUpRate.isFinite && input.maxScaleUpRate >= 1 ? input.maxScaleUpRate : Double(Self.replicaCeiling)
        let rateCap = max(current, Self.ceilInt(rate * Double(max(1, ready)) - 1e-6))
        func capRate(_ replicas: inout Int, _ limit: inout ScalingLimit?) {
            if replicas > rateCap {
                replicas = rateCap
                limit = .stepPolicy
                reason += "; limited to \(rateCap) by the scale-up rate (\(Self.format(rate))× \(max(1, ready)) ready)"
            }
        }

        if inPanic {
            var replicas = max(current, panicDesired, wanted)
            var limit: ScalingLimit? = replicas != wanted ? .panic : nil
            reason += "; in panic, scaling up at once and not scaling down"
            capRate(&replicas, &limit)
            if replicas > maxBound { replicas = maxBound; limit = .max; reason += "; clamped to max \(maxBound)" }
            if replicas < minBound { replicas = minBound; limit = .min; reason += "; raised to min \(minBound)" }
            return Recommendation(
                replicas: replicas, reason: reason, limitedBy: limit, desiredReplicas: wanted,
                readings: readings, observed: observed, inPanic: true)
        }

        var limit: ScalingLimit?

        // Stabilization (HPA): bound a scale-up by the lowest and a scale-down by the highest
        // recommendation within the respective window.
        let upWindow = Duration.seconds(max(0, input.behavior.scaleUp.stabilizationSeconds))
        let downWindow = Duration.seconds(max(0, input.behavior.scaleDown.stabilizationSeconds))
        var upRecommendation = instant
        var downRecommendation = raw
        for entry in history {
            if entry.time > now - upWindow { upRecommendation = min(upRecommendation, entry.instant) }
            if entry.time > now - downWindow { downRecommendation = max(downRecommendation, entry.replicas) }
        }
        var replicas = current
        if replicas < upRecommendation { replicas = upRecommendation }
        if replicas > downRecommendation { replicas = downRecommendation }
        if replicas != wanted {
            limit = .stabilization
            let window = wanted > current ? "scale-up" : "scale-down"
            let seconds = wanted > current ? upWindow : downWindow
            reason += "; held at \(replicas) by \(window) stabilization (\(Self.format(seconds)) window)"
        }

        // Step policies (HPA): count what was added (removed) within the period.
        if replicas > current {
            let policy = input.behavior.scaleUp
            let period = Duration.seconds(max(0, policy.periodSeconds))
            let added = events.filter { $0.time > now - period && $0.delta > 0 }.reduce(0) { $0 + $1.delta }
            let limitUp = max(current, current - added + Self.sane(policy.maxReplicasPerStep))
            if replicas > limitUp {
                replicas = limitUp
                limit = .stepPolicy
                reason += "; limited to \(replicas) by scale-up policy (\(policy.maxReplicasPerStep) per \(policy.periodSeconds)s)"
            }
        } else if replicas < current {
            let policy = input.behavior.scaleDown
            let period = Duration.seconds(max(0, policy.periodSeconds))
            let removed = events.filter { $0.time > now - period && $0.delta < 0 }.reduce(0) { $0 - $1.delta }
            let limitDown = min(current, current + removed - Self.sane(policy.maxReplicasPerStep))
            if replicas < limitDown {
                replicas = limitDown
                limit = .stepPolicy
                reason += "; limited to \(replicas) by scale-down policy (\(policy.maxReplicasPerStep) per \(policy.periodSeconds)s)"
            }
        }

        if replicas > current { capRate(&replicas, &limit) }

        // Bounds.
        if replicas > maxBound {
            replicas = maxBound
            limit = .max
            reason += "; clamped to max \(maxBound)"
        } else if replicas < minBound {
            replicas = minBound
            limit = .min
            reason += "; raised to min \(minBound)"
        }
        return Recommendation(
            replicas: replicas, reason: reason, limitedBy: limit, desiredReplicas: wanted,
            readings: readings, observed: observed, inPanic: false)
    }

    // MARK: - Signals

    private static func targetedSignals(_ targets: ScalingTargets) -> [ScalingSignal] {
        ScalingSignal.allCases.filter { target(for: $0, in: targets) != nil }
    }

    /// A target, when set to a usable value (finite, > 0).
    private static func target(for signal: ScalingSignal, in targets: ScalingTargets) -> Double? {
        let value: Double? = switch signal {
        case .waitingRequests: targets.waitingRequestsPerReplica
        case .kvCacheUtilization: targets.kvCacheUtilization
        case .runningRequests: targets.runningRequestsPerReplica
        case .inFlightRequests: targets.inFlightRequestsPerReplica
        }
        guard let value, value.isFinite, value > 0 else { return nil }
        return value
    }

    private static func value(of signal: ScalingSignal, in pod: PodSignals) -> Double? {
        let value: Double? = switch signal {
        case .waitingRequests: pod.waiting
        case .kvCacheUtilization: pod.kvCacheUtilization
        case .runningRequests: pod.running
        case .inFlightRequests: pod.running.map { $0 + (pod.waiting ?? 0) }
        }
        guard let value, value.isFinite, value >= 0 else { return nil }
        return value
    }

    private static func readings(
        _ input: RecommendationInput, current: Int, sums: [ScalingSignal: Double], averaged: Duration?
    ) -> [SignalReading] {
        let ready = max(input.readyReplicas, input.pods.count, 0)
        let tolerance = input.tolerance.isFinite ? max(0, input.tolerance) : 0.1
        return targetedSignals(input.targets).compactMap { signal in
            guard let target = target(for: signal, in: input.targets) else { return nil }
            let values = input.pods.compactMap { value(of: signal, in: $0) }
            guard !values.isEmpty else { return nil }
            let reporting = values.count
            let missing = ready - reporting
            let sum = sums[signal] ?? values.reduce(0, +)
            let usageRatio = sum / (target * Double(reporting))
            var desired: Int
            var within = false
            if missing == 0 {
                if abs(1 - usageRatio) <= tolerance {
                    desired = current
                    within = true
                } else {
                    desired = ceilInt(sum / target)
                }
            } else {
                // HPA: pods without metrics use 0 on the way up and the target on the way down.
                let filledSum = usageRatio < 1 ? sum + target * Double(missing) : sum
                let newRatio = filledSum / (target * Double(ready))
                if abs(1 - newRatio) <= tolerance || (usageRatio < 1 && newRatio > 1) || (usageRatio > 1 && newRatio < 1) {
                    desired = current
                    within = true
                } else {
                    desired = ceilInt(filledSum / target)
                    if (newRatio < 1 && desired > current) || (newRatio > 1 && desired < current) { desired = current }
                }
            }
            return SignalReading(
                signal: signal, average: sum / Double(reporting), target: target,
                podsWithMetrics: reporting, podsWithoutMetrics: missing,
                desiredReplicas: desired, withinTolerance: within, averagedOver: averaged)
        }
    }

    private static func observed(_ pods: [PodSignals]) -> PodSignals {
        func mean(_ signal: ScalingSignal) -> Double? {
            let values = pods.compactMap { value(of: signal, in: $0) }
            return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
        }
        return PodSignals(
            waiting: mean(.waitingRequests), running: mean(.runningRequests),
            kvCacheUtilization: mean(.kvCacheUtilization))
    }

    private static func describe(_ reading: SignalReading) -> String {
        let comparison = reading.withinTolerance ? "≈" : (reading.average > reading.target ? ">" : "<")
        var text = "\(reading.signal.label) \(format(reading.average))"
        if let window = reading.averagedOver { text += " (\(format(window)) mean)" }
        if let ahead = reading.projectedAhead { text += " (trend, \(format(ahead)) ahead)" }
        text += " \(comparison) target \(format(reading.target))"
        text += " across \(reading.podsWithMetrics) pod\(reading.podsWithMetrics == 1 ? "" : "s")"
        if reading.podsWithoutMetrics > 0 { text += " (\(reading.podsWithoutMetrics) without metrics)" }
        text += reading.withinTolerance ? ", within tolerance" : ", wants \(reading.desiredReplicas)"
        return text
    }

    /// The largest replica count the recommender works with; larger inputs are clamped to it.
    static let replicaCeiling = 1_000_000

    private static func sane(_ replicas: Int) -> Int { min(max(0, replicas), replicaCeiling) }

    /// `ceil`, minus floating-point noise, clamped to [0, ``replicaCeiling``].
    static func ceilInt(_ value: Double) -> Int {
        guard value.isFinite else { return value > 0 ? replicaCeiling : 0 }
        return Int(min(max((value - 1e-9).rounded(.up), 0), Double(replicaCeiling)))
    }

    /// Whole seconds, e.g. `300s`.
    public static func format(_ duration: Duration) -> String { "\(duration.components.seconds)s" }

    /// Two decimals, without Foundation.
    public static func format(_ value: Double) -> String {
        guard value.isFinite, abs(value) < 1e12 else { return "\(value)" }
        let hundredths = Int64((abs(value) * 100).rounded())
        let fraction = hundredths % 100
        return (value < 0 && hundredths != 0 ? "-" : "") + "\(hundredths / 100)." + (fraction < 10 ? "0" : "") + "\(fraction)"
    }
}

