import KubeTestSupport
import Testing

@testable import Autoscaling

private func kv(_ values: Double...) -> [PodSignals] { values.map { PodSignals(kvCacheUtilization: $0) } }
private func waiting(_ values: Double...) -> [PodSignals] { values.map { PodSignals(waiting: $0) } }
private func running(_ values: Double...) -> [PodSignals] { values.map { PodSignals(running: $0) } }
private func repeated(_ pod: PodSignals, _ count: Int) -> [PodSignals] { Array(repeating: pod, count: count) }

private let kvOnly = ScalingTargets(kvCacheUtilization: 0.8)
private let runningOnly = ScalingTargets(runningRequestsPerReplica: 200)
// API.md's example targets: these cases test the rules with them (the defaults have a test of their own).
private let prefill = ScalingTargets(waitingRequestsPerReplica: 4)
private let decode = ScalingTargets(kvCacheUtilization: 0.8, runningRequestsPerReplica: 200)
private let inFlight = ScalingTargets(inFlightRequestsPerReplica: 10)

private func behavior(up: (Int, Int, Int) = (0, 4, 15), down: (Int, Int, Int) = (300, 1, 60)) -> ScalingBehavior {
    ScalingBehavior(
        scaleUp: ScalingPolicy(stabilizationSeconds: up.0, maxReplicasPerStep: up.1, periodSeconds: up.2),
        scaleDown: ScalingPolicy(stabilizationSeconds: down.0, maxReplicasPerStep: down.1, periodSeconds: down.2))
}

/// HPA's default windows (300 s scale-down), which the cases were written for.
private let hpaBehavior = behavior()

/// One decision in a case: the state at `t` seconds and what must come out.
struct Step: Sendable {
    var t: Int
    var current: Int
    var ready: Int?
    var pods: [PodSignals]
    var want: Int
    var limit: ScalingLimit?
    var panic: Bool = false
    var reasonContains: String? = nil
}

struct RecommenderCase: Sendable, CustomTestStringConvertible {
    var name: String
    var targets: ScalingTargets
    var min = 1
    var max = 16
    var behavior = hpaBehavior
    var tolerance = 0.1
    /// Zero: the cases test the HPA rules on single samples (averaging has cases of its own).
    var averaging = Duration.zero
    /// Knative's default (1000, no practical cap): the scale-up rate has cases of its own.
    var scaleUpRate = 1000.0
    /// No look-ahead: the trend has cases of its own.
    var lead = Duration.zero
    var trendShare = 0.5
    var steps: [Step]
    var testDescription: String { name }
}

private let cases: [RecommenderCase] = [
    RecommenderCase(name: "within tolerance above target keeps size", targets: kvOnly, steps: [
        Step(t: 0, current: 4, pods: kv(0.85, 0.85, 0.85, 0.85), want: 4, limit: nil, reasonContains: "within tolerance"),
    ]),
    RecommenderCase(name: "within tolerance below target keeps size", targets: kvOnly, steps: [
        Step(t: 0, current: 4, pods: kv(0.75, 0.75, 0.75, 0.75), want: 4, limit: nil),
    ]),
    RecommenderCase(name: "kv-cache alone scales up outside tolerance", targets: kvOnly, steps: [
        Step(t: 0, current: 4, pods: kv(0.93, 0.93, 0.93, 0.93), want: 5, limit: nil,
             reasonContains: "kv-cache 0.93 > target 0.80 across 4 pods"),
    ]),
    RecommenderCase(name: "zero tolerance scales on a small excess", targets: kvOnly, tolerance: 0, steps: [
        Step(t: 0, current: 4, pods: kv(0.85, 0.85, 0.85, 0.85), want: 5, limit: nil),
    ]),
    RecommenderCase(name: "waiting alone scales prefill up", targets: prefill, steps: [
        Step(t: 0, current: 3, pods: waiting(6, 6, 6), want: 5, limit: nil,
             reasonContains: "waiting requests/replica 6.00 > target 4.00 across 3 pods"),
    ]),
    RecommenderCase(name: "in flight counts running and waiting", targets: inFlight, steps: [
        Step(t: 0, current: 2, pods: [PodSignals(waiting: 10, running: 8), PodSignals(waiting: 2, running: 10)], want: 3, limit: nil,
             reasonContains: "in-flight requests/replica 15.00 > target 10.00 across 2 pods"),
    ]),
    RecommenderCase(name: "a scale-up follows the sample, not the window's mean", targets: inFlight, averaging: .seconds(60), steps: [
        Step(t: 0, current: 2, pods: [PodSignals(waiting: 0, running: 10), PodSignals(waiting: 0, running: 10)], want: 2, limit: nil),
        // A spike to 60 in flight asks for 6 at once (the 60 s mean, 40, would ask for 4 only).
        Step(t: 5, current: 2, pods: [PodSignals(waiting: 20, running: 10), PodSignals(waiting: 20, running: 10)], want: 6, limit: nil, panic: true,
             reasonContains: "in-flight requests/replica 30.00 > target 10.00 across 2 pods, wants 6"),
    ]),
    RecommenderCase(name: "a mean over the window scales down slowly after a burst", targets: inFlight, behavior: behavior(down: (0, 10, 60)),
                    averaging: .seconds(60), steps: [
        Step(t: 0, current: 6, pods: repeated(PodSignals(waiting: 0, running: 10), 6), want: 6, limit: nil),
        Step(t: 5, current: 6, pods: repeated(PodSignals(waiting: 0, running: 0), 6), want: 3, limit: nil,
             reasonContains: "in-flight requests/replica 5.00 (60s mean) < target 10.00"),
        Step(t: 65, current: 3, pods: repeated(PodSignals(waiting: 0, running: 0), 3), want: 1, limit: .min),
    ]),
    RecommenderCase(name: "the scale-up rate caps growth at 2× the ready pods, panic included", targets: inFlight, scaleUpRate: 2, steps: [
        Step(t: 0, current: 2, ready: 2, pods: repeated(PodSignals(waiting: 40, running: 10), 2), want: 4, limit: .stepPolicy, panic: true,
             reasonContains: "limited to 4 by the scale-up rate (2.00× 2 ready)"),
        // Pods still starting do not raise the cap: the queue grows while they start.
        Step(t: 30, current: 4, ready: 2, pods: repeated(PodSignals(waiting: 80, running: 10), 2), want: 4, limit: .stepPolicy, panic: true),
        Step(t: 200, current: 4, ready: 4, pods: repeated(PodSignals(waiting: 40, running: 10), 4), want: 8, limit: .stepPolicy, panic: true),
    ]),
    RecommenderCase(name: "a rising trend grows the tier for the load it reaches when new pods are up",
                    targets: inFlight, averaging: .seconds(60), lead: .seconds(100), steps: [
        Step(t: 0, current: 2, pods: repeated(PodSignals(waiting: 0, running: 10), 2), want: 2, limit: nil),
        Step(t: 5, current: 2, pods: repeated(PodSignals(waiting: 0, running: 15), 2), want: 3, limit: nil),
        // 20, 30, 40 in flight at 5 s steps: 2 per second; 50 s ahead (half the 100 s lead) the
        // line reaches 30 + 2 × (50 + 5) = 140: 14 replicas, in panic (mean of 3 and 14 ≥ 2 × 3).
        Step(t: 10, current: 3, pods: [PodSignals(waiting: 4, running: 10), PodSignals(waiting: 3, running: 10), PodSignals(waiting: 3, running: 10)],
             want: 14, limit: nil, panic: true,
             reasonContains: "in-flight requests/replica 46.67 (trend, 50s ahead) > target 10.00 across 3 pods, wants 14"),
    ]),
    RecommenderCase(name: "a falling trend does not look ahead", targets: inFlight, behavior: behavior(down: (0, 10, 60)),
                    averaging: .seconds(60), lead: .seconds(100), steps: [
        Step(t: 0, current: 4, pods: repeated(PodSignals(waiting: 0, running: 10), 4), want: 4, limit: nil),
        Step(t: 5, current: 4, pods: repeated(PodSignals(waiting: 0, running: 8), 4), want: 4, limit: nil),
        // Falling: the mean of the window (36 in flight) sizes the shrink, no projection.
        Step(t: 10, current: 4, pods: repeated(PodSignals(waiting: 0, running: 6), 4), want: 4, limit: nil,
             reasonContains: "in-flight requests/replica 8.00 (60s mean)"),
    ]),
    RecommenderCase(name: "running alone scales up", targets: runningOnly, steps: [
        Step(t: 0, current: 2, pods: running(300, 300), want: 3, limit: nil),
    ]),
    RecommenderCase(name: "combined signals: the largest wins", targets: decode, steps: [
        Step(t: 0, current: 4, pods: repeated(PodSignals(running: 300, kvCacheUtilization: 0.9), 4), want: 6, limit: nil,
             reasonContains: "running requests/replica"),
    ]),
    RecommenderCase(name: "combined signals: one within tolerance holds against another going down",
                    targets: decode, behavior: behavior(down: (0, 4, 60)), steps: [
        Step(t: 0, current: 4, pods: repeated(PodSignals(running: 50, kvCacheUtilization: 0.8), 4), want: 4, limit: nil),
    ]),
    RecommenderCase(name: "scale-down held by stabilization, then stepped", targets: kvOnly, steps: [
        Step(t: 0, current: 4, pods: kv(0.2, 0.2, 0.2, 0.2), want: 4, limit: .stabilization),
        Step(t: 100, current: 4, pods: kv(0.2, 0.2, 0.2, 0.2), want: 4, limit: .stabilization),
        Step(t: 301, current: 4, pods: kv(0.2, 0.2, 0.2, 0.2), want: 3, limit: .stepPolicy),
    ]),
    RecommenderCase(name: "scale-down stabilization keeps the highest in the window", targets: kvOnly, steps: [
        Step(t: 0, current: 4, pods: kv(0.8, 0.8, 0.8, 0.8), want: 4, limit: nil),
        Step(t: 200, current: 4, pods: kv(0.6, 0.6, 0.6, 0.6), want: 4, limit: .stabilization),
        Step(t: 301, current: 4, pods: kv(0.6, 0.6, 0.6, 0.6), want: 3, limit: nil),
    ]),
    RecommenderCase(name: "scale-up stabilization keeps the lowest in the window", targets: kvOnly,
                    behavior: behavior(up: (60, 4, 15)), steps: [
        Step(t: 0, current: 4, pods: kv(0.8, 0.8, 0.8, 0.8), want: 4, limit: nil),
        Step(t: 30, current: 4, pods: kv(0.9, 0.9, 0.9, 0.9), want: 4, limit: .stabilization),
        Step(t: 61, current: 4, pods: kv(0.9, 0.9, 0.9, 0.9), want: 5, limit: nil),
    ]),
    RecommenderCase(name: "scale-up step policy, 1 per 15 s", targets: prefill, behavior: behavior(up: (0, 1, 15)), steps: [
        Step(t: 0, current: 4, pods: waiting(7, 7, 7, 7), want: 5, limit: .stepPolicy),
        Step(t: 5, current: 5, pods: repeated(PodSignals(waiting: 5.6), 5), want: 5, limit: .stepPolicy),
        Step(t: 21, current: 5, pods: repeated(PodSignals(waiting: 5.6), 5), want: 6, limit: .stepPolicy),
    ]),
    RecommenderCase(name: "default scale-up step policy: 4 per 15 s", targets: prefill, steps: [
        Step(t: 0, current: 10, pods: repeated(PodSignals(waiting: 7.6), 10), want: 14, limit: .stepPolicy),
    ]),
    RecommenderCase(name: "scale-down step policy, 1 per 60 s", targets: kvOnly, behavior: behavior(down: (0, 1, 60)), steps: [
        Step(t: 0, current: 6, pods: repeated(PodSignals(kvCacheUtilization: 0.1), 6), want: 5, limit: .stepPolicy),
        Step(t: 30, current: 5, pods: repeated(PodSignals(kvCacheUtilization: 0.1), 5), want: 5, limit: .stepPolicy),
        Step(t: 91, current: 5, pods: repeated(PodSignals(kvCacheUtilization: 0.1), 5), want: 4, limit: .stepPolicy),
    ]),
    RecommenderCase(name: "panic scales up at once past the step policy", targets: prefill, steps: [
        Step(t: 0, current: 2, pods: waiting(20, 20), want: 10, limit: nil, panic: true, reasonContains: "panic"),
    ]),
    RecommenderCase(name: "panic is still bounded by max", targets: prefill, max: 8, steps: [
        Step(t: 0, current: 2, pods: waiting(20, 20), want: 8, limit: .max, panic: true),
    ]),
    RecommenderCase(name: "panic blocks scale-down and exits after the stable window", targets: prefill,
                    behavior: behavior(down: (0, 10, 60)), steps: [
        Step(t: 0, current: 2, pods: waiting(20, 20), want: 10, limit: nil, panic: true),
        Step(t: 10, current: 10, pods: repeated(PodSignals(waiting: 0), 10), want: 10, limit: .panic, panic: true),
        Step(t: 30, current: 10, pods: repeated(PodSignals(waiting: 0), 10), want: 10, limit: .panic, panic: true),
        Step(t: 61, current: 10, pods: repeated(PodSignals(waiting: 0), 10), want: 1, limit: .min, panic: false,
             reasonContains: "panic over"),
    ]),
    RecommenderCase(name: "panic triggers on the panic-window mean, not one spike", targets: prefill, steps: [
        Step(t: 0, current: 4, pods: waiting(4, 4, 4, 4), want: 4, limit: nil),
        Step(t: 3, current: 4, pods: waiting(40, 0, 0, 0), want: 8, limit: .stepPolicy, panic: false),
        Step(t: 5, current: 8, ready: 4, pods: waiting(40, 0, 0, 0), want: 10, limit: nil, panic: true),
    ]),
    RecommenderCase(name: "pods without metrics on the way up count as 0", targets: prefill, steps: [
        Step(t: 0, current: 4, ready: 4, pods: waiting(10, 10), want: 5, limit: nil, reasonContains: "2 without metrics"),
    ]),
    RecommenderCase(name: "pods without metrics can flip a scale-up into no change", targets: prefill,
                    behavior: behavior(down: (0, 4, 60)), steps: [
        Step(t: 0, current: 4, ready: 4, pods: waiting(4.6, 4.6), want: 4, limit: nil),
    ]),
    RecommenderCase(name: "pods without metrics on the way down count as at target", targets: kvOnly,
                    behavior: behavior(down: (0, 4, 60)), steps: [
        Step(t: 0, current: 4, ready: 4, pods: kv(0.2, 0.2), want: 3, limit: nil),
    ]),
    RecommenderCase(name: "no metrics at all holds the size", targets: decode, steps: [
        Step(t: 0, current: 3, ready: 3, pods: [], want: 3, limit: .metricsUnavailable, reasonContains: "MetricsUnavailable"),
        Step(t: 400, current: 3, ready: 3, pods: [PodSignals(), PodSignals()], want: 3, limit: .metricsUnavailable),
    ]),
    RecommenderCase(name: "pods report only untargeted signals: metrics unavailable", targets: kvOnly, steps: [
        Step(t: 0, current: 3, pods: waiting(50, 50, 50), want: 3, limit: .metricsUnavailable),
    ]),
    RecommenderCase(name: "no metrics below min raises to min", targets: kvOnly, min: 2, steps: [
        Step(t: 0, current: 1, ready: 1, pods: [], want: 2, limit: .min),
    ]),
    RecommenderCase(name: "no metrics above max clamps to max", targets: kvOnly, max: 8, steps: [
        Step(t: 0, current: 10, ready: 10, pods: [], want: 8, limit: .max),
    ]),
    RecommenderCase(name: "a targeted signal missing everywhere blocks scale-down", targets: decode,
                    behavior: behavior(down: (0, 4, 60)), steps: [
        Step(t: 0, current: 4, pods: kv(0.1, 0.1, 0.1, 0.1), want: 4, limit: nil, reasonContains: "not scaling down"),
    ]),
    RecommenderCase(name: "clamped to max", targets: kvOnly, max: 4, steps: [
        Step(t: 0, current: 4, pods: kv(1, 1, 1, 1), want: 4, limit: .max),
    ]),
    RecommenderCase(name: "raised to min", targets: kvOnly, min: 2, behavior: behavior(down: (0, 4, 60)), steps: [
        Step(t: 0, current: 3, pods: kv(0.1, 0.1, 0.1), want: 2, limit: .min),
    ]),
    RecommenderCase(name: "prefill scales to zero with min 0", targets: prefill, min: 0,
                    behavior: behavior(down: (0, 1, 60)), steps: [
        Step(t: 0, current: 1, pods: waiting(0), want: 0, limit: nil),
        Step(t: 30, current: 0, ready: 0, pods: [], want: 0, limit: .metricsUnavailable),
    ]),
    RecommenderCase(name: "scale to zero waits for the default scale-down window", targets: prefill, min: 0, steps: [
        Step(t: 0, current: 1, pods: waiting(0), want: 1, limit: .stabilization),
        Step(t: 301, current: 1, pods: waiting(0), want: 0, limit: nil),
    ]),
    RecommenderCase(name: "NaN and negative values count as missing", targets: kvOnly, steps: [
        Step(t: 0, current: 2, ready: 2, pods: kv(.nan, -1), want: 2, limit: .metricsUnavailable),
    ]),
    RecommenderCase(name: "huge values stay finite and bounded", targets: prefill, max: 16, steps: [
        Step(t: 0, current: 2, pods: waiting(1e300, .infinity), want: 16, limit: .max, panic: true),
    ]),
]

@Suite("TierRecommender")
struct TierRecommenderTests {
    @Test(arguments: cases)
    func table(_ testCase: RecommenderCase) {
        var recommender = TierRecommender()
        for step in testCase.steps {
            let input = RecommendationInput(
                currentReplicas: step.current,
                readyReplicas: step.ready ?? step.pods.count,
                pods: step.pods,
                targets: testCase.targets,
                minReplicas: testCase.min,
                maxReplicas: testCase.max,
                behavior: testCase.behavior,
                tolerance: testCase.tolerance,
                averagingWindow: testCase.averaging,
                maxScaleUpRate: testCase.scaleUpRate,
                lead: testCase.lead, trendShare: testCase.trendShare)
            let result = recommender.recommend(input, now: .seconds(step.t))
            #expect(result.replicas == step.want, "t=\(step.t): \(result.reason)")
            #expect(result.limitedBy == step.limit, "t=\(step.t): \(result.reason)")
            #expect(result.inPanic == step.panic, "t=\(step.t): \(result.reason)")
            if let text = step.reasonContains {
                #expect(result.reason.contains(text), "t=\(step.t): \(result.reason)")
            }
        }
    }

    @Test func tableIsLargeEnough() {
        #expect(cases.count >= 25)
    }

    @Test func reportsReadingsAndObservedValues() {
        var recommender = TierRecommender()
        let input = RecommendationInput(
            currentReplicas: 4, readyReplicas: 4,
            pods: repeated(PodSignals(waiting: 1, running: 300, kvCacheUtilization: 0.9), 4),
            targets: decode, minReplicas: 1, maxReplicas: 8)
        let result = recommender.recommend(input, now: .zero)
        #expect(result.readings.map(\.signal) == [.kvCacheUtilization, .runningRequests])
        #expect(result.readings.map(\.desiredReplicas) == [5, 6])
        #expect(result.desiredReplicas == 6)
        #expect(result.observed == PodSignals(waiting: 1, running: 300, kvCacheUtilization: 0.9))
    }

    @Test func defaultsCarryTheDocumentedNumbers() {
        #expect(ScalingTargets.prefillDefault == ScalingTargets(inFlightRequestsPerReplica: 1))
        #expect(ScalingTargets.decodeDefault == ScalingTargets(kvCacheUtilization: 0.8, inFlightRequestsPerReplica: 100))
        #expect(ScalingPolicy.scaleUpDefault == ScalingPolicy(stabilizationSeconds: 0, maxReplicasPerStep: 4, periodSeconds: 15))
        #expect(ScalingPolicy.scaleDownDefault == ScalingPolicy(stabilizationSeconds: 300, maxReplicasPerStep: 1, periodSeconds: 60))
        #expect(RecommendationInput.defaultMaxScaleUpRate == 2)
        #expect(RecommendationInput.defaultAveragingWindow == .seconds(60))
        #expect(PanicPolicy.default == PanicPolicy(window: .seconds(6), stableWindow: .seconds(60), threshold: 2))
        let input = RecommendationInput(currentReplicas: 1, readyReplicas: 1, pods: [], targets: .prefillDefault,
                                        minReplicas: 0, maxReplicas: 1)
        #expect(input.tolerance == 0.1)
    }

    @Test func invalidBoundsAndTargetsDoNotTrap() {
        var recommender = TierRecommender()
        let input = RecommendationInput(
            currentReplicas: -3, readyReplicas: -1, pods: waiting(5),
            targets: ScalingTargets(waitingRequestsPerReplica: 0, kvCacheUtilization: .nan, runningRequestsPerReplica: -1),
            minReplicas: 5, maxReplicas: 2, tolerance: .nan)
        let result = recommender.recommend(input, now: .zero)
        #expect(result.replicas == 2)
        #expect(result.reason.contains("no valid target"))

        var extreme = TierRecommender()
        let huge = ScalingPolicy(stabilizationSeconds: .max, maxReplicasPerStep: .max, periodSeconds: .max)
        for (t, current) in [(0, Int.max), (1, 3), (2, Int.min), (3, Int.max)] {
            let input = RecommendationInput(
                currentReplicas: current, readyReplicas: .max, pods: waiting(1e308, 5),
                targets: .prefillDefault, minReplicas: .min, maxReplicas: .max,
                behavior: ScalingBehavior(scaleUp: huge, scaleDown: huge))
            let result = extreme.recommend(input, now: .seconds(t))
            #expect(result.replicas >= 0 && result.replicas <= TierRecommender.replicaCeiling)
        }
        let ratio = RatioGuard(minPrefillPerDecode: 1e308, maxPrefillPerDecode: .infinity)
        #expect(ratio.apply(prefill: .max, decode: .max, prefillBounds: Int.min...Int.max).prefillReplicas >= 0)
    }
}

@Suite("TierRecommender invariants")
struct TierRecommenderInvariantTests {
    /// Random inputs over time: bounds hold, missing data never shrinks the tier, panic never shrinks it.
    @Test func randomInputsKeepInvariants() {
        var rng = SplitMix64(seed: 42)
        func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
        func signal() -> Double? {
            switch int(0...9) {
            case 0: nil
            case 1: .nan
            case 2: Double(int(0...1_000))
            default: Double(int(0...100)) / 100
            }
        }
        for _ in 0..<200 {
            var recommender = TierRecommender()
            let minReplicas = int(0...4)
            let maxReplicas = int(minReplicas...24)
            let targets = ScalingTargets(
                waitingRequestsPerReplica: int(0...1) == 0 ? nil : Double(int(1...8)),
                kvCacheUtilization: int(0...1) == 0 ? nil : 0.8,
                runningRequestsPerReplica: int(0...1) == 0 ? nil : Double(int(50...300)))
            let behavior = ScalingBehavior(
                scaleUp: ScalingPolicy(stabilizationSeconds: int(0...60), maxReplicasPerStep: int(0...5), periodSeconds: int(0...30)),
                scaleDown: ScalingPolicy(stabilizationSeconds: int(0...300), maxReplicasPerStep: int(0...3), periodSeconds: int(0...90)))
            var now = 0
            var current = int(0...20)
            for _ in 0..<30 {
                now += int(0...40)
                let ready = int(0...current)
                let pods = (0..<int(0...ready)).map { _ in
                    PodSignals(waiting: signal(), running: signal(), kvCacheUtilization: signal())
                }
                let input = RecommendationInput(
                    currentReplicas: current, readyReplicas: ready, pods: pods, targets: targets,
                    minReplicas: minReplicas, maxReplicas: maxReplicas, behavior: behavior)
                let result = recommender.recommend(input, now: .seconds(now))
                #expect(result.replicas >= minReplicas && result.replicas <= maxReplicas, "\(result.reason)")
                let floor = min(max(current, minReplicas), maxReplicas)
                let targeted = [targets.waitingRequestsPerReplica, targets.kvCacheUtilization, targets.runningRequestsPerReplica]
                    .compactMap { $0 }.count
                if result.readings.count < targeted || result.inPanic {
                    #expect(result.replicas >= floor, "\(result.reason)")
                }
                #expect(!result.reason.isEmpty)
                current = int(0...3) == 0 ? int(0...20) : result.replicas
            }
        }
    }
}
