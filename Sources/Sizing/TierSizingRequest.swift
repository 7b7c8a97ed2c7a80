/// A serving tier of a disaggregated pool.
public enum Tier: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Computes prompts' KV caches and hands them to decode.
    case prefill
    /// Generates tokens from transferred KV caches.
    case decode

    public var description: String { rawValue }
}

/// Everything sizing needs for one tier, independent of how the custom resource spells it.
public struct TierSizingRequest: Sendable, Hashable {
    /// The tier to size.
    public var tier: Tier
    /// The model it serves.
    public var model: ModelProfile
    /// The accelerator the tier lands on; `nil` when unknown, which skips the memory check.
    public var accelerator: Accelerator?
    /// Devices per replica the user requested in the pod resources (e.g. `nvidia.com/gpu: "2"`).
    public var explicitDevices: Int?
    /// The user's vLLM arguments, after ``EngineFlagPolicy/review(_:)``.
    public var args: EngineArgs

    /// A request; with no `explicitDevices` and no `--tensor-parallel-size` Tandem chooses.
    public init(
        tier: Tier, model: ModelProfile, accelerator: Accelerator?, explicitDevices: Int? = nil,
        args: EngineArgs = EngineArgs()
    ) {
        self.tier = tier
        self.model = model
        self.accelerator = accelerator
        self.explicitDevices = explicitDevices
        self.args = args
    }
}

/// Where a sized value came from.
public enum ValueOrigin: String, Sendable, Hashable {
    /// The user wrote it (a flag in `vllmArgs`, a resource quantity); never changed.
    case explicit
    /// Tandem chose it; it appears in ``TierSizing/derivedFlags`` when it is a vLLM flag.
    case derived
    /// Nobody set it; vLLM uses its own default, which this value states.
    case engineDefault
}

/// A sized value and where it came from.
public struct SizedValue<Value: Sendable & Hashable>: Sendable, Hashable {
    /// The value in effect.
    public var value: Value
    /// Who set it.
    public var origin: ValueOrigin

    /// A value and its origin.
    public init(_ value: Value, _ origin: ValueOrigin) {
        self.value = value
        self.origin = origin
    }
}
