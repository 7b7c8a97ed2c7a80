/// A numeric format for weights or the KV cache, with its storage cost per element.
public enum DType: String, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    case bfloat16
    case float16
    case float32
    /// FP8 (E4M3 or E5M2); per-tensor or per-block scales are ignored (DeepSeek-V3's 128×128
    /// float32 block scales add 4 B per 16,384 weights, 0.02 %).
    case fp8
    case int8
    /// 4-bit integer weights (AWQ, GPTQ, bitsandbytes 4-bit). Counted as 0.5 B per weight; the
    /// group scales and zero points (about 3 % more at group size 128) are not counted.
    case int4
    /// OCP Microscaling FP4: blocks of 32 FP4 (E2M1) values sharing one 8-bit (E8M0) scale,
    /// so 4 + 8/32 = 4.25 bits = 0.53125 B per weight (OCP MX Formats Specification v1.0).
    case mxfp4

    /// Bytes one element occupies, scales included where the format has them (see each case).
    public var bytesPerElement: Double {
        switch self {
        case .float32: 4
        case .bfloat16, .float16: 2
        case .fp8, .int8: 1
        case .int4: 0.5
        case .mxfp4: 0.53125
        }
    }

    /// Whether this is an unquantized floating-point format (what `--dtype` selects).
    public var isFloatingPoint: Bool {
        switch self {
        case .bfloat16, .float16, .float32: true
        default: false
        }
    }

    public var description: String { rawValue }

    /// Parses a dtype name as it appears in configs and flags: `bfloat16`/`bf16`,
    /// `float16`/`fp16`/`half`, `float32`/`fp32`/`float`, `fp8` and its `fp8_e4m3`/`fp8_e5m2`
    /// variants, `int8`, `int4`, `mxfp4`. Case-insensitive.
    public init?(name: String) {
        switch name.lowercased() {
        case "bfloat16", "bf16": self = .bfloat16
        case "float16", "fp16", "half": self = .float16
        case "float32", "fp32", "float": self = .float32
        case "fp8", "float8", "fp8_e4m3", "fp8_e5m2", "e4m3", "e5m2": self = .fp8
        case "int8": self = .int8
        case "int4": self = .int4
        case "mxfp4": self = .mxfp4
        default: return nil
        }
    }

    /// The weight format a vLLM `--quantization` method stores, or `nil` when the method's bytes
    /// depend on the checkpoint (e.g. `compressed-tensors`) or the method is not known here.
    ///
    /// Method names are vLLM's (`vllm/model_executor/layers/quantization/__init__.py`,
    /// `QUANTIZATION_METHODS`, as of vLLM 0.12 from memory).
    public init?(quantizationMethod method: String) {
        switch method.lowercased() {
        case "fp8", "fbgemm_fp8", "ptpc_fp8", "modelopt": self = .fp8
        case "awq", "awq_marlin", "gptq", "gptq_marlin", "bitsandbytes": self = .int4
        case "experts_int8": self = .int8
        case "mxfp4": self = .mxfp4
        default: return nil
        }
    }
}
