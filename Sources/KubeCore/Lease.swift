/// A coordination.k8s.io/v1 `Lease`, used for leader election.
public struct Lease: KubernetesResource, Hashable {
    public static let apiResource = APIResource(
        group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: LeaseSpec?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: LeaseSpec? = nil) {
        self.apiVersion = Self.apiResource.apiVersion
        self.kind = Self.apiResource.kind
        self.metadata = metadata
        self.spec = spec
    }
}

/// `coordinationv1.LeaseSpec`.
public struct LeaseSpec: Codable, Hashable, Sendable {
    /// The identity of the current holder.
    public var holderIdentity: String?
    /// How long others must wait after ``renewTime`` before taking the lease over.
    public var leaseDurationSeconds: Int32?
    /// When the current holder acquired the lease.
    public var acquireTime: MicroTime?
    /// When the current holder last renewed the lease.
    public var renewTime: MicroTime?
    /// How many times the lease changed hands.
    public var leaseTransitions: Int32?

    public init(
        holderIdentity: String? = nil, leaseDurationSeconds: Int32? = nil, acquireTime: MicroTime? = nil,
        renewTime: MicroTime? = nil, leaseTransitions: Int32? = nil
    ) {
        self.holderIdentity = holderIdentity
        self.leaseDurationSeconds = leaseDurationSeconds
        self.acquireTime = acquireTime
        self.renewTime = renewTime
        self.leaseTransitions = leaseTransitions
    }
}
