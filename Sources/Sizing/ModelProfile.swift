/// What sizing needs to know about a model's architecture: parameter count, attention shape,
/// context length and the precision its checkpoint stores.
///
/// Built-in profiles live in ``ModelCatalog``; a profile for any other model can be built from
/// its Hugging Face `config.json` with the initialiser.
public struct ModelProfile: Sendable, Hashable {
    /// How attention stores keys and values in the KV cache.
    public enum Attention: Sendable, Hashable {
        /// Multi-head or grouped-query attention: a key and a value vector per KV head per layer.
        case standard
        /// Multi-head latent attention (DeepSeek-V2/V3): one compressed latent of `kvLoraRank`
        /// values plus a `ropeHeadDim` positional key per layer, shared by all heads. vLLM keeps
        /// the whole latent on every tensor-parallel rank (it is not split by heads).
        case multiHeadLatent(kvLoraRank: Int, ropeHeadDim: Int)
    }

    /// Layers that attend only to the last `window` tokens and so cache only those.
    public struct SlidingWindow: Sendable, Hashable {
        /// How many of the model's layers use the window (the rest attend to the full context).
        public var layers: Int
        /// Tokens each such layer keeps.
        public var window: Int

        /// `layers` layers keeping the last `window` tokens.
        public init(layers: Int, window: Int) {
            self.layers = layers
            self.window = window
        }
    }

    /// The Hugging Face id, e.g. `meta-llama/Llama-3.1-70B-Instruct`.
    public var id: String
    /// Other ids that name the same architecture, e.g. the pre-rename `Meta-Llama-3.1-…` ids.
    public var aliases: [String]
    /// Total parameter count (all experts of a mixture-of-experts model).
    public var parameters: Int
    /// Parameters used per token (fewer than ``parameters`` for mixture-of-experts models).
    public var activeParameters: Int
    /// Parameters a quantized checkpoint keeps at ``computeDType`` (embeddings, output head,
    /// and whatever else the checkpoint leaves unquantized). Irrelevant at 16-bit precision.
    public var unquantizedParameters: Int
    /// Transformer layers (`num_hidden_layers`).
    public var layers: Int
    /// Query heads (`num_attention_heads`).
    public var attentionHeads: Int
    /// Key/value heads (equal to ``attentionHeads`` without grouped-query attention).
    public var kvHeads: Int
    /// Dimension of one attention head (`head_dim`, or hidden size ÷ heads).
    public var headDim: Int
    /// Width of the residual stream (`hidden_size`); scales activation memory.
    public var hiddenSize: Int
    /// The longest context the model supports (`max_position_embeddings` in `config.json`).
    public var maxContextLength: Int
    /// How the checkpoint stores its weights.
    public var weightsDType: DType
    /// The activation precision (`torch_dtype` in `config.json`): what vLLM's `--dtype auto`
    /// computes in and `--kv-cache-dtype auto` stores.
    public var computeDType: DType
    /// Standard (MHA/GQA) or latent (MLA) attention.
    public var attention: Attention
    /// Layers that cache only a window of tokens, if any.
    public var slidingWindow: SlidingWindow?

    /// A profile; `activeParameters` defaults to `parameters` (a dense model).
    public init(
        id: String, aliases: [String] = [], parameters: Int, activeParameters: Int? = nil,
        unquantizedParameters: Int = 0, layers: Int, attentionHeads: Int, kvHeads: Int, headDim: Int,
        hiddenSize: Int, maxContextLength: Int, weightsDType: DType = .bfloat16,
        computeDType: DType = .bfloat16, attention: Attention = .standard, slidingWindow: SlidingWindow? = nil
    ) {
        self.id = id
        self.aliases = aliases
        self.parameters = parameters
        self.activeParameters = activeParameters ?? parameters
        self.unquantizedParameters = unquantizedParameters
        self.layers = layers
        self.attentionHeads = attentionHeads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.hiddenSize = hiddenSize
        self.maxContextLength = maxContextLength
        self.weightsDType = weightsDType
        self.computeDType = computeDType
        self.attention = attention
        self.slidingWindow = slidingWindow
    }

    // MARK: Weights

    /// Bytes of weights for the whole model stored as `dtype`.
    ///
    /// At a 16- or 32-bit float every parameter takes `dtype`'s size. At a quantized format,
    /// ``unquantizedParameters`` stay at ``computeDType`` and the rest take `dtype`'s size.
    public func weightsBytes(dtype: DType) -> Int {
        if dtype.isFloatingPoint { return Int(saturating: (Double(parameters) * dtype.bytesPerElement).rounded()) }
        let kept = min(unquantizedParameters, parameters)
        return Int(saturating: (Double(parameters.saturatingSubtracted(kept)) * dtype.bytesPerElement).rounded())
            .saturatingAdded(Int(saturating: (Double(kept) * computeDType.bytesPerElement).rounded()))
    }

    // MARK: KV cache

    /// Layers that cache every token (all of them unless some use a sliding window).
    public var fullAttentionLayers: Int { layers.saturatingSubtracted(slidingWindow?.layers ?? 0) }

    /// KV-cache bytes one token costs in one layer on one device.
    private func bytesPerTokenPerLayer(dtype: DType, tensorParallel: Int) -> Int {
        switch attention {
        case .standard:
            // Heads split across ranks; with more ranks than KV heads each rank keeps one copy.
            let headsPerDevice = max(1, kvHeads / max(1, tensorParallel))
            return Int(saturating: Double(2.saturatingMultiplied(by: headsPerDevice).saturatingMultiplied(by: headDim)) * dtype.bytesPerElement)
        case .multiHeadLatent(let rank, let rope):
            return Int(saturating: Double(rank.saturatingAdded(rope)) * dtype.bytesPerElement)
        }
    }

    /// KV-cache bytes per token for the whole model (every device together), counting the
    /// layers that cache every token: 2 × layers × kvHeads × headDim × bytes, or for latent
    /// attention layers × (kvLoraRank + ropeHeadDim) × bytes.
    public func kvCacheBytesPerToken(dtype: DType) -> Int {
        fullAttentionLayers.saturatingMultiplied(by: bytesPerTokenPerLayer(dtype: dtype, tensorParallel: 1))
    }

    /// KV-cache bytes per token on the most loaded device of a replica split `tensorParallel`
    /// ways by heads and `pipelineParallel` ways by layers.
    public func kvCacheBytesPerTokenPerDevice(dtype: DType, tensorParallel: Int, pipelineParallel: Int = 1) -> Int {
        ceilDiv(fullAttentionLayers, pipelineParallel)
            .saturatingMultiplied(by: bytesPerTokenPerLayer(dtype: dtype, tensorParallel: tensorParallel))
    }

    /// Sliding-window bytes one running sequence of `length` tokens holds on one device.
    public func slidingWindowBytesPerDevice(
        sequenceLength length: Int, dtype: DType, tensorParallel: Int, pipelineParallel: Int = 1
    ) -> Int {
        guard let slidingWindow else { return 0 }
        return ceilDiv(slidingWindow.layers, pipelineParallel)
            .saturatingMultiplied(by: bytesPerTokenPerLayer(dtype: dtype, tensorParallel: tensorParallel))
            .saturatingMultiplied(by: min(length, slidingWindow.window))
    }

    /// KV-cache bytes one sequence of `length` tokens needs on one device.
    public func kvCacheBytesPerDevice(
        sequenceLength length: Int, dtype: DType, tensorParallel: Int, pipelineParallel: Int = 1
    ) -> Int {
        length.saturatingMultiplied(
            by: kvCacheBytesPerTokenPerDevice(dtype: dtype, tensorParallel: tensorParallel, pipelineParallel: pipelineParallel))
            .saturatingAdded(slidingWindowBytesPerDevice(
                sequenceLength: length, dtype: dtype, tensorParallel: tensorParallel, pipelineParallel: pipelineParallel))
    }

    // MARK: Tensor parallelism

    /// Whether vLLM accepts this tensor-parallel size for the model: it must divide the
    /// attention heads, and either divide the KV heads or be a multiple of them (vLLM's
    /// `ModelConfig.verify_with_parallel_config` and `QKVParallelLinear`).
    public func acceptsTensorParallel(_ size: Int) -> Bool {
        guard size >= 1, attentionHeads % size == 0 else { return false }
        return kvHeads % size == 0 || (kvHeads != 0 && size % kvHeads == 0)
    }

    /// The tensor-parallel sizes vLLM accepts for this model, from 1 up to `limit`.
    public func validTensorParallelSizes(upTo limit: Int) -> [Int] {
        limit < 1 ? [] : (1...limit).filter(acceptsTensorParallel)
    }
}

/// `a ÷ b` rounded up (for `a ≥ 0`); `a` itself when `b ≤ 1`. Cannot overflow.
func ceilDiv(_ a: Int, _ b: Int) -> Int { b <= 1 ? a : a / b + (a % b > 0 ? 1 : 0) }
