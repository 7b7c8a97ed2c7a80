import Foundation
import KubeCore
import KubeTestSupport
import Rendering
import Sizing
import TandemAPI
import Testing

/// The checkout's root (test support finds it for every test target).
let repositoryRoot = URL(fileURLWithPath: Script.projectRoot)

/// What `tandem render -f examples/FILE` prints for a pool (stdout) and says (stderr).
func render(_ file: String, accelerator: String? = nil) throws -> (yaml: String, problems: [String]) {
    let text = try String(contentsOf: repositoryRoot.appendingPathComponent("examples/\(file)"), encoding: .utf8)
    var output = ""
    var problems: [String] = []
    for var pool in try Manifest.pools(from: text) {
        if pool.metadata.namespace == nil { pool.metadata.namespace = "default" }
        if let accelerator, pool.spec?.accelerator == nil { pool.spec?.accelerator = accelerator }
        let plan = PoolPlanner().plan(pool)
        problems += plan.problems.map { "\($0.tier.rawValue): \($0.reason)" } + plan.warnings.map { "\($0.tier.rawValue): \($0.reason)" }
        output += try YAMLOutput.children(Renderer.render(pool: pool, plans: plan.plans, owner: nil, router: plan.routerPlan))
    }
    return (output, problems)
}

@Suite("Rendering golden files")
struct GoldenTests {
    /// Examples and the accelerator `tandem render` is told when the pool names none.
    static let cases: [(file: String, accelerator: String?)] = [
        ("seed-llm-d-deployment.yaml", "nvidia-h200"), ("llama-8b-small.yaml", nil), ("llama-70b-autoscaling.yaml", nil),
        ("qwen-72b-amd.yaml", nil), ("llama-8b-tpu.yaml", nil),
    ]

    @Test(arguments: cases.map(\.file))
    func renderMatchesGolden(file: String) throws {
        let accelerator = Self.cases.first { $0.file == file }?.accelerator
        let (yaml, _) = try render(file, accelerator: accelerator)
        let golden = repositoryRoot.appendingPathComponent("Tests/RenderingTests/Golden/\(file)")
        if ProcessInfo.processInfo.environment["TANDEM_UPDATE_GOLDEN"] == "1" {
            try yaml.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(yaml == expected, "render of \(file) differs from Golden/\(file); if intended, rerun with TANDEM_UPDATE_GOLDEN=1")
    }

    @Test func renderingIsByteIdenticalAcrossRuns() throws {
        for (file, accelerator) in Self.cases {
            #expect(try render(file, accelerator: accelerator).yaml == (try render(file, accelerator: accelerator).yaml))
        }
    }

    @Test func seedPlan() throws {
        let (yaml, problems) = try render("seed-llm-d-deployment.yaml", accelerator: "nvidia-h200")
        #expect(problems == ["decode: ModelDoesNotFit", "prefill: EngineFlagRemoved"])
        #expect(yaml.contains("name: llama-70b-disaggregated-prefill"))
        #expect(!yaml.contains("name: llama-70b-disaggregated-decode"))
        #expect(yaml.contains("replicas: 0"))
        #expect(yaml.contains("nvidia.com/gpu: '2'"))
        #expect(yaml.contains("--tensor-parallel-size=2"))
        #expect(!yaml.contains("--disable-log-requests"))
    }
}

@Suite("Rendering rules")
struct RenderingRuleTests {
    func pool(_ name: String = "p", spec: InferencePoolSpec) -> InferencePool {
        InferencePool(metadata: ObjectMeta(name: name, namespace: "ns"), spec: spec)
    }

    @Test func childNamesFitKubernetesLimitsForAnyValidPoolName() {
        let long = String(repeating: "a", count: 200) + ".example.v2"
        for tier in TierName.allCases {
            let name = ChildNames.tier(long, tier)
            #expect(name.count <= 63)
            #expect(name.hasSuffix("-\(tier.rawValue)"))
            #expect(!name.contains("."))
            #expect(name.first!.isLetter)
        }
        #expect(ChildNames.tier(long, .decode) == ChildNames.tier(long, .decode), "stable")
        #expect(ChildNames.tier(long, .decode) != ChildNames.tier(long + "x", .decode), "distinct pools stay distinct")
        #expect(ChildNames.tier("llama", .prefill) == "llama-prefill")
        #expect(ChildNames.tier("llama.v2", .decode) == "llama-v2-decode")
        #expect(ChildNames.poolLabel(long).count <= 63)
        #expect(ChildNames.poolLabel("short") == "short")
    }

    @Test func userFlagsWinWithoutDuplicates() throws {
        var spec = InferencePoolSpec(model: "meta-llama/Llama-3.1-8B-Instruct", accelerator: "nvidia-h100")
        spec.decodeConfig = TierConfig(vllmArgs: ["--max-num-seqs=7", "--kv-transfer-config={\"kv_connector\":\"LMCacheConnectorV1\",\"kv_role\":\"kv_both\"}"])
        let plan = PoolPlanner().plan(pool(spec: spec))
        let args = try #require(plan.decode.plan?.args)
        #expect(args.filter { $0.hasPrefix("--max-num-seqs") } == ["--max-num-seqs=7"])
        #expect(args.filter { $0.hasPrefix("--kv-transfer-config") }.count == 1)
        #expect(args.contains { $0.contains("LMCacheConnectorV1") })
        let prefillArgs = try #require(plan.prefill.plan?.args)
        #expect(prefillArgs.contains(#"--kv-transfer-config={"kv_connector":"NixlConnector","kv_role":"kv_producer"}"#))
    }

    @Test func passThroughAndPlacement() throws {
        var spec = InferencePoolSpec(model: "meta-llama/Llama-3.1-8B-Instruct", accelerator: "nvidia-h100")
        spec.pod = PodOverrides(env: [EnvVar(name: "VLLM_NIXL_SIDE_CHANNEL_HOST", value: "override")],
                                volumes: [Volume(name: "cache", persistentVolumeClaim: PersistentVolumeClaimVolumeSource(claimName: "c"))],
                                volumeMounts: [VolumeMount(name: "cache", mountPath: "/cache")],
                                nodeSelector: ["zone": "a"], tolerations: [Toleration(key: "dedicated", operator: "Exists")],
                                affinity: ["podAntiAffinity": [:]], priorityClassName: "inference",
                                serviceAccountName: "serving", podAnnotations: ["a": "b"], podLabels: ["team": "ml"])
        spec.decodeConfig = TierConfig(resources: ["memory": "100Gi"], pod: PodOverrides(nodeSelector: ["zone": "b"]))
        let pool = pool(spec: spec)
        let children = try Renderer.render(pool: pool, plans: PoolPlanner().plan(pool).plans, owner: nil)
        let decode = try #require(children.deployments.first { $0.metadata.name == "p-decode" })
        let podSpec = try #require(decode.spec?.template?.spec)
        let container = try #require(podSpec.containers?.first)
        #expect(container.env?.filter { $0.name == "VLLM_NIXL_SIDE_CHANNEL_HOST" } == [EnvVar(name: "VLLM_NIXL_SIDE_CHANNEL_HOST", value: "override")])
        #expect(container.volumeMounts?.map(\.mountPath) == ["/dev/shm", "/cache"])
        #expect(podSpec.volumes?.map(\.name) == ["dshm", "cache"])
        #expect(podSpec.nodeSelector?["zone"] == "b")
        #expect(podSpec.nodeSelector?["nvidia.com/gpu.product"] != nil)
        #expect(podSpec.tolerations?.map(\.key) == ["nvidia.com/gpu", "dedicated"])
        #expect(podSpec.priorityClassName == "inference")
        #expect(podSpec.serviceAccountName == "serving")
        #expect(decode.spec?.template?.metadata?.labels?["team"] == "ml")
        #expect(decode.spec?.template?.metadata?.labels?["llm-d.ai/role"] == "decode")
        #expect(container.resources?.requests?["memory"] == "100Gi")
        #expect(container.resources?.limits?["memory"] == "100Gi")
        #expect(decode.spec?.strategy?.rollingUpdate?.maxSurge == .int(0))
        #expect(container.ports?.first?.name == "metrics")
        #expect(container.startupProbe?.httpGet?.path == "/v1/models")
        #expect(container.livenessProbe?.httpGet?.path == "/health")
        let service = try #require(children.services.first { $0.metadata.name == "p-decode" })
        #expect(service.spec?.selector == ["inference.x-k8s.io/pool": "p", "inference.x-k8s.io/role": "decode"])
    }

    @Test func autoscaledTiersLeaveReplicasOut() throws {
        let pools = try Manifest.pools(from: String(contentsOf: repositoryRoot.appendingPathComponent("examples/llama-70b-autoscaling.yaml"), encoding: .utf8))
        let plan = PoolPlanner().plan(pools[0])
        #expect(plan.decode.plan?.replicas == nil)
        #expect(plan.prefill.plan?.replicas == nil)
    }

    @Test func acceleratorInferredFromNodesOrReportedUnknown() {
        let spec = InferencePoolSpec(model: "meta-llama/Llama-3.1-8B-Instruct")
        let inferred = PoolPlanner(nodeLabels: [["nvidia.com/gpu.product": "NVIDIA-H200"], ["kubernetes.io/os": "linux"]]).plan(pool(spec: spec))
        #expect(inferred.accelerators[.decode]?.accelerator?.name == "nvidia-h200")
        let mixed = PoolPlanner(nodeLabels: [["nvidia.com/gpu.product": "NVIDIA-H200"], ["nvidia.com/gpu.product": "NVIDIA-L4"]]).plan(pool(spec: spec))
        guard case .unknown(let why)? = mixed.accelerators[.decode] else {
            Issue.record("disagreeing nodes should leave the accelerator unknown")
            return
        }
        #expect(why.contains("disagree"))
        #expect(mixed.decode.sizing?.memoryChecked == false)
        var named = spec
        named.accelerator = "nvidia-x9000"
        #expect(PoolPlanner().plan(pool(spec: named)).decode.problem?.reason == "UnknownAccelerator")
        var unknownModel = spec
        unknownModel.model = "acme/secret-model"
        #expect(PoolPlanner().plan(pool(spec: unknownModel)).decode.problem?.reason == "UnknownModel")
    }
}
