import Foundation
import KubeClient
import KubeCore
import KubeTestSupport
import Rendering
import Routing
import Simulation
import Sizing
import TandemAPI
import TandemOperator
import Testing

/// The router's objects against a real control plane: first without the Gateway API Inference
/// Extension's CRD (the condition says so and everything else reconciles), then with it
/// installed by the test (the GIE pool appears without a restart), with owner references,
/// drift put back, the picker's account limited to what it reads, and everything removed
/// with the scheduler block.
@Suite("Router children against a real control plane")
struct RouterReconcileTests {
    @Test func routerChildrenWithAndWithoutTheInferenceExtension() async throws {
        // A cluster of this suite's own: the CRD's absence, then presence, is cluster-wide.
        let cluster = try await dedicatedClusterWithCRD("router-discovery") { client in
            let h200 = try #require(AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h200"))
            // Registered through the API; no agent: the tests need the node's labels only.
            try await EmulatedNode(name: "router-h200", accelerator: h200, devices: 8).register(with: client)
        }
        try await cluster.withNamespace("router") { client, namespace in
            let running = try RunningOperator(cluster: cluster, namespace: namespace, discoveryRecheck: .seconds(1))
            defer { Task { try? await running.stop() } }
            let pools = client.resources(InferencePool.self, namespace: namespace)
            let created = try await pools.create(InferencePool(
                metadata: ObjectMeta(name: "chat"),
                spec: InferencePoolSpec(
                    model: "meta-llama/Llama-3.1-8B-Instruct", accelerator: "nvidia-h200",
                    prefillConfig: TierConfig(replicas: 1), decodeConfig: TierConfig(replicas: 1),
                    scheduler: SchedulerSpec(enableCacheAwareRouting: true, enableLoadBalancing: true, disaggregationThreshold: 100))))
            let uid = try #require(created.metadata.uid)
            func owned<Object: KubernetesObject>(_ object: Object?) -> Bool {
                object?.metadata.ownerReferences?.contains { $0.uid == uid && $0.controller == true } ?? false
            }

            // 1. No Inference Extension: the condition says so; tiers and the picker are there.
            let missing = try await eventually("RouterReady=False InferenceExtensionNotInstalled") { () -> Condition? in
                let router = condition(try await pools.get("chat"), PoolCondition.routerReady)
                return router?.reason == "InferenceExtensionNotInstalled" ? router : nil
            }
            #expect(missing.status == .false)
            #expect(missing.message.contains("inference.networking.k8s.io/v1"), "\(missing.message)")
            _ = try await eventually("the InferenceExtensionNotInstalled Warning") { () -> Event? in
                try await client.resources(Event.self, namespace: namespace).list().items
                    .first { $0.reason == "InferenceExtensionNotInstalled" && $0.type == "Warning" }
            }
            let deployments = client.resources(Deployment.self, namespace: namespace)
            for name in ["chat-prefill", "chat-decode", "chat-epp"] {
                let deployment = try await eventually("Deployment \(name)") { try await deployments.getIfExists(name) }
                #expect(owned(deployment), "\(name) is not owned by the pool")
            }
            #expect(condition(try await pools.get("chat"), PoolCondition.sizingValid)?.status == .true)
            let decode = try await deployments.get("chat-decode")
            // This control plane is 1.20: the sidecar is a plain container, not a native one.
            #expect(decode.spec?.template?.spec?.containers?.map(\.name) == ["vllm", "routing-sidecar"])
            #expect(owned(try await client.resources(Service.self, namespace: namespace).get("chat-epp")))
            let configMaps = client.resources(ConfigMap.self, namespace: namespace)
            let configMap = try await configMaps.get("chat-epp")
            #expect(owned(configMap))
            let config = try EndpointPickerConfig.parse(configMap.data?[RouterRenderer.configKey] ?? "")
            #expect(config.problems().isEmpty && config.disaggregationThreshold == 100)
            #expect(owned(try await client.resources(ServiceAccount.self, namespace: namespace).get("chat-epp")))
            let roles = client.resources(Role.self, namespace: namespace)
            #expect(owned(try await roles.get("chat-epp")))
            #expect(owned(try await client.resources(RoleBinding.self, namespace: namespace).get("chat-epp")))

            // 2. The test installs GIE's CRD: the pool's GIE InferencePool appears, no restart.
            try await installCRD(cluster, file: GatewayCRD.file, name: GatewayCRD.name)
            let gateway = client.resources(GatewayInferencePool.self, namespace: namespace)
            let gie = try await eventually("the GIE InferencePool") { try await gateway.getIfExists("chat") }
            #expect(owned(gie))
            #expect(gie.spec?.selector.matchLabels == [PoolLabels.pool: "chat"])
            #expect(gie.spec?.targetPorts.map(\.number) == [8000])
            #expect(gie.spec?.endpointPickerRef.name == "chat-epp")
            #expect(gie.spec?.endpointPickerRef.port.number == 9002)
            let waiting = try await eventually("RouterReady past the CRD") { () -> Condition? in
                let router = condition(try await pools.get("chat"), PoolCondition.routerReady)
                return router?.reason == "InferenceExtensionNotInstalled" ? nil : router
            }
            // No kubelet here: the picker's pod does not run, and the condition says that now.
            #expect(waiting.reason == "EndpointPickerNotReady", "\(waiting)")

            // 3. The picker's account: exactly what it reads, in its namespace only.
            let account = "system:serviceaccount:\(namespace):chat-epp"
            let allowed: [[String]] = [
                ["get", "pods"], ["list", "pods"], ["watch", "pods"],
                ["get", "inferencepools.inference.networking.k8s.io"], ["list", "inferencepools.inference.networking.k8s.io"],
                ["watch", "inferencepools.inference.networking.k8s.io"],
            ]
            let denied: [[String]] = [
                ["create", "pods"], ["delete", "pods"], ["patch", "pods"], ["get", "secrets"], ["list", "configmaps"],
                ["create", "inferencepools.inference.networking.k8s.io"], ["update", "inferencepools.inference.networking.k8s.io"],
                ["list", "inferencepools.inference.x-k8s.io"], ["list", "deployments.apps"], ["create", "roles.rbac.authorization.k8s.io"],
            ]
            for (arguments, answer) in allowed.map({ ($0, "yes") }) + denied.map({ ($0, "no") }) {
                let can = try await kubectl(cluster, ["auth", "can-i"] + arguments + ["-n", namespace, "--as", account])
                #expect(lastLine(can.output) == answer, "can-i \(arguments.joined(separator: " ")) as \(account): \(can.output)")
            }
            let elsewhere = try await kubectl(cluster, ["auth", "can-i", "list", "pods", "-n", "default", "--as", account])
            #expect(lastLine(elsewhere.output) == "no", "the picker may list pods outside its namespace: \(elsewhere.output)")
            // Objectives and model rewrites: their CRDs are not installed here, so kubectl cannot
            // map the names; the same question goes to the authorizer as a SubjectAccessReview.
            for group in ["inference.networking.x-k8s.io", "llm-d.ai"] {
                for resource in ["inferenceobjectives", "inferencemodelrewrites"] {
                    for verb in ["get", "list", "watch"] {
                        #expect(try await accessReview(client, user: account, namespace: namespace, verb: verb, group: group, resource: resource),
                                "\(account) may not \(verb) \(resource).\(group)")
                    }
                    #expect(try await !accessReview(client, user: account, namespace: namespace, verb: "create", group: group, resource: resource))
                }
            }

            // 4. Drift: a hand edit of the config and of the Role is put back.
            _ = try await configMaps.patch("chat-epp", .merge(["data": [RouterRenderer.configKey: "kind: EndpointPickerConfig\n"]]))
            _ = try await roles.patch("chat-epp", .merge(["rules": [["apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]]]]))
            _ = try await eventually("the config and the Role put back") { () -> Bool? in
                let text = try await configMaps.get("chat-epp").data?[RouterRenderer.configKey] ?? ""
                let rules = try await roles.get("chat-epp").rules
                return text == configMap.data?[RouterRenderer.configKey] && rules == RouterRenderer.endpointPickerRules ? true : nil
            }

            // 5. Without the scheduler block: the router goes, decode serves vLLM on 8000 again.
            _ = try await pools.patch("chat", .merge(["spec": ["scheduler": .null]]))
            _ = try await eventually("the router removed") { () -> Bool? in
                var present: [String] = []
                if try await gateway.getIfExists("chat") != nil { present.append("InferencePool") }
                if try await deployments.getIfExists("chat-epp") != nil { present.append("Deployment") }
                if try await configMaps.getIfExists("chat-epp") != nil { present.append("ConfigMap") }
                if try await roles.getIfExists("chat-epp") != nil { present.append("Role") }
                if try await client.resources(RoleBinding.self, namespace: namespace).getIfExists("chat-epp") != nil { present.append("RoleBinding") }
                if try await client.resources(ServiceAccount.self, namespace: namespace).getIfExists("chat-epp") != nil { present.append("ServiceAccount") }
                if try await client.resources(Service.self, namespace: namespace).getIfExists("chat-epp") != nil { present.append("Service") }
                let gone = present.isEmpty
                return gone ? true : nil
            }
            let plain = try await eventually("decode without the sidecar and no RouterReady") { () -> Deployment? in
                let current = try await deployments.get("chat-decode")
                let pool = try await pools.get("chat")
                return current.spec?.template?.spec?.containers?.count == 1 && condition(pool, PoolCondition.routerReady) == nil
                    ? current : nil
            }
            #expect(plain.spec?.template?.spec?.containers?.first?.args?.contains("--port=8000") == true)
            let events = try await client.resources(Event.self, namespace: namespace).list().items
            #expect(events.contains { $0.reason == "Deleted" && ($0.note ?? "").contains("Deployment chat-epp") })
        }
    }
}

/// Whether the authorizer allows `user` to `verb` `resource` in `namespace` (a SubjectAccessReview,
/// what `kubectl auth can-i --as` sends, for resources kubectl cannot resolve).
func accessReview(_ client: KubernetesClient, user: String, namespace: String, verb: String, group: String, resource: String) async throws -> Bool {
    let review: JSONValue = [
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": [
            "user": .string(user), "groups": ["system:serviceaccounts", .string("system:serviceaccounts:\(namespace)"), "system:authenticated"],
            "resourceAttributes": ["namespace": .string(namespace), "verb": .string(verb), "group": .string(group), "resource": .string(resource)],
        ],
    ]
    let response = try await client.send(method: .POST, path: "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                                         body: Array(try KubeJSON.encode(review)))
    let answer = try JSONDecoder().decode(JSONValue.self, from: Data(response.body.readableBytesView))
    return answer["status"]?["allowed"] == .bool(true)
}
