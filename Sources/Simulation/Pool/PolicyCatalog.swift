import Autoscaling
import Foundation
import KubeCore
import Sizing
import TandemAPI

/// Builds any policy the benchmark compares, by name, for one pool simulation setup: the
/// operator's ``Autoscaling/PoolAutoscaler`` (`tandem`) and the five baselines of
/// `Sources/Simulation/Policies` (docs/benchmark-policies.md).
///
/// What a baseline needs from the benchmark is derived from the project's own performance
/// model — the tiers' ``EngineSimulator/estimatedCapacity(promptTokens:outputTokens:cachedPromptTokens:)``,
/// ``StepTimeModel`` and sizing — and from the request plan; nothing is tuned by hand (see
/// ``capacity``, ``staticPeakReplicas`` and ``policy(named:)``).
public struct PolicyCatalog: Sendable {
    /// Every name ``policy(named:)`` knows, in the order the comparison prints them.
    public static let names = ["tandem", "static-peak", "hpa", "keda-llmd", "dynamo-load", "oracle"]

    /// The pool: model, accelerator and each tier's autoscaling bounds.
    public let spec: InferencePoolSpec
    /// Both tiers as sized by ``PoolSimulation/tiers(for:)``.
    public let tiers: [TierName: PoolTierModel]
    /// The load every policy runs.
    public let plan: [PlannedRequest]
    /// The run's options (``options(for:)`` adapts them per policy).
    public let options: PoolSimulation.Options
    /// One replica's capacities, from the performance model (see ``capacity(tiers:plan:)``).
    public let capacity: OraclePolicy.Capacity
    /// The oracle built for ``plan`` and ``capacity``.
    public let oracle: OraclePolicy
    /// When set, every policy but `static-peak` starts with ``demandReplicas`` warm instead of
    /// the options' initial replicas: a pool that was already running at the load's size when
    /// the measured period begins.
    public var warmAtDemand = false

    /// A catalog for a pool whose tiers are already sized.
    /// - Throws: ``PoolSimulationError`` when a tier is missing.
    public init(spec: InferencePoolSpec, tiers: [TierName: PoolTierModel], plan: [PlannedRequest],
                options: PoolSimulation.Options = .init()) throws {
        guard tiers[.prefill] != nil, tiers[.decode] != nil else {
            throw PoolSimulationError("the policy catalog needs both a prefill and a decode tier")
        }
        self.spec = spec
        self.tiers = tiers
        self.plan = plan
        self.options = options
        capacity = Self.capacity(tiers: tiers, plan: plan, slo: options.slo)
        let floors = Dictionary(uniqueKeysWithValues: TierName.allCases.map { ($0, max(1, PolicyMath.specBounds(spec, $0).lowerBound)) })
        oracle = OraclePolicy(
            requests: plan.map { OraclePolicy.Request(arrival: max(.zero, $0.at), promptTokens: $0.promptTokens, outputTokens: $0.outputTokens) },
            capacity: capacity, window: options.interval > .zero ? options.interval : OraclePolicy.defaultWindow, floors: floors)
    }

    /// A catalog for a simulation's pool, tiers and options.
    public init(simulation: PoolSimulation, plan: [PlannedRequest]) throws {
        try self.init(spec: simulation.spec, tiers: simulation.tiers, plan: plan, options: simulation.options)
    }

    /// The capacities of one replica of each tier, from the performance model:
    /// - prefill tokens/s: ``EngineSimulator/estimatedCapacity(promptTokens:outputTokens:cachedPromptTokens:)``
    ///   of a prefill replica for a prompt of exactly `--max-num-batched-tokens` tokens (one
    ///   full chunk per step: the step-time model's best prefill step), × that prompt length;
    /// - the SLO batch: the most sequences a decode replica runs at the mean context (within
    ///   `--max-num-seqs` and its KV cache) whose step time stays within `sloBatchShare` of the
    ///   objective's time per output token (the rest is left for the prompts decode computes
    ///   itself and for batches above the mean);
    /// - decode tokens/s: the smaller of that batch ÷ its step time and `estimatedCapacity` of a
    ///   decode replica for the plan's mean prompt and mean output (prompt prefilled elsewhere),
    ///   × the mean output;
    /// - KV-cache tokens: the decode tier's usable KV blocks × block size;
    /// - tokens/s of one sequence: 1 ÷ the step time of the SLO batch — the TPOT it runs at.
    public static func capacity(tiers: [TierName: PoolTierModel], plan: [PlannedRequest],
                                slo: ServiceLevelObjective = ServiceLevelObjective()) -> OraclePolicy.Capacity {
        let prefill = tiers[.prefill]!
        let decode = tiers[.decode]!
        let meanPrompt = max(1, plan.isEmpty ? 1_024 : plan.reduce(0) { $0 + max(1, $1.promptTokens) } / plan.count)
        let meanOutput = max(2, plan.isEmpty ? 256 : plan.reduce(0) { $0 + max(1, $1.outputTokens) } / plan.count)
        // A full chunk of prompt per prefill step: the rate one prefill replica sustains on long prompts.
        let chunk = prefill.configuration.maxNumBatchedTokens
        let prefillEngine = EngineSimulator(configuration: prefill.configuration, stepTime: prefill.stepTime)
        let prefillTokens = prefillEngine.estimatedCapacity(promptTokens: chunk, outputTokens: 1) * Double(chunk)
        // Mean request shape at the decode tier's batch limits (max-num-seqs, KV cache, token budget).
        let decodeEngine = EngineSimulator(configuration: decode.configuration, stepTime: decode.stepTime)
        let limitsTokens = decodeEngine.estimatedCapacity(promptTokens: meanPrompt, outputTokens: meanOutput) * Double(meanOutput)
        // The decode cache requests may fill (vLLM's null block excluded).
        let kvTokens = decode.configuration.usableBlocks * decode.configuration.blockSize
        let context = meanPrompt + meanOutput / 2
        let batch = sloBatch(decode: decode, context: context, slo: slo)
        let perSequence = 1 / batch.stepSeconds
        return OraclePolicy.Capacity(
            prefillTokensPerSecond: prefillTokens, decodeTokensPerSecond: min(limitsTokens, Double(batch.sequences) * perSequence),
            kvCacheTokensPerReplica: Double(kvTokens), decodeTokensPerSecondPerSequence: perSequence)
    }

    /// The share of the time-per-output-token objective a decode step of the mean batch may take.
    ///
    /// Source: Tandem's choice, not a published figure: a tenth of the budget is left for the
    /// short prompts decode prefills itself and for batches with longer contexts than the mean.
    public static let sloBatchShare = 0.9

    /// The largest decode batch at `context` tokens per sequence whose step time is within
    /// ``sloBatchShare`` of the SLO's time per output token (at least 1 sequence), within
    /// `--max-num-seqs` and the KV cache, with its step time.
    public static func sloBatch(decode: PoolTierModel, context: Int, slo: ServiceLevelObjective) -> (sequences: Int, stepSeconds: Double) {
        let limit = max(1, min(decode.configuration.maxNumSeqs, decode.configuration.usableBlocks / max(1, decode.configuration.blocks(forTokens: context))))
        let budget = sloBatchShare * slo.timePerOutputToken.inSeconds
        func step(_ sequences: Int) -> Double {
            var batch = StepTimeModel.Batch()
            for _ in 0..<sequences { batch.addDecode(context: context) }
            return decode.stepTime.seconds(batch)
        }
        // Step time grows with the batch: the largest batch within the budget, by bisection.
        var low = 1, high = limit
        if step(high) <= budget { low = high }
        while low < high {
            let middle = (low + high + 1) / 2
            if step(middle) <= budget { low = middle } else { high = middle - 1 }
        }
        return (low, step(low))
    }

    /// `static-peak`'s replicas: the oracle's largest count per tier over the plan (the pool
    /// provisioned for the trace's peak), within the tier's `[minReplicas, maxReplicas]`.
    public var staticPeakReplicas: [TierName: Int] { oracleLargest(windows: nil) }

    /// The replicas the load needs as it starts: per tier, the oracle's largest count over the
    /// plan's first ``warmStartSpan``, within the tier's bounds.
    public var demandReplicas: [TierName: Int] {
        oracleLargest(windows: max(1, Int((Self.warmStartSpan.inSeconds / oracle.window.inSeconds).rounded(.up))))
    }

    /// Per tier, the oracle's largest count over its first `windows` windows (all when `nil`;
    /// its floor without a plan), within the tier's `[minReplicas (≥ 1), maxReplicas]`.
    func oracleLargest(windows: Int?) -> [TierName: Int] {
        var replicas: [TierName: Int] = [:]
        for tier in TierName.allCases {
            let bounds = PolicyMath.specBounds(spec, tier)
            let plan = oracle.plan[tier] ?? []
            let largest = (windows.map { Array(plan.prefix($0)) } ?? plan).max() ?? oracle.floors[tier] ?? 1
            replicas[tier] = min(max(largest, bounds.lowerBound, 1), max(1, bounds.upperBound))
        }
        return replicas
    }

    /// How much of the plan's start ``demandReplicas`` covers: one minute, so a pool sized for
    /// its load is not sized for a single 5 s window.
    public static let warmStartSpan = Duration.seconds(60)

    /// Every default of the `tandem` policy (the operator's ``Autoscaling/PoolAutoscaler``), read
    /// from the constants themselves; docs/benchmarks.md prints the same table and `PolicyTests`
    /// checks that the two agree.
    public static var tandemParameters: [PolicyParameter] {
        func number(_ value: Double?) -> String { value.map { String(format: "%g", $0) } ?? "none" }
        let prefill = ScalingTargets.prefillDefault
        let decode = ScalingTargets.decodeDefault
        let up = ScalingPolicy.scaleUpDefault
        let down = ScalingPolicy.scaleDownDefault
        let panic = PanicPolicy.default
        let docs = "docs/autoscaling.md; the source comment of each constant in Sources/Autoscaling/TierRecommender.swift"
        return [
            PolicyParameter(
                name: "interval", value: "\(PoolSimulation.Options().interval.components.seconds) s",
                source: "the operator's --autoscaler-interval default (docs/autoscaling.md)"),
            PolicyParameter(
                name: "prefill target", value: "\(number(prefill.inFlightRequestsPerReplica)) request in flight (running + waiting) per replica",
                source: "\(docs): chosen on the synthetic patterns"),
            PolicyParameter(
                name: "decode targets", value: "\(number(decode.inFlightRequestsPerReplica)) requests in flight and KV-cache usage \(number(decode.kvCacheUtilization)) per replica, the larger wins",
                source: "\(docs): in flight chosen on the synthetic patterns; KV 0.8 from API.md's example"),
            PolicyParameter(
                name: "tolerance", value: "\(number(RecommendationInput(currentReplicas: 0, readyReplicas: 0, pods: [], targets: prefill, minReplicas: 0, maxReplicas: 0).tolerance))",
                source: "Kubernetes HPA's --horizontal-pod-autoscaler-tolerance default"),
            PolicyParameter(
                name: "scale-up", value: "\(up.stabilizationSeconds) s window, at most \(up.maxReplicasPerStep) per \(up.periodSeconds) s, and at most \(number(RecommendationInput.defaultMaxScaleUpRate))× the ready pods",
                source: "HPA's scale-up window and pods policy; the rate cap is Knative's max-scale-up-rate, its value chosen on the synthetic patterns"),
            PolicyParameter(
                name: "scale-down", value: "\(down.stabilizationSeconds) s window over the \(RecommendationInput.defaultAveragingWindow.components.seconds) s mean, at most \(down.maxReplicasPerStep) per \(down.periodSeconds) s",
                source: "HPA's scale-down window; Knative's 60 s stable window; 1 per 60 s from API.md's example"),
            PolicyParameter(
                name: "panic", value: "\(panic.window.components.seconds) s window, \(number(panic.threshold))× the ready pods, over after \(panic.stableWindow.components.seconds) s without a trigger",
                source: "Knative KPA's panic window, threshold and stable window"),
            PolicyParameter(
                name: "look-ahead", value: "\(number(RecommendationInput.defaultTrendShare)) × the tier's start-up along a rising trend of the \(RecommendationInput.defaultAveragingWindow.components.seconds) s window",
                source: "\(docs): chosen on the synthetic patterns, three seeds each"),
        ]
    }

    /// The policy called `name` (one of ``names``).
    ///
    /// - `tandem`: ``Autoscaling/PoolAutoscaler`` with its defaults.
    /// - `static-peak`: ``staticPeakReplicas``.
    /// - `hpa`: ``HPAPolicy`` with its defaults (bounds: the pool's).
    /// - `keda-llmd`: ``KEDALLMDPolicy`` with `peakPrefillThroughput` = ``capacity``'s prefill
    ///   tokens/s; bounds are the pool's `[minReplicas (≥ 1), maxReplicas]` instead of the
    ///   recipe's 1–10, so every policy has the same ceiling.
    /// - `dynamo-load`: ``DynamoLoadPolicy`` with the prefill engine's `--max-model-len` as the
    ///   context length and ``capacity``'s KV-cache tokens per decode replica.
    /// - `oracle`: ``oracle``.
    /// - Throws: ``PoolSimulationError`` for an unknown name.
    public func policy(named name: String) throws -> any AutoscalingPolicy {
        switch name {
        case "tandem":
            return PoolAutoscaler()
        case "static-peak":
            return StaticPeakPolicy(replicas: staticPeakReplicas)
        case "hpa":
            return HPAPolicy()
        case "keda-llmd":
            // The recipe's ScaledObjects cap at 10; the pool's maxReplicas is the common ceiling here.
            let lower = max(1, PolicyMath.specBounds(spec, .prefill).lowerBound, PolicyMath.specBounds(spec, .decode).lowerBound)
            let upper = max(lower, PolicyMath.specBounds(spec, .prefill).upperBound, PolicyMath.specBounds(spec, .decode).upperBound)
            return KEDALLMDPolicy(peakPrefillThroughput: capacity.prefillTokensPerSecond, bounds: lower...upper)
        case "dynamo-load":
            // context_length: the engine's --max-model-len, as Dynamo reads it from the worker.
            let contextLength = Double(tiers[.prefill]!.configuration.maxModelLen)
            return DynamoLoadPolicy(
                contextLength: contextLength, kvCacheTokensPerReplica: capacity.kvCacheTokensPerReplica,
                gpusPerReplica: tiers.mapValues(\.gpusPerReplica))
        case "oracle":
            return oracle
        default:
            throw PoolSimulationError("unknown policy \(name); one of \(Self.names.joined(separator: ", "))")
        }
    }

    /// The options a policy runs with: ``options`` (with ``demandReplicas`` when
    /// ``warmAtDemand``), except that `static-peak` starts with its
    /// replicas already warm (a static pool is provisioned before the load arrives) and the
    /// `oracle`'s replicas start in no time (it is the bound that ignores start-up delay).
    public func options(for name: String) -> PoolSimulation.Options {
        var adapted = options
        if warmAtDemand {
            for (tier, count) in demandReplicas { adapted.initialReplicas[tier] = count }
        }
        if name == "static-peak" {
            for (tier, count) in staticPeakReplicas { adapted.initialReplicas[tier] = count }
        }
        if name == "oracle" {
            adapted.startup = StartupDelayModel(base: .zero, perGiB: .zero)
        }
        return adapted
    }

    /// One run of the policy called `name` on ``plan``, in a simulation of `accelerator`.
    /// - Throws: ``PoolSimulationError`` for an unknown name.
    public func run(_ name: String, accelerator: Accelerator) throws -> SimulationReport {
        let simulation = PoolSimulation(spec: spec, tiers: tiers, accelerator: accelerator, options: options(for: name))
        return simulation.run(plan: plan, policy: try policy(named: name))
    }

    /// One row of ``comparisonTable(_:)``: a policy's report and the wall time of its run.
    public struct Run: Sendable {
        /// What the run measured.
        public var report: SimulationReport
        /// Wall-clock seconds the run took.
        public var wallSeconds: Double

        /// A run's report and wall time.
        public init(report: SimulationReport, wallSeconds: Double) {
            self.report = report
            self.wallSeconds = wallSeconds
        }
    }

    /// A Markdown table comparing runs on the same plan: SLO attainment, TTFT and TPOT p50/p99,
    /// goodput, GPU-hours, GPU-hours ÷ the `oracle` run's (`-` without one), scale events and
    /// wall time.
    public static func comparisonTable(_ runs: [Run]) -> String {
        let oracleHours = runs.first { $0.report.policy == "oracle" }?.report.gpuHours
        func ms(_ value: Double) -> String { value.isNaN ? "-" : String(format: "%.0f", value * 1000) }
        var lines = [
            "| policy | SLO met | TTFT p50 / p99 ms | TPOT p50 / p99 ms | goodput req/s | GPU-h | ÷ oracle | scale events | wall s |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for run in runs {
            let report = run.report
            let ttft = report.timeToFirstTokenPercentiles
            let tpot = report.timePerOutputTokenPercentiles
            let ratio = oracleHours.map { $0 > 0 ? String(format: "%.2f", report.gpuHours / $0) : "-" } ?? "-"
            lines.append(String(
                format: "| %@ | %.1f %% | %@ / %@ | %@ / %@ | %.2f | %.1f | %@ | %d | %.1f |",
                report.policy, report.sloAttainment * 100, ms(ttft[0]), ms(ttft[2]), ms(tpot[0]), ms(tpot[2]),
                report.goodput, report.gpuHours, ratio, report.scaleEvents.count, run.wallSeconds))
        }
        return lines.joined(separator: "\n")
    }
}
