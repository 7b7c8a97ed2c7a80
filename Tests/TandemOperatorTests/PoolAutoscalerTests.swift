import Foundation
import Autoscaling
import KubeCore
import Rendering
import TandemAPI
import Testing

@testable import TandemOperator

private func metrics(waiting: Double? = nil, running: Double? = nil, kv: Double? = nil, longPrompts: Double? = nil) -> PodReading {
    let histogram = longPrompts.map {
        CumulativeHistogram(buckets: [.init(upperBound: 50, count: 0), .init(upperBound: .infinity, count: $0)])
    }
    return .metrics(PodMetrics(signals: PodSignals(waiting: waiting, running: running, kvCacheUtilization: kv), promptTokens: histogram))
}

/// Targets set explicitly (API.md's example values), so these cases test the rules, not the defaults.
private func spec(prefillMin: Int32 = 1, ratio: RatioSpec? = nil, defaultTargets: Bool = false) -> InferencePoolSpec {
    let fast = TandemAPI.ScalingBehavior(
        scaleUp: ScalingRules(stabilizationSeconds: 0, maxReplicasPerStep: 4, periodSeconds: 1),
        scaleDown: ScalingRules(stabilizationSeconds: 10, maxReplicasPerStep: 1, periodSeconds: 5))
    return InferencePoolSpec(
        model: "m",
        prefillConfig: TierConfig(autoscaling: AutoscalingSpec(
            mode: .operator, minReplicas: prefillMin, maxReplicas: 8,
            target: defaultTargets ? nil : ScalingTarget(waitingRequestsPerReplica: 4), behavior: fast)),
        decodeConfig: TierConfig(autoscaling: AutoscalingSpec(
            mode: .operator, minReplicas: 1, maxReplicas: 8,
            target: defaultTargets ? nil : ScalingTarget(kvCacheUtilization: 0.8, runningRequestsPerReplica: 200), behavior: fast)),
        ratio: ratio)
}

private let calm = PanicPolicy(threshold: 0)  // panic off: these cases test the HPA rules

@Suite("PoolAutoscaler: both tiers, capacity, ratio, scale to zero")
struct PoolAutoscalerTests {
    @Test func eachTierScalesOnItsOwnSignal() {
        var autoscaler = PoolAutoscaler()
        let decisions = autoscaler.decide(
            spec: spec(),
            observations: [
                .prefill: TierObservation(current: 1, ready: 1, readings: ["p0": metrics(waiting: 12, running: 2)]),
                .decode: TierObservation(current: 2, ready: 2, readings: ["d0": metrics(running: 50, kv: 0.4), "d1": metrics(running: 60, kv: 0.42)]),
            ],
            fixed: [:], panic: calm, now: .seconds(1))
        // 12 waiting / 4 per replica → 3 prefill, 2 by the scale-up rate (2 × 1 ready);
        // decode's KV 0.41 < 0.8 wants 2 → 1 but the window holds it.
        #expect(decisions[.prefill]?.desired == 3)
        #expect(decisions[.prefill]?.to == 2)
        #expect(decisions[.prefill]?.reason.contains("waiting") == true)
        #expect(decisions[.decode]?.to == 2)
    }

    @Test func theDefaultTargetsCountRequestsInFlight() {
        var autoscaler = PoolAutoscaler()
        let decisions = autoscaler.decide(
            spec: spec(defaultTargets: true),
            observations: [
                .prefill: TierObservation(current: 1, ready: 1, readings: ["p0": metrics(waiting: 2, running: 1)]),
                .decode: TierObservation(current: 2, ready: 2, readings: ["d0": metrics(waiting: 100, running: 256, kv: 0.5), "d1": metrics(waiting: 0, running: 200, kv: 0.4)]),
            ],
            fixed: [:], panic: calm, now: .seconds(1))
        // Prefill: 2 waiting + 1 running = 3 in flight at 1 per replica → 3 (2 by the scale-up rate).
        #expect(decisions[.prefill]?.desired == 3)
        #expect(decisions[.prefill]?.to == 2)
        #expect(decisions[.prefill]?.reason.contains("in-flight requests/replica 3.00") == true, "\(String(describing: decisions[.prefill]))")
        // Decode: (356 + 200) in flight at 100 per replica → 6, though KV (0.45) alone would shrink it;
        // the scale-up rate allows 2 × 2 ready = 4.
        #expect(decisions[.decode]?.desired == 6)
        #expect(decisions[.decode]?.to == 4)
    }

    @Test func unreadablePodsHoldTheSizeAndSaySo() {
        var autoscaler = PoolAutoscaler()
        let decisions = autoscaler.decide(
            spec: spec(),
            observations: [.decode: TierObservation(current: 3, ready: 3, readings: [
                "d0": .failed("d0: GET http://127.0.0.9:8000/metrics failed: timeout"),
                "d1": .failed("d1: not Prometheus text"), "d2": .failed("d2: answered 500"),
            ])],
            fixed: [.prefill: 1], panic: calm, now: .seconds(1))
        let decode = decisions[.decode]
        #expect(decode?.to == 3)
        #expect(decode?.metricsUnavailable?.contains("3 of 3 ready pods unreadable") == true, "\(String(describing: decode))")
        // Every unreadable pod is named with its error (up to three).
        for failure in ["d0: GET http://127.0.0.9:8000/metrics failed: timeout", "d1: not Prometheus text", "d2: answered 500"] {
            #expect(decode?.metricsUnavailable?.contains(failure) == true, "\(String(describing: decode?.metricsUnavailable))")
        }
    }

    @Test func noReadyPodsIsNotAMetricsOutage() {
        var autoscaler = PoolAutoscaler()
        let decisions = autoscaler.decide(
            spec: spec(), observations: [.prefill: TierObservation(current: 2, ready: 0, readings: [:])],
            fixed: [.decode: 1], panic: calm, now: .seconds(1))
        #expect(decisions[.prefill]?.to == 2)
        #expect(decisions[.prefill]?.metricsUnavailable == nil)
    }

    @Test func capacityStopsGrowthButNotShrinking() {
        var autoscaler = PoolAutoscaler()
        let full = CapacityLimit.insufficientCapacity("1 pod unschedulable: 0/3 nodes are available: 3 Insufficient nvidia.com/gpu.")
        let up = autoscaler.decide(
            spec: spec(), observations: [.prefill: TierObservation(current: 2, ready: 2, readings: [
                "p0": metrics(waiting: 20), "p1": metrics(waiting: 20),
            ], capacity: full)], fixed: [.decode: 1], panic: calm, now: .seconds(1))
        #expect(up[.prefill]?.to == 2)
        #expect(up[.prefill]?.capacity == full)
        #expect(up[.prefill]?.desired == 10)

        let quota = CapacityLimit.quotaExceeded("pods \"x\" is forbidden: exceeded quota: gpus")
        var other = PoolAutoscaler()
        let down = other.decide(
            spec: spec(), observations: [.prefill: TierObservation(current: 4, ready: 4, readings: [
                "p0": metrics(waiting: 0), "p1": metrics(waiting: 0), "p2": metrics(waiting: 0), "p3": metrics(waiting: 0),
            ], capacity: quota)], fixed: [.decode: 1], panic: calm, now: .seconds(100))
        #expect(down[.prefill]?.capacity == nil, "a limit on growth must not be reported while shrinking")
    }

    @Test func theRatioGuardMovesPrefillOnly() {
        var autoscaler = PoolAutoscaler()
        let decisions = autoscaler.decide(
            spec: spec(ratio: RatioSpec(minPrefillPerDecode: 0.5, maxPrefillPerDecode: 1)),
            observations: [
                .prefill: TierObservation(current: 3, ready: 3, readings: ["p0": metrics(waiting: 40), "p1": metrics(waiting: 40), "p2": metrics(waiting: 40)]),
                .decode: TierObservation(current: 2, ready: 2, readings: ["d0": metrics(kv: 0.8), "d1": metrics(kv: 0.8)]),
            ],
            fixed: [:], panic: calm, now: .seconds(1))
        #expect(decisions[.decode]?.to == 2)
        #expect(decisions[.prefill]?.to == 2)
        #expect(decisions[.prefill]?.reason.hasPrefix("ratio guard") == true, "\(String(describing: decisions[.prefill]))")
    }

    @Test func idlePrefillGoesToZeroAndLongPromptsAtDecodeWakeIt() {
        var autoscaler = PoolAutoscaler()
        let pool = spec(prefillMin: 0)
        var now = Duration.seconds(0)
        var prefill = 1
        // Idle: after the 10 s window, 1 → 0.
        while now < .seconds(30), prefill > 0 {
            now += .seconds(1)
            let decisions = autoscaler.decide(
                spec: pool,
                observations: [
                    .prefill: TierObservation(current: prefill, ready: prefill, readings: ["p0": metrics(waiting: 0, running: 0)]),
                    .decode: TierObservation(current: 1, ready: 1, readings: ["d0": metrics(running: 0, kv: 0.5, longPrompts: 7)]),
                ],
                fixed: [:], panic: calm, now: now)
            prefill = decisions[.prefill]?.to ?? prefill
        }
        #expect(prefill == 0)
        #expect(now >= .seconds(10), "went to zero after \(now), before the 10 s window")

        // At zero, no pods: held, until decode counts new long prompts.
        now += .seconds(1)
        let quiet = autoscaler.decide(
            spec: pool,
            observations: [
                .prefill: TierObservation(current: 0, ready: 0, readings: [:]),
                .decode: TierObservation(current: 1, ready: 1, readings: ["d0": metrics(running: 0, kv: 0.5, longPrompts: 7)]),
            ],
            fixed: [:], panic: calm, now: now)
        #expect(quiet[.prefill]?.to == 0)
        now += .seconds(1)
        let woken = autoscaler.decide(
            spec: pool,
            observations: [
                .prefill: TierObservation(current: 0, ready: 0, readings: [:]),
                .decode: TierObservation(current: 1, ready: 1, readings: ["d0": metrics(running: 3, kv: 0.5, longPrompts: 10)]),
            ],
            fixed: [:], panic: calm, now: now)
        #expect(woken[.prefill]?.to == 1)
        #expect(woken[.prefill]?.reason.contains("3 new prompts") == true, "\(String(describing: woken[.prefill]))")
    }

    @Test func busyPrefillDoesNotGoToZero() {
        var autoscaler = PoolAutoscaler()
        var prefill = 1
        for second in 1...30 {
            let decisions = autoscaler.decide(
                spec: spec(prefillMin: 0),
                observations: [.prefill: TierObservation(current: prefill, ready: 1, readings: ["p0": metrics(waiting: 0, running: 1)])],
                fixed: [.decode: 1], panic: calm, now: .seconds(second))
            prefill = decisions[.prefill]?.to ?? prefill
        }
        #expect(prefill == 1)
    }

    @Test func settingsFollowTheSpecAndTheirDefaults() {
        let decode = TierSettings(spec: nil, tier: .decode)
        #expect(decode.targets == .decodeDefault)
        #expect(decode.minReplicas == 1 && decode.maxReplicas == TierSettings.defaultMaxReplicas)
        let zero = TierSettings(spec: AutoscalingSpec(minReplicas: 0), tier: .decode)
        #expect(zero.minReplicas == 1, "decode keeps at least one replica")
        let prefill = TierSettings(spec: AutoscalingSpec(minReplicas: 0, maxReplicas: 3, target: ScalingTarget(runningRequestsPerReplica: 8),
                                                         behavior: TandemAPI.ScalingBehavior(scaleDown: ScalingRules(periodSeconds: 9))), tier: .prefill)
        #expect(prefill.minReplicas == 0 && prefill.maxReplicas == 3)
        #expect(prefill.targets == ScalingTargets(runningRequestsPerReplica: 8))
        #expect(prefill.behavior.scaleDown.periodSeconds == 9)
        #expect(prefill.behavior.scaleDown.stabilizationSeconds == ScalingPolicy.scaleDownDefault.stabilizationSeconds)
    }

    @Test func startUpIsTheMedianOfTheNewestReadyPods() {
        func pod(created: Double, readyAfter: Double?) -> Pod {
            var metadata = ObjectMeta(name: "p\(Int(created))")
            metadata.creationTimestamp = KubeTime(Date(timeIntervalSince1970: created))
            let conditions = readyAfter.map {
                [PodCondition(type: "Ready", status: "True", lastTransitionTime: KubeTime(Date(timeIntervalSince1970: created + $0)))]
            } ?? []
            return Pod(metadata: metadata, status: PodStatus(phase: "Running", conditions: conditions))
        }
        #expect(Autoscaler.startupDelay([]) == nil)
        #expect(Autoscaler.startupDelay([pod(created: 1_000, readyAfter: nil)]) == nil)
        // The five newest count (created 1,600 … 2,000): delays 150, 160, 170, 900, 155 → median 160.
        let pods = [pod(created: 1_000, readyAfter: 10), pod(created: 1_100, readyAfter: 20), pod(created: 1_600, readyAfter: 150),
                    pod(created: 1_700, readyAfter: 160), pod(created: 1_800, readyAfter: 170), pod(created: 1_900, readyAfter: 900),
                    pod(created: 2_000, readyAfter: 155)]
        #expect(Autoscaler.startupDelay(pods) == .seconds(160))
    }

    @Test func capacityIsReadFromPendingPodsAndReplicaFailures() {
        let pending = Pod(metadata: ObjectMeta(name: "p"), status: PodStatus(phase: "Pending", conditions: [
            PodCondition(type: "PodScheduled", status: "False", reason: "Unschedulable", message: "0/3 nodes are available"),
        ]))
        let deployment = Deployment(metadata: ObjectMeta(name: "d"))
        #expect(Autoscaler.capacityLimit(deployment: deployment, pods: [pending]) == .insufficientCapacity("1 pod unschedulable: 0/3 nodes are available"))
        let denied = Deployment(metadata: ObjectMeta(name: "d"), status: DeploymentStatus(conditions: [
            DeploymentCondition(type: "ReplicaFailure", status: "True", reason: "FailedCreate", message: "pods \"d-1\" is forbidden: exceeded quota: gpus"),
        ]))
        #expect(Autoscaler.capacityLimit(deployment: denied, pods: [])?.reason == "QuotaExceeded")
        #expect(Autoscaler.capacityLimit(deployment: deployment, pods: []) == nil)
    }
}

@Suite("ScalingStatus: the autoscaler's part of a pool's status")
struct ScalingStatusTests {
    static let now = KubeTime(Date(timeIntervalSince1970: 1_800_000_000))

    func decision(_ tier: TierName, _ from: Int, _ to: Int, waiting: Double = 3) -> TierScaling {
        TierScaling(tier: tier, from: from, to: to, reason: "because", observed: PodSignals(waiting: waiting), desired: to)
    }

    @Test func signalsAreRefreshedOnlyWhenAllowedOrWhenADecisionChanged() {
        var previous = InferencePoolStatus()
        previous.prefill = TierStatus(metrics: TierMetrics(waitingRequests: 1))
        var status = previous
        ScalingStatus.apply([.prefill: decision(.prefill, 2, 2, waiting: 5)], operated: [.prefill], record: nil, to: &status,
                            previous: previous, refreshSignals: false, generation: 1, now: Self.now)
        #expect(status.prefill?.metrics?.waitingRequests == 1, "a steady decision must not churn the status")
        ScalingStatus.apply([.prefill: decision(.prefill, 2, 2, waiting: 5)], operated: [.prefill], record: nil, to: &status,
                            previous: previous, refreshSignals: true, generation: 1, now: Self.now)
        #expect(status.prefill?.metrics?.waitingRequests == 5)
        #expect(status.conditions?[type: PoolCondition.scalingActive]?.status == .true)
        #expect(status.conditions?[type: ScalingStatus.scalingLimited]?.status == .false)
    }

    @Test func aTierWithoutAnySignalWritesNoMetrics() {
        var status = InferencePoolStatus(prefill: TierStatus(), decode: TierStatus())
        let quiet = TierScaling(tier: .decode, from: 1, to: 1, reason: "no ready pods", observed: PodSignals(), desired: 1)
        ScalingStatus.apply([.decode: quiet], operated: [.decode], record: nil, to: &status,
                            previous: nil, refreshSignals: true, generation: 1, now: Self.now)
        // `metrics: {}` would reach the API server's apply as null and be refused by the schema.
        #expect(status.decode?.metrics == nil)
        #expect(status.decode?.desiredReplicas == 1)
    }

    @Test func limitsAndOutagesBecomeConditions() {
        var status = InferencePoolStatus(prefill: TierStatus(), decode: TierStatus())
        var limited = decision(.prefill, 3, 3)
        limited.capacity = .quotaExceeded("exceeded quota: gpus")
        var blind = decision(.decode, 2, 2)
        blind.metricsUnavailable = "2 of 2 ready pods unreadable"
        ScalingStatus.apply([.prefill: limited, .decode: blind], operated: [.prefill, .decode], record: nil, to: &status,
                            previous: nil, refreshSignals: true, generation: 4, now: Self.now)
        let active = status.conditions?[type: PoolCondition.scalingActive]
        #expect(active?.status == .false && active?.reason == "MetricsUnavailable")
        #expect(active?.message.contains("decode: 2 of 2 ready pods unreadable; size held at 2") == true, "\(String(describing: active))")
        let capped = status.conditions?[type: ScalingStatus.scalingLimited]
        #expect(capped?.status == .true && capped?.reason == "QuotaExceeded")
        #expect(capped?.observedGeneration == 4)
    }

    @Test func splitGivesEachManagerItsOwnFields() {
        var status = InferencePoolStatus(observedGeneration: 3, conditions: [Condition(type: "Ready", status: .true, reason: "r", message: "m")])
        status.prefill = TierStatus(replicas: 2, metrics: TierMetrics(waitingRequests: 1), lastScaleTime: Self.now)
        status.scalingHistory = [ScalingRecord(time: Self.now, tier: .prefill, from: 1, to: 2, reason: "x")]
        let parts = ScalingStatus.split(status)
        #expect(parts.reconciler.scalingHistory == nil && parts.reconciler.prefill?.metrics == nil)
        #expect(parts.reconciler.prefill?.replicas == 2 && parts.reconciler.conditions?.count == 1)
        #expect(parts.autoscaler.scalingHistory?.count == 1 && parts.autoscaler.prefill?.metrics?.waitingRequests == 1)
        #expect(parts.autoscaler.prefill?.replicas == nil && parts.autoscaler.conditions == nil)
        #expect(ScalingStatus.split(nil).autoscaler == InferencePoolStatus())
    }
}
