import Sizing
import Testing

@testable import Simulation

@Suite struct EngineHistogramTests {
    /// The bucket lists exactly as VLLM-METRICS.md prints them.
    static let documented = [
        "0.001 0.005 0.01 0.02 0.04 0.06 0.08 0.1 0.25 0.5 0.75 1 2.5 5 7.5 10 20 40 80 160 640 2560",
        "0.01 0.025 0.05 0.075 0.1 0.15 0.2 0.3 0.4 0.5 0.75 1 2.5 5 7.5 10 20 40 80",
        "0.3 0.5 0.8 1 1.5 2 2.5 5 10 15 20 30 40 50 60 120 240 480 960 1920 7680",
    ]

    static func parse(_ line: String) -> [Double] { line.split(separator: " ").map { Double(String($0))! } }

    @Test func bucketsMatchVLLM() {
        #expect(Histogram.timeToFirstTokenBounds == Self.parse(Self.documented[0]))
        #expect(Histogram.interTokenLatencyBounds == Self.parse(Self.documented[1]))
        #expect(Histogram.requestLatencyBounds == Self.parse(Self.documented[2]))
        let metrics = EngineMetrics()
        #expect(metrics.timeToFirstToken.upperBounds == Histogram.timeToFirstTokenBounds)
        #expect(metrics.interTokenLatency.upperBounds == Histogram.interTokenLatencyBounds)
        #expect(metrics.e2eRequestLatency.upperBounds == Histogram.requestLatencyBounds)
        #expect(metrics.requestQueueTime.upperBounds == Histogram.requestLatencyBounds)
    }

    @Test func valuesOnABoundCountInThatBucketAndCountsAccumulate() {
        var histogram = Histogram(upperBounds: [0.1, 1, 10])
        for value in [0.05, 0.1, 0.5, 1, 20] { histogram.observe(value) }
        histogram.observe(Duration.milliseconds(2_500))
        #expect(histogram.bucketCounts == [2, 2, 1, 1])
        #expect(histogram.cumulativeCounts == [2, 4, 5, 6])
        #expect(histogram.count == 6)
        #expect(abs(histogram.sum - 24.15) < 1e-12)
    }
}

/// `vllm:request_prompt_tokens` and `vllm:request_generation_tokens`: vLLM's 1-2-5 buckets up to
/// `--max-model-len`, one observation per finished request, on every role.
@Suite struct EngineTokenHistogramTests {
    @Test func bucketsFollowVLLMsOneTwoFiveRule() {
        // vLLM's own docstring example: build_1_2_5_buckets(100) == [1, 2, 5, 10, 20, 50, 100].
        #expect(Histogram.tokenCountBounds(maxModelLen: 100) == [1, 2, 5, 10, 20, 50, 100])
        #expect(Histogram.tokenCountBounds(maxModelLen: 8_192) == [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000])
        #expect(Histogram.tokenCountBounds(maxModelLen: 131_072).last == 100_000)
        #expect(Histogram.tokenCountBounds(maxModelLen: 131_072).count == 16)
        #expect(Histogram.tokenCountBounds(maxModelLen: 1) == [1])
        #expect(Histogram.tokenCountBounds(maxModelLen: 0).isEmpty)
        // No overflow: 1, 2, 5 × 10⁰…10¹⁸ fit in Int (5e18 < Int.max ≈ 9.2e18); 1e19 does not.
        #expect(Histogram.tokenCountBounds(maxModelLen: .max).count == 3 * 19)
        #expect(Histogram.tokenCountBounds(maxModelLen: .max).last == 5e18)
        let metrics = EngineMetrics(maxModelLen: 4_096)
        #expect(metrics.requestPromptTokens.upperBounds.last == 2_000)
        #expect(metrics.requestGenerationTokens.upperBounds == metrics.requestPromptTokens.upperBounds)
    }

    @Test func theEmulatorsEngineTakesItsBucketsFromMaxModelLen() throws {
        let sizing = try TierSizer().size(TierSizingRequest(
            tier: .decode, model: EngineFixtures.llama8B, accelerator: EngineFixtures.h100,
            args: try EngineArgs(["--max-model-len=16384"])))
        let configuration = try #require(EngineConfiguration(sizing: sizing))
        #expect(configuration.maxModelLen == 16_384)
        let engine = EngineSimulator(configuration: configuration, stepTime: EngineFixtures.stepTime)
        #expect(engine.metrics.requestPromptTokens.upperBounds == Histogram.tokenCountBounds(maxModelLen: 16_384))
        #expect(engine.metrics.requestPromptTokens.upperBounds.last == 10_000)
    }

    /// One request of `prompt` tokens asking for 5, run to its end on an engine of `role`.
    static func finishedOne(role: EngineRole, prompt: Int = 300, uncached: Int = 1) -> (EngineMetrics, [SimEvent]) {
        var engine = EngineFixtures.engine(role: role, kvCacheTokens: 8_192)
        engine.submit(SimRequest(id: 1, promptTokens: prompt, maxOutputTokens: 5, uncachedPromptTokens: uncached), at: .zero)
        let events = EngineFixtures.drain(&engine)
        return (engine.metrics, events)
    }

    @Test(arguments: [
        (EngineRole.both, 1, 5), (.prefill, 1, 1),
        (.decode, 1, 5),  // KV from a prefill peer: the whole prompt still counts
        (.decode, 300, 5),  // no peer: the decode server prefills it itself
    ])
    func eachRoleObservesTheWholePromptOnce(role: EngineRole, uncached: Int, generated: Int) {
        let (metrics, _) = Self.finishedOne(role: role, uncached: uncached)
        #expect(metrics.requestPromptTokens.count == 1)
        #expect(metrics.requestPromptTokens.sum == 300)
        let bounds = metrics.requestPromptTokens.upperBounds
        #expect(metrics.requestPromptTokens.cumulativeCounts[bounds.firstIndex(of: 200)!] == 0)
        #expect(metrics.requestPromptTokens.cumulativeCounts[bounds.firstIndex(of: 500)!] == 1)
        #expect(metrics.requestGenerationTokens.count == 1)
        #expect(metrics.requestGenerationTokens.sum == Double(generated))
    }

    @Test func observedWhenTheRequestFinishesNotAtItsFirstToken() {
        var engine = EngineFixtures.engine(kvCacheTokens: 8_192)
        engine.submit(SimRequest(id: 1, promptTokens: 40, maxOutputTokens: 50), at: .zero)
        let first = EngineFixtures.stepTime.prefillTime(tokens: 40)
        _ = engine.advance(to: first)
        #expect(engine.metrics.timeToFirstToken.count == 1)
        #expect(engine.metrics.requestPromptTokens.count == 0)
        _ = EngineFixtures.drain(&engine)
        #expect(engine.metrics.requestPromptTokens.count == 1)
        #expect(engine.metrics.requestGenerationTokens.sum == 50)
    }

    @Test func aDecodeServerWithoutAPeerPrefillsTheWholePromptItself() {
        // uncached == prompt: what the emulator submits when no prefill peer took the prompt.
        let (local, localEvents) = Self.finishedOne(role: .decode, prompt: 3_000, uncached: 3_000)
        let (_, aggregatedEvents) = Self.finishedOne(role: .both, prompt: 3_000, uncached: 3_000)
        let (_, remoteEvents) = Self.finishedOne(role: .decode, prompt: 3_000, uncached: 1)
        func firstToken(_ events: [SimEvent]) -> Duration? {
            events.compactMap { if case .firstToken(_, let at) = $0 { at } else { nil } }.first
        }
        #expect(firstToken(localEvents) == firstToken(aggregatedEvents), "a local prefill costs what an aggregated server's does")
        #expect(firstToken(localEvents) == EngineFixtures.stepTime.prefillTime(tokens: 3_000))
        #expect(firstToken(remoteEvents)! < firstToken(localEvents)!)
        #expect(local.requestSuccessTotal[.length] == 1)
        #expect(local.requestPromptTokens.sum == 3_000)
    }
}
