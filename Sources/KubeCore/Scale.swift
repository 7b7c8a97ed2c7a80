/// An autoscaling/v1 `Scale`: the body of a workload's `scale` subresource.
///
/// A Scale is not addressable on its own: read and write it at the parent's path, e.g.
/// `Deployment.apiResource.path(namespace: ns, name: name, subresource: "scale")`.
/// ``apiResource`` describes only its type (its `plural` is the subresource name).
public struct Scale: KubernetesResource, Hashable {
    public static let apiResource = APIResource(
        group: "autoscaling", version: "v1", kind: "Scale", plural: "scale", namespaced: true)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: ScaleSpec?
    public var status: ScaleStatus?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: ScaleSpec? = nil, status: ScaleStatus? = nil) {
        self.apiVersion = Self.apiResource.apiVersion
        self.kind = Self.apiResource.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

/// `autoscalingv1.ScaleSpec`.
public struct ScaleSpec: Codable, Hashable, Sendable {
    /// The desired number of replicas.
    public var replicas: Int32?

    public init(replicas: Int32? = nil) {
        self.replicas = replicas
    }
}

/// `autoscalingv1.ScaleStatus`.
public struct ScaleStatus: Codable, Hashable, Sendable {
    /// The observed number of replicas.
    public var replicas: Int32?
    /// The pods' label selector in string form (`app=vllm,tier=serving`).
    public var selector: String?

    public init(replicas: Int32? = nil, selector: String? = nil) {
        self.replicas = replicas
        self.selector = selector
    }
}
