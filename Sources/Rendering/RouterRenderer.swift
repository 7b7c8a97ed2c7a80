import KubeCore
import Routing
import TandemAPI

/// How the router is deployed: images, the config's apiVersion, and what the cluster offers.
public struct RouterOptions: Hashable, Sendable {
    /// llm-d's endpoint picker. Source: llm-d router release v0.9.0 (`llm-d-router-endpoint-picker`).
    public static let defaultEndpointPickerImage = "ghcr.io/llm-d/llm-d-router-endpoint-picker:v0.9.0"
    /// llm-d's routing sidecar. Source: llm-d-inference-scheduler release v0.8.0 (`llm-d-routing-sidecar`).
    public static let defaultRoutingSidecarImage = "ghcr.io/llm-d/llm-d-routing-sidecar:v0.8.0"

    /// The `EndpointPickerConfig` apiVersion the deployed endpoint picker reads.
    public var configAPIVersion: String
    public var endpointPickerImage: String
    public var routingSidecarImage: String
    /// Run the routing sidecar as a native sidecar (an init container with `restartPolicy:
    /// Always`): the API server is Kubernetes 1.29 or newer. Off by default: a plain second
    /// container runs on every version.
    public var nativeSidecars: Bool
    /// The cluster serves `inference.networking.k8s.io/v1` (discovery): render the GIE pool.
    public var gatewayAPIServed: Bool
    /// Probe the picker's gRPC health service (the API server has gRPC probes, 1.24 or newer);
    /// else a TCP probe of the same port.
    public var grpcProbes: Bool

    public init(configAPIVersion: String = EndpointPickerConfig.defaultAPIVersion,
                endpointPickerImage: String = Self.defaultEndpointPickerImage,
                routingSidecarImage: String = Self.defaultRoutingSidecarImage, nativeSidecars: Bool = false,
                gatewayAPIServed: Bool = true, grpcProbes: Bool = false) {
        self.configAPIVersion = configAPIVersion
        self.endpointPickerImage = endpointPickerImage
        self.routingSidecarImage = routingSidecarImage
        self.nativeSidecars = nativeSidecars
        self.gatewayAPIServed = gatewayAPIServed
        self.grpcProbes = grpcProbes
    }

    /// The options an API server of this version calls for.
    public init(serverMajor major: Int, minor: Int, gatewayAPIServed: Bool, configAPIVersion: String = EndpointPickerConfig.defaultAPIVersion,
                endpointPickerImage: String = Self.defaultEndpointPickerImage,
                routingSidecarImage: String = Self.defaultRoutingSidecarImage) {
        let version = major * 1000 + minor
        // Native sidecars: beta and on by default in 1.29. gRPC probes: beta and on in 1.24.
        self.init(configAPIVersion: configAPIVersion, endpointPickerImage: endpointPickerImage,
                  routingSidecarImage: routingSidecarImage, nativeSidecars: version >= 1029,
                  gatewayAPIServed: gatewayAPIServed, grpcProbes: version >= 1024)
    }
}

/// What the pool's `scheduler` block asks for: llm-d's router in front of the tiers.
public struct RouterPlan: Hashable, Sendable {
    public var scheduler: SchedulerSpec
    /// The routing sidecar's `--connector` for the pool's KV connector.
    public var sidecarConnector: String

    /// The sidecar protocol for each vLLM connector it speaks. Source: llm-d's routing sidecar
    /// `--connector` flag (`nixlv2`; `nixl` and `lmcache` deprecated).
    public static let sidecarConnectors = ["NixlConnector": "nixlv2", "LMCacheConnectorV1": "lmcache"]

    /// The router for `spec`, `nil` without a `scheduler` block; a problem when the sidecar
    /// cannot carry the pool's KV connector.
    public static func plan(_ spec: InferencePoolSpec) -> Result<RouterPlan, TierProblem>? {
        guard let scheduler = spec.scheduler else { return nil }
        let connector = spec.kvTransfer?.connector ?? KVTransferSpec.defaultConnector
        guard let protocolName = sidecarConnectors[connector] else {
            return .failure(TierProblem(
                tier: .decode, reason: "UnsupportedConnector",
                message: "llm-d's routing sidecar speaks nixlv2 (NixlConnector) and lmcache (LMCacheConnectorV1), not kvTransfer.connector \(connector): use NixlConnector, or remove spec.scheduler and route with a proxy of your own"))
        }
        return .success(RouterPlan(scheduler: scheduler, sidecarConnector: protocolName))
    }
}

/// The router's objects for one pool.
public struct RouterChildren: Hashable, Sendable {
    public var configMap: ConfigMap
    public var serviceAccount: ServiceAccount
    public var role: Role
    public var roleBinding: RoleBinding
    public var deployment: Deployment
    public var service: Service
    /// `nil` when the cluster does not serve the Gateway API Inference Extension.
    public var gatewayPool: GatewayInferencePool?
}

/// Renders llm-d's router for a pool: the endpoint picker (ConfigMap, Deployment, Service,
/// ServiceAccount, Role, RoleBinding) and the GIE `InferencePool` a Gateway routes to.
public enum RouterRenderer {
    /// Envoy's ext-proc gRPC port on the endpoint picker. Source: GIE's `endpointPickerRef` default (9002).
    public static let grpcPort: Int32 = 9002
    /// The picker's gRPC health port and Prometheus port. Source: GIE's EPP chart (9003, 9090).
    public static let grpcHealthPort: Int32 = 9003
    public static let metricsPort: Int32 = 9090
    /// Where the config is mounted and the key it is kept under.
    public static let configDirectory = "/etc/epp"
    public static let configKey = "epp-config.yaml"
    /// The group the picker finds its pool in.
    public static let poolGroup = GatewayInferencePool.apiResource.group
    /// What the endpoint picker reads: the pool's pods, its GIE pool, and the objectives and
    /// model rewrites of GIE's x-k8s.io group and llm-d's (the router moved them to `llm-d.ai`).
    public static let endpointPickerRules = [
        PolicyRule(apiGroups: [""], resources: ["pods"], verbs: ["get", "list", "watch"]),
        PolicyRule(apiGroups: ["inference.networking.k8s.io"], resources: ["inferencepools"], verbs: ["get", "list", "watch"]),
        PolicyRule(apiGroups: ["inference.networking.x-k8s.io", "llm-d.ai"],
                   resources: ["inferencemodelrewrites", "inferenceobjectives"], verbs: ["get", "list", "watch"]),
    ]
    /// FailClose: a pod picked without the picker could be a prefill pod, which serves no
    /// tokens; GIE's API default too (llm-d's chart chooses FailOpen for single-tier pools).
    public static let failureMode = "FailClose"
    /// The security context of llm-d's containers (endpoint picker, routing sidecar): restricted
    /// throughout. Their images run as UID 65532 (`USER 65532:65532` in llm-d-router's
    /// Dockerfile.epp and llm-d-inference-scheduler's Dockerfile.sidecar), so `runAsNonRoot` holds
    /// and the kubelet can check it (a numeric user).
    public static let containerSecurityContext = SecurityContext(
        capabilities: Capabilities(drop: ["ALL"]), runAsNonRoot: true, allowPrivilegeEscalation: false)
    /// The endpoint picker's pod: non-root, the runtime's default seccomp filter.
    public static let podSecurityContext = PodSecurityContext(runAsNonRoot: true, seccompProfile: .runtimeDefault)

    public static func render(pool: InferencePool, router: RouterPlan, options: RouterOptions, owner: OwnerReference?) throws -> RouterChildren {
        let poolName = pool.metadata.name ?? ""
        let namespace = pool.metadata.namespace
        let name = ChildNames.router(poolName)
        let labels = PoolLabels.router(pool: poolName)
        func meta() -> ObjectMeta {
            ObjectMeta(name: name, namespace: namespace, labels: labels, ownerReferences: owner.map { [$0] })
        }
        let config = EndpointPickerConfig.forScheduler(router.scheduler, apiVersion: options.configAPIVersion)
        let configMap = ConfigMap(metadata: meta(), data: [configKey: try config.yaml()])
        let account = ServiceAccount(metadata: meta())
        let role = Role(metadata: meta(), rules: endpointPickerRules)
        let binding = RoleBinding(
            metadata: meta(), roleRef: RoleRef(kind: "Role", name: name),
            subjects: [Subject(kind: "ServiceAccount", name: name, namespace: namespace)])

        let gatewayName = ChildNames.gatewayPool(poolName)
        let container = Container(
            name: "epp", image: options.endpointPickerImage, imagePullPolicy: "IfNotPresent",
            args: ["--pool-name", gatewayName, "--pool-namespace", namespace ?? "default", "--pool-group", poolGroup,
                   "--config-file", "\(configDirectory)/\(configKey)", "--grpc-port", String(grpcPort),
                   "--grpc-health-port", String(grpcHealthPort), "--metrics-port", String(metricsPort)],
            ports: [ContainerPort(name: "grpc", containerPort: grpcPort, protocol: "TCP"),
                    ContainerPort(name: "grpc-health", containerPort: grpcHealthPort, protocol: "TCP"),
                    ContainerPort(name: "metrics", containerPort: metricsPort, protocol: "TCP")],
            volumeMounts: [VolumeMount(name: "epp-config", mountPath: configDirectory)],
            livenessProbe: healthProbe(options, period: 10), readinessProbe: healthProbe(options, period: 2),
            securityContext: containerSecurityContext)
        var podMeta = ObjectMeta(labels: labels)
        // A changed config must reach the picker, which reads it at start: roll the pod.
        podMeta.annotations = [PoolLabels.configHashAnnotation: String(ChildNames.stableHash(configMap.data?[configKey] ?? ""), radix: 16)]
        let deployment = Deployment(
            metadata: meta(),
            spec: DeploymentSpec(
                // One replica: the picker's in-flight accounting is process-local (llm-d's guides).
                replicas: 1, selector: LabelSelector(matchLabels: PoolLabels.routerSelector(pool: poolName)),
                template: PodTemplateSpec(metadata: podMeta, spec: PodSpec(
                    containers: [container],
                    volumes: [Volume(name: "epp-config", configMap: ConfigMapVolumeSource(name: name))],
                    // The picker watches the pool's pods and its GIE pool: it needs its token.
                    serviceAccountName: name, automountServiceAccountToken: true, terminationGracePeriodSeconds: 130,
                    securityContext: podSecurityContext)),
                strategy: DeploymentStrategy(type: "Recreate"), revisionHistoryLimit: 5))
        let service = Service(metadata: meta(), spec: ServiceSpec(
            type: "ClusterIP", selector: PoolLabels.routerSelector(pool: poolName),
            ports: [ServicePort(name: "grpc", port: grpcPort, targetPort: .int(Int(grpcPort)), protocol: "TCP", appProtocol: "http2"),
                    ServicePort(name: "metrics", port: metricsPort, targetPort: .int(Int(metricsPort)), protocol: "TCP")]))
        var gatewayPool: GatewayInferencePool?
        if options.gatewayAPIServed {
            gatewayPool = GatewayInferencePool(
                metadata: ObjectMeta(name: gatewayName, namespace: namespace, labels: labels, ownerReferences: owner.map { [$0] }),
                spec: .init(
                    selector: .init(matchLabels: [PoolLabels.pool: ChildNames.poolLabel(poolName)]),
                    targetPorts: [.init(number: Renderer.servingPort)],
                    endpointPickerRef: .init(kind: "Service", name: name, port: .init(number: grpcPort), failureMode: failureMode)))
        }
        return RouterChildren(configMap: configMap, serviceAccount: account, role: role, roleBinding: binding,
                              deployment: deployment, service: service, gatewayPool: gatewayPool)
    }

    /// GIE's EPP chart probes the picker's gRPC health service (`inference-extension`); an API
    /// server without gRPC probes (before 1.24) gets a TCP probe of the same port.
    static func healthProbe(_ options: RouterOptions, period: Int32) -> Probe {
        if options.grpcProbes {
            return Probe(grpc: ["port": .int(Int64(grpcHealthPort)), "service": "inference-extension"], periodSeconds: period)
        }
        return Probe(tcpSocket: TCPSocketAction(port: .int(Int(grpcHealthPort))), periodSeconds: period)
    }

    /// The routing sidecar of a decode pod: on the service port, in front of vLLM.
    static func sidecar(_ router: RouterPlan, options: RouterOptions) -> Container {
        Container(
            name: "routing-sidecar", image: options.routingSidecarImage, imagePullPolicy: "IfNotPresent",
            args: ["--port=\(Renderer.servingPort)", "--vllm-port=\(Renderer.routedVLLMPort)", "--connector=\(router.sidecarConnector)"],
            ports: [ContainerPort(name: "http", containerPort: Renderer.servingPort, protocol: "TCP")],
            securityContext: containerSecurityContext, restartPolicy: options.nativeSidecars ? "Always" : nil)
    }
}
