import Autoscaling
import Sizing
import Synchronization
import TandemAPI
import Testing

@testable import Simulation
import KubeCore

/// A pool of Llama-3.1-8B on H100 (one GPU per replica), both tiers autoscaled.
enum PoolFixtures {
    static func spec(
        maxReplicas: Int32 = 8, behavior: TandemAPI.ScalingBehavior? = nil, threshold: Int32? = nil
    ) -> InferencePoolSpec {
        let autoscaling = AutoscalingSpec(mode: .operator, minReplicas: 1, maxReplicas: maxReplicas, behavior: behavior)
        return InferencePoolSpec(
            model: "meta-llama/Llama-3.1-8B-Instruct", accelerator: "nvidia-h100",
            prefillConfig: TierConfig(autoscaling: autoscaling), decodeConfig: TierConfig(autoscaling: autoscaling),
            scheduler: threshold.map { SchedulerSpec(disaggregationThreshold: $0) })
    }

    /// Short windows so a test sees scaling within minutes.
    static let quickBehavior = TandemAPI.ScalingBehavior(
        scaleUp: ScalingRules(stabilizationSeconds: 0, maxReplicasPerStep: 4, periodSeconds: 5),
        scaleDown: ScalingRules(stabilizationSeconds: 20, maxReplicasPerStep: 1, periodSeconds: 10))

    static func simulation(spec: InferencePoolSpec = spec(), options: PoolSimulation.Options = .init()) throws -> PoolSimulation {
        try PoolSimulation(spec: spec, options: options)
    }

    /// Requests every `gap`, from `start` to `end`.
    static func evenly(from start: Double, to end: Double, every gap: Double, prompt: Int, output: Int) -> [PlannedRequest] {
        var plan: [PlannedRequest] = []
        var t = start
        while t < end {
            plan.append(PlannedRequest(at: .nanoseconds(Int64(t * 1e9)), promptTokens: prompt, outputTokens: output))
            t += gap
        }
        return plan
    }
}

/// Wraps a policy and keeps every observation it was given.
struct RecordingPolicy: AutoscalingPolicy {
    final class Log: Sendable {
        let observations = Mutex<[TierObservation]>([])
    }

    var inner: PoolAutoscaler
    let log: Log

    var name: String { "recording" }

    mutating func decide(
        spec: InferencePoolSpec, observations: [TierName: TierObservation], fixed: [TierName: Int], now: Duration
    ) -> [TierName: TierScaling] {
        log.observations.withLock { $0 += TierName.allCases.compactMap { observations[$0] } }
        return inner.decide(spec: spec, observations: observations, fixed: fixed, now: now)
    }
}

@Suite struct PoolSimulatorTests {
    @Test func sameInputsGiveTheSameReport() throws {
        let simulation = try PoolFixtures.simulation(
            spec: PoolFixtures.spec(behavior: PoolFixtures.quickBehavior),
            options: .init(startup: StartupDelayModel(base: .seconds(10), perGiB: .zero)))
        let plan = ArrivalSchedule.generate(
            pattern: .burst, rate: 4, duration: .seconds(120), promptTokens: 2_000, outputTokens: 32, seed: 7)
        let first = simulation.run(plan: plan, policy: PoolAutoscaler())
        let second = simulation.run(plan: plan, policy: PoolAutoscaler())
        #expect(first == second)
        #expect(first.completedCount == plan.count)

        let trace = PoolFixtures.evenly(from: 0, to: 30, every: 0.5, prompt: 300, output: 10)
        #expect(RequestPlan.interleaved(trace, copies: 3, seed: 5) == RequestPlan.interleaved(trace, copies: 3, seed: 5))
        #expect(RequestPlan.interleaved(trace, copies: 3, seed: 5).count == 3 * trace.count)
        #expect(RequestPlan.interleaved(trace, copies: 3, seed: 5) != RequestPlan.interleaved(trace, copies: 3, seed: 6))
    }

    @Test func lightLoadTimeToFirstTokenIsTheUnloadedPath() throws {
        let simulation = try PoolFixtures.simulation()
        let prefill = simulation.tiers[.prefill]!.stepTime
        let decode = simulation.tiers[.decode]!.stepTime
        // One request every 10 s: every engine is idle when a request arrives.
        var plan = PoolFixtures.evenly(from: 1, to: 100, every: 10, prompt: 1_024, output: 8)
        plan += PoolFixtures.evenly(from: 6, to: 100, every: 10, prompt: 50, output: 8)
        let report = simulation.run(plan: plan, policy: PoolAutoscaler())
        let remote = (prefill.prefillTime(tokens: 1_024) + simulation.transferTime(promptTokens: 1_024)
            + decode.prefillTime(tokens: 1_024, cachedTokens: 1_023)).inSeconds
        let local = decode.prefillTime(tokens: 50).inSeconds
        #expect(report.completedCount == plan.count)
        for request in report.requests {
            let ttft = try #require(request.timeToFirstToken).inSeconds
            let expected = request.promptTokens == 1_024 ? remote : local
            #expect(request.disaggregated == (request.promptTokens == 1_024))
            #expect(abs(ttft / expected - 1) < 0.02, "TTFT \(ttft) s, closed form \(expected) s")
        }
        #expect(report.sloAttainment == 1)
    }

    @Test(arguments: [(2_048, 64), (128, 256)])
    func saturatedThroughputIsTheTiersCapacity(prompt: Int, output: Int) throws {
        var options = PoolSimulation.Options(policyTiers: [], drainLimit: .seconds(5))
        options.initialReplicas = [.prefill: 1, .decode: 1]
        let simulation = try PoolFixtures.simulation(options: options)
        let prefillEngine = EngineSimulator(configuration: simulation.tiers[.prefill]!.configuration, stepTime: simulation.tiers[.prefill]!.stepTime)
        let decodeEngine = EngineSimulator(configuration: simulation.tiers[.decode]!.configuration, stepTime: simulation.tiers[.decode]!.stepTime)
        let capacity = min(
            prefillEngine.estimatedCapacity(promptTokens: prompt, outputTokens: 1),
            decodeEngine.estimatedCapacity(promptTokens: prompt, outputTokens: output))
        // Three times the capacity for 60 s; count completions from 20 s to 60 s.
        let plan = PoolFixtures.evenly(from: 0, to: 60, every: 1 / (3 * capacity), prompt: prompt, output: output)
        let report = simulation.run(plan: plan, policy: PoolAutoscaler())
        let done = report.requests.filter { request in
            guard request.completed, let finished = request.finished else { return false }
            return finished > .seconds(20) && finished <= .seconds(60)
        }.count
        let throughput = Double(done) / 40
        #expect(abs(throughput / capacity - 1) < 0.10, "throughput \(throughput)/s, capacity \(capacity)/s (prefill \(prefillEngine.estimatedCapacity(promptTokens: prompt, outputTokens: 1)), decode \(decodeEngine.estimatedCapacity(promptTokens: prompt, outputTokens: output)))")
        #expect(report.scaleEvents.isEmpty)
    }

    @Test func theTimelineCarriesTheSignalsThePolicySaw() throws {
        var options = PoolSimulation.Options(policyTiers: [], drainLimit: .seconds(5))
        options.initialReplicas = [.prefill: 1, .decode: 1]
        let simulation = try PoolFixtures.simulation(options: options)
        // Far over one prefill replica's capacity: a queue of prompts builds up.
        let plan = PoolFixtures.evenly(from: 0, to: 30, every: 0.02, prompt: 2_048, output: 4)
        let report = simulation.run(plan: plan, policy: PoolAutoscaler())
        let rows = report.timelineCSV().split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
        #expect(rows.first?.joined(separator: ",") == "time_s,tier,desired,ready,pending,waiting,running,prompt_tokens_in_flight")
        let prefill = rows.dropFirst().filter { $0[1] == "prefill" }
        #expect(prefill.allSatisfy { $0.count == 8 })
        let at20 = try #require(prefill.first { Double($0[0]) == 20 })
        let waiting = Int(at20[5]) ?? 0, running = Int(at20[6]) ?? 0, tokens = Int(at20[7]) ?? 0
        #expect(waiting > 100, "\(at20)")
        #expect(running >= 1)
        // Every prompt in flight is 2,048 tokens; the one in prefill may be partly done.
        #expect(tokens > 2_048 * (waiting + running - 1) && tokens <= 2_048 * (waiting + running), "\(at20)")
    }

    @Test func tandemScalesUpAfterTheStepAndDownAfterIt() throws {
        let simulation = try PoolFixtures.simulation(
            spec: PoolFixtures.spec(maxReplicas: 6, behavior: PoolFixtures.quickBehavior),
            options: .init(startup: StartupDelayModel(base: .seconds(5), perGiB: .zero)))
        // Long prompts, short outputs: prefill is the busy tier. 2/s, then 20/s, then 2/s.
        var plan = PoolFixtures.evenly(from: 0, to: 60, every: 0.5, prompt: 4_000, output: 16)
        plan += PoolFixtures.evenly(from: 60, to: 120, every: 0.05, prompt: 4_000, output: 16)
        plan += PoolFixtures.evenly(from: 120, to: 240, every: 0.5, prompt: 4_000, output: 16)
        let report = simulation.run(plan: plan, policy: PoolAutoscaler())
        let prefillEvents = report.scaleEvents.filter { $0.tier == .prefill }
        let ups = prefillEvents.filter { $0.to > $0.from }
        let downs = prefillEvents.filter { $0.to < $0.from }
        #expect(ups.allSatisfy { $0.time > .seconds(60) && $0.time <= .seconds(125) }, "\(ups.map(\.time))")
        #expect(!ups.isEmpty)
        #expect(!downs.isEmpty)
        #expect(downs.allSatisfy { $0.time > .seconds(120) }, "\(downs.map(\.time))")
        #expect(report.peakReplicas(.prefill).ready > 1)
        let last = try #require(report.timeline.last { $0.tier == .prefill })
        #expect(last.desired < report.peakReplicas(.prefill).desired)
        #expect(report.completedCount == plan.count)
    }

    @Test func fullClusterLeavesReplicasPendingAndSaysSo() throws {
        let log = RecordingPolicy.Log()
        let simulation = try PoolFixtures.simulation(
            spec: PoolFixtures.spec(maxReplicas: 6, behavior: PoolFixtures.quickBehavior),
            options: .init(startup: StartupDelayModel(base: .seconds(5), perGiB: .zero), gpuCapacity: 3))
        let plan = PoolFixtures.evenly(from: 0, to: 90, every: 0.04, prompt: 4_000, output: 16)
        let report = simulation.run(plan: plan, policy: RecordingPolicy(inner: PoolAutoscaler(), log: log))
        let limited = log.observations.withLock { $0.filter { $0.capacity != nil } }
        #expect(!limited.isEmpty)
        if case .insufficientCapacity(let message)? = limited.first?.capacity {
            #expect(message.contains("pending"))
        } else {
            Issue.record("expected insufficientCapacity, got \(String(describing: limited.first?.capacity))")
        }
        #expect(report.timeline.contains { $0.pending > 0 })
        // Never more placed than the 3 GPUs (one per replica).
        var placed: [Duration: Int] = [:]
        for point in report.timeline { placed[point.time, default: 0] += point.desired - point.pending }
        #expect(placed.values.allSatisfy { $0 <= 3 }, "\(placed.values.max() ?? 0) placed")
        // No further scale-up of prefill once its pods are pending.
        let firstPending = try #require(report.timeline.first { $0.tier == .prefill && $0.pending > 0 }).time
        #expect(report.scaleEvents.allSatisfy { $0.tier != .prefill || $0.to <= $0.from || $0.time <= firstPending })
    }
}
