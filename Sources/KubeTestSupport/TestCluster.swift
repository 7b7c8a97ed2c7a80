import Foundation
#if canImport(Glibc)
import Glibc
#endif
import KubeClient
import KubeCore
import Synchronization

/// A real control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler) for
/// integration tests, driven through `hack/local-cluster.sh`.
///
/// ``shared()`` gives every test in a process the same cluster: the one named by
/// `TANDEM_TEST_KUBECONFIG` (with `TANDEM_TEST_CLUSTER_DIR`, as `make test` sets them), or one
/// started on first use and stopped when the process exits. Tests that disrupt the control plane
/// start their own with ``withPrivateCluster(name:apiserverFlags:_:)``.
public final class TestCluster: Sendable {
    /// The cluster's name in `hack/local-cluster.sh`.
    public let name: String
    /// The variables `local-cluster.sh env` printed (`KUBECONFIG`, `TANDEM_APISERVER_URL`, …).
    public let environment: [String: String]
    /// Whether this process started the cluster (and so must stop it).
    public let owned: Bool
    /// Extra kube-apiserver flags the cluster was started with.
    public let apiserverFlags: [String]
    /// Whether the API server writes an audit log (``auditLogPath``).
    public let audited: Bool

    public var kubeconfigPath: String { environment["KUBECONFIG"] ?? "" }
    public var apiserverURL: String { environment["TANDEM_APISERVER_URL"] ?? "" }
    public var etcdEndpoint: String { environment["TANDEM_ETCD_ENDPOINT"] ?? "" }
    public var caFile: String { environment["TANDEM_CA_FILE"] ?? "" }
    /// The API server's audit log (one JSON event a line, Metadata level), for a cluster started
    /// with `audit: true`; nil otherwise.
    public var auditLogPath: String? { environment["TANDEM_AUDIT_LOG"] }

    init(name: String, environment: [String: String], owned: Bool, apiserverFlags: [String] = [], audited: Bool = false) {
        self.name = name
        self.environment = environment
        self.owned = owned
        self.apiserverFlags = apiserverFlags
        self.audited = audited
    }

    /// Kills the kube-apiserver with SIGKILL (a crash, not a clean stop). Only for a cluster this
    /// process started.
    public func killAPIServer() throws {
        guard owned else { throw TestClusterError("refusing to kill the API server of a cluster this test did not start") }
        let pidFile = (environment["TANDEM_CLUSTER_DIR"] ?? "") + "/pids/kube-apiserver.pid"
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
            let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines))
        else { throw TestClusterError("no kube-apiserver pid in \(pidFile)") }
        guard kill(pid, SIGKILL) == 0 else { throw TestClusterError("kill \(pid) failed: errno \(errno)") }
    }

    /// Starts whatever component is down again (after ``killAPIServer()``), with the same flags.
    ///
    /// - Throws: ``TestClusterError`` when the API server came back on another address (its port
    ///   was taken meanwhile): clients holding the old URL, a fault proxy's upstream, would break.
    public func restart() async throws {
        let restarted = try await TestCluster.start(name: name, apiserverFlags: apiserverFlags, audit: audited)
        guard restarted.apiserverURL == apiserverURL else {
            throw TestClusterError("the API server of \(name) came back at \(restarted.apiserverURL), not \(apiserverURL): its port was taken while it was down")
        }
    }

    /// etcd's current revision (`etcdctl endpoint status`), the one a compaction up to now names.
    public func etcdRevision() async throws -> Int64 {
        let result = try await run(["etcdctl", "--endpoints", etcdEndpoint, "endpoint", "status", "-w", "json"])
        // [{"Endpoint":…,"Status":{"header":{…,"revision":123,…},…}}]
        guard result.status == 0, let data = result.output.data(using: .utf8),
            let list = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]],
            let status = list.first?["Status"] as? [String: Any], let header = status["header"] as? [String: Any],
            let revision = (header["revision"] as? NSNumber)?.int64Value
        else { throw TestClusterError("etcdctl endpoint status at \(etcdEndpoint) gave no revision (exit \(result.status)): \(result.output.prefix(500))") }
        return revision
    }

    /// Compacts etcd's history up to `revision` (`etcdctl compact`): watches and lists from an
    /// older resourceVersion are answered `410 Gone` by etcd from then on.
    public func compactEtcd(to revision: Int64) async throws {
        let result = try await run(["etcdctl", "--endpoints", etcdEndpoint, "compact", String(revision)])
        // Compacting to a revision already compacted is refused; nothing is lost by it.
        guard result.status == 0 || result.output.contains("required revision has been compacted") else {
            throw TestClusterError("etcdctl compact \(revision) at \(etcdEndpoint) failed (exit \(result.status)): \(result.output.prefix(500))")
        }
    }

    /// The process-wide shared cluster.
    ///
    /// - Throws: ``TestClusterError`` when it cannot be started; the message says how to
    ///   install the binaries.
    public static func shared() async throws -> TestCluster {
        try await SharedCluster.instance.get()
    }

    /// A cluster of its own for a group of tests that change cluster-wide state (Nodes): started
    /// on first use under `name` (plus the process id), shared by every caller in the process
    /// that asks for the same name, stopped when the process exits.
    ///
    /// - Parameter audit: the API server writes an audit log of every request (``auditLogPath``;
    ///   `TANDEM_AUDIT=1` of `hack/local-cluster.sh`).
    public static func dedicated(_ name: String, apiserverFlags: [String] = [], audit: Bool = false) async throws -> TestCluster {
        try await SharedCluster.instance.dedicated(name, apiserverFlags: apiserverFlags, audit: audit)
    }

    /// Starts a cluster of the caller's own, runs `body`, and stops and deletes it whatever happens.
    ///
    /// - Parameters:
    ///   - name: a prefix; the process id is appended so parallel runs never collide.
    ///   - apiserverFlags: extra kube-apiserver flags (`--watch-cache=false`).
    public static func withPrivateCluster<T>(
        name: String, apiserverFlags: [String] = [], _ body: (TestCluster) async throws -> T
    ) async throws -> T {
        let cluster = try await start(name: "\(name)-\(ProcessInfo.processInfo.processIdentifier)", apiserverFlags: apiserverFlags)
        do {
            let result = try await body(cluster)
            await cluster.stop(purge: true)
            return result
        } catch {
            await cluster.stop(purge: true)
            throw error
        }
    }

    /// Brings up a named cluster (idempotent) and reads its environment.
    ///
    /// - Parameter audit: the API server writes an audit log (``auditLogPath``).
    public static func start(name: String, apiserverFlags: [String] = [], audit: Bool = false) async throws -> TestCluster {
        var env: [String: String] = [:]
        if !apiserverFlags.isEmpty { env["TANDEM_APISERVER_FLAGS"] = apiserverFlags.joined(separator: " ") }
        if audit { env["TANDEM_AUDIT"] = "1" }
        let up = try await Script.run(["up", name], extraEnvironment: env)
        guard up.status == 0 else {
            throw TestClusterError("hack/local-cluster.sh up \(name) failed (exit \(up.status)):\n\(up.output)")
        }
        return TestCluster(name: name, environment: try await environment(of: name), owned: true, apiserverFlags: apiserverFlags,
                           audited: audit)
    }

    static func environment(of name: String) async throws -> [String: String] {
        let result = try await Script.run(["env", name])
        guard result.status == 0 else {
            throw TestClusterError("hack/local-cluster.sh env \(name) failed:\n\(result.output)")
        }
        var values: [String: String] = [:]
        for line in result.output.split(separator: "\n") {
            var text = line.trimmingCharacters(in: .whitespaces)
            if text.hasPrefix("export ") { text.removeFirst("export ".count) }
            guard let equals = text.firstIndex(of: "=") else { continue }
            var value = String(text[text.index(after: equals)...])
            if value.count >= 2, value.first == value.last, value.first == "\"" || value.first == "'" {
                value = String(value.dropFirst().dropLast())
            }
            values[String(text[..<equals])] = value
        }
        guard values["KUBECONFIG"] != nil else {
            throw TestClusterError("hack/local-cluster.sh env \(name) printed no KUBECONFIG:\n\(result.output)")
        }
        return values
    }

    /// Stops the processes this cluster's `up` started (only if this process started them).
    public func stop(purge: Bool = false) async {
        guard owned else { return }
        _ = try? await Script.run(["down", name] + (purge ? ["--purge"] : []))
    }

    /// A client with the cluster's admin credentials (client certificate, system:masters).
    public func adminClient(configure: (inout ClientConfiguration) -> Void = { _ in }) throws -> KubernetesClient {
        var configuration = try ClientConfiguration.fromKubeconfig(path: kubeconfigPath)
        configure(&configuration)
        return try KubernetesClient(configuration: configuration)
    }

    /// Runs `body` with an admin client and a fresh namespace of its own, deleting the namespace
    /// and closing the client afterwards.
    public func withNamespace<T>(
        _ prefix: String = "t", _ body: (KubernetesClient, String) async throws -> T
    ) async throws -> T {
        let client = try adminClient()
        let namespace = "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
        do {
            _ = try await client.resources(Namespace.self).create(Namespace(metadata: ObjectMeta(name: namespace)))
            let result = try await body(client, namespace)
            _ = try? await client.resources(Namespace.self).delete(namespace)
            try await client.shutdown()
            return result
        } catch {
            _ = try? await client.resources(Namespace.self).delete(namespace)
            try? await client.shutdown()
            throw error
        }
    }

    /// Runs a command with this cluster's environment (`etcdctl`, `kubectl`), returning its exit
    /// status and combined output.
    public func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await Script.exec(arguments, extraEnvironment: environment)
    }
}

/// Why a test cluster could not be used.
public struct TestClusterError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Starts the shared cluster once and stops it at process exit.
actor SharedCluster {
    static let instance = SharedCluster()
    private var cluster: TestCluster?
    private var failure: TestClusterError?
    private var dedicatedClusters: [String: TestCluster] = [:]

    func dedicated(_ name: String, apiserverFlags: [String], audit: Bool) async throws -> TestCluster {
        if let cluster = dedicatedClusters[name] { return cluster }
        let made = try await TestCluster.start(
            name: "\(name)-\(ProcessInfo.processInfo.processIdentifier)", apiserverFlags: apiserverFlags, audit: audit)
        dedicatedClusters[name] = made
        ExitCleanup.register(made.name)
        return made
    }

    func get() async throws -> TestCluster {
        if let cluster { return cluster }
        if let failure { throw failure }
        let environment = ProcessInfo.processInfo.environment
        do {
            if let kubeconfig = environment["TANDEM_TEST_KUBECONFIG"], !kubeconfig.isEmpty {
                var values = environment.filter { $0.key.hasPrefix("TANDEM_") }
                values["KUBECONFIG"] = kubeconfig
                let made = TestCluster(name: environment["TANDEM_CLUSTER_NAME"] ?? "external", environment: values, owned: false)
                cluster = made
                return made
            }
            let made = try await TestCluster.start(name: "test-\(ProcessInfo.processInfo.processIdentifier)")
            cluster = made
            ExitCleanup.register(made.name)
            return made
        } catch let error as TestClusterError {
            failure = error
            throw error
        }
    }
}

/// `atexit` cannot capture context, so the names of the clusters to stop live in a global.
enum ExitCleanup {
    private static let names = Mutex<[String]>([])

    static func register(_ name: String) {
        let first = names.withLock { list in
            list.append(name)
            return list.count == 1
        }
        guard first else { return }
        atexit {
            for name in ExitCleanup.names.withLock({ $0 }) {
                _ = try? Script.runBlocking(["down", name, "--purge"])
            }
        }
    }
}

/// Runs `hack/local-cluster.sh` and other commands, capturing their output.
public enum Script {
    /// The project's root: `TANDEM_ROOT`, or found upwards from this source file.
    public static var projectRoot: String {
        if let root = ProcessInfo.processInfo.environment["TANDEM_ROOT"], !root.isEmpty { return root }
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("hack/local-cluster.sh").path) {
                return url.path
            }
        }
        return FileManager.default.currentDirectoryPath
    }

    static func run(_ arguments: [String], extraEnvironment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        let result = try await exec([try script()] + arguments, extraEnvironment: extraEnvironment)
        return try checked(result)
    }

    /// ``run(_:extraEnvironment:)`` for `atexit`, where nothing may suspend.
    static func runBlocking(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let (process, output) = try launch([try script()] + arguments, extraEnvironment: [:])
        process.waitUntilExit()
        return try checked(finish(process, output))
    }

    static func script() throws -> String {
        let script = projectRoot + "/hack/local-cluster.sh"
        guard FileManager.default.isExecutableFile(atPath: script) else {
            throw TestClusterError("\(script) is missing or not executable")
        }
        return script
    }

    static func checked(_ result: (status: Int32, output: String)) throws -> (status: Int32, output: String) {
        if result.output.contains("install-deps") && result.status != 0 {
            throw TestClusterError(
                "the control-plane binaries are missing: run `make deps` (hack/install-deps.sh) first.\n\(result.output)")
        }
        return result
    }

    /// Runs a command found on PATH (or by path) to completion; stdin is /dev/null. Waits
    /// without holding a thread of the concurrency pool (a test process has only as many as
    /// cores, and a blocked one would stall every other test's timers).
    public static func exec(_ arguments: [String], extraEnvironment: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        let exited = AsyncStream<Void>.makeStream()
        let (process, output) = try launch(arguments, extraEnvironment: extraEnvironment) { _ in
            exited.continuation.yield()
            exited.continuation.finish()
        }
        for await _ in exited.stream { break }
        process.waitUntilExit()  // already exited: returns at once
        return finish(process, output)
    }

    static func launch(
        _ arguments: [String], extraEnvironment: [String: String], onExit: (@Sendable (Process) -> Void)? = nil
    ) throws -> (Process, URL) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment.merge(extraEnvironment) { _, new in new }
        process.environment = environment
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-exec-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        process.terminationHandler = onExit
        do {
            try process.run()
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: output)
            throw error
        }
        try? handle.close()
        return (process, output)
    }

    static func finish(_ process: Process, _ output: URL) -> (status: Int32, output: String) {
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: output)
        return (process.terminationStatus, text)
    }
}
