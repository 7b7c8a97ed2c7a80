import Foundation
import KubeCore

/// One problem with a pool's spec: which field, and what is wrong with it.
public struct FieldError: Hashable, Sendable, CustomStringConvertible {
    /// JSON path of the field (`spec.decodeConfig.autoscaling.minReplicas`).
    public var field: String
    public var message: String

    public init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

extension InferencePoolSpec {
    /// The checks the CRD schema cannot express (1.20 has no CEL): cross-field rules, flag
    /// conflicts, quantities. The schema's own checks (types, enums, bounds) are not repeated.
    ///
    /// Catalog checks (is the accelerator known, does the model fit) belong to sizing.
    public func validate() -> [FieldError] {
        var errors: [FieldError] = []
        if model.trimmingCharacters(in: .whitespaces).isEmpty || model.contains(where: \.isWhitespace) {
            errors.append(FieldError("spec.model", "\"\(model)\" is not a model id (expected e.g. meta-llama/Llama-3.1-8B-Instruct)"))
        }
        if let ratio, let low = ratio.minPrefillPerDecode, let high = ratio.maxPrefillPerDecode, low > high {
            errors.append(FieldError("spec.ratio", "minPrefillPerDecode \(low) is above maxPrefillPerDecode \(high)"))
        }
        if let connector = kvTransfer?.connector, connector.contains(where: { !$0.isLetter && !$0.isNumber }) {
            errors.append(FieldError("spec.kvTransfer.connector", "\"\(connector)\" is not a connector class name"))
        }
        if engine == .sglang {
            errors.append(FieldError("spec.engine", "sglang is not supported yet: Tandem renders vLLM only; use engine: vllm"))
        }
        errors += pod.validate(path: "spec")
        for tier in TierName.allCases {
            let path = "spec.\(tier.rawValue)Config"
            errors += config(tier).validate(tier: tier, path: path)
            // Mounts may name pool-wide volumes: check them against the tier's merged pod.
            errors += pod.overlaid(with: config(tier).pod).validateMounts(path: path)
        }
        return errors
    }
}

extension TierConfig {
    /// Flags that Tandem owns because the spec has a field for them.
    static let reservedFlags: [String: String] = [
        "--model": "set spec.model instead",
        "--served-model-name": "it is always spec.model",
        "--port": "the model server's port is fixed by Tandem (8000)",
        "--host": "the model server listens on all addresses",
    ]

    func validate(tier: TierName, path: String) -> [FieldError] {
        var errors: [FieldError] = []
        for (name, quantity) in resources ?? [:] {
            if name.isEmpty || name.contains(where: \.isWhitespace) {
                errors.append(FieldError("\(path).resources", "\"\(name)\" is not a resource name"))
            }
            if quantity < Quantity(0) {
                errors.append(FieldError("\(path).resources[\(name)]", "\(quantity) is negative"))
            }
            if Self.isAccelerator(name), Decimal(quantity.int64Value) != quantity.value {
                errors.append(FieldError("\(path).resources[\(name)]", "\(quantity) is not a whole number of devices"))
            }
        }
        for (index, argument) in (vllmArgs ?? []).enumerated() {
            let flag = String(argument.split(separator: "=", maxSplits: 1).first ?? "").replacingOccurrences(of: "_", with: "-")
            if let why = Self.reservedFlags[flag] {
                errors.append(FieldError("\(path).vllmArgs[\(index)]", "\(flag) cannot be set here: \(why)"))
            }
            if argument.isEmpty {
                errors.append(FieldError("\(path).vllmArgs[\(index)]", "empty argument"))
            }
        }
        if let scaling = autoscaling {
            let low = scaling.minReplicas ?? (tier == .decode ? 1 : 0)
            if let high = scaling.maxReplicas, low > high {
                errors.append(FieldError("\(path).autoscaling", "minReplicas \(low) is above maxReplicas \(high)"))
            }
            if tier == .decode, scaling.mode == .operator, let minimum = scaling.minReplicas, minimum < 1 {
                errors.append(FieldError("\(path).autoscaling.minReplicas", "decode needs at least 1 replica (a pool with no decode serves nothing)"))
            }
        }
        errors += pod.validate(path: path)
        return errors
    }

    /// Whether `resource` names an accelerator device (`nvidia.com/gpu`, `amd.com/gpu`, `google.com/tpu`, …).
    public static func isAccelerator(_ resource: String) -> Bool {
        ["nvidia.com/gpu", "amd.com/gpu", "google.com/tpu", "habana.ai/gaudi", "gpu.intel.com/i915", "gpu.intel.com/xe"]
            .contains(resource)
    }

    /// The accelerator devices per replica the user asked for, with the resource name.
    public var explicitDevices: (resource: String, count: Int)? {
        guard let (name, quantity) = (resources ?? [:]).first(where: { Self.isAccelerator($0.key) }) else { return nil }
        return (name, Int(quantity.int64Value))
    }
}

extension PodOverrides {
    func validate(path: String) -> [FieldError] {
        var errors: [FieldError] = []
        for (index, variable) in (env ?? []).enumerated() where (variable.name ?? "").isEmpty {
            errors.append(FieldError("\(path).env[\(index)].name", "an environment variable needs a name"))
        }
        for key in (podLabels ?? [:]).keys where key.hasPrefix("inference.x-k8s.io/") || key == "llm-d.ai/role" {
            errors.append(FieldError("\(path).podLabels[\(key)]", "this label is Tandem's own and cannot be overridden"))
        }
        return errors
    }

    func validateMounts(path: String) -> [FieldError] {
        var errors: [FieldError] = []
        let volumeNames = Set((volumes ?? []).compactMap(\.name))
        for (index, mount) in (volumeMounts ?? []).enumerated() {
            if let name = mount.name, !volumeNames.contains(name), name != "dshm" {
                errors.append(FieldError("\(path).volumeMounts[\(index)]", "mounts volume \"\(name)\", which no volume of the pod defines"))
            }
            if (mount.mountPath ?? "").isEmpty {
                errors.append(FieldError("\(path).volumeMounts[\(index)].mountPath", "a mount needs a path"))
            }
        }
        return errors
    }
}
