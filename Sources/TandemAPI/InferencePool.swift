import KubeCore

/// `InferencePool` (`inference.x-k8s.io/v1alpha1`): one model served by a prefill tier and a
/// decode tier that Tandem sizes, deploys and scales.
///
/// Not to be confused with the Gateway API Inference Extension's `InferencePool`
/// (`inference.networking.k8s.io`): a different group, so both can live in one cluster; ours has
/// the short name `ipool`.
public struct InferencePool: KubernetesResource, Hashable {
    public static let apiResource = APIResource(
        group: "inference.x-k8s.io", version: "v1alpha1", kind: "InferencePool", plural: "inferencepools",
        namespaced: true)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: InferencePoolSpec?
    public var status: InferencePoolStatus?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: InferencePoolSpec? = nil, status: InferencePoolStatus? = nil) {
        self.apiVersion = Self.apiResource.apiVersion
        self.kind = Self.apiResource.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

/// The desired state of an ``InferencePool``. Every field of the seed manifest keeps its name.
public struct InferencePoolSpec: Codable, Hashable, Sendable {
    /// The Hugging Face model id; becomes `--model` and `--served-model-name`. Required.
    public var model: String
    /// An accelerator catalog name (`nvidia-h200`); absent: inferred from the GPU nodes' labels.
    public var accelerator: String?
    /// The model server: `vllm` (default) or `sglang`.
    public var engine: Engine?
    /// The model server image; absent: the pinned default of the engine.
    public var image: String?
    /// The model's shape, for models not in the built-in catalog.
    public var modelProfile: ModelProfileSpec?
    public var prefillConfig: TierConfig?
    public var decodeConfig: TierConfig?
    /// Keeps prefill replicas within `[min × decode, max × decode]` when autoscaling.
    public var ratio: RatioSpec?
    /// The llm-d scheduler (endpoint picker) settings of the seed manifest.
    public var scheduler: SchedulerSpec?
    /// How KV caches move from prefill to decode.
    public var kvTransfer: KVTransferSpec?
    /// Pod settings for both tiers; a tier's own settings win.
    public var pod: PodOverrides

    public init(
        model: String, accelerator: String? = nil, engine: Engine? = nil, image: String? = nil,
        modelProfile: ModelProfileSpec? = nil, prefillConfig: TierConfig? = nil, decodeConfig: TierConfig? = nil,
        ratio: RatioSpec? = nil, scheduler: SchedulerSpec? = nil, kvTransfer: KVTransferSpec? = nil,
        pod: PodOverrides = PodOverrides()
    ) {
        self.model = model
        self.accelerator = accelerator
        self.engine = engine
        self.image = image
        self.modelProfile = modelProfile
        self.prefillConfig = prefillConfig
        self.decodeConfig = decodeConfig
        self.ratio = ratio
        self.scheduler = scheduler
        self.kvTransfer = kvTransfer
        self.pod = pod
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, accelerator, engine, image, modelProfile, prefillConfig, decodeConfig, ratio, scheduler, kvTransfer
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        model = try container.decode(String.self, forKey: .model)
        accelerator = try container.decodeIfPresent(String.self, forKey: .accelerator)
        engine = try container.decodeIfPresent(Engine.self, forKey: .engine)
        image = try container.decodeIfPresent(String.self, forKey: .image)
        modelProfile = try container.decodeIfPresent(ModelProfileSpec.self, forKey: .modelProfile)
        prefillConfig = try container.decodeIfPresent(TierConfig.self, forKey: .prefillConfig)
        decodeConfig = try container.decodeIfPresent(TierConfig.self, forKey: .decodeConfig)
        ratio = try container.decodeIfPresent(RatioSpec.self, forKey: .ratio)
        scheduler = try container.decodeIfPresent(SchedulerSpec.self, forKey: .scheduler)
        kvTransfer = try container.decodeIfPresent(KVTransferSpec.self, forKey: .kvTransfer)
        pod = try PodOverrides(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(model, forKey: .model)
        try container.encodeIfPresent(accelerator, forKey: .accelerator)
        try container.encodeIfPresent(engine, forKey: .engine)
        try container.encodeIfPresent(image, forKey: .image)
        try container.encodeIfPresent(modelProfile, forKey: .modelProfile)
        try container.encodeIfPresent(prefillConfig, forKey: .prefillConfig)
        try container.encodeIfPresent(decodeConfig, forKey: .decodeConfig)
        try container.encodeIfPresent(ratio, forKey: .ratio)
        try container.encodeIfPresent(scheduler, forKey: .scheduler)
        try container.encodeIfPresent(kvTransfer, forKey: .kvTransfer)
        try pod.encode(to: encoder)
    }

    /// The configuration of `tier` (an empty one when the spec omits it).
    public func config(_ tier: TierName) -> TierConfig {
        switch tier {
        case .prefill: prefillConfig ?? TierConfig()
        case .decode: decodeConfig ?? TierConfig()
        }
    }
}

/// The two tiers of a pool.
public enum TierName: String, Codable, Hashable, Sendable, CaseIterable {
    case prefill
    case decode
}

/// The model server engine.
public enum Engine: String, Codable, Hashable, Sendable, CaseIterable {
    case vllm
    case sglang
}

/// The shape of a model not in the built-in catalog.
public struct ModelProfileSpec: Codable, Hashable, Sendable {
    /// Count of weights.
    public var parameters: Int64
    public var layers: Int32
    public var attentionHeads: Int32
    public var kvHeads: Int32
    public var headDim: Int32
    /// Weight data type: `bfloat16`, `float16`, `fp8` or `int4`.
    public var dtype: String?
    /// The model's own context limit (`max_position_embeddings`); caps a derived `--max-model-len`.
    public var maxContextLength: Int32?
    /// `hidden_size`; defaults to attentionHeads × headDim.
    public var hiddenSize: Int32?

    public init(parameters: Int64, layers: Int32, attentionHeads: Int32, kvHeads: Int32, headDim: Int32,
                dtype: String? = nil, maxContextLength: Int32? = nil, hiddenSize: Int32? = nil) {
        self.parameters = parameters
        self.layers = layers
        self.attentionHeads = attentionHeads
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.dtype = dtype
        self.maxContextLength = maxContextLength
        self.hiddenSize = hiddenSize
    }
}

/// One tier's settings (`prefillConfig`, `decodeConfig`).
public struct TierConfig: Codable, Hashable, Sendable {
    /// Replicas while autoscaling is off (seed field). Ignored while the mode is `Operator`.
    public var replicas: Int32?
    /// Per-replica resources, requests = limits (seed field: a flat map, `nvidia.com/gpu: "2"`).
    public var resources: [String: Quantity]?
    /// Extra model-server flags (seed field). They win over every flag Tandem derives.
    public var vllmArgs: [String]?
    /// This tier's accelerator, overriding the pool's.
    public var accelerator: String?
    public var autoscaling: AutoscalingSpec?
    /// Pod settings of this tier; they win over the pool-wide ones.
    public var pod: PodOverrides

    public init(replicas: Int32? = nil, resources: [String: Quantity]? = nil, vllmArgs: [String]? = nil,
                accelerator: String? = nil, autoscaling: AutoscalingSpec? = nil, pod: PodOverrides = PodOverrides()) {
        self.replicas = replicas
        self.resources = resources
        self.vllmArgs = vllmArgs
        self.accelerator = accelerator
        self.autoscaling = autoscaling
        self.pod = pod
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case replicas, resources, vllmArgs, accelerator, autoscaling
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        replicas = try container.decodeIfPresent(Int32.self, forKey: .replicas)
        resources = try container.decodeIfPresent([String: Quantity].self, forKey: .resources)
        vllmArgs = try container.decodeIfPresent([String].self, forKey: .vllmArgs)
        accelerator = try container.decodeIfPresent(String.self, forKey: .accelerator)
        autoscaling = try container.decodeIfPresent(AutoscalingSpec.self, forKey: .autoscaling)
        pod = try PodOverrides(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(replicas, forKey: .replicas)
        try container.encodeIfPresent(resources, forKey: .resources)
        try container.encodeIfPresent(vllmArgs, forKey: .vllmArgs)
        try container.encodeIfPresent(accelerator, forKey: .accelerator)
        try container.encodeIfPresent(autoscaling, forKey: .autoscaling)
        try pod.encode(to: encoder)
    }
}

/// Pod settings passed through to a tier's pods (pool-wide or per tier). Lists and maps from a
/// tier replace (lists) or extend (maps) the pool-wide ones.
public struct PodOverrides: Codable, Hashable, Sendable {
    public var env: [EnvVar]?
    /// `[corev1.EnvFromSource]`, e.g. a Secret holding `HF_TOKEN`.
    public var envFrom: [JSONValue]?
    public var volumes: [Volume]?
    public var volumeMounts: [VolumeMount]?
    public var nodeSelector: [String: String]?
    public var tolerations: [Toleration]?
    /// `corev1.Affinity`, passed through.
    public var affinity: JSONValue?
    public var priorityClassName: String?
    public var imagePullSecrets: [LocalObjectReference]?
    public var serviceAccountName: String?
    public var podAnnotations: [String: String]?
    public var podLabels: [String: String]?

    public init(env: [EnvVar]? = nil, envFrom: [JSONValue]? = nil, volumes: [Volume]? = nil,
                volumeMounts: [VolumeMount]? = nil, nodeSelector: [String: String]? = nil,
                tolerations: [Toleration]? = nil, affinity: JSONValue? = nil, priorityClassName: String? = nil,
                imagePullSecrets: [LocalObjectReference]? = nil, serviceAccountName: String? = nil,
                podAnnotations: [String: String]? = nil, podLabels: [String: String]? = nil) {
        self.env = env
        self.envFrom = envFrom
        self.volumes = volumes
        self.volumeMounts = volumeMounts
        self.nodeSelector = nodeSelector
        self.tolerations = tolerations
        self.affinity = affinity
        self.priorityClassName = priorityClassName
        self.imagePullSecrets = imagePullSecrets
        self.serviceAccountName = serviceAccountName
        self.podAnnotations = podAnnotations
        self.podLabels = podLabels
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case env, envFrom, volumes, volumeMounts, nodeSelector, tolerations, affinity, priorityClassName,
            imagePullSecrets, serviceAccountName, podAnnotations, podLabels
    }

    /// These settings with `tier`'s laid over them: the tier's lists replace, its maps extend.
    public func overlaid(with tier: PodOverrides) -> PodOverrides {
        func merge(_ base: [String: String]?, _ top: [String: String]?) -> [String: String]? {
            guard let top else { return base }
            return (base ?? [:]).merging(top) { _, new in new }
        }
        return PodOverrides(
            env: tier.env ?? env, envFrom: tier.envFrom ?? envFrom, volumes: tier.volumes ?? volumes,
            volumeMounts: tier.volumeMounts ?? volumeMounts, nodeSelector: merge(nodeSelector, tier.nodeSelector),
            tolerations: tier.tolerations ?? tolerations, affinity: tier.affinity ?? affinity,
            priorityClassName: tier.priorityClassName ?? priorityClassName,
            imagePullSecrets: tier.imagePullSecrets ?? imagePullSecrets,
            serviceAccountName: tier.serviceAccountName ?? serviceAccountName,
            podAnnotations: merge(podAnnotations, tier.podAnnotations), podLabels: merge(podLabels, tier.podLabels))
    }
}

/// Who sets a tier's replica count.
public enum AutoscalingMode: String, Codable, Hashable, Sendable, CaseIterable {
    /// `replicas` from the spec.
    case disabled = "Disabled"
    /// Tandem's autoscaler, from the model servers' metrics.
    case `operator` = "Operator"
    /// Something else (an HPA, KEDA): Tandem leaves `replicas` alone.
    case external = "External"
}

/// A tier's autoscaling settings.
public struct AutoscalingSpec: Codable, Hashable, Sendable {
    public var mode: AutoscalingMode?
    /// Prefill may scale to 0; decode keeps at least 1.
    public var minReplicas: Int32?
    public var maxReplicas: Int32?
    public var target: ScalingTarget?
    public var behavior: ScalingBehavior?

    public init(mode: AutoscalingMode? = nil, minReplicas: Int32? = nil, maxReplicas: Int32? = nil,
                target: ScalingTarget? = nil, behavior: ScalingBehavior? = nil) {
        self.mode = mode
        self.minReplicas = minReplicas
        self.maxReplicas = maxReplicas
        self.target = target
        self.behavior = behavior
    }
}

/// The per-replica signal values a tier is scaled to hold.
public struct ScalingTarget: Codable, Hashable, Sendable {
    /// Waiting requests per replica (the prefill tier's default signal).
    public var waitingRequestsPerReplica: Double?
    /// KV-cache utilisation, 0–1 (the decode tier's default signal).
    public var kvCacheUtilization: Double?
    /// Running requests per replica (the batch; it cannot exceed `--max-num-seqs`).
    public var runningRequestsPerReplica: Double?
    /// Requests in flight per replica: running plus waiting (the queueing-theory "number in
    /// system", Knative's concurrency); both tiers' default signal.
    public var inFlightRequestsPerReplica: Double?

    public init(waitingRequestsPerReplica: Double? = nil, kvCacheUtilization: Double? = nil,
                runningRequestsPerReplica: Double? = nil, inFlightRequestsPerReplica: Double? = nil) {
        self.waitingRequestsPerReplica = waitingRequestsPerReplica
        self.kvCacheUtilization = kvCacheUtilization
        self.runningRequestsPerReplica = runningRequestsPerReplica
        self.inFlightRequestsPerReplica = inFlightRequestsPerReplica
    }
}

/// How fast a tier may scale each way.
public struct ScalingBehavior: Codable, Hashable, Sendable {
    public var scaleUp: ScalingRules?
    public var scaleDown: ScalingRules?

    public init(scaleUp: ScalingRules? = nil, scaleDown: ScalingRules? = nil) {
        self.scaleUp = scaleUp
        self.scaleDown = scaleDown
    }
}

/// Stabilisation and rate limit of one scaling direction.
public struct ScalingRules: Codable, Hashable, Sendable {
    /// Recommendations of this long a window are considered (the most conservative wins).
    public var stabilizationSeconds: Int32?
    /// At most this many replicas per period.
    public var maxReplicasPerStep: Int32?
    public var periodSeconds: Int32?

    public init(stabilizationSeconds: Int32? = nil, maxReplicasPerStep: Int32? = nil, periodSeconds: Int32? = nil) {
        self.stabilizationSeconds = stabilizationSeconds
        self.maxReplicasPerStep = maxReplicasPerStep
        self.periodSeconds = periodSeconds
    }
}

/// The P:D ratio guard.
public struct RatioSpec: Codable, Hashable, Sendable {
    public var minPrefillPerDecode: Double?
    public var maxPrefillPerDecode: Double?

    public init(minPrefillPerDecode: Double? = nil, maxPrefillPerDecode: Double? = nil) {
        self.minPrefillPerDecode = minPrefillPerDecode
        self.maxPrefillPerDecode = maxPrefillPerDecode
    }
}

/// The seed's `scheduler` block: llm-d's endpoint picker.
public struct SchedulerSpec: Codable, Hashable, Sendable {
    public var enableCacheAwareRouting: Bool?
    public var enableLoadBalancing: Bool?
    /// Tokens: a prompt with at least this many uncached tokens is prefilled on the prefill
    /// tier; shorter ones by decode alone (llm-d's `prefix-based-pd-decider`).
    public var disaggregationThreshold: Int32?

    /// The threshold when the block names none. Source: the seed manifest's
    /// `disaggregationThreshold: 100` (and the seed's example of a 5-token prompt under it).
    public static let defaultDisaggregationThreshold = 100

    /// The threshold in force: the block's, else ``defaultDisaggregationThreshold``.
    public var threshold: Int { Int(disaggregationThreshold ?? Int32(Self.defaultDisaggregationThreshold)) }

    public init(enableCacheAwareRouting: Bool? = nil, enableLoadBalancing: Bool? = nil, disaggregationThreshold: Int32? = nil) {
        self.enableCacheAwareRouting = enableCacheAwareRouting
        self.enableLoadBalancing = enableLoadBalancing
        self.disaggregationThreshold = disaggregationThreshold
    }
}

/// vLLM's KV connector between the tiers.
public struct KVTransferSpec: Codable, Hashable, Sendable {
    /// `NixlConnector` (default), `LMCacheConnectorV1`, `MooncakeConnector`, …
    public var connector: String?

    /// The connector when none is named: NIXL, the one llm-d's guides use.
    public static let defaultConnector = "NixlConnector"
    /// NIXL's side-channel port, on which a decode pod's vLLM asks the prefill pod's for its KV
    /// blocks. Source: vLLM's `VLLM_NIXL_SIDE_CHANNEL_PORT` default and llm-d's guides (5600).
    public static let nixlSideChannelPort: Int32 = 5600

    public init(connector: String? = nil) {
        self.connector = connector
    }
}
