import Foundation
import KubeClient
import KubeCore
import Sizing

/// A Node the agent plays the kubelet for: its accelerator (none on a CPU node), device count
/// and size.
public struct EmulatedNode: Sendable, Hashable {
    public var name: String
    /// `nil` on a CPU node: no device capacity, no taint, so pods without a GPU request or
    /// toleration (llm-d's endpoint picker) are scheduled there.
    public var accelerator: Accelerator?
    public var devices: Int
    public var cpu: Int
    public var memory: Quantity

    /// A GPU (or TPU) node.
    ///
    /// - Parameters:
    ///   - devices: accelerator devices; defaults to the catalog's typical count per node.
    public init(name: String, accelerator: Accelerator, devices: Int? = nil, cpu: Int = 192, memory: Quantity = "2Ti") {
        self.name = name
        self.accelerator = accelerator
        self.devices = devices ?? accelerator.devicesPerNode
        self.cpu = cpu
        self.memory = memory
    }

    /// A node without accelerators, for the pods that need none (the router's endpoint picker).
    /// Its size is a common general-purpose VM's.
    public static func cpu(name: String, cpu: Int = 16, memory: Quantity = "64Gi") -> EmulatedNode {
        EmulatedNode(name: name, accelerator: nil, devices: 0, cpu: cpu, memory: memory)
    }

    private init(name: String, accelerator: Accelerator?, devices: Int, cpu: Int, memory: Quantity) {
        self.name = name
        self.accelerator = accelerator
        self.devices = devices
        self.cpu = cpu
        self.memory = memory
    }

    /// The Node object to create: accelerator labels (every catalog label, so any selector
    /// convention matches) and the accelerator's taint; a CPU node has neither.
    public func object() -> Node {
        var labels = ["kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                      "tandem.x-k8s.io/emulated": "true"]
        var spec = NodeSpec()
        if let accelerator {
            for label in accelerator.nodeLabels where labels[label.key] == nil { labels[label.key] = label.value }
            if let taint = accelerator.taint {
                spec.taints = [Taint(key: taint.key, value: taint.value ?? "present", effect: taint.effect)]
            }
        }
        return Node(metadata: ObjectMeta(name: name, labels: labels), spec: spec)
    }

    /// The status a kubelet with the vendor's device plugin reports: capacity, allocatable,
    /// Ready with a fresh heartbeat, a loopback address.
    public func statusPatch(now: Date) -> JSONValue {
        var resources: [String: JSONValue] = ["cpu": .string(String(cpu)), "memory": .string(memory.description), "pods": "110"]
        if let accelerator { resources[accelerator.resourceName] = .string(String(devices)) }
        let capacity = JSONValue.object(resources)
        let stamp = JSONValue.string(KubeTime(now).description)
        return ["status": [
            "capacity": capacity, "allocatable": capacity,
            "conditions": [[
                "type": "Ready", "status": "True", "reason": "KubeletReady",
                "message": "tandem node agent is posting ready status", "lastHeartbeatTime": stamp, "lastTransitionTime": stamp,
            ]],
            "addresses": [["type": "InternalIP", "address": "127.0.0.1"], ["type": "Hostname", "address": .string(name)]],
            "nodeInfo": [
                "kubeletVersion": "v1.20.2-tandem", "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64",
                "containerRuntimeVersion": "tandem://emulated", "kernelVersion": "", "osImage": "tandem node agent",
                "machineID": "", "systemUUID": "", "bootID": "",
            ],
        ]]
    }

    /// Creates the Node if it does not exist, then posts its status (capacity and Ready), as a
    /// kubelet does when it registers.
    public func register(with client: KubernetesClient) async throws {
        let nodes = client.resources(Node.self)
        if try await nodes.getIfExists(name) == nil {
            _ = try await nodes.create(object())
        }
        _ = try await nodes.patchStatus(name, .merge(statusPatch(now: Date())))
    }
}
