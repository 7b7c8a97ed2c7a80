/// An apps/v1 `Deployment`.
public struct Deployment: KubernetesResource, Hashable {
    public static let apiResource = APIResource(
        group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: DeploymentSpec?
    public var status: DeploymentStatus?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: DeploymentSpec? = nil, status: DeploymentStatus? = nil) {
        self.apiVersion = Self.apiResource.apiVersion
        self.kind = Self.apiResource.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

/// `appsv1.DeploymentSpec`.
public struct DeploymentSpec: Codable, Hashable, Sendable {
    public var replicas: Int32?
    /// Must match the template's labels; immutable after creation.
    public var selector: LabelSelector?
    public var template: PodTemplateSpec?
    public var strategy: DeploymentStrategy?
    /// Seconds a new pod must be ready before it counts as available.
    public var minReadySeconds: Int32?
    public var revisionHistoryLimit: Int32?
    /// Seconds without progress before the `Progressing` condition turns `False`.
    public var progressDeadlineSeconds: Int32?
    public var paused: Bool?

    public init(
        replicas: Int32? = nil, selector: LabelSelector? = nil, template: PodTemplateSpec? = nil,
        strategy: DeploymentStrategy? = nil, minReadySeconds: Int32? = nil, revisionHistoryLimit: Int32? = nil,
        progressDeadlineSeconds: Int32? = nil, paused: Bool? = nil
    ) {
        self.replicas = replicas
        self.selector = selector
        self.template = template
        self.strategy = strategy
        self.minReadySeconds = minReadySeconds
        self.revisionHistoryLimit = revisionHistoryLimit
        self.progressDeadlineSeconds = progressDeadlineSeconds
        self.paused = paused
    }
}

/// `appsv1.DeploymentStrategy`: how old pods are replaced by new ones.
public struct DeploymentStrategy: Codable, Hashable, Sendable {
    /// `RollingUpdate` (the default) or `Recreate`.
    public var type: String?
    public var rollingUpdate: RollingUpdateDeployment?

    public init(type: String? = nil, rollingUpdate: RollingUpdateDeployment? = nil) {
        self.type = type
        self.rollingUpdate = rollingUpdate
    }
}

/// `appsv1.RollingUpdateDeployment`: absolute numbers or percentages (`"25%"`) of replicas.
public struct RollingUpdateDeployment: Codable, Hashable, Sendable {
    /// How many pods may exist above the desired count during an update.
    public var maxSurge: IntOrString?
    /// How many desired pods may be unavailable during an update.
    public var maxUnavailable: IntOrString?

    public init(maxSurge: IntOrString? = nil, maxUnavailable: IntOrString? = nil) {
        self.maxSurge = maxSurge
        self.maxUnavailable = maxUnavailable
    }
}

/// `appsv1.DeploymentStatus`.
public struct DeploymentStatus: Codable, Hashable, Sendable {
    /// The `metadata.generation` the controller has acted on.
    public var observedGeneration: Int64?
    public var replicas: Int32?
    /// Pods running the current template.
    public var updatedReplicas: Int32?
    public var readyReplicas: Int32?
    public var availableReplicas: Int32?
    public var unavailableReplicas: Int32?
    public var conditions: [DeploymentCondition]?

    public init(
        observedGeneration: Int64? = nil, replicas: Int32? = nil, updatedReplicas: Int32? = nil,
        readyReplicas: Int32? = nil, availableReplicas: Int32? = nil, unavailableReplicas: Int32? = nil,
        conditions: [DeploymentCondition]? = nil
    ) {
        self.observedGeneration = observedGeneration
        self.replicas = replicas
        self.updatedReplicas = updatedReplicas
        self.readyReplicas = readyReplicas
        self.availableReplicas = availableReplicas
        self.unavailableReplicas = unavailableReplicas
        self.conditions = conditions
    }
}

/// `appsv1.DeploymentCondition` (`Available`, `Progressing`, `ReplicaFailure`).
public struct DeploymentCondition: Codable, Hashable, Sendable {
    public var type: String?
    /// `True`, `False` or `Unknown`.
    public var status: String?
    public var reason: String?
    public var message: String?
    public var lastUpdateTime: KubeTime?
    public var lastTransitionTime: KubeTime?

    public init(
        type: String? = nil, status: String? = nil, reason: String? = nil, message: String? = nil,
        lastUpdateTime: KubeTime? = nil, lastTransitionTime: KubeTime? = nil
    ) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.lastUpdateTime = lastUpdateTime
        self.lastTransitionTime = lastTransitionTime
    }
}
