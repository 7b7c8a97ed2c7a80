import KubeCore

/// The schema of every API type, declared beside the types. `SchemaDriftTests` encodes a fully
/// populated pool and checks that every field it writes is in this schema, so the two cannot
/// drift apart silently.
extension InferencePool {
    /// `openAPIV3Schema` of the CRD.
    public static var schema: Schema {
        .object(
            "InferencePool serves one model with a prefill tier and a decode tier that Tandem sizes, deploys and scales.",
            [
                "apiVersion": .string(), "kind": .string(), "metadata": Schema(type: "object"),
                "spec": InferencePoolSpec.schema, "status": InferencePoolStatus.schema,
            ])
    }
}

extension InferencePoolSpec {
    static var schema: Schema {
        var properties: [String: Schema] = [
            "model": .string(
                "Hugging Face model id; becomes --model and --served-model-name.", minLength: 1, maxLength: 256),
            "accelerator": .string(
                "Accelerator catalog name (nvidia-h200, amd-mi300x, google-tpu-v6e, ...); absent: inferred from the GPU nodes' labels.",
                maxLength: 63),
            "engine": .string("Model server engine.", enum: Engine.allCases.map(\.rawValue)),
            "image": .string("Model server image; absent: the engine's pinned default.", maxLength: 512),
            "modelProfile": ModelProfileSpec.schema,
            "prefillConfig": TierConfig.schema("Prefill tier: processes prompts and hands the KV cache to decode."),
            "decodeConfig": TierConfig.schema("Decode tier: generates tokens from the transferred KV cache."),
            "ratio": .object("Keeps prefill replicas within [min x decode, max x decode] while autoscaling.", [
                "minPrefillPerDecode": .number(minimum: 0, maximum: 100),
                "maxPrefillPerDecode": .number(minimum: 0, maximum: 100),
            ]),
            "scheduler": .object("llm-d endpoint picker settings.", [
                "enableCacheAwareRouting": .boolean("Score endpoints by prefix-cache hits."),
                "enableLoadBalancing": .boolean("Score endpoints by queue depth and KV-cache utilisation."),
                "disaggregationThreshold": .integer(
                    "Prompts with at least this many uncached tokens are prefilled on the prefill tier; 0 never disaggregates.",
                    minimum: 0, maximum: 1_048_576),
            ]),
            "kvTransfer": .object("How KV caches move from prefill to decode.", [
                "connector": .string("vLLM KV connector (NixlConnector, LMCacheConnectorV1, MooncakeConnector, ...).",
                                     minLength: 1, maxLength: 63)
            ]),
        ]
        properties.merge(PodOverrides.schemaProperties) { own, _ in own }
        return .object("Desired state of the pool.", required: ["model"], properties)
    }
}

extension ModelProfileSpec {
    static var schema: Schema {
        .object(
            "Shape of a model not in the built-in catalog.",
            required: ["parameters", "layers", "attentionHeads", "kvHeads", "headDim"],
            [
                "parameters": .integer("Count of weights.", format: "int64", minimum: 1),
                "layers": .integer(minimum: 1, maximum: 1024),
                "attentionHeads": .integer(minimum: 1, maximum: 1024),
                "kvHeads": .integer(minimum: 1, maximum: 1024),
                "headDim": .integer(minimum: 1, maximum: 4096),
                "dtype": .string("Weight data type.", enum: ["bfloat16", "float16", "fp8", "int4"]),
                "maxContextLength": .integer("The model's own context limit.", minimum: 1),
                "hiddenSize": .integer(minimum: 1),
            ])
    }
}

extension TierConfig {
    static func schema(_ description: String) -> Schema {
        var properties: [String: Schema] = [
            "replicas": .integer("Replicas while autoscaling is not Operator.", minimum: 0, maximum: 10_000),
            "resources": .map("Per-replica resources, requests = limits (nvidia.com/gpu: \"2\").", of: .quantity()),
            "vllmArgs": .array("Extra model-server flags; they win over derived ones.", of: .string(maxLength: 4096), maxItems: 256),
            "accelerator": .string("This tier's accelerator, overriding the pool's.", maxLength: 63),
            "autoscaling": AutoscalingSpec.schema,
        ]
        properties.merge(PodOverrides.schemaProperties) { own, _ in own }
        return .object(description, properties)
    }
}

extension AutoscalingSpec {
    static var schema: Schema {
        .object("How the tier's replica count is set.", [
            "mode": .string(
                "Disabled: spec replicas. Operator: Tandem scales from model-server metrics. External: an HPA or KEDA does.",
                enum: AutoscalingMode.allCases.map(\.rawValue)),
            "minReplicas": .integer("Prefill may be 0 (scale to zero); decode at least 1.", minimum: 0, maximum: 10_000),
            "maxReplicas": .integer(minimum: 1, maximum: 10_000),
            "target": .object("Per-replica signal values to hold.", [
                "waitingRequestsPerReplica": .number(minimum: 0, exclusiveMinimum: true),
                "kvCacheUtilization": .number(minimum: 0, maximum: 1, exclusiveMinimum: true),
                "runningRequestsPerReplica": .number(minimum: 0, exclusiveMinimum: true),
                "inFlightRequestsPerReplica": .number(minimum: 0, exclusiveMinimum: true),
            ]),
            "behavior": .object("Stabilisation and rate limits.", [
                "scaleUp": ScalingRules.schema, "scaleDown": ScalingRules.schema,
            ]),
        ])
    }
}

extension ScalingRules {
    static var schema: Schema {
        .object([
            "stabilizationSeconds": .integer(minimum: 0, maximum: 3600),
            "maxReplicasPerStep": .integer(minimum: 1, maximum: 10_000),
            "periodSeconds": .integer(minimum: 1, maximum: 1800),
        ])
    }
}

extension PodOverrides {
    static var schemaProperties: [String: Schema] {
        let named = Schema.object(required: ["name"], ["name": .string(minLength: 1)])
        return [
            "env": .array("Container environment.", of: envVar),
            "envFrom": .array("Environment from ConfigMaps or Secrets (e.g. HF_TOKEN).", of: .passThrough()),
            "volumes": .array("Pod volumes (e.g. a model-cache PVC).", of: volume),
            "volumeMounts": .array("Container volume mounts.", of: volumeMount),
            "nodeSelector": .map(of: .string()),
            "tolerations": .array(of: toleration),
            "affinity": .passThrough("corev1.Affinity."),
            "priorityClassName": .string(maxLength: 253),
            "imagePullSecrets": .array(of: named),
            "serviceAccountName": .string(maxLength: 253),
            "podAnnotations": .map(of: .string()),
            "podLabels": .map(of: .string()),
        ]
    }

    /// corev1.EnvVar: `value` is a string (`value: 1` is refused; quote it).
    static var envVar: Schema {
        .object(required: ["name"], [
            "name": .string(minLength: 1),
            "value": .string("Quote numbers and booleans: \"1\", \"true\"."),
            "valueFrom": .passThrough("corev1.EnvVarSource (configMapKeyRef, secretKeyRef, fieldRef, resourceFieldRef)."),
        ])
    }

    /// corev1.Toleration (`tolerationSeconds` is an integer, not a string).
    static var toleration: Schema {
        .object([
            "key": .string(maxLength: 316),
            "operator": .string(enum: ["Exists", "Equal"]),
            "value": .string(maxLength: 63),
            "effect": .string(enum: ["", "NoSchedule", "PreferNoSchedule", "NoExecute"]),
            "tolerationSeconds": .integer(format: "int64"),
        ])
    }

    /// corev1.Volume: the sources Tandem reads are typed; other sources pass through.
    static var volume: Schema {
        var schema = Schema.object(required: ["name"], [
            "name": .string(minLength: 1, maxLength: 63),
            "emptyDir": .object(["medium": .string(), "sizeLimit": .quantity()]),
            "configMap": .passThrough("corev1.ConfigMapVolumeSource.").with(properties: [
                "name": .string(), "defaultMode": .integer(minimum: 0, maximum: 511), "optional": .boolean(),
            ]),
            "persistentVolumeClaim": .object(required: ["claimName"], [
                "claimName": .string(minLength: 1), "readOnly": .boolean(),
            ]),
            "secret": .passThrough("corev1.SecretVolumeSource."),
        ])
        schema.preserveUnknownFields = true
        return schema
    }

    /// corev1.VolumeMount.
    static var volumeMount: Schema {
        var schema = Schema.object(required: ["name", "mountPath"], [
            "name": .string(minLength: 1),
            "mountPath": .string(minLength: 1),
            "readOnly": .boolean(),
            "subPath": .string(),
        ])
        schema.preserveUnknownFields = true
        return schema
    }
}

extension InferencePoolStatus {
    static var schema: Schema {
        let tier = Schema.object([
            "replicas": .integer(), "readyReplicas": .integer(), "desiredReplicas": .integer(),
            "ready": .string("ready/desired"), "accelerator": .string(), "gpusPerReplica": .integer(),
            "tensorParallelSize": .integer(), "maxModelLen": .integer(),
            "kvCacheTokens": .integer(format: "int64"),
            "metrics": .object([
                "waitingRequests": .number(), "runningRequests": .number(), "kvCacheUtilization": .number(),
            ]),
            "lastScaleTime": Schema.string().formatted("date-time"),
            "selector": .string(),
        ])
        let condition = Schema.object(
            required: ["type", "status", "reason", "message"],
            [
                "type": .string(), "status": .string(enum: ["True", "False", "Unknown"]),
                "observedGeneration": .integer(format: "int64"), "lastTransitionTime": Schema.string().formatted("date-time"),
                "reason": .string(), "message": .string(),
            ])
        return .object("Observed state of the pool.", [
            "observedGeneration": .integer(format: "int64"),
            // Keyed by type: the reconciler and the autoscaler each own their conditions.
            "conditions": Schema.array(of: condition).listMap(keys: ["type"]),
            "accelerator": .string(),
            "acceleratorResolution": .object(["inferred": .string(), "generation": .integer(format: "int64")]),
            "prefill": tier, "decode": tier,
            "scalingHistory": .array(of: .object([
                "time": Schema.string().formatted("date-time"), "tier": .string(enum: TierName.allCases.map(\.rawValue)),
                "from": .integer(), "to": .integer(), "reason": .string(),
            ])),
        ])
    }
}

extension Schema {
    func with(properties: [String: Schema]) -> Schema {
        var copy = self
        copy.properties = (copy.properties ?? [:]).merging(properties) { _, new in new }
        return copy
    }

    func formatted(_ format: String) -> Schema {
        var copy = self
        copy.format = format
        return copy
    }
}
