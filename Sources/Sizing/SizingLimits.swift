/// The ranges Tandem accepts for every number a user supplies to sizing (vLLM flags, device
/// counts, a custom model profile), so that no sizing arithmetic can overflow and every value
/// Tandem reports fits the `int32` status fields.
///
/// A number outside its range is refused with ``EngineArgsError/outOfRange(flag:value:range:)``
/// (a flag) or a ``SizingFailure`` of rule ``SizingFailure/Rule/invalidSpec`` (anything else),
/// naming the field and the range. The ranges are far above any real deployment.
public enum SizingLimits {
    /// Token counts and sequence counts: `--max-model-len`, `--max-num-batched-tokens`,
    /// `--max-num-seqs`, `--block-size`, a profile's `maxContextLength`. Tandem's bound: the
    /// pool status and the CRD keep these as `int32`, and no model's context comes near it.
    public static let tokens: ClosedRange<Int> = 1...Int(Int32.max)

    /// Tensor- and pipeline-parallel sizes and devices per replica. Tandem's bound: a node has
    /// 8–16 devices and multi-node replicas are not supported, so 1,024 is far above anything
    /// that can run, and `TP × PP` (≤ 2^20) keeps host-memory requests within `Int64`.
    public static let parallel: ClosedRange<Int> = 1...1_024

    /// A model's parameter count. Tandem's bound: 10^15 is about 500 times the largest
    /// published model (≈ 2 × 10^12 parameters), and its bytes stay exact in a `Double`.
    public static let parameters: ClosedRange<Int> = 1...1_000_000_000_000_000

    /// A profile's `layers`, `attentionHeads` and `kvHeads`: the CRD schema's bounds
    /// (`InferencePool+Schema.swift`, `maximum: 1024`).
    public static let layersOrHeads: ClosedRange<Int> = 1...1_024

    /// A profile's `headDim`: the CRD schema's bound (`maximum: 4096`).
    public static let headDim: ClosedRange<Int> = 1...4_096

    /// A profile's `hiddenSize`. Tandem's bound: 1024 heads × 4096 head dim, the product of
    /// the schema's bounds on the fields it defaults from.
    public static let hiddenSize: ClosedRange<Int> = 1...4_194_304

    /// `1...1,024` → "1 to 1,024".
    public static func describe(_ range: ClosedRange<Int>) -> String {
        "\(grouped(range.lowerBound)) to \(grouped(range.upperBound))"
    }
}

// MARK: Saturating arithmetic

/// Byte and token arithmetic on user-derived numbers saturates at ±`Int.max` instead of
/// trapping. A saturated byte count is 8 EiB, far beyond any device, so every fit check it
/// enters fails as it should; `Int.min` is never produced, so negation stays safe.
extension Int {
    /// `self × other`, clamped to `-Int.max...Int.max`.
    func saturatingMultiplied(by other: Int) -> Int {
        let (result, overflow) = multipliedReportingOverflow(by: other)
        if overflow { return (self < 0) == (other < 0) ? .max : -.max }
        return result == .min ? -.max : result
    }

    /// `self + other`, clamped to `-Int.max...Int.max`.
    func saturatingAdded(_ other: Int) -> Int {
        let (result, overflow) = addingReportingOverflow(other)
        if overflow { return other > 0 ? .max : -.max }
        return result == .min ? -.max : result
    }

    /// `self − other`, clamped to `-Int.max...Int.max`.
    func saturatingSubtracted(_ other: Int) -> Int {
        let (result, overflow) = subtractingReportingOverflow(other)
        if overflow { return other < 0 ? .max : -.max }
        return result == .min ? -.max : result
    }

    /// A finite `Double` rounded toward zero and clamped to `-Int.max...Int.max`; NaN is 0.
    init(saturating value: Double) {
        if value.isNaN {
            self = 0
        } else if value >= 9.223_372_036_854_775_807e18 {
            self = .max
        } else if value <= -9.223_372_036_854_775_807e18 {
            self = -.max
        } else {
            self = Int(value)
        }
    }
}
