/// A snapshot of what one vLLM engine's `/metrics` would report (names in VLLM-METRICS.md).
public struct EngineMetrics: Sendable, Hashable {
    /// `vllm:num_requests_running`: requests in the running batch (prefilling or decoding).
    public var running = 0
    /// `vllm:num_requests_waiting`: arrived requests not running, preempted ones included.
    public var waiting = 0
    /// `vllm:kv_cache_usage_perc`: used blocks / (blocks − 1), 0–1.
    public var kvCacheUsage = 0.0
    /// `num_gpu_blocks` of `vllm:cache_config_info`.
    public var kvCacheBlocks = 0
    /// `block_size` of `vllm:cache_config_info`.
    public var blockSize = 0

    /// `vllm:prompt_tokens_total`: prompt tokens of requests that produced their first token.
    public var promptTokensTotal = 0
    /// Prompt tokens this engine computed itself (prefill steps, recomputation after preemption
    /// included; not prefix-cache hits, not KV pulled from a prefill peer). vLLM 0.12 has no such
    /// counter (its `prompt_tokens_total` counts whole prompts on decode too; vLLM 0.16 added
    /// `prompt_tokens_by_source_total{source="local_compute"}`): the emulator serves it as
    /// `tandem_emulator_prompt_tokens_computed_total`, so tests can see where prompts were computed.
    public var promptTokensComputedTotal = 0
    /// `vllm:generation_tokens_total`.
    public var generationTokensTotal = 0
    /// `vllm:prefix_cache_queries_total`, in tokens.
    public var prefixCacheQueriesTotal = 0
    /// `vllm:prefix_cache_hits_total`, in tokens.
    public var prefixCacheHitsTotal = 0
    /// `vllm:num_preemptions_total`.
    public var preemptionsTotal = 0
    /// `vllm:request_success_total{finished_reason}`.
    public var requestSuccessTotal: [SimRequest.FinishReason: Int] = [:]

    /// `vllm:time_to_first_token_seconds`: arrival at this engine to first token.
    public var timeToFirstToken = Histogram(upperBounds: Histogram.timeToFirstTokenBounds)
    /// `vllm:inter_token_latency_seconds`: one observation per output token after the first.
    public var interTokenLatency = Histogram(upperBounds: Histogram.interTokenLatencyBounds)
    /// `vllm:e2e_request_latency_seconds`: arrival to finish, per finished request.
    public var e2eRequestLatency = Histogram(upperBounds: Histogram.requestLatencyBounds)
    /// `vllm:request_queue_time_seconds`: arrival to first scheduled, per request.
    public var requestQueueTime = Histogram(upperBounds: Histogram.requestLatencyBounds)
    /// `vllm:request_prompt_tokens`: the whole prompt length of each finished request, whatever
    /// its role: a prefill server's request, and a decode server's whose KV came from a peer,
    /// count the full prompt too (vLLM records `num_prompt_tokens` of every finished request).
    public var requestPromptTokens: Histogram
    /// `vllm:request_generation_tokens`: output tokens of each finished request (1 on a
    /// prefill server).
    public var requestGenerationTokens: Histogram

    /// Empty metrics; the token-count histograms get vLLM's buckets for `--max-model-len`
    /// (``Histogram/tokenCountBounds(maxModelLen:)``).
    public init(maxModelLen: Int) {
        requestPromptTokens = Histogram(upperBounds: Histogram.tokenCountBounds(maxModelLen: maxModelLen))
        requestGenerationTokens = Histogram(upperBounds: Histogram.tokenCountBounds(maxModelLen: maxModelLen))
    }

    /// Empty metrics for no known `--max-model-len`: the token-count histograms have only `+Inf`.
    public init() {
        self.init(maxModelLen: 0)
    }

    /// Finished requests, all reasons.
    public var requestsFinished: Int { requestSuccessTotal.values.reduce(0, +) }
}
