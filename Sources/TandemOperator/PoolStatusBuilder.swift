import Foundation
import KubeCore
import Rendering
import Sizing
import TandemAPI

/// What the reconciler found of a pool's router, for the `RouterReady` condition.
public enum RouterState: Sendable {
    /// No `scheduler` block: no router, no condition.
    case absent
    /// The block asks for a router Tandem cannot deploy.
    case refused(TierProblem)
    /// Deployed: the endpoint picker's Deployment as last seen, and the GIE pool's name, `nil`
    /// when the cluster does not serve the Gateway API Inference Extension.
    case deployed(endpointPicker: Deployment?, gatewayPool: String?, threshold: Int)
}

/// Computes a pool's status from its plan and its Deployments. Pure.
public enum PoolStatusBuilder {
    /// The status the pool should have now.
    ///
    /// - Parameters:
    ///   - previous: the current status (conditions keep their transition times).
    ///   - invalid: spec errors, when the spec failed validation (then `plan` is nil).
    ///   - deployments: the tiers' Deployments as last seen (cache or apply answer).
    ///   - resolution: how the accelerator of unnamed tiers was chosen (``AcceleratorResolver``).
    ///   - children: what could not be written this round.
    public static func status(
        pool: InferencePool, previous: InferencePoolStatus?, invalid: [FieldError], plan: PoolPlan?,
        deployments: [TierName: Deployment], router: RouterState = .absent,
        resolution: AcceleratorResolver.Outcome? = nil, children: ChildReport = ChildReport(), now: KubeTime
    ) -> InferencePoolStatus {
        let generation = pool.metadata.generation
        var status = InferencePoolStatus(observedGeneration: generation)
        status.scalingHistory = previous?.scalingHistory
        var conditions = previous?.conditions ?? []
        func set(_ type: String, _ value: ConditionStatus, _ reason: String, _ message: String) {
            conditions.set(Condition(type: type, status: value, reason: reason, message: message, observedGeneration: generation), now: now)
        }
        let poolName = pool.metadata.name ?? ""

        guard let plan, invalid.isEmpty else {
            let message = invalid.map(\.description).joined(separator: "; ")
            set(PoolCondition.sizingValid, .false, "InvalidSpec", message)
            set(PoolCondition.ready, .false, "InvalidSpec", "the spec is invalid: \(message)")
            set(PoolCondition.progressing, .false, "InvalidSpec", "nothing is rolled out until the spec is fixed")
            if conditions[type: PoolCondition.routerReady] != nil {
                set(PoolCondition.routerReady, .false, "InvalidSpec", "nothing is rolled out until the spec is fixed")
            }
            status.conditions = conditions
            status.prefill = previous?.prefill
            status.decode = previous?.decode
            status.accelerator = previous?.accelerator
            status.acceleratorResolution = previous?.acceleratorResolution
            return status
        }

        // The accelerator of tiers that name none.
        status.acceleratorResolution = resolution?.record
        if let condition = resolution?.condition {
            set(PoolCondition.acceleratorResolved, condition.status, condition.reason, condition.message)
        } else {
            conditions.removeAll { $0.type == PoolCondition.acceleratorResolved }
        }

        // Sizing.
        if let problem = plan.problems.first {
            var message = plan.problems.map(\.description).joined(separator: "; ")
            if plan.prefillHeld { message += "; prefill is held at 0 replicas until decode can run" }
            set(PoolCondition.sizingValid, .false, problem.reason, message)
        } else {
            var message = TierName.allCases.compactMap { tier -> String? in
                guard let sizing = plan[tier].sizing else { return nil }
                return "\(tier.rawValue): \(describe(sizing))"
            }.joined(separator: "; ")
            var reason = "Fits"
            if let warning = plan.warnings.first {
                reason = warning.reason
                message += "; " + plan.warnings.map(\.message).joined(separator: "; ")
            }
            if TierName.allCases.contains(where: { plan[$0].sizing?.memoryChecked == false }) {
                reason = plan.warnings.isEmpty ? "AcceleratorUnknown" : reason
                if case .unknown(let why)? = plan.accelerators[.decode] { message += "; memory not checked: \(why)" }
            }
            set(PoolCondition.sizingValid, .true, reason, message)
        }

        // Tiers.
        var allReady = true
        var rolling = false
        for tier in TierName.allCases {
            let deployment = deployments[tier]
            var tierStatus = TierStatus(selector: PoolLabels.selectorString(pool: poolName, tier: tier))
            let desired = plan[tier].plan.map { $0.replicas ?? deployment?.spec?.replicas ?? 1 }
                ?? deployment?.spec?.replicas
            tierStatus.desiredReplicas = desired
            tierStatus.replicas = deployment?.status?.replicas ?? 0
            tierStatus.readyReplicas = deployment?.status?.readyReplicas ?? 0
            tierStatus.ready = "\(tierStatus.readyReplicas ?? 0)/\(desired ?? 0)"
            if let sizing = plan[tier].sizing {
                tierStatus.accelerator = sizing.acceleratorName
                tierStatus.gpusPerReplica = Int32(clamping: sizing.devices.value)
                tierStatus.tensorParallelSize = Int32(clamping: sizing.tensorParallelSize.value)
                tierStatus.maxModelLen = Int32(clamping: sizing.maxModelLen.value)
                tierStatus.kvCacheTokens = sizing.kvCacheTokens.map(Int64.init)
            }
            let previousTier = previous?[tier]
            tierStatus.metrics = previousTier?.metrics
            tierStatus.lastScaleTime = previousTier?.lastScaleTime
            status[tier] = tierStatus

            let ready = tierStatus.readyReplicas ?? 0
            if deployment == nil || ready < (desired ?? 0) { allReady = false }
            if let deployment, let observed = deployment.status?.observedGeneration,
                let generation = deployment.metadata.generation, observed < generation
            {
                rolling = true
            }
            if (deployment?.status?.updatedReplicas ?? 0) < (desired ?? 0) || ready < (desired ?? 0) { rolling = true }
        }
        status.accelerator = plan.accelerators[.decode]?.accelerator?.name ?? plan.accelerators[.prefill]?.accelerator?.name

        // Readiness.
        if let problem = plan.decode.problem {
            set(PoolCondition.ready, .false, "DecodeNotRolledOut", "the decode tier cannot run: \(problem.message)")
            set(PoolCondition.progressing, .false, problem.reason, "waiting for a spec the decode tier fits")
        } else {
            if (status.decode?.desiredReplicas ?? 0) < 1 {
                set(PoolCondition.ready, .false, "NoDecodeReplicas", "the decode tier has 0 replicas: the pool serves nothing")
            } else if allReady {
                set(PoolCondition.ready, .true, "Serving", "prefill \(status.prefill?.ready ?? "0/0"), decode \(status.decode?.ready ?? "0/0") ready")
            } else {
                set(PoolCondition.ready, .false, "PodsNotReady", "prefill \(status.prefill?.ready ?? "0/0"), decode \(status.decode?.ready ?? "0/0") ready")
            }
            if rolling {
                set(PoolCondition.progressing, .true, "RollingOut", "replicas are being created or updated")
            } else {
                set(PoolCondition.progressing, .false, "RolledOut", "every tier runs its desired replicas")
            }
        }
        if let problem = children.problem {
            set(PoolCondition.ready, .false, problem.reason, problem.message)
            set(PoolCondition.progressing, .false, problem.reason, "blocked until the children can be written: see Ready")
        }
        switch router {
        case .absent:
            conditions.removeAll { $0.type == PoolCondition.routerReady }
        case .refused(let problem):
            set(PoolCondition.routerReady, .false, problem.reason, problem.message)
        case .deployed(let picker, let gatewayPool, let threshold):
            let name = picker?.metadata.name ?? ChildNames.router(poolName)
            let ready = picker?.status?.readyReplicas ?? 0
            if gatewayPool == nil {
                set(PoolCondition.routerReady, .false, "InferenceExtensionNotInstalled",
                    "the cluster does not serve inference.networking.k8s.io/v1: install the Gateway API Inference Extension's CRDs so a Gateway can route to this pool; the endpoint picker \(name) and the tiers are deployed")
            } else if ready < 1 {
                set(PoolCondition.routerReady, .false, "EndpointPickerNotReady", "endpoint picker \(name): 0/1 ready")
            } else {
                set(PoolCondition.routerReady, .true, "Routing",
                    "endpoint picker \(name) ready; InferencePool.inference.networking.k8s.io \(gatewayPool ?? "") selects the pool's pods on port \(Renderer.servingPort); prompts with ≥ \(threshold) uncached tokens are prefilled on the prefill tier")
            }
        }
        status.conditions = conditions
        return status
    }

    static func describe(_ sizing: TierSizing) -> String {
        var text = "tensor parallel \(sizing.tensorParallelSize.value), \(sizing.devices.value) \(sizing.deviceNoun)\(sizing.devices.value == 1 ? "" : "s") per replica"
        if let name = sizing.acceleratorName { text += " on \(name)" }
        text += ", max-model-len \(sizing.maxModelLen.value)"
        if let tokens = sizing.kvCacheTokens { text += ", \(tokens) KV-cache tokens" }
        return text
    }
}
