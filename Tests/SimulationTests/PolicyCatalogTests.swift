import Autoscaling
import Sizing
import TandemAPI
import Testing

@testable import Simulation

/// Every benchmark policy built by name and run on one short load.
@Suite struct PolicyCatalogTests {
    /// Llama-3.1-8B on H100, 1–8 replicas per tier, a step from 4 to 12 req/s over four minutes.
    static func catalog() throws -> (PolicyCatalog, PoolSimulation) {
        let simulation = try PoolFixtures.simulation(options: .init(initialReplicas: [.prefill: 1, .decode: 1]))
        let plan = ArrivalSchedule.generate(
            pattern: .step, rate: 4, duration: .seconds(240), promptTokens: 1_024, outputTokens: 128, seed: 1)
        return (try PolicyCatalog(simulation: simulation, plan: plan), simulation)
    }

    @Test func everyNameBuildsAndUnknownOnesDoNot() throws {
        let (catalog, _) = try Self.catalog()
        for name in PolicyCatalog.names {
            #expect(try catalog.policy(named: name).name == name)
        }
        #expect(throws: PoolSimulationError.self) { try catalog.policy(named: "nope") }
    }

    @Test func theOracleStartsInNoTimeAndRunsDecodeAtTheSLOBatch() throws {
        let (catalog, simulation) = try Self.catalog()
        #expect(catalog.options(for: "oracle").startup.delay(weightsBytesPerDevice: 1 << 40) == .zero)
        #expect(catalog.options(for: "tandem").startup == simulation.options.startup)
        // The SLO batch: the largest whose step fits 90 % of the TPOT objective.
        let decode = simulation.tiers[.decode]!
        let slo = ServiceLevelObjective()
        let batch = PolicyCatalog.sloBatch(decode: decode, context: 1_088, slo: slo)
        let budget = PolicyCatalog.sloBatchShare * slo.timePerOutputToken.inSeconds
        #expect(batch.stepSeconds <= budget)
        if batch.sequences < decode.configuration.maxNumSeqs {
            var bigger = StepTimeModel.Batch()
            for _ in 0...batch.sequences { bigger.addDecode(context: 1_088) }
            #expect(decode.stepTime.seconds(bigger) > budget)
        }
        #expect(abs((catalog.capacity.decodeTokensPerSecondPerSequence ?? 0) - 1 / PolicyCatalog.sloBatch(
            decode: decode, context: 1_024 + 128 / 2, slo: slo).stepSeconds) < 1e-9)
    }

    @Test func warmAtDemandStartsEveryPolicyButStaticPeakAtTheFirstMinutesNeed() throws {
        var (catalog, _) = try Self.catalog()
        let first = catalog.demandReplicas
        for tier in TierName.allCases {
            #expect(first[tier] == max(1, catalog.oracle.plan[tier]!.prefix(12).max()!))
        }
        #expect(catalog.options(for: "tandem").initialReplicas == [.prefill: 1, .decode: 1])
        catalog.warmAtDemand = true
        #expect(catalog.options(for: "tandem").initialReplicas == first)
        #expect(catalog.options(for: "hpa").initialReplicas == first)
        #expect(catalog.options(for: "static-peak").initialReplicas == catalog.staticPeakReplicas)
    }

    @Test func capacitiesComeFromThePerformanceModel() throws {
        let (catalog, simulation) = try Self.catalog()
        let capacity = catalog.capacity
        let prefill = simulation.tiers[.prefill]!
        let chunk = prefill.configuration.maxNumBatchedTokens
        let engine = EngineSimulator(configuration: prefill.configuration, stepTime: prefill.stepTime)
        #expect(capacity.prefillTokensPerSecond == engine.estimatedCapacity(promptTokens: chunk, outputTokens: 1) * Double(chunk))
        #expect(capacity.prefillTokensPerSecond > 1_000)
        #expect(capacity.decodeTokensPerSecond > 100)
        #expect(capacity.kvCacheTokensPerReplica > 0)
        #expect((capacity.decodeTokensPerSecondPerSequence ?? 0) > 1)
        let peak = catalog.staticPeakReplicas
        #expect(peak[.prefill]! == catalog.oracle.plan[.prefill]!.max()! || peak[.prefill]! == 8)
        #expect(peak[.decode]! == catalog.oracle.plan[.decode]!.max()! || peak[.decode]! == 8)
    }

    @Test func everyPolicyRunsAndTheOracleIsCheapest() throws {
        let (catalog, simulation) = try Self.catalog()
        var reports: [String: SimulationReport] = [:]
        for name in PolicyCatalog.names {
            let report = try catalog.run(name, accelerator: simulation.accelerator)
            #expect(report.policy == name)
            #expect(report.requestCount == catalog.plan.count)
            #expect(report.completedCount > 0, "\(name) completed nothing")
            #expect(report.gpuHours > 0)
            reports[name] = report
        }
        let oracle = reports["oracle"]!.gpuHours
        for name in ["tandem", "hpa", "keda-llmd", "dynamo-load", "static-peak"] {
            #expect(oracle <= reports[name]!.gpuHours, "\(name): \(reports[name]!.gpuHours) GPU-h < oracle's \(oracle)")
        }
        let staticPeak = reports["static-peak"]!
        #expect(staticPeak.scaleEvents.isEmpty)
        for point in staticPeak.timeline {
            #expect(point.desired == catalog.staticPeakReplicas[point.tier])
        }
        let table = PolicyCatalog.comparisonTable(PolicyCatalog.names.map { PolicyCatalog.Run(report: reports[$0]!, wallSeconds: 0) })
        #expect(table.split(separator: "\n").count == 2 + PolicyCatalog.names.count)
        #expect(table.contains("| oracle |") && table.contains("| 1.00 |"))
    }
}
