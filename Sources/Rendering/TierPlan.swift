import KubeCore
import TandemAPI

/// Everything the renderer needs to know about one tier, decided before rendering: the
/// replica count, the image, the final model-server arguments, resources and placement.
///
/// Built from a pool and its sizing by ``TierPlanner``; kept as a plain value so rendering is a
/// pure, deterministic function of it.
public struct TierPlan: Hashable, Sendable {
    public var tier: TierName
    /// `nil`: Tandem does not own the replica count (an autoscaler does): the field is left out.
    public var replicas: Int32?
    public var image: String
    /// The container's arguments, in order: Tandem's fixed and derived flags, then the user's.
    public var args: [String]
    public var env: [EnvVar]
    /// Requests; `limits` carries the accelerator and memory only.
    public var requests: [String: Quantity]
    public var limits: [String: Quantity]
    /// The `/dev/shm` size.
    public var sharedMemory: Quantity
    /// Node labels that select the accelerator.
    public var nodeSelector: [String: String]
    /// Tolerations of the accelerator's taint.
    public var tolerations: [Toleration]
    /// The sizing decision, serialized into the Deployment's annotation.
    public var sizingSummary: String
    /// The pod settings (pool-wide with the tier's own laid over).
    public var pod: PodOverrides
    /// The port vLLM listens on: the service port, or ``Renderer/routedVLLMPort`` behind the
    /// routing sidecar.
    public var vllmPort: Int32
    /// NIXL's side-channel port, declared on the container (NixlConnector only).
    public var sideChannelPort: Int32?
    /// Set on a decode tier behind llm-d's routing sidecar.
    public var router: RouterPlan?

    public init(tier: TierName, replicas: Int32?, image: String, args: [String], env: [EnvVar] = [],
                requests: [String: Quantity], limits: [String: Quantity], sharedMemory: Quantity,
                nodeSelector: [String: String] = [:], tolerations: [Toleration] = [], sizingSummary: String,
                pod: PodOverrides = PodOverrides(), vllmPort: Int32 = Renderer.servingPort, sideChannelPort: Int32? = nil,
                router: RouterPlan? = nil) {
        self.tier = tier
        self.replicas = replicas
        self.image = image
        self.args = args
        self.env = env
        self.requests = requests
        self.limits = limits
        self.sharedMemory = sharedMemory
        self.nodeSelector = nodeSelector
        self.tolerations = tolerations
        self.sizingSummary = sizingSummary
        self.pod = pod
        self.vllmPort = vllmPort
        self.sideChannelPort = sideChannelPort
        self.router = router
    }
}
