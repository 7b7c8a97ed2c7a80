import Foundation
import Logging
import Testing

@testable import KubeClient

@Suite("Kubeconfig")
struct KubeconfigTests {
    let first = """
        apiVersion: v1
        kind: Config
        current-context: alpha
        clusters:
        - name: one
          cluster:
            server: https://127.0.0.1:6443
            certificate-authority: certs/ca.crt
        users:
        - name: admin
          user:
            token: first-token
        contexts:
        - name: alpha
          context: {cluster: one, user: admin, namespace: team-a}
        """
    let second = """
        apiVersion: v1
        kind: Config
        current-context: beta
        clusters:
        - name: one
          cluster: {server: https://127.0.0.9:1}
        - name: two
          cluster:
            server: https://127.0.0.2:6443
            insecure-skip-tls-verify: true
        users:
        - name: admin
          user: {token: second-token}
        - name: robot
          user: {tokenFile: robot.token}
        contexts:
        - name: beta
          context: {cluster: two, user: robot}
        """

    func write(_ text: String, _ name: String, in dir: URL) throws -> String {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    @Test func mergeFirstFileWins() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try write(first, "a.yaml", in: dir)
        let b = try write(second, "b.yaml", in: dir)
        let merged = try Kubeconfig.load(pathList: "\(a)::\(dir.path)/missing.yaml:\(b)")
        #expect(merged.currentContext == "alpha")
        #expect(merged.clusters.map(\.name) == ["one", "two"])
        #expect(merged.clusters[0].cluster.server == "https://127.0.0.1:6443")
        #expect(merged.users.first { $0.name == "admin" }?.user.token == "first-token")
        // Relative paths resolve against the directory of the file that named them.
        #expect(merged.clusters[0].cluster.certificateAuthority == "\(dir.path)/certs/ca.crt")
        #expect(merged.users.first { $0.name == "robot" }?.user.tokenFile == "\(dir.path)/robot.token")

        let beta = try ClientConfiguration.fromKubeconfig(merged, context: "beta")
        #expect(beta.server == "https://127.0.0.2:6443")
        #expect(beta.insecureSkipTLSVerify)
        #expect(beta.namespace == "default")
        guard case .tokenFile(let path, let interval) = beta.credentials else {
            Issue.record("expected tokenFile credentials")
            return
        }
        #expect(path == "\(dir.path)/robot.token")
        #expect(interval == .seconds(60))

        // Reversed order: the other file's current-context and duplicate entries win.
        let reversed = try Kubeconfig.load(pathList: "\(b):\(a)")
        #expect(reversed.currentContext == "beta")
        #expect(reversed.clusters.first { $0.name == "one" }?.cluster.server == "https://127.0.0.9:1")
    }

    @Test func currentContextAndNamespace() throws {
        var config = try Kubeconfig.parse(first, baseDirectory: "/etc/k")
        #expect(config.clusters[0].cluster.certificateAuthority == "/etc/k/certs/ca.crt")
        config.clusters[0].cluster.certificateAuthority = nil
        let resolved = try ClientConfiguration.fromKubeconfig(config)
        #expect(resolved.namespace == "team-a")
        guard case .bearerToken(let token) = resolved.credentials else {
            Issue.record("expected a bearer token")
            return
        }
        #expect(token == "first-token")
    }

    @Test func errorsNameWhatIsMissing() throws {
        let config = try Kubeconfig.parse(first)
        #expect {
            try ClientConfiguration.fromKubeconfig(config, context: "nope")
        } throws: { error in
            "\(error)".contains("no context \"nope\"") && "\(error)".contains("alpha")
        }
        let noFiles = "/nonexistent/a:/nonexistent/b"
        #expect { try Kubeconfig.load(pathList: noFiles) } throws: { "\($0)".contains("/nonexistent/a") }
        #expect { try Kubeconfig.parse("clusters: 5") } throws: { "\($0)".contains("not valid YAML") }
    }

    @Test func inClusterNeedsEnvironment() throws {
        #expect { try ClientConfiguration.inCluster(root: "/nonexistent", environment: [:]) } throws: {
            "\($0)".contains("KUBERNETES_SERVICE_HOST")
        }
    }
}

/// Collects log messages, to check what a configuration step warned about.
final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    private let lock = NSLock()
    private var captured: [(Logger.Level, String)] = []
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
             file: String, function: String, line: UInt) {
        lock.withLock { captured.append((level, "\(message)")) }
    }

    var messages: [(Logger.Level, String)] { lock.withLock { captured } }
}

@Suite("Kubeconfig warnings")
struct KubeconfigWarningTests {
    @Test func insecureSkipTLSVerifyIsLoggedAsAWarningNamingTheCluster() throws {
        let config = try Kubeconfig.parse("""
            apiVersion: v1
            kind: Config
            current-context: lab
            clusters:
            - name: throwaway
              cluster: {server: "https://127.0.0.2:6443", insecure-skip-tls-verify: true}
            - name: safe
              cluster: {server: "https://127.0.0.3:6443"}
            users:
            - name: u
              user: {token: t}
            contexts:
            - name: lab
              context: {cluster: throwaway, user: u}
            - name: prod
              context: {cluster: safe, user: u}
            """)
        let handler = CapturingLogHandler()
        let logger = Logger(label: "test") { _ in handler }
        let insecure = try ClientConfiguration.fromKubeconfig(config, source: "lab.kubeconfig", logger: logger)
        #expect(insecure.insecureSkipTLSVerify)
        let warnings = handler.messages.filter { $0.0 == .warning }.map(\.1)
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("\"throwaway\"") == true, "\(warnings)")
        #expect(warnings.first?.contains("insecure-skip-tls-verify") == true)
        #expect(warnings.first?.contains("lab.kubeconfig") == true)

        let quiet = CapturingLogHandler()
        _ = try ClientConfiguration.fromKubeconfig(config, context: "prod", logger: Logger(label: "test") { _ in quiet })
        #expect(quiet.messages.isEmpty, "a verified cluster logged \(quiet.messages)")
    }

    @Test func operatorUserAgentNamesTheIdentity() {
        #expect(ClientConfiguration.userAgent(identity: "host-1_ab12") == "tandem/host-1_ab12")
    }
}
