import KubeCore

/// The Kubernetes Pod Security Standards, baseline and restricted, as a pure checker over a pod
/// or pod template in its JSON form (what the API server receives), so it sees every field,
/// modelled by KubeCore or not.
///
/// Each control of the published page is one ``PodSecurityRule``, its wording our own. Source:
/// https://kubernetes.io/docs/concepts/security/pod-security-standards/ (the page as of
/// Kubernetes 1.32: baseline's allowed sysctls and SELinux types, restricted's "non-root user"
/// control, added in 1.23, included). A control's "undefined" is a missing member or `null`.
enum PodSecurityLevel: String, CaseIterable, Comparable, Sendable {
    case baseline, restricted

    static func < (a: Self, b: Self) -> Bool { a == .baseline && b == .restricted }
}

/// One control of the Pod Security Standards.
struct PodSecurityRule: Sendable, CustomStringConvertible {
    /// The level that introduces the control (restricted includes every baseline control).
    var level: PodSecurityLevel
    /// The control's name on the page.
    var control: String
    /// Where the page states it.
    var source: String
    /// What the rule asks, in our words.
    var summary: String
    /// The violations in a pod template (`{metadata, spec}`), each naming the field; none if it passes.
    var check: @Sendable (PodView) -> [String]

    var id: String { "\(level.rawValue)/\(control)" }
    var description: String { id }
}

/// A pod's or pod template's members, with every container (init, app and ephemeral) and the
/// path to it, as the rules need them.
struct PodView: Sendable {
    var metadata: JSONValue
    var spec: JSONValue

    /// A pod or pod template (`metadata` and `spec`) in JSON form.
    init(_ template: JSONValue) {
        metadata = template["metadata"] ?? .object([:])
        spec = template["spec"] ?? .object([:])
    }

    /// `(path, container)` for each container of every kind.
    var containers: [(path: String, container: JSONValue)] {
        ["initContainers", "containers", "ephemeralContainers"].flatMap { list in
            (spec[list]?.arrayValue ?? []).enumerated().map { ("spec.\(list)[\($0.offset)]", $0.element) }
        }
    }

    var podSecurityContext: JSONValue? { defined(spec["securityContext"]) }
    var annotations: [String: JSONValue] { metadata["annotations"]?.objectValue ?? [:] }
    var volumes: [(path: String, volume: JSONValue)] {
        (spec["volumes"]?.arrayValue ?? []).enumerated().map { ("spec.volumes[\($0.offset)]", $0.element) }
    }
}

/// `nil` for a missing member or JSON `null` ("undefined" on the page).
func defined(_ value: JSONValue?) -> JSONValue? {
    guard let value, value != .null else { return nil }
    return value
}

enum PodSecurityStandards {
    static let page = "https://kubernetes.io/docs/concepts/security/pod-security-standards/"

    /// Capabilities baseline lets a container add: the container runtimes' default set.
    static let baselineCapabilities: Set<String> = [
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
        "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    ]
    /// Sysctls baseline allows: namespaced and isolated from other pods.
    static let safeSysctls: Set<String> = [
        "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    ]
    /// SELinux types baseline allows (besides none).
    static let selinuxTypes: Set<String> = ["container_t", "container_init_t", "container_kvm_t", "container_engine_t"]
    /// The only volume sources restricted allows.
    static let restrictedVolumeSources: Set<String> = [
        "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret",
    ]
    static let apparmorAnnotationPrefix = "container.apparmor.security.beta.kubernetes.io/"

    /// Every security context of the pod: the pod's and each container's, with its path.
    static func securityContexts(_ pod: PodView) -> [(path: String, context: JSONValue)] {
        var all: [(String, JSONValue)] = []
        if let context = pod.podSecurityContext { all.append(("spec.securityContext", context)) }
        for (path, container) in pod.containers {
            if let context = defined(container["securityContext"]) { all.append(("\(path).securityContext", context)) }
        }
        return all
    }

    static func rule(_ level: PodSecurityLevel, _ control: String, _ summary: String,
                     check: @escaping @Sendable (PodView) -> [String]) -> PodSecurityRule {
        PodSecurityRule(level: level, control: control, source: "\(page)#\(level.rawValue)", summary: summary, check: check)
    }

    static let rules: [PodSecurityRule] = [
        // MARK: baseline
        rule(.baseline, "HostProcess", "Windows HostProcess containers are not allowed.") { pod in
            securityContexts(pod).compactMap { path, context in
                context["windowsOptions"]?["hostProcess"] == .bool(true) ? "\(path).windowsOptions.hostProcess is true" : nil
            }
        },
        rule(.baseline, "Host Namespaces", "The pod shares none of the node's network, PID or IPC namespaces.") { pod in
            ["hostNetwork", "hostPID", "hostIPC"].compactMap { field in
                pod.spec[field] == .bool(true) ? "spec.\(field) is true" : nil
            }
        },
        rule(.baseline, "Privileged Containers", "No container is privileged.") { pod in
            pod.containers.compactMap { path, container in
                container["securityContext"]?["privileged"] == .bool(true) ? "\(path).securityContext.privileged is true" : nil
            }
        },
        rule(.baseline, "Capabilities", "Containers add no capability beyond the runtime's default set.") { pod in
            pod.containers.flatMap { path, container in
                (container["securityContext"]?["capabilities"]?["add"]?.arrayValue ?? []).compactMap { added in
                    let name = added.stringValue ?? "\(added)"
                    return baselineCapabilities.contains(name) ? nil : "\(path).securityContext.capabilities.add has \(name)"
                }
            }
        },
        rule(.baseline, "HostPath Volumes", "No hostPath volume.") { pod in
            pod.volumes.compactMap { path, volume in defined(volume["hostPath"]) != nil ? "\(path).hostPath is set" : nil }
        },
        rule(.baseline, "Host Ports", "No container port is bound on the node (hostPort unset or 0).") { pod in
            pod.containers.flatMap { path, container in
                (container["ports"]?.arrayValue ?? []).enumerated().compactMap { index, port in
                    let hostPort = port["hostPort"]?.intValue ?? 0
                    return hostPort == 0 ? nil : "\(path).ports[\(index)].hostPort is \(hostPort)"
                }
            }
        },
        rule(.baseline, "AppArmor", "The default AppArmor profile is not overridden except by a node-local one.") { pod in
            var violations: [String] = []
            for (key, value) in pod.annotations where key.hasPrefix(apparmorAnnotationPrefix) {
                let profile = value.stringValue ?? ""
                if profile != "runtime/default" && !profile.hasPrefix("localhost/") {
                    violations.append("metadata.annotations[\(key)] is \(profile)")
                }
            }
            for (path, context) in securityContexts(pod) {
                if let type = defined(context["appArmorProfile"])?["type"]?.stringValue, !["RuntimeDefault", "Localhost"].contains(type) {
                    violations.append("\(path).appArmorProfile.type is \(type)")
                }
            }
            return violations
        },
        rule(.baseline, "SELinux", "No custom SELinux user or role; the type, if set, is one of the container types.") { pod in
            securityContexts(pod).flatMap { path, context -> [String] in
                guard let options = defined(context["seLinuxOptions"]) else { return [] }
                var violations: [String] = []
                if let type = options["type"]?.stringValue, !type.isEmpty, !selinuxTypes.contains(type) {
                    violations.append("\(path).seLinuxOptions.type is \(type)")
                }
                for field in ["user", "role"] {
                    if let value = options[field]?.stringValue, !value.isEmpty { violations.append("\(path).seLinuxOptions.\(field) is \(value)") }
                }
                return violations
            }
        },
        rule(.baseline, "/proc Mount Type", "The default /proc masks stay (procMount unset or Default).") { pod in
            pod.containers.compactMap { path, container in
                guard let mount = container["securityContext"]?["procMount"]?.stringValue, mount != "Default" else { return nil }
                return "\(path).securityContext.procMount is \(mount)"
            }
        },
        rule(.baseline, "Seccomp", "No seccomp profile is Unconfined.") { pod in
            securityContexts(pod).compactMap { path, context in
                context["seccompProfile"]?["type"]?.stringValue == "Unconfined" ? "\(path).seccompProfile.type is Unconfined" : nil
            }
        },
        rule(.baseline, "Sysctls", "Only the namespaced, pod-isolated sysctls the page lists.") { pod in
            (pod.podSecurityContext?["sysctls"]?.arrayValue ?? []).compactMap { sysctl in
                let name = sysctl["name"]?.stringValue ?? ""
                return safeSysctls.contains(name) ? nil : "spec.securityContext.sysctls has \(name)"
            }
        },

        // MARK: restricted
        rule(.restricted, "Volume Types", "Volumes only of the core and PersistentVolume-backed kinds.") { pod in
            pod.volumes.flatMap { path, volume in
                (volume.objectValue ?? [:]).keys.sorted().filter { $0 != "name" && !restrictedVolumeSources.contains($0) }
                    .map { "\(path).\($0) is not an allowed volume type" }
            }
        },
        rule(.restricted, "Privilege Escalation", "Every container sets allowPrivilegeEscalation: false.") { pod in
            pod.containers.compactMap { path, container in
                container["securityContext"]?["allowPrivilegeEscalation"] == .bool(false)
                    ? nil : "\(path).securityContext.allowPrivilegeEscalation is not false"
            }
        },
        rule(.restricted, "Running as Non-root",
             "runAsNonRoot is true for the pod (and no container sets it false), or for every container.") { pod in
            let podLevel = pod.podSecurityContext?["runAsNonRoot"] == .bool(true)
            return pod.containers.compactMap { path, container in
                switch container["securityContext"]?["runAsNonRoot"] {
                case .bool(true)?: return nil
                case .bool(false)?: return "\(path).securityContext.runAsNonRoot is false"
                default: return podLevel ? nil : "\(path): runAsNonRoot is set neither on the container nor on the pod"
                }
            }
        },
        rule(.restricted, "Running as Non-root user", "No runAsUser is 0.") { pod in
            securityContexts(pod).compactMap { path, context in
                context["runAsUser"]?.intValue == 0 ? "\(path).runAsUser is 0" : nil
            }
        },
        rule(.restricted, "Seccomp",
             "The seccomp profile is RuntimeDefault or Localhost: on the pod, or on every container.") { pod in
            let allowed = ["RuntimeDefault", "Localhost"]
            var violations: [String] = []
            let podType = pod.podSecurityContext?["seccompProfile"]?["type"]?.stringValue
            if let podType, !allowed.contains(podType) { violations.append("spec.securityContext.seccompProfile.type is \(podType)") }
            for (path, container) in pod.containers {
                if let type = container["securityContext"]?["seccompProfile"]?["type"]?.stringValue {
                    if !allowed.contains(type) { violations.append("\(path).securityContext.seccompProfile.type is \(type)") }
                } else if podType == nil {
                    violations.append("\(path): no seccomp profile on the container nor on the pod")
                }
            }
            return violations
        },
        rule(.restricted, "Capabilities", "Every container drops ALL and adds at most NET_BIND_SERVICE.") { pod in
            pod.containers.flatMap { path, container -> [String] in
                let capabilities = container["securityContext"]?["capabilities"]
                var violations: [String] = []
                if !(capabilities?["drop"]?.arrayValue ?? []).contains(.string("ALL")) {
                    violations.append("\(path).securityContext.capabilities.drop lacks ALL")
                }
                for added in capabilities?["add"]?.arrayValue ?? [] where added != .string("NET_BIND_SERVICE") {
                    violations.append("\(path).securityContext.capabilities.add has \(added.stringValue ?? "\(added)")")
                }
                return violations
            }
        },
    ]

    /// The rules of `level` (restricted: baseline's and its own).
    static func rules(for level: PodSecurityLevel) -> [PodSecurityRule] { rules.filter { $0.level <= level } }

    /// The violations of each rule that `template` breaks, by rule id; empty when it meets `level`.
    static func violations(_ template: JSONValue, level: PodSecurityLevel) -> [String: [String]] {
        let pod = PodView(template)
        var result: [String: [String]] = [:]
        for rule in rules(for: level) {
            let found = rule.check(pod)
            if !found.isEmpty { result[rule.id] = found }
        }
        return result
    }
}
