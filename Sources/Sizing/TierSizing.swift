/// The sizing Tandem settled on for one tier: parallelism, engine limits, memory budget and pod
/// resources, each value marked explicit, derived or vLLM's default, with the arithmetic.
public struct TierSizing: Sendable, Hashable {
    /// The tier sized.
    public var tier: Tier
    /// The catalog (or user-profile) model id.
    public var modelID: String
    /// The accelerator sized against; `nil` when unknown (see ``memoryChecked``).
    public var acceleratorName: String?
    /// What one device is called in text: `GPU`, `TPU chip`, `HPU`, or `device` when unknown.
    public var deviceNoun: String
    /// Whether device memory was checked. `false` when the accelerator is unknown: the memory
    /// fields below are then `nil` and memory-dependent flags are left to vLLM.
    public var memoryChecked: Bool

    /// `--tensor-parallel-size`.
    public var tensorParallelSize: SizedValue<Int>
    /// `--pipeline-parallel-size` (Tandem never derives one other than vLLM's 1).
    public var pipelineParallelSize: SizedValue<Int>
    /// Devices (GPUs, TPU chips, …) per replica: tensor parallel × pipeline parallel.
    public var devices: SizedValue<Int>
    /// `--gpu-memory-utilization`.
    public var gpuMemoryUtilization: SizedValue<Double>
    /// `--max-model-len`.
    public var maxModelLen: SizedValue<Int>
    /// `--max-num-seqs`.
    public var maxNumSeqs: SizedValue<Int>
    /// `--max-num-batched-tokens`.
    public var maxNumBatchedTokens: SizedValue<Int>

    /// The weights' precision after `--quantization`/`--dtype`.
    public var weightsDType: DType
    /// The KV cache's precision after `--kv-cache-dtype`/`--dtype`.
    public var kvCacheDType: DType
    /// KV-cache bytes per token for the whole model (see ``ModelProfile/kvCacheBytesPerToken(dtype:)``).
    public var kvCacheBytesPerToken: Int
    /// KV-cache bytes per token on one device after the tensor/pipeline split.
    public var kvCacheBytesPerTokenPerDevice: Int
    /// All weights of one replica.
    public var weightsBytes: Int
    /// Weights ÷ (tensor parallel × pipeline parallel), rounded up.
    public var weightsBytesPerDevice: Int
    /// Runtime plus activation reserve per device (see ``SizingPolicy``).
    public var reserveBytesPerDevice: Int
    /// Device memory × `--gpu-memory-utilization` − reserve.
    public var usableBytesPerDevice: Int?
    /// Usable − weights per device.
    public var kvCacheBytesPerDevice: Int?
    /// Tokens one replica's KV cache holds (each device holds its slice of every token).
    public var kvCacheTokens: Int?

    /// Host CPU cores per replica.
    public var cpu: Int
    /// Host memory per replica, bytes; includes ``shmBytes`` because a memory-backed `emptyDir`
    /// counts against the container's memory.
    public var memoryBytes: Int
    /// Size of the `/dev/shm` memory volume, bytes.
    public var shmBytes: Int

    /// The vLLM flags Tandem adds, for values the user did not give (`--flag=value` form).
    public var derivedFlags: [String]
    /// The complete vLLM arguments: the user's (after the flag review) followed by ``derivedFlags``.
    public var engineArgs: [String]
    /// Things the reader should know, e.g. that the memory check was skipped.
    public var notes: [String]
    /// The computation, one step per line.
    public var arithmetic: [String]

    /// Multi-line text for `tandem size`: the decision, the pod shape, the flags, the arithmetic.
    public func report() -> String {
        func show<V>(_ sized: SizedValue<V>, _ text: String) -> String { "\(text) (\(sized.origin.label))" }
        var lines = [
            "\(tier) tier of \(modelID) on \(acceleratorName ?? "an unknown accelerator"): "
                + (memoryChecked ? "fits" : "memory not checked"),
            "  " + show(tensorParallelSize, "tensor parallel \(tensorParallelSize.value)") + " × "
                + show(pipelineParallelSize, "pipeline parallel \(pipelineParallelSize.value)") + " = "
                + show(devices, "\(devices.value) \(deviceNoun)\(devices.value == 1 ? "" : "s") per replica"),
            "  " + show(maxModelLen, "--max-model-len \(grouped(maxModelLen.value))") + ", "
                + show(gpuMemoryUtilization, "--gpu-memory-utilization \(twoDecimals(gpuMemoryUtilization.value))"),
            "  " + show(maxNumSeqs, "--max-num-seqs \(grouped(maxNumSeqs.value))") + ", "
                + show(maxNumBatchedTokens, "--max-num-batched-tokens \(grouped(maxNumBatchedTokens.value))"),
            "  weights \(weightsDType), KV cache \(kvCacheDType)"
                + (kvCacheTokens.map { ": \(grouped($0)) tokens per replica" } ?? ""),
            "  pod: \(cpu) CPU, \(gib(memoryBytes)) memory (with \(gib(shmBytes)) /dev/shm)",
            "  flags added: " + (derivedFlags.isEmpty ? "none" : derivedFlags.joined(separator: " ")),
        ]
        lines += notes.map { "  note: \($0)" }
        lines.append("arithmetic:")
        lines += arithmetic.map { "  \($0)" }
        return lines.joined(separator: "\n")
    }
}

extension ValueOrigin {
    var label: String {
        switch self {
        case .explicit: "explicit"
        case .derived: "derived"
        case .engineDefault: "vLLM default"
        }
    }
}

// MARK: Number formatting (locale-independent, for reports and messages)

/// `70553706496` → `70,553,706,496`.
func grouped(_ number: Int) -> String {
    let digits = String(number.magnitude)
    var result = ""
    for (offset, digit) in digits.enumerated() {
        if offset > 0, (digits.count - offset) % 3 == 0 { result.append(",") }
        result.append(digit)
    }
    return number < 0 ? "-" + result : result
}

/// A value with one decimal, e.g. `131.4`.
func oneDecimal(_ value: Double) -> String {
    let tenths = Int((value * 10).rounded())
    return "\(tenths < 0 ? "-" : "")\(abs(tenths) / 10).\(abs(tenths) % 10)"
}

/// A value with two decimals, e.g. `0.90`.
func twoDecimals(_ value: Double) -> String {
    let hundredths = Int((value * 100).rounded())
    let fraction = abs(hundredths) % 100
    return "\(hundredths < 0 ? "-" : "")\(abs(hundredths) / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

/// Bytes in GiB with one decimal, e.g. `131.4 GiB`.
func gib(_ bytes: Int) -> String { "\(oneDecimal(Double(bytes) / Double(1 << 30))) GiB" }

/// Bytes in KiB, whole when exact (`320 KiB`), else one decimal (`68.6 KiB`).
func kib(_ bytes: Int) -> String {
    bytes % 1024 == 0 ? "\(grouped(bytes / 1024)) KiB" : "\(oneDecimal(Double(bytes) / 1024)) KiB"
}
