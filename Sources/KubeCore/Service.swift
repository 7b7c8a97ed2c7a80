/// A core/v1 `Service`.
public struct Service: KubernetesResource, Hashable {
    public static let apiResource = APIResource(
        group: "", version: "v1", kind: "Service", plural: "services", namespaced: true)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: ServiceSpec?
    /// `corev1.ServiceStatus` (load balancer ingress, conditions), passed through.
    public var status: JSONValue?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: ServiceSpec? = nil, status: JSONValue? = nil) {
        self.apiVersion = Self.apiResource.apiVersion
        self.kind = Self.apiResource.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

/// `corev1.ServiceSpec`.
public struct ServiceSpec: Codable, Hashable, Sendable {
    /// `ClusterIP` (the default), `NodePort`, `LoadBalancer` or `ExternalName`.
    public var type: String?
    /// Pods with these labels back the service.
    public var selector: [String: String]?
    public var ports: [ServicePort]?
    /// `None` for a headless service.
    public var clusterIP: String?
    public var clusterIPs: [String]?
    /// `None` or `ClientIP`.
    public var sessionAffinity: String?
    /// Publish endpoints of pods that are not ready (peer discovery before readiness).
    public var publishNotReadyAddresses: Bool?

    public init(
        type: String? = nil, selector: [String: String]? = nil, ports: [ServicePort]? = nil,
        clusterIP: String? = nil, clusterIPs: [String]? = nil, sessionAffinity: String? = nil,
        publishNotReadyAddresses: Bool? = nil
    ) {
        self.type = type
        self.selector = selector
        self.ports = ports
        self.clusterIP = clusterIP
        self.clusterIPs = clusterIPs
        self.sessionAffinity = sessionAffinity
        self.publishNotReadyAddresses = publishNotReadyAddresses
    }
}

/// `corev1.ServicePort`.
public struct ServicePort: Codable, Hashable, Sendable {
    public var name: String?
    /// The port the service listens on.
    public var port: Int32?
    /// The pods' port: a number or a container port name. Defaults to ``port``.
    public var targetPort: IntOrString?
    /// `TCP` (the default), `UDP` or `SCTP`.
    public var `protocol`: String?
    public var nodePort: Int32?
    /// An application protocol hint such as `http` or `kubernetes.io/h2c`.
    public var appProtocol: String?

    public init(
        name: String? = nil, port: Int32? = nil, targetPort: IntOrString? = nil, protocol: String? = nil,
        nodePort: Int32? = nil, appProtocol: String? = nil
    ) {
        self.name = name
        self.port = port
        self.targetPort = targetPort
        self.protocol = `protocol`
        self.nodePort = nodePort
        self.appProtocol = appProtocol
    }
}
