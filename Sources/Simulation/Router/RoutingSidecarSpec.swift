import KubeCore

/// llm-d's routing sidecar in a decode pod, read from the pod's spec: a plain container, or on
/// Kubernetes ≥ 1.29 a native sidecar (an init container with `restartPolicy: Always`).
public struct RoutingSidecarSpec: Sendable, Hashable {
    /// The container name Tandem and llm-d's charts give it.
    public static let containerName = "routing-sidecar"
    /// The image it runs (any tag).
    public static let image = "llm-d-routing-sidecar"
    /// Connector names llm-d's sidecar accepts (`--connector`); all are emulated alike: prefill
    /// on the peer, then decode with the KV pulled.
    public static let connectors: Set<String> = ["nixlv2", "nixl", "lmcache", "sglang"]

    /// `--port`: where it listens (the pod's serving port, 8000 in llm-d's guides).
    public var port: Int
    /// `--vllm-port`: vLLM's port in the same pod (8200 in llm-d's guides).
    public var vllmPort: Int
    /// `--connector`.
    public var connector: String

    public init(port: Int, vllmPort: Int, connector: String) {
        self.port = port
        self.vllmPort = vllmPort
        self.connector = connector
    }

    /// The sidecar of `pod`, `nil` when it has none.
    ///
    /// - Throws: ``EmulatorError`` when the sidecar is there but its flags are not usable.
    public static func find(in pod: Pod) throws -> RoutingSidecarSpec? {
        func isSidecar(_ container: Container) -> Bool {
            container.name == containerName || container.image?.contains(image) == true
        }
        guard let container = (pod.spec?.containers ?? []).first(where: isSidecar)
            ?? (pod.spec?.initContainers ?? []).first(where: isSidecar)
        else { return nil }
        let name = "\(pod.metadata.namespace ?? "")/\(pod.metadata.name ?? "")"
        let args = (container.command ?? []) + (container.args ?? [])
        func value(_ flag: String) -> String? {
            for (index, argument) in args.enumerated() {
                let bare = argument.drop { $0 == "-" }
                guard bare.count < argument.count else { continue }
                if bare.hasPrefix(flag + "=") { return String(bare.dropFirst(flag.count + 1)) }
                if bare == flag, index + 1 < args.count { return args[index + 1] }
            }
            return nil
        }
        // llm-d-routing-sidecar's defaults: --port 8000, --vllm-port 8001, --connector nixlv2.
        let port = value("port").flatMap(Int.init)
            ?? container.ports?.first(where: { $0.name == "http" })?.containerPort.map { Int($0) } ?? 8000
        let vllmPort = value("vllm-port").flatMap(Int.init) ?? 8001
        let connector = value("connector") ?? "nixlv2"
        guard connectors.contains(connector) else {
            throw EmulatorError("pod \(name): routing sidecar --connector \(connector) is not one llm-d's sidecar knows (\(connectors.sorted().joined(separator: ", ")))")
        }
        guard port != vllmPort else {
            throw EmulatorError("pod \(name): routing sidecar --port and --vllm-port are both \(port); vLLM must listen elsewhere")
        }
        return RoutingSidecarSpec(port: port, vllmPort: vllmPort, connector: connector)
    }
}
