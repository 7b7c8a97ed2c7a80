import Foundation
import KubeCore
import KubeTestSupport
import Testing

@testable import TandemAPI

/// The repository root, found from this file.
/// The checkout's root (test support finds it for every test target).
let repositoryRoot = URL(fileURLWithPath: Script.projectRoot)

func example(_ name: String) throws -> String {
    try String(contentsOf: repositoryRoot.appendingPathComponent("examples/\(name)"), encoding: .utf8)
}

@Suite("CRD generation")
struct CRDTests {
    @Test func committedCRDMatchesTheGenerator() throws {
        for crd in try CRDGenerator.all() {
            let path = repositoryRoot.appendingPathComponent("crds/\(CRDGenerator.fileName(of: crd))")
            let committed = try String(contentsOf: path, encoding: .utf8)
            #expect(committed == (try CRDGenerator.yaml(crd)),
                    "crds/\(CRDGenerator.fileName(of: crd)) is stale: run `swift run tandem crds --output crds`")
        }
    }

    @Test func namesColumnsAndSubresources() throws {
        let crd = try CRDGenerator.inferencePool()
        #expect(crd.metadata.name == "inferencepools.inference.x-k8s.io")
        #expect(crd.spec?.names?.shortNames == ["ipool"])
        #expect(crd.spec?.names?.categories == ["inference"])
        let version = try #require(crd.spec?.versions?.first)
        #expect(version.subresources == ["status": [:]])
        let columns = version.additionalPrinterColumns?.arrayValue?.compactMap { $0["name"]?.stringValue }
        #expect(columns == ["Model", "Accelerator", "Prefill", "Decode", "Ready", "Age"])
        let spec = version.schema?["openAPIV3Schema"]?["properties"]?["spec"]
        #expect(spec?["required"] == ["model"])
        #expect(spec?["properties"]?["engine"]?["enum"] == ["vllm", "sglang"])
        #expect(spec?["properties"]?["decodeConfig"]?["properties"]?["autoscaling"]?["properties"]?["mode"]?["enum"]
                == ["Disabled", "Operator", "External"])
        #expect(spec?["properties"]?["prefillConfig"]?["properties"]?["replicas"]?["minimum"] == 0)
    }

    @Test func generationIsDeterministic() throws {
        #expect(try CRDGenerator.yaml(CRDGenerator.inferencePool()) == (try CRDGenerator.yaml(CRDGenerator.inferencePool())))
    }
}

@Suite("Schema and types stay in step")
struct SchemaDriftTests {
    /// A pool with every field set.
    static let everything: InferencePool = {
        let pod = PodOverrides(
            env: [EnvVar(name: "A", value: "1")], envFrom: [["secretRef": ["name": "hf"]]],
            volumes: [Volume(name: "cache", persistentVolumeClaim: PersistentVolumeClaimVolumeSource(claimName: "c"))],
            volumeMounts: [VolumeMount(name: "cache", mountPath: "/cache")], nodeSelector: ["pool": "gpu"],
            tolerations: [Toleration(key: "k", operator: "Exists")], affinity: ["nodeAffinity": [:]],
            priorityClassName: "high", imagePullSecrets: [LocalObjectReference(name: "pull")],
            serviceAccountName: "sa", podAnnotations: ["a": "b"], podLabels: ["team": "x"])
        let scaling = AutoscalingSpec(
            mode: .operator, minReplicas: 1, maxReplicas: 4,
            target: ScalingTarget(waitingRequestsPerReplica: 4, kvCacheUtilization: 0.8, runningRequestsPerReplica: 100,
                                 inFlightRequestsPerReplica: 2),
            behavior: ScalingBehavior(scaleUp: ScalingRules(stabilizationSeconds: 0, maxReplicasPerStep: 4, periodSeconds: 15),
                                      scaleDown: ScalingRules(stabilizationSeconds: 300, maxReplicasPerStep: 1, periodSeconds: 60)))
        let tier = TierConfig(replicas: 2, resources: ["nvidia.com/gpu": "2"], vllmArgs: ["--x"], accelerator: "nvidia-h100",
                              autoscaling: scaling, pod: pod)
        let spec = InferencePoolSpec(
            model: "m", accelerator: "nvidia-h200", engine: .vllm, image: "i",
            modelProfile: ModelProfileSpec(parameters: 1, layers: 1, attentionHeads: 1, kvHeads: 1, headDim: 1, dtype: "fp8",
                                           maxContextLength: 10, hiddenSize: 1),
            prefillConfig: tier, decodeConfig: tier, ratio: RatioSpec(minPrefillPerDecode: 0.25, maxPrefillPerDecode: 2),
            scheduler: SchedulerSpec(enableCacheAwareRouting: true, enableLoadBalancing: true, disaggregationThreshold: 100),
            kvTransfer: KVTransferSpec(connector: "NixlConnector"), pod: pod)
        let tierStatus = TierStatus(
            replicas: 1, readyReplicas: 1, desiredReplicas: 1, ready: "1/1", accelerator: "a", gpusPerReplica: 1,
            tensorParallelSize: 1, maxModelLen: 1, kvCacheTokens: 1,
            metrics: TierMetrics(waitingRequests: 1, runningRequests: 1, kvCacheUtilization: 0.5),
            lastScaleTime: KubeTime(Date(timeIntervalSince1970: 0)), selector: "s")
        let status = InferencePoolStatus(
            observedGeneration: 1,
            conditions: [Condition(type: "Ready", status: .true, reason: "R", message: "m", observedGeneration: 1,
                                   lastTransitionTime: KubeTime(Date(timeIntervalSince1970: 0)))],
            accelerator: "a", prefill: tierStatus, decode: tierStatus,
            scalingHistory: [ScalingRecord(time: KubeTime(Date(timeIntervalSince1970: 0)), tier: .decode, from: 1, to: 2, reason: "r")])
        return InferencePool(metadata: ObjectMeta(name: "p", namespace: "n"), spec: spec, status: status)
    }()

    @Test func everyEncodedFieldIsInTheSchema() throws {
        let tree = try JSONValue(encoding: Self.everything)
        #expect(InferencePool.schema.unknownFields(in: tree) == [])
    }

    @Test func everySchemaFieldIsEncoded() throws {
        // The converse: each declared property appears when everything is set.
        let tree = try JSONValue(encoding: Self.everything)
        func missing(_ schema: Schema, _ value: JSONValue?, _ path: String) -> [String] {
            guard let properties = schema.properties, let value else { return [] }
            return properties.sorted { $0.key < $1.key }.flatMap { key, child -> [String] in
                let member = value[key]
                if member == nil { return ["\(path).\(key)"] }
                if let items = child.items, let first = member?.arrayValue?.first { return missing(items, first, "\(path).\(key)[0]") }
                return missing(child, member, "\(path).\(key)")
            }
        }
        #expect(missing(InferencePool.schema, tree, "").filter { !$0.hasPrefix(".metadata") } == [])
    }

    @Test func roundTrip() throws {
        let data = try KubeJSON.encode(Self.everything)
        #expect(try KubeJSON.decode(InferencePool.self, from: data) == Self.everything)
    }
}

@Suite("Manifests")
struct ManifestTests {
    @Test func seedManifestLoadsWithEveryField() throws {
        let pools = try Manifest.pools(from: example("seed-llm-d-deployment.yaml"))
        let pool = try #require(pools.first)
        #expect(pools.count == 1)
        #expect(pool.metadata.name == "llama-70b-disaggregated")
        let spec = try #require(pool.spec)
        #expect(spec.model == "meta-llama/Meta-Llama-3.1-70B-Instruct")
        #expect(spec.prefillConfig?.replicas == 3)
        #expect(spec.prefillConfig?.resources?["nvidia.com/gpu"] == Quantity(2))
        #expect(spec.prefillConfig?.vllmArgs == ["--dtype=bfloat16", "--tensor-parallel-size=2", "--max-model-len=8192", "--disable-log-requests"])
        #expect(spec.decodeConfig?.replicas == 6)
        #expect(spec.decodeConfig?.explicitDevices?.count == 1)
        #expect(spec.scheduler == SchedulerSpec(enableCacheAwareRouting: true, enableLoadBalancing: true, disaggregationThreshold: 100))
        #expect(spec.validate() == [])
    }

    @Test(arguments: ["llama-8b-small.yaml", "llama-70b-autoscaling.yaml", "qwen-72b-amd.yaml", "llama-8b-tpu.yaml"])
    func examplesLoadAndValidate(file: String) throws {
        let pools = try Manifest.pools(from: example(file))
        #expect(pools.count == 1)
        #expect(pools.first?.spec?.validate() == [])
    }

    @Test func unknownFieldsWrongKindsAndMissingModelAreReported() {
        let typo = """
            apiVersion: inference.x-k8s.io/v1alpha1
            kind: InferencePool
            metadata: {name: x}
            spec:
              model: m
              prefilConfig: {replicas: 1}
              decodeConfig: {replicaz: 2}
            """
        #expect { try Manifest.pools(from: typo) } throws: {
            "\($0)".contains("spec.prefilConfig") && "\($0)".contains("spec.decodeConfig.replicaz")
        }
        #expect { try Manifest.pools(from: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n") } throws: {
            "\($0)".contains("v1/ConfigMap")
        }
        #expect { try Manifest.pools(from: "apiVersion: inference.x-k8s.io/v1alpha1\nkind: InferencePool\nspec: {}\n") } throws: {
            "\($0)".contains("spec.model is required")
        }
        #expect { try Manifest.pools(from: "apiVersion: inference.x-k8s.io/v1alpha1\nkind: InferencePool\nspec: {model: m, decodeConfig: {replicas: many}}\n") } throws: {
            "\($0)".contains("decodeConfig.replicas")
        }
    }

    @Test func multiDocumentManifests() throws {
        let text = try example("llama-8b-small.yaml") + "\n---\n" + example("qwen-72b-amd.yaml") + "\n---\n"
        #expect(try Manifest.pools(from: text).compactMap(\.metadata.name) == ["llama-8b", "qwen-72b-mi300x"])
    }
}

@Suite("Validation beyond the schema")
struct ValidationTests {
    func errors(_ edit: (inout InferencePoolSpec) -> Void) -> [String] {
        var spec = InferencePoolSpec(model: "meta-llama/Llama-3.1-8B-Instruct", decodeConfig: TierConfig(replicas: 1))
        edit(&spec)
        return spec.validate().map(\.description)
    }

    @Test func validSpecHasNoErrors() {
        #expect(errors { _ in }.isEmpty)
    }

    @Test func crossFieldRules() {
        #expect(errors { $0.model = "not a model" }.first?.hasPrefix("spec.model") == true)
        #expect(errors { $0.ratio = RatioSpec(minPrefillPerDecode: 2, maxPrefillPerDecode: 1) } == ["spec.ratio: minPrefillPerDecode 2.0 is above maxPrefillPerDecode 1.0"])
        #expect(errors { $0.decodeConfig?.autoscaling = AutoscalingSpec(mode: .operator, minReplicas: 5, maxReplicas: 2) }
                == ["spec.decodeConfig.autoscaling: minReplicas 5 is above maxReplicas 2"])
        #expect(errors { $0.decodeConfig?.autoscaling = AutoscalingSpec(mode: .operator, minReplicas: 0, maxReplicas: 2) }
                .contains { $0.contains("decode needs at least 1 replica") })
        #expect(errors { $0.prefillConfig = TierConfig(autoscaling: AutoscalingSpec(mode: .operator, minReplicas: 0, maxReplicas: 2)) }.isEmpty)
        #expect(errors { $0.engine = .sglang }.first?.contains("not supported yet") == true)
    }

    @Test func flagsAndResources() {
        #expect(errors { $0.decodeConfig?.vllmArgs = ["--model=other"] } == ["spec.decodeConfig.vllmArgs[0]: --model cannot be set here: set spec.model instead"])
        #expect(errors { $0.decodeConfig?.vllmArgs = ["--served_model_name=x"] }.first?.contains("--served-model-name") == true)
        #expect(errors { $0.decodeConfig?.resources = ["nvidia.com/gpu": "1.5"] } == ["spec.decodeConfig.resources[nvidia.com/gpu]: 1.5 is not a whole number of devices"])
        #expect(errors { $0.decodeConfig?.resources = ["memory": "-1Gi"] } == ["spec.decodeConfig.resources[memory]: -1Gi is negative"])
    }

    @Test func podPassThrough() {
        #expect(errors { $0.pod.volumeMounts = [VolumeMount(name: "nope", mountPath: "/x")] }
                == ["spec.prefillConfig.volumeMounts[0]: mounts volume \"nope\", which no volume of the pod defines",
                    "spec.decodeConfig.volumeMounts[0]: mounts volume \"nope\", which no volume of the pod defines"])
        // A tier mounting a pool-wide volume is fine.
        let poolWideVolume = errors {
            $0.pod.volumes = [Volume(name: "cache", emptyDir: EmptyDirVolumeSource())]
            $0.decodeConfig?.pod.volumeMounts = [VolumeMount(name: "cache", mountPath: "/cache")]
        }
        #expect(poolWideVolume.isEmpty)
        #expect(errors { $0.pod.podLabels = ["llm-d.ai/role": "both"] } == ["spec.podLabels[llm-d.ai/role]: this label is Tandem's own and cannot be overridden"])
        #expect(errors { $0.decodeConfig?.pod.env = [EnvVar(name: "")] } == ["spec.decodeConfig.env[0].name: an environment variable needs a name"])
    }

    @Test func tierOverlay() {
        let pool = PodOverrides(env: [EnvVar(name: "A")], nodeSelector: ["a": "1", "b": "1"], podLabels: ["x": "1"])
        let tier = PodOverrides(env: [EnvVar(name: "B")], nodeSelector: ["b": "2"])
        let merged = pool.overlaid(with: tier)
        #expect(merged.env == [EnvVar(name: "B")])
        #expect(merged.nodeSelector == ["a": "1", "b": "2"])
        #expect(merged.podLabels == ["x": "1"])
    }
}
