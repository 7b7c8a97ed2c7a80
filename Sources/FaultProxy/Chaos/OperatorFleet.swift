import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// `tandem operator` processes for the chaos suite, each reaching the API server only through a
/// ``FaultProxy`` with a ServiceAccount token of its own, so the proxy's record and faults tell
/// them apart (by their `User-Agent: tandem/<identity>`, or by the token, registered with
/// ``FaultProxy/identify(bearerToken:as:)``).
///
/// Tokens come from the caller (the TokenRequest API for the chart's ServiceAccount); the
/// proxy's TLS ends client certificates, so an admin kubeconfig cannot be used through it.
public final class OperatorFleet: Sendable {
    /// One running (or exited) process.
    public struct Member: Sendable {
        public var identity: String
        public var pid: Int32
        public var log: URL
        public var kubeconfig: URL
    }

    private final class Running: @unchecked Sendable {
        // Process is not Sendable; it is only touched under the fleet's lock or after exit.
        let process: Process
        let member: Member
        init(process: Process, member: Member) {
            self.process = process
            self.member = member
        }
    }

    private let binary: String
    private let proxy: FaultProxy
    private let caFile: String
    private let folder: URL
    private let arguments: [String]
    private let members = Mutex<[String: Running]>([:])

    /// - Parameters:
    ///   - binary: the built `tandem` executable (`.build/debug/tandem`).
    ///   - caFile: the cluster CA (it signed the proxy's certificate too).
    ///   - folder: where kubeconfigs and logs go (the caller removes it).
    ///   - arguments: arguments after `operator --kubeconfig FILE` for every process
    ///     (`--leader-election-namespace`, `--metrics-address 127.0.0.1:0`, election timings…).
    public init(binary: String, proxy: FaultProxy, caFile: String, folder: URL, arguments: [String]) {
        self.binary = binary
        self.proxy = proxy
        self.caFile = caFile
        self.folder = folder
        self.arguments = arguments
    }

    /// Starts (or restarts) the process `identity` with `token`, in `namespace` of its kubeconfig.
    /// `extraArguments` come after the fleet's.
    ///
    /// - Throws: ``FaultProxyError`` when the binary is missing; Foundation's error when the
    ///   process cannot be launched.
    @discardableResult
    public func start(identity: String, token: String, namespace: String = "default", extraArguments: [String] = []) throws -> Member {
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            throw FaultProxyError("\(binary) is missing: build the tandem binary first (swift build)")
        }
        if let old = members.withLock({ $0[identity] }), old.process.isRunning {
            throw FaultProxyError("operator \(identity) is already running (pid \(old.member.pid)): kill or stop it first")
        }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try proxy.identify(bearerToken: token, as: identity)
        let kubeconfig = folder.appendingPathComponent("\(identity).kubeconfig")
        try """
            apiVersion: v1
            kind: Config
            clusters:
            - name: proxied
              cluster: {server: "\(proxy.url)", certificate-authority: "\(caFile)"}
            users:
            - name: \(identity)
              user: {token: "\(token)"}
            contexts:
            - name: \(identity)
              context: {cluster: proxied, user: \(identity), namespace: \(namespace)}
            current-context: \(identity)
            """.write(to: kubeconfig, atomically: true, encoding: .utf8)
        let log = folder.appendingPathComponent("\(identity).log")
        if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        // The election identity is also the User-Agent's (`tandem/<identity>`), which the proxy
        // reads first: the fleet's names stand in the record and the Lease alike.
        process.arguments = ["operator", "--kubeconfig", kubeconfig.path, "--leader-elect-identity", identity] + arguments
            + extraArguments
        var environment = ProcessInfo.processInfo.environment
        environment["TANDEM_IDENTITY"] = identity  // informational; the token and User-Agent identify it to the proxy
        process.environment = environment
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? handle.close()
        let member = Member(identity: identity, pid: process.processIdentifier, log: log, kubeconfig: kubeconfig)
        members.withLock { $0[identity] = Running(process: process, member: member) }
        return member
    }

    /// Sends `signal` (SIGKILL by default: a crash) to `identity`'s process.
    public func kill(_ identity: String, signal: Int32 = SIGKILL) {
        guard let running = members.withLock({ $0[identity] }), running.process.isRunning else { return }
        _ = Glibc.kill(running.process.processIdentifier, signal)
    }

    /// `identity`'s process id and exit status (nil while it runs), for the last start.
    public func status(_ identity: String) -> (pid: Int32, exit: Int32?)? {
        guard let running = members.withLock({ $0[identity] }) else { return nil }
        return (running.member.pid, running.process.isRunning ? nil : running.process.terminationStatus)
    }

    /// Whether `identity`'s process runs.
    public func isRunning(_ identity: String) -> Bool { members.withLock { $0[identity] }?.process.isRunning ?? false }

    /// The identities started so far.
    public var identities: [String] { members.withLock { Array($0.keys) }.sorted() }

    /// `identity`'s output so far (every start appends to one log).
    public func output(_ identity: String) -> String {
        guard let log = members.withLock({ $0[identity] })?.member.log else { return "" }
        return (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    }

    /// SIGTERM, then waits up to `timeout` for the exit (SIGKILL after it); returns the exit status.
    @discardableResult
    public func stop(_ identity: String, timeout: Duration = .seconds(45)) async -> Int32? {
        guard let running = members.withLock({ $0[identity] }) else { return nil }
        if running.process.isRunning { _ = Glibc.kill(running.process.processIdentifier, SIGTERM) }
        let deadline = ContinuousClock.now + timeout
        while running.process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        if running.process.isRunning {
            _ = Glibc.kill(running.process.processIdentifier, SIGKILL)
            while running.process.isRunning { try? await Task.sleep(for: .milliseconds(50)) }
        }
        return running.process.terminationStatus
    }

    /// Stops every process.
    public func stopAll() async {
        for identity in identities { await stop(identity) }
    }
}
