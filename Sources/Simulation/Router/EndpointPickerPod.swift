import Foundation
import KubeCore
import Routing

/// What an endpoint-picker (EPP) pod asks for, read from its spec as llm-d's EPP binary reads
/// its command line and mounted files: the GIE InferencePool it serves, the config file and
/// where it comes from (a ConfigMap volume), and its ports.
public struct EndpointPickerPod: Sendable, Hashable {
    /// The container llm-d's charts (and Tandem) name the EPP's.
    public static let containerName = "epp"
    /// The label value Tandem gives the EPP pod's `app.kubernetes.io/component`.
    public static let component = EndpointPickerLabels.component
    /// Tandem's label naming the pool an EPP serves (`inference.x-k8s.io/endpoint-picker: <pool label>`).
    public static let poolLabel = EndpointPickerLabels.pool

    /// The port of the emulation's stand-in for the Gateway's listener: plain HTTP, the OpenAI
    /// API, on the EPP pod's address (Envoy's listener port in llm-d's guides is 80; 8080 needs
    /// no privilege here).
    public static let gatewayPort = 8080

    /// `--pool-name`.
    public var poolName: String
    /// `--pool-namespace` (the pod's namespace when absent, as the EPP defaults it).
    public var poolNamespace: String
    /// `--pool-group`: the GIE group (`inference.networking.k8s.io`, the EPP's default).
    public var poolGroup: String
    /// `--config-file`.
    public var configFile: String
    /// The ConfigMap whose volume is mounted over the config file's folder, and its key.
    public var configMap: String
    public var configKey: String
    /// `--grpc-port` (ext-proc, 9002), `--grpc-health-port` (9003), `--metrics-port` (9090): the
    /// EPP's defaults in GIE's `cmd/epp`.
    public var grpcPort: Int
    public var grpcHealthPort: Int
    public var metricsPort: Int

    /// Whether `pod` runs llm-d's endpoint picker: a container named `epp`, or Tandem's
    /// component label.
    public static func isEndpointPicker(_ pod: Pod) -> Bool {
        pod.spec?.containers?.contains { $0.name == containerName } == true
            || pod.metadata.labels?["app.kubernetes.io/component"] == component
    }

    /// Reads an EPP pod's spec.
    ///
    /// - Throws: ``EmulatorError`` naming the pod and what is missing: no `epp` container, no
    ///   `--pool-name` or `--config-file`, or no ConfigMap volume mounted over the config file.
    public init(_ pod: Pod) throws {
        let name = "\(pod.metadata.namespace ?? "")/\(pod.metadata.name ?? "")"
        guard let container = pod.spec?.containers?.first(where: { $0.name == Self.containerName }) ?? pod.spec?.containers?.first else {
            throw EmulatorError("endpoint-picker pod \(name) has no container")
        }
        let args = (container.command ?? []) + (container.args ?? [])
        func value(_ flag: String) -> String? {
            // Go's flag package: -flag value, --flag value, -flag=value, --flag=value.
            for (index, argument) in args.enumerated() {
                let bare = argument.hasPrefix("--") ? String(argument.dropFirst(2)) : argument.hasPrefix("-") ? String(argument.dropFirst()) : nil
                guard let bare else { continue }
                if bare.hasPrefix(flag + "=") { return String(bare.dropFirst(flag.count + 1)) }
                if bare == flag, index + 1 < args.count { return args[index + 1] }
            }
            return nil
        }
        guard let poolName = value("pool-name") else {
            throw EmulatorError("endpoint-picker pod \(name): the epp container has no --pool-name; the EPP needs the InferencePool it serves")
        }
        guard let configFile = value("config-file") else {
            throw EmulatorError("endpoint-picker pod \(name): the epp container has no --config-file (an inline --config-text is not emulated)")
        }
        self.poolName = poolName
        poolNamespace = value("pool-namespace") ?? pod.metadata.namespace ?? "default"
        // GIE's EPP default pool group (cmd/epp `--pool-group`).
        poolGroup = value("pool-group") ?? "inference.networking.k8s.io"
        self.configFile = configFile
        grpcPort = value("grpc-port").flatMap(Int.init) ?? 9002  // GIE cmd/epp default
        grpcHealthPort = value("grpc-health-port").flatMap(Int.init) ?? 9003  // GIE cmd/epp default
        metricsPort = value("metrics-port").flatMap(Int.init) ?? 9090  // GIE cmd/epp default

        // The volume mounted over the file's folder (or the file itself, with subPath).
        let mounts = container.volumeMounts ?? []
        let mount = mounts
            .filter { mount in
                guard let path = mount.mountPath else { return false }
                return configFile == path || configFile.hasPrefix(path.hasSuffix("/") ? path : path + "/")
            }
            .max { ($0.mountPath ?? "").count < ($1.mountPath ?? "").count }
        guard let mount, let mountPath = mount.mountPath else {
            throw EmulatorError("endpoint-picker pod \(name): no volume is mounted over \(configFile) (mounts: \(mounts.compactMap(\.mountPath).joined(separator: ", ")))")
        }
        guard let volume = pod.spec?.volumes?.first(where: { $0.name == mount.name }), let source = volume.configMap,
            let configMapName = source.name
        else {
            throw EmulatorError("endpoint-picker pod \(name): volume \(mount.name ?? "") over \(mountPath) is not a ConfigMap volume; only ConfigMap-mounted configs are emulated")
        }
        configMap = configMapName
        if configFile == mountPath, let subPath = mount.subPath {
            configKey = subPath
        } else {
            configKey = String(configFile.dropFirst(mountPath.hasSuffix("/") ? mountPath.count : mountPath.count + 1))
        }
    }
}
