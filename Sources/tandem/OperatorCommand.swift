import ArgumentParser
import Foundation
import KubeClient
import KubeRuntime
import Logging
import Rendering
import Routing
import ServiceLifecycle
import TandemOperator

/// `tandem operator`: runs the operator until SIGTERM or SIGINT.
struct Operator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the operator: reconcile InferencePools into prefill and decode tiers.")

    @Option(help: "Kubeconfig file(s), ':'-separated. Default: in-cluster, else $KUBECONFIG, else ~/.kube/config.")
    var kubeconfig: String?

    @Option(help: "Kubeconfig context (default: its current-context).")
    var context: String?

    @Option(name: .customLong("namespace"), help: "Watch only this namespace (repeatable). Default: all namespaces.")
    var namespaces: [String] = []

    @Option(help: "Leader election on a Lease (true/false); turn off only for a single replica.")
    var leaderElect: Bool = true

    @Option(help: "Namespace of the leader-election Lease (default: the operator's own namespace, else default).")
    var leaderElectionNamespace: String?

    // kube-controller-manager's flag names; client-go's defaults (15s, 10s, 2s).
    @Option(help: "How long a follower waits after it last saw the leader renew before taking over (whole seconds, e.g. 15s).")
    var leaderElectLeaseDuration: String = "15s"

    @Option(help: "A leader that has not renewed within this long of its last successful renewal's start stops leading and exits (e.g. 10s; below the lease duration).")
    var leaderElectRenewDeadline: String = "10s"

    @Option(help: "Interval between attempts to acquire or renew the lease (e.g. 2s; × 1.2 below the renew deadline).")
    var leaderElectRetryPeriod: String = "2s"

    @Option(help: "This process's leader-election identity, also sent as User-Agent tandem/<identity> (default: hostname_random).")
    var leaderElectIdentity: String?

    @Option(help: "A watch that receives nothing, not even a bookmark, for this long is resumed from its last resourceVersion (e.g. 5s; default: the informers' 90s). Lower it to find half-open connections sooner, at the cost of a watch request per quiet interval.")
    var watchIdleTimeout: String?

    @Option(help: "How long one pool may hold the one-pool-at-a-time gate for the operator's own pod-template changes (an upgrade) before the next pool may roll (e.g. 2h, 30m; default 2h; a stalled rollout frees it sooner).")
    var rolloutHoldLimit: String?

    @Option(help: "host:port of /metrics (and of /healthz and /readyz unless --health-probe-address is given).")
    var metricsAddress: String = "127.0.0.1:8080"

    @Option(help: "Serve /metrics over HTTPS to callers whose bearer token passes a TokenReview and a SubjectAccessReview for get /metrics (true), or over plain HTTP to anyone (false).")
    var metricsSecure: Bool = true

    @Option(help: "PEM certificate (chain) for the HTTPS /metrics; default: a self-signed one generated at start.")
    var metricsCertFile: String?

    @Option(help: "PEM private key of --metrics-cert-file.")
    var metricsKeyFile: String?

    @Option(help: "host:port of /healthz and /readyz over plain HTTP, for the kubelet's probes (default: served with /metrics, unauthenticated).")
    var healthProbeAddress: String?

    @Option(help: "Reconciles run at once.")
    var workers: Int = 2

    @Option(help: "Seconds between autoscaling rounds of a pool (reads of its pods' /metrics).")
    var autoscalerInterval: Double = 5

    @Option(help: "Seconds over which a tier's signals are averaged before they may shrink it (growth follows each round at once).")
    var autoscalerAveragingWindow: Double = 60

    @Option(help: "Seconds between status updates that only refresh signal values.")
    var autoscalerStatusInterval: Double = 30

    @Option(help: "Seconds one pod's /metrics (or one Prometheus query) may take.")
    var scrapeTimeout: Double = 2

    @Option(help: "Read the model servers' metrics from this Prometheus server (e.g. http://prometheus.monitoring:9090) instead of scraping each pod; see docs/prometheus-source.md for the labels it needs.")
    var prometheusURL: String?

    @Option(help: "apiVersion of the EndpointPickerConfig written for pools with a scheduler block (the router's releases read \(EndpointPickerConfig.knownAPIVersions.joined(separator: ", "))).")
    var eppConfigApiVersion: String = EndpointPickerConfig.defaultAPIVersion

    @Option(help: "llm-d endpoint picker image for pools with a scheduler block.")
    var eppImage: String = RouterOptions.defaultEndpointPickerImage

    @Option(help: "llm-d routing sidecar image for the decode pods of pools with a scheduler block.")
    var routingSidecarImage: String = RouterOptions.defaultRoutingSidecarImage

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(help: "Log format: text or json.")
    var logFormat: String = "text"

    func run() async throws {
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("unknown --log-level \(logLevel)") }
        guard let format = LogFormat(rawValue: logFormat) else { throw ValidationError("--log-format must be text or json") }
        let (metricsHost, port) = try Self.hostPort(metricsAddress, flag: "--metrics-address")
        let probe = try healthProbeAddress.map { try Self.hostPort($0, flag: "--health-probe-address") }
        let timing = LeaderElectionTiming(
            leaseDuration: try Self.duration(leaderElectLeaseDuration, flag: "--leader-elect-lease-duration"),
            renewDeadline: try Self.duration(leaderElectRenewDeadline, flag: "--leader-elect-renew-deadline"),
            retryPeriod: try Self.duration(leaderElectRetryPeriod, flag: "--leader-elect-retry-period"))
        do {
            try timing.validate()
        } catch {
            throw ValidationError("--leader-elect-lease-duration, --leader-elect-renew-deadline, --leader-elect-retry-period: \(error)")
        }
        let idleTimeout = try watchIdleTimeout.map { try Self.duration($0, flag: "--watch-idle-timeout") }
        if let idleTimeout, idleTimeout < .seconds(1) {
            throw ValidationError("--watch-idle-timeout must be at least 1s, not \(watchIdleTimeout ?? "")")
        }
        let holdLimit = try rolloutHoldLimit.map { try Self.duration($0, flag: "--rollout-hold-limit") }
        if let holdLimit, holdLimit < .seconds(1) {
            throw ValidationError("--rollout-hold-limit must be at least 1s, not \(rolloutHoldLimit ?? "")")
        }
        if (metricsCertFile == nil) != (metricsKeyFile == nil) {
            throw ValidationError("--metrics-cert-file and --metrics-key-file go together: give both, or neither for a self-signed certificate")
        }
        format.bootstrap(level: level)
        let logger = Logger(label: "tandem")

        var configuration: ClientConfiguration
        if kubeconfig == nil, context == nil, ProcessInfo.processInfo.environment["KUBERNETES_SERVICE_HOST"] != nil {
            configuration = try ClientConfiguration.inCluster()
        } else {
            configuration = try ClientConfiguration.fromKubeconfig(path: kubeconfig, context: context, logger: logger)
        }
        // The client's watch read timeout and, below 90 s, every informer's watchdog follow it.
        if let idleTimeout { configuration.watchIdleTimeout = idleTimeout }
        var options = OperatorOptions(
            namespaces: namespaces, leaderElection: leaderElect,
            leaseNamespace: leaderElectionNamespace ?? configuration.namespace, workers: workers,
            router: RouterOptions(configAPIVersion: eppConfigApiVersion, endpointPickerImage: eppImage,
                                  routingSidecarImage: routingSidecarImage))
        if let leaderElectIdentity, !leaderElectIdentity.isEmpty { options.identity = leaderElectIdentity }
        options.leaderElectionTiming = timing
        if let holdLimit { options.rolloutHoldLimit = holdLimit }
        // Every request names this process, so an audit log tells two operator processes apart.
        configuration.userAgent = ClientConfiguration.userAgent(identity: options.identity)
        if leaderElect {
            // No write leaves this process after its term ended, whatever a worker still does.
            let fence = LeadershipFence(leaseNamespace: options.leaseNamespace, leaseName: options.leaseName)
            options.leadershipFence = fence
            configuration.writeGate = fence.writeGate
        }
        let metrics = RuntimeMetrics()
        let client = try KubernetesClient(configuration: configuration, logger: logger, observer: { metrics.request($0) })
        let health = HealthServer(metrics: metrics)
        guard autoscalerInterval > 0, autoscalerStatusInterval >= 0, autoscalerAveragingWindow >= 0, scrapeTimeout > 0 else {
            throw ValidationError(
                "--autoscaler-interval and --scrape-timeout must be > 0, --autoscaler-status-interval and --autoscaler-averaging-window ≥ 0")
        }
        // Samples older than three rounds (at least 30 s) are not the pods' present load.
        let scraper = try OwnedSignalSource(
            prometheusURL: prometheusURL, timeout: .seconds(scrapeTimeout), maxAge: .seconds(max(30, 3 * autoscalerInterval)))
        let autoscaler = Autoscaler(
            source: scraper.source,
            options: AutoscalerOptions(
                interval: .seconds(autoscalerInterval), statusInterval: .seconds(autoscalerStatusInterval),
                averagingWindow: .seconds(autoscalerAveragingWindow)))
        let runtime = TandemOperator.makeRuntime(
            client: client, options: options, metrics: metrics, health: health, autoscaler: autoscaler, logger: logger)
        let serving: HealthServer.MetricsServing
        if metricsSecure {
            let certificate: ServingCertificate
            if let metricsCertFile, let metricsKeyFile {
                certificate = try ServingCertificate.load(certificateFile: metricsCertFile, keyFile: metricsKeyFile)
            } else {
                certificate = try ServingCertificate.selfSigned(hosts: ["localhost", metricsHost, ProcessInfo.processInfo.hostName])
                logger.info("serving /metrics with a self-signed certificate (give --metrics-cert-file and --metrics-key-file for your own)")
            }
            serving = .secure(certificate: certificate, authorizer: MetricsAuthorizer(client: client, logger: logger))
        } else {
            serving = .plain
        }
        let scheme = metricsSecure ? "https" : "http"
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: runtime, successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: try health.metricsApplication(
                host: metricsHost, port: port, serving: serving, includeHealth: probe == nil, logger: logger) { bound in
                    logger.info("serving /metrics\(probe == nil ? ", /healthz, /readyz" : "") on \(scheme)://\(metricsHost):\(bound)")
                }),
        ]
        // Freed memory back to the system once a minute (glibc keeps it otherwise: make soak).
        services.append(.init(service: MemoryTrimmer(logger: logger)))
        if let probe {
            services.append(.init(service: health.probeApplication(host: probe.host, port: probe.port, logger: logger) { bound in
                logger.info("serving /healthz, /readyz on http://\(probe.host):\(bound)")
            }))
        }
        logger.info("starting", metadata: [
            "namespaces": "\(namespaces.isEmpty ? "all" : namespaces.joined(separator: ","))",
            "leaderElection": "\(leaderElect)", "identity": "\(options.identity)",
        ])
        let group = ServiceGroup(configuration: .init(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            // No scrape may outlive the clients it reads through.
            autoscaler.stop()
            try? await scraper.shutdown()
            try? await client.shutdown()
            if let lost = Self.leadershipLoss(in: error) {
                // client-go's OnStoppedLeading usually exits: the Deployment restarts the process,
                // which then competes again as a follower with fresh caches.
                logger.critical("exiting with status 1: leadership lost (\(lost)); no write was sent after the renew deadline")
                throw ExitCode(1)
            }
            throw error
        }
        autoscaler.stop()
        try await scraper.shutdown()
        try await client.shutdown()
    }

    /// The ``LeaderElectionError`` behind `error`, if the service group stopped for it.
    static func leadershipLoss(in error: any Error) -> LeaderElectionError? {
        if let lost = error as? LeaderElectionError { return lost }
        // ServiceGroup may wrap a service's error; look one level down by reflection.
        for child in Mirror(reflecting: error).children {
            if let lost = child.value as? LeaderElectionError { return lost }
        }
        return nil
    }

    /// `host:port` split; the port may be 0 (any free port).
    static func hostPort(_ text: String, flag: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("\(flag) must be host:port, not \(text)")
        }
        return (String(text[..<colon]), port)
    }

    /// A duration as kube-controller-manager's flags take it: `15s`, `500ms`, `1m`, `1m30s`, or plain seconds.
    static func duration(_ text: String, flag: String) throws -> Duration {
        // Bounded well inside Int64 milliseconds: no trap on absurd input.
        let limit = 1e9
        if let seconds = Double(text) {
            guard seconds.isFinite, abs(seconds) < limit else { throw ValidationError("\(flag): \(text) is out of range") }
            return .milliseconds(Int64((seconds * 1000).rounded()))
        }
        var total: Duration = .zero
        var rest = Substring(text)
        guard !rest.isEmpty else { throw ValidationError("\(flag) is empty: give a duration such as 15s") }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unit.count)
            guard let value = Double(number), value.isFinite, value < limit else {
                throw ValidationError("\(flag): \(text) is not a duration such as 15s, 500ms or 1m")
            }
            let scale: Double
            switch unit {
            case "ms": scale = 0.001
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            default: throw ValidationError("\(flag): unknown unit \"\(unit)\" in \(text) (use ms, s, m or h)")
            }
            total += .milliseconds(Int64((value * scale * 1000).rounded()))
        }
        return total
    }
}
