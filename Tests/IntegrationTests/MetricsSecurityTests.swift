import AsyncHTTPClient
import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import KubeTestSupport
import Logging
import NIOSSL
import ServiceLifecycle
import Synchronization
import Testing

/// `/metrics` behind TokenReview and SubjectAccessReview, the API server deciding.
@Suite("Secure /metrics against a real API server")
struct MetricsSecurityTests {
    @Test func noTokenIs401AnUngrantedAccountIs403AndAMetricsReaderIs200() async throws {
        let cluster = try await TestCluster.shared()
        try await cluster.withNamespace("metrics-auth") { admin, namespace in
            // Two accounts: one bound to a metrics-reader ClusterRole, one not.
            let accounts = admin.resources(ServiceAccount.self, namespace: namespace)
            for name in ["reader", "stranger"] {
                _ = try await accounts.create(ServiceAccount(metadata: ObjectMeta(name: name)))
            }
            let roleName = "\(namespace)-metrics-reader"
            _ = try await admin.resources(ClusterRole.self).create(ClusterRole(
                metadata: ObjectMeta(name: roleName), rules: [PolicyRule(verbs: ["get"], nonResourceURLs: ["/metrics"])]))
            _ = try await admin.resources(ClusterRoleBinding.self).create(ClusterRoleBinding(
                metadata: ObjectMeta(name: roleName), roleRef: RoleRef(kind: "ClusterRole", name: roleName),
                subjects: [Subject(kind: "ServiceAccount", name: "reader", namespace: namespace)]))
            defer {
                Task {
                    try? await admin.resources(ClusterRoleBinding.self).delete(roleName)
                    try? await admin.resources(ClusterRole.self).delete(roleName)
                }
            }
            let readerToken = try await admin.requestToken(namespace: namespace, serviceAccount: "reader", expirationSeconds: 600)
            let strangerToken = try await admin.requestToken(namespace: namespace, serviceAccount: "stranger", expirationSeconds: 600)

            // The operator's side: HTTPS with a self-signed certificate, reviews by its own client.
            let metrics = RuntimeMetrics()
            metrics.leader(name: "metrics-auth", true)
            let health = HealthServer(metrics: metrics)
            let certificate = try ServingCertificate.selfSigned(hosts: ["localhost", "127.0.0.1"])
            let reviewer = try cluster.adminClient()
            let port = Mutex<Int>(0)
            let app = try health.metricsApplication(
                host: "127.0.0.1", port: 0, serving: .secure(certificate: certificate, authorizer: MetricsAuthorizer(client: reviewer)),
                includeHealth: true
            ) { bound in port.withLock { $0 = bound } }
            let group = ServiceGroup(configuration: .init(services: [.init(service: app)], logger: Logger(label: "test")))
            let serving = Task { try await group.run() }
            defer { serving.cancel() }
            _ = try await eventually("the metrics server to listen") { port.withLock { $0 } > 0 ? true : nil }

            // The scraper trusts exactly that certificate, so its SAN for 127.0.0.1 is checked too.
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(certificate.certificatePEM.utf8)))
            let http = HTTPClient(configuration: HTTPClient.Configuration(tlsConfiguration: tls))
            defer { Task { try? await http.shutdown() } }
            let base = "https://127.0.0.1:\(port.withLock { $0 })"
            func get(_ path: String, token: String? = nil) async throws -> (Int, String) {
                var request = HTTPClientRequest(url: base + path)
                if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
                let response = try await http.execute(request, timeout: .seconds(15))
                let body = try await response.body.collect(upTo: 8 << 20)
                return (Int(response.status.code), String(buffer: body))
            }

            #expect(try await get("/metrics").0 == 401, "no token")
            #expect(try await get("/metrics", token: "not-a-token").0 == 401, "a token the TokenReview rejects")
            let forbidden = try await get("/metrics", token: strangerToken)
            #expect(forbidden.0 == 403, "an account without get /metrics: \(forbidden)")
            #expect(forbidden.1.contains("system:serviceaccount:\(namespace):stranger"), "\(forbidden.1)")
            let allowed = try await get("/metrics", token: readerToken)
            #expect(allowed.0 == 200, "the metrics reader: \(allowed)")
            #expect(allowed.1.contains("leader_election_master_status"), "\(allowed.1)")
            // The probes need no token (the kubelet sends none).
            #expect(try await get("/healthz").0 == 200)
            try await reviewer.shutdown()
        }
    }
}
