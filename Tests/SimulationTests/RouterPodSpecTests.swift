import KubeCore
import Simulation
import Testing

/// The emulated router and sidecar read pod specs as llm-d's binaries read their flags and files.
@Suite("Router pod specs")
struct RouterPodSpecTests {
    static let vllm = Container(name: "vllm", args: ["--model=meta-llama/Llama-3.1-8B-Instruct", "--port=8200"],
                                ports: [ContainerPort(name: "metrics", containerPort: 8200)])

    @Test func endpointPickerFlagsAndMountedConfig() throws {
        var pod = Pod(metadata: ObjectMeta(name: "chat-epp-1", namespace: "ns", labels: ["app.kubernetes.io/component": "endpoint-picker"]))
        pod.spec = PodSpec(containers: [Container(
            name: "epp", args: ["--pool-name", "chat", "--pool-namespace", "ns", "--config-file", "/etc/epp/epp-config.yaml", "--metrics-port=9191"],
            volumeMounts: [VolumeMount(name: "epp-config", mountPath: "/etc/epp")])])
        pod.spec?.volumes = [Volume(name: "epp-config", configMap: ConfigMapVolumeSource(name: "chat-epp"))]
        #expect(EndpointPickerPod.isEndpointPicker(pod))
        let read = try EndpointPickerPod(pod)
        #expect(read.poolName == "chat" && read.poolNamespace == "ns" && read.poolGroup == "inference.networking.k8s.io")
        #expect(read.configMap == "chat-epp" && read.configKey == "epp-config.yaml")
        #expect(read.metricsPort == 9191 && read.grpcPort == 9002 && read.grpcHealthPort == 9003)

        // A file mounted on its own (subPath) names its key.
        pod.spec?.containers?[0].volumeMounts = [VolumeMount(name: "epp-config", mountPath: "/etc/epp/epp-config.yaml", subPath: "config")]
        #expect(try EndpointPickerPod(pod).configKey == "config")

        pod.spec?.volumes = [Volume(name: "epp-config", emptyDir: EmptyDirVolumeSource())]
        #expect { try EndpointPickerPod(pod) } throws: { "\($0)".contains("not a ConfigMap volume") }
        pod.spec?.containers?[0].args = ["--config-file", "/etc/epp/epp-config.yaml"]
        #expect { try EndpointPickerPod(pod) } throws: { "\($0)".contains("no --pool-name") }
        #expect(!EndpointPickerPod.isEndpointPicker(Pod(metadata: ObjectMeta(name: "v"), spec: PodSpec(containers: [Self.vllm]))))
    }

    @Test func routingSidecarAsAContainerOrANativeSidecar() throws {
        var decode = Pod(metadata: ObjectMeta(name: "d", namespace: "ns"))
        let sidecar = Container(name: "routing-sidecar", args: ["--port=8000", "--vllm-port=8200", "--connector=nixlv2"])
        // Kubernetes < 1.29: a plain container.
        decode.spec = PodSpec(containers: [Self.vllm, sidecar])
        #expect(try RoutingSidecarSpec.find(in: decode) == RoutingSidecarSpec(port: 8000, vllmPort: 8200, connector: "nixlv2"))
        // ≥ 1.29: an init container with restartPolicy Always.
        decode.spec = PodSpec(containers: [Self.vllm], initContainers: [sidecar])
        #expect(try RoutingSidecarSpec.find(in: decode)?.vllmPort == 8200)
        decode.spec?.initContainers?[0].args = ["--port", "8000", "--vllm-port", "8200", "--connector", "carrier-pigeon"]
        #expect { try RoutingSidecarSpec.find(in: decode) } throws: { "\($0)".contains("carrier-pigeon") }
        decode.spec?.initContainers?[0].args = ["--port=8200", "--vllm-port=8200"]
        #expect { try RoutingSidecarSpec.find(in: decode) } throws: { "\($0)".contains("both 8200") }
        decode.spec = PodSpec(containers: [Self.vllm])
        #expect(try RoutingSidecarSpec.find(in: decode) == nil)
    }
}
