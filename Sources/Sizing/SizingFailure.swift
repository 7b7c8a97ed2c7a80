/// Why a tier cannot be rolled out as written, with the numbers and what would fit instead.
public struct SizingFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The sizing rule that failed.
    public enum Rule: String, Sendable, Hashable, CaseIterable {
        /// The model id is not in the catalog and no profile was given.
        case unknownModel
        /// The accelerator name is not in the catalog.
        case unknownAccelerator
        /// The weights' share per device exceeds the usable device memory.
        case weightsDoNotFit
        /// The weights fit, but what is left cannot hold one `--max-model-len` sequence (vLLM
        /// refuses to start in that case).
        case kvCacheBelowOneSequence
        /// `--tensor-parallel-size` × `--pipeline-parallel-size` differs from the device count
        /// the pod resources request.
        case tensorParallelMismatchesDevices
        /// A replica would need more devices than one node of the accelerator has (multi-node
        /// replicas are not supported yet).
        case moreDevicesThanNode
        /// The tensor-parallel size does not divide the attention heads, or splits the KV
        /// heads unevenly; vLLM refuses it.
        case invalidTensorParallel
        /// `--max-model-len` exceeds the model's context length; vLLM refuses it (unless
        /// `VLLM_ALLOW_LONG_MAX_MODEL_LEN` is set).
        case maxModelLenExceedsModel
        /// Flags contradict each other, e.g. `--max-num-batched-tokens` below `--max-num-seqs`,
        /// which vLLM rejects.
        case contradictoryFlags
        /// A number is outside the range Tandem can size with (``SizingLimits``): a device count,
        /// a model-profile field. Flags out of range are refused earlier, by ``EngineArgs``.
        case invalidSpec

        /// A CamelCase reason for the `SizingValid` condition.
        public var reason: String {
            switch self {
            case .unknownModel: "UnknownModel"
            case .unknownAccelerator: "UnknownAccelerator"
            case .weightsDoNotFit, .kvCacheBelowOneSequence: "ModelDoesNotFit"
            case .tensorParallelMismatchesDevices: "TensorParallelMismatch"
            case .moreDevicesThanNode: "MoreDevicesThanNode"
            case .invalidTensorParallel: "InvalidTensorParallelSize"
            case .maxModelLenExceedsModel: "MaxModelLenTooLong"
            case .contradictoryFlags: "ContradictoryFlags"
            case .invalidSpec: "InvalidSpec"
            }
        }
    }

    /// The rule that failed.
    public var rule: Rule
    /// The tier that failed, when the failure is about one tier.
    public var tier: Tier?
    /// What failed, with the numbers.
    public var message: String
    /// The smallest change that would fit, e.g. "tensor parallel 2 (2 GPUs per replica) fits
    /// with 66.6 GiB for KV cache per GPU"; `nil` when none is known.
    public var smallestFit: String?
    /// The computation that led here, one step per line.
    public var arithmetic: [String]

    /// A failure of `rule` with its numbers.
    public init(rule: Rule, tier: Tier? = nil, message: String, smallestFit: String? = nil, arithmetic: [String] = []) {
        self.rule = rule
        self.tier = tier
        self.message = message
        self.smallestFit = smallestFit
        self.arithmetic = arithmetic
    }

    /// A model id neither the catalog nor the resource describes.
    public static func unknownModel(_ id: String) -> SizingFailure {
        SizingFailure(
            rule: .unknownModel,
            message: "model \(id) is not in the built-in catalog; give spec.modelProfile (parameters, layers, attentionHeads, kvHeads, headDim)")
    }

    /// An accelerator name the catalog does not know.
    public static func unknownAccelerator(_ name: String) -> SizingFailure {
        let known = AcceleratorCatalog.builtIn.accelerators.map(\.name).joined(separator: ", ")
        return SizingFailure(rule: .unknownAccelerator, message: "accelerator \(name) is not in the catalog (known: \(known))")
    }

    /// A number outside the range Tandem accepts: names the field, the value, the range and
    /// what to do.
    public static func outOfRange(
        _ field: String, value: Int, range: ClosedRange<Int>, tier: Tier? = nil, fix: String? = nil
    ) -> SizingFailure {
        SizingFailure(
            rule: .invalidSpec, tier: tier,
            message: "\(field) \(grouped(value)) is out of range: Tandem accepts \(SizingLimits.describe(range)); "
                + (fix ?? "set \(field) to a value in that range"))
    }

    public var description: String {
        "\(tier.map { "\($0) tier: " } ?? "")\(message)\(smallestFit.map { "; \($0)" } ?? "")"
    }

    /// Multi-line text for `tandem size`: the failure, the suggestion, then the arithmetic.
    public func report() -> String {
        let verdict = rule == .invalidSpec ? "cannot be sized" : "does not fit"
        var lines = ["\(tier.map { "\($0) tier" } ?? "sizing"): \(verdict) (\(rule.rawValue))", "  \(message)"]
        if let smallestFit { lines.append("  would fit: \(smallestFit)") }
        if !arithmetic.isEmpty { lines.append("arithmetic:") }
        lines += arithmetic.map { "  \($0)" }
        return lines.joined(separator: "\n")
    }
}
