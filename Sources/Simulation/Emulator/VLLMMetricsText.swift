/// `/metrics` of an emulated server, in the Prometheus text format and with the names,
/// labels and buckets of vLLM's v1 engine (see docs/… and the project's VLLM-METRICS notes).
///
/// Counters are written as Python's `prometheus_client` writes them in text format 0.0.4:
/// `# TYPE name_total counter`, then the `_total` sample.
enum VLLMMetricsText {
    struct CacheConfig {
        var blockSize: Int
        var numGPUBlocks: Int
        var gpuMemoryUtilization: Double
    }

    static func render(_ metrics: EngineMetrics, modelName: String, cache: CacheConfig) -> String {
        let labels = #"engine="0",model_name="\#(escape(modelName))""#
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func gauge(_ name: String, _ help: String, _ value: Double) {
            family(name, "gauge", help)
            out += "\(name){\(labels)} \(format(value))\n"
        }
        func counter(_ name: String, _ help: String, _ value: Int) {
            family("\(name)_total", "counter", help)
            out += "\(name)_total{\(labels)} \(format(Double(value)))\n"
        }
        func histogram(_ name: String, _ help: String, _ histogram: Histogram) {
            family(name, "histogram", help)
            for (bound, count) in zip(histogram.upperBounds, histogram.cumulativeCounts) {
                out += #"\#(name)_bucket{engine="0",le="\#(format(bound))",model_name="\#(escape(modelName))"} \#(format(Double(count)))"# + "\n"
            }
            out += #"\#(name)_bucket{engine="0",le="+Inf",model_name="\#(escape(modelName))"} \#(format(Double(histogram.count)))"# + "\n"
            out += "\(name)_sum{\(labels)} \(format(histogram.sum))\n"
            out += "\(name)_count{\(labels)} \(format(Double(histogram.count)))\n"
        }
        family("vllm:cache_config_info", "gauge", "Information of the LLMEngine CacheConfig")
        out += #"vllm:cache_config_info{block_size="\#(cache.blockSize)",cache_dtype="auto",engine="0",gpu_memory_utilization="\#(format(cache.gpuMemoryUtilization))",num_gpu_blocks="\#(cache.numGPUBlocks)"} 1.0"# + "\n"
        gauge("vllm:num_requests_running", "Number of requests in model execution batches.", Double(metrics.running))
        gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", Double(metrics.waiting))
        gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", metrics.kvCacheUsage)
        counter("vllm:num_preemptions", "Cumulative number of preemption from the engine.", metrics.preemptionsTotal)
        counter("vllm:prompt_tokens", "Number of prefill tokens processed.", metrics.promptTokensTotal)
        counter("vllm:generation_tokens", "Number of generation tokens processed.", metrics.generationTokensTotal)
        counter("vllm:prefix_cache_queries", "Prefix cache queries, in terms of number of queried tokens.", metrics.prefixCacheQueriesTotal)
        counter("vllm:prefix_cache_hits", "Prefix cache hits, in terms of number of cached tokens.", metrics.prefixCacheHitsTotal)
        // The emulator's own (no vLLM name): prompt tokens computed here, see EngineMetrics.
        family("tandem_emulator_prompt_tokens_computed_total", "counter", "Prompt tokens this emulated engine computed (not cached, not pulled from a prefill peer).")
        out += "tandem_emulator_prompt_tokens_computed_total{\(labels)} \(format(Double(metrics.promptTokensComputedTotal)))\n"
        family("vllm:request_success_total", "counter", "Count of successfully processed requests.")
        for reason in SimRequest.FinishReason.allCases {
            out += #"vllm:request_success_total{engine="0",finished_reason="\#(reason.rawValue)",model_name="\#(escape(modelName))"} \#(format(Double(metrics.requestSuccessTotal[reason] ?? 0)))"# + "\n"
        }
        histogram("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", metrics.timeToFirstToken)
        histogram("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", metrics.interTokenLatency)
        histogram("vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", metrics.e2eRequestLatency)
        histogram("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", metrics.requestQueueTime)
        // vLLM gives both token-count histograms the counters' help texts (vllm/v1/metrics/loggers.py).
        histogram("vllm:request_prompt_tokens", "Number of prefill tokens processed.", metrics.requestPromptTokens)
        histogram("vllm:request_generation_tokens", "Number of generation tokens processed.", metrics.requestGenerationTokens)
        return out
    }

    /// A float as prometheus_client prints values and `le` bounds (its `floatToGoString`):
    /// Python's `repr` (`12.0`, `0.001`, `1e-05`), except that positive values of 10⁶ and more
    /// switch to Go's exponent form (`1e+06`, `1.2345675e+06`).
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        // Python's repr: integral values below 10¹⁶ keep every digit and a `.0`.
        let repr = value == value.rounded() && abs(value) < 1e16 ? String(Int64(value)) + ".0" : "\(value)"
        guard value > 0, let dot = repr.firstIndex(of: "."), repr.distance(from: repr.startIndex, to: dot) > 6 else {
            return repr
        }
        let exponent = repr.distance(from: repr.startIndex, to: dot) - 1
        var mantissa = "\(repr.first!).\(repr[repr.index(after: repr.startIndex)..<dot])\(repr[repr.index(after: dot)...])"
        while mantissa.last == "0" || mantissa.last == "." { mantissa.removeLast() }
        return mantissa + (exponent < 10 ? "e+0\(exponent)" : "e+\(exponent)")
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: #"\\"#).replacingOccurrences(of: "\"", with: #"\""#)
            .replacingOccurrences(of: "\n", with: #"\n"#)
    }
}
