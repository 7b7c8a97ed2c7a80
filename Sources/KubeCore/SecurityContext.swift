/// `corev1.PodSecurityContext`: security settings for every container of a pod (a container's
/// own ``SecurityContext`` wins where both set a field).
///
/// Every field is optional and omitted when `nil`, so an empty value encodes as `{}` (what the
/// API server stores for a pod without one).
public struct PodSecurityContext: Codable, Hashable, Sendable {
    public var seLinuxOptions: SELinuxOptions?
    /// `corev1.WindowsSecurityContextOptions`, passed through.
    public var windowsOptions: JSONValue?
    public var runAsUser: Int64?
    public var runAsGroup: Int64?
    /// The kubelet refuses to start a container whose user is root (UID 0).
    public var runAsNonRoot: Bool?
    public var supplementalGroups: [Int64]?
    public var fsGroup: Int64?
    public var sysctls: [Sysctl]?
    /// `OnRootMismatch` or `Always` (Kubernetes ≥ 1.20).
    public var fsGroupChangePolicy: String?
    /// The seccomp filter (fields since Kubernetes 1.19; annotations before).
    public var seccompProfile: SeccompProfile?
    /// The AppArmor profile (fields since Kubernetes 1.30; annotations before).
    public var appArmorProfile: AppArmorProfile?
    /// `Merge` or `Strict` (Kubernetes ≥ 1.31).
    public var supplementalGroupsPolicy: String?
    /// `MountOption` or `Recursive` (Kubernetes ≥ 1.32).
    public var seLinuxChangePolicy: String?

    public init(
        seLinuxOptions: SELinuxOptions? = nil, windowsOptions: JSONValue? = nil, runAsUser: Int64? = nil,
        runAsGroup: Int64? = nil, runAsNonRoot: Bool? = nil, supplementalGroups: [Int64]? = nil, fsGroup: Int64? = nil,
        sysctls: [Sysctl]? = nil, fsGroupChangePolicy: String? = nil, seccompProfile: SeccompProfile? = nil,
        appArmorProfile: AppArmorProfile? = nil, supplementalGroupsPolicy: String? = nil, seLinuxChangePolicy: String? = nil
    ) {
        self.supplementalGroupsPolicy = supplementalGroupsPolicy
        self.seLinuxChangePolicy = seLinuxChangePolicy
        self.seLinuxOptions = seLinuxOptions
        self.windowsOptions = windowsOptions
        self.runAsUser = runAsUser
        self.runAsGroup = runAsGroup
        self.runAsNonRoot = runAsNonRoot
        self.supplementalGroups = supplementalGroups
        self.fsGroup = fsGroup
        self.sysctls = sysctls
        self.fsGroupChangePolicy = fsGroupChangePolicy
        self.seccompProfile = seccompProfile
        self.appArmorProfile = appArmorProfile
    }
}

/// `corev1.SecurityContext`: security settings of one container.
public struct SecurityContext: Codable, Hashable, Sendable {
    public var capabilities: Capabilities?
    public var privileged: Bool?
    public var seLinuxOptions: SELinuxOptions?
    /// `corev1.WindowsSecurityContextOptions`, passed through.
    public var windowsOptions: JSONValue?
    public var runAsUser: Int64?
    public var runAsGroup: Int64?
    public var runAsNonRoot: Bool?
    public var readOnlyRootFilesystem: Bool?
    /// Whether a process may gain more privileges than its parent (`no_new_privs` when false).
    public var allowPrivilegeEscalation: Bool?
    /// `Default` or `Unmasked`.
    public var procMount: String?
    public var seccompProfile: SeccompProfile?
    public var appArmorProfile: AppArmorProfile?

    public init(
        capabilities: Capabilities? = nil, privileged: Bool? = nil, seLinuxOptions: SELinuxOptions? = nil,
        windowsOptions: JSONValue? = nil, runAsUser: Int64? = nil, runAsGroup: Int64? = nil, runAsNonRoot: Bool? = nil,
        readOnlyRootFilesystem: Bool? = nil, allowPrivilegeEscalation: Bool? = nil, procMount: String? = nil,
        seccompProfile: SeccompProfile? = nil, appArmorProfile: AppArmorProfile? = nil
    ) {
        self.capabilities = capabilities
        self.privileged = privileged
        self.seLinuxOptions = seLinuxOptions
        self.windowsOptions = windowsOptions
        self.runAsUser = runAsUser
        self.runAsGroup = runAsGroup
        self.runAsNonRoot = runAsNonRoot
        self.readOnlyRootFilesystem = readOnlyRootFilesystem
        self.allowPrivilegeEscalation = allowPrivilegeEscalation
        self.procMount = procMount
        self.seccompProfile = seccompProfile
        self.appArmorProfile = appArmorProfile
    }
}

/// `corev1.Capabilities`: Linux capabilities added to or dropped from the runtime's default set.
public struct Capabilities: Codable, Hashable, Sendable {
    public var add: [String]?
    public var drop: [String]?

    public init(add: [String]? = nil, drop: [String]? = nil) {
        self.add = add
        self.drop = drop
    }
}

/// `corev1.SeccompProfile`.
public struct SeccompProfile: Codable, Hashable, Sendable {
    /// `RuntimeDefault`, `Localhost` or `Unconfined`.
    public var type: String
    /// For `Localhost`: the profile's path under the kubelet's seccomp directory.
    public var localhostProfile: String?

    public init(type: String, localhostProfile: String? = nil) {
        self.type = type
        self.localhostProfile = localhostProfile
    }

    /// The container runtime's default filter.
    public static let runtimeDefault = SeccompProfile(type: "RuntimeDefault")
}

/// `corev1.AppArmorProfile`.
public struct AppArmorProfile: Codable, Hashable, Sendable {
    /// `RuntimeDefault`, `Localhost` or `Unconfined`.
    public var type: String
    public var localhostProfile: String?

    public init(type: String, localhostProfile: String? = nil) {
        self.type = type
        self.localhostProfile = localhostProfile
    }
}

/// `corev1.SELinuxOptions`.
public struct SELinuxOptions: Codable, Hashable, Sendable {
    public var user: String?
    public var role: String?
    public var type: String?
    public var level: String?

    public init(user: String? = nil, role: String? = nil, type: String? = nil, level: String? = nil) {
        self.user = user
        self.role = role
        self.type = type
        self.level = level
    }
}

/// `corev1.Sysctl`: a namespaced kernel parameter set for the pod.
public struct Sysctl: Codable, Hashable, Sendable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}
