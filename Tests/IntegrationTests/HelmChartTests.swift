import AsyncHTTPClient
import Foundation
import KubeClient
import KubeCore
import Rendering
import Routing
import KubeTestSupport
import NIOSSL
import Simulation
import Sizing
import TandemAPI
import Testing
import Yams

/// Helm's own Go SDK (PyPI `helm-python-sdk`, no helm binary) through `hack/helm.py`, run with
/// the Python of the venv `hack/install-deps.sh` makes.
enum Helm {
    static let chart = Script.projectRoot + "/charts/tandem"
    static let allOn = chart + "/ci/all-on-values.yaml"

    static var python: String {
        let environment = ProcessInfo.processInfo.environment
        let cache = environment["TANDEM_CACHE"]
            ?? ((environment["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")) + "/tandem")
        return cache + "/venv/bin/python"
    }

    static func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try #require(FileManager.default.isExecutableFile(atPath: python),
                     "no Python venv with helm-python-sdk at \(python): run make deps (hack/install-deps.sh)")
        return try await Script.exec([python, Script.projectRoot + "/hack/helm.py"] + arguments)
    }

    /// `hack/helm.py template` of the chart, as parsed documents (and the text).
    static func template(_ arguments: [String]) async throws -> (documents: [JSONValue], text: String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-chart-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try await run(["template", chart, "-o", file.path] + arguments)
        guard result.status == 0 else {
            throw TestClusterError("hack/helm.py template \(arguments.joined(separator: " ")) failed (exit \(result.status)): \(result.output)")
        }
        let text = try String(contentsOf: file, encoding: .utf8)
        return (try documents(text), text)
    }

    static func documents(_ text: String) throws -> [JSONValue] {
        try Yams.compose_all(yaml: text).map { try YAMLDecoder().decode(JSONValue.self, from: $0) }.filter { $0 != .null }
    }
}

extension Array where Element == JSONValue {
    func objects(_ kind: String) -> [JSONValue] { filter { $0["kind"]?.stringValue == kind } }
    func object(_ kind: String, _ name: String, namespace: String? = nil) -> JSONValue? {
        first {
            $0["kind"]?.stringValue == kind && $0["metadata"]?["name"]?.stringValue == name
                && (namespace == nil || $0["metadata"]?["namespace"]?.stringValue == namespace)
        }
    }
}

/// The answer of `kubectl auth can-i` ("yes" or "no"), after any warnings it printed first.
func lastLine(_ output: String) -> String {
    output.split(separator: "\n").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
}

/// A grant or a use: API group, resource (with `/subresource`), verb.
struct Permission: Hashable, Comparable, CustomStringConvertible {
    var group: String
    var resource: String
    var verb: String
    var description: String { "\(verb) \(resource)\(group.isEmpty ? "" : ".\(group)")" }
    static func < (a: Permission, b: Permission) -> Bool { (a.group, a.resource, a.verb) < (b.group, b.resource, b.verb) }
}

/// Everything the rendered chart grants the ServiceAccount `namespace/name`: the rules of every
/// role a binding in `documents` gives it, expanded into (group, resource, verb).
func grants(in documents: [JSONValue], account name: String, namespace: String) throws -> Set<Permission> {
    var granted = Set<Permission>()
    for binding in documents.objects("ClusterRoleBinding") + documents.objects("RoleBinding") {
        let subjects = binding["subjects"]?.arrayValue ?? []
        guard subjects.contains(where: {
            $0["kind"]?.stringValue == "ServiceAccount" && $0["name"]?.stringValue == name && $0["namespace"]?.stringValue == namespace
        }) else { continue }
        let kind = binding["roleRef"]?["kind"]?.stringValue ?? ""
        let roleName = binding["roleRef"]?["name"]?.stringValue ?? ""
        let role = try #require(
            documents.object(kind, roleName, namespace: kind == "Role" ? binding["metadata"]?["namespace"]?.stringValue : nil),
            "\(binding["kind"]?.stringValue ?? "") \(binding["metadata"]?["name"]?.stringValue ?? "") names \(kind) \(roleName), which the chart does not render")
        for rule in role["rules"]?.arrayValue ?? [] {
            for group in rule["apiGroups"]?.arrayValue ?? [] {
                for resource in rule["resources"]?.arrayValue ?? [] {
                    for verb in rule["verbs"]?.arrayValue ?? [] {
                        granted.insert(Permission(group: group.stringValue ?? "", resource: resource.stringValue ?? "", verb: verb.stringValue ?? ""))
                    }
                }
            }
        }
    }
    return granted
}

/// What the audit log says `user` did: every (group, resource, verb) it was allowed, and the
/// requests it was denied. A server-side apply that answered 201 Created was also authorized
/// as `create` (the API server checks create when an apply makes the object), so it counts as
/// both patch and create.
func auditedUse(_ log: String, user: String) throws -> (used: Set<Permission>, denied: [String], requests: Int) {
    var used = Set<Permission>()
    var denied: [String] = []
    var seen = Set<String>()
    for line in log.split(separator: "\n") where line.contains("\"\(user)\"") {
        let event = try KubeJSON.decode(JSONValue.self, from: Data(line.utf8))
        guard event["user"]?["username"]?.stringValue == user, event["impersonatedUser"] == nil,
            let id = event["auditID"]?.stringValue, let reference = event["objectRef"], event["stage"]?.stringValue == "ResponseComplete"
        else { continue }
        guard seen.insert(id).inserted else { continue }
        let code = event["responseStatus"]?["code"]?.intValue ?? 0
        let verb = event["verb"]?.stringValue ?? ""
        let subresource = reference["subresource"]?.stringValue
        let permission = Permission(
            group: reference["apiGroup"]?.stringValue ?? "",
            resource: (reference["resource"]?.stringValue ?? "") + (subresource.map { "/\($0)" } ?? ""), verb: verb)
        if code == 403 {
            denied.append("\(permission) \(reference["namespace"]?.stringValue ?? "")/\(reference["name"]?.stringValue ?? ""): \(event["requestURI"]?.stringValue ?? "")")
            continue
        }
        used.insert(permission)
        if verb == "patch", code == 201 { used.insert(Permission(group: permission.group, resource: permission.resource, verb: "create")) }
    }
    return (used, denied, seen.count)
}

/// A cluster of the chart tests' own, with an audit log, where both renders of the chart (the
/// defaults as release `tandem` in `tandem-system`, every option on as `tandem-all`) are
/// rendered against the server's capabilities and applied: server-side dry run, then for real.
actor HelmCluster {
    static let shared = HelmCluster()

    struct Installed: Sendable {
        let cluster: TestCluster
        let defaults: [JSONValue]
        let allOn: [JSONValue]
        /// kubectl's answers: the dry runs, and the applies.
        let dryRuns: [(status: Int32, output: String)]
        let applies: [(status: Int32, output: String)]
        /// Whether the Deployment existed after the dry run (it must not).
        let existedAfterDryRun: Bool
    }

    private var installed: Installed?

    /// The Prometheus Operator's ServiceMonitor kind, reduced to what the API server needs to
    /// store one (the real CRD carries the full schema).
    static let serviceMonitorCRD = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: servicemonitors.monitoring.coreos.com
        spec:
          group: monitoring.coreos.com
          names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors, singular: servicemonitor}
          scope: Namespaced
          versions:
          - name: v1
            served: true
            storage: true
            schema:
              openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
        """

    func get() async throws -> Installed {
        if let installed { return installed }
        let cluster = try await TestCluster.dedicated("helm", audit: true)
        try #require(cluster.auditLogPath != nil, "the chart tests' cluster has no audit log (hack/local-cluster.sh TANDEM_AUDIT=1)")
        let monitor = try await kubectl(cluster, ["apply", "--server-side"], stdin: Self.serviceMonitorCRD)
        guard monitor.status == 0 else { throw TestClusterError("installing the ServiceMonitor CRD failed: \(monitor.output)") }
        let client = try cluster.adminClient()
        defer { Task { try? await client.shutdown() } }
        _ = try await eventually("the ServiceMonitor CRD to be established") {
            try await client.resources(CustomResourceDefinition.self).get("servicemonitors.monitoring.coreos.com").isEstablished ? true : nil
        }
        // The Gateway API Inference Extension, whose InferencePool the operator writes for a pool's router.
        try await installCRD(cluster, file: GatewayCRD.file, name: GatewayCRD.name)
        // Both renders first: Helm's server-side dry run refuses objects that exist and are not its own.
        let defaults = try await Helm.template(["--kubeconfig", cluster.kubeconfigPath])
        let allOn = try await Helm.template(["--kubeconfig", cluster.kubeconfigPath, "-f", Helm.allOn, "--name", "tandem-all", "--namespace", "tandem-all"])
        for namespace in ["tandem-system", "tandem-all", "team-a", "team-b"] {
            _ = try await client.resources(Namespace.self).create(Namespace(metadata: ObjectMeta(name: namespace)))
        }
        var dryRuns: [(status: Int32, output: String)] = []
        var applies: [(status: Int32, output: String)] = []
        for render in [defaults.text, allOn.text] {
            dryRuns.append(try await kubectl(cluster, ["apply", "--server-side", "--dry-run=server"], stdin: render))
        }
        let existed = try await client.resources(Deployment.self, namespace: "tandem-system").getIfExists("tandem") != nil
        for render in [defaults.text, allOn.text] {
            applies.append(try await kubectl(cluster, ["apply", "--server-side"], stdin: render))
        }
        let made = Installed(cluster: cluster, defaults: defaults.documents, allOn: allOn.documents, dryRuns: dryRuns,
                             applies: applies, existedAfterDryRun: existed)
        installed = made
        return made
    }
}

@Suite("The Helm chart: linted and rendered by Helm's SDK, applied, and its RBAC measured", .serialized)
struct HelmChartTests {
    @Test func lintsAndRendersWithDefaultsAndEveryOptionOn() async throws {
        for values in [[], ["-f", Helm.allOn]] {
            let lint = try await Helm.run(["lint", Helm.chart, "--strict"] + values)
            #expect(lint.status == 0, "helm lint --strict \(values.joined(separator: " ")): \(lint.output)")
            #expect(lint.output.contains("1 chart(s) linted, no failures"), "\(lint.output)")
        }

        let defaults = try await Helm.template([]).documents
        #expect(Set(defaults.compactMap { $0["kind"]?.stringValue }) == [
            "CustomResourceDefinition", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Service", "Deployment",
        ])
        let deployment = try #require(defaults.object("Deployment", "tandem", namespace: "tandem-system"))
        #expect(deployment["spec"]?["replicas"]?.intValue == 2)
        let pod = try #require(deployment["spec"]?["template"]?["spec"])
        #expect(pod["serviceAccountName"]?.stringValue == "tandem")
        #expect(pod["securityContext"]?["runAsNonRoot"] == .bool(true))
        #expect(pod["securityContext"]?["seccompProfile"]?["type"]?.stringValue == "RuntimeDefault")
        let container = try #require(pod["containers"]?.arrayValue?.first)
        #expect(container["securityContext"]?["readOnlyRootFilesystem"] == .bool(true))
        #expect(container["securityContext"]?["allowPrivilegeEscalation"] == .bool(false))
        #expect(container["securityContext"]?["capabilities"]?["drop"] == ["ALL"])
        #expect(container["livenessProbe"]?["httpGet"]?["path"]?.stringValue == "/healthz")
        #expect(container["readinessProbe"]?["httpGet"]?["path"]?.stringValue == "/readyz")
        // The probes on their own plain-HTTP port (the kubelet sends no token); /metrics secure.
        #expect(container["livenessProbe"]?["httpGet"]?["port"]?.stringValue == "health")
        #expect(container["readinessProbe"]?["httpGet"]?["port"]?.stringValue == "health")
        #expect(container["resources"]?["requests"]?["memory"] != nil && container["resources"]?["limits"]?["memory"] != nil)
        let args = container["args"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(args.contains("--leader-elect=true") && args.contains("--leader-election-namespace=tandem-system"), "\(args)")
        #expect(!args.contains { $0.hasPrefix("--namespace=") }, "the default watches every namespace: \(args)")
        #expect(args.contains("--metrics-secure=true") && args.contains("--health-probe-address=0.0.0.0:8081"), "\(args)")
        // Secure /metrics: the reviews it asks for, and the role a scraper is bound to.
        let reader = try #require(defaults.object("ClusterRole", "tandem-metrics-reader"))
        #expect(reader["rules"] == [["nonResourceURLs": ["/metrics"], "verbs": ["get"]]])
        // Leader election: create any Lease, read and renew only Tandem's.
        let election = try #require(defaults.object("Role", "tandem-leader-election", namespace: "tandem-system"))
        #expect(election["rules"]?.arrayValue?.contains { $0["resourceNames"] == ["tandem-operator"] } == true)

        let all = try await Helm.template(["-f", Helm.allOn, "--name", "tandem-all", "--namespace", "tandem-all"]).documents
        #expect(all.object("PodDisruptionBudget", "tandem-all")?["apiVersion"]?.stringValue == "policy/v1",
                "offline, Helm assumes a current Kubernetes")
        #expect(all.object("ServiceMonitor", "tandem-all")?["spec"]?["endpoints"]?.arrayValue?.first?["port"]?.stringValue == "metrics")
        for namespace in ["team-a", "team-b"] {
            #expect(all.object("Role", "tandem-all", namespace: namespace) != nil, "no Role in watched namespace \(namespace)")
            #expect(all.object("RoleBinding", "tandem-all", namespace: namespace) != nil)
        }
        // Watching given namespaces, the ClusterRole keeps only the cluster-scoped reads.
        let clusterRole = try #require(all.object("ClusterRole", "tandem-all"))
        #expect(clusterRole["rules"]?.arrayValue?.flatMap { $0["resources"]?.arrayValue ?? [] } == ["nodes", "tokenreviews", "subjectaccessreviews"])
        let monitor = all.object("ServiceMonitor", "tandem-all")?["spec"]?["endpoints"]?.arrayValue?.first
        #expect(monitor?["scheme"]?.stringValue == "https" && monitor?["bearerTokenFile"] != nil, "\(String(describing: monitor))")
        let allArgs = all.object("Deployment", "tandem-all")?["spec"]?["template"]?["spec"]?["containers"]?.arrayValue?.first?["args"]?.arrayValue?
            .compactMap(\.stringValue) ?? []
        #expect(allArgs.contains("--namespace=team-a") && allArgs.contains("--namespace=team-b"), "\(allArgs)")
        #expect(all.object("ClusterRole", "tandem-all-view")?["metadata"]?["labels"]?["rbac.authorization.k8s.io/aggregate-to-view"]?.stringValue == "true")
        #expect(all.object("ClusterRole", "tandem-all-edit")?["metadata"]?["labels"]?["rbac.authorization.k8s.io/aggregate-to-edit"]?.stringValue == "true")

        // For Kubernetes 1.20 (no policy/v1), the PodDisruptionBudget is policy/v1beta1.
        let old = try await Helm.template(["-f", Helm.allOn, "--kube-version", "v1.20.2"]).documents
        #expect(old.objects("PodDisruptionBudget").first?["apiVersion"]?.stringValue == "policy/v1beta1")
    }

    @Test func valuesSchemaRejectsBadValues() async throws {
        let cases = [
            ("replicaCount: two", "at '/replicaCount': got string, want integer"),
            ("operator: {logFormat: xml}", "at '/operator/logFormat': value must be one of 'json', 'text'"),
            ("replicas: 3", "additional properties 'replicas' not allowed"),
            ("watchNamespaces: [Team_A]", "/watchNamespaces/0"),
        ]
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for (index, (values, message)) in cases.enumerated() {
            let file = folder.appendingPathComponent("bad-\(index).yaml")
            try values.write(to: file, atomically: true, encoding: .utf8)
            let rendered = try await Helm.run(["template", Helm.chart, "-f", file.path, "-o", folder.appendingPathComponent("out.yaml").path])
            #expect(rendered.status == 1, "values \(values) were accepted")
            #expect(rendered.output.contains("values.schema.json") && rendered.output.contains(message), "values \(values): \(rendered.output)")
        }
        // What the schema cannot say, the templates do: several replicas need leader election.
        let file = folder.appendingPathComponent("no-election.yaml")
        try "leaderElection: {enabled: false}\n".write(to: file, atomically: true, encoding: .utf8)
        let refused = try await Helm.run(["template", Helm.chart, "-f", file.path, "-o", folder.appendingPathComponent("out.yaml").path])
        #expect(refused.status == 1)
        #expect(refused.output.contains("replicaCount is 2 but leaderElection.enabled is false"), "\(refused.output)")
    }

    @Test func chartCRDsAreTheGeneratorsOutput() async throws {
        func parse(_ text: String) throws -> [JSONValue] { try Helm.documents(text) }
        let generated = try CRDGenerator.all().map { try #require(parse(CRDGenerator.yaml($0)).first) }
        let committed = try parse(String(contentsOfFile: Script.projectRoot + "/crds/inference.x-k8s.io_inferencepools.yaml", encoding: .utf8))
        #expect(committed == generated, "crds/ differs from `tandem crds`")

        let chart = try await Helm.template([]).documents.objects("CustomResourceDefinition")
        #expect(chart.count == generated.count)
        for crd in chart {
            #expect(crd["metadata"]?["annotations"]?["helm.sh/resource-policy"]?.stringValue == "keep")
            #expect(crd["metadata"]?["labels"]?["app.kubernetes.io/managed-by"]?.stringValue == "Helm")
            // Less what the chart adds, the generator's CRD.
            guard case .object(var object) = crd, case .object(var metadata)? = object["metadata"],
                  case .object(var annotations)? = metadata["annotations"] else {
                Issue.record("the chart's CRD has no metadata.annotations: \(crd)")
                continue
            }
            annotations["helm.sh/resource-policy"] = nil
            metadata["annotations"] = .object(annotations)
            metadata["labels"] = nil
            object["metadata"] = .object(metadata)
            let name = metadata["name"]?.stringValue
            #expect(generated.first { $0["metadata"]?["name"]?.stringValue == name } == .object(object),
                    "the chart's CRD \(name ?? "") is not the generator's; run hack/render-manifests.sh")
        }
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let off = folder.appendingPathComponent("off.yaml")
        try "crds: {install: false}\n".write(to: off, atomically: true, encoding: .utf8)
        #expect(try await Helm.template(["-f", off.path]).documents.objects("CustomResourceDefinition").isEmpty)
        let unkept = folder.appendingPathComponent("unkept.yaml")
        try "crds: {keep: false}\n".write(to: unkept, atomically: true, encoding: .utf8)
        let crd = try await Helm.template(["-f", unkept.path]).documents.objects("CustomResourceDefinition").first
        #expect(crd?["metadata"]?["annotations"]?["helm.sh/resource-policy"] == nil)
    }

    /// The measurement itself, on audit events of the shapes the API server writes.
    @Test func auditReadingCountsAppliesThatCreateAndDenials() throws {
        func event(_ id: String, _ verb: String, _ resource: String, group: String = "", code: Int, stage: String = "ResponseComplete",
                   user: String = "system:serviceaccount:ns:op", impersonated: Bool = false) -> String {
            let impersonation = impersonated ? #","impersonatedUser":{"username":"system:serviceaccount:ns:op"}"# : ""
            let who = impersonated ? "admin" : user
            return #"{"auditID":"\#(id)","stage":"\#(stage)","verb":"\#(verb)","user":{"username":"\#(who)"}\#(impersonation),"# +
                #""objectRef":{"resource":"\#(resource)","apiGroup":"\#(group)","namespace":"x","name":"y"},"requestURI":"/u","# +
                #""responseStatus":{"code":\#(code)}}"#
        }
        let log = [
            event("1", "patch", "deployments", group: "apps", code: 201),  // an apply that created
            event("2", "patch", "services", code: 200),                    // an apply that updated
            event("3", "watch", "pods", code: 200, stage: "ResponseStarted"),
            event("3", "watch", "pods", code: 200),
            event("4", "get", "secrets", code: 403),
            event("5", "list", "configmaps", code: 200, impersonated: true), // kubectl auth can-i --as
            event("6", "list", "nodes", code: 200, user: "someone-else"),
        ].joined(separator: "\n")
        let audit = try auditedUse(log, user: "system:serviceaccount:ns:op")
        #expect(audit.used == [
            Permission(group: "apps", resource: "deployments", verb: "patch"), Permission(group: "apps", resource: "deployments", verb: "create"),
            Permission(group: "", resource: "services", verb: "patch"), Permission(group: "", resource: "pods", verb: "watch"),
        ])
        #expect(audit.denied.count == 1 && audit.denied[0].hasPrefix("get secrets x/y"), "\(audit.denied)")
        #expect(audit.requests == 4)
    }

    @Test func committedManifestsAreAFreshRender() async throws {
        let check = try await Script.exec(["bash", Script.projectRoot + "/hack/render-manifests.sh", "--check"])
        #expect(check.status == 0, "\(check.output)")
        #expect(check.output.contains("charts/install.yaml and charts/tandem/templates/crds are up to date"), "\(check.output)")
    }

    @Test func appliesToTheControlPlaneWithDefaultsAndEveryOptionOn() async throws {
        let installed = try await HelmCluster.shared.get()
        let cluster = installed.cluster
        for (index, run) in installed.dryRuns.enumerated() {
            #expect(run.status == 0, "server-side dry run \(index): \(run.output)")
            #expect(run.output.contains("deployment.apps/tandem") && run.output.contains("(server dry run)"), "\(run.output)")
        }
        #expect(!installed.existedAfterDryRun, "the dry run created the Deployment")
        for (index, run) in installed.applies.enumerated() {
            #expect(run.status == 0, "apply \(index): \(run.output)")
        }
        // Rendered against the 1.20 API server's capabilities: it serves no policy/v1.
        #expect(installed.allOn.objects("PodDisruptionBudget").first?["apiVersion"]?.stringValue == "policy/v1beta1")

        // The operator's own pods cannot run here (no kubelet, no container runtime): they are
        // created — the pod spec passes admission — and stay Pending, unschedulable.
        let client = try cluster.adminClient()
        defer { Task { try? await client.shutdown() } }
        for (namespace, replicas) in [("tandem-system", 2), ("tandem-all", 3)] {
            let pods = try await eventually("\(replicas) unschedulable operator pods in \(namespace)") { () -> [Pod]? in
                let pods = try await client.resources(Pod.self, namespace: namespace).list().items
                let unschedulable = pods.filter { pod in
                    pod.status?.phase == "Pending"
                        && pod.status?.conditions?.contains { $0.type == "PodScheduled" && $0.status == "False" && $0.reason == "Unschedulable" } == true
                }
                return unschedulable.count == replicas && pods.count == replicas ? pods : nil
            }
            #expect(pods.allSatisfy { $0.spec?.serviceAccountName?.hasPrefix("tandem") == true })
        }

        // Watching team-a and team-b, the all-on release's account can do nothing elsewhere.
        let account = "system:serviceaccount:tandem-all:tandem-operator"
        for (arguments, answer) in [(["list", "inferencepools.inference.x-k8s.io", "-n", "team-a"], "yes"),
                                    (["patch", "deployments.apps", "-n", "team-b"], "yes"),
                                    (["list", "inferencepools.inference.x-k8s.io", "-n", "default"], "no"),
                                    (["list", "nodes"], "yes")] {
            let can = try await kubectl(cluster, ["auth", "can-i"] + arguments + ["--as", account])
            #expect(lastLine(can.output) == answer, "can-i \(arguments.joined(separator: " ")): \(can.output)")
        }
        // The aggregation controller adds InferencePools to the built-in roles.
        _ = try await eventually("view and edit to aggregate InferencePools") { () -> Bool? in
            let view = try await client.resources(ClusterRole.self).get("view").rules ?? []
            let edit = try await client.resources(ClusterRole.self).get("edit").rules ?? []
            let readable = view.contains { $0.resources?.contains("inferencepools") == true && $0.verbs?.contains("list") == true }
            let writable = edit.contains { $0.resources?.contains("inferencepools") == true && $0.verbs?.contains("create") == true }
            return readable && writable ? true : nil
        }
    }

    @Test func operatorUnderTheChartsAccountUsesExactlyWhatItIsGranted() async throws {
        let installed = try await HelmCluster.shared.get()
        let cluster = installed.cluster
        let user = "system:serviceaccount:tandem-system:tandem"
        let admin = try cluster.adminClient()
        defer { Task { try? await admin.shutdown() } }

        // The account's own credentials: a token from the TokenRequest API in a kubeconfig.
        let token = try await tokenRequest(admin, namespace: "tandem-system", name: "tandem")
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let kubeconfig = folder.appendingPathComponent("tandem.kubeconfig")
        try """
            apiVersion: v1
            kind: Config
            clusters:
            - name: local
              cluster: {server: "\(cluster.apiserverURL)", certificate-authority-data: "\(Data(try caPEM(cluster)).base64EncodedString())"}
            users:
            - name: tandem
              user: {token: "\(token)"}
            contexts:
            - name: tandem
              context: {cluster: local, user: tandem, namespace: tandem-system}
            current-context: tandem
            """.write(to: kubeconfig, atomically: true, encoding: .utf8)

        let h200 = try #require(AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h200"))
        let nodes = (0..<2).map { EmulatedNode(name: "helm-h200-\($0)", accelerator: h200, devices: 4) }
        var peakKiB = 0
        try await withNodeAgent(cluster, nodes, startupDelay: .fixed(.milliseconds(300))) { _, _, _ in
            try await cluster.withNamespace("serving") { client, namespace in
                // Two replicas, as the chart runs them: one leads, the other watches the Lease.
                let operators = try (0..<2).map { index in
                    try OperatorProcess(
                        ["--kubeconfig", kubeconfig.path, "--leader-election-namespace", "tandem-system",
                         "--metrics-address", "127.0.0.1:0",
                         "--autoscaler-interval", "1", "--autoscaler-status-interval", "2", "--log-format", "json"],
                        name: "helm-\(index)")
                }
                defer { operators.forEach { $0.remove() } }
                do {
                    // A pool whose tiers the operator scales, with llm-d's router.
                    let pools = client.resources(InferencePool.self, namespace: namespace)
                    _ = try await pools.create(InferencePool(
                        metadata: ObjectMeta(name: "llama"),
                        spec: InferencePoolSpec(
                            model: "meta-llama/Llama-3.1-8B-Instruct", accelerator: "nvidia-h200",
                            prefillConfig: TierConfig(autoscaling: AutoscalingSpec(mode: .operator, minReplicas: 1, maxReplicas: 2)),
                            decodeConfig: TierConfig(autoscaling: AutoscalingSpec(mode: .operator, minReplicas: 1, maxReplicas: 3)),
                            scheduler: SchedulerSpec(enableCacheAwareRouting: true, enableLoadBalancing: true, disaggregationThreshold: 100))))
                    _ = try await eventually("the pool's GIE InferencePool") {
                        try await client.resources(GatewayInferencePool.self, namespace: namespace).getIfExists("llama")
                    }
                    _ = try await eventually(timeout: .seconds(90), "the pool to be Ready") {
                        condition(try await pools.get("llama"), "Ready")?.status == .true ? true : nil
                    }
                    // Autoscaling: a higher floor makes the autoscaler scale decode up.
                    _ = try await pools.patch("llama", .merge(["spec": ["decodeConfig": ["autoscaling": ["minReplicas": 2]]]]))
                    let deployments = client.resources(Deployment.self, namespace: namespace)
                    _ = try await eventually("decode scaled to 2 and the pool Ready") { () -> Bool? in
                        let decode = try await deployments.get("llama-decode")
                        let pool = try await pools.get("llama")
                        return decode.spec?.replicas == 2 && decode.status?.readyReplicas == 2 && condition(pool, "Ready")?.status == .true
                            && pool.status?.scalingHistory?.isEmpty == false ? true : nil
                    }
                    let decode = try await deployments.get("llama-decode")
                    #expect(decode.metadata.managedFields?.contains { $0.manager == "tandem-autoscaler" } == true)
                    // Two hand edits, each put back: the second "Updated" Event is a repeat, counted on the first.
                    for round in 1...2 {
                        _ = try await deployments.patch("llama-decode", .json([.replace("/spec/template/spec/containers/0/image", .string("example/other:\(round)"))]))
                        _ = try await eventually("the image to be put back (\(round))") {
                            try await deployments.get("llama-decode").spec?.template?.spec?.containers?.first?.image != "example/other:\(round)" ? true : nil
                        }
                    }
                    _ = try await eventually("the repeated Event's series") {
                        try await client.resources(Event.self, namespace: namespace).list().items
                            .contains { $0.reason == "Updated" && ($0.series?.count ?? 0) >= 2 } ? true : nil
                    }
                    // The scheduler block goes: so does the router, deleted by the operator.
                    _ = try await pools.patch("llama", .merge(["spec": ["scheduler": .null]]))
                    _ = try await eventually("the router deleted") { () -> Bool? in
                        let gie = try await client.resources(GatewayInferencePool.self, namespace: namespace).getIfExists("llama")
                        let account = try await client.resources(ServiceAccount.self, namespace: namespace).getIfExists("llama-epp")
                        let picker = try await deployments.getIfExists("llama-epp")
                        return gie == nil && account == nil && picker == nil ? true : nil
                    }
                    // Secure /metrics under the chart's account: each scrape costs the operator a
                    // TokenReview and a SubjectAccessReview (the grants the audit below looks for).
                    // The chart's account itself is no metrics reader: 403; no token: 401.
                    var tls = TLSConfiguration.makeClientConfiguration()
                    tls.certificateVerification = .none  // the operator's self-signed certificate
                    let http = HTTPClient(configuration: HTTPClient.Configuration(tlsConfiguration: tls))
                    defer { Task { try? await http.shutdown() } }
                    let metricsURL = try await eventually("an operator's metrics address in its log") { () -> String? in
                        operators.lazy.compactMap { process -> String? in
                            guard let range = process.output.range(of: #"https://127\.0\.0\.1:[0-9]+"#, options: .regularExpression)
                            else { return nil }
                            return String(process.output[range]) + "/metrics"
                        }.first
                    }
                    for (bearer, expected) in [(nil, 401), (token, 403)] as [(String?, Int)] {
                        var request = HTTPClientRequest(url: metricsURL)
                        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
                        let response = try await http.execute(request, timeout: .seconds(15))
                        #expect(Int(response.status.code) == expected, "GET \(metricsURL) with\(bearer == nil ? "out" : "") a token")
                    }
                    peakKiB = operators.compactMap(\.peakMemoryKiB).max() ?? 0
                    for process in operators {
                        let status = try await process.stop()
                        #expect(status == 0, "operator exited \(status):\n\(process.output.suffix(3000))")
                    }
                } catch {
                    for process in operators { print("operator log:\n\(process.output.suffix(3000))") }
                    throw error
                }
            }
        }

        // Watches show in the audit log when they end: give the API server a moment.
        let logPath = try #require(cluster.auditLogPath)
        let audit = try await eventually("the operators' watches in the audit log") { () -> (used: Set<Permission>, denied: [String], requests: Int)? in
            let found = try auditedUse(String(contentsOfFile: logPath, encoding: .utf8), user: user)
            return found.used.contains(Permission(group: "", resource: "nodes", verb: "watch")) ? found : nil
        }
        let granted = try grants(in: installed.defaults, account: "tandem", namespace: "tandem-system")
        print("""
            helm rbac: the audit log shows \(audit.requests) requests of \(user), \(audit.used.count) (verb, resource) pairs used; \
            the chart grants \(granted.count); operator peak RSS \(peakKiB / 1024) MiB
              used:    \(audit.used.sorted().map(\.description).joined(separator: ", "))
              granted: \(granted.sorted().map(\.description).joined(separator: ", "))
            """)
        #expect(audit.denied.isEmpty, "the account was denied what the operator needed: \(audit.denied.prefix(10))")
        // Granted and never used: exactly what the picker's Role grants and the operator does not
        // do itself (Kubernetes lets it grant only what it holds).
        let delegated = Set(RouterRenderer.endpointPickerRules.flatMap { rule in
            (rule.apiGroups ?? []).flatMap { group in
                (rule.resources ?? []).flatMap { resource in (rule.verbs ?? []).map { Permission(group: group, resource: resource, verb: $0) } }
            }
        })
        // Granted for a check the API server makes without a request of its own: under the
        // OwnerReferencesPermissionEnforcement admission plugin (on by default on OpenShift),
        // setting blockOwnerDeletion on a child's owner reference needs update on the owner's
        // finalizers. The audit log shows no such request.
        let justified: Set<Permission> = [Permission(group: "inference.x-k8s.io", resource: "inferencepools/finalizers", verb: "update")]
        let unused = granted.subtracting(audit.used)
        #expect(unused == delegated.union(justified).subtracting(audit.used),
                "granted but never used, not delegated to the picker and not justified (not least privilege): \(unused.subtracting(delegated).subtracting(justified).sorted()); delegated but not granted: \(delegated.subtracting(granted).sorted())")
        #expect(justified.isSubset(of: granted))
        #expect(delegated.isSubset(of: granted))
        let ungranted = audit.used.subtracting(granted)
        #expect(ungranted.isEmpty, "used without a grant in the chart (another role allows it?): \(ungranted.sorted())")

        // Reading Secrets is denied (what `kubectl auth can-i` asks through a SubjectAccessReview).
        for arguments in [["get", "secrets", "-n", "tandem-system"], ["list", "secrets", "--all-namespaces"]] {
            let can = try await kubectl(cluster, ["auth", "can-i"] + arguments + ["--as", user])
            #expect(lastLine(can.output) == "no", "can-i \(arguments.joined(separator: " ")): \(can.output)")
            #expect(can.status == 1)
        }
    }
}
