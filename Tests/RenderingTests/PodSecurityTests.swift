import Foundation
import KubeCore
import Rendering
import Routing
import TandemAPI
import Testing
import Yams

/// The pod templates of one golden file: `(where, template)`, where naming the file and Deployment.
func goldenPodTemplates(_ relativePath: String) throws -> [(name: String, template: JSONValue)] {
    let text = try String(contentsOf: repositoryRoot.appendingPathComponent("Tests/RenderingTests/Golden/\(relativePath)"), encoding: .utf8)
    // YAMLOutput starts every document with a `---` line; block scalars are indented, so a line
    // that is exactly `---` always separates documents.
    var documents: [String] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if line == "---" { documents.append("") } else if !documents.isEmpty { documents[documents.count - 1] += line + "\n" }
    }
    return try documents.compactMap { document in
        let object = try YAMLDecoder().decode(JSONValue.self, from: document)
        guard object["kind"]?.stringValue == "Deployment", let template = object["spec"]?["template"] else { return nil }
        return ("\(relativePath): Deployment \(object["metadata"]?["name"]?.stringValue ?? "?")", template)
    }
}

/// Every golden file, relative to Golden/.
func goldenFiles() throws -> [String] {
    let root = repositoryRoot.appendingPathComponent("Tests/RenderingTests/Golden")
    let top = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.hasSuffix(".yaml") }
    let router = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("router").path)
        .filter { $0.hasSuffix(".yaml") }.map { "router/\($0)" }
    return (top + router).sorted()
}

/// The restricted rules a rendered pod template is known to break, and why (docs/install.md,
/// "Pod security"). Anything else a template breaks is a regression.
enum KnownRestrictedExceptions {
    /// vLLM's official image runs as root (its Dockerfile's `vllm-openai` stage sets no USER):
    /// `runAsNonRoot: true` would stop the kubelet from starting it.
    static let vllmTier: Set<String> = ["restricted/Running as Non-root"]
    /// The endpoint picker's pod meets restricted entirely.
    static let endpointPicker: Set<String> = []

    /// The exceptions for a template, told apart by its containers: a tier pod runs `vllm`.
    static func expected(for template: JSONValue) -> Set<String> {
        let names = PodView(template).containers.compactMap { $0.container["name"]?.stringValue }
        return names.contains("vllm") ? vllmTier : endpointPicker
    }
}

@Suite("Pod Security Standards of the rendered pods")
struct RenderedPodSecurityTests {
    @Test func everyGoldenPodTemplateMeetsBaselineAndOnlyTheKnownRestrictedExceptions() throws {
        let files = try goldenFiles()
        #expect(files.count == 13, "Golden/ has \(files.count) files; update this count when adding one")
        var checked = 0
        var failuresByRule: [String: Int] = [:]
        for file in files {
            let templates = try goldenPodTemplates(file)
            #expect(!templates.isEmpty, "\(file) has no Deployment")
            for (name, template) in templates {
                checked += 1
                let baseline = PodSecurityStandards.violations(template, level: .baseline)
                #expect(baseline.isEmpty, "\(name) breaks baseline: \(baseline)")
                let restricted = PodSecurityStandards.violations(template, level: .restricted)
                #expect(Set(restricted.keys) == KnownRestrictedExceptions.expected(for: template),
                        "\(name): restricted violations \(restricted), expected only \(KnownRestrictedExceptions.expected(for: template).sorted())")
                for rule in restricted.keys { failuresByRule[rule, default: 0] += 1 }
            }
        }
        #expect(checked >= 30, "only \(checked) pod templates found in the goldens")
        // The per-rule report (the issue asks which rules pass restricted).
        print("Pod Security Standards over \(checked) golden pod templates:")
        for rule in PodSecurityStandards.rules {
            let failing = failuresByRule[rule.id] ?? 0
            print("  \(rule.id): \(failing == 0 ? "all pass" : "\(failing) of \(checked) fail")")
        }
    }

    /// The options no golden shows (native sidecar, gRPC probes, no GIE) render the same security.
    @Test(arguments: [RouterOptions(nativeSidecars: true, grpcProbes: true), RouterOptions(serverMajor: 1, minor: 20, gatewayAPIServed: false)])
    func routedPodsUnderEveryOption(options: RouterOptions) throws {
        let pool = routedPool(SchedulerSpec(enableCacheAwareRouting: true, enableLoadBalancing: true, disaggregationThreshold: 100))
        let plan = PoolPlanner().plan(pool)
        let children = try Renderer.render(pool: pool, plans: plan.plans, owner: nil, router: plan.routerPlan, options: options)
        #expect(children.deployments.count == 3)
        for deployment in children.deployments {
            let template = try JSONValue(encoding: try #require(deployment.spec?.template))
            #expect(PodSecurityStandards.violations(template, level: .baseline).isEmpty)
            #expect(Set(PodSecurityStandards.violations(template, level: .restricted).keys) == KnownRestrictedExceptions.expected(for: template),
                    "\(deployment.metadata.name ?? "")")
        }
    }

    @Test func tokensAreMountedOnlyWhereTheAPIIsUsed() throws {
        for file in try goldenFiles() {
            for (name, template) in try goldenPodTemplates(file) {
                let isTier = KnownRestrictedExceptions.expected(for: template) == KnownRestrictedExceptions.vllmTier
                #expect(template["spec"]?["automountServiceAccountToken"] == .bool(!isTier), "\(name)")
            }
        }
    }
}

/// A pod template that meets restricted: the base each bad case below breaks in one place.
func compliantPod() -> JSONValue {
    let container: JSONValue = [
        "name": "app", "image": "example",
        "ports": [["containerPort": 8000]],
        "securityContext": ["allowPrivilegeEscalation": false, "capabilities": ["drop": ["ALL"], "add": ["NET_BIND_SERVICE"]]],
    ]
    return [
        "metadata": ["annotations": ["container.apparmor.security.beta.kubernetes.io/app": "runtime/default"]],
        "spec": [
            "containers": [container],
            "volumes": [["name": "shm", "emptyDir": ["medium": "Memory"]], ["name": "config", "configMap": ["name": "c"]]],
            "securityContext": [
                "runAsNonRoot": true, "runAsUser": 1000, "seccompProfile": ["type": "RuntimeDefault"],
                "sysctls": [["name": "net.ipv4.ip_local_port_range", "value": "1024 65535"]],
                "seLinuxOptions": ["type": "container_t", "level": "s0:c1,c2"],
            ],
        ],
    ]
}

extension JSONValue {
    /// A copy with the member at `path` (object keys, or array indices as numbers) set.
    func setting(_ path: [String], to value: JSONValue) -> JSONValue {
        guard let first = path.first else { return value }
        let rest = Array(path.dropFirst())
        if let index = Int(first), case .array(var elements) = self {
            elements[index] = elements[index].setting(rest, to: value)
            return .array(elements)
        }
        var members = objectValue ?? [:]
        members[first] = (members[first] ?? .object([:])).setting(rest, to: value)
        return .object(members)
    }
}

@Suite("Pod Security Standards checker")
struct PodSecurityCheckerTests {
    /// One way to break each rule, applied to ``compliantPod()``: `(rule id, label, path, value)`.
    struct BadCase: CustomTestStringConvertible, Sendable {
        var rule: String
        var label: String
        var path: [String]
        var value: JSONValue
        var testDescription: String { "\(rule): \(label)" }
        var pod: JSONValue { compliantPod().setting(path, to: value) }
    }

    static let container = ["spec", "containers", "0"]
    static let badCases: [BadCase] = [
        BadCase(rule: "baseline/HostProcess", label: "hostProcess container", path: container + ["securityContext", "windowsOptions", "hostProcess"], value: true),
        BadCase(rule: "baseline/Host Namespaces", label: "hostNetwork", path: ["spec", "hostNetwork"], value: true),
        BadCase(rule: "baseline/Host Namespaces", label: "hostPID", path: ["spec", "hostPID"], value: true),
        BadCase(rule: "baseline/Host Namespaces", label: "hostIPC", path: ["spec", "hostIPC"], value: true),
        BadCase(rule: "baseline/Privileged Containers", label: "privileged", path: container + ["securityContext", "privileged"], value: true),
        BadCase(rule: "baseline/Capabilities", label: "SYS_ADMIN added", path: container + ["securityContext", "capabilities", "add"], value: ["SYS_ADMIN"]),
        BadCase(rule: "baseline/HostPath Volumes", label: "hostPath", path: ["spec", "volumes", "1"], value: ["name": "h", "hostPath": ["path": "/"]]),
        BadCase(rule: "baseline/Host Ports", label: "hostPort", path: container + ["ports", "0", "hostPort"], value: 8000),
        BadCase(rule: "baseline/AppArmor", label: "unconfined annotation",
                path: ["metadata", "annotations", "container.apparmor.security.beta.kubernetes.io/app"], value: "unconfined"),
        BadCase(rule: "baseline/AppArmor", label: "Unconfined field", path: ["spec", "securityContext", "appArmorProfile"], value: ["type": "Unconfined"]),
        BadCase(rule: "baseline/SELinux", label: "spc_t type", path: ["spec", "securityContext", "seLinuxOptions", "type"], value: "spc_t"),
        BadCase(rule: "baseline/SELinux", label: "custom user", path: container + ["securityContext", "seLinuxOptions", "user"], value: "system_u"),
        BadCase(rule: "baseline/SELinux", label: "custom role", path: container + ["securityContext", "seLinuxOptions", "role"], value: "sysadm_r"),
        BadCase(rule: "baseline/Seccomp", label: "Unconfined on a container", path: container + ["securityContext", "seccompProfile"], value: ["type": "Unconfined"]),
        BadCase(rule: "baseline/Sysctls", label: "kernel.msgmax", path: ["spec", "securityContext", "sysctls"], value: [["name": "kernel.msgmax", "value": "1"]]),
        BadCase(rule: "baseline//proc Mount Type", label: "Unmasked", path: container + ["securityContext", "procMount"], value: "Unmasked"),
        BadCase(rule: "restricted/Volume Types", label: "nfs", path: ["spec", "volumes", "1"], value: ["name": "n", "nfs": ["server": "s", "path": "/"]]),
        BadCase(rule: "restricted/Volume Types", label: "gitRepo", path: ["spec", "volumes", "1"], value: ["name": "g", "gitRepo": ["repository": "r"]]),
        BadCase(rule: "restricted/Privilege Escalation", label: "unset", path: container + ["securityContext", "allowPrivilegeEscalation"], value: .null),
        BadCase(rule: "restricted/Privilege Escalation", label: "true", path: container + ["securityContext", "allowPrivilegeEscalation"], value: true),
        BadCase(rule: "restricted/Running as Non-root", label: "unset everywhere", path: ["spec", "securityContext", "runAsNonRoot"], value: .null),
        BadCase(rule: "restricted/Running as Non-root", label: "container false", path: container + ["securityContext", "runAsNonRoot"], value: false),
        BadCase(rule: "restricted/Running as Non-root user", label: "pod runAsUser 0", path: ["spec", "securityContext", "runAsUser"], value: 0),
        BadCase(rule: "restricted/Running as Non-root user", label: "container runAsUser 0", path: container + ["securityContext", "runAsUser"], value: 0),
        BadCase(rule: "restricted/Seccomp", label: "unset everywhere", path: ["spec", "securityContext", "seccompProfile"], value: .null),
        BadCase(rule: "restricted/Capabilities", label: "ALL not dropped", path: container + ["securityContext", "capabilities", "drop"], value: ["NET_RAW"]),
        BadCase(rule: "restricted/Capabilities", label: "CHOWN added", path: container + ["securityContext", "capabilities", "add"], value: ["CHOWN"]),
    ]

    @Test func theCompliantPodMeetsRestricted() {
        #expect(PodSecurityStandards.violations(compliantPod(), level: .restricted).isEmpty)
    }

    /// Each bad case breaks its rule, and (except where the page's rules overlap) only that rule.
    @Test(arguments: badCases)
    func eachRuleCatchesItsViolation(bad: BadCase) throws {
        let found = PodSecurityStandards.violations(bad.pod, level: .restricted)
        #expect(found[bad.rule] != nil, "\(bad.rule) missed \(bad.label); found \(found)")
        // Overlaps the page itself has: an Unconfined seccomp also fails restricted's seccomp
        // rule; a capability beyond baseline's list also fails restricted's; hostPath is no
        // allowed volume type either.
        let overlapping: [String: Set<String>] = [
            "baseline/Seccomp": ["restricted/Seccomp"], "baseline/Capabilities": ["restricted/Capabilities"],
            "baseline/HostPath Volumes": ["restricted/Volume Types"],
        ]
        #expect(Set(found.keys) == Set([bad.rule]).union(overlapping[bad.rule] ?? []), "\(bad.label): \(found)")
        if bad.rule.hasPrefix("baseline/") {
            #expect(PodSecurityStandards.violations(bad.pod, level: .baseline)[bad.rule] != nil)
        } else {
            #expect(PodSecurityStandards.violations(bad.pod, level: .baseline).isEmpty, "\(bad.label) is allowed under baseline")
        }
    }

    @Test func everyRuleHasABadCaseAndASource() {
        let covered = Set(Self.badCases.map(\.rule))
        for rule in PodSecurityStandards.rules {
            #expect(covered.contains(rule.id), "no bad pod for \(rule.id)")
            #expect(rule.source.hasPrefix(PodSecurityStandards.page))
        }
        #expect(PodSecurityStandards.rules.count == 17)
    }

    @Test func containerLevelSettingsStandInForThePods() {
        // runAsNonRoot and seccomp on every container instead of the pod: restricted still holds.
        var pod = compliantPod()
            .setting(["spec", "securityContext", "runAsNonRoot"], to: .null)
            .setting(["spec", "securityContext", "seccompProfile"], to: .null)
        pod = pod.setting(Self.container + ["securityContext", "runAsNonRoot"], to: true)
            .setting(Self.container + ["securityContext", "seccompProfile"], to: ["type": "Localhost", "localhostProfile": "p.json"])
        #expect(PodSecurityStandards.violations(pod, level: .restricted).isEmpty)
        // An init container without them breaks both rules.
        let withInit = pod.setting(["spec", "initContainers"], to: [["name": "init", "securityContext": ["allowPrivilegeEscalation": false, "capabilities": ["drop": ["ALL"]]]]])
        let found = PodSecurityStandards.violations(withInit, level: .restricted)
        #expect(Set(found.keys) == ["restricted/Running as Non-root", "restricted/Seccomp"], "\(found)")
    }
}
