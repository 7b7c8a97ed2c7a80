import KubeCore
import Sizing
import TandemAPI

/// The ranges the planner accepts for a pool's numbers, and the check that refuses a number
/// outside them with `InvalidSpec` before any arithmetic sees it.
///
/// The CRD schema enforces the same bounds for pools the API server stores, but `tandem render
/// -f` reads manifests no API server has seen, and pools stored under an older, looser schema
/// still exist: the planner checks again, and never traps on what it finds.
public enum SpecBounds {
    /// `replicas`, `minReplicas`, `maxReplicas` and `maxReplicasPerStep`: the CRD schema's
    /// `maximum: 10_000` (`InferencePool+Schema.swift`).
    public static let replicas: ClosedRange<Int> = 0...10_000
    /// `behavior.*.stabilizationSeconds`: the CRD schema's `0...3600`.
    public static let stabilizationSeconds: ClosedRange<Int> = 0...3_600
    /// `behavior.*.periodSeconds`: the CRD schema's `1...1800`.
    public static let periodSeconds: ClosedRange<Int> = 1...1_800
    /// `scheduler.disaggregationThreshold`: the CRD schema's `0...1_048_576`.
    public static let disaggregationThreshold: ClosedRange<Int> = 0...1_048_576

    /// One message naming the field, its value, the accepted range and what to do.
    static func message(_ field: String, _ value: Int, _ range: ClosedRange<Int>, _ fix: String) -> String {
        "\(field) \(value) is out of range: Tandem accepts \(SizingLimits.describe(range)); \(fix)"
    }
}

extension PoolPlanner {
    /// The first number of `tier`'s part of the spec (and of the pool-wide fields sizing reads)
    /// outside its range, as an `InvalidSpec` problem; `nil` when all are in range.
    static func numberProblem(spec: InferencePoolSpec, tier: TierName) -> TierProblem? {
        func problem(_ field: String, _ value: Int?, _ range: ClosedRange<Int>, _ fix: String) -> TierProblem? {
            guard let value, !range.contains(value) else { return nil }
            return TierProblem(tier: tier, reason: "InvalidSpec", message: SpecBounds.message(field, value, range, fix))
        }
        var checks: [() -> TierProblem?] = []
        if let custom = spec.modelProfile {
            let fix = "copy the value from the model's config.json"
            checks += [
                { problem("spec.modelProfile.parameters", Int(custom.parameters), SizingLimits.parameters, fix) },
                { problem("spec.modelProfile.layers", Int(custom.layers), SizingLimits.layersOrHeads, fix) },
                { problem("spec.modelProfile.attentionHeads", Int(custom.attentionHeads), SizingLimits.layersOrHeads, fix) },
                { problem("spec.modelProfile.kvHeads", Int(custom.kvHeads), SizingLimits.layersOrHeads, fix) },
                { problem("spec.modelProfile.headDim", Int(custom.headDim), SizingLimits.headDim, fix) },
                { problem("spec.modelProfile.hiddenSize", custom.hiddenSize.map { Int($0) }, SizingLimits.hiddenSize, fix) },
                { problem("spec.modelProfile.maxContextLength", custom.maxContextLength.map { Int($0) }, SizingLimits.tokens, fix) },
            ]
        }
        let config = spec.config(tier)
        let path = "spec.\(tier.rawValue)Config"
        checks.append { problem("\(path).replicas", config.replicas.map { Int($0) }, SpecBounds.replicas, "set at most 10,000 replicas") }
        if let scaling = config.autoscaling {
            let bounds = "keep the autoscaling bounds within 0 to 10,000 replicas"
            checks += [
                { problem("\(path).autoscaling.minReplicas", scaling.minReplicas.map { Int($0) }, SpecBounds.replicas, bounds) },
                { problem("\(path).autoscaling.maxReplicas", scaling.maxReplicas.map { Int($0) }, 1...SpecBounds.replicas.upperBound, bounds) },
            ]
            for (direction, rules) in [("scaleUp", scaling.behavior?.scaleUp), ("scaleDown", scaling.behavior?.scaleDown)] {
                guard let rules else { continue }
                let field = "\(path).autoscaling.behavior.\(direction)"
                checks += [
                    { problem("\(field).maxReplicasPerStep", rules.maxReplicasPerStep.map { Int($0) }, 1...SpecBounds.replicas.upperBound, bounds) },
                    { problem("\(field).stabilizationSeconds", rules.stabilizationSeconds.map { Int($0) }, SpecBounds.stabilizationSeconds, "use at most an hour") },
                    { problem("\(field).periodSeconds", rules.periodSeconds.map { Int($0) }, SpecBounds.periodSeconds, "use at most 30 minutes") },
                ]
            }
        }
        if let devices = config.explicitDevices {
            checks.append {
                problem("\(path).resources[\(devices.resource)]", devices.count, SizingLimits.parallel,
                        "request between 1 and \(SizingLimits.parallel.upperBound) devices per replica (one node's worth)")
            }
        }
        if let threshold = spec.scheduler?.disaggregationThreshold {
            checks.append {
                problem("spec.scheduler.disaggregationThreshold", Int(threshold), SpecBounds.disaggregationThreshold,
                        "use a prompt length in tokens up to 1,048,576")
            }
        }
        for check in checks {
            if let found = check() { return found }
        }
        return nil
    }
}
