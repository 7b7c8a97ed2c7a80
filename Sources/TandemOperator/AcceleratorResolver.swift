import KubeCore
import Sizing
import TandemAPI

/// Decides which accelerator a pool's tiers that name none are sized for. Pure.
///
/// The answer is inferred from the GPU nodes' labels once and recorded in
/// `status.acceleratorResolution`; it is kept while the spec does not change, so a node of
/// another type joining (or leaving) the cluster never re-renders a running pool. When the spec
/// changes and the nodes then agree on one accelerator, it is inferred anew; when they disagree,
/// the recorded one is kept. The `AcceleratorResolved` condition says which case holds.
public enum AcceleratorResolver {
    /// What the reconciler does with a pool's accelerator.
    public struct Outcome: Sendable, Equatable {
        /// The accelerator to plan unnamed tiers for (``PoolPlanner/resolvedAccelerator``);
        /// `nil` lets the planner infer (and report) from the nodes as they are.
        public var accelerator: String?
        /// What to keep in `status.acceleratorResolution`.
        public var record: AcceleratorResolution?
        /// The `AcceleratorResolved` condition; `nil` when every tier names its accelerator.
        public var condition: (status: ConditionStatus, reason: String, message: String)?

        public static func == (a: Outcome, b: Outcome) -> Bool {
            a.accelerator == b.accelerator && a.record == b.record && a.condition?.status == b.condition?.status
                && a.condition?.reason == b.condition?.reason && a.condition?.message == b.condition?.message
        }
    }

    /// - Parameters:
    ///   - generation: the pool's `metadata.generation` now.
    ///   - recorded: the pool's `status.acceleratorResolution`.
    ///   - nodes: what the GPU nodes' labels say now.
    public static func resolve(
        spec: InferencePoolSpec, generation: Int64?, recorded: AcceleratorResolution?,
        nodes: AcceleratorCatalog.Inference, catalog: AcceleratorCatalog = .builtIn
    ) -> Outcome {
        let unnamed = TierName.allCases.contains { (spec.config($0).accelerator ?? spec.accelerator) == nil }
        guard unnamed else { return Outcome(accelerator: nil, record: nil, condition: nil) }
        let hint = "name one in spec.accelerator to choose"

        if let recorded, catalog.accelerator(named: recorded.inferred) != nil {
            var keep = recorded.generation == generation
            if case .identified = nodes {} else { keep = true }  // a changed spec re-infers only from agreeing nodes
            if keep {
                let message: String
                let reason: String
                switch nodes {
                case .identified(let accelerator) where accelerator.name == recorded.inferred:
                    reason = "Inferred"
                    message = "\(recorded.inferred), inferred from the GPU nodes' labels, kept until the spec changes; \(hint)"
                case .none:
                    reason = "Inferred"
                    message = "\(recorded.inferred), inferred earlier, kept although no node now carries GPU labels; \(hint)"
                case .identified(let other):
                    reason = "NodesDisagree"
                    message = "keeping \(recorded.inferred), inferred for generation \(recorded.generation ?? 0), although the GPU nodes now carry \(other.name); \(hint)"
                case .ambiguous(let names), .unrecognized(let names):
                    reason = "NodesDisagree"
                    message = "keeping \(recorded.inferred), inferred for generation \(recorded.generation ?? 0), although the GPU nodes now carry \(names.joined(separator: ", ")); \(hint)"
                }
                return Outcome(accelerator: recorded.inferred, record: recorded, condition: (.true, reason, message))
            }
        }
        switch nodes {
        case .identified(let accelerator):
            return Outcome(
                accelerator: accelerator.name,
                record: AcceleratorResolution(inferred: accelerator.name, generation: generation),
                condition: (.true, "Inferred", "\(accelerator.name), inferred from the GPU nodes' labels, kept until the spec changes; \(hint)"))
        case .ambiguous(let names):
            return Outcome(accelerator: nil, record: nil,
                           condition: (.false, "NodesDisagree", "the GPU nodes carry \(names.joined(separator: ", ")): \(hint)"))
        case .unrecognized(let labels):
            return Outcome(accelerator: nil, record: nil,
                           condition: (.false, "UnrecognizedAccelerator", "the GPU nodes carry an accelerator the catalog does not know (\(labels.joined(separator: ", "))): \(hint)"))
        case .none:
            return Outcome(accelerator: nil, record: nil,
                           condition: (.false, "NoGPUNodes", "no node carries GPU labels to infer the accelerator from: \(hint)"))
        }
    }
}
