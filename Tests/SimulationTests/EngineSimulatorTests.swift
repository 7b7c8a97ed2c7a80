import Sizing
import Testing

@testable import Simulation
import KubeCore

/// Fixtures shared by the engine tests: Llama-3.1-8B on one H100.
enum EngineFixtures {
    static let llama8B = ModelCatalog.builtIn.profile(for: "meta-llama/Llama-3.1-8B-Instruct")!
    static let h100 = AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h100")!
    static let stepTime = StepTimeModel(model: llama8B, accelerator: h100, tensorParallel: 1)

    static func engine(
        role: EngineRole = .both, maxNumSeqs: Int = 256, maxNumBatchedTokens: Int = 8_192,
        kvCacheTokens: Int = 200_000, tokenEvents: Bool = false
    ) -> EngineSimulator {
        EngineSimulator(
            configuration: EngineConfiguration(
                role: role, maxNumSeqs: maxNumSeqs, maxNumBatchedTokens: maxNumBatchedTokens,
                kvCacheTokens: kvCacheTokens, recordsTokenEvents: tokenEvents),
            stepTime: stepTime)
    }

    /// Runs until nothing is left, returning every event.
    static func drain(_ engine: inout EngineSimulator) -> [SimEvent] {
        var events: [SimEvent] = []
        while let next = engine.nextEventTime { events += engine.advance(to: next) }
        return events
    }
}

extension SimEvent {
    var engineEventTime: Duration {
        switch self {
        case .firstToken(_, let at), .token(_, let at), .finished(_, let at, _, _), .preempted(_, let at): at
        }
    }
}

@Suite struct EngineSimulatorTests {
    let model = EngineFixtures.stepTime

    @Test func singleRequestTimesEqualTheFormula() {
        var engine = EngineFixtures.engine(tokenEvents: true)
        let start = Duration.seconds(1)
        engine.submit(SimRequest(id: 7, promptTokens: 512, maxOutputTokens: 8), at: start)
        let events = EngineFixtures.drain(&engine)

        var expected: [SimEvent] = []
        var time = start + model.prefillTime(tokens: 512)
        expected.append(.firstToken(id: 7, at: time))
        for generated in 1..<8 {  // the decode step producing token g+1 reads prompt + g tokens
            time += model.decodeStepTime(batch: 1, contextTokens: 512 + generated)
            expected.append(.token(id: 7, at: time))
        }
        expected.append(.finished(id: 7, at: time, outputTokens: 8, reason: .length))
        #expect(events == expected)

        let metrics = engine.metrics
        #expect(metrics.timeToFirstToken.count == 1)
        #expect(metrics.timeToFirstToken.sum == model.prefillTime(tokens: 512).inSeconds)
        #expect(metrics.requestQueueTime.sum == 0)
        #expect(metrics.interTokenLatency.count == 7)
        #expect(metrics.e2eRequestLatency.sum == (time - start).inSeconds)
        #expect(metrics.promptTokensTotal == 512)
        #expect(metrics.generationTokensTotal == 8)
        #expect(metrics.requestSuccessTotal == [.length: 1])
        #expect(metrics.running == 0 && metrics.waiting == 0 && metrics.kvCacheUsage == 0)
        #expect(engine.isIdle && engine.nextEventTime == nil)
    }

    @Test func decodeStepAtBatchOneIsAlphaPlusBeta() {
        let seconds = model.decodeStepTime(batch: 1, contextTokens: 600).inSeconds
        #expect(abs(seconds - (model.decodeIntercept + model.decodeSlope(contextTokens: 600))) < 1e-9)
    }

    @Test func longPromptsArePrefilledInChunks() {
        var engine = EngineFixtures.engine(maxNumBatchedTokens: 1_024)
        engine.submit(SimRequest(id: 1, promptTokens: 3_000, maxOutputTokens: 1), at: .zero)
        let events = EngineFixtures.drain(&engine)
        var chunks = [StepTimeModel.Batch(), StepTimeModel.Batch(), StepTimeModel.Batch()]
        chunks[0].addPrefill(tokens: 1_024, cached: 0)
        chunks[1].addPrefill(tokens: 1_024, cached: 1_024)
        chunks[2].addPrefill(tokens: 952, cached: 2_048)
        let ttft = chunks.map(model.duration).reduce(.zero, +)
        #expect(events.first == .firstToken(id: 1, at: ttft))
        #expect(ttft > model.prefillTime(tokens: 3_000))  // three weight reads instead of one
    }

    @Test func prefixCacheHitsSkipComputeAndAreCounted() {
        var engine = EngineFixtures.engine()
        engine.submit(SimRequest(id: 1, promptTokens: 2_048, cachedPromptTokens: 1_536, maxOutputTokens: 2), at: .zero)
        let events = EngineFixtures.drain(&engine)
        #expect(events.first == .firstToken(id: 1, at: model.prefillTime(tokens: 2_048, cachedTokens: 1_536)))
        #expect(model.prefillTime(tokens: 2_048, cachedTokens: 1_536) < model.prefillTime(tokens: 2_048))
        #expect(engine.metrics.prefixCacheQueriesTotal == 2_048)
        #expect(engine.metrics.prefixCacheHitsTotal == 1_536)
    }

    @Test func stopBeforeTheLimitFinishesWithStop() {
        var engine = EngineFixtures.engine()
        engine.submit(SimRequest(id: 1, promptTokens: 100, maxOutputTokens: 50, stopAfterTokens: 5), at: .zero)
        engine.submit(SimRequest(id: 2, promptTokens: 100, maxOutputTokens: 5), at: .zero)
        let finished = EngineFixtures.drain(&engine).compactMap { event -> Int? in
            if case .finished(let id, _, 5, let reason) = event { return reason == .stop ? id : -id }
            return nil
        }
        #expect(finished.sorted() == [-2, 1])
        #expect(engine.metrics.requestSuccessTotal == [.stop: 1, .length: 1])
    }

    @Test func requestsArrivingDuringAStepWaitForTheNext() {
        var engine = EngineFixtures.engine()
        engine.submit(SimRequest(id: 1, promptTokens: 512, maxOutputTokens: 4), at: .zero)
        let firstStep = model.prefillTime(tokens: 512)
        engine.submit(SimRequest(id: 2, promptTokens: 512, maxOutputTokens: 4), at: firstStep / 2)
        _ = engine.advance(to: firstStep / 2)
        #expect(engine.metrics.waiting == 1 && engine.metrics.running == 1)
        #expect(engine.nextEventTime == firstStep)
        let events = engine.advance(to: firstStep)
        #expect(events == [.firstToken(id: 1, at: firstStep)])
        #expect(engine.metrics.waiting == 0 && engine.metrics.running == 2)  // admitted into the next step
        var mixed = StepTimeModel.Batch()
        mixed.addDecode(context: 513)
        mixed.addPrefill(tokens: 512, cached: 0)
        #expect(engine.nextEventTime == firstStep + model.duration(mixed))
        #expect(engine.metrics.requestQueueTime.sum == (firstStep / 2).inSeconds)
    }

    @Test func futureArrivalsMayBeSubmittedInAnyOrder() {
        var engine = EngineFixtures.engine()
        engine.submit(SimRequest(id: 3, promptTokens: 100, maxOutputTokens: 1), at: .seconds(3))
        engine.submit(SimRequest(id: 1, promptTokens: 100, maxOutputTokens: 1), at: .seconds(1))
        engine.submit(SimRequest(id: 2, promptTokens: 100, maxOutputTokens: 1), at: .seconds(2))
        #expect(engine.nextEventTime == .seconds(1))
        #expect(engine.advance(to: .milliseconds(999)).isEmpty && engine.metrics.waiting == 0)
        let prefill = model.prefillTime(tokens: 100)
        let firstTokens = EngineFixtures.drain(&engine).compactMap { event -> SimEvent? in
            if case .firstToken = event { return event } else { return nil }
        }
        #expect(firstTokens == (1...3).map { .firstToken(id: $0, at: .seconds($0) + prefill) })
    }

    @Test func belowCapacityTheQueueStaysEmptyAboveItGrows() throws {
        let sizing = try TierSizer().size(
            TierSizingRequest(tier: .decode, model: EngineFixtures.llama8B, accelerator: EngineFixtures.h100))
        let configuration = try #require(EngineConfiguration(sizing: sizing, role: .both))
        let stepTime = StepTimeModel(sizing: sizing, model: EngineFixtures.llama8B, accelerator: EngineFixtures.h100)
        let capacity = EngineSimulator(configuration: configuration, stepTime: stepTime)
            .estimatedCapacity(promptTokens: 512, outputTokens: 128)
        print("capacity of Llama-3.1-8B on H100 (max-num-seqs \(configuration.maxNumSeqs), 512 in / 128 out): \(capacity) requests/s")
        #expect(capacity > 5 && capacity < 200)

        func run(rate: Double) -> (waiting: [Int], finished: Int) {
            var engine = EngineSimulator(configuration: configuration, stepTime: stepTime)
            let gap = Duration(engineSeconds: 1 / rate)
            var arrival = Duration.zero
            var id = 0
            while arrival < .seconds(60) {
                engine.submit(SimRequest(id: id, promptTokens: 512, maxOutputTokens: 128), at: arrival)
                arrival += gap
                id += 1
            }
            var waiting: [Int] = []
            var finished = 0
            for second in 1...60 {
                finished += engine.advance(to: .seconds(second)).filter {
                    if case .finished = $0 { return true } else { return false }
                }.count
                waiting.append(engine.metrics.waiting)
            }
            return (waiting, finished)
        }
        let light = run(rate: capacity / 2)
        let heavy = run(rate: capacity * 2)
        print("at 0.5× capacity: waiting at 15/30/60 s \(light.waiting[14])/\(light.waiting[29])/\(light.waiting[59]), finished \(light.finished)")
        print("at 2× capacity: waiting at 15/30/60 s \(heavy.waiting[14])/\(heavy.waiting[29])/\(heavy.waiting[59]), finished \(heavy.finished)")
        #expect(light.waiting.max()! <= 2)
        #expect(Double(light.finished) > 0.9 * 60 * capacity / 2)
        #expect(heavy.waiting[14] > 100)
        #expect(heavy.waiting[29] > heavy.waiting[14] + 100)
        #expect(heavy.waiting[59] > heavy.waiting[29] + 100)
        // Throughput saturates near the estimate.
        #expect(Double(heavy.finished) < 1.2 * 60 * capacity)
        #expect(Double(heavy.finished) > 0.6 * 60 * capacity)
    }

    @Test func kvExhaustionPreemptsTheNewestAndRecomputes() {
        // 33 blocks (32 usable) of 16 tokens; four requests each growing to 17 blocks.
        var engine = EngineFixtures.engine(kvCacheTokens: 33 * 16)
        for id in 0..<4 { engine.submit(SimRequest(id: id, promptTokens: 64, maxOutputTokens: 200), at: .zero) }
        var events: [SimEvent] = []
        var maxUsage = 0.0
        while let next = engine.nextEventTime {
            events += engine.advance(to: next)
            maxUsage = max(maxUsage, engine.metrics.kvCacheUsage)
        }
        let preempted = events.filter { if case .preempted = $0 { return true } else { return false } }
        #expect(!preempted.isEmpty)
        #expect(engine.metrics.preemptionsTotal == preempted.count)
        if case .preempted(let id, _) = preempted[0] { #expect(id == 3) }  // the newest goes first
        let finished = events.compactMap { event -> Int? in
            if case .finished(_, _, let tokens, .length) = event { return tokens } else { return nil }
        }
        #expect(finished == [200, 200, 200, 200])
        #expect(engine.metrics.generationTokensTotal == 800)
        #expect(maxUsage <= 1 && maxUsage > 0.9)
        #expect(engine.metrics.kvCacheUsage == 0)
        #expect(events.map(\.engineEventTime) == events.map(\.engineEventTime).sorted())
    }

    @Test func promptsLargerThanTheWholeCacheAreAborted() {
        var engine = EngineFixtures.engine(kvCacheTokens: 1_024)
        engine.submit(SimRequest(id: 1, promptTokens: 5_000, maxOutputTokens: 4), at: .zero)
        engine.submit(SimRequest(id: 2, promptTokens: 100, maxOutputTokens: 4), at: .zero)
        let events = EngineFixtures.drain(&engine)
        #expect(events.first == .finished(id: 1, at: .zero, outputTokens: 0, reason: .abort))
        #expect(events.last.map { if case .finished(2, _, 4, .length) = $0 { true } else { false } } == true)
    }

    @Test func prefillRoleEndsAfterTheFirstToken() {
        var engine = EngineFixtures.engine(role: .prefill, tokenEvents: true)
        for id in 0..<3 { engine.submit(SimRequest(id: id, promptTokens: 1_000, maxOutputTokens: 100), at: .zero) }
        let events = EngineFixtures.drain(&engine)
        var batch = StepTimeModel.Batch()
        for _ in 0..<3 { batch.addPrefill(tokens: 1_000, cached: 0) }
        let end = model.duration(batch)
        #expect(
            events == (0..<3).flatMap {
                [SimEvent.firstToken(id: $0, at: end), .finished(id: $0, at: end, outputTokens: 1, reason: .length)]
            })
        #expect(engine.metrics.generationTokensTotal == 3)
        #expect(engine.metrics.interTokenLatency.count == 0)
        #expect(engine.metrics.kvCacheUsage == 0)
    }

    @Test func decodeRoleSkipsPrefillComputeButHoldsThePromptsBlocks() {
        var engine = EngineFixtures.engine(role: .decode, kvCacheTokens: 16 * 1_001)
        engine.submit(SimRequest(id: 1, promptTokens: 4_000, maxOutputTokens: 3, uncachedPromptTokens: 1), at: .zero)
        let first = engine.advance(to: .zero)
        #expect(first.isEmpty)
        #expect(engine.metrics.kvCacheUsage == 250.0 / 1_000)  // 4,000 prompt tokens = 250 blocks
        var step = StepTimeModel.Batch()
        step.addPrefill(tokens: 1, cached: 3_999)
        let ttft = model.duration(step)
        let events = EngineFixtures.drain(&engine)
        #expect(events.first == .firstToken(id: 1, at: ttft))
        #expect(ttft < model.prefillTime(tokens: 4_000) / 4)
        #expect(ttft < model.decodeStepTime(batch: 2, contextTokens: 4_000))
        #expect(engine.metrics.promptTokensTotal == 4_000)
    }

    @Test func sameInputsGiveTheSameEvents() {
        func run() -> ([SimEvent], EngineMetrics) {
            var engine = EngineFixtures.engine(maxNumSeqs: 64, maxNumBatchedTokens: 2_048, kvCacheTokens: 40_000)
            var state: UInt64 = 42
            func next() -> UInt64 {  // SplitMix64
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                return z ^ (z >> 31)
            }
            var time = Duration.zero
            for id in 0..<500 {
                time += .microseconds(Int64(next() % 40_000))
                engine.submit(
                    SimRequest(
                        id: id, promptTokens: Int(64 + next() % 2_000), cachedPromptTokens: Int(next() % 64),
                        maxOutputTokens: Int(1 + next() % 300)),
                    at: time)
            }
            return (EngineFixtures.drain(&engine), engine.metrics)
        }
        let (events, metrics) = run()
        let (again, metricsAgain) = run()
        #expect(events == again)
        #expect(metrics == metricsAgain)
        #expect(metrics.requestsFinished == 500)
        #expect(metrics.preemptionsTotal > 0)
    }

    @Test func thousandsOfConcurrentRequests() {
        var engine = EngineFixtures.engine(maxNumSeqs: 1_024, maxNumBatchedTokens: 8_192, kvCacheTokens: 2_000_000)
        for id in 0..<5_000 {
            engine.submit(SimRequest(id: id, promptTokens: 200, maxOutputTokens: 100), at: .milliseconds(id))
        }
        _ = engine.advance(to: .seconds(30))
        #expect(engine.metrics.running == 1_024)
        #expect(engine.metrics.waiting > 1_000)
        _ = EngineFixtures.drain(&engine)
        let metrics = engine.metrics
        #expect(metrics.requestsFinished == 5_000)
        #expect(metrics.generationTokensTotal == 500_000)
        #expect(metrics.promptTokensTotal == 1_000_000)
        #expect(metrics.interTokenLatency.count == 5_000 * 99)
        #expect(metrics.e2eRequestLatency.count == 5_000 && metrics.requestQueueTime.count == 5_000)
    }
}
