import Foundation
import KubeClient
import KubeCore

/// Registers fake GPU Nodes through the API, as a node agent (or a kubelet with the NVIDIA
/// device plugin and GPU feature discovery) would: labels, taint, capacity, Ready.
///
/// Nodes are cluster-wide: use them on a cluster of the test's own (``TestCluster/dedicated(_:apiserverFlags:)``).
public enum GPUNodes {
    /// Creates (or updates) `count` Nodes named `prefix-0…` with `gpus` devices of `resource`
    /// each and the given labels, the `resource=present:NoSchedule` taint and a Ready condition.
    public static func register(
        _ client: KubernetesClient, prefix: String, count: Int, labels: [String: String],
        resource: String = "nvidia.com/gpu", gpus: Int = 8
    ) async throws {
        let nodes = client.resources(Node.self)
        for index in 0..<count {
            let name = "\(prefix)-\(index)"
            var nodeLabels = labels
            nodeLabels["kubernetes.io/hostname"] = name
            nodeLabels["kubernetes.io/os"] = "linux"
            let node = Node(
                metadata: ObjectMeta(name: name, labels: nodeLabels),
                spec: NodeSpec(taints: [Taint(key: resource, value: "present", effect: "NoSchedule")]))
            if try await nodes.getIfExists(name) == nil {
                _ = try await nodes.create(node)
            }
            let now = KubeTime(Date()).description
            let capacity: JSONValue = [
                resource: .string(String(gpus)), "cpu": "192", "memory": "2Ti", "pods": "110",
            ]
            _ = try await nodes.patchStatus(name, .merge([
                "status": [
                    "capacity": capacity, "allocatable": capacity,
                    "conditions": [[
                        "type": "Ready", "status": "True", "reason": "KubeletReady", "message": "registered by a test",
                        "lastHeartbeatTime": .string(now), "lastTransitionTime": .string(now),
                    ]],
                ],
            ]))
        }
    }
}
