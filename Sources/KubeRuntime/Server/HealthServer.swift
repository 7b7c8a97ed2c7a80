import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import Synchronization

/// The operator's HTTP endpoint: `/metrics` (Prometheus text format), `/healthz` (the process
/// is alive) and `/readyz` (every registered check passes: caches synced).
///
/// Run it as a ``ServiceLifecycle`` service through ``application(host:port:logger:onStarted:)``
/// (all three endpoints, plain HTTP), or split as controller-runtime does:
/// ``metricsApplication(host:port:serving:includeHealth:logger:onStarted:)`` for `/metrics`
/// (HTTPS behind TokenReview and SubjectAccessReview by default) and
/// ``probeApplication(host:port:logger:onStarted:)`` for the kubelet's probes, which cannot send
/// a token.
public final class HealthServer: Sendable {
    public let metrics: RuntimeMetrics
    /// Held in a struct, never as a bare closure: reading a function value out of a `Mutex`
    /// wraps the stored one in another reabstraction thunk pair on every read (swiftlang/swift
    /// #91348; measured on 6.3.1 at -O and -Onone), so each probe would deepen the call chain
    /// until `/healthz` overflowed the stack, after some 200,000 probes in a debug build.
    private struct LivenessCheck: Sendable { let failures: @Sendable () -> [String] }
    private let liveness = Mutex(LivenessCheck(failures: { [] }))
    private let checks = Mutex<[(name: String, check: @Sendable () -> Bool)]>([])

    public init(metrics: RuntimeMetrics) {
        self.metrics = metrics
    }

    /// Adds a readiness check; `/readyz` answers 200 only when all pass.
    public func addReadinessCheck(_ name: String, _ check: @escaping @Sendable () -> Bool) {
        checks.withLock { $0.append((name, check)) }
    }

    /// Sets what `/healthz` asks: the reasons the process makes no progress (empty: alive).
    public func setLivenessCheck(_ check: @escaping @Sendable () -> [String]) {
        liveness.withLock { $0 = LivenessCheck(failures: check) }
    }

    /// The reasons `/healthz` fails now (empty when alive).
    public func livenessFailures() -> [String] {
        liveness.withLock { $0 }.failures()
    }

    func livenessResponse() -> Response {
        let failing = livenessFailures()
        if failing.isEmpty { return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "ok\n"))) }
        let text = failing.map { "[-] \($0)" }.joined(separator: "\n") + "\n"
        return Response(status: .internalServerError, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// The names of failing readiness checks (empty when ready).
    public func failingChecks() -> [String] {
        checks.withLock { $0 }.filter { !$0.check() }.map(\.name)
    }

    /// The Hummingbird application serving the three endpoints.
    ///
    /// - Parameter onStarted: called with the bound port (useful with port 0).
    public func application(
        host: String = "127.0.0.1", port: Int = 8080, logger: Logger = Logger(label: "kube.health"),
        onStarted: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: self.metrics.render())))
        }
        addProbes(to: router)
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "tandem"),
            onServerRunning: { channel in await onStarted(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    /// How `/metrics` is served.
    public enum MetricsServing: Sendable {
        /// Plain HTTP, no authentication (`--metrics-secure=false`).
        case plain
        /// HTTPS with `certificate`; each request's bearer token must belong to a user allowed
        /// `get` on the non-resource URL `/metrics` (401 without a valid token, 403 without the
        /// right), as controller-runtime's `filters.WithAuthenticationAndAuthorization`.
        case secure(certificate: ServingCertificate, authorizer: MetricsAuthorizer)
    }

    /// The application serving `/metrics`, and `/healthz` and `/readyz` when `includeHealth`
    /// (unauthenticated even when secure: they reveal nothing, and probes send no token).
    public func metricsApplication(
        host: String = "127.0.0.1", port: Int = 8080, serving: MetricsServing, includeHealth: Bool,
        logger: Logger = Logger(label: "kube.metrics"), onStarted: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let router = Router()
        let authorizer: MetricsAuthorizer?
        let server: HTTPServerBuilder
        switch serving {
        case .plain:
            authorizer = nil
            server = .http1()
        case .secure(let certificate, let reviewer):
            authorizer = reviewer
            server = try .tls(.http1(), tlsConfiguration: certificate.tlsConfiguration())
        }
        router.get("/metrics") { request, _ in
            if let authorizer {
                let access = await authorizer.authorize(authorization: request.headers[.authorization])
                switch access {
                case .allowed:
                    break
                case .unauthenticated(let reason):
                    logger.debug("refused a /metrics request: \(reason)")
                    return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Bearer"],
                                    body: ResponseBody(byteBuffer: ByteBuffer(string: "Unauthorized\n")))
                case .forbidden(let user, let reason):
                    logger.debug("refused /metrics to \(user): \(reason)")
                    return Response(status: .forbidden, body: ResponseBody(byteBuffer: ByteBuffer(
                        string: "Forbidden: user \"\(user)\" may not get the non-resource URL /metrics (bind a ClusterRole granting nonResourceURLs [\"/metrics\"], verbs [\"get\"])\n")))
                case .failed(let reason):
                    return Response(status: .internalServerError, body: ResponseBody(byteBuffer: ByteBuffer(string: reason + "\n")))
                }
            }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: self.metrics.render())))
        }
        if includeHealth { addProbes(to: router) }
        return Application(
            router: router, server: server,
            configuration: .init(address: .hostname(host, port: port), serverName: "tandem"),
            onServerRunning: { channel in await onStarted(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    /// The application serving `/healthz` and `/readyz` alone, over plain HTTP (the kubelet's
    /// probes; controller-runtime's `--health-probe-bind-address`).
    public func probeApplication(
        host: String = "127.0.0.1", port: Int = 8081, logger: Logger = Logger(label: "kube.health"),
        onStarted: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        addProbes(to: router)
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "tandem"),
            onServerRunning: { channel in await onStarted(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    private func addProbes(to router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in self.livenessResponse() }
        router.get("/readyz") { _, _ in
            let failing = self.failingChecks()
            if failing.isEmpty { return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "ok\n"))) }
            let text = failing.map { "[-] \($0) not ready" }.joined(separator: "\n") + "\n"
            return Response(status: .serviceUnavailable, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
    }
}
