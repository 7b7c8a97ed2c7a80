import Testing
@testable import Sizing

@Suite struct ModelCatalogTests {
    let catalog = ModelCatalog.builtIn

    func model(_ id: String) -> ModelProfile {
        guard let profile = catalog.profile(for: id) else { fatalError("no profile for \(id)") }
        return profile
    }

    /// KV-cache bytes per token at bf16, from data/README.md.
    @Test(arguments: [
        // 2 × 32 layers × 8 KV heads × 128 head dim × 2 B = 131,072 B = 128 KiB
        ("meta-llama/Llama-3.1-8B-Instruct", 131_072),
        // 2 × 80 × 8 × 128 × 2 = 327,680 B = 320 KiB
        ("meta-llama/Llama-3.1-70B-Instruct", 327_680),
        ("meta-llama/Llama-3.3-70B-Instruct", 327_680),
        // 2 × 126 × 8 × 128 × 2 = 516,096 B = 504 KiB
        ("meta-llama/Llama-3.1-405B-Instruct", 516_096),
        // 2 × 80 × 8 × 128 × 2 = 320 KiB
        ("Qwen/Qwen2.5-72B-Instruct", 327_680),
        // 2 × 28 × 4 × 128 × 2 = 57,344 B = 56 KiB (not in data/README.md; from config.json)
        ("Qwen/Qwen2.5-7B-Instruct", 57_344),
        // 2 × 32 × 8 × 128 × 2 = 128 KiB
        ("mistralai/Mixtral-8x7B-Instruct-v0.1", 131_072),
        // MLA: 61 layers × (512 + 64) × 2 B = 70,272 B = 68.625 KiB ("68.6 KiB")
        ("deepseek-ai/DeepSeek-V3", 70_272),
        ("deepseek-ai/DeepSeek-R1", 70_272),
        // full-attention layers only: 2 × 18 × 8 × 64 × 2 = 36,864 B = 36 KiB
        ("openai/gpt-oss-120b", 36_864),
    ])
    func kvCacheBytesPerTokenMatchTheReferenceFigures(id: String, bytes: Int) {
        #expect(model(id).kvCacheBytesPerToken(dtype: .bfloat16) == bytes)
    }

    @Test func deepSeekKVPerTokenPrintsAs68Point6KiB() {
        #expect(kib(model("deepseek-ai/DeepSeek-V3").kvCacheBytesPerToken(dtype: .bfloat16)) == "68.6 KiB")
        #expect(kib(327_680) == "320 KiB")
    }

    @Test func fp8KVCacheHalvesTheBytes() {
        #expect(model("meta-llama/Llama-3.1-70B-Instruct").kvCacheBytesPerToken(dtype: .fp8) == 163_840)
    }

    @Test(arguments: [
        ("meta-llama/Meta-Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"),
        ("meta-llama/Meta-Llama-3.1-70B-Instruct", "meta-llama/Llama-3.1-70B-Instruct"),
        ("meta-llama/Meta-Llama-3.1-405B-Instruct", "meta-llama/Llama-3.1-405B-Instruct"),
    ])
    func renamedLlamaIdsResolveToTheCurrentEntry(oldID: String, currentID: String) {
        #expect(catalog.profile(for: oldID) == catalog.profile(for: currentID))
        #expect(catalog.profile(for: oldID)?.id == currentID)
    }

    @Test func matchingIgnoresCaseAndWhitespace() {
        #expect(catalog.profile(for: " META-LLAMA/meta-llama-3.1-70b-instruct ")?.id == "meta-llama/Llama-3.1-70B-Instruct")
        #expect(catalog.profile(for: "qwen/qwen2.5-72b-instruct")?.id == "Qwen/Qwen2.5-72B-Instruct")
    }

    @Test func baseCheckpointsShareTheirInstructSiblingsArchitecture() {
        #expect(catalog.profile(for: "meta-llama/Llama-3.1-8B")?.id == "meta-llama/Llama-3.1-8B-Instruct")
        #expect(catalog.profile(for: "meta-llama/Meta-Llama-3.1-70B")?.id == "meta-llama/Llama-3.1-70B-Instruct")
        #expect(catalog.profile(for: "Qwen/Qwen2.5-7B")?.id == "Qwen/Qwen2.5-7B-Instruct")
        #expect(catalog.profile(for: "mistralai/Mixtral-8x7B-v0.1")?.id == "mistralai/Mixtral-8x7B-Instruct-v0.1")
        #expect(catalog.profile(for: "deepseek-ai/DeepSeek-V3-0324")?.id == "deepseek-ai/DeepSeek-V3")
    }

    @Test func unknownOrDifferentCheckpointsFindNothing() {
        #expect(catalog.profile(for: "acme/llama-3.1-70b-instruct") == nil)
        #expect(catalog.profile(for: "meta-llama/Llama-3.1-70B-Instruct-FP8") == nil)
        #expect(catalog.profile(for: "") == nil)
    }

    @Test func llama70BParameterCountFollowsFromItsConfig() {
        // config.json: hidden 8,192, intermediate 28,672, 80 layers, 64 heads, 8 KV heads,
        // vocab 128,256, untied embeddings. Per layer: q,o 8,192² each; k,v 8,192 × 1,024 each;
        // MLP 3 × 8,192 × 28,672; two norms of 8,192.
        let perLayer = 2 * 8_192 * 8_192 + 2 * 8_192 * 1_024 + 3 * 8_192 * 28_672 + 2 * 8_192
        let total = 80 * perLayer + 2 * 128_256 * 8_192 + 8_192
        #expect(total == 70_553_706_496)
        #expect(model("meta-llama/Llama-3.1-70B-Instruct").parameters == total)
    }

    @Test func weightsBytesUseTheCheckpointPrecision() {
        // 70,553,706,496 × 2 B = 141,107,412,992 B = 131.4 GiB (API.md's seed figure)
        let llama = model("meta-llama/Llama-3.1-70B-Instruct")
        #expect(llama.weightsBytes(dtype: .bfloat16) == 141_107_412_992)
        #expect(gib(llama.weightsBytes(dtype: .bfloat16)) == "131.4 GiB")
        // Online fp8 keeps embeddings and lm_head at bf16:
        // (70,553,706,496 − 2,101,346,304) × 1 + 2,101,346,304 × 2 = 72,655,052,800
        #expect(llama.weightsBytes(dtype: .fp8) == 72_655_052_800)
        // DeepSeek-V3's fp8 checkpoint: 669,146,641,920 × 1 + 1,853,358,080 × 2 = 672,853,358,080
        #expect(model("deepseek-ai/DeepSeek-V3").weightsBytes(dtype: .fp8) == 672_853_358_080)
        // gpt-oss-120b: 114,661,785,600 MXFP4 expert weights × 0.53125 + 2,167,371,072 bf16 × 2
        // = 60,914,073,600 + 4,334,742,144 = 65,248,815,744 B = 60.8 GiB (the model card's size)
        let gptOSS = model("openai/gpt-oss-120b")
        #expect(gptOSS.weightsBytes(dtype: gptOSS.weightsDType) == 65_248_815_744)
        #expect(gib(65_248_815_744) == "60.8 GiB")
    }

    @Test func slidingWindowLayersHoldOnlyTheWindow() {
        // gpt-oss-120b, 8,192 tokens: 18 full layers × 2,048 B × 8,192 + 18 sliding layers
        // × 2,048 B × 128 = 301,989,888 + 4,718,592
        let gptOSS = model("openai/gpt-oss-120b")
        #expect(gptOSS.kvCacheBytesPerDevice(sequenceLength: 8_192, dtype: .bfloat16, tensorParallel: 1) == 306_708_480)
        // Shorter than the window: both kinds of layer hold every token.
        #expect(gptOSS.kvCacheBytesPerDevice(sequenceLength: 100, dtype: .bfloat16, tensorParallel: 1) == 36 * 2_048 * 100)
    }

    @Test func tensorParallelSplitsKVHeadsButNotTheLatent() {
        let llama = model("meta-llama/Llama-3.1-70B-Instruct")
        // 8 KV heads over 2 ranks: 4 per rank → 163,840 B; over 16 ranks each keeps one copy
        // of a head: 2 × 80 × 1 × 128 × 2 = 40,960 B.
        #expect(llama.kvCacheBytesPerTokenPerDevice(dtype: .bfloat16, tensorParallel: 2) == 163_840)
        #expect(llama.kvCacheBytesPerTokenPerDevice(dtype: .bfloat16, tensorParallel: 16) == 40_960)
        // Pipeline parallel 2: 40 layers per stage.
        #expect(llama.kvCacheBytesPerTokenPerDevice(dtype: .bfloat16, tensorParallel: 1, pipelineParallel: 2) == 163_840)
        // MLA: every rank holds the whole 70,272 B latent.
        let deepSeek = model("deepseek-ai/DeepSeek-V3")
        #expect(deepSeek.kvCacheBytesPerTokenPerDevice(dtype: .bfloat16, tensorParallel: 8) == 70_272)
    }

    @Test func tensorParallelSizesMustSuitTheHeads() {
        #expect(model("meta-llama/Llama-3.1-70B-Instruct").validTensorParallelSizes(upTo: 8) == [1, 2, 4, 8])
        #expect(!model("meta-llama/Llama-3.1-70B-Instruct").acceptsTensorParallel(3))
        // Qwen2.5-7B: 28 heads, 4 KV heads. 7 divides 28 but neither divides nor is a multiple of 4.
        let qwen = model("Qwen/Qwen2.5-7B-Instruct")
        #expect(qwen.validTensorParallelSizes(upTo: 8) == [1, 2, 4])
        #expect(!qwen.acceptsTensorParallel(7) && !qwen.acceptsTensorParallel(14) && qwen.acceptsTensorParallel(28))
        #expect(!qwen.acceptsTensorParallel(0))
    }

    @Test func everyEntryIsSelfConsistent() {
        for profile in catalog.models {
            #expect(profile.attentionHeads % profile.kvHeads == 0, "\(profile.id)")
            #expect(profile.activeParameters <= profile.parameters, "\(profile.id)")
            #expect(profile.unquantizedParameters < profile.parameters, "\(profile.id)")
            #expect(profile.fullAttentionLayers > 0 && profile.maxContextLength >= 32_768, "\(profile.id)")
        }
    }
}

@Suite struct DTypeTests {
    @Test func bytesPerElement() {
        #expect(DType.bfloat16.bytesPerElement == 2 && DType.float16.bytesPerElement == 2)
        #expect(DType.float32.bytesPerElement == 4)
        #expect(DType.fp8.bytesPerElement == 1 && DType.int8.bytesPerElement == 1)
        #expect(DType.int4.bytesPerElement == 0.5)
        // 4-bit values plus one 8-bit scale per 32: 4.25 bits.
        #expect(DType.mxfp4.bytesPerElement == 4.25 / 8)
    }

    @Test func parsesConfigAndFlagSpellings() {
        #expect(DType(name: "BF16") == .bfloat16)
        #expect(DType(name: "half") == .float16)
        #expect(DType(name: "float") == .float32)
        #expect(DType(name: "fp8_e4m3") == .fp8)
        #expect(DType(name: "int3") == nil)
        #expect(DType(quantizationMethod: "fp8") == .fp8)
        #expect(DType(quantizationMethod: "AWQ") == .int4)
        #expect(DType(quantizationMethod: "mxfp4") == .mxfp4)
        #expect(DType(quantizationMethod: "compressed-tensors") == nil)
    }
}
