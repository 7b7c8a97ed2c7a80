import Autoscaling
import Foundation
import TandemAPI
import Testing

@testable import Simulation

/// A synthetic pool: every pod of a tier is ready at once and shares the tier's load evenly,
/// so adding replicas lowers each pod's numbers (a closed loop, as in a real pool).
private struct SyntheticLoad {
    /// Requests waiting, summed over the tier.
    var waiting: Double = 0
    /// Pods' worth of used KV cache, summed over the tier (each pod saturates at 1).
    var kv: Double = 0
    /// Prompt tokens in flight (waiting for or in prefill), summed over the tier.
    var inFlightTokens: Double = 0
    /// Prompt tokens queued, summed over the tier.
    var queuedTokens: Double = 0

    func observation(replicas: Int, ready: Int? = nil) -> TierObservation {
        let ready = ready ?? replicas
        var readings: [String: PodReading] = [:]
        var load: [String: PodLoad] = [:]
        let share = Double(max(ready, 1))
        for index in 0..<ready {
            let pod = "pod-\(index)"
            readings[pod] = .metrics(PodMetrics(signals: PodSignals(
                waiting: waiting / share, running: 1, kvCacheUtilization: min(1, kv / share))))
            load[pod] = PodLoad(queuedPromptTokens: queuedTokens / share, inFlightPromptTokens: inFlightTokens / share)
        }
        return TierObservation(current: replicas, ready: ready, readings: readings, load: load)
    }
}

/// One round of a run: the time and both tiers' replicas after the decision.
private struct Round {
    var time: Int
    var prefill: Int
    var decode: Int

    func replicas(_ tier: TierName) -> Int { tier == .prefill ? prefill : decode }
}

private let spec = InferencePoolSpec(model: "m")

/// Low load until `start`, high load until `end`, low again until `until`; a round every 5 s.
private func runStep<P: AutoscalingPolicy>(
    _ policy: inout P, low: [TierName: SyntheticLoad], high: [TierName: SyntheticLoad],
    start: Int = 60, end: Int = 960, until: Int = 3_000
) -> [Round] {
    var replicas: [TierName: Int] = [.prefill: 1, .decode: 1]
    var rounds: [Round] = []
    for time in stride(from: 0, to: until, by: 5) {
        let loads = time >= start && time < end ? high : low
        var observations: [TierName: TierObservation] = [:]
        for tier in [TierName.prefill, .decode] {
            observations[tier] = (loads[tier] ?? SyntheticLoad()).observation(replicas: replicas[tier] ?? 1)
        }
        let decisions = policy.decide(spec: spec, observations: observations, fixed: [:], now: .seconds(time))
        for (tier, decision) in decisions { replicas[tier] = decision.to }
        rounds.append(Round(time: time, prefill: replicas[.prefill] ?? 1, decode: replicas[.decode] ?? 1))
    }
    return rounds
}

/// The times at which a tier's replicas changed, with the change.
private func changes(_ rounds: [Round], _ tier: TierName) -> [(time: Int, delta: Int)] {
    var result: [(Int, Int)] = []
    var previous = 1
    for round in rounds {
        let now = round.replicas(tier)
        if now != previous { result.append((round.time, now - previous)) }
        previous = now
    }
    return result
}

private func at(_ rounds: [Round], _ time: Int) -> Round { rounds.last { $0.time <= time } ?? rounds[0] }

@Suite("Baseline policies")
struct PolicyTests {
    // MARK: - static-peak

    @Test func staticPeakNeverChanges() {
        var policy = StaticPeakPolicy(replicas: [.prefill: 3, .decode: 5])
        let rounds = runStep(&policy, low: [.prefill: SyntheticLoad(waiting: 1)], high: [.prefill: SyntheticLoad(waiting: 400, kv: 9)])
        #expect(rounds.allSatisfy { $0.prefill == 3 && $0.decode == 5 })
        #expect(policy.name == "static-peak")
    }

    // MARK: - hpa

    private static let hpaLow: [TierName: SyntheticLoad] = [.prefill: SyntheticLoad(waiting: 2), .decode: SyntheticLoad(kv: 0.4)]
    private static let hpaHigh: [TierName: SyntheticLoad] = [.prefill: SyntheticLoad(waiting: 40), .decode: SyntheticLoad(kv: 4)]

    @Test func hpaScalesUpAfterTheStepAndDownAfterItsWindow() {
        var policy = HPAPolicy()
        let rounds = runStep(&policy, low: Self.hpaLow, high: Self.hpaHigh)
        // Prefill: 40 waiting ÷ 4 per replica = 10 (the pool's default max).
        #expect(at(rounds, 55).prefill == 1)
        #expect(at(rounds, 60).prefill == 5, "first sync after the step: +4 pods (the larger of 4 pods and 100%)")
        #expect(at(rounds, 75).prefill == 10)
        // Decode converges where 4 pods' worth of KV is 0.8 per replica: 5.
        #expect(at(rounds, 955).decode == 5)
        // Down: the highest recommendation of the last 300 s holds the size.
        let lastHighSync = 945
        for tier in [TierName.prefill, .decode] {
            let downs = changes(rounds, tier).filter { $0.delta < 0 }
            #expect(downs.first.map { $0.time >= lastHighSync + 300 } ?? false, "\(tier): \(downs)")
            #expect(at(rounds, lastHighSync + 300 + 15).replicas(tier) == 1, "\(tier) back to min after its window")
        }
    }

    @Test func hpaActsOnlyEverySyncPeriodAndWithinItsPolicies() {
        var policy = HPAPolicy()
        let rounds = runStep(&policy, low: Self.hpaLow, high: Self.hpaHigh)
        for tier in [TierName.prefill, .decode] {
            var previous = 1
            for round in rounds {
                let now = round.replicas(tier)
                if now != previous {
                    #expect(round.time % 15 == 0, "\(tier) changed at \(round.time)s, between syncs")
                    if now > previous { #expect(now - previous <= max(4, previous), "\(tier) grew by \(now - previous) from \(previous)") }
                }
                previous = now
            }
        }
    }

    @Test func hpaToleranceIsTenPercent() {
        func decide(_ waitingPerPod: Double) -> Int {
            var policy = HPAPolicy()
            let observation = SyntheticLoad(waiting: waitingPerPod * 4).observation(replicas: 4)
            return policy.decide(spec: spec, observations: [.prefill: observation], fixed: [:], now: .zero)[.prefill]?.to ?? -1
        }
        #expect(decide(4.3) == 4)  // ratio 1.075: within tolerance
        #expect(decide(3.7) == 4)  // ratio 0.925
        #expect(decide(4.5) == 5)  // ratio 1.125: ceil(4 × 1.125) = 5
        #expect(decide(3.4) == 4)  // ratio 0.85 wants 4 × 0.85 = 3.4 → 4
        #expect(decide(2.9) == 3)  // ratio 0.725 wants ceil(2.9) = 3; a first sync has no window history yet
    }

    @Test func hpaMissingMetricsRules() {
        let controller = HPAController(minReplicas: 1, maxReplicas: 10)
        // 2 pods at 8 (ratio 2), 2 ready pods without metrics count as 0 on the way up: 16 ÷ (4 × 4) = 1 → no change.
        #expect(controller.podMetricReplicas(values: [8, 8], missing: 2, notYetReady: 0, current: 4, target: 4) == 4)
        // 2 pods at 1 (ratio 0.25), missing pods count at the target on the way down: (2 + 8) ÷ 16 → ceil(0.625 × 4) = 3.
        #expect(controller.podMetricReplicas(values: [1, 1], missing: 2, notYetReady: 0, current: 4, target: 4) == 3)
        // Not-ready pods count as 0 on the way up: 2 pods at 12 with 2 starting: 24 ÷ (4 × 4) = 1.5 → 6.
        #expect(controller.podMetricReplicas(values: [12, 12], missing: 0, notYetReady: 2, current: 4, target: 4) == 6)
        // No metric at all: nothing to compute.
        #expect(controller.podMetricReplicas(values: [], missing: 3, notYetReady: 0, current: 3, target: 4) == nil)
        // The policy holds the size then.
        var policy = HPAPolicy()
        let silent = TierObservation(current: 3, ready: 3, readings: ["a": .failed("timeout")])
        let decision = policy.decide(spec: spec, observations: [.decode: silent], fixed: [:], now: .zero)[.decode]
        #expect(decision?.to == 3)
        #expect(decision?.metricsUnavailable != nil)
    }

    // MARK: - keda-llmd

    private static let kedaLow: [TierName: SyntheticLoad] = [
        .prefill: SyntheticLoad(inFlightTokens: 5_000), .decode: SyntheticLoad(kv: 0.4)]
    private static let kedaHigh: [TierName: SyntheticLoad] = [
        .prefill: SyntheticLoad(inFlightTokens: 100_000), .decode: SyntheticLoad(kv: 4)]

    @Test func kedaScalesUpOnePerThreeMinutesAndDownOnePerFive() {
        var policy = KEDALLMDPolicy(peakPrefillThroughput: 10_000)
        let rounds = runStep(&policy, low: Self.kedaLow, high: Self.kedaHigh)
        for tier in [TierName.prefill, .decode] {
            let moves = changes(rounds, tier)
            let ups = moves.filter { $0.delta > 0 }
            let downs = moves.filter { $0.delta < 0 }
            #expect(moves.allSatisfy { abs($0.delta) == 1 }, "\(tier): \(moves)")
            #expect(zip(ups, ups.dropFirst()).allSatisfy { $1.time - $0.time >= 180 }, "\(tier) ups: \(ups)")
            #expect(zip(downs, downs.dropFirst()).allSatisfy { $1.time - $0.time >= 300 }, "\(tier) downs: \(downs)")
            #expect(ups.first?.time == 60, "\(tier) reacts at the first sync after the step")
            // Prefill wants 7 (10 s of backlog ÷ 1.5) and gets one per 180 s: 1 → 6 by 780 s.
            // Decode converges at 5 (4 pods' worth of KV ÷ 0.8) at 600 s.
            #expect(at(rounds, 955).replicas(tier) == (tier == .prefill ? 6 : 5), "\(tier): \(ups)")
            #expect(downs.first.map { $0.time >= 945 + 300 } ?? false, "\(tier) downs: \(downs)")
            #expect(rounds.last?.replicas(tier) == 1, "\(tier) back to 1")
        }
    }

    @Test func kedaMetricsAreTheRecipesQueries() {
        let policy = KEDALLMDPolicy(peakPrefillThroughput: 10_000)
        // 60 000 in-flight tokens over 3 pods at 10 000 tokens/s: 6 s of backlog → ceil(6 ÷ 1.5) = 4.
        let prefill = SyntheticLoad(inFlightTokens: 60_000).observation(replicas: 3)
        #expect(abs(policy.metric(tier: .prefill, observation: prefill) - 6) < 1e-9)
        let controller = HPAController(behavior: KEDALLMDPolicy.recipeBehavior, minReplicas: 1, maxReplicas: 10)
        #expect(controller.externalAverageValueReplicas(total: 6, readyPods: 3, current: 3, target: 1.5) == 4)
        // Within tolerance: 4.7 s over 3 pods is 1.04 per replica of 1.5 → no change.
        #expect(controller.externalAverageValueReplicas(total: 4.7, readyPods: 3, current: 3, target: 1.5) == 3)
        // Decode sums KV usage: 3 pods at 0.9 = 2.7 → ceil(2.7 ÷ 0.8) = 4.
        let decode = SyntheticLoad(kv: 2.7).observation(replicas: 3)
        #expect(abs(policy.metric(tier: .decode, observation: decode) - 2.7) < 1e-9)
    }

    // MARK: - dynamo-load

    private static let dynamoLow: [TierName: SyntheticLoad] = [
        .prefill: SyntheticLoad(queuedTokens: 500), .decode: SyntheticLoad(kv: 0.4)]
    private static let dynamoHigh: [TierName: SyntheticLoad] = [
        .prefill: SyntheticLoad(queuedTokens: 40_000), .decode: SyntheticLoad(kv: 4, queuedTokens: 150_000)]

    private static func dynamo() -> DynamoLoadPolicy { DynamoLoadPolicy(contextLength: 8_192, kvCacheTokensPerReplica: 100_000) }

    @Test func dynamoStepsOnePerIntervalUpAndDown() {
        var policy = Self.dynamo()
        let rounds = runStep(&policy, low: Self.dynamoLow, high: Self.dynamoHigh)
        for tier in [TierName.prefill, .decode] {
            let moves = changes(rounds, tier)
            #expect(moves.allSatisfy { abs($0.delta) == 1 }, "\(tier): \(moves)")
            #expect(zip(moves, moves.dropFirst()).allSatisfy { $1.time - $0.time >= 5 })
            #expect(moves.first?.time == 60)
            #expect(rounds.last?.replicas(tier) == 1)
        }
        // Prefill stops where each engine's queue is below one context (40 000 ÷ 5 < 8 192).
        #expect(at(rounds, 955).prefill == 5)
        // Decode stops where KV in use plus queued fits: at 5, 0.8 + 0.3 = 1.1 > 1; at 6, 0.67 + 0.25 ≤ 1.
        #expect(at(rounds, 955).decode == 6)
        #expect(at(rounds, 1_100).prefill == 1 && at(rounds, 1_100).decode == 1)
    }

    @Test func dynamoThresholds() {
        func decide(_ tier: TierName, _ observation: TierObservation) -> Int {
            var policy = Self.dynamo()
            return policy.decide(spec: spec, observations: [tier: observation], fixed: [:], now: .zero)[tier]?.to ?? -1
        }
        // Prefill: up at a full context queued on one engine, down when all are below a tenth.
        #expect(decide(.prefill, SyntheticLoad(queuedTokens: 8_192 * 2).observation(replicas: 2)) == 3)
        #expect(decide(.prefill, SyntheticLoad(queuedTokens: 8_191 * 2).observation(replicas: 2)) == 2)
        #expect(decide(.prefill, SyntheticLoad(queuedTokens: 819 * 2).observation(replicas: 2)) == 1)
        #expect(decide(.prefill, SyntheticLoad(queuedTokens: 820 * 2).observation(replicas: 2)) == 2)
        // Decode: a full cache alone (1.0) is not above 1.0; queued requests push it over.
        #expect(decide(.decode, SyntheticLoad(kv: 2).observation(replicas: 2)) == 2)
        #expect(decide(.decode, SyntheticLoad(kv: 2, queuedTokens: 2_000).observation(replicas: 2)) == 3)
        #expect(decide(.decode, SyntheticLoad(kv: 1.18).observation(replicas: 2)) == 1)  // 0.59 each
        #expect(decide(.decode, SyntheticLoad(kv: 1.22).observation(replicas: 2)) == 2)  // 0.61 each
        // Never below min_endpoint; observing only while a scale is in progress.
        #expect(decide(.decode, SyntheticLoad(kv: 0).observation(replicas: 1)) == 1)
        #expect(decide(.prefill, SyntheticLoad(queuedTokens: 90_000).observation(replicas: 3, ready: 2)) == 3)
    }

    // MARK: - oracle

    @Test func oracleSizesEachWindowForItsDemand() {
        let requests = [
            OraclePolicy.Request(arrival: .seconds(0), promptTokens: 3_000, outputTokens: 200),
            OraclePolicy.Request(arrival: .seconds(1), promptTokens: 4_000, outputTokens: 400),
            OraclePolicy.Request(arrival: .seconds(6), promptTokens: 12_000, outputTokens: 1_600),
            OraclePolicy.Request(arrival: .seconds(12), promptTokens: 100, outputTokens: 10),
        ]
        let capacity = OraclePolicy.Capacity(prefillTokensPerSecond: 1_000, decodeTokensPerSecond: 100, kvCacheTokensPerReplica: 2_000)
        var oracle = OraclePolicy(requests: requests, capacity: capacity)
        // Window 0: 7 000 prompt tokens ÷ 5 000 = 1.4 → 2; 600 output ÷ 500 = 1.2 → 2.
        // Window 1: 12 000 ÷ 5 000 = 2.4 → 3; 1 600 ÷ 500 = 3.2 → 4. Window 2: the floor, 1 and 1.
        #expect(oracle.plan[.prefill] == [2, 3, 1])
        #expect(oracle.plan[.decode] == [2, 4, 1])
        #expect(oracle.gpuSeconds() == 65)
        let observation = SyntheticLoad().observation(replicas: 1)
        let decisions = oracle.decide(spec: spec, observations: [.prefill: observation, .decode: observation], fixed: [:], now: .seconds(7))
        #expect(decisions[.prefill]?.to == 3 && decisions[.decode]?.to == 4)
        #expect(oracle.replicas(tier: .decode, at: .seconds(100)) == 1)
    }

    @Test func oracleCountsKVResidencyWithASequenceRate() {
        // One request: 1 000 prompt tokens, 100 output at 10 tokens/s → decodes over [0, 10).
        // Window 0: ∫(1000 + 10t)dt over [0,5) = 5 125 → mean 1 025 > 1 000 per replica → 2.
        // Window 1: 5 000 + 5 × (100 − 25) = 5 375 → mean 1 075 → 2. Tokens: 50 ÷ 500 → 1.
        let capacity = OraclePolicy.Capacity(
            prefillTokensPerSecond: 1_000, decodeTokensPerSecond: 100, kvCacheTokensPerReplica: 1_000, decodeTokensPerSecondPerSequence: 10)
        let plan = OraclePolicy.plan(
            requests: [.init(arrival: .zero, promptTokens: 1_000, outputTokens: 100)], capacity: capacity, window: .seconds(5))
        #expect(plan[.decode] == [2, 2])
        #expect(plan[.prefill] == [1, 1])
    }

    // MARK: - parameters

    @Test func everyParameterHasASourceAndIsInTheDocs() throws {
        let docs = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/benchmark-policies.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let tables: [(String, [PolicyParameter])] = [
            ("static-peak", StaticPeakPolicy.parameters), ("hpa", HPAPolicy.parameters),
            ("keda-llmd", KEDALLMDPolicy.parameters), ("dynamo-load", DynamoLoadPolicy.parameters),
            ("oracle", OraclePolicy.parameters),
        ]
        for (policy, parameters) in tables {
            #expect(!parameters.isEmpty)
            for parameter in parameters {
                #expect(!parameter.source.isEmpty, "\(policy): \(parameter.name)")
                #expect(text.contains("| \(parameter.name) | \(parameter.value) |"), "\(policy): \(parameter.name) = \(parameter.value) not in docs")
            }
        }
        // The operator's own defaults, in docs/benchmarks.md.
        let benchmarks = try String(contentsOf: docs.deletingLastPathComponent().appendingPathComponent("benchmarks.md"), encoding: .utf8)
        for parameter in PolicyCatalog.tandemParameters {
            #expect(benchmarks.contains("| \(parameter.name) | \(parameter.value) | \(parameter.source) |"),
                    "tandem: | \(parameter.name) | \(parameter.value) | \(parameter.source) | not in docs/benchmarks.md")
        }
    }
}
