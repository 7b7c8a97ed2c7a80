import Foundation
import KubeCore
import Rendering
import Routing
import Sizing
import TandemAPI
import Testing
import Yams

/// A small pool with a scheduler block: Llama-3.1-8B on H200, one replica a tier.
func routedPool(_ scheduler: SchedulerSpec, connector: String? = nil) -> InferencePool {
    var meta = ObjectMeta(name: "chat", namespace: "serving")
    meta.uid = "u-1"
    return InferencePool(
        metadata: meta,
        spec: InferencePoolSpec(
            model: "meta-llama/Llama-3.1-8B-Instruct", accelerator: "nvidia-h200",
            prefillConfig: TierConfig(replicas: 1), decodeConfig: TierConfig(replicas: 1), scheduler: scheduler,
            kvTransfer: connector.map { KVTransferSpec(connector: $0) }))
}

@Suite("Router rendering")
struct RouterRenderingTests {
    /// The three switches of the scheduler block: cache-aware routing, load balancing, and
    /// disaggregation (threshold 100, the seed's, or 0: never).
    struct Switches: CustomTestStringConvertible, Sendable {
        var cache: Bool
        var load: Bool
        var threshold: Int32
        var file: String { "cache-\(cache ? "on" : "off")_load-\(load ? "on" : "off")_threshold-\(threshold).yaml" }
        var testDescription: String { file }
        var scheduler: SchedulerSpec {
            SchedulerSpec(enableCacheAwareRouting: cache, enableLoadBalancing: load, disaggregationThreshold: threshold)
        }
    }

    static let combinations: [Switches] = [false, true].flatMap { cache in
        [false, true].flatMap { load in [Int32(100), 0].map { Switches(cache: cache, load: load, threshold: $0) } }
    }

    func children(_ pool: InferencePool, options: RouterOptions = RouterOptions()) throws -> RenderedChildren {
        let plan = PoolPlanner().plan(pool)
        #expect(plan.problems.isEmpty, "\(plan.problems)")
        return try Renderer.render(pool: pool, plans: plan.plans, owner: pool.controllerReference(), router: plan.routerPlan, options: options)
    }

    @Test(arguments: combinations)
    func routerChildrenMatchGolden(switches: Switches) throws {
        let yaml = try YAMLOutput.children(children(routedPool(switches.scheduler)))
        let golden = repositoryRoot.appendingPathComponent("Tests/RenderingTests/Golden/router/\(switches.file)")
        if ProcessInfo.processInfo.environment["TANDEM_UPDATE_GOLDEN"] == "1" {
            try yaml.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(yaml == expected, "router render differs from Golden/router/\(switches.file); if intended, rerun with TANDEM_UPDATE_GOLDEN=1")
    }

    /// The config as the picker reads it, from the rendered ConfigMap: every plugin reference
    /// resolves, every profile ends in a picker, and the switches show.
    @Test(arguments: combinations)
    func renderedConfigParsesAndResolves(switches: Switches) throws {
        let rendered = try children(routedPool(switches.scheduler))
        let configMap = try #require(rendered.configMaps.first)
        let text = try #require(configMap.data?[RouterRenderer.configKey])
        let config = try EndpointPickerConfig.parse(text)
        #expect(config.problems().isEmpty, "\(config.problems())")
        for profile in config.schedulingProfiles {
            for reference in profile.plugins {
                #expect(config.plugin(reference.pluginRef) != nil, "\(profile.name) → \(reference.pluginRef)")
            }
            let last = try #require(profile.plugins.last.flatMap { config.plugin($0.pluginRef) })
            #expect(last.type == PluginType.maxScorePicker)
        }
        #expect(config.disaggregationThreshold == Int(switches.threshold))
        let types = Set(config.plugins.map(\.type))
        #expect(types.contains(PluginType.prefixCacheScorer) == switches.cache)
        #expect(types.contains(PluginType.queueScorer) == switches.load)
        #expect(types.contains(PluginType.kvCacheUtilizationScorer) == switches.load)
        // The picker's Deployment mounts this ConfigMap at the path its --config-file names.
        let picker = try #require(rendered.deployments.first { $0.metadata.name == "chat-epp" })
        let spec = try #require(picker.spec?.template?.spec)
        let args = try #require(spec.containers?.first?.args)
        let file = try #require(args.firstIndex(of: "--config-file").map { args[$0 + 1] })
        let mount = try #require(spec.containers?.first?.volumeMounts?.first)
        #expect(file == "\(mount.mountPath ?? "")/\(RouterRenderer.configKey)")
        #expect(spec.volumes?.first { $0.name == mount.name }?.configMap?.name == configMap.metadata.name)
    }

    @Test func endpointPickerObjectsAreOwnedNamedAndWired() throws {
        let pool = routedPool(SchedulerSpec(enableCacheAwareRouting: true, enableLoadBalancing: true, disaggregationThreshold: 100))
        let rendered = try children(pool)
        #expect(rendered.serviceAccounts.map(\.metadata.name) == ["chat-epp"])
        #expect(rendered.roles.first?.rules == RouterRenderer.endpointPickerRules)
        #expect(rendered.roleBindings.first?.subjects?.first?.name == "chat-epp")
        #expect(rendered.roleBindings.first?.roleRef?.name == "chat-epp")
        let picker = try #require(rendered.deployments.first { $0.metadata.name == "chat-epp" })
        #expect(picker.spec?.replicas == 1)
        #expect(picker.spec?.template?.spec?.serviceAccountName == "chat-epp")
        #expect(picker.spec?.template?.spec?.containers?.first?.image == RouterOptions.defaultEndpointPickerImage)
        // The picker's pods are not model servers: the GIE selector must not match them.
        let gateway = try #require(rendered.gatewayPools.first)
        let selector = gateway.spec?.selector.matchLabels ?? [:]
        let pickerLabels = picker.spec?.template?.metadata?.labels ?? [:]
        #expect(!selector.allSatisfy { pickerLabels[$0.key] == $0.value })
        for tier in ["chat-prefill", "chat-decode"] {
            let labels = try #require(rendered.deployments.first { $0.metadata.name == tier }?.spec?.template?.metadata?.labels)
            #expect(selector.allSatisfy { labels[$0.key] == $0.value }, "\(tier) is not selected by the GIE pool")
        }
        #expect(gateway.spec?.targetPorts == [.init(number: 8000)])
        #expect(gateway.spec?.endpointPickerRef.name == "chat-epp")
        #expect(gateway.spec?.endpointPickerRef.port.number == RouterRenderer.grpcPort)
        let service = try #require(rendered.services.first { $0.metadata.name == "chat-epp" })
        #expect(service.spec?.ports?.map(\.port) == [9002, 9090])
        // Everything is owned by the pool.
        let objects: [ObjectMeta] = rendered.serviceAccounts.map(\.metadata) + rendered.roles.map(\.metadata)
            + rendered.roleBindings.map(\.metadata) + rendered.configMaps.map(\.metadata) + rendered.services.map(\.metadata)
            + rendered.deployments.map(\.metadata) + rendered.gatewayPools.map(\.metadata)
        #expect(objects.count == 11)  // 4 router objects, 3 Services, 3 Deployments, the GIE pool
        for meta in objects { #expect(meta.ownerReferences?.first?.uid == "u-1", "\(meta.name ?? "")") }
        // Another config apiVersion, and a changed config rolls the picker.
        let other = try children(pool, options: RouterOptions(configAPIVersion: "llm-d.ai/v1"))
        #expect(try EndpointPickerConfig.parse(other.configMaps[0].data?[RouterRenderer.configKey] ?? "").apiVersion == "llm-d.ai/v1")
        let before = picker.spec?.template?.metadata?.annotations?[PoolLabels.configHashAnnotation]
        let after = other.deployments.first { $0.metadata.name == "chat-epp" }?.spec?.template?.metadata?.annotations?[PoolLabels.configHashAnnotation]
        #expect(before != nil && before != after)
    }

    @Test func decodePodsServeBehindTheRoutingSidecar() throws {
        let pool = routedPool(SchedulerSpec(disaggregationThreshold: 100))
        // 1.20 (this machine's control plane): a plain second container, TCP probes on the picker.
        let old = try children(pool, options: RouterOptions(serverMajor: 1, minor: 20, gatewayAPIServed: true))
        let decode = try #require(old.deployments.first { $0.metadata.name == "chat-decode" }?.spec?.template?.spec)
        #expect(decode.containers?.map(\.name) == ["vllm", "routing-sidecar"])
        #expect(decode.initContainers == nil)
        let vllm = try #require(decode.containers?.first)
        #expect(vllm.args?.contains("--port=8200") == true)
        #expect(vllm.ports?.first { $0.name == "metrics" }?.containerPort == 8200)
        #expect(vllm.ports?.first { $0.name == "nixl" }?.containerPort == 5600)
        #expect(vllm.env?.contains(EnvVar(name: "VLLM_NIXL_SIDE_CHANNEL_PORT", value: "5600")) == true)
        let sidecar = try #require(decode.containers?.last)
        #expect(sidecar.args == ["--port=8000", "--vllm-port=8200", "--connector=nixlv2"])
        #expect(sidecar.ports?.first?.containerPort == 8000)
        #expect(sidecar.restartPolicy == nil)
        let picker = try #require(old.deployments.first { $0.metadata.name == "chat-epp" }?.spec?.template?.spec?.containers?.first)
        #expect(picker.readinessProbe?.tcpSocket != nil && picker.readinessProbe?.grpc == nil)
        // 1.29: a native sidecar, gRPC probes.
        let new = try children(pool, options: RouterOptions(serverMajor: 1, minor: 29, gatewayAPIServed: true))
        let native = try #require(new.deployments.first { $0.metadata.name == "chat-decode" }?.spec?.template?.spec)
        #expect(native.containers?.map(\.name) == ["vllm"])
        #expect(native.initContainers?.map(\.name) == ["routing-sidecar"])
        #expect(native.initContainers?.first?.restartPolicy == "Always")
        #expect(new.deployments.first { $0.metadata.name == "chat-epp" }?.spec?.template?.spec?.containers?.first?.readinessProbe?.grpc != nil)
        // Prefill serves on the service port itself; both Services target it.
        let prefill = try #require(new.deployments.first { $0.metadata.name == "chat-prefill" }?.spec?.template?.spec)
        #expect(prefill.containers?.map(\.name) == ["vllm"])
        #expect(prefill.containers?.first?.args?.contains("--port=8000") == true)
        for service in new.services where service.metadata.name != "chat-epp" {
            #expect(service.spec?.ports?.first?.targetPort == .int(8000))
        }
        // Without the Inference Extension's API: no GIE pool, the rest as before.
        let bare = try children(pool, options: RouterOptions(gatewayAPIServed: false))
        #expect(bare.gatewayPools.isEmpty && bare.deployments.count == 3 && bare.configMaps.count == 1)
        // Without a scheduler block: no router, vLLM on the service port.
        var plain = pool
        plain.spec?.scheduler = nil
        let unrouted = try children(plain)
        #expect(unrouted.deployments.count == 2 && unrouted.configMaps.isEmpty && unrouted.gatewayPools.isEmpty)
        #expect(unrouted.deployments.allSatisfy { $0.spec?.template?.spec?.containers?.count == 1 })
    }

    @Test func transferSanityRules() throws {
        func plan(prefillTP: Int, decodeTP: Int, model: String = "meta-llama/Llama-3.1-70B-Instruct", connector: String? = nil) -> PoolPlan {
            PoolPlanner().plan(InferencePool(
                metadata: ObjectMeta(name: "p", namespace: "ns"),
                spec: InferencePoolSpec(
                    model: model, accelerator: "nvidia-h200",
                    prefillConfig: TierConfig(vllmArgs: ["--tensor-parallel-size=\(prefillTP)"]),
                    decodeConfig: TierConfig(vllmArgs: ["--tensor-parallel-size=\(decodeTP)"]),
                    scheduler: SchedulerSpec(), kvTransfer: connector.map { KVTransferSpec(connector: $0) })))
        }
        // Decode below prefill: prefill is refused with the numbers and both ways out.
        let narrow = plan(prefillTP: 4, decodeTP: 2)
        #expect(narrow.prefill.problem?.reason == "TensorParallelMismatch")
        #expect(narrow.prefill.problem?.message.contains("decode's tensor-parallel size 2 is below prefill's 4") == true)
        #expect(narrow.decode.plan != nil)
        #expect(plan(prefillTP: 2, decodeTP: 4).problems.isEmpty)
        #expect(plan(prefillTP: 2, decodeTP: 2).problems.isEmpty)
        // MLA models are exempt (DeepSeek-V3 on 8 H200s each way would fit; the rule alone matters).
        let mla = plan(prefillTP: 8, decodeTP: 4, model: "deepseek-ai/DeepSeek-V3")
        #expect(mla.prefill.problem?.reason != "TensorParallelMismatch")
        // Mooncake needs equal sizes; the routing sidecar does not speak it, so the router is refused.
        let mooncake = plan(prefillTP: 2, decodeTP: 4, connector: "MooncakeConnector")
        #expect(mooncake.prefill.problem?.reason == "TensorParallelMismatch")
        #expect(mooncake.prefill.problem?.message.contains("MooncakeConnector needs the same tensor-parallel size") == true)
        guard case .failure(let problem)? = mooncake.router else {
            Issue.record("a MooncakeConnector pool's router was planned")
            return
        }
        #expect(problem.reason == "UnsupportedConnector")
        #expect(mooncake.decode.plan?.router == nil, "decode pods got a sidecar that cannot carry the connector")
        #expect(plan(prefillTP: 2, decodeTP: 2, connector: "MooncakeConnector").prefill.problem == nil)
    }
}
