/// A core/v1 `Pod`.
///
/// Like every typed model, it keeps only the fields it declares: decoding drops unknown fields,
/// so use ``DynamicObject`` to read-modify-write objects losslessly.
public struct Pod: KubernetesResource, Hashable {
    public static let apiResource = APIResource(
        group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: PodSpec?
    public var status: PodStatus?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: PodSpec? = nil, status: PodStatus? = nil) {
        self.apiVersion = Self.apiResource.apiVersion
        self.kind = Self.apiResource.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

/// `corev1.PodTemplateSpec`: the pods a workload controller creates.
public struct PodTemplateSpec: Codable, Hashable, Sendable {
    public var metadata: ObjectMeta?
    public var spec: PodSpec?

    public init(metadata: ObjectMeta? = nil, spec: PodSpec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

/// `corev1.PodSpec`: the desired state of a pod.
public struct PodSpec: Codable, Hashable, Sendable {
    public var containers: [Container]?
    /// Run to completion, in order, before ``containers`` start.
    public var initContainers: [Container]?
    public var volumes: [Volume]?
    /// Set by the scheduler once the pod is bound to a node.
    public var nodeName: String?
    public var nodeSelector: [String: String]?
    public var tolerations: [Toleration]?
    /// `corev1.Affinity`, passed through.
    public var affinity: JSONValue?
    /// `[corev1.TopologySpreadConstraint]`, passed through.
    public var topologySpreadConstraints: JSONValue?
    public var serviceAccountName: String?
    public var automountServiceAccountToken: Bool?
    public var priorityClassName: String?
    /// Selects a container runtime handler (`nvidia`).
    public var runtimeClassName: String?
    public var imagePullSecrets: [LocalObjectReference]?
    public var terminationGracePeriodSeconds: Int64?
    /// `Always`, `OnFailure` or `Never`.
    public var restartPolicy: String?
    public var hostNetwork: Bool?
    public var hostIPC: Bool?
    public var dnsPolicy: String?
    public var hostname: String?
    public var subdomain: String?
    public var schedulerName: String?
    public var securityContext: PodSecurityContext?

    public init(
        containers: [Container]? = nil, initContainers: [Container]? = nil, volumes: [Volume]? = nil,
        nodeName: String? = nil, nodeSelector: [String: String]? = nil, tolerations: [Toleration]? = nil,
        affinity: JSONValue? = nil, topologySpreadConstraints: JSONValue? = nil, serviceAccountName: String? = nil,
        automountServiceAccountToken: Bool? = nil, priorityClassName: String? = nil, runtimeClassName: String? = nil,
        imagePullSecrets: [LocalObjectReference]? = nil, terminationGracePeriodSeconds: Int64? = nil,
        restartPolicy: String? = nil, hostNetwork: Bool? = nil, hostIPC: Bool? = nil, dnsPolicy: String? = nil,
        hostname: String? = nil, subdomain: String? = nil, schedulerName: String? = nil,
        securityContext: PodSecurityContext? = nil
    ) {
        self.containers = containers
        self.initContainers = initContainers
        self.volumes = volumes
        self.nodeName = nodeName
        self.nodeSelector = nodeSelector
        self.tolerations = tolerations
        self.affinity = affinity
        self.topologySpreadConstraints = topologySpreadConstraints
        self.serviceAccountName = serviceAccountName
        self.automountServiceAccountToken = automountServiceAccountToken
        self.priorityClassName = priorityClassName
        self.runtimeClassName = runtimeClassName
        self.imagePullSecrets = imagePullSecrets
        self.terminationGracePeriodSeconds = terminationGracePeriodSeconds
        self.restartPolicy = restartPolicy
        self.hostNetwork = hostNetwork
        self.hostIPC = hostIPC
        self.dnsPolicy = dnsPolicy
        self.hostname = hostname
        self.subdomain = subdomain
        self.schedulerName = schedulerName
        self.securityContext = securityContext
    }
}

/// `corev1.Volume`: a named volume of a pod. Common sources are typed; any other source
/// (`awsElasticBlockStore`, `image`, a future one) is kept in ``otherSources`` and written
/// back unchanged, so a volume passed through Tandem is never altered.
public struct Volume: Codable, Hashable, Sendable {
    public var name: String?
    public var emptyDir: EmptyDirVolumeSource?
    public var configMap: ConfigMapVolumeSource?
    public var persistentVolumeClaim: PersistentVolumeClaimVolumeSource?
    public var secret: JSONValue?
    /// Every other member of the volume, by its JSON name.
    public var otherSources: [String: JSONValue]

    public init(
        name: String? = nil, emptyDir: EmptyDirVolumeSource? = nil, configMap: ConfigMapVolumeSource? = nil,
        persistentVolumeClaim: PersistentVolumeClaimVolumeSource? = nil, secret: JSONValue? = nil,
        otherSources: [String: JSONValue] = [:]
    ) {
        self.name = name
        self.emptyDir = emptyDir
        self.configMap = configMap
        self.persistentVolumeClaim = persistentVolumeClaim
        self.secret = secret
        self.otherSources = otherSources
    }

    private enum Known: String, CaseIterable {
        case name, emptyDir, configMap, persistentVolumeClaim, secret
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: AnyKey.self)
        func key(_ known: Known) -> AnyKey { AnyKey(stringValue: known.rawValue) }
        name = try container.decodeIfPresent(String.self, forKey: key(.name))
        emptyDir = try container.decodeIfPresent(EmptyDirVolumeSource.self, forKey: key(.emptyDir))
        configMap = try container.decodeIfPresent(ConfigMapVolumeSource.self, forKey: key(.configMap))
        persistentVolumeClaim = try container.decodeIfPresent(PersistentVolumeClaimVolumeSource.self, forKey: key(.persistentVolumeClaim))
        secret = try container.decodeIfPresent(JSONValue.self, forKey: key(.secret))
        otherSources = [:]
        for member in container.allKeys where Known(rawValue: member.stringValue) == nil {
            otherSources[member.stringValue] = try container.decode(JSONValue.self, forKey: member)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: AnyKey.self)
        func key(_ known: Known) -> AnyKey { AnyKey(stringValue: known.rawValue) }
        try container.encodeIfPresent(name, forKey: key(.name))
        try container.encodeIfPresent(emptyDir, forKey: key(.emptyDir))
        try container.encodeIfPresent(configMap, forKey: key(.configMap))
        try container.encodeIfPresent(persistentVolumeClaim, forKey: key(.persistentVolumeClaim))
        try container.encodeIfPresent(secret, forKey: key(.secret))
        for (member, value) in otherSources {
            try container.encode(value, forKey: AnyKey(stringValue: member))
        }
    }
}

/// `corev1.EmptyDirVolumeSource`: scratch space living as long as the pod.
public struct EmptyDirVolumeSource: Codable, Hashable, Sendable {
    /// `""` (node disk) or `Memory` (tmpfs, e.g. for `/dev/shm`).
    public var medium: String?
    public var sizeLimit: Quantity?

    public init(medium: String? = nil, sizeLimit: Quantity? = nil) {
        self.medium = medium
        self.sizeLimit = sizeLimit
    }
}

/// `corev1.ConfigMapVolumeSource`: a ConfigMap's keys as files.
public struct ConfigMapVolumeSource: Codable, Hashable, Sendable {
    public var name: String?
    /// `[corev1.KeyToPath]`, passed through.
    public var items: JSONValue?
    public var defaultMode: Int32?
    public var optional: Bool?

    public init(name: String? = nil, items: JSONValue? = nil, defaultMode: Int32? = nil, optional: Bool? = nil) {
        self.name = name
        self.items = items
        self.defaultMode = defaultMode
        self.optional = optional
    }
}

/// `corev1.PersistentVolumeClaimVolumeSource`: mounts a claim of the pod's namespace.
public struct PersistentVolumeClaimVolumeSource: Codable, Hashable, Sendable {
    public var claimName: String?
    public var readOnly: Bool?

    public init(claimName: String? = nil, readOnly: Bool? = nil) {
        self.claimName = claimName
        self.readOnly = readOnly
    }
}

/// `corev1.Toleration`: lets a pod schedule onto nodes with a matching ``Taint``.
public struct Toleration: Codable, Hashable, Sendable {
    /// Empty with operator `Exists` tolerates every taint.
    public var key: String?
    /// `Equal` (the default) or `Exists`.
    public var `operator`: String?
    public var value: String?
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`; empty matches all effects.
    public var effect: String?
    /// For `NoExecute`: how long the pod stays bound after the taint appears.
    public var tolerationSeconds: Int64?

    public init(
        key: String? = nil, operator: String? = nil, value: String? = nil, effect: String? = nil,
        tolerationSeconds: Int64? = nil
    ) {
        self.key = key
        self.operator = `operator`
        self.value = value
        self.effect = effect
        self.tolerationSeconds = tolerationSeconds
    }
}

/// `corev1.PodStatus`: the observed state of a pod.
public struct PodStatus: Codable, Hashable, Sendable {
    /// `Pending`, `Running`, `Succeeded`, `Failed` or `Unknown`.
    public var phase: String?
    public var conditions: [PodCondition]?
    public var message: String?
    /// A CamelCase reason for the pod's state, e.g. `Evicted`.
    public var reason: String?
    public var nominatedNodeName: String?
    public var hostIP: String?
    public var podIP: String?
    public var podIPs: [PodIP]?
    public var startTime: KubeTime?
    public var initContainerStatuses: [ContainerStatus]?
    public var containerStatuses: [ContainerStatus]?
    /// `Guaranteed`, `Burstable` or `BestEffort`.
    public var qosClass: String?

    public init(
        phase: String? = nil, conditions: [PodCondition]? = nil, message: String? = nil, reason: String? = nil,
        nominatedNodeName: String? = nil, hostIP: String? = nil, podIP: String? = nil, podIPs: [PodIP]? = nil,
        startTime: KubeTime? = nil, initContainerStatuses: [ContainerStatus]? = nil,
        containerStatuses: [ContainerStatus]? = nil, qosClass: String? = nil
    ) {
        self.phase = phase
        self.conditions = conditions
        self.message = message
        self.reason = reason
        self.nominatedNodeName = nominatedNodeName
        self.hostIP = hostIP
        self.podIP = podIP
        self.podIPs = podIPs
        self.startTime = startTime
        self.initContainerStatuses = initContainerStatuses
        self.containerStatuses = containerStatuses
        self.qosClass = qosClass
    }

    /// The pod's `Ready` condition when it is `True` (its `lastTransitionTime` says since when).
    public var readyCondition: PodCondition? {
        conditions?.first { $0.type == "Ready" && $0.status == "True" }
    }

    /// Whether the pod's `Ready` condition is `True`.
    public var isReady: Bool { readyCondition != nil }
}

/// `corev1.PodCondition` (`PodScheduled`, `Initialized`, `ContainersReady`, `Ready`, …).
public struct PodCondition: Codable, Hashable, Sendable {
    public var type: String?
    /// `True`, `False` or `Unknown`.
    public var status: String?
    public var reason: String?
    public var message: String?
    public var lastProbeTime: KubeTime?
    public var lastTransitionTime: KubeTime?

    public init(
        type: String? = nil, status: String? = nil, reason: String? = nil, message: String? = nil,
        lastProbeTime: KubeTime? = nil, lastTransitionTime: KubeTime? = nil
    ) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.lastProbeTime = lastProbeTime
        self.lastTransitionTime = lastTransitionTime
    }
}

/// One of a pod's IP addresses.
public struct PodIP: Codable, Hashable, Sendable {
    public var ip: String?

    public init(ip: String? = nil) {
        self.ip = ip
    }
}

/// `corev1.ContainerStatus`: the observed state of one container.
public struct ContainerStatus: Codable, Hashable, Sendable {
    public var name: String?
    public var ready: Bool?
    /// Whether the container passed its startup probe (or has none and is running).
    public var started: Bool?
    public var restartCount: Int32?
    public var image: String?
    public var imageID: String?
    public var containerID: String?
    /// `corev1.ContainerState` (`waiting`, `running` or `terminated`), passed through.
    public var state: JSONValue?
    public var lastState: JSONValue?

    public init(
        name: String? = nil, ready: Bool? = nil, started: Bool? = nil, restartCount: Int32? = nil,
        image: String? = nil, imageID: String? = nil, containerID: String? = nil, state: JSONValue? = nil,
        lastState: JSONValue? = nil
    ) {
        self.name = name
        self.ready = ready
        self.started = started
        self.restartCount = restartCount
        self.image = image
        self.imageID = imageID
        self.containerID = containerID
        self.state = state
        self.lastState = lastState
    }
}
