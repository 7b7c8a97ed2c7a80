import Foundation
import KubeClient
import KubeCore
import KubeTestSupport
import Rendering
import Sizing
import TandemAPI
import Testing

/// Tandem's pods under a PodSecurityPolicy equivalent to the Pod Security Standards' baseline,
/// on a 1.20 control plane of this suite's own with the `PodSecurityPolicy` admission plugin on
/// (`--enable-admission-plugins` adds it to the default set). No node agent: the pods only need
/// to be created by the ReplicaSet controller, which admission either allows or refuses (a
/// `FailedCreate` Event on the ReplicaSet).
///
/// The ReplicaSet controller creates pods as `system:serviceaccount:kube-system:replicaset-controller`
/// (the controller-manager runs with `--use-service-account-credentials=true`, see
/// hack/local-cluster.sh); that account is granted `use` of the policy.
@Suite("Pod security admission (PodSecurityPolicy, Kubernetes 1.20)", .serialized)
struct PodSecurityAdmissionTests {
    static let policyName = "tandem-baseline"

    /// Baseline as a PodSecurityPolicy (policy/v1beta1): no host namespaces, ports or paths, not
    /// privileged, no capability beyond the runtime defaults, default /proc mount, only safe
    /// sysctls (a PSP's default), and seccomp RuntimeDefault (baseline forbids only Unconfined; a
    /// PSP with an allow-list refuses pods without a profile unless it sets a default, so the
    /// default is RuntimeDefault). Model: the Kubernetes website's baseline-psp example,
    /// tightened to today's baseline seccomp rule.
    static let baselinePolicy = """
        apiVersion: policy/v1beta1
        kind: PodSecurityPolicy
        metadata:
          name: \(policyName)
          annotations:
            seccomp.security.alpha.kubernetes.io/allowedProfileNames: runtime/default,docker/default
            seccomp.security.alpha.kubernetes.io/defaultProfileName: runtime/default
        spec:
          privileged: false
          allowPrivilegeEscalation: true
          allowedCapabilities: [AUDIT_WRITE, CHOWN, DAC_OVERRIDE, FOWNER, FSETID, KILL, MKNOD, NET_BIND_SERVICE,
                                SETFCAP, SETGID, SETPCAP, SETUID, SYS_CHROOT]
          volumes: [configMap, emptyDir, projected, secret, downwardAPI, persistentVolumeClaim, csi, ephemeral,
                    awsElasticBlockStore, azureDisk, azureFile, cephFS, cinder, fc, flexVolume, flocker,
                    gcePersistentDisk, gitRepo, glusterfs, iscsi, nfs, photonPersistentDisk, portworxVolume,
                    quobyte, rbd, scaleIO, storageos, vsphereVolume]
          hostNetwork: false
          hostIPC: false
          hostPID: false
          runAsUser: {rule: RunAsAny}
          seLinux: {rule: RunAsAny}
          supplementalGroups: {rule: RunAsAny}
          fsGroup: {rule: RunAsAny}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata:
          name: psp-\(policyName)
        rules:
        - apiGroups: [policy]
          resources: [podsecuritypolicies]
          resourceNames: [\(policyName)]
          verbs: [use]
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata:
          name: psp-\(policyName)-replicaset-controller
        roleRef:
          apiGroup: rbac.authorization.k8s.io
          kind: ClusterRole
          name: psp-\(policyName)
        subjects:
        - kind: ServiceAccount
          name: replicaset-controller
          namespace: kube-system
        """

    /// A routed pool (prefill, decode with the routing sidecar, endpoint picker) and the
    /// autoscaling example (a PersistentVolumeClaim volume), rendered as the operator would.
    static func renderedChildren(namespace: String) throws -> RenderedChildren {
        var routed = InferencePool(
            metadata: ObjectMeta(name: "chat", namespace: namespace),
            spec: InferencePoolSpec(
                model: "meta-llama/Llama-3.1-8B-Instruct", accelerator: "nvidia-h200",
                prefillConfig: TierConfig(replicas: 1), decodeConfig: TierConfig(replicas: 1),
                scheduler: SchedulerSpec(enableCacheAwareRouting: true, enableLoadBalancing: true, disaggregationThreshold: 100)))
        routed.metadata.uid = "u-1"
        let text = try String(contentsOf: URL(fileURLWithPath: Script.projectRoot).appendingPathComponent("examples/llama-70b-autoscaling.yaml"),
                              encoding: .utf8)
        var pools = [routed]
        for var pool in try Manifest.pools(from: text) {
            pool.metadata.namespace = namespace
            pools.append(pool)
        }
        var all = RenderedChildren()
        for pool in pools {
            let plan = PoolPlanner().plan(pool)
            #expect(plan.problems.isEmpty, "\(pool.metadata.name ?? ""): \(plan.problems)")
            let children = try Renderer.render(pool: pool, plans: plan.plans, owner: nil, router: plan.routerPlan)
            all.deployments += children.deployments
            all.serviceAccounts += children.serviceAccounts
        }
        return all
    }

    /// The Deployment's pods (by its selector).
    static func pods(of deployment: Deployment, _ client: KubernetesClient, _ namespace: String) async throws -> [Pod] {
        let selector = (deployment.spec?.selector?.matchLabels ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            .joined(separator: ",")
        return try await client.resources(Pod.self, namespace: namespace).list(ListOptions(labelSelector: selector)).items
    }

    static func failedCreates(_ client: KubernetesClient, _ namespace: String) async throws -> [Event] {
        try await client.resources(Event.self, namespace: namespace).list().items.filter { $0.reason == "FailedCreate" }
    }

    /// Waits until `account` exists with its token secret: before that the ServiceAccount admission
    /// plugin of 1.20 refuses pods that mount its token, which would show as a FailedCreate too.
    static func waitForAccount(_ account: String, _ client: KubernetesClient, _ namespace: String) async throws {
        _ = try await eventually("ServiceAccount \(account) and its token secret") { () -> Bool? in
            let found = try await client.resources(ServiceAccount.self, namespace: namespace).getIfExists(account)
            return (found?.secrets?.isEmpty ?? true) ? nil : true
        }
    }

    @Test func renderedPodsAreAdmittedUnderBaselineAndAPrivilegedPodIsRefused() async throws {
        try await TestCluster.withPrivateCluster(name: "psp", apiserverFlags: ["--enable-admission-plugins=PodSecurityPolicy"]) { cluster in
            let applied = try await kubectl(cluster, ["apply"], stdin: Self.baselinePolicy)
            try #require(applied.status == 0, "kubectl apply of the policy failed: \(applied.output)")

            try await cluster.withNamespace("psp") { client, namespace in
                let children = try Self.renderedChildren(namespace: namespace)
                #expect(children.deployments.count == 5, "\(children.deployments.map { $0.metadata.name ?? "" })")
                for account in children.serviceAccounts {
                    _ = try await client.resources(ServiceAccount.self, namespace: namespace).create(account)
                }
                for account in ["default"] + children.serviceAccounts.compactMap(\.metadata.name) {
                    try await Self.waitForAccount(account, client, namespace)
                }
                let deployments = client.resources(Deployment.self, namespace: namespace)
                for var deployment in children.deployments {
                    deployment.spec?.replicas = 1
                    _ = try await deployments.create(deployment)
                }

                // Every Deployment gets its pod, admitted under the baseline policy.
                for deployment in children.deployments {
                    let name = deployment.metadata.name ?? ""
                    let pods = try await eventually(timeout: .seconds(90), "a pod of \(name)") { () -> [Pod]? in
                        let pods = try await Self.pods(of: deployment, client, namespace)
                        if pods.isEmpty, let refused = try await Self.failedCreates(client, namespace).first {
                            throw TestClusterError("\(name): FailedCreate: \(refused.note ?? "")")
                        }
                        return pods.isEmpty ? nil : pods
                    }
                    #expect(pods.count == 1, "\(name): \(pods.count) pods")
                    for pod in pods {
                        // The admission plugin records the policy that admitted the pod.
                        #expect(pod.metadata.annotations?["kubernetes.io/psp"] == Self.policyName, "\(pod.metadata.name ?? "")")
                        #expect(pod.spec?.securityContext?.seccompProfile == .runtimeDefault, "\(pod.metadata.name ?? "")")
                    }
                }
                let refused = try await Self.failedCreates(client, namespace)
                #expect(refused.isEmpty, "\(refused.map { $0.note ?? "" })")

                // The check bites: templates that break baseline are refused by the same policy.
                let tier = try #require(children.deployments.first { $0.metadata.name == "chat-prefill" })
                let breaches: [(name: String, breach: (inout PodSpec) -> Void, message: String)] = [
                    // (The API refuses privileged with allowPrivilegeEscalation: false: replace the context.)
                    ("privileged", { $0.containers?[0].securityContext = SecurityContext(privileged: true) },
                     "Privileged containers are not allowed"),
                    ("host-path", { $0.volumes?.append(Volume(name: "host", otherSources: ["hostPath": ["path": "/"]])) },
                     "hostPath volumes are not allowed"),
                ]
                for (suffix, breach, message) in breaches {
                    var bad = tier
                    bad.metadata.name = "breach-\(suffix)"
                    bad.metadata.labels = ["breach": suffix]
                    bad.spec?.selector = LabelSelector(matchLabels: ["breach": suffix])
                    bad.spec?.template?.metadata?.labels = ["breach": suffix]
                    bad.spec?.replicas = 1
                    if var spec = bad.spec?.template?.spec {
                        breach(&spec)
                        bad.spec?.template?.spec = spec
                    }
                    _ = try await deployments.create(bad)
                    let event = try await eventually(timeout: .seconds(90), "FailedCreate for \(bad.metadata.name ?? "")") { () -> Event? in
                        try await Self.failedCreates(client, namespace).first {
                            $0.regarding?.name?.hasPrefix("breach-\(suffix)-") == true && $0.regarding?.kind == "ReplicaSet"
                        }
                    }
                    #expect(event.note?.contains("PodSecurityPolicy: unable to admit pod") == true, "\(event.note ?? "")")
                    #expect(event.note?.contains(message) == true, "\(event.note ?? "")")
                    #expect(try await Self.pods(of: bad, client, namespace).isEmpty)
                }
            }
        }
    }
}
