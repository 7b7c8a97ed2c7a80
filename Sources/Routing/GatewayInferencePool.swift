import KubeCore

/// The Gateway API Inference Extension's `InferencePool` (`inference.networking.k8s.io/v1`):
/// the model-server pods a Gateway routes to, and the endpoint picker that chooses among them.
///
/// Not Tandem's `InferencePool` (`inference.x-k8s.io`): Tandem creates one of these per pool,
/// when the cluster serves the API, so that a Gateway's HTTPRoute can name the pool as a backend.
public struct GatewayInferencePool: KubernetesResource, Hashable {
    public static let apiResource = APIResource(
        group: "inference.networking.k8s.io", version: "v1", kind: "InferencePool", plural: "inferencepools",
        namespaced: true)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?
    /// `parents[]` with `Accepted` / `ResolvedRefs` conditions, written by Gateway controllers.
    public var status: JSONValue?

    public init(metadata: ObjectMeta = ObjectMeta(), spec: Spec? = nil) {
        self.apiVersion = Self.apiResource.apiVersion
        self.kind = Self.apiResource.kind
        self.metadata = metadata
        self.spec = spec
    }

    public struct Spec: Codable, Hashable, Sendable {
        /// Pods in the pool's namespace with all these labels are its endpoints.
        public var selector: Selector
        /// The model servers' ports (1–8).
        public var targetPorts: [Port]
        /// `http` or `kubernetes.io/h2c`; absent: http.
        public var appProtocol: String?
        public var endpointPickerRef: EndpointPickerRef

        public init(selector: Selector, targetPorts: [Port], appProtocol: String? = nil, endpointPickerRef: EndpointPickerRef) {
            self.selector = selector
            self.targetPorts = targetPorts
            self.appProtocol = appProtocol
            self.endpointPickerRef = endpointPickerRef
        }
    }

    public struct Selector: Codable, Hashable, Sendable {
        public var matchLabels: [String: String]
        public init(matchLabels: [String: String]) { self.matchLabels = matchLabels }
    }

    public struct Port: Codable, Hashable, Sendable {
        public var number: Int32
        public init(number: Int32) { self.number = number }
    }

    /// The endpoint picker's Service.
    public struct EndpointPickerRef: Codable, Hashable, Sendable {
        /// `""`: the core group (a Service).
        public var group: String?
        public var kind: String?
        public var name: String
        public var port: Port
        /// `FailOpen` (route anyway when the picker is down) or `FailClose` (the API's default).
        public var failureMode: String?

        public init(group: String? = nil, kind: String? = "Service", name: String, port: Port, failureMode: String? = nil) {
            self.group = group
            self.kind = kind
            self.name = name
            self.port = port
            self.failureMode = failureMode
        }
    }
}

/// Labels on a pool's endpoint-picker objects that the operator writes and the node agent and
/// `tandem load` read.
public enum EndpointPickerLabels {
    /// Selects a pool's endpoint-picker pods (`inference.x-k8s.io/endpoint-picker: <pool label>`);
    /// they carry no `inference.x-k8s.io/pool` label, which the GIE pool selects model servers by.
    public static let pool = "inference.x-k8s.io/endpoint-picker"
    /// Their `app.kubernetes.io/component`.
    public static let component = "endpoint-picker"
}
