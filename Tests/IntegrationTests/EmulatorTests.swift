import AsyncHTTPClient
import Foundation
import KubeTestSupport
import NIOCore
import Simulation
import Sizing
import Testing

/// Emulated model servers on loopback addresses, checked with real clients.
@Suite("Emulated vLLM server")
struct EmulatorTests {
    static let h100 = AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h100")!
    static let args = ["--model=meta-llama/Llama-3.1-8B-Instruct", "--port=8000"]

    func server(_ address: String, role: EngineRole, threshold: Int = 100) async throws -> EmulatedModelServer {
        let configuration = try EmulatorConfiguration.make(
            args: Self.args, accelerator: Self.h100, devices: 1, role: role, disaggregationThreshold: threshold)
        return try await EmulatedModelServer.start(configuration, address: address, port: Int.random(in: 20_000..<30_000))
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
            let response = try await http.execute(HTTPClientRequest(url: "http://127.1.0.78:\(prefill.port)/metrics"), timeout: .seconds(5))
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
