import Sizing
import KubeCore

/// How ``StepTimeModel`` compares with measured step times, and the published anchors it is
/// checked against (but not fitted to).
///
/// Each ``Measurement`` gives a prompt time (one forward pass over `batch` prompts of `prompt`
/// tokens) and a token time (one decode step at batch `batch`, averaged over `output` tokens).
/// The model predicts them as one ``StepTimeModel/Batch`` each: `batch` prefill chunks of
/// `prompt` tokens with nothing cached, and `batch` decode sequences reading
/// `prompt + output / 2` tokens (the average context while generating).
public enum Calibration {
    /// Where a measurement comes from.
    public enum Source: String, Sendable, Hashable {
        /// Mutinifni/splitwise-sim `data/perf_model.csv`.
        case splitwise
        /// shashwatj07/SageServe.
        case sageserve
    }

    /// The measured models.
    public enum Model: String, Sendable, Hashable {
        /// Llama-2-70B (``Calibration/llama2_70B``).
        case llama2_70B = "llama2-70b"
        /// Llama-3.1-8B (the catalog's profile).
        case llama31_8B = "Llama-3.1-8B"

        /// The architecture.
        public var profile: ModelProfile {
            switch self {
            case .llama2_70B: Calibration.llama2_70B
            case .llama31_8B: ModelCatalog.builtIn.profile(for: "meta-llama/Llama-3.1-8B-Instruct")!
            }
        }
    }

    /// The measured devices (both SXM parts in 8-GPU DGX/HGX nodes).
    public enum Hardware: String, Sendable, Hashable {
        /// A100-SXM4-80GB.
        case a100 = "a100-80gb"
        /// H100-SXM5-80GB.
        case h100 = "h100-80gb"

        /// The catalog entry.
        public var accelerator: Accelerator {
            AcceleratorCatalog.builtIn.accelerator(named: self == .a100 ? "nvidia-a100-80gb" : "nvidia-h100")!
        }
    }

    /// One measured configuration, times in milliseconds.
    public struct Measurement: Sendable, Hashable {
        /// The table it comes from.
        public var source: Source
        /// The model measured.
        public var model: Model
        /// The device measured.
        public var hardware: Hardware
        /// Tensor-parallel size.
        public var tensorParallel: Int
        /// Tokens per prompt.
        public var promptTokens: Int
        /// Sequences batched together.
        public var batchSize: Int
        /// Tokens generated per sequence.
        public var outputTokens: Int
        /// Time of the prefill pass over the whole batch; `nil` where the source's figure is unusable.
        public var promptMilliseconds: Double?
        /// Time of one decode step at this batch size.
        public var tokenMilliseconds: Double

        /// A measurement.
        public init(
            _ source: Source, _ model: Model, _ hardware: Hardware, tp: Int, prompt: Int, batch: Int, output: Int,
            promptMs: Double?, tokenMs: Double
        ) {
            self.source = source
            self.model = model
            self.hardware = hardware
            tensorParallel = tp
            promptTokens = prompt
            batchSize = batch
            outputTokens = output
            promptMilliseconds = promptMs
            tokenMilliseconds = tokenMs
        }
    }

    /// A measurement beside the model's prediction.
    public struct Comparison: Sendable, Hashable {
        /// What was measured.
        public var measurement: Measurement
        /// Predicted prompt time, ms.
        public var promptMilliseconds: Double
        /// Predicted token time, ms.
        public var tokenMilliseconds: Double

        /// predicted / measured − 1 for the prompt time; `nil` when not measured.
        public var promptError: Double? {
            measurement.promptMilliseconds.map { promptMilliseconds / $0 - 1 }
        }

        /// predicted / measured − 1 for the token time.
        public var tokenError: Double { tokenMilliseconds / measurement.tokenMilliseconds - 1 }
    }

    /// Median and largest absolute relative errors per column.
    public struct Summary: Sendable, Hashable {
        /// Median |predicted / measured − 1| of prompt times.
        public var medianPromptError: Double
        /// Largest such error of prompt times.
        public var maxPromptError: Double
        /// Median |predicted / measured − 1| of token times.
        public var medianTokenError: Double
        /// Largest such error of token times.
        public var maxTokenError: Double
        /// Rows with a usable prompt time.
        public var promptRows: Int
        /// Rows with a token time.
        public var tokenRows: Int
    }

    /// Llama-2-70B, which the model catalog lacks: `config.json` of meta-llama/Llama-2-70b-hf
    /// (80 layers, 64 heads, 8 KV heads, hidden 8,192, intermediate 28,672, vocabulary 32,000,
    /// 4,096 positions); 68,976,648,192 parameters computed from those shapes.
    public static let llama2_70B = ModelProfile(
        id: "meta-llama/Llama-2-70b-hf",
        parameters: 68_976_648_192,  // from the config.json shapes above (Hugging Face shows 69B)
        unquantizedParameters: 524_288_000,  // embed_tokens + lm_head: 2 × 32,000 × 8,192
        layers: 80, attentionHeads: 64, kvHeads: 8, headDim: 128,  // config.json: num_hidden_layers, num_attention_heads, num_key_value_heads; 8192/64
        hiddenSize: 8_192,  // config.json hidden_size
        maxContextLength: 4_096)  // config.json max_position_embeddings

    /// The model's predictions for every measurement.
    public static func compare(
        _ measurements: [Measurement] = measurements, efficiency: StepTimeModel.Efficiency = .fitted
    ) -> [Comparison] {
        measurements.map { m in
            let model = StepTimeModel(
                model: m.model.profile, accelerator: m.hardware.accelerator, tensorParallel: m.tensorParallel,
                weightsDType: .bfloat16, kvCacheDType: .bfloat16, efficiency: efficiency)
            var prefill = StepTimeModel.Batch()
            for _ in 0..<m.batchSize { prefill.addPrefill(tokens: m.promptTokens, cached: 0) }
            let decode = model.decodeStepTime(batch: m.batchSize, contextTokens: m.promptTokens + m.outputTokens / 2)
            return Comparison(
                measurement: m, promptMilliseconds: model.seconds(prefill) * 1e3,
                tokenMilliseconds: decode.inSeconds * 1e3)
        }
    }

    /// What the fit minimises: the mean absolute log error (|ln(predicted / measured)|) of each
    /// (source, column) pair, averaged over the four pairs so each data set counts equally.
    public static func loss(_ comparisons: [Comparison]) -> Double {
        var total = 0.0
        for source in [Source.splitwise, .sageserve] {
            let rows = comparisons.filter { $0.measurement.source == source }
            let prompt = rows.compactMap { $0.promptError.map { abs((1 + $0).logValue) } }
            let token = rows.map { abs((1 + $0.tokenError).logValue) }
            total += prompt.reduce(0, +) / Double(max(1, prompt.count)) + token.reduce(0, +) / Double(max(1, token.count))
        }
        return total / 4
    }

    /// Median and largest absolute errors of each column.
    public static func summary(_ comparisons: [Comparison]) -> Summary {
        let prompt = comparisons.compactMap { $0.promptError.map(abs) }
        let token = comparisons.map { abs($0.tokenError) }
        return Summary(
            medianPromptError: median(prompt), maxPromptError: prompt.max() ?? 0,
            medianTokenError: median(token), maxTokenError: token.max() ?? 0,
            promptRows: prompt.count, tokenRows: token.count)
    }

    /// A fixed-width table, one line per comparison.
    public static func table(_ comparisons: [Comparison]) -> String {
        var lines = [
            "source     model         hw         TP  prompt batch output | prompt ms meas    pred     err | token ms meas    pred    err"
        ]
        for c in comparisons {
            let m = c.measurement
            let prompt = m.promptMilliseconds.map {
                pad(fixed($0, 1), 13) + pad(fixed(c.promptMilliseconds, 1), 8) + pad(percent(c.promptError!), 8)
            } ?? pad("–", 13) + pad(fixed(c.promptMilliseconds, 1), 8) + pad("–", 8)
            lines.append(
                m.source.rawValue.padding(11) + m.model.rawValue.padding(14) + m.hardware.rawValue.padding(10)
                    + pad("\(m.tensorParallel)", 3) + pad("\(m.promptTokens)", 8) + pad("\(m.batchSize)", 6)
                    + pad("\(m.outputTokens)", 7) + " |" + prompt + " |" + pad(fixed(m.tokenMilliseconds, 2), 12)
                    + pad(fixed(c.tokenMilliseconds, 2), 8) + pad(percent(c.tokenError), 7))
        }
        return lines.joined(separator: "\n")
    }

    /// The model beside published figures it was not fitted to, one line each (see
    /// `data/README.md`): llm-d's workload-variant-autoscaler chart (Llama-3.1-8B on H100:
    /// ITL = 7.470 + 0.044·batch ms) and the seed article (Llama-3.1-8B on one H200, 512 in /
    /// 128 out: TTFT 18.2 ms, TPOT 2.1 ms).
    public static func anchors(efficiency: StepTimeModel.Efficiency = .fitted) -> [String] {
        let llama8B = Model.llama31_8B.profile
        let catalog = AcceleratorCatalog.builtIn
        let h100 = StepTimeModel(model: llama8B, accelerator: catalog.accelerator(named: "nvidia-h100")!, tensorParallel: 1, efficiency: efficiency)
        let h200Device = catalog.accelerator(named: "nvidia-h200")!
        let h200 = StepTimeModel(model: llama8B, accelerator: h200Device, tensorParallel: 1, efficiency: efficiency)
        let context = 512 + 64
        let alpha = h100.decodeIntercept * 1e3
        let beta = h100.decodeSlope(contextTokens: context) * 1e3
        let floor = Double(llama8B.weightsBytes(dtype: .bfloat16)) / h200Device.memoryBandwidthBytesPerSecond * 1e3
        let tpot = h200.decodeStepTime(batch: 1, contextTokens: context).inSeconds * 1e3
        let ttft = h200.prefillTime(tokens: 512).inSeconds * 1e3
        return [
            "WVA chart, Llama-3.1-8B on H100 TP1: ITL = 7.470 + 0.044·b ms; model: \(fixed(alpha, 3)) + \(fixed(beta, 3))·b ms "
                + "(b=1: \(percent((alpha + beta) / (7.470 + 0.044) - 1)), b=64: \(percent((alpha + 64 * beta) / (7.470 + 0.044 * 64) - 1)))",
            "seed, Llama-3.1-8B on H200 TP1, 512 in: TPOT 2.1 ms is below the weights-read floor \(fixed(floor, 2)) ms "
                + "(16.1 GB / 4.8 TB/s); model at batch 1: \(fixed(tpot, 2)) ms (\(fixed(tpot / 2.1, 1))× the seed)",
            "seed, Llama-3.1-8B on H200 TP1: TTFT 18.2 ms (under load); model, 512-token prefill alone: \(fixed(ttft, 2)) ms",
        ]
    }

    // MARK: Formatting

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    static func fixed(_ value: Double, _ decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int((abs(value) * scale).rounded())
        let whole = scaled / Int(scale)
        let fraction = String(scaled % Int(scale))
        let sign = value < 0 && scaled != 0 ? "-" : ""
        guard decimals > 0 else { return sign + String(whole) }
        return sign + String(whole) + "." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }

    static func percent(_ ratio: Double) -> String {
        (ratio >= 0 ? "+" : "") + fixed(ratio * 100, 0) + "%"
    }

    static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        self + String(repeating: " ", count: max(0, width - count))
    }
}

extension Double {
    /// Natural logarithm without Foundation (series on the mantissa, exact to ~1e-15).
    fileprivate var logValue: Double {
        precondition(self > 0)
        let exponent = Double(self.exponent)
        let m = self.significand  // in [1, 2)
        let y = (m - 1) / (m + 1)  // ln m = 2·atanh(y)
        var term = y
        var sum = 0.0
        var k = 1.0
        while abs(term) > 1e-18 {
            sum += term / k
            term *= y * y
            k += 2
        }
        return 2 * sum + exponent * 0.693_147_180_559_945_3  // ln 2
    }
}
