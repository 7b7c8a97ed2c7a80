import Foundation
import KubeCore
import Sizing
import TandemAPI

/// Why a tier cannot be rolled out, for the `SizingValid` condition and a Warning Event.
public struct TierProblem: Error, Hashable, Sendable, CustomStringConvertible {
    public var tier: TierName
    /// CamelCase (`ModelDoesNotFit`, `UnknownModel`, `EngineFlagRemoved`, …).
    public var reason: String
    /// The numbers, and the smallest setting that would fit when there is one.
    public var message: String

    public var description: String { "\(tier): \(message)" }
}

/// Something the user should know that does not stop the rollout (a dropped flag).
public struct PlanWarning: Hashable, Sendable {
    public var tier: TierName
    public var reason: String
    public var message: String
}

/// How the accelerator of a tier was chosen.
public enum AcceleratorChoice: Hashable, Sendable {
    /// Named in the spec (pool-wide or for the tier).
    case named(Accelerator)
    /// Inferred from the GPU nodes' labels, which all agree.
    case inferred(Accelerator)
    /// Neither named nor inferable: sizing skips the memory check (the reason says why).
    case unknown(String)

    public var accelerator: Accelerator? {
        switch self {
        case .named(let accelerator), .inferred(let accelerator): accelerator
        case .unknown: nil
        }
    }
}

/// The outcome of planning one tier.
public enum TierOutcome: Hashable, Sendable {
    case planned(TierPlan, TierSizing)
    case failed(TierProblem)

    public var plan: TierPlan? {
        if case .planned(let plan, _) = self { return plan }
        return nil
    }

    public var sizing: TierSizing? {
        if case .planned(_, let sizing) = self { return sizing }
        return nil
    }

    public var problem: TierProblem? {
        if case .failed(let problem) = self { return problem }
        return nil
    }
}

/// A whole pool's plan: per tier, what to roll out or why not.
public struct PoolPlan: Hashable, Sendable {
    public var prefill: TierOutcome
    public var decode: TierOutcome
    public var accelerators: [TierName: AcceleratorChoice]
    public var warnings: [PlanWarning]
    /// Prefill is kept at 0 replicas because decode cannot be rolled out.
    public var prefillHeld: Bool
    /// llm-d's router from the `scheduler` block; `nil` without one, a problem when it cannot
    /// be deployed (the tiers still are).
    public var router: Result<RouterPlan, TierProblem>?

    /// The router when it can be deployed.
    public var routerPlan: RouterPlan? {
        if case .success(let plan)? = router { return plan }
        return nil
    }

    public subscript(tier: TierName) -> TierOutcome { tier == .prefill ? prefill : decode }

    /// The tiers that can be rendered, prefill first.
    public var plans: [TierPlan] { [prefill.plan, decode.plan].compactMap { $0 } }

    public var problems: [TierProblem] { [prefill.problem, decode.problem].compactMap { $0 } }
}

/// Turns a pool into a ``PoolPlan``: resolves the accelerator and the model, reviews the
/// engine flags, sizes each tier, and builds the tier plans the renderer takes. Pure.
public struct PoolPlanner: Sendable {
    public var accelerators: AcceleratorCatalog
    public var models: ModelCatalog
    public var sizer: TierSizer
    /// Labels of the cluster's nodes (for inferring and selecting the accelerator); empty
    /// without a cluster.
    public var nodeLabels: [[String: String]]
    /// An accelerator inferred earlier and kept (the pool's `status.acceleratorResolution`):
    /// used for tiers that name none in place of inferring from ``nodeLabels`` again.
    public var resolvedAccelerator: String?

    public init(accelerators: AcceleratorCatalog = .builtIn, models: ModelCatalog = .builtIn,
                sizer: TierSizer = TierSizer(), nodeLabels: [[String: String]] = []) {
        self.accelerators = accelerators
        self.models = models
        self.sizer = sizer
        self.nodeLabels = nodeLabels
    }

    /// The image used when the spec names none (Sizing pins it with its flag table).
    public static let defaultImage = EngineFlagPolicy.pinnedVLLMImage

    public func plan(_ pool: InferencePool) -> PoolPlan {
        let spec = pool.spec ?? InferencePoolSpec(model: "")
        var warnings: [PlanWarning] = []
        var choices: [TierName: AcceleratorChoice] = [:]
        var outcomes: [TierName: TierOutcome] = [:]
        let router = RouterPlan.plan(spec)
        var routed: RouterPlan?
        if case .success(let plan)? = router { routed = plan }
        for tier in TierName.allCases {
            let choice = chooseAccelerator(spec: spec, tier: tier)
            choices[tier] = choice
            outcomes[tier] = planTier(pool: pool, spec: spec, tier: tier, choice: choice, router: tier == .decode ? routed : nil,
                                      warnings: &warnings)
        }
        var prefill = outcomes[.prefill]!
        let decode = outcomes[.decode]!
        if let problem = transferProblem(spec: spec, prefill: prefill.sizing, decode: decode.sizing) {
            prefill = .failed(problem)
        }
        var held = false
        if decode.problem != nil, case .planned(var plan, let sizing) = prefill {
            // A prefill tier alone serves nothing: keep it at 0 until decode can run.
            plan.replicas = 0
            prefill = .planned(plan, sizing)
            held = true
        }
        return PoolPlan(prefill: prefill, decode: decode, accelerators: choices, warnings: warnings, prefillHeld: held,
                        router: router)
    }

    /// llm-d's operations guide: KV caches move between the tiers rank to rank, so decode's
    /// tensor-parallel size must be at least prefill's (MLA models keep one latent per token,
    /// not per head, and are exempt), and `MooncakeConnector` needs the two sizes equal.
    /// A violation stops the prefill tier (decode alone still serves every prompt).
    func transferProblem(spec: InferencePoolSpec, prefill: TierSizing?, decode: TierSizing?) -> TierProblem? {
        guard let prefill, let decode else { return nil }
        let p = prefill.tensorParallelSize.value
        let d = decode.tensorParallelSize.value
        let connector = spec.kvTransfer?.connector ?? KVTransferSpec.defaultConnector
        if connector == "MooncakeConnector", p != d {
            return TierProblem(
                tier: .prefill, reason: "TensorParallelMismatch",
                message: "MooncakeConnector needs the same tensor-parallel size on both tiers, but prefill has \(p) and decode \(d): set --tensor-parallel-size=\(d) in prefillConfig.vllmArgs or \(p) in decodeConfig.vllmArgs")
        }
        var latent = false
        if let model = profile(spec), case .multiHeadLatent = model.attention { latent = true }
        if d < p, !latent {
            return TierProblem(
                tier: .prefill, reason: "TensorParallelMismatch",
                message: "decode's tensor-parallel size \(d) is below prefill's \(p); \(connector) moves KV caches rank to rank and needs decode ≥ prefill (llm-d's operations guide): set --tensor-parallel-size=\(d) in prefillConfig.vllmArgs or \(p) in decodeConfig.vllmArgs")
        }
        return nil
    }

    func chooseAccelerator(spec: InferencePoolSpec, tier: TierName) -> AcceleratorChoice {
        if let name = spec.config(tier).accelerator ?? spec.accelerator {
            if let accelerator = accelerators.accelerator(named: name) { return .named(accelerator) }
            return .unknown("accelerator \"\(name)\" is not in the catalog")
        }
        if let resolvedAccelerator, let accelerator = accelerators.accelerator(named: resolvedAccelerator) {
            return .inferred(accelerator)
        }
        switch accelerators.inferAccelerator(fromNodeLabels: nodeLabels) {
        case .identified(let accelerator): return .inferred(accelerator)
        case .ambiguous(let names):
            return .unknown("the GPU nodes disagree (\(names.joined(separator: ", "))); name one in spec.accelerator")
        case .unrecognized(let values):
            return .unknown("the GPU nodes carry an accelerator the catalog does not know (\(values.joined(separator: ", ")))")
        case .none:
            return .unknown("no accelerator named and no GPU nodes to infer it from")
        }
    }

    func planTier(pool: InferencePool, spec: InferencePoolSpec, tier: TierName, choice: AcceleratorChoice,
                  router: RouterPlan?, warnings: inout [PlanWarning]) -> TierOutcome {
        let config = spec.config(tier)
        func failed(_ reason: String, _ message: String) -> TierOutcome {
            .failed(TierProblem(tier: tier, reason: reason, message: message))
        }
        if let problem = Self.numberProblem(spec: spec, tier: tier) {
            return .failed(problem)
        }
        if case .unknown(let why) = choice, why.contains("not in the catalog") {
            let known = accelerators.accelerators.map(\.name).joined(separator: ", ")
            return failed("UnknownAccelerator", "\(why); known: \(known)")
        }
        guard let model = profile(spec) else {
            return failed("UnknownModel",
                          "model \"\(spec.model)\" is not in the built-in catalog: describe it in spec.modelProfile (parameters, layers, attentionHeads, kvHeads, headDim)")
        }
        let args: EngineArgs
        do {
            args = try EngineArgs(config.vllmArgs ?? [])
        } catch {
            if case .outOfRange = error {
                return failed("InvalidSpec", "spec.\(tier.rawValue)Config.vllmArgs: \(error)")
            }
            return failed("InvalidEngineArgs", "\(tier.rawValue)Config.vllmArgs: \(error)")
        }
        if spec.image == nil, let vendor = choice.accelerator?.vendor, vendor != .nvidia {
            return failed("ImageRequired",
                          "the default image \(Self.defaultImage) is built for NVIDIA CUDA; set spec.image to a vLLM build for \(choice.accelerator?.name ?? vendor.rawValue)")
        }
        let image = spec.image ?? Self.defaultImage
        var kept = args
        if let policy = EngineFlagPolicy.policy(forImage: image) {
            let review = policy.review(args)
            kept = review.kept
            if let refused = review.refused.first {
                return failed("EngineFlagRemoved", "\(refused.flag) is not accepted by \(image): \(refused.reason)")
            }
            for dropped in review.dropped {
                warnings.append(PlanWarning(
                    tier: tier, reason: "EngineFlagRemoved",
                    message: "\(dropped.flag) dropped from \(tier.rawValue)Config.vllmArgs: \(dropped.reason)"))
            }
        }
        let accelerator = choice.accelerator
        let explicit = config.explicitDevices
        if let explicit, let accelerator, explicit.resource != accelerator.resourceName {
            return failed("ResourceMismatch",
                          "\(tier.rawValue)Config.resources asks for \(explicit.resource), but \(accelerator.name) devices are \(accelerator.resourceName)")
        }
        let sizing: TierSizing
        do {
            sizing = try sizer.size(TierSizingRequest(
                tier: tier == .prefill ? .prefill : .decode, model: model, accelerator: accelerator,
                explicitDevices: explicit?.count, args: kept))
        } catch {
            var message = error.message
            if let fit = error.smallestFit { message += "; smallest setting that fits: \(fit)" }
            return failed(error.rule.reason, message)
        }
        return .planned(tierPlan(pool: pool, spec: spec, tier: tier, sizing: sizing, kept: kept, image: image,
                                 accelerator: accelerator, router: router), sizing)
    }

    func profile(_ spec: InferencePoolSpec) -> ModelProfile? {
        if let custom = spec.modelProfile {
            let heads = Int(custom.attentionHeads)
            // In Int, not Int32: 1024 heads × 4096 head dim is beyond no Int32, but a spec that
            // skipped the CRD's bounds (`tandem render -f`) may carry anything.
            return ModelProfile(
                id: spec.model, parameters: Int(custom.parameters), layers: Int(custom.layers), attentionHeads: heads,
                kvHeads: Int(custom.kvHeads), headDim: Int(custom.headDim),
                hiddenSize: custom.hiddenSize.map { Int($0) } ?? heads * Int(custom.headDim),
                // Llama-3.1's 131,072 tokens: a common ceiling when the profile does not say.
                maxContextLength: Int(custom.maxContextLength ?? 131_072),
                weightsDType: custom.dtype.flatMap { DType(name: $0) } ?? .bfloat16)
        }
        return models.profile(for: spec.model)
    }

    func tierPlan(pool: InferencePool, spec: InferencePoolSpec, tier: TierName, sizing: TierSizing, kept: EngineArgs,
                  image: String, accelerator: Accelerator?, router: RouterPlan?) -> TierPlan {
        let config = spec.config(tier)
        let connector = spec.kvTransfer?.connector ?? KVTransferSpec.defaultConnector
        // Behind the routing sidecar, vLLM moves off the service port.
        let port = router == nil ? Renderer.servingPort : Renderer.routedVLLMPort
        var args = ["--model=\(spec.model)", "--served-model-name=\(spec.model)", "--port=\(port)"]
        let userFlags = Set(kept.arguments.compactMap(\.flag))
        if !userFlags.contains("--kv-transfer-config") {
            let role = tier == .prefill ? "kv_producer" : "kv_consumer"
            args.append(#"--kv-transfer-config={"kv_connector":"\#(connector)","kv_role":"\#(role)"}"#)
        }
        args += sizing.derivedFlags + kept.arguments.flatMap(\.tokens)

        let deviceResource = accelerator?.resourceName ?? config.explicitDevices?.resource ?? "nvidia.com/gpu"
        let devices = Quantity(Int(sizing.devices.value))
        let memory = Self.quantity(bytes: sizing.memoryBytes)
        var requests: [String: Quantity] = ["cpu": Quantity(Int(sizing.cpu)), "memory": memory, deviceResource: devices]
        var limits: [String: Quantity] = ["memory": memory, deviceResource: devices]
        for (name, quantity) in config.resources ?? [:] {
            requests[name] = quantity
            limits[name] = quantity
        }
        var env: [EnvVar] = []
        var sideChannel: Int32?
        if connector == KVTransferSpec.defaultConnector {
            // NIXL's side channel must advertise the pod's own IP, on a port the pod declares (llm-d's guides).
            env.append(EnvVar(name: "VLLM_NIXL_SIDE_CHANNEL_HOST", valueFrom: ["fieldRef": ["fieldPath": "status.podIP"]]))
            env.append(EnvVar(name: "VLLM_NIXL_SIDE_CHANNEL_PORT", value: String(KVTransferSpec.nixlSideChannelPort)))
            sideChannel = KVTransferSpec.nixlSideChannelPort
        }
        var nodeSelector: [String: String] = [:]
        var tolerations: [Toleration] = []
        if let accelerator {
            if let label = selectorLabel(for: accelerator) { nodeSelector[label.key] = label.value }
            if let taint = accelerator.taint {
                tolerations.append(Toleration(key: taint.key, operator: "Exists", effect: taint.effect))
            }
        }
        let replicas: Int32?
        switch config.autoscaling?.mode ?? .disabled {
        case .disabled: replicas = config.replicas ?? 1
        // The autoscaler (or an HPA) owns the count: Tandem leaves the field out of its apply.
        case .operator, .external: replicas = nil
        }
        return TierPlan(
            tier: tier, replicas: replicas, image: image, args: args, env: env, requests: requests, limits: limits,
            sharedMemory: Self.quantity(bytes: sizing.shmBytes), nodeSelector: nodeSelector, tolerations: tolerations,
            sizingSummary: Self.summary(sizing), pod: spec.pod.overlaid(with: config.pod), vllmPort: port,
            sideChannelPort: sideChannel, router: router)
    }

    /// The node label that selects `accelerator`: the one its nodes actually carry, else the
    /// catalog's first (GPU feature discovery's for NVIDIA).
    func selectorLabel(for accelerator: Accelerator) -> Accelerator.NodeLabel? {
        for label in accelerator.nodeLabels where nodeLabels.contains(where: { $0[label.key] == label.value }) {
            return label
        }
        return accelerator.nodeLabels.first
    }

    /// Bytes as a binary quantity in whole MiB or GiB (the form the API server keeps).
    static func quantity(bytes: Int) -> Quantity {
        let gib = 1 << 30
        let mib = 1 << 20
        // Rounded up to whole MiB without `bytes + mib − 1`, which could overflow.
        let text = bytes % gib == 0 ? "\(bytes / gib)Gi" : "\(bytes / mib + (bytes % mib > 0 ? 1 : 0))Mi"
        // Always valid: an integer with a binary suffix.
        return Quantity(text) ?? Quantity(0)
    }

    /// The sizing decision as compact JSON for the Deployment annotation.
    static func summary(_ sizing: TierSizing) -> String {
        var fields: [String: JSONValue] = [
            "tensorParallelSize": .int(Int64(sizing.tensorParallelSize.value)),
            "devices": .int(Int64(sizing.devices.value)),
            "maxModelLen": .int(Int64(sizing.maxModelLen.value)),
            "maxNumSeqs": .int(Int64(sizing.maxNumSeqs.value)),
            "maxNumBatchedTokens": .int(Int64(sizing.maxNumBatchedTokens.value)),
            "gpuMemoryUtilization": .double(sizing.gpuMemoryUtilization.value),
            "kvCacheBytesPerToken": .int(Int64(sizing.kvCacheBytesPerToken)),
            "memoryChecked": .bool(sizing.memoryChecked),
        ]
        if let name = sizing.acceleratorName { fields["accelerator"] = .string(name) }
        if let tokens = sizing.kvCacheTokens { fields["kvCacheTokens"] = .int(Int64(tokens)) }
        let data = (try? KubeJSON.encode(JSONValue.object(fields))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
