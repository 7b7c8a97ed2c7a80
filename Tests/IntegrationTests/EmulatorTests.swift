import AsyncHTTPClient
import Foundation
import KubeTestSupport
import NIOCore
import Simulation
import Sizing
import Synchronization
import Testing

/// Emulated model servers on loopback addresses, checked with real clients.
@Suite("Emulated vLLM server")
struct EmulatorTests {
    static let h100 = AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h100")!
    static let args = ["--model=meta-llama/Llama-3.1-8B-Instruct", "--port=8000"]

    func server(
        _ address: String, role: EngineRole, threshold: Int = 100, configure: (inout EmulatorConfiguration) -> Void = { _ in }
    ) async throws -> EmulatedModelServer {
        var configuration = try EmulatorConfiguration.make(
            args: Self.args, accelerator: Self.h100, devices: 1, role: role, disaggregationThreshold: threshold)
        configure(&configuration)
        return try await EmulatedModelServer.start(configuration, address: address, port: Int.random(in: 20_000..<30_000))
    }

    func complete(_ http: HTTPClient, _ base: String, words: Int, tag: String, maxTokens: Int = 2) async throws -> String {
        var request = HTTPClientRequest(url: base + "/v1/completions")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let prompt = (0..<words).map { "\(tag)\($0)" }.joined(separator: " ")
        request.body = .bytes(ByteBuffer(string: #"{"model":"meta-llama/Llama-3.1-8B-Instruct","prompt":"\#(prompt)","max_tokens":\#(maxTokens)}"#))
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
        #expect(response.status == .ok, "\(body)")
        return body
    }

    @Test func realOpenAIClientAndPrometheusParser() async throws {
        let emulator = try await server("127.1.0.77", role: .both)
        let result = try await Script.exec(["python3", Script.projectRoot + "/hack/check-emulator.py",
                                      "http://127.1.0.77:\(emulator.port)", "meta-llama/Llama-3.1-8B-Instruct"])
        await emulator.stop()
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("all checks passed"), "\(result.output)")
    }

    @Test func refusesWhatThePinnedVLLMRefuses() {
        #expect(throws: EmulatorError.self) {
            try EmulatorConfiguration.make(args: Self.args + ["--disable-log-requests"], accelerator: Self.h100, devices: 1, role: .both)
        }
        #expect { try EmulatorConfiguration.make(args: ["--model=meta-llama/Llama-3.1-70B-Instruct"], accelerator: Self.h100, devices: 1, role: .decode) }
            throws: { "\($0)".contains("cannot start") }
    }

    @Test func disaggregationThresholdBoundary() async throws {
        let prefill = try await server("127.1.0.78", role: .prefill)
        let decode = try await server("127.1.0.79", role: .decode, threshold: 100)
        let http = HTTPClient()
        func promptTokensOnPrefill() async throws -> Double {
            let response = try await http.execute(HTTPClientRequest(url: "http://127.1.0.78:\(prefill.port)/metrics"), timeout: .seconds(30))
            let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
            let line = text.split(separator: "\n").first { $0.hasPrefix("vllm:prompt_tokens_total{") }
            return Double(line?.split(separator: " ").last ?? "") ?? -1
        }
        func complete(words: Int, tag: String) async throws {
            var request = HTTPClientRequest(url: "http://127.1.0.79:\(decode.port)/v1/completions")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "x-prefiller-host-port", value: "127.1.0.78:\(prefill.port)")
            // Distinct words per request: no prefix-cache hit may lower the uncached count.
            let prompt = (0..<words).map { "\(tag)\($0)" }.joined(separator: " ")
            request.body = .bytes(ByteBuffer(string: #"{"model":"meta-llama/Llama-3.1-8B-Instruct","prompt":"\#(prompt)","max_tokens":2}"#))
            let response = try await http.execute(request, timeout: .seconds(30))
            _ = try await response.body.collect(upTo: 1 << 20)
            #expect(response.status == .ok)
        }
        #expect(try await promptTokensOnPrefill() == 0)
        try await complete(words: 100, tag: "a")
        #expect(try await promptTokensOnPrefill() == 100, "a prompt of exactly the threshold goes to prefill")
        try await complete(words: 99, tag: "b")
        #expect(try await promptTokensOnPrefill() == 100, "a prompt one token short stays on decode")
        // The same 100 tokens again: the decode server holds their KV (6 full blocks of 16), so
        // only 4 are uncached and the prompt stays on decode.
        try await complete(words: 100, tag: "a")
        #expect(try await promptTokensOnPrefill() == 100, "a cached prompt is not prefilled remotely again")
        try await http.shutdown()
        await decode.stop()
        await prefill.stop()
    }
}

extension EmulatorTests {
    /// The prefill tier scaled to 0: no header names a peer and the lookup finds none, so the
    /// decode server prefills the long prompt itself, and counts it in its histograms.
    @Test func decodeWithoutAPrefillPeerPrefillsItself() async throws {
        let lookups = Atomic<Int>(0)
        let decode = try await server("127.1.0.81", role: .decode) { configuration in
            configuration.prefillPeers = {
                lookups.add(1, ordering: .relaxed)
                return nil
            }
        }
        let http = HTTPClient()
        let base = "http://127.1.0.81:\(decode.port)"
        let answer = try await complete(http, base, words: 150, tag: "solo", maxTokens: 3)
        #expect(answer.contains(#""completion_tokens":3"#), "\(answer)")
        #expect(lookups.load(ordering: .relaxed) == 1, "the decode server looked for a prefill peer")
        let metrics = try await scrapeMetrics(http, base)
        #expect(firstSample(metrics.text, "vllm:prompt_tokens_total{") == 150)
        #expect(firstSample(metrics.text, #"vllm:request_prompt_tokens_bucket{engine="0",le="200.0""#) == 1)
        #expect(firstSample(metrics.text, #"vllm:request_prompt_tokens_bucket{engine="0",le="100.0""#) == 0)
        #expect(firstSample(metrics.text, "vllm:request_prompt_tokens_sum{") == 150)
        #expect(firstSample(metrics.text, "vllm:request_generation_tokens_sum{") == 3)
        try await http.shutdown()
        await decode.stop()
    }

    /// `vllm:request_prompt_tokens` on both sides of a disaggregated request: the prefill server
    /// and the decode server that received the KV each record the whole prompt once.
    @Test func bothServersOfADisaggregatedRequestRecordThePrompt() async throws {
        let prefill = try await server("127.1.0.82", role: .prefill)
        let decode = try await server("127.1.0.83", role: .decode) { configuration in
            let peer = "127.1.0.82:\(prefill.port)"
            configuration.prefillPeers = { peer }
        }
        let http = HTTPClient()
        _ = try await complete(http, "http://127.1.0.83:\(decode.port)", words: 300, tag: "pd", maxTokens: 4)
        _ = try await complete(http, "http://127.1.0.83:\(decode.port)", words: 20, tag: "short", maxTokens: 4)
        let onPrefill = try await scrapeMetrics(http, "http://127.1.0.82:\(prefill.port)")
        let onDecode = try await scrapeMetrics(http, "http://127.1.0.83:\(decode.port)")
        #expect(firstSample(onPrefill.text, "vllm:request_prompt_tokens_count{") == 1)
        #expect(firstSample(onPrefill.text, "vllm:request_prompt_tokens_sum{") == 300)
        #expect(firstSample(onPrefill.text, "vllm:request_generation_tokens_sum{") == 1)
        #expect(firstSample(onDecode.text, "vllm:request_prompt_tokens_count{") == 2, "the remote-KV request and the short local one")
        #expect(firstSample(onDecode.text, "vllm:request_prompt_tokens_sum{") == 320)
        #expect(firstSample(onDecode.text, "vllm:request_generation_tokens_sum{") == 8)
        try await http.shutdown()
        await decode.stop()
        await prefill.stop()
    }

    @Test func metricsFaultsLeaveTheAPIAloneAndHeldScrapesEndWithTheServer() async throws {
        let emulator = try await server("127.1.0.84", role: .both)
        let base = "http://127.1.0.84:\(emulator.port)"
        let http = HTTPClient()

        emulator.setMetricsFault(.garbage)
        let garbage = try await scrapeMetrics(http, base)
        #expect(garbage.status == 200)
        #expect(!garbage.text.contains("vllm:") && garbage.text.contains("<html>"))

        emulator.setMetricsFault(.error)
        #expect(try await scrapeMetrics(http, base).status == 500)

        emulator.setMetricsFault(.hang)
        await #expect(throws: HTTPClientError.self) { try await scrapeMetrics(http, base, timeout: .seconds(1)) }
        _ = try await complete(http, base, words: 8, tag: "during-hang")
        #expect(try await http.execute(HTTPClientRequest(url: base + "/health"), timeout: .seconds(30)).status == .ok)

        // A scrape waiting when the fault clears gets the metrics.
        let waiting = Task { try await scrapeMetrics(http, base) }
        _ = try await eventually("a held scrape") { emulator.heldMetricsRequests >= 1 ? true : nil }
        emulator.setMetricsFault(.none)
        let released = try await waiting.value
        #expect(released.status == 200 && released.text.contains("vllm:request_prompt_tokens_count{"))
        #expect(emulator.heldMetricsRequests == 0)

        // Stopping while scrapes are held: they are answered and stop() returns promptly.
        emulator.setMetricsFault(.hang)
        let held = (0..<3).map { _ in Task { try await scrapeMetrics(http, base) } }
        _ = try await eventually("three held scrapes") { emulator.heldMetricsRequests == 3 ? true : nil }
        let stopping = ContinuousClock.now
        await emulator.stop()
        #expect(ContinuousClock.now - stopping < .seconds(25), "stop() waited on the held scrapes' 30 s timeouts")
        #expect(emulator.heldMetricsRequests == 0)
        for scrape in held {
            if let answer = try? await scrape.value { #expect(answer.status == 503) }
        }
        try await http.shutdown()
    }
}

@Suite("Load generator")
struct LoadGeneratorTests {
    @Test func loadAgainstEmulatedServersReportsPercentiles() async throws {
        let h100 = try #require(AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h100"))
        let configuration = try EmulatorConfiguration.make(
            args: ["--model=meta-llama/Llama-3.1-8B-Instruct"], accelerator: h100, devices: 1, role: .both)
        let port = Int.random(in: 20_000..<30_000)
        let server = try await EmulatedModelServer.start(configuration, address: "127.1.0.80", port: port)
        let plan = ArrivalSchedule.generate(pattern: .steady, rate: 20, duration: .seconds(2), promptTokens: 128,
                                            outputTokens: 16, seed: 1)
        let report = try await LoadRunner.run(targets: ["http://127.1.0.80:\(port)"], model: configuration.servedModelName, plan: plan)
        await server.stop()
        #expect(report.sent == plan.count)
        #expect(report.failed == 0, "\(report.firstError ?? "")")
        #expect(report.timeToFirstToken.count == plan.count)
        #expect(report.timePerOutputToken.allSatisfy { $0 > 0 && $0 < 1 })
        #expect(report.summary().contains("TTFT ms  p50"))
        await #expect(throws: LoadError.self) {
            try await LoadRunner.run(targets: ["http://10.0.0.1:8000"], model: "m", plan: plan)
        }
    }
}
