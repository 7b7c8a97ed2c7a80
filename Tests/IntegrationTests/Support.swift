import Foundation
import KubeClient
import KubeCore
import KubeTestSupport
import Testing

/// Polls `condition` every 100 ms until it returns a value or `timeout` passes.
///
/// The default deadline is generous on purpose: it only bounds how long a failure takes to
/// show, and on a shared CI machine (another process on a core, several control planes starting
/// at once) one reconcile has been seen to take 30 s. Pass a shorter one only when the deadline
/// itself is what a test is about (then say so beside it).
func eventually<T>(
    timeout: Duration = .seconds(90), _ what: String, _ condition: () async throws -> T?
) async throws -> T {
    let deadline = ContinuousClock.now + timeout
    var lastError: (any Error)?
    while ContinuousClock.now < deadline {
        do {
            if let value = try await condition() { return value }
        } catch {
            lastError = error
        }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw TestClusterError("timed out after \(timeout) waiting for \(what)\(lastError.map { "; last error: \($0)" } ?? "")")
}

/// Asserts that `body` throws an ``APIError`` of `reason`, and returns it.
@discardableResult
func expectAPIError<T>(
    _ reason: APIError.Reason, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T
) async -> APIError? {
    do {
        let value = try await body()
        Issue.record("expected \(reason), got a result: \(value)", sourceLocation: sourceLocation)
    } catch let error as APIError {
        #expect(error.reason == reason, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected APIError \(reason), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// A service account with a real token from the TokenRequest API, optionally allowed `verbs`
/// on ConfigMaps in its namespace.
func serviceAccountToken(
    _ client: KubernetesClient, namespace: String, name: String, configMapVerbs: [String] = []
) async throws -> String {
    _ = try await client.resources(ServiceAccount.self, namespace: namespace)
        .create(ServiceAccount(metadata: ObjectMeta(name: name)))
    if !configMapVerbs.isEmpty {
        _ = try await client.resources(Role.self, namespace: namespace).create(
            Role(metadata: ObjectMeta(name: name), rules: [
                PolicyRule(apiGroups: [""], resources: ["configmaps"], verbs: configMapVerbs)
            ]))
        _ = try await client.resources(RoleBinding.self, namespace: namespace).create(
            RoleBinding(
                metadata: ObjectMeta(name: name), roleRef: RoleRef(kind: "Role", name: name),
                subjects: [Subject(kind: "ServiceAccount", name: name, namespace: namespace)]))
    }
    return try await tokenRequest(client, namespace: namespace, name: name)
}

/// A token of the existing ServiceAccount `namespace/name` from the TokenRequest API, valid an hour.
func tokenRequest(_ client: KubernetesClient, namespace: String, name: String) async throws -> String {
    try await client.requestToken(namespace: namespace, serviceAccount: name, audiences: ["https://kubernetes.default.svc"])
}

/// Reads the cluster's CA bundle.
func caPEM(_ cluster: TestCluster) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: cluster.caFile) else {
        throw TestClusterError("cannot read the cluster CA at \(cluster.caFile)")
    }
    return Array(data)
}

/// A temporary folder removed by the caller.
func temporaryFolder() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-it-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A `tandem operator` process (the binary `swift build` made), its output in a log file.
final class OperatorProcess: @unchecked Sendable {
    let process = Process()
    let log: URL

    init(_ arguments: [String], name: String) throws {
        let binary = Script.projectRoot + "/.build/debug/tandem"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the tandem binary first (swift build)")
        log = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-\(name)-\(UUID().uuidString.prefix(6)).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["operator"] + arguments
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try handle.close()
    }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// The peak resident memory so far (VmHWM), in KiB.
    var peakMemoryKiB: Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return nil }
        return Int(line.split(separator: " ").dropFirst().first ?? "")
    }

    /// SIGTERM, then waits for the exit; returns the exit status.
    func stop() async throws -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        _ = try await eventually("operator pid \(process.processIdentifier) to exit") { process.isRunning ? nil : true }
        return process.terminationStatus
    }

    func remove() {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: log)
    }
}

/// A cluster of a suite's own with Tandem's CRD, started on first use and shared by the suite's
/// tests; `prepare` runs once on it first (nodes to register, other CRDs to install).
actor PreparedCluster {
    private let name: String
    private let prepare: @Sendable (TestCluster) async throws -> Void
    private var ready: TestCluster?

    init(_ name: String, prepare: @escaping @Sendable (TestCluster) async throws -> Void = { _ in }) {
        self.name = name
        self.prepare = prepare
    }

    func get() async throws -> TestCluster {
        if let ready { return ready }
        let cluster = try await dedicatedClusterWithCRD(name)
        try await prepare(cluster)
        ready = cluster
        return cluster
    }
}

/// Applies the CRD in `file` and waits until the API server has established `name`.
func installCRD(_ cluster: TestCluster, file: String, name: String) async throws {
    let applied = try await cluster.run(["kubectl", "apply", "-f", file])
    guard applied.status == 0 else { throw TestClusterError("installing the CRD \(name) failed: \(applied.output)") }
    let client = try cluster.adminClient()
    defer { Task { try? await client.shutdown() } }
    _ = try await eventually("the CRD \(name) to be established") {
        try await client.resources(CustomResourceDefinition.self).get(name).isEstablished ? true : nil
    }
}

/// GIE's InferencePool CRD as `hack/gie/` writes it.
enum GatewayCRD {
    static let file = Script.projectRoot + "/hack/gie/inferencepools.inference.networking.k8s.io.yaml"
    static let name = "inferencepools.inference.networking.k8s.io"
}
