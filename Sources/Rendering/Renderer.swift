import KubeCore
import Routing
import TandemAPI

/// The children of a pool: a Deployment and a Service per tier, and with a `scheduler` block
/// llm-d's router (see ``RouterChildren``). Pure and deterministic: the same input gives equal
/// values (and byte-identical YAML).
public struct RenderedChildren: Hashable, Sendable {
    public var deployments: [Deployment]
    public var services: [Service]
    public var configMaps: [ConfigMap]
    public var serviceAccounts: [ServiceAccount]
    public var roles: [Role]
    public var roleBindings: [RoleBinding]
    public var gatewayPools: [GatewayInferencePool]

    public init(deployments: [Deployment] = [], services: [Service] = [], configMaps: [ConfigMap] = [],
                serviceAccounts: [ServiceAccount] = [], roles: [Role] = [], roleBindings: [RoleBinding] = [],
                gatewayPools: [GatewayInferencePool] = []) {
        self.deployments = deployments
        self.services = services
        self.configMaps = configMaps
        self.serviceAccounts = serviceAccounts
        self.roles = roles
        self.roleBindings = roleBindings
        self.gatewayPools = gatewayPools
    }
}

/// Turns tier plans into Kubernetes objects.
public enum Renderer {
    /// The port vLLM serves the OpenAI API and `/metrics` on (vLLM's default, llm-d's guides).
    public static let servingPort: Int32 = 8000
    /// vLLM's port behind llm-d's routing sidecar, which takes the service port. Source: llm-d's
    /// guides (`--vllm-port=8200`).
    public static let routedVLLMPort: Int32 = 8200
    /// The container port's name; the autoscaler scrapes the port of this name (llm-d names it so).
    public static let metricsPortName = "metrics"
    /// Long enough for in-flight requests after the pod leaves the Service's endpoints
    /// (preStop) and for vLLM to finish its running batch.
    static let terminationGracePeriodSeconds: Int64 = 150
    /// Endpoint removal reaches load balancers within seconds; this pause keeps new requests
    /// from arriving at a pod that is about to stop.
    static let preStopSleepSeconds = 30

    /// The vLLM container's security context: no privilege escalation and no Linux capabilities,
    /// but no `runAsNonRoot`: the official `vllm/vllm-openai` image runs as root (its Dockerfile's
    /// `vllm-openai` stage sets no `USER`, and its caches live under `/root/.cache`), so the kubelet
    /// would refuse to start it. Pod Security Standards: meets baseline; restricted's "running as
    /// non-root" and "non-root user" rules are the documented exceptions (docs/install.md).
    public static let vllmSecurityContext = SecurityContext(
        capabilities: Capabilities(drop: ["ALL"]), allowPrivilegeEscalation: false)
    /// The tier pods' security context: the container runtime's default seccomp filter (the
    /// fields exist since Kubernetes 1.19, so the chart's oldest server, 1.20, accepts them).
    public static let tierPodSecurityContext = PodSecurityContext(seccompProfile: .runtimeDefault)

    /// Renders every planned tier of `pool`.
    ///
    /// - Parameter owner: the pool's owner reference (the reconciler passes it; `tandem render`
    ///   has none).
    ///   - router: llm-d's router, rendered too when set.
    public static func render(pool: InferencePool, plans: [TierPlan], owner: OwnerReference?, router: RouterPlan? = nil,
                              options: RouterOptions = RouterOptions()) throws -> RenderedChildren {
        var children = RenderedChildren()
        for plan in plans.sorted(by: { $0.tier.rawValue > $1.tier.rawValue }) {
            children.deployments.append(deployment(pool: pool, plan: plan, owner: owner, options: options))
            children.services.append(service(pool: pool, tier: plan.tier, owner: owner))
        }
        if let router {
            let objects = try RouterRenderer.render(pool: pool, router: router, options: options, owner: owner)
            children.configMaps.append(objects.configMap)
            children.serviceAccounts.append(objects.serviceAccount)
            children.roles.append(objects.role)
            children.roleBindings.append(objects.roleBinding)
            children.services.append(objects.service)
            children.deployments.append(objects.deployment)
            if let pool = objects.gatewayPool { children.gatewayPools.append(pool) }
        }
        return children
    }

    static func metadata(pool: InferencePool, tier: TierName, owner: OwnerReference?) -> ObjectMeta {
        let name = pool.metadata.name ?? ""
        return ObjectMeta(
            name: ChildNames.tier(name, tier), namespace: pool.metadata.namespace,
            labels: PoolLabels.all(pool: name, tier: tier), ownerReferences: owner.map { [$0] })
    }

    /// The tier's Deployment.
    public static func deployment(pool: InferencePool, plan: TierPlan, owner: OwnerReference?,
                                  options: RouterOptions = RouterOptions()) -> Deployment {
        let poolName = pool.metadata.name ?? ""
        var meta = metadata(pool: pool, tier: plan.tier, owner: owner)
        meta.annotations = [PoolLabels.sizingAnnotation: plan.sizingSummary]

        let podLabels = (plan.pod.podLabels ?? [:]).merging(PoolLabels.all(pool: poolName, tier: plan.tier)) { _, own in own }
        let port = IntOrString.string(metricsPortName)
        var container = Container(
            name: "vllm", image: plan.image, args: plan.args, env: mergedEnv(ours: plan.env, theirs: plan.pod.env),
            envFrom: plan.pod.envFrom,
            ports: [ContainerPort(name: metricsPortName, containerPort: plan.vllmPort, protocol: "TCP")]
                + (plan.sideChannelPort.map { [ContainerPort(name: "nixl", containerPort: $0, protocol: "TCP")] } ?? []),
            resources: ResourceRequirements(limits: plan.limits, requests: plan.requests),
            volumeMounts: [VolumeMount(name: "dshm", mountPath: "/dev/shm")] + (plan.pod.volumeMounts ?? []),
            // llm-d's guides: a long startup probe while weights load, then liveness on /health
            // and readiness on /v1/models.
            livenessProbe: Probe(httpGet: HTTPGetAction(path: "/health", port: port), periodSeconds: 10,
                                 timeoutSeconds: 5, failureThreshold: 3),
            readinessProbe: Probe(httpGet: HTTPGetAction(path: "/v1/models", port: port), periodSeconds: 5,
                                  timeoutSeconds: 5, failureThreshold: 3),
            startupProbe: Probe(httpGet: HTTPGetAction(path: "/v1/models", port: port), periodSeconds: 10,
                                timeoutSeconds: 5, failureThreshold: 180),  // up to 30 minutes to load weights
            lifecycle: ["preStop": ["exec": ["command": ["sleep", .string(String(preStopSleepSeconds))]]]],
            securityContext: vllmSecurityContext)
        container.imagePullPolicy = "IfNotPresent"

        let nodeSelector = plan.nodeSelector.merging(plan.pod.nodeSelector ?? [:]) { _, theirs in theirs }
        var containers = [container]
        var initContainers: [Container]?
        if let router = plan.router {
            // llm-d's routing sidecar takes the service port and runs the P/D protocol.
            let sidecar = RouterRenderer.sidecar(router, options: options)
            if options.nativeSidecars { initContainers = [sidecar] } else { containers.append(sidecar) }
        }
        let podSpec = PodSpec(
            containers: containers, initContainers: initContainers,
            volumes: [Volume(name: "dshm", emptyDir: EmptyDirVolumeSource(medium: "Memory", sizeLimit: plan.sharedMemory))]
                + (plan.pod.volumes ?? []),
            nodeSelector: nodeSelector.isEmpty ? nil : nodeSelector,
            tolerations: mergedTolerations(ours: plan.tolerations, theirs: plan.pod.tolerations),
            affinity: plan.pod.affinity, serviceAccountName: plan.pod.serviceAccountName,
            // Neither vLLM nor the routing sidecar (without its SSRF protection, which Tandem does
            // not turn on) calls the Kubernetes API: no token in the pod.
            automountServiceAccountToken: false,
            priorityClassName: plan.pod.priorityClassName, imagePullSecrets: plan.pod.imagePullSecrets,
            terminationGracePeriodSeconds: terminationGracePeriodSeconds,
            securityContext: tierPodSecurityContext)
        let template = PodTemplateSpec(
            metadata: ObjectMeta(labels: podLabels, annotations: plan.pod.podAnnotations), spec: podSpec)
        let spec = DeploymentSpec(
            replicas: plan.replicas,
            selector: LabelSelector(matchLabels: PoolLabels.selector(pool: poolName, tier: plan.tier)),
            template: template,
            // Never more pods than replicas during a rollout: a GPU pool has no spare devices.
            strategy: DeploymentStrategy(
                type: "RollingUpdate",
                rollingUpdate: RollingUpdateDeployment(maxSurge: .int(0), maxUnavailable: .int(1))),
            revisionHistoryLimit: 5,
            // Pulling a multi-GB image and loading weights takes long.
            progressDeadlineSeconds: 3600)
        return Deployment(metadata: meta, spec: spec)
    }

    /// The tier's Service (ClusterIP; the router reaches pods through the selector).
    public static func service(pool: InferencePool, tier: TierName, owner: OwnerReference?) -> Service {
        let poolName = pool.metadata.name ?? ""
        return Service(
            metadata: metadata(pool: pool, tier: tier, owner: owner),
            spec: ServiceSpec(
                type: "ClusterIP", selector: PoolLabels.selector(pool: poolName, tier: tier),
                                // The service port: vLLM's, or the routing sidecar's in front of it.
                ports: [ServicePort(name: "http", port: servingPort, targetPort: .int(Int(servingPort)), protocol: "TCP")]))
    }

    /// Ours first, then theirs; a variable of theirs replaces ours of the same name.
    static func mergedEnv(ours: [EnvVar], theirs: [EnvVar]?) -> [EnvVar]? {
        let theirs = theirs ?? []
        let names = Set(theirs.compactMap(\.name))
        let merged = ours.filter { !names.contains($0.name ?? "") } + theirs
        return merged.isEmpty ? nil : merged
    }

    static func mergedTolerations(ours: [Toleration], theirs: [Toleration]?) -> [Toleration]? {
        var merged = ours
        for toleration in theirs ?? [] where !merged.contains(toleration) { merged.append(toleration) }
        return merged.isEmpty ? nil : merged
    }
}
