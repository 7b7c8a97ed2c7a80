import Testing
@testable import Sizing

/// Sizing rules. Hand arithmetic in the comments uses GiB = 2³⁰ B and the default
/// ``SizingPolicy``: reserve = 1 GiB + max-num-batched-tokens × hidden × 16 B; derived
/// max-num-batched-tokens 8,192 (prefill) / 1,024 (decode), max-num-seqs 64 / 256.
@Suite struct TierSizerTests {
    let sizer = TierSizer()

    func model(_ id: String) -> ModelProfile {
        guard let profile = ModelCatalog.builtIn.profile(for: id) else { fatalError("no profile for \(id)") }
        return profile
    }

    func accelerator(_ name: String) -> Accelerator {
        guard let entry = AcceleratorCatalog.builtIn.accelerator(named: name) else { fatalError("no accelerator \(name)") }
        return entry
    }

    func request(
        _ tier: Tier, _ modelID: String, on acceleratorName: String?, devices: Int? = nil, _ args: [String] = []
    ) throws -> TierSizingRequest {
        TierSizingRequest(
            tier: tier, model: model(modelID), accelerator: acceleratorName.map(accelerator),
            explicitDevices: devices, args: try EngineArgs(args))
    }

    /// The failure sizing throws, or `nil` (with an issue recorded) when it fits.
    func rejection(_ request: TierSizingRequest) -> SizingFailure? {
        do {
            let sizing = try sizer.size(request)
            Issue.record("expected a failure, got:\n\(sizing.report())")
            return nil
        } catch {
            return error
        }
    }

    // MARK: The seed

    @Test func seedDecodeTierDoesNotFitOnOneH200() throws {
        // Llama-3.1-70B, bf16, decode, 1 H200, --max-model-len=8192:
        //   H200: 143,771 MiB = 150,754,820,096 B; × 0.95 = 143,217,079,091 B = 133.4 GiB
        //   reserve: 1 GiB + 1,024 × 8,192 × 16 B (128 MiB) = 1.125 GiB → usable 132.3 GiB
        //   weights: 70,553,706,496 × 2 B = 141,107,412,992 B = 131.4 GiB, all on the one GPU
        //   left for KV: 132.26 − 131.42 = 0.84 GiB = 2,751 tokens at 320 KiB
        //   one 8,192-token sequence: 8,192 × 327,680 B = 2.5 GiB > 0.84 GiB → vLLM would refuse.
        // At TP 2: 132.26 − 65.71 = 66.5 GiB per GPU.
        let failure = rejection(
            try request(.decode, "meta-llama/Meta-Llama-3.1-70B-Instruct", on: "nvidia-h200", devices: 1, ["--max-model-len=8192"]))
        #expect(failure?.rule == .kvCacheBelowOneSequence)
        #expect(failure?.rule.reason == "ModelDoesNotFit")
        #expect(failure?.tier == .decode)
        for figure in ["131.4 GiB", "133.4 GiB", "0.95", "8,192-token", "2.5 GiB", "320 KiB"] {
            #expect(failure?.message.contains(figure) == true, "message lacks \(figure): \(failure?.message ?? "")")
        }
        #expect(failure?.smallestFit == "tensor parallel 2 (2 GPUs per replica) fits with 66.5 GiB for KV cache per GPU")
        #expect(failure?.arithmetic.contains("weights: 70,553,706,496 params × 2 B (bfloat16) = 131.4 GiB ÷ TP 1 = 131.4 GiB per GPU") == true)
    }

    @Test func seedPrefillTierFitsOnTwoH200s() throws {
        // Llama-3.1-70B, prefill, 2 H200s, --tensor-parallel-size=2 --max-model-len=8192:
        //   usable: 133.4 GiB − (1 GiB + 8,192 × 8,192 × 16 B = 2 GiB) = 131.4 GiB per GPU
        //   weights: 131.4 GiB ÷ 2 = 70,553,706,496 B = 65.7 GiB per GPU
        //   KV: 143,217,079,091 − 2,147,483,648 − 70,553,706,496 = 70,515,888,947 B = 65.7 GiB
        //   per token per GPU: 2 × 80 × 4 heads × 128 × 2 = 163,840 B → 430,394 tokens
        let sizing = try sizer.size(
            try request(.prefill, "meta-llama/Meta-Llama-3.1-70B-Instruct", on: "nvidia-h200", devices: 2,
                        ["--tensor-parallel-size=2", "--max-model-len=8192"]))
        #expect(sizing.tensorParallelSize == SizedValue(2, .explicit))
        #expect(sizing.devices == SizedValue(2, .explicit))
        #expect(sizing.maxModelLen == SizedValue(8_192, .explicit))
        #expect(sizing.gpuMemoryUtilization == SizedValue(0.95, .derived))
        #expect(sizing.maxNumBatchedTokens == SizedValue(8_192, .derived))
        #expect(sizing.maxNumSeqs == SizedValue(64, .derived))
        #expect(sizing.weightsBytesPerDevice == 70_553_706_496)
        #expect(sizing.reserveBytesPerDevice == 2 << 30)
        #expect(sizing.usableBytesPerDevice == 141_069_595_443)
        #expect(sizing.kvCacheBytesPerDevice == 70_515_888_947)
        #expect(sizing.kvCacheBytesPerToken == 327_680)
        #expect(sizing.kvCacheBytesPerTokenPerDevice == 163_840)
        #expect(sizing.kvCacheTokens == 430_394)
        // The user's flags stay as written; Tandem only adds what they left out.
        #expect(sizing.derivedFlags == ["--gpu-memory-utilization=0.95", "--max-num-seqs=64", "--max-num-batched-tokens=8192"])
        #expect(sizing.engineArgs == ["--tensor-parallel-size=2", "--max-model-len=8192"] + sizing.derivedFlags)
        // Pod: 4 CPU per GPU; 8 GiB + 8 GiB per GPU + 20 GiB /dev/shm (llm-d) for TP > 1.
        #expect(sizing.cpu == 8)
        #expect(sizing.shmBytes == 20 << 30)
        #expect(sizing.memoryBytes == 44 << 30)
    }

    // MARK: Derived --max-model-len

    @Test func llama8BOnOneL4GetsAMaxModelLenFarBelowItsMaximum() throws {
        // L4: 23,034 MiB × 0.90 = 20.2 GiB; reserve 1 GiB + 1,024 × 4,096 × 16 B = 1.06 GiB
        // weights 8,030,261,248 × 2 B = 15.0 GiB → KV 4.22 GiB ÷ 128 KiB = 34,608 tokens
        // room for 2 sequences: 17,304 → multiple of 1,024 below: 16,384 (model max 131,072).
        let sizing = try sizer.size(try request(.decode, "meta-llama/Llama-3.1-8B-Instruct", on: "nvidia-l4", devices: 1))
        #expect(sizing.kvCacheTokens == 34_608)
        #expect(sizing.maxModelLen == SizedValue(16_384, .derived))
        #expect(sizing.maxModelLen.value < 131_072 / 4)
        #expect(sizing.tensorParallelSize == SizedValue(1, .derived))
        #expect(sizing.derivedFlags.contains("--max-model-len=16384"))
        #expect(sizing.derivedFlags.contains("--tensor-parallel-size=1"))
    }

    @Test func theDerivedMaxModelLenStopsAtTheModelMaximum() throws {
        // DeepSeek-V3 on 8 H200s holds 824,214 tokens; half is above the 163,840 maximum.
        let sizing = try sizer.size(try request(.decode, "deepseek-ai/DeepSeek-V3", on: "nvidia-h200"))
        #expect(sizing.maxModelLen == SizedValue(163_840, .derived))
    }

    @Test func tooLittleCacheToDeriveAnyLengthFails() throws {
        // 70B on one H200 without --max-model-len: 2,751 tokens ÷ 2 = 1,375 → 1,024 fits.
        // With --gpu-memory-utilization 0.94: 150,754,820,096 × 0.94 = 141,709,530,890 B;
        // − 1.125 GiB − 141,107,412,992 = −605,818,470 B → the weights no longer fit.
        let fits = try sizer.size(try request(.decode, "meta-llama/Llama-3.1-70B-Instruct", on: "h200", devices: 1))
        #expect(fits.maxModelLen == SizedValue(1_024, .derived))
        let failure = rejection(
            try request(.decode, "meta-llama/Llama-3.1-70B-Instruct", on: "h200", devices: 1, ["--gpu-memory-utilization=0.94"]))
        #expect(failure?.rule == .weightsDoNotFit)
        #expect(failure?.smallestFit?.hasPrefix("tensor parallel 2 (2 GPUs per replica)") == true)
        // At 0.945: 142,463,304,990 − 1,207,959,552 − 141,107,412,992 = 147,932,446 B
        // = 451 tokens, below the 2 × 1,024 Tandem derives for.
        let tooSmall = rejection(
            try request(.decode, "meta-llama/Llama-3.1-70B-Instruct", on: "h200", devices: 1, ["--gpu-memory-utilization=0.945"]))
        #expect(tooSmall?.rule == .kvCacheBelowOneSequence)
        #expect(tooSmall?.message.contains("2 sequences of 1,024 tokens") == true)
    }

    // MARK: Tensor-parallel search

    @Test func llama70BWithNothingExplicitPicksTP2OnH200() throws {
        // TP 1: 2,751 tokens (above). TP 2: 132.26 − 65.71 = 66.55 GiB ÷ 160 KiB = 436,129
        // tokens ≥ 2 × 32,768 → TP 2; derived length = min(436,129 ÷ 2, 131,072) = 131,072.
        let sizing = try sizer.size(try request(.decode, "meta-llama/Llama-3.1-70B-Instruct", on: "nvidia-h200"))
        #expect(sizing.tensorParallelSize == SizedValue(2, .derived))
        #expect(sizing.devices == SizedValue(2, .derived))
        #expect(sizing.kvCacheTokens == 436_129)
        #expect(sizing.maxModelLen == SizedValue(131_072, .derived))
        #expect(sizing.derivedFlags == [
            "--tensor-parallel-size=2", "--gpu-memory-utilization=0.95", "--max-model-len=131072",
            "--max-num-seqs=256", "--max-num-batched-tokens=1024",
        ])
    }

    @Test func llama70BWithNothingExplicitPicksTP4OnH100() throws {
        // H100: 81,559 MiB × 0.90 = 71.68 GiB; − 1.125 GiB reserve = 70.56 GiB usable.
        // TP 1: 131.4 GiB of weights > 70.56 → no.
        // TP 2: 70.56 − 65.71 = 4.85 GiB ÷ 160 KiB = 31,781 tokens < 2 × 32,768 → not enough room.
        // TP 4: 70.56 − 32.85 = 37.70 GiB ÷ 80 KiB = 494,188 tokens → TP 4, length 131,072.
        let sizing = try sizer.size(try request(.decode, "meta-llama/Llama-3.1-70B-Instruct", on: "nvidia-h100"))
        #expect(sizing.tensorParallelSize == SizedValue(4, .derived))
        #expect(sizing.kvCacheTokens == 494_188)
        #expect(sizing.gpuMemoryUtilization == SizedValue(0.90, .derived))
        #expect(sizing.maxModelLen.value == 131_072)
        #expect(sizing.arithmetic.first?.contains("TP 2: 31,781 tokens < 2 × 32,768") == true)
    }

    @Test func anExplicitMaxModelLenSetsTheSearchTarget() throws {
        // With --max-model-len=8192 the goal is 2 × 8,192 tokens, which TP 2's 31,781 meet.
        let sizing = try sizer.size(
            try request(.decode, "meta-llama/Llama-3.1-70B-Instruct", on: "nvidia-h100", ["--max-model-len=8192"]))
        #expect(sizing.tensorParallelSize == SizedValue(2, .derived))
        #expect(sizing.maxModelLen == SizedValue(8_192, .explicit))
        #expect(!sizing.derivedFlags.contains { $0.hasPrefix("--max-model-len") })
    }

    @Test func whenNoSizeMeetsTheGoalTheLargestThatFitsWins() throws {
        // Qwen2.5-72B on L4s: usable 21,737,609,625 − 1,207,959,552 B; weights
        // 145,412,407,296 B. TP 4: 36,353,101,824 B per GPU does not fit. TP 8: 18,176,550,912
        // per GPU leaves 2,353,099,161 B ÷ 40,960 = 57,448 tokens < 2 × 32,768, but fits →
        // TP 8, length 57,448 ÷ 2 = 28,724 → 28,672.
        let sizing = try sizer.size(try request(.decode, "Qwen/Qwen2.5-72B-Instruct", on: "nvidia-l4"))
        #expect(sizing.tensorParallelSize == SizedValue(8, .derived))
        #expect(sizing.kvCacheTokens == 57_448)
        #expect(sizing.maxModelLen == SizedValue(28_672, .derived))
        #expect(sizing.arithmetic.first?.hasSuffix("none reaches the goal; the largest that fits → TP 8") == true)
    }

    @Test func llama405BAtBF16DoesNotFitOnOneH100Node() throws {
        // 405,853,388,800 × 2 B = 756.0 GiB; at TP 8 that is 94.5 GiB per GPU against
        // 71.68 − (1 GiB + 1,024 × 16,384 × 16 B = 1.25 GiB) = 70.4 GiB usable. A larger
        // replica would be multi-node.
        // fp8: (405,853,388,800 − 4,202,692,608) × 1 + 4,202,692,608 × 2 = 381.9 GiB ÷ 8
        // = 47.7 GiB → 22.7 GiB of KV per GPU.
        let failure = rejection(try request(.decode, "meta-llama/Llama-3.1-405B-Instruct", on: "nvidia-h100"))
        #expect(failure?.rule == .weightsDoNotFit)
        #expect(failure?.message.contains("94.5 GiB per GPU") == true)
        #expect(failure?.message.contains("70.4 GiB is usable") == true)
        #expect(failure?.message.contains("multi-node") == true)
        #expect(failure?.smallestFit == "--quantization=fp8 with tensor parallel 8 (8 GPUs per replica) fits with 22.7 GiB for KV cache per GPU")
    }

    @Test func llama405BAtFP8FitsOnOneH100Node() throws {
        let sizing = try sizer.size(
            try request(.decode, "meta-llama/Llama-3.1-405B-Instruct", on: "nvidia-h100", ["--quantization=fp8"]))
        #expect(sizing.tensorParallelSize.value == 8)
        #expect(sizing.weightsDType == .fp8)
        #expect(sizing.weightsBytes == 410_056_081_408)
    }

    @Test func deepSeekV3UsesLatentAttentionBytesOnEightH200s() throws {
        // fp8 weights 672,853,358,080 B = 626.6 GiB: only TP 8 (78.3 GiB per GPU) fits.
        // KV: 132.26 − 78.33 = 53.9 GiB; the latent is 61 × 576 × 2 = 70,272 B on every GPU.
        let sizing = try sizer.size(try request(.decode, "deepseek-ai/DeepSeek-V3", on: "nvidia-h200"))
        #expect(sizing.tensorParallelSize.value == 8)
        #expect(sizing.kvCacheBytesPerToken == 70_272)
        #expect(sizing.kvCacheBytesPerTokenPerDevice == 70_272)
        #expect(sizing.kvCacheTokens == 824_214)
        #expect(sizing.arithmetic.contains { $0.contains("61 layers × (512 kv_lora_rank + 64 rope dims) × 2 B (bfloat16) = 68.6 KiB") })
    }

    @Test func gptOSSSetsAsideSlidingWindowsPerSequence() throws {
        // H100, TP 1: usable 71.68 − (1 GiB + 1,024 × 2,880 × 16 B) = 70.64 GiB; weights
        // 60.77 GiB → KV 9.87 GiB. Windows: 256 seqs × 18 layers × 2,048 B × 128 tokens
        // = 1,207,959,552 B. (10,599,… − 1,207,959,552) ÷ 36,864 = 254,747 tokens;
        // ÷ 2 = 127,373 → 126,976.
        let sizing = try sizer.size(try request(.decode, "openai/gpt-oss-120b", on: "nvidia-h100"))
        #expect(sizing.tensorParallelSize.value == 1)
        #expect(sizing.weightsDType == .mxfp4)
        #expect(sizing.kvCacheTokens == 254_747)
        #expect(sizing.maxModelLen.value == 126_976)
    }

    @Test func tpuChipsAreSizedAndNamedAsChips() throws {
        // v5e: 16 GiB × 0.90 = 14.4 GiB. Llama-3.1-8B: TP 1 cannot hold 15.0 GiB of weights;
        // TP 2: 15,461,882,265 − 1,140,850,688 − 8,030,261,248 = 6,290,770,329 B ÷ 65,536
        // = 95,989 tokens ≥ 2 × 32,768 → TP 2; length 95,989 ÷ 2 → 47,104.
        let sizing = try sizer.size(try request(.decode, "meta-llama/Llama-3.1-8B-Instruct", on: "google-tpu-v5e"))
        #expect(sizing.tensorParallelSize.value == 2)
        #expect(sizing.kvCacheTokens == 95_989)
        #expect(sizing.maxModelLen.value == 47_104)
        #expect(sizing.report().contains("= 2 TPU chips per replica"))
    }

    @Test func moreDevicesMeanMoreCache() throws {
        var previous = 0
        for devices in [2, 4, 8] {
            let sizing = try sizer.size(
                try request(.decode, "meta-llama/Llama-3.1-70B-Instruct", on: "h100", devices: devices, ["--max-model-len=8192"]))
            #expect(sizing.kvCacheTokens ?? 0 > previous)
            previous = sizing.kvCacheTokens ?? 0
        }
    }

    // MARK: Layout rules

    @Test func tensorParallel3IsInvalidFor64Heads() throws {
        for name in ["nvidia-h200", nil] as [String?] {
            let failure = rejection(
                try request(.decode, "meta-llama/Llama-3.1-70B-Instruct", on: name, devices: 3, ["--tensor-parallel-size=3"]))
            #expect(failure?.rule == .invalidTensorParallel)
            #expect(failure?.message.contains("64 attention heads") == true)
            #expect(failure?.message.contains("valid: 1, 2, 4, 8") == true)
        }
    }

    @Test func threeGPUsAloneAlsoMeanAnInvalidTensorParallelSize() throws {
        let failure = rejection(try request(.prefill, "meta-llama/Llama-3.1-70B-Instruct", on: "h200", devices: 3))
        #expect(failure?.rule == .invalidTensorParallel)
        #expect(failure?.smallestFit?.hasPrefix("tensor parallel 2") == true)
    }

    @Test func tensorParallel2WithOneGPUIsAMismatch() throws {
        for name in ["nvidia-h200", nil] as [String?] {
            let failure = rejection(
                try request(.decode, "meta-llama/Llama-3.1-70B-Instruct", on: name, devices: 1, ["--tensor-parallel-size=2"]))
            #expect(failure?.rule == .tensorParallelMismatchesDevices)
            #expect(failure?.message.contains("resources request 1") == true)
        }
    }

    @Test func pipelineParallelCountsTowardTheDevices() throws {
        // 4 GPUs with --pipeline-parallel-size=2 → TP 2; weights 131.4 GiB ÷ 4 = 32.9 GiB.
        let sizing = try sizer.size(
            try request(.decode, "meta-llama/Llama-3.1-70B-Instruct", on: "h100", devices: 4, ["--pipeline-parallel-size=2"]))
        #expect(sizing.tensorParallelSize == SizedValue(2, .derived))
        #expect(sizing.pipelineParallelSize == SizedValue(2, .explicit))
        #expect(sizing.weightsBytesPerDevice == 35_276_853_248)
        let mismatch = rejection(
            try request(.decode, "meta-llama/Llama-3.1-70B-Instruct", on: "h100", devices: 4,
                        ["--pipeline-parallel-size=2", "--tensor-parallel-size=4"]))
        #expect(mismatch?.rule == .tensorParallelMismatchesDevices)
    }

    @Test func moreDevicesThanANodeHasFails() throws {
        let failure = rejection(
            try request(.decode, "meta-llama/Llama-3.1-405B-Instruct", on: "h100", ["--tensor-parallel-size=16"]))
        #expect(failure?.rule == .moreDevicesThanNode)
        #expect(failure?.message.contains("16 GPUs per replica but a node of nvidia-h100 has 8") == true)
    }

    // MARK: Explicit values win

    @Test func explicitEngineLimitsAreKeptAndDriveTheReserve() throws {
        // Reserve with 4,096 batched tokens: 1 GiB + 4,096 × 8,192 × 16 B = 1.5 GiB.
        let sizing = try sizer.size(
            try request(.decode, "meta-llama/Llama-3.1-70B-Instruct", on: "h200", devices: 2,
                        ["--gpu-memory-utilization=0.85", "--max-num-seqs=512", "--max-num-batched-tokens=4096"]))
        #expect(sizing.gpuMemoryUtilization == SizedValue(0.85, .explicit))
        #expect(sizing.maxNumSeqs == SizedValue(512, .explicit))
        #expect(sizing.maxNumBatchedTokens == SizedValue(4_096, .explicit))
        #expect(sizing.reserveBytesPerDevice == (1 << 30) + 4_096 * 8_192 * 16)
        #expect(sizing.derivedFlags == ["--tensor-parallel-size=2", "--max-model-len=131072"])
    }

    @Test func derivedBatchedTokensNeverFallBelowMaxNumSeqs() throws {
        let sizing = try sizer.size(
            try request(.decode, "meta-llama/Llama-3.1-8B-Instruct", on: "h100", ["--max-num-seqs=2048"]))
        #expect(sizing.maxNumBatchedTokens == SizedValue(2_048, .derived))
        let lowBatch = try sizer.size(
            try request(.prefill, "meta-llama/Llama-3.1-8B-Instruct", on: "h100", ["--max-num-batched-tokens=32"]))
        #expect(lowBatch.maxNumSeqs == SizedValue(32, .derived))
    }

    @Test func contradictoryBatchFlagsFail() throws {
        let failure = rejection(
            try request(.decode, "meta-llama/Llama-3.1-8B-Instruct", on: "h100", ["--max-num-seqs=512", "--max-num-batched-tokens=256"]))
        #expect(failure?.rule == .contradictoryFlags)
    }

    @Test func maxModelLenBeyondTheModelFails() throws {
        let failure = rejection(try request(.decode, "Qwen/Qwen2.5-7B-Instruct", on: "h100", ["--max-model-len=65536"]))
        #expect(failure?.rule == .maxModelLenExceedsModel)
        #expect(failure?.smallestFit == "--max-model-len=32768")
    }

    @Test func fp8KVCacheDoublesTheTokens() throws {
        // Same budget as the TP 2 H200 decode case (66.55 GiB), at 80 KiB per token per GPU.
        let sizing = try sizer.size(
            try request(.decode, "meta-llama/Llama-3.1-70B-Instruct", on: "h200", devices: 2, ["--kv-cache-dtype=fp8"]))
        #expect(sizing.kvCacheDType == .fp8)
        #expect(sizing.kvCacheBytesPerToken == 163_840)
        #expect(sizing.kvCacheTokens == 872_258)
    }

    @Test func fp8QuantizationLetsLlama70BRunOnOneH200() throws {
        // Weights 72,655,052,800 B = 67.7 GiB; 132.26 − 67.67 = 64.6 GiB of KV cache.
        let sizing = try sizer.size(
            try request(.decode, "meta-llama/Llama-3.1-70B-Instruct", on: "h200", devices: 1, ["--quantization=fp8", "--max-model-len=8192"]))
        #expect(sizing.weightsBytesPerDevice == 72_655_052_800)
        #expect(sizing.tensorParallelSize == SizedValue(1, .derived))
    }

    @Test func anUnknownQuantizationMethodKeepsTheProfileBytesAndSaysSo() throws {
        let sizing = try sizer.size(
            try request(.decode, "meta-llama/Llama-3.1-8B-Instruct", on: "h100", ["--quantization=compressed-tensors"]))
        #expect(sizing.weightsDType == .bfloat16)
        #expect(sizing.notes.contains { $0.contains("compressed-tensors") })
    }

    // MARK: Unknown accelerator

    @Test func anUnknownAcceleratorSkipsTheMemoryCheckAndSaysSo() throws {
        let sizing = try sizer.size(try request(.decode, "meta-llama/Llama-3.1-70B-Instruct", on: nil, devices: 2))
        #expect(!sizing.memoryChecked)
        #expect(sizing.notes.contains { $0.contains("memory not checked") })
        #expect(sizing.usableBytesPerDevice == nil && sizing.kvCacheBytesPerDevice == nil && sizing.kvCacheTokens == nil)
        #expect(sizing.tensorParallelSize == SizedValue(2, .derived))
        #expect(sizing.maxModelLen == SizedValue(131_072, .engineDefault))
        #expect(sizing.gpuMemoryUtilization == SizedValue(0.90, .engineDefault))
        #expect(sizing.derivedFlags == ["--tensor-parallel-size=2", "--max-num-seqs=256", "--max-num-batched-tokens=1024"])
        #expect(sizing.weightsBytesPerDevice == 70_553_706_496)
        #expect(sizing.report().contains("memory not checked"))
    }

    @Test func anUnknownAcceleratorWithNothingExplicitAssumesOneDevice() throws {
        let sizing = try sizer.size(try request(.prefill, "meta-llama/Llama-3.1-8B-Instruct", on: nil))
        #expect(sizing.tensorParallelSize == SizedValue(1, .engineDefault))
        #expect(sizing.devices == SizedValue(1, .derived))
        #expect(sizing.shmBytes == 1 << 30)
        #expect(sizing.notes.contains { $0.contains("tensor parallel 1 assumed") })
    }

    // MARK: Reports

    @Test func theReportShowsTheDecisionAndTheArithmetic() throws {
        let report = try sizer.size(try request(.decode, "meta-llama/Llama-3.1-70B-Instruct", on: "nvidia-h200")).report()
        let lines = report.split(separator: "\n").map(String.init)
        #expect(lines.first == "decode tier of meta-llama/Llama-3.1-70B-Instruct on nvidia-h200: fits")
        #expect(lines.contains("  tensor parallel 2 (derived) × pipeline parallel 1 (vLLM default) = 2 GPUs per replica (derived)"))
        #expect(lines.contains("  --max-model-len 131,072 (derived), --gpu-memory-utilization 0.95 (derived)"))
        #expect(lines.contains("  weights bfloat16, KV cache bfloat16: 436,129 tokens per replica"))
        #expect(lines.contains("arithmetic:"))
        #expect(lines.contains("  weights: 70,553,706,496 params × 2 B (bfloat16) = 131.4 GiB ÷ TP 2 = 65.7 GiB per GPU"))
        #expect(lines.contains("  KV per token: 2 × 80 layers × 8 KV heads × 128 head dim × 2 B (bfloat16) = 320 KiB; at TP 2: 160 KiB per GPU"))
    }

    @Test func theFailureReportShowsWhatWouldFit() throws {
        let failure = rejection(
            try request(.decode, "meta-llama/Llama-3.1-70B-Instruct", on: "nvidia-h200", devices: 1, ["--max-model-len=8192"]))
        let report = failure?.report() ?? ""
        #expect(report.hasPrefix("decode tier: does not fit (kvCacheBelowOneSequence)"))
        #expect(report.contains("  would fit: tensor parallel 2 (2 GPUs per replica)"))
        #expect(report.contains("  usable: 133.4 GiB − 1.1 GiB = 132.3 GiB per GPU"))
    }

    @Test func catalogLookupFailuresHaveTheirOwnRules() {
        #expect(SizingFailure.unknownModel("acme/model").rule == .unknownModel)
        #expect(SizingFailure.unknownAccelerator("nvidia-t4").message.contains("nvidia-h200"))
    }
}
