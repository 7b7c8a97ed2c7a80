import KubeTestSupport
import Testing

@testable import Autoscaling

/// A realistic vLLM v1 `/metrics` body (format as in VLLM-METRICS.md), about 4 KB.
let vllmPayload: String = {
    var text = """
        # HELP vllm:num_requests_running Number of requests in model execution batches.
        # TYPE vllm:num_requests_running gauge
        vllm:num_requests_running{engine="0",model_name="Qwen/Qwen2.5-0.5B-Instruct"} 7.0
        vllm:num_requests_running{engine="1",model_name="Qwen/Qwen2.5-0.5B-Instruct"} 5.0
        # HELP vllm:num_requests_waiting Number of requests waiting to be processed.
        # TYPE vllm:num_requests_waiting gauge
        vllm:num_requests_waiting{engine="0",model_name="Qwen/Qwen2.5-0.5B-Instruct"} 12.0
        vllm:num_requests_waiting{engine="1",model_name="Qwen/Qwen2.5-0.5B-Instruct"} 3.0
        # HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
        # TYPE vllm:kv_cache_usage_perc gauge
        vllm:kv_cache_usage_perc{engine="0",model_name="Qwen/Qwen2.5-0.5B-Instruct"} 0.9
        vllm:kv_cache_usage_perc{engine="1",model_name="Qwen/Qwen2.5-0.5B-Instruct"} 0.7
        # HELP vllm:cache_config_info Information of the LLMEngine CacheConfig
        # TYPE vllm:cache_config_info gauge
        vllm:cache_config_info{block_size="16",cache_dtype="auto",engine="0",gpu_memory_utilization="0.9",num_gpu_blocks="27305"} 1.0
        # HELP vllm:prompt_tokens_total Number of prefill tokens processed.
        # TYPE vllm:prompt_tokens_total counter
        vllm:prompt_tokens_total{engine="0",model_name="Qwen/Qwen2.5-0.5B-Instruct"} 123456.0
        # HELP vllm:prompt_tokens_created Number of prefill tokens processed.
        # TYPE vllm:prompt_tokens_created gauge
        vllm:prompt_tokens_created{engine="0",model_name="Qwen/Qwen2.5-0.5B-Instruct"} 1.7327e+09
        # HELP vllm:request_success_total Count of successfully processed requests.
        # TYPE vllm:request_success_total counter
        vllm:request_success_total{engine="0",finished_reason="stop",model_name="Qwen/Qwen2.5-0.5B-Instruct"} 310.0
        vllm:request_success_total{engine="0",finished_reason="length",model_name="Qwen/Qwen2.5-0.5B-Instruct"} 12.0
        vllm:request_success_total{engine="0",finished_reason="abort",model_name="Qwen/Qwen2.5-0.5B-Instruct"} 0.0
        # HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.
        # TYPE vllm:time_to_first_token_seconds histogram

        """
    let buckets = ["0.001", "0.005", "0.01", "0.02", "0.04", "0.06", "0.08", "0.1", "0.25", "0.5", "0.75", "1.0",
                   "2.5", "5.0", "7.5", "10.0", "20.0", "40.0", "80.0", "160.0", "640.0", "2560.0", "+Inf"]
    for (index, le) in buckets.enumerated() {
        text += "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"\(le)\",model_name=\"Qwen/Qwen2.5-0.5B-Instruct\"} \(Double(index * 14))\n"
    }
    text += """
        vllm:time_to_first_token_seconds_count{engine="0",model_name="Qwen/Qwen2.5-0.5B-Instruct"} 322.0
        vllm:time_to_first_token_seconds_sum{engine="0",model_name="Qwen/Qwen2.5-0.5B-Instruct"} 41.27

        """
    return text
}()

@Suite("PrometheusText")
struct PrometheusTextTests {
    @Test func parsesVLLMOutput() throws {
        let samples = try PrometheusText.parse(vllmPayload)
        #expect(samples.count == 37)
        let waiting = samples.filter { $0.name == "vllm:num_requests_waiting" }
        #expect(waiting.map(\.value) == [12, 3])
        #expect(waiting[0].labels == ["engine": "0", "model_name": "Qwen/Qwen2.5-0.5B-Instruct"])
        let inf = samples.first { $0.labels["le"] == "+Inf" }
        #expect(inf?.name == "vllm:time_to_first_token_seconds_bucket")
        #expect(samples.first { $0.name == "vllm:prompt_tokens_created" }?.value == 1.7327e9)
        #expect(samples.first { $0.name == "vllm:cache_config_info" }?.labels["num_gpu_blocks"] == "27305")
    }

    @Test func payloadIsAbout4KB() {
        #expect(vllmPayload.utf8.count > 3_500 && vllmPayload.utf8.count < 6_000)
    }

    @Test func specialValuesTimestampsAndHugeNumbers() throws {
        let text = "a NaN\nb +Inf\nc -Inf\nd 1e999\ne 12 1700000000000\nf -0.5e-3\ng 0x1p4\n"
        let samples = try PrometheusText.parse(text)
        #expect(samples.count == 7)
        #expect(samples[0].value.isNaN)
        #expect(samples[1].value == .infinity)
        #expect(samples[2].value == -.infinity)
        #expect(samples[3].value == .infinity)
        #expect(samples[4].value == 12 && samples[4].timestamp == 1_700_000_000_000)
        #expect(samples[5].value == -0.0005)
        #expect(samples[6].value == 16)
    }

    @Test func escapedLabelValues() throws {
        let text = #"m{a="quote \" here",b="back\\slash",c="line\nbreak",d="",e="ünï{},="} 1"#
        let sample = try #require(try PrometheusText.parse(text).first)
        #expect(sample.labels["a"] == "quote \" here")
        #expect(sample.labels["b"] == "back\\slash")
        #expect(sample.labels["c"] == "line\nbreak")
        #expect(sample.labels["d"] == "")
        #expect(sample.labels["e"] == "ünï{},=")
    }

    @Test func crlfCommentsBlankLinesSpacingAndTrailingComma() throws {
        let text = "# HELP x y\r\n# TYPE x gauge\r\n\r\n  x{a=\"1\",} 2\r\n\tx { a = \"2\" , b=\"3\" } 3 \r\n#just a comment\r\nx{} 4"
        let samples = try PrometheusText.parse(text)
        #expect(samples.map(\.value) == [2, 3, 4])
        #expect(samples[0].labels == ["a": "1"])
        #expect(samples[1].labels == ["a": "2", "b": "3"])
        #expect(samples[2].labels.isEmpty)
        #expect(try PrometheusText.parse("").isEmpty)
        #expect(try PrometheusText.parse("\n\n# only comments\n").isEmpty)
    }

    @Test(arguments: [
        ("ok 1\nm{a=\"1\",a=\"2\"} 1", 2, "label \"a\" appears more than once"),
        ("m", 1, "sample \"m\" has no value"),
        ("m{a=\"1\"}", 1, "has no value"),
        ("ok 1\r\nok 2\r\nm abc", 3, "value \"abc\" is not a number"),
        ("m{a=\"1} 2", 1, "missing its closing '\"'"),
        ("m{a=\"1\" 2", 1, "unexpected \"2\" after label \"a\""),
        ("m{a=\"x\\ty\"} 1", 1, "invalid escape \\t"),
        ("m{a} 1", 1, "expected '=' after label name \"a\""),
        ("m{a=1} 1", 1, "expected '\"'"),
        ("m{1a=\"1\"} 1", 1, "invalid label name"),
        ("9m 1", 1, "invalid metric name"),
        ("m 1 abc", 1, "timestamp \"abc\" is not an integer"),
        ("m 1 2 3", 1, "unexpected \"3\" after timestamp"),
        ("m-x 1", 1, "unexpected \"-x\" after metric name"),
        ("m{", 1, "label set is missing its closing '}'"),
    ] as [(String, Int, String)])
    func errorsCarryLineAndMessage(text: String, line: Int, message: String) {
        do {
            _ = try PrometheusText.parse(text)
            Issue.record("expected an error for \(text.debugDescription)")
        } catch {
            #expect(error.line == line)
            #expect(error.description.contains(message), "\(error.description)")
            #expect(error.description.hasPrefix("line \(line): "))
        }
    }

    @Test func lenientSkipsBadLines() {
        let text = "a 1\nbad line here\nb{x=\"1\"} 2\nc\nd 4\n"
        let (samples, errors) = PrometheusText.parseLenient(text)
        #expect(samples.map(\.name) == ["a", "b", "d"])
        #expect(errors.map(\.line) == [2, 4])
    }

    @Test func fuzzRandomBytesNeverCrash() {
        var rng = SplitMix64(seed: 0x7A4D_E11A)
        let alphabet = Array("vllm:_{}=\",\\ \t\n\r#0123456789.eE+-InfNaa".utf8)
        for round in 0..<2_000 {
            let length = Int(rng.next() % 200)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(length)
            for _ in 0..<length {
                // Half raw bytes, half characters that matter to the grammar.
                let r = rng.next()
                bytes.append(r & 1 == 0 ? UInt8(truncatingIfNeeded: r >> 8) : alphabet[Int((r >> 8) % UInt64(alphabet.count))])
            }
            let text = String(decoding: bytes, as: UTF8.self)
            checkOutcome(text, context: "round \(round)")
        }
    }

    @Test func fuzzEveryTruncationOfRealPayload() {
        let bytes = Array(vllmPayload.utf8)
        for cut in 0...bytes.count {
            checkOutcome(String(decoding: bytes[0..<cut], as: UTF8.self), context: "cut \(cut)")
        }
    }

    @Test func parsesOneMegabyteQuickly() throws {
        var text = ""
        while text.utf8.count < 1_000_000 { text += vllmPayload }
        let clock = ContinuousClock()
        var count = 0
        let elapsed = try clock.measure { count = try PrometheusText.parse(text).count }
        #expect(count > 7_000)
        #expect(elapsed < .seconds(5), "1 MB took \(elapsed)")
    }

    /// Strict and lenient parses agree: either samples, or an error on a real line with a message.
    private func checkOutcome(_ text: String, context: String) {
        let lines = text.utf8.split(separator: 10, omittingEmptySubsequences: false).count
        let lenient = PrometheusText.parseLenient(text)
        for error in lenient.errors {
            #expect(error.line >= 1 && error.line <= lines, "\(context)")
            #expect(!error.message.isEmpty)
        }
        do {
            let samples = try PrometheusText.parse(text)
            #expect(lenient.errors.isEmpty, "\(context)")
            #expect(samples == lenient.samples || samples.contains { $0.value.isNaN }, "\(context)")
        } catch {
            #expect(error.line == lenient.errors.first?.line, "\(context)")
        }
    }
}
