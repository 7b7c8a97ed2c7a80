import Sizing

/// The duration of one vLLM engine step (one forward pass over a batch) for one model on one
/// replica: a model, an accelerator, a tensor-parallel size and the weight and KV-cache dtypes.
///
/// A step runs `d` decode sequences (one token each, sequence `i` reading `cᵢ` cached tokens) and
/// prefill chunks (chunk `j` computes `tⱼ` new tokens after `pⱼ` already-cached ones). In seconds:
///
/// ```
/// t = overhead + max(memory, compute) + transfer + s · (d + chunks)
/// overhead = o + 2 · layers · ℓ · (TP − 1)
/// memory   = (weightsBytesPerDevice + kvBytesPerTokenPerDevice · (Σcᵢ + Σpⱼ)) / (bandwidth · η)
/// compute  = (2 · activeParameters · (d + Σtⱼ) + 4 · layers · heads · headDim · Σ tⱼ(pⱼ + (tⱼ+1)/2))
///            / (TP · denseBF16FLOPS · MFU)
/// transfer = (d + Σtⱼ) · 2 · layers · hidden · 2 B · 2(TP − 1)/TP / (interconnect · κ)   (0 at TP 1)
/// ```
///
/// - `overhead`: a fixed cost per step `o` plus two ring all-reduces per layer, each paying a
///   latency `ℓ` per ring hop (TP − 1 hops each way, so the cost grows with TP).
/// - `memory`: every step reads the device's weights and the KV cache of every sequence in the
///   batch; `compute`: the matmuls (2 FLOP per active parameter per token) plus causal attention
///   (QKᵀ and AV: 4 · heads · headDim FLOP per query–key pair per layer). The step takes the
///   larger of the two (a roofline): decode is memory-bound, a long prefill compute-bound, and a
///   prefill is never faster than one read of the weights.
/// - `transfer`: the all-reduces' bytes (the hidden state of every token, in bf16, twice per
///   layer) over the interconnect at efficiency `κ`.
/// - `s`: a cost per scheduled sequence (sampling, per-sequence metadata and kernels).
///
/// So a decode step at batch `b` with average context `c` is `α + β·b` with
/// `α = o + 2·layers·ℓ·(TP−1) + weightsBytesPerDevice / (bandwidth·η)` and
/// `β = c · kvBytesPerTokenPerDevice / (bandwidth·η) + s + transfer per token`, while compute stays
/// below memory (``decodeStepTime(batch:contextTokens:)``).
///
/// The efficiency constants are global (not per model or device) and fitted to measured step
/// times (``Calibration``). Caveats: compute is counted at the dense bf16 rate whatever the dtype
/// (FP8 matmuls on Hopper may be up to twice as fast); pipeline parallelism is not modelled beyond
/// the weights split that a ``Sizing/TierSizing`` reports; attention compute of decode sequences
/// is left out (it is tiny next to their KV reads).
public struct StepTimeModel: Sendable, Hashable {
    /// The efficiency constants of the formula, shared by every model and device.
    public struct Efficiency: Sendable, Hashable {
        /// `η`: the fraction of peak memory bandwidth a step achieves.
        public var memoryBandwidth: Double
        /// `MFU`: the fraction of dense bf16 peak the matmuls achieve.
        public var modelFLOPS: Double
        /// `o`: fixed cost of a step (scheduling, kernel launches), seconds.
        public var stepOverheadSeconds: Double
        /// `ℓ`: latency per ring hop of one all-reduce, seconds.
        public var allReduceHopSeconds: Double
        /// `s`: cost per scheduled sequence, seconds.
        public var sequenceOverheadSeconds: Double
        /// `κ`: the fraction of peak interconnect bandwidth the all-reduces achieve.
        public var interconnect: Double

        /// Constants as given; see each property.
        public init(
            memoryBandwidth: Double, modelFLOPS: Double, stepOverheadSeconds: Double, allReduceHopSeconds: Double,
            sequenceOverheadSeconds: Double, interconnect: Double
        ) {
            self.memoryBandwidth = memoryBandwidth
            self.modelFLOPS = modelFLOPS
            self.stepOverheadSeconds = stepOverheadSeconds
            self.allReduceHopSeconds = allReduceHopSeconds
            self.sequenceOverheadSeconds = sequenceOverheadSeconds
            self.interconnect = interconnect
        }

        /// Fitted to Splitwise's Llama-2-70B on DGX-A100/H100 at TP 2/4/8 and SageServe's
        /// Llama-3.1-8B on A100 at TP 2/4 (``Calibration/measurements``) by minimising
        /// ``Calibration/loss(_:)`` (mean |log error| of prompt and token times, each data set
        /// weighted equally) with Nelder–Mead, offline; rounded to three digits. A test checks
        /// that moving any one constant by ±5 % does not lower the loss.
        ///
        /// The tables come from 2023–24 serving stacks: their per-sequence cost `s` is about 7×
        /// the slope of llm-d's chart for current vLLM on H100 (see ``Calibration/anchors(efficiency:)``),
        /// so large decode batches come out slow; pass other constants to model a faster stack.
        public static let fitted = Efficiency(
            memoryBandwidth: 0.596,  // fitted to Calibration.measurements
            modelFLOPS: 0.636,  // fitted to Calibration.measurements
            stepOverheadSeconds: 0.306e-3,  // fitted to Calibration.measurements
            allReduceHopSeconds: 19.8e-6,  // fitted to Calibration.measurements
            sequenceOverheadSeconds: 0.275e-3,  // fitted to Calibration.measurements
            interconnect: 0.143)  // fitted to Calibration.measurements
    }

    /// What one step runs: decode sequences and prefill chunks, summed.
    public struct Batch: Sendable, Hashable {
        /// Sequences producing one token each.
        public var decodeSequences = 0
        /// Cached tokens the decode sequences read, summed.
        public var decodeContextTokens = 0
        /// Prefill chunks (one per sequence).
        public var prefillSequences = 0
        /// New tokens the chunks compute, summed.
        public var prefillTokens = 0
        /// Tokens already cached before each chunk, summed (their KV is read).
        public var prefillContextTokens = 0
        /// Causal query–key pairs of the chunks, `Σ t·(p + (t+1)/2)`.
        public var prefillAttentionPairs: Double = 0

        /// An empty batch.
        public init() {}

        /// Adds a decode sequence that reads `context` cached tokens (its prompt and output so far).
        public mutating func addDecode(context: Int) {
            decodeSequences += 1
            decodeContextTokens += context
        }

        /// Adds a prefill chunk of `tokens` new tokens after `cached` tokens already in the cache.
        public mutating func addPrefill(tokens: Int, cached: Int) {
            prefillSequences += 1
            prefillTokens += tokens
            prefillContextTokens += cached
            prefillAttentionPairs += Double(tokens) * (Double(cached) + Double(tokens + 1) / 2)
        }

        /// Tokens the step computes.
        public var tokens: Int { decodeSequences + prefillTokens }
    }

    /// Tensor-parallel size.
    public let tensorParallel: Int
    /// Weight bytes each device reads per step.
    public let weightsBytesPerDevice: Double
    /// KV-cache bytes per token on one device.
    public let kvCacheBytesPerTokenPerDevice: Double
    /// Matmul FLOP per token for the whole model: 2 × active parameters.
    public let flopsPerToken: Double
    /// Attention FLOP per query–key pair for the whole model: 4 × layers × heads × head dim.
    public let attentionFLOPsPerPair: Double
    /// Bytes each token adds to the all-reduces: 2 per layer × hidden × 2 B (bf16 activations).
    public let allReduceBytesPerToken: Double
    /// Transformer layers.
    public let layers: Int
    /// Peak memory bandwidth of one device, bytes per second.
    public let memoryBandwidth: Double
    /// Dense bf16 peak of one device, FLOP per second.
    public let peakFLOPS: Double
    /// Peak one-direction interconnect bandwidth of one device, bytes per second.
    public let interconnectBandwidth: Double
    /// The constants.
    public let efficiency: Efficiency

    /// A model for `model` on `accelerator` split `tensorParallel` ways.
    /// - Parameters:
    ///   - weightsDType: the weights' storage format (default: the checkpoint's).
    ///   - kvCacheDType: the KV cache's format (default: the model's compute dtype, vLLM's `auto`).
    ///   - interconnectBytesPerSecond: overrides ``Interconnect/bytesPerSecond(for:)``.
    public init(
        model: ModelProfile, accelerator: Accelerator, tensorParallel: Int, weightsDType: DType? = nil,
        kvCacheDType: DType? = nil, interconnectBytesPerSecond: Double? = nil, efficiency: Efficiency = .fitted
    ) {
        let tp = max(1, tensorParallel)
        self.init(
            model: model, accelerator: accelerator, tensorParallel: tp,
            weightsBytesPerDevice: Double(model.weightsBytes(dtype: weightsDType ?? model.weightsDType)) / Double(tp),
            kvCacheBytesPerTokenPerDevice: Double(
                model.kvCacheBytesPerTokenPerDevice(dtype: kvCacheDType ?? model.computeDType, tensorParallel: tp)),
            interconnectBytesPerSecond: interconnectBytesPerSecond, efficiency: efficiency)
    }

    /// A model for a sized tier: tensor parallelism, weight bytes and KV bytes per device as
    /// `sizing` computed them for `model` on `accelerator`.
    public init(
        sizing: TierSizing, model: ModelProfile, accelerator: Accelerator, efficiency: Efficiency = .fitted
    ) {
        self.init(
            model: model, accelerator: accelerator, tensorParallel: sizing.tensorParallelSize.value,
            weightsBytesPerDevice: Double(sizing.weightsBytesPerDevice),
            kvCacheBytesPerTokenPerDevice: Double(sizing.kvCacheBytesPerTokenPerDevice),
            interconnectBytesPerSecond: nil, efficiency: efficiency)
    }

    private init(
        model: ModelProfile, accelerator: Accelerator, tensorParallel: Int, weightsBytesPerDevice: Double,
        kvCacheBytesPerTokenPerDevice: Double, interconnectBytesPerSecond: Double?, efficiency: Efficiency
    ) {
        self.tensorParallel = max(1, tensorParallel)
        self.weightsBytesPerDevice = weightsBytesPerDevice
        self.kvCacheBytesPerTokenPerDevice = kvCacheBytesPerTokenPerDevice
        flopsPerToken = 2 * Double(model.activeParameters)
        attentionFLOPsPerPair = 4 * Double(model.layers * model.attentionHeads * model.headDim)
        allReduceBytesPerToken = 2 * Double(model.layers * model.hiddenSize) * 2
        layers = model.layers
        memoryBandwidth = accelerator.memoryBandwidthBytesPerSecond
        peakFLOPS = accelerator.denseBF16FLOPS
        interconnectBandwidth = interconnectBytesPerSecond ?? Interconnect.bytesPerSecond(for: accelerator)
        self.efficiency = efficiency
    }

    // MARK: Step time

    /// The step's duration in seconds (see the type's formula).
    public func seconds(_ batch: Batch) -> Double {
        let e = efficiency
        let tp = Double(tensorParallel)
        let overhead = e.stepOverheadSeconds + 2 * Double(layers) * e.allReduceHopSeconds * (tp - 1)
        let kvTokens = Double(batch.decodeContextTokens + batch.prefillContextTokens)
        let memory = (weightsBytesPerDevice + kvCacheBytesPerTokenPerDevice * kvTokens) / (memoryBandwidth * e.memoryBandwidth)
        let flops = flopsPerToken * Double(batch.tokens) + attentionFLOPsPerPair * batch.prefillAttentionPairs
        let compute = flops / (tp * peakFLOPS * e.modelFLOPS)
        let transfer = tensorParallel == 1
            ? 0 : Double(batch.tokens) * allReduceBytesPerToken * 2 * (tp - 1) / tp / (interconnectBandwidth * e.interconnect)
        let sequences = Double(batch.decodeSequences + batch.prefillSequences)
        return overhead + max(memory, compute) + transfer + e.sequenceOverheadSeconds * sequences
    }

    /// The step's duration, rounded to the nanosecond.
    public func duration(_ batch: Batch) -> Duration {
        Duration(engineSeconds: seconds(batch))
    }

    /// A decode-only step: `batch` sequences each reading `contextTokens` cached tokens.
    public func decodeStepTime(batch: Int, contextTokens: Int) -> Duration {
        var step = Batch()
        step.decodeSequences = batch
        step.decodeContextTokens = batch * contextTokens
        return duration(step)
    }

    /// A step that prefills one prompt of `tokens` tokens of which the first `cachedTokens` are
    /// prefix-cache hits (so `tokens − cachedTokens` are computed), with nothing else batched.
    public func prefillTime(tokens: Int, cachedTokens: Int = 0) -> Duration {
        var step = Batch()
        let cached = min(max(0, cachedTokens), max(0, tokens - 1))
        step.addPrefill(tokens: tokens - cached, cached: cached)
        return duration(step)
    }

    /// `α` of the decode line `α + β·b`: the seconds a decode step costs with no sequences.
    public var decodeIntercept: Double {
        efficiency.stepOverheadSeconds + 2 * Double(layers) * efficiency.allReduceHopSeconds * Double(tensorParallel - 1)
            + weightsBytesPerDevice / (memoryBandwidth * efficiency.memoryBandwidth)
    }

    /// `β` of the decode line `α + β·b`: the seconds each decode sequence reading `contextTokens`
    /// adds, while the step stays memory-bound.
    public func decodeSlope(contextTokens: Int) -> Double {
        let tp = Double(tensorParallel)
        let transfer = tensorParallel == 1
            ? 0 : allReduceBytesPerToken * 2 * (tp - 1) / tp / (interconnectBandwidth * efficiency.interconnect)
        return Double(contextTokens) * kvCacheBytesPerTokenPerDevice / (memoryBandwidth * efficiency.memoryBandwidth)
            + efficiency.sequenceOverheadSeconds + transfer
    }
}
