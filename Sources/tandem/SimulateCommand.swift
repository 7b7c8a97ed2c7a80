import ArgumentParser
import Autoscaling
import Foundation
import Simulation
import Sizing
import TandemAPI
import KubeCore

/// `tandem simulate`: one pool, a load, an autoscaling policy, in virtual time.
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Simulate one InferencePool (prefill and decode tiers) under a load with an autoscaling policy.",
        discussion: """
            Deterministic and in virtual time: each replica is the project's engine model (docs/simulation.md), \
            the policy decides every --interval from the same signals the operator reads. Prints SLO attainment, \
            TTFT/TPOT percentiles, goodput, GPU-hours and scale events (docs/benchmarks.md).
            """)

    @Option(name: .shortAndLong, help: "An InferencePool manifest (the first pool is simulated).")
    var file: String?

    @Option(help: "Hugging Face model id when no manifest is given.")
    var model: String = "meta-llama/Llama-3.1-70B-Instruct"

    @Option(help: "Accelerator catalog name (when the pool names none).")
    var accelerator: String = "nvidia-h200"

    @Option(help: "maxReplicas of each tier whose autoscaling block sets none.")
    var maxReplicas: Int?

    @Option(help: "A trace CSV in the Azure LLM inference trace's format (TIMESTAMP,ContextTokens,GeneratedTokens).")
    var trace: String?

    @Option(help: "Interleave this many copies of the trace, each shifted by a seeded offset under 60 s (docs/benchmarks.md).")
    var rateScale: Int = 1

    @Option(help: "At most this many trace rows (before scaling).")
    var limit: Int?

    @Option(help: "steady, step, burst, diurnal or surge (prompts ×4 in the middle third) (without --trace).")
    var pattern: String = "steady"

    @Option(help: "Requests per second (without --trace).")
    var rate: Double = 5

    @Option(help: "Seconds of load (without --trace).")
    var duration: Double = 600

    @Option(help: "Prompt tokens per request (without --trace).")
    var promptTokens: Int = 1_024

    @Option(help: "Output tokens per request (without --trace).")
    var outputTokens: Int = 256

    @Option(help: "Seed of the arrivals and of the trace copies' offsets.")
    var seed: UInt64 = 1

    @Option(help: "The autoscaling policy: tandem, static-peak, hpa, keda-llmd, dynamo-load, oracle, or all (every one on the same load, one comparison table).")
    var policy: String = "tandem"

    @Option(help: "Seconds between autoscaling rounds.")
    var interval: Double = 5

    @Option(help: "GPUs the pool may use in all (default: unlimited).")
    var gpus: Int?

    @Option(help: "Seconds a placed replica takes before loading weights.")
    var startupBase: Double?

    @Option(help: "Seconds per GiB of weights each device loads.")
    var startupPerGib: Double?

    @Option(help: "Prefill replicas at the start (default: the spec's replicas, else minReplicas, else 1).")
    var prefillReplicas: Int?

    @Option(help: "Decode replicas at the start (default: the spec's replicas, else minReplicas, else 1).")
    var decodeReplicas: Int?

    @Flag(help: "Start every policy (but static-peak, at its own counts) with the replicas the load needs in its first minute (the oracle's largest count then), as a pool already running when the measured period begins; overrides --prefill-replicas and --decode-replicas.")
    var warmAtDemand = false

    @Option(help: "Write the per-tier replica timeline (time_s,tier,desired,ready,pending,waiting,running,prompt_tokens_in_flight) to this CSV file (with --policy all: one per policy, the policy's name before the extension).")
    var timelineCsv: String?

    func run() throws {
        var spec = try poolSpec()
        for tier in TierName.allCases {
            var config = spec.config(tier)
            var autoscaling = config.autoscaling ?? AutoscalingSpec()
            if autoscaling.maxReplicas == nil, let maxReplicas { autoscaling.maxReplicas = Int32(maxReplicas) }
            config.autoscaling = autoscaling
            if tier == .prefill { spec.prefillConfig = config } else { spec.decodeConfig = config }
        }
        var options = PoolSimulation.Options(interval: .milliseconds(Int64(interval * 1000)), gpuCapacity: gpus, seed: seed)
        if let startupBase { options.startup.base = .milliseconds(Int64(startupBase * 1000)) }
        if let startupPerGib { options.startup.perGiB = .milliseconds(Int64(startupPerGib * 1000)) }
        if let prefillReplicas { options.initialReplicas[.prefill] = prefillReplicas }
        if let decodeReplicas { options.initialReplicas[.decode] = decodeReplicas }
        let simulation: PoolSimulation
        do {
            simulation = try PoolSimulation(spec: spec, options: options)
        } catch {
            throw CLIFailure("\(error)")
        }
        let names = policy == "all" ? PolicyCatalog.names : [policy]
        guard names.allSatisfy(PolicyCatalog.names.contains) else {
            throw ValidationError("--policy must be one of \(PolicyCatalog.names.joined(separator: ", ")), or all")
        }
        let plan = try requestPlan()
        var catalog: PolicyCatalog
        do {
            catalog = try PolicyCatalog(simulation: simulation, plan: plan)
            catalog.warmAtDemand = warmAtDemand
        } catch {
            throw CLIFailure("\(error)")
        }
        for tier in TierName.allCases {
            let model = simulation.tiers[tier]!
            print(String(
                format: "%@: %d GPUs/replica (TP %d), --max-num-seqs %d, --max-num-batched-tokens %d, --max-model-len %d, %d KV tokens, start-up %.0f s",
                tier.rawValue, model.gpusPerReplica, model.sizing.tensorParallelSize.value, model.configuration.maxNumSeqs,
                model.configuration.maxNumBatchedTokens, model.configuration.maxModelLen, model.sizing.kvCacheTokens ?? 0,
                Double(simulation.startupDelay(tier).components.seconds)))
        }
        let capacity = catalog.capacity
        print(String(
            format: "performance model, one replica: prefill %.0f prompt tokens/s, decode %.0f tokens/s (%.1f per sequence), %.0f KV tokens",
            capacity.prefillTokensPerSecond, capacity.decodeTokensPerSecond, capacity.decodeTokensPerSecondPerSequence ?? 0,
            capacity.kvCacheTokensPerReplica))
        if names.contains("static-peak") || names.contains("oracle") {
            let peak = catalog.staticPeakReplicas
            print(String(
                format: "oracle: %.2f GPU-hours by its formula; static-peak: %d prefill, %d decode (the oracle's peak)",
                catalog.oracle.gpuSeconds(gpusPerReplica: simulation.tiers.mapValues(\.gpusPerReplica)) / 3600,
                peak[.prefill] ?? 0, peak[.decode] ?? 0))
        }
        if warmAtDemand {
            let warm = catalog.demandReplicas
            print("warm at demand: every policy but static-peak starts with \(warm[.prefill] ?? 0) prefill, \(warm[.decode] ?? 0) decode ready")
        }
        var runs: [PolicyCatalog.Run] = []
        for name in names {
            let start = ContinuousClock.now
            let report = try catalog.run(name, accelerator: simulation.accelerator)
            let wall = ContinuousClock.now - start
            let wallSeconds = wall.inSeconds
            runs.append(PolicyCatalog.Run(report: report, wallSeconds: wallSeconds))
            print(report.table())
            print(String(format: "wall time %.2f s (%.0f simulated requests/s)", wallSeconds, Double(plan.count) / max(wallSeconds, 1e-9)))
            if let timelineCsv {
                try report.timelineCSV().write(toFile: timelineFile(timelineCsv, policy: name, suffixed: names.count > 1),
                                               atomically: true, encoding: .utf8)
            }
        }
        if names.count > 1 {
            print()
            print(PolicyCatalog.comparisonTable(runs))
        }
    }

    /// `path`, or with `-policy` before its extension when several policies write timelines.
    func timelineFile(_ path: String, policy: String, suffixed: Bool) -> String {
        guard suffixed else { return path }
        let url = URL(fileURLWithPath: path)
        let ext = url.pathExtension
        let base = ext.isEmpty ? url : url.deletingPathExtension()
        let named = base.deletingLastPathComponent().appendingPathComponent(base.lastPathComponent + "-" + policy)
        return ext.isEmpty ? named.path : named.appendingPathExtension(ext).path
    }

    func poolSpec() throws -> InferencePoolSpec {
        guard let file else {
            let autoscaling = AutoscalingSpec(mode: .operator, minReplicas: 1)
            return InferencePoolSpec(
                model: model, accelerator: accelerator, prefillConfig: TierConfig(autoscaling: autoscaling),
                decodeConfig: TierConfig(autoscaling: autoscaling))
        }
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
        let pools: [InferencePool]
        do {
            pools = try Manifest.pools(from: String(decoding: data, as: UTF8.self))
        } catch {
            throw CLIFailure("\(file): \(error)")
        }
        guard var spec = pools.first?.spec else { throw CLIFailure("\(file): no InferencePool with a spec") }
        if spec.accelerator == nil { spec.accelerator = accelerator }
        return spec
    }

    func requestPlan() throws -> [PlannedRequest] {
        if let trace {
            let rows = try ArrivalSchedule.trace(csv: String(contentsOfFile: trace, encoding: .utf8), limit: limit)
            return RequestPlan.interleaved(rows, copies: max(1, rateScale), seed: seed)
        }
        return try SyntheticLoad.plan(
            pattern: pattern, rate: rate, seconds: duration, promptTokens: promptTokens, outputTokens: outputTokens, seed: seed)
    }
}
