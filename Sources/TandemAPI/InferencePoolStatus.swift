import KubeCore

/// What Tandem observed and did for an ``InferencePool``.
public struct InferencePoolStatus: Codable, Hashable, Sendable {
    /// The `metadata.generation` this status describes.
    public var observedGeneration: Int64?
    /// `Ready`, `Progressing`, `SizingValid`, `ScalingActive`.
    public var conditions: [Condition]?
    /// The accelerator the pool was sized for (named or inferred).
    public var accelerator: String?
    /// The accelerator inferred from the GPU nodes for tiers that name none, kept while the spec
    /// does not change, so a node of another type joining or leaving re-renders nothing.
    public var acceleratorResolution: AcceleratorResolution?
    public var prefill: TierStatus?
    public var decode: TierStatus?
    /// Newest first, at most ``InferencePoolStatus/scalingHistoryLimit``.
    public var scalingHistory: [ScalingRecord]?

    /// How many scaling decisions status keeps.
    public static let scalingHistoryLimit = 10

    public init(observedGeneration: Int64? = nil, conditions: [Condition]? = nil, accelerator: String? = nil,
                prefill: TierStatus? = nil, decode: TierStatus? = nil, scalingHistory: [ScalingRecord]? = nil) {
        self.observedGeneration = observedGeneration
        self.conditions = conditions
        self.accelerator = accelerator
        self.prefill = prefill
        self.decode = decode
        self.scalingHistory = scalingHistory
    }

    public subscript(tier: TierName) -> TierStatus? {
        get { tier == .prefill ? prefill : decode }
        set {
            if tier == .prefill { prefill = newValue } else { decode = newValue }
        }
    }
}

/// An accelerator inferred from the cluster's GPU nodes and recorded in status.
public struct AcceleratorResolution: Codable, Hashable, Sendable {
    /// The catalog name inferred (`nvidia-h200`).
    public var inferred: String
    /// The pool's `metadata.generation` it was inferred for: kept until the spec changes.
    public var generation: Int64?

    public init(inferred: String, generation: Int64?) {
        self.inferred = inferred
        self.generation = generation
    }
}

/// One tier's state.
public struct TierStatus: Codable, Hashable, Sendable {
    /// Pods of the tier's Deployment.
    public var replicas: Int32?
    public var readyReplicas: Int32?
    /// The replica count Tandem asks for.
    public var desiredReplicas: Int32?
    /// `ready/desired`, for `kubectl get ipool`.
    public var ready: String?
    public var accelerator: String?
    public var gpusPerReplica: Int32?
    public var tensorParallelSize: Int32?
    public var maxModelLen: Int32?
    /// Tokens of KV cache one replica holds.
    public var kvCacheTokens: Int64?
    public var metrics: TierMetrics?
    public var lastScaleTime: KubeTime?
    /// The label selector of the tier's pods, as a string.
    public var selector: String?

    public init(replicas: Int32? = nil, readyReplicas: Int32? = nil, desiredReplicas: Int32? = nil, ready: String? = nil,
                accelerator: String? = nil, gpusPerReplica: Int32? = nil, tensorParallelSize: Int32? = nil,
                maxModelLen: Int32? = nil, kvCacheTokens: Int64? = nil, metrics: TierMetrics? = nil,
                lastScaleTime: KubeTime? = nil, selector: String? = nil) {
        self.replicas = replicas
        self.readyReplicas = readyReplicas
        self.desiredReplicas = desiredReplicas
        self.ready = ready
        self.accelerator = accelerator
        self.gpusPerReplica = gpusPerReplica
        self.tensorParallelSize = tensorParallelSize
        self.maxModelLen = maxModelLen
        self.kvCacheTokens = kvCacheTokens
        self.metrics = metrics
        self.lastScaleTime = lastScaleTime
        self.selector = selector
    }
}

/// A tier's model-server signals, averaged over its ready pods.
public struct TierMetrics: Codable, Hashable, Sendable {
    public var waitingRequests: Double?
    public var runningRequests: Double?
    public var kvCacheUtilization: Double?

    public init(waitingRequests: Double? = nil, runningRequests: Double? = nil, kvCacheUtilization: Double? = nil) {
        self.waitingRequests = waitingRequests
        self.runningRequests = runningRequests
        self.kvCacheUtilization = kvCacheUtilization
    }
}

/// One scaling decision.
public struct ScalingRecord: Codable, Hashable, Sendable {
    public var time: KubeTime
    public var tier: TierName
    public var from: Int32
    public var to: Int32
    public var reason: String

    public init(time: KubeTime, tier: TierName, from: Int32, to: Int32, reason: String) {
        self.time = time
        self.tier = tier
        self.from = from
        self.to = to
        self.reason = reason
    }
}

/// The condition types and reasons Tandem writes.
public enum PoolCondition {
    public static let ready = "Ready"
    public static let progressing = "Progressing"
    public static let sizingValid = "SizingValid"
    public static let scalingActive = "ScalingActive"
    /// llm-d's router (endpoint picker and GIE pool) is deployed and ready; absent without a
    /// `scheduler` block.
    public static let routerReady = "RouterReady"
    /// How the accelerator of tiers that name none was chosen (present only for such pools):
    /// inferred from the GPU nodes and kept (`Inferred`), kept although the nodes now disagree
    /// (`NodesDisagree`, True), or not resolved (`NodesDisagree`, `NoGPUNodes`,
    /// `UnrecognizedAccelerator`, False).
    public static let acceleratorResolved = "AcceleratorResolved"
}

/// Reasons of `Ready=False` that say a child could not be written.
public enum ChildReason {
    /// Another InferencePool's child has the name one of this pool's children needs (pool names
    /// such as `a.b` and `a-b` map to the same child names): this pool touches nothing.
    public static let nameConflict = "ChildNameConflict"
    /// An object with a child's name exists and is not owned by this pool: left alone.
    public static let conflict = "ChildConflict"
    /// The API server refused a child (400, 403, 404, 422): its message is in the condition.
    public static let applyFailed = "ApplyFailed"
}
