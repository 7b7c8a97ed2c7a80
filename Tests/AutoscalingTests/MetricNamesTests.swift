import Testing

@testable import Autoscaling

@Suite("MetricNames")
struct MetricNamesTests {
    @Test func vllmV1SumsEnginesAndAveragesKV() throws {
        let signals = PodSignals.extract(from: try PrometheusText.parse(vllmPayload))
        #expect(signals.waiting == 15)
        #expect(signals.running == 12)
        #expect(abs((signals.kvCacheUtilization ?? 0) - 0.8) < 1e-12)
    }

    @Test func vllmV0UsesDeprecatedKVName() throws {
        let text = """
            vllm:num_requests_waiting{model_name="m"} 2.0
            vllm:num_requests_running{model_name="m"} 9.0
            vllm:gpu_cache_usage_perc{model_name="m"} 0.42
            """
        let signals = PodSignals.extract(from: try PrometheusText.parse(text))
        #expect(signals == PodSignals(waiting: 2, running: 9, kvCacheUtilization: 0.42))
    }

    @Test func prefersV1NameWhenBothPresent() throws {
        let text = """
            vllm:gpu_cache_usage_perc{engine="0",model_name="m"} 0.1
            vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.6
            """
        #expect(PodSignals.extract(from: try PrometheusText.parse(text)).kvCacheUtilization == 0.6)
    }

    @Test func sglangNames() throws {
        let text = """
            # TYPE sglang:num_queue_reqs gauge
            sglang:num_queue_reqs{model_name="meta-llama/Llama-3.1-8B-Instruct",tp_rank="0"} 4.0
            sglang:num_running_reqs{model_name="meta-llama/Llama-3.1-8B-Instruct",tp_rank="0"} 31.0
            sglang:token_usage{model_name="meta-llama/Llama-3.1-8B-Instruct",tp_rank="0"} 0.55
            sglang:cache_hit_rate{model_name="meta-llama/Llama-3.1-8B-Instruct",tp_rank="0"} 0.2
            """
        let signals = PodSignals.extract(from: try PrometheusText.parse(text))
        #expect(signals == PodSignals(waiting: 4, running: 31, kvCacheUtilization: 0.55))
    }

    @Test func missingSignalsAreNil() throws {
        let signals = PodSignals.extract(from: try PrometheusText.parse("vllm:num_requests_running 3\nother 1"))
        #expect(signals == PodSignals(waiting: nil, running: 3, kvCacheUtilization: nil))
        #expect(PodSignals.extract(from: []).isEmpty)
    }

    @Test func filtersByModelName() throws {
        let text = """
            vllm:num_requests_waiting{engine="0",model_name="a"} 5
            vllm:num_requests_waiting{engine="0",model_name="b"} 7
            vllm:num_requests_waiting{engine="1"} 1
            vllm:kv_cache_usage_perc{engine="0",model_name="b"} 0.5
            """
        let samples = try PrometheusText.parse(text)
        let a = PodSignals.extract(from: samples, modelName: "a")
        #expect(a.waiting == 6)
        #expect(a.kvCacheUtilization == nil)
        #expect(PodSignals.extract(from: samples).waiting == 13)
    }

    @Test func ignoresNaNInfiniteAndNegativeValues() throws {
        let text = """
            vllm:num_requests_waiting{engine="0"} NaN
            vllm:num_requests_waiting{engine="1"} 2
            vllm:num_requests_running{engine="0"} +Inf
            vllm:kv_cache_usage_perc{engine="0"} -1
            """
        let signals = PodSignals.extract(from: try PrometheusText.parse(text))
        #expect(signals == PodSignals(waiting: 2, running: nil, kvCacheUtilization: nil))
    }
}
