import Hummingbird
import Logging
import NIOCore
import Synchronization

/// The operator's HTTP endpoint: `/metrics` (Prometheus text format), `/healthz` (the process
/// is alive) and `/readyz` (every registered check passes: caches synced).
///
/// Run it as a ``ServiceLifecycle`` service through ``application(host:port:)``, or with
/// ``run(host:port:onStarted:)``.
public final class HealthServer: Sendable {
    public let metrics: RuntimeMetrics
    private let checks = Mutex<[(name: String, check: @Sendable () -> Bool)]>([])

    public init(metrics: RuntimeMetrics) {
        self.metrics = metrics
    }

    /// Adds a readiness check; `/readyz` answers 200 only when all pass.
    public func addReadinessCheck(_ name: String, _ check: @escaping @Sendable () -> Bool) {
        checks.withLock { $0.append((name, check)) }
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
        router.get("/healthz") { _, _ in "ok\n" }
        router.get("/readyz") { _, _ in
            let failing = self.failingChecks()
            if failing.isEmpty { return Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(string: "ok\n"))) }
            let text = failing.map { "[-] \($0) not ready" }.joined(separator: "\n") + "\n"
            return Response(status: .serviceUnavailable, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "tandem"),
            onServerRunning: { channel in await onStarted(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}
