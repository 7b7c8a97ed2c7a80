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

    @Option(help: "host:port of /metrics, /healthz and /readyz.")
    var metricsAddress: String = "127.0.0.1:8080"

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
        let parts = metricsAddress.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let port = Int(parts[1]) else { throw ValidationError("--metrics-address must be host:port") }
        format.bootstrap(level: level)
        let logger = Logger(label: "tandem")

        let configuration: ClientConfiguration
        if kubeconfig == nil, context == nil, ProcessInfo.processInfo.environment["KUBERNETES_SERVICE_HOST"] != nil {
            configuration = try ClientConfiguration.inCluster()
        } else {
            configuration = try ClientConfiguration.fromKubeconfig(path: kubeconfig, context: context)
        }
        let metrics = RuntimeMetrics()
        let client = try KubernetesClient(configuration: configuration, logger: logger, observer: { metrics.request($0) })
        let health = HealthServer(metrics: metrics)
        let options = OperatorOptions(
            namespaces: namespaces, leaderElection: leaderElect,
            leaseNamespace: leaderElectionNamespace ?? configuration.namespace, workers: workers,
            router: RouterOptions(configAPIVersion: eppConfigApiVersion, endpointPickerImage: eppImage,
                                  routingSidecarImage: routingSidecarImage))
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
        let server = health.application(host: String(parts[0]), port: port, logger: logger) { bound in
            logger.info("serving /metrics, /healthz, /readyz on \(parts[0]):\(bound)")
        }
        logger.info("starting", metadata: [
            "namespaces": "\(namespaces.isEmpty ? "all" : namespaces.joined(separator: ","))",
            "leaderElection": "\(leaderElect)", "identity": "\(options.identity)",
        ])
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: runtime, successTerminationBehavior: .gracefullyShutdownGroup),
                       .init(service: server)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        try await scraper.shutdown()
        try await client.shutdown()
    }
}
