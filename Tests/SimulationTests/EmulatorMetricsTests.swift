import Testing

@testable import Simulation

/// The `/metrics` text and the metrics fault switch of the emulated server (no network).
@Suite struct EmulatorMetricsTextTests {
    static let cache = VLLMMetricsText.CacheConfig(blockSize: 16, numGPUBlocks: 1_000, gpuMemoryUtilization: 0.9)

    @Test func tokenHistogramsAreRenderedWithVLLMsNamesLabelsAndBuckets() {
        var metrics = EngineMetrics(maxModelLen: 8_192)
        for prompt in [3, 150, 150, 7_000, 9_000] { metrics.requestPromptTokens.observe(Double(prompt)) }
        metrics.requestGenerationTokens.observe(1)
        let text = VLLMMetricsText.render(metrics, modelName: "m", cache: Self.cache)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.contains("# HELP vllm:request_prompt_tokens Number of prefill tokens processed."))
        #expect(lines.contains("# TYPE vllm:request_prompt_tokens histogram"))
        #expect(lines.contains("# TYPE vllm:request_generation_tokens histogram"))
        let buckets = lines.filter { $0.hasPrefix("vllm:request_prompt_tokens_bucket{") }
        #expect(buckets == [
            (1, 0), (2, 0), (5, 1), (10, 1), (20, 1), (50, 1), (100, 1), (200, 3), (500, 3), (1_000, 3), (2_000, 3),
            (5_000, 3),
        ].map { #"vllm:request_prompt_tokens_bucket{engine="0",le="\#($0.0).0",model_name="m"} \#($0.1).0"# }
            + [#"vllm:request_prompt_tokens_bucket{engine="0",le="+Inf",model_name="m"} 5.0"#])
        #expect(lines.contains(#"vllm:request_prompt_tokens_sum{engine="0",model_name="m"} 16303.0"#))
        #expect(lines.contains(#"vllm:request_prompt_tokens_count{engine="0",model_name="m"} 5.0"#))
        #expect(lines.contains(#"vllm:request_generation_tokens_bucket{engine="0",le="1.0",model_name="m"} 1.0"#))
        #expect(lines.contains(#"vllm:request_generation_tokens_count{engine="0",model_name="m"} 1.0"#))
    }

    @Test func numbersArePrintedAsPrometheusClientPrintsThem() {
        let cases: [(Double, String)] = [
            (0, "0.0"), (12, "12.0"), (0.001, "0.001"), (1e-05, "1e-05"), (2.5, "2.5"), (100_000, "100000.0"),
            (131_072, "131072.0"), (999_999, "999999.0"), (1_000_000, "1e+06"), (2_000_000, "2e+06"),
            (1_234_567.5, "1.2345675e+06"), (12_345_678_901, "1.2345678901e+10"), (.infinity, "+Inf"), (.nan, "NaN"),
        ]
        for (value, printed) in cases {
            #expect(VLLMMetricsText.format(value) == printed, "\(value)")
        }
    }
}

@Suite struct MetricsFaultTests {
    @Test func theAnnotationNamesTheFault() {
        let key = MetricsFault.annotation
        #expect(key == "emulator.tandem.x-k8s.io/fault")
        #expect(MetricsFault(annotations: nil) == .none)
        #expect(MetricsFault(annotations: ["other": "hang"]) == .none)
        #expect(MetricsFault(annotations: [key: "garbage"]) == .garbage)
        #expect(MetricsFault(annotations: [key: "hang"]) == .hang)
        #expect(MetricsFault(annotations: [key: "error"]) == .error)
        #expect(MetricsFault(annotations: [key: "none"]) == .none)
        #expect(MetricsFault(annotations: [key: "Hang"]) == .none)
        #expect(MetricsFault.isKnown(annotations: [key: "Hang"]) == false)
        #expect(MetricsFault.isKnown(annotations: [key: ""]))
        #expect(MetricsFault.isKnown(annotations: nil))
    }

    /// Waits (a bounded number of yields) until `condition` holds.
    static func until(_ condition: () -> Bool) async -> Bool {
        for _ in 0..<10_000 {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(1))
        }
        return condition()
    }

    @Test func onlyHangHoldsAndAnyOtherFaultReleases() async {
        let faults = MetricsFaultSwitch()
        #expect(await faults.gate() == .serve(.none))
        for fault in [MetricsFault.garbage, .error, .none] {
            faults.set(fault)
            #expect(await faults.gate() == .serve(fault))
        }
        faults.set(.hang)
        let held = Task { await faults.gate() }
        #expect(await Self.until { faults.heldRequests == 1 })
        faults.set(.hang)  // the same fault again: still held
        #expect(faults.heldRequests == 1)
        faults.set(.garbage)
        #expect(await held.value == .serve(.garbage))
        #expect(faults.heldRequests == 0)
    }

    @Test func stallAfterHeadersLetsTheHeadGoAndHoldsTheBodyUntilTheFaultChanges() async {
        #expect(MetricsFault(annotations: [MetricsFault.annotation: "stall-after-headers"]) == .stallAfterHeaders)
        let faults = MetricsFaultSwitch()
        faults.set(.stallAfterHeaders)
        #expect(await faults.gate() == .serve(.stallAfterHeaders))  // not held: the head goes out
        let stalled = Task { await faults.stall() }
        #expect(await Self.until { faults.heldRequests == 1 })
        faults.set(.none)
        await stalled.value
        #expect(faults.heldRequests == 0)
    }

    @Test func stoppingReleasesEveryHeldRequestAndHoldsNoMore() async {
        let faults = MetricsFaultSwitch()
        faults.set(.hang)
        let held = (0..<5).map { _ in Task { await faults.gate() } }
        #expect(await Self.until { faults.heldRequests == 5 })
        faults.stop()
        for request in held { #expect(await request.value == .stopping) }
        #expect(await faults.gate() == .stopping)
        #expect(faults.heldRequests == 0)
    }

    @Test func aCancelledRequestIsLetGo() async {
        let faults = MetricsFaultSwitch()
        faults.set(.hang)
        let held = Task { await faults.gate() }
        #expect(await Self.until { faults.heldRequests == 1 })
        held.cancel()
        #expect(await held.value == .stopping)
        #expect(faults.heldRequests == 0)
    }
}
