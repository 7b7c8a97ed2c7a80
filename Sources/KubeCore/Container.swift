/// `corev1.Container`: one container of a ``PodSpec``.
public struct Container: Codable, Hashable, Sendable {
    public var name: String?
    public var image: String?
    /// `Always`, `IfNotPresent` or `Never`.
    public var imagePullPolicy: String?
    /// Replaces the image's entrypoint.
    public var command: [String]?
    /// Replaces the image's cmd.
    public var args: [String]?
    public var workingDir: String?
    public var env: [EnvVar]?
    /// `[corev1.EnvFromSource]`, passed through.
    public var envFrom: [JSONValue]?
    public var ports: [ContainerPort]?
    public var resources: ResourceRequirements?
    public var volumeMounts: [VolumeMount]?
    public var livenessProbe: Probe?
    public var readinessProbe: Probe?
    public var startupProbe: Probe?
    /// `corev1.Lifecycle` (postStart / preStop hooks), passed through.
    public var lifecycle: JSONValue?
    public var securityContext: SecurityContext?
    /// `Always` on an init container makes it a native sidecar (Kubernetes ≥ 1.29): started
    /// before the main containers and kept running beside them.
    public var restartPolicy: String?

    public init(
        name: String? = nil, image: String? = nil, imagePullPolicy: String? = nil, command: [String]? = nil,
        args: [String]? = nil, workingDir: String? = nil, env: [EnvVar]? = nil, envFrom: [JSONValue]? = nil,
        ports: [ContainerPort]? = nil, resources: ResourceRequirements? = nil, volumeMounts: [VolumeMount]? = nil,
        livenessProbe: Probe? = nil, readinessProbe: Probe? = nil, startupProbe: Probe? = nil,
        lifecycle: JSONValue? = nil, securityContext: SecurityContext? = nil, restartPolicy: String? = nil
    ) {
        self.name = name
        self.image = image
        self.imagePullPolicy = imagePullPolicy
        self.command = command
        self.args = args
        self.workingDir = workingDir
        self.env = env
        self.envFrom = envFrom
        self.ports = ports
        self.resources = resources
        self.volumeMounts = volumeMounts
        self.livenessProbe = livenessProbe
        self.readinessProbe = readinessProbe
        self.startupProbe = startupProbe
        self.lifecycle = lifecycle
        self.securityContext = securityContext
        self.restartPolicy = restartPolicy
    }
}

/// `corev1.EnvVar`: an environment variable, literal or taken from another source.
public struct EnvVar: Codable, Hashable, Sendable {
    public var name: String?
    public var value: String?
    /// `corev1.EnvVarSource` (secret / config map key, field or resource ref), passed through.
    public var valueFrom: JSONValue?

    public init(name: String? = nil, value: String? = nil, valueFrom: JSONValue? = nil) {
        self.name = name
        self.value = value
        self.valueFrom = valueFrom
    }
}

/// `corev1.ContainerPort`: a port a container listens on.
public struct ContainerPort: Codable, Hashable, Sendable {
    public var name: String?
    public var containerPort: Int32?
    /// `TCP` (the default), `UDP` or `SCTP`.
    public var `protocol`: String?
    public var hostPort: Int32?

    public init(name: String? = nil, containerPort: Int32? = nil, protocol: String? = nil, hostPort: Int32? = nil) {
        self.name = name
        self.containerPort = containerPort
        self.protocol = `protocol`
        self.hostPort = hostPort
    }
}

/// `corev1.ResourceRequirements`: compute resources by name (`cpu`, `memory`, `nvidia.com/gpu`).
public struct ResourceRequirements: Codable, Hashable, Sendable {
    public var limits: [String: Quantity]?
    public var requests: [String: Quantity]?
    /// `[corev1.ResourceClaim]` (dynamic resource allocation), passed through.
    public var claims: JSONValue?

    public init(limits: [String: Quantity]? = nil, requests: [String: Quantity]? = nil, claims: JSONValue? = nil) {
        self.limits = limits
        self.requests = requests
        self.claims = claims
    }
}

/// `corev1.VolumeMount`: where a pod volume appears in a container.
public struct VolumeMount: Codable, Hashable, Sendable {
    public var name: String?
    public var mountPath: String?
    public var readOnly: Bool?
    /// A path within the volume to mount instead of its root.
    public var subPath: String?

    public init(name: String? = nil, mountPath: String? = nil, readOnly: Bool? = nil, subPath: String? = nil) {
        self.name = name
        self.mountPath = mountPath
        self.readOnly = readOnly
        self.subPath = subPath
    }
}

/// `corev1.Probe`: a health check the kubelet runs against a container.
public struct Probe: Codable, Hashable, Sendable {
    public var httpGet: HTTPGetAction?
    public var tcpSocket: TCPSocketAction?
    /// `corev1.ExecAction` (`{"command": [...]}`), passed through.
    public var exec: JSONValue?
    /// `corev1.GRPCAction`, passed through.
    public var grpc: JSONValue?
    public var initialDelaySeconds: Int32?
    public var periodSeconds: Int32?
    public var timeoutSeconds: Int32?
    /// Consecutive failures after which the probe counts as failed.
    public var failureThreshold: Int32?
    /// Consecutive successes after which the probe counts as passed (must be 1 for liveness).
    public var successThreshold: Int32?
    public var terminationGracePeriodSeconds: Int64?

    public init(
        httpGet: HTTPGetAction? = nil, tcpSocket: TCPSocketAction? = nil, exec: JSONValue? = nil,
        grpc: JSONValue? = nil, initialDelaySeconds: Int32? = nil, periodSeconds: Int32? = nil,
        timeoutSeconds: Int32? = nil, failureThreshold: Int32? = nil, successThreshold: Int32? = nil,
        terminationGracePeriodSeconds: Int64? = nil
    ) {
        self.httpGet = httpGet
        self.tcpSocket = tcpSocket
        self.exec = exec
        self.grpc = grpc
        self.initialDelaySeconds = initialDelaySeconds
        self.periodSeconds = periodSeconds
        self.timeoutSeconds = timeoutSeconds
        self.failureThreshold = failureThreshold
        self.successThreshold = successThreshold
        self.terminationGracePeriodSeconds = terminationGracePeriodSeconds
    }
}

/// `corev1.HTTPGetAction`: a probe that GETs a path; 200–399 is success.
public struct HTTPGetAction: Codable, Hashable, Sendable {
    public var path: String?
    /// A port number or the name of a ``ContainerPort``.
    public var port: IntOrString?
    /// Defaults to the pod IP.
    public var host: String?
    /// `HTTP` (the default) or `HTTPS`.
    public var scheme: String?
    /// `[corev1.HTTPHeader]`, passed through.
    public var httpHeaders: JSONValue?

    public init(
        path: String? = nil, port: IntOrString? = nil, host: String? = nil, scheme: String? = nil,
        httpHeaders: JSONValue? = nil
    ) {
        self.path = path
        self.port = port
        self.host = host
        self.scheme = scheme
        self.httpHeaders = httpHeaders
    }
}

/// `corev1.TCPSocketAction`: a probe that succeeds when a TCP connection opens.
public struct TCPSocketAction: Codable, Hashable, Sendable {
    public var port: IntOrString?
    public var host: String?

    public init(port: IntOrString? = nil, host: String? = nil) {
        self.port = port
        self.host = host
    }
}
