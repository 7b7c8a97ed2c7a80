import Sizing

/// The engine limits the simulator enforces, as vLLM's flags and KV-cache profile set them.
public struct EngineConfiguration: Sendable, Hashable {
    /// What the engine does with requests.
    public var role: EngineRole
    /// `--max-num-seqs`: most requests running at once.
    public var maxNumSeqs: Int
    /// `--max-num-batched-tokens`: most tokens one step computes.
    public var maxNumBatchedTokens: Int
    /// `num_gpu_blocks`: KV-cache blocks, including the one vLLM reserves as its null block.
    public var kvCacheBlocks: Int
    /// `--block-size`: tokens per KV-cache block.
    public var blockSize: Int
    /// `--max-model-len`: the longest sequence (prompt and output) a request may have; it sets
    /// the buckets of the token-count histograms.
    public var maxModelLen: Int
    /// Whether ``EngineSimulator/advance(to:)`` reports every output token, not just the first
    /// (costs one event per token).
    public var recordsTokenEvents: Bool

    /// A configuration whose KV cache holds `kvCacheTokens` tokens.
    ///
    /// - Parameter maxModelLen: `nil` takes the KV cache's size, the largest `--max-model-len`
    ///   vLLM accepts (it refuses to start when the cache cannot hold one such sequence:
    ///   `check_enough_kv_cache_memory` in vLLM's `vllm/v1/core/kv_cache_utils.py`).
    public init(
        role: EngineRole = .both, maxNumSeqs: Int, maxNumBatchedTokens: Int, kvCacheTokens: Int,
        blockSize: Int = 16,  // vLLM's default --block-size on CUDA (vllm/config/cache.py)
        maxModelLen: Int? = nil, recordsTokenEvents: Bool = false
    ) {
        self.role = role
        self.maxNumSeqs = max(1, maxNumSeqs)
        self.maxNumBatchedTokens = max(1, maxNumBatchedTokens)
        self.blockSize = max(1, blockSize)
        kvCacheBlocks = max(2, kvCacheTokens / self.blockSize)
        self.maxModelLen = max(1, maxModelLen ?? kvCacheTokens)
        self.recordsTokenEvents = recordsTokenEvents
    }

    /// The configuration of a sized tier: its `--max-num-seqs`, `--max-num-batched-tokens` and
    /// KV-cache tokens; `nil` when the sizing did not check memory (no KV-cache size).
    /// - Parameter role: defaults to the tier's (`prefill` or `decode`).
    public init?(sizing: TierSizing, role: EngineRole? = nil, blockSize: Int = 16, recordsTokenEvents: Bool = false) {
        guard let tokens = sizing.kvCacheTokens else { return nil }
        self.init(
            role: role ?? (sizing.tier == .prefill ? .prefill : .decode), maxNumSeqs: sizing.maxNumSeqs.value,
            maxNumBatchedTokens: sizing.maxNumBatchedTokens.value, kvCacheTokens: tokens, blockSize: blockSize,
            maxModelLen: sizing.maxModelLen.value, recordsTokenEvents: recordsTokenEvents)
    }

    /// Blocks requests may use: all but vLLM's null block.
    public var usableBlocks: Int { kvCacheBlocks - 1 }

    /// Blocks that `tokens` tokens occupy.
    public func blocks(forTokens tokens: Int) -> Int { (tokens + blockSize - 1) / blockSize }
}
