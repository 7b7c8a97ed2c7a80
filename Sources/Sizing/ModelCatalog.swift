/// The models Tandem can size without a user-supplied profile, looked up by Hugging Face id.
public struct ModelCatalog: Sendable, Hashable {
    /// The profiles, each with a unique id.
    public var models: [ModelProfile]

    /// A catalog of these profiles (``builtIn`` is Tandem's).
    public init(_ models: [ModelProfile]) {
        self.models = models
    }

    /// Finds the profile for a Hugging Face model id.
    ///
    /// Matching is case-insensitive and ignores surrounding whitespace. An id matches an entry's
    /// ``ModelProfile/id`` or one of its ``ModelProfile/aliases`` (renamed ids such as
    /// `meta-llama/Meta-Llama-3.1-70B-Instruct`). Failing that, a trailing `-Instruct` is ignored
    /// on both sides, so a base checkpoint (`meta-llama/Llama-3.1-8B`, `Qwen/Qwen2.5-7B`) finds
    /// its instruct sibling: they share one `config.json` architecture, which is all sizing
    /// reads. The returned profile keeps the catalog's id.
    public func profile(for id: String) -> ModelProfile? {
        let key = id.trimmingWhitespace().lowercased()
        guard !key.isEmpty else { return nil }
        func names(_ model: ModelProfile) -> [String] { ([model.id] + model.aliases).map { $0.lowercased() } }
        if let exact = models.first(where: { names($0).contains(key) }) { return exact }
        let base = key.droppingInstructSuffix
        return models.first { names($0).map(\.droppingInstructSuffix).contains(base) }
    }
}

extension String {
    fileprivate var droppingInstructSuffix: String {
        hasSuffix("-instruct") ? String(dropLast("-instruct".count)) : self
    }
}

extension ModelCatalog {
    /// The built-in catalog. Architecture numbers are `config.json` field values from each
    /// model's Hugging Face repository; parameter counts are computed from those shapes (and
    /// match the counts Hugging Face shows) unless a comment says otherwise.
    public static let builtIn = ModelCatalog([
        ModelProfile(
            id: "meta-llama/Llama-3.1-8B-Instruct", aliases: ["meta-llama/Meta-Llama-3.1-8B-Instruct"],
            parameters: 8_030_261_248,  // safetensors total for Llama-3.1-8B
            unquantizedParameters: 1_050_673_152,  // embed_tokens + lm_head: 2 × 128,256 × 4,096
            layers: 32, attentionHeads: 32, kvHeads: 8, headDim: 128,  // config.json: num_hidden_layers, num_attention_heads, num_key_value_heads; 4096/32
            hiddenSize: 4_096,  // config.json hidden_size
            maxContextLength: 131_072),  // config.json max_position_embeddings
        ModelProfile(
            id: "meta-llama/Llama-3.1-70B-Instruct", aliases: ["meta-llama/Meta-Llama-3.1-70B-Instruct"],
            parameters: 70_553_706_496,  // safetensors total for Llama-3.1-70B
            unquantizedParameters: 2_101_346_304,  // embed_tokens + lm_head: 2 × 128,256 × 8,192
            layers: 80, attentionHeads: 64, kvHeads: 8, headDim: 128,  // config.json: num_hidden_layers 80, num_attention_heads 64, num_key_value_heads 8; 8192/64
            hiddenSize: 8_192,  // config.json hidden_size
            maxContextLength: 131_072),  // config.json max_position_embeddings
        ModelProfile(
            id: "meta-llama/Llama-3.1-405B-Instruct", aliases: ["meta-llama/Meta-Llama-3.1-405B-Instruct"],
            parameters: 405_853_388_800,  // safetensors total for Llama-3.1-405B
            unquantizedParameters: 4_202_692_608,  // embed_tokens + lm_head: 2 × 128,256 × 16,384
            layers: 126, attentionHeads: 128, kvHeads: 8, headDim: 128,  // config.json: num_hidden_layers 126, num_attention_heads 128, num_key_value_heads 8
            hiddenSize: 16_384,  // config.json hidden_size
            maxContextLength: 131_072),  // config.json max_position_embeddings
        ModelProfile(
            id: "meta-llama/Llama-3.3-70B-Instruct",
            parameters: 70_553_706_496,  // same architecture as Llama-3.1-70B
            unquantizedParameters: 2_101_346_304,  // embed_tokens + lm_head: 2 × 128,256 × 8,192
            layers: 80, attentionHeads: 64, kvHeads: 8, headDim: 128,  // config.json, as Llama-3.1-70B
            hiddenSize: 8_192,  // config.json hidden_size
            maxContextLength: 131_072),  // config.json max_position_embeddings
        ModelProfile(
            id: "Qwen/Qwen2.5-7B-Instruct",
            parameters: 7_615_616_512,  // safetensors total for Qwen2.5-7B (q/k/v carry biases)
            unquantizedParameters: 1_089_994_752,  // embed_tokens + lm_head (untied): 2 × 152,064 × 3,584
            layers: 28, attentionHeads: 28, kvHeads: 4, headDim: 128,  // config.json: num_hidden_layers 28, num_attention_heads 28, num_key_value_heads 4; 3584/28
            hiddenSize: 3_584,  // config.json hidden_size
            maxContextLength: 32_768),  // config.json max_position_embeddings (131,072 only with YaRN rope_scaling)
        ModelProfile(
            id: "Qwen/Qwen2.5-72B-Instruct",
            parameters: 72_706_203_648,  // safetensors total for Qwen2.5-72B
            unquantizedParameters: 2_491_416_576,  // embed_tokens + lm_head: 2 × 152,064 × 8,192
            layers: 80, attentionHeads: 64, kvHeads: 8, headDim: 128,  // config.json: num_hidden_layers 80, num_attention_heads 64, num_key_value_heads 8
            hiddenSize: 8_192,  // config.json hidden_size
            maxContextLength: 32_768),  // config.json max_position_embeddings (131,072 only with YaRN rope_scaling)
        ModelProfile(
            id: "mistralai/Mixtral-8x7B-Instruct-v0.1", aliases: ["mistralai/Mixtral-8x7B-v0.1"],
            parameters: 46_702_792_704,  // safetensors total: 8 experts × 32 layers × 3 × 4,096 × 14,336 + attention + embeddings
            activeParameters: 12_879_925_248,  // 2 of 8 experts per token (num_experts_per_tok 2)
            unquantizedParameters: 262_144_000,  // embed_tokens + lm_head: 2 × 32,000 × 4,096
            layers: 32, attentionHeads: 32, kvHeads: 8, headDim: 128,  // config.json: num_hidden_layers 32, num_attention_heads 32, num_key_value_heads 8
            hiddenSize: 4_096,  // config.json hidden_size
            maxContextLength: 32_768),  // config.json max_position_embeddings; sliding_window null
        ModelProfile(
            id: "deepseek-ai/DeepSeek-V3", aliases: ["deepseek-ai/DeepSeek-V3-0324", "deepseek-ai/DeepSeek-V3-Base"],
            parameters: 671_000_000_000,  // technical report: 671B (rounded); the repo's 685B adds the 14B MTP module vLLM skips unless speculating
            activeParameters: 37_000_000_000,  // technical report: 37B activated per token
            unquantizedParameters: 1_853_358_080,  // embed_tokens + lm_head kept bf16: 2 × 129,280 × 7,168
            layers: 61, attentionHeads: 128, kvHeads: 128, headDim: 128,  // config.json: num_hidden_layers 61, num_attention_heads 128, num_key_value_heads 128, v_head_dim 128
            hiddenSize: 7_168,  // config.json hidden_size
            maxContextLength: 163_840,  // config.json max_position_embeddings
            weightsDType: .fp8,  // config.json quantization_config: fp8 e4m3, 128×128 blocks
            attention: .multiHeadLatent(kvLoraRank: 512, ropeHeadDim: 64)),  // config.json kv_lora_rank, qk_rope_head_dim
        ModelProfile(
            id: "deepseek-ai/DeepSeek-R1", aliases: ["deepseek-ai/DeepSeek-R1-0528", "deepseek-ai/DeepSeek-R1-Zero"],
            parameters: 671_000_000_000,  // DeepSeek-V3 architecture: 671B (rounded), MTP module excluded
            activeParameters: 37_000_000_000,  // as DeepSeek-V3
            unquantizedParameters: 1_853_358_080,  // embed_tokens + lm_head kept bf16: 2 × 129,280 × 7,168
            layers: 61, attentionHeads: 128, kvHeads: 128, headDim: 128,  // config.json, as DeepSeek-V3
            hiddenSize: 7_168,  // config.json hidden_size
            maxContextLength: 163_840,  // config.json max_position_embeddings
            weightsDType: .fp8,  // config.json quantization_config: fp8 e4m3
            attention: .multiHeadLatent(kvLoraRank: 512, ropeHeadDim: 64)),  // config.json kv_lora_rank 512, qk_rope_head_dim 64
        ModelProfile(
            id: "openai/gpt-oss-120b",
            parameters: 116_829_156_672,  // model card: 116.8B total
            activeParameters: 5_100_000_000,  // model card: 5.1B active per token (4 of 128 experts)
            // Everything but the expert weight matrices is bf16: attention, router, biases, norms
            // and (untied) embeddings. Experts: 36 layers × 128 × (2,880 × 5,760 + 2,880 × 2,880)
            // = 114,661,785,600 MXFP4 weights. So bytes = 114,661,785,600 × 0.53125 +
            // 2,167,371,072 × 2 = 60.8 GiB, the checkpoint size the model card gives.
            unquantizedParameters: 2_167_371_072,
            layers: 36, attentionHeads: 64, kvHeads: 8, headDim: 64,  // config.json: num_hidden_layers 36, num_attention_heads 64, num_key_value_heads 8, head_dim 64
            hiddenSize: 2_880,  // config.json hidden_size
            maxContextLength: 131_072,  // config.json max_position_embeddings (4,096 × YaRN factor 32)
            weightsDType: .mxfp4,  // config.json quantization_config quant_method mxfp4 (MoE experts)
            slidingWindow: .init(layers: 18, window: 128)),  // config.json layer_types alternate sliding/full; sliding_window 128
    ])
}
