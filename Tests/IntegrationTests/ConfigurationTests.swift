import Foundation
import KubeClient
import KubeCore
import KubeTestSupport
import Testing

@Suite("Client configuration against a real API server")
struct ConfigurationTests {
    @Test func clientCertificateFromKubeconfig() async throws {
        let cluster = try await TestCluster.shared()
        let client = try cluster.adminClient()
        let namespaces = try await client.resources(Namespace.self).list()
        #expect(namespaces.items.contains { $0.metadata.name == "kube-system" })
        try await client.shutdown()
    }

    @Test func certificateAuthorityAsFileAndAsData() async throws {
        let cluster = try await TestCluster.shared()
        let ca = try caPEM(cluster)
        let base = try ClientConfiguration.fromKubeconfig(path: cluster.kubeconfigPath)
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }

        // A kubeconfig naming the CA by file (relative to the kubeconfig), the admin by data.
        try Data(ca).write(to: folder.appendingPathComponent("ca.crt"))
        let kubeconfig = """
            apiVersion: v1
            kind: Config
            current-context: file-ca
            clusters:
            - name: c
              cluster: {server: "\(cluster.apiserverURL)", certificate-authority: ca.crt}
            users:
            - name: u
              user:
                client-certificate-data: \(Data(base.clientCertificatePEM ?? []).base64EncodedString())
                client-key-data: \(Data(base.clientKeyPEM ?? []).base64EncodedString())
            contexts:
            - name: file-ca
              context: {cluster: c, user: u}
            """
        let path = folder.appendingPathComponent("config").path
        try kubeconfig.write(toFile: path, atomically: true, encoding: .utf8)
        let fromFile = try ClientConfiguration.fromKubeconfig(path: path)
        #expect(fromFile.certificateAuthorityPEM == ca)
        let byFile = try KubernetesClient(configuration: fromFile)
        #expect(try await byFile.resources(Namespace.self).get("default").metadata.name == "default")
        try await byFile.shutdown()

        // The shared cluster's kubeconfig carries the CA as data.
        #expect(base.certificateAuthorityPEM == ca)
        let byData = try KubernetesClient(configuration: base)
        #expect(try await byData.resources(Namespace.self).get("default").metadata.name == "default")
        try await byData.shutdown()
    }

    @Test func wrongCertificateAuthorityIsRejected() async throws {
        let cluster = try await TestCluster.shared()
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let made = try await Script.exec([
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=not-the-cluster-ca",
            "-keyout", folder.appendingPathComponent("k.pem").path, "-out", folder.appendingPathComponent("c.pem").path,
        ])
        #expect(made.status == 0, "openssl failed: \(made.output)")
        var configuration = try ClientConfiguration.fromKubeconfig(path: cluster.kubeconfigPath)
        configuration.certificateAuthorityPEM = Array(try Data(contentsOf: folder.appendingPathComponent("c.pem")))
        configuration.retry = .none
        let client = try KubernetesClient(configuration: configuration)
        do {
            _ = try await client.resources(Namespace.self).get("default")
            Issue.record("a server certificate from another CA was accepted")
        } catch let error as KubeClientError {
            guard case .transport(_, _, let underlying) = error else {
                Issue.record("expected a transport (TLS) error, got \(error)")
                try await client.shutdown()
                return
            }
            #expect(underlying.lowercased().contains("certificate") || underlying.contains("handshake"), "\(underlying)")
        }
        try await client.shutdown()

        // insecure-skip-tls-verify accepts it (and is the only way to).
        configuration.insecureSkipTLSVerify = true
        let insecure = try KubernetesClient(configuration: configuration)
        #expect(try await insecure.resources(Namespace.self).get("default").metadata.name == "default")
        try await insecure.shutdown()
    }

    @Test func bearerTokenFromTokenRequest() async throws {
        let cluster = try await TestCluster.shared()
        try await cluster.withNamespace("token") { admin, namespace in
            let token = try await serviceAccountToken(admin, namespace: namespace, name: "reader", configMapVerbs: ["get", "list"])
            let client = try KubernetesClient(configuration: ClientConfiguration(
                server: cluster.apiserverURL, certificateAuthorityPEM: try caPEM(cluster), credentials: .bearerToken(token)))
            let list = try await client.resources(ConfigMap.self, namespace: namespace).list()
            #expect(list.items.isEmpty || list.items.allSatisfy { $0.metadata.namespace == namespace })
            // The token's identity is the service account: RBAC still applies to it.
            await expectAPIError(.forbidden) { try await client.resources(ConfigMap.self, namespace: "kube-system").list() }
            await expectAPIError(.forbidden) {
                try await client.resources(ConfigMap.self, namespace: namespace).create(ConfigMap(metadata: ObjectMeta(name: "x")))
            }
            try await client.shutdown()

            let bogus = try KubernetesClient(configuration: ClientConfiguration(
                server: cluster.apiserverURL, certificateAuthorityPEM: try caPEM(cluster), credentials: .bearerToken("not-a-token")))
            await expectAPIError(.unauthorized) { try await bogus.resources(ConfigMap.self, namespace: namespace).list() }
            try await bogus.shutdown()
        }
    }

    @Test func tokenFileRotationIsPickedUpWithoutRestart() async throws {
        let cluster = try await TestCluster.shared()
        try await cluster.withNamespace("rotate") { admin, namespace in
            let lister = try await serviceAccountToken(admin, namespace: namespace, name: "lister", configMapVerbs: ["list"])
            let nobody = try await serviceAccountToken(admin, namespace: namespace, name: "nobody")
            let folder = try temporaryFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            let tokenPath = folder.appendingPathComponent("token").path
            try nobody.write(toFile: tokenPath, atomically: true, encoding: .utf8)

            let client = try KubernetesClient(configuration: ClientConfiguration(
                server: cluster.apiserverURL, certificateAuthorityPEM: try caPEM(cluster),
                credentials: .tokenFile(path: tokenPath, refreshInterval: .milliseconds(500))))
            let configMaps = client.resources(ConfigMap.self, namespace: namespace)
            await expectAPIError(.forbidden) { try await configMaps.list() }

            // Rotate the file (as the kubelet rotates projected tokens): the same client picks it up.
            try lister.write(toFile: tokenPath, atomically: true, encoding: .utf8)
            let listed = try await eventually("the rotated token to be used") {
                try? await configMaps.list()
            }
            #expect(listed.items.allSatisfy { $0.metadata.namespace == namespace })

            // A token that stops working (rotated away) is re-read at once after a 401.
            try "revoked".write(toFile: tokenPath, atomically: true, encoding: .utf8)
            try await Task.sleep(for: .milliseconds(600))
            await expectAPIError(.unauthorized) { try await configMaps.list() }
            try lister.write(toFile: tokenPath, atomically: true, encoding: .utf8)
            #expect(try await configMaps.list().metadata.resourceVersion != nil)
            try await client.shutdown()
        }
    }

    @Test func inClusterConfiguration() async throws {
        let cluster = try await TestCluster.shared()
        try await cluster.withNamespace("incluster") { admin, namespace in
            let token = try await serviceAccountToken(admin, namespace: namespace, name: "operator", configMapVerbs: ["get", "list", "create"])
            let root = try temporaryFolder()
            defer { try? FileManager.default.removeItem(at: root) }
            try token.write(to: root.appendingPathComponent("token"), atomically: true, encoding: .utf8)
            try Data(try caPEM(cluster)).write(to: root.appendingPathComponent("ca.crt"))
            try namespace.write(to: root.appendingPathComponent("namespace"), atomically: true, encoding: .utf8)
            let port = URL(string: cluster.apiserverURL)?.port ?? 0
            // Never a Service IP: the API server is dialled on loopback.
            let environment = ["KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": String(port)]

            let configuration = try ClientConfiguration.inCluster(root: root.path, environment: environment)
            #expect(configuration.namespace == namespace)
            #expect(configuration.server == "https://127.0.0.1:\(port)")
            let client = try KubernetesClient(configuration: configuration)
            let configMaps = client.resources(ConfigMap.self, namespace: configuration.namespace)
            let created = try await configMaps.create(ConfigMap(metadata: ObjectMeta(name: "from-pod"), data: ["a": "1"]))
            #expect(created.metadata.uid != nil)
            #expect(try await configMaps.get("from-pod").data == ["a": "1"])
            try await client.shutdown()

        }
    }
}
