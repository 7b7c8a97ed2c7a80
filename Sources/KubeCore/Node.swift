/// A core/v1 `Node` (cluster-scoped).
public struct Node: KubernetesResource, Hashable {
    public static let apiResource = APIResource(
        group: "", version: "v1", kind: "Node", plural: "nodes", namespaced: false)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: NodeSpec?
    public var status: NodeStatus?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: NodeSpec? = nil, status: NodeStatus? = nil) {
        self.apiVersion = Self.apiResource.apiVersion
        self.kind = Self.apiResource.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

/// `corev1.NodeSpec`.
public struct NodeSpec: Codable, Hashable, Sendable {
    public var taints: [Taint]?
    /// Cordoned: no new pods are scheduled here.
    public var unschedulable: Bool?
    public var podCIDR: String?
    public var podCIDRs: [String]?
    /// The cloud provider's id of the machine (`aws:///us-east-1a/i-0abc`).
    public var providerID: String?

    public init(
        taints: [Taint]? = nil, unschedulable: Bool? = nil, podCIDR: String? = nil, podCIDRs: [String]? = nil,
        providerID: String? = nil
    ) {
        self.taints = taints
        self.unschedulable = unschedulable
        self.podCIDR = podCIDR
        self.podCIDRs = podCIDRs
        self.providerID = providerID
    }
}

/// `corev1.Taint`: repels pods that do not carry a matching ``Toleration``.
public struct Taint: Codable, Hashable, Sendable {
    public var key: String?
    public var value: String?
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    public var effect: String?
    /// When a `NoExecute` taint was added.
    public var timeAdded: KubeTime?

    public init(key: String? = nil, value: String? = nil, effect: String? = nil, timeAdded: KubeTime? = nil) {
        self.key = key
        self.value = value
        self.effect = effect
        self.timeAdded = timeAdded
    }
}

/// `corev1.NodeStatus`.
public struct NodeStatus: Codable, Hashable, Sendable {
    /// Total resources of the node.
    public var capacity: [String: Quantity]?
    /// Resources available to pods (capacity minus system reservations).
    public var allocatable: [String: Quantity]?
    public var conditions: [NodeCondition]?
    public var addresses: [NodeAddress]?
    /// `corev1.NodeSystemInfo` (kubelet version, OS, architecture, …), passed through.
    public var nodeInfo: JSONValue?
    /// Deprecated and unused by current clusters.
    public var phase: String?

    public init(
        capacity: [String: Quantity]? = nil, allocatable: [String: Quantity]? = nil,
        conditions: [NodeCondition]? = nil, addresses: [NodeAddress]? = nil, nodeInfo: JSONValue? = nil,
        phase: String? = nil
    ) {
        self.capacity = capacity
        self.allocatable = allocatable
        self.conditions = conditions
        self.addresses = addresses
        self.nodeInfo = nodeInfo
        self.phase = phase
    }

    /// Whether the node's `Ready` condition is `True`.
    public var isReady: Bool {
        conditions?.contains { $0.type == "Ready" && $0.status == "True" } ?? false
    }
}

/// `corev1.NodeCondition` (`Ready`, `MemoryPressure`, `DiskPressure`, …).
public struct NodeCondition: Codable, Hashable, Sendable {
    public var type: String?
    /// `True`, `False` or `Unknown`.
    public var status: String?
    public var reason: String?
    public var message: String?
    public var lastHeartbeatTime: KubeTime?
    public var lastTransitionTime: KubeTime?

    public init(
        type: String? = nil, status: String? = nil, reason: String? = nil, message: String? = nil,
        lastHeartbeatTime: KubeTime? = nil, lastTransitionTime: KubeTime? = nil
    ) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.lastHeartbeatTime = lastHeartbeatTime
        self.lastTransitionTime = lastTransitionTime
    }
}

/// `corev1.NodeAddress`.
public struct NodeAddress: Codable, Hashable, Sendable {
    /// `InternalIP`, `ExternalIP`, `Hostname`, …
    public var type: String?
    public var address: String?

    public init(type: String? = nil, address: String? = nil) {
        self.type = type
        self.address = address
    }
}
