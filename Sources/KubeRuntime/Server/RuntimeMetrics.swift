import KubeClient
import Prometheus

/// The operator framework's Prometheus metrics, by the names controller-runtime and client-go
/// export, so existing dashboards and alerts work unchanged.
///
/// | metric | labels |
/// |---|---|
/// | `controller_runtime_reconcile_total` | controller, result (`success`, `error`, `requeue_after`) |
/// | `controller_runtime_reconcile_errors_total` | controller |
/// | `controller_runtime_reconcile_time_seconds` | controller |
/// | `controller_runtime_active_workers` | controller |
/// | `workqueue_depth`, `workqueue_adds_total`, `workqueue_retries_total` | name |
/// | `workqueue_queue_duration_seconds`, `workqueue_work_duration_seconds` | name |
/// | `leader_election_master_status` | name |
/// | `rest_client_requests_total` | verb, code |
/// | `rest_client_request_duration_seconds` | verb |
public final class RuntimeMetrics: Sendable, WorkQueueObserver {
    /// The registry `/metrics` renders; product code may register its own metrics in it.
    public let registry: PrometheusCollectorRegistry

    /// controller-runtime's reconcile-time buckets (`metrics.go`: 0.005 s … 60 s).
    static let reconcileBuckets: [Duration] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45,
                                               0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 3.5, 4, 4.5,
                                               5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60].map { .milliseconds(Int($0 * 1000)) }
    /// client-go workqueue buckets: `ExponentialBuckets(10e-9, 10, 12)` (10 ns … 1000 s).
    static let queueBuckets: [Duration] = (0..<12).map { .nanoseconds(10 * Int64(pow10($0))) }
    /// client-go rest client latency buckets (0.005 s … 60 s).
    static let requestBuckets: [Duration] = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60].map {
        .milliseconds(Int($0 * 1000))
    }

    private static func pow10(_ n: Int) -> Int64 { (0..<n).reduce(1) { acc, _ in acc * 10 } }

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    /// Every metric family, named and described once (a registry refuses one name with two
    /// descriptions). Computed: the descriptor type is not `Sendable`.
    enum Family {
        static var controllerRuntimeActiveWorkers: MetricNameDescriptor { MetricNameDescriptor(metricName: "controller_runtime_active", unitName: "workers", helpText: "Number of currently used workers per controller") }
        static var controllerRuntimeReconcileTotal: MetricNameDescriptor { MetricNameDescriptor(metricName: "controller_runtime_reconcile", unitName: "total", helpText: "Total number of reconciliations per controller") }
        static var controllerRuntimeReconcileErrorsTotal: MetricNameDescriptor { MetricNameDescriptor(metricName: "controller_runtime_reconcile_errors", unitName: "total", helpText: "Total number of reconciliation errors per controller") }
        static var controllerRuntimeReconcileTimeSeconds: MetricNameDescriptor { MetricNameDescriptor(metricName: "controller_runtime_reconcile_time", unitName: "seconds", helpText: "Length of time per reconciliation per controller") }
        static var leaderElectionMasterStatus: MetricNameDescriptor { MetricNameDescriptor(metricName: "leader_election_master", unitName: "status", helpText: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master") }
        static var restClientRequestDurationSeconds: MetricNameDescriptor { MetricNameDescriptor(metricName: "rest_client_request_duration", unitName: "seconds", helpText: "Request latency in seconds, by verb") }
        static var restClientRequestsTotal: MetricNameDescriptor { MetricNameDescriptor(metricName: "rest_client_requests", unitName: "total", helpText: "Number of HTTP requests, partitioned by verb and status code") }
        static var workqueueDepth: MetricNameDescriptor { MetricNameDescriptor(metricName: "workqueue", unitName: "depth", helpText: "Current depth of workqueue") }
        static var workqueueAddsTotal: MetricNameDescriptor { MetricNameDescriptor(metricName: "workqueue_adds", unitName: "total", helpText: "Total number of adds handled by workqueue") }
        static var workqueueQueueDurationSeconds: MetricNameDescriptor { MetricNameDescriptor(metricName: "workqueue_queue_duration", unitName: "seconds", helpText: "How long in seconds an item stays in workqueue before being requested") }
        static var workqueueRetriesTotal: MetricNameDescriptor { MetricNameDescriptor(metricName: "workqueue_retries", unitName: "total", helpText: "Total number of retries handled by workqueue") }
        static var workqueueWorkDurationSeconds: MetricNameDescriptor { MetricNameDescriptor(metricName: "workqueue_work_duration", unitName: "seconds", helpText: "How long in seconds processing an item from workqueue takes") }
    }

    // MARK: Controllers

    /// One reconcile finished.
    public func reconciled(controller: String, result: String, duration: Duration) {
        registry.makeCounter(
            descriptor: Family.controllerRuntimeReconcileTotal,
            labels: [("controller", controller), ("result", result)]
        ).increment()
        if result == "error" {
            registry.makeCounter(
                descriptor: Family.controllerRuntimeReconcileErrorsTotal,
                labels: [("controller", controller)]
            ).increment()
        }
        registry.makeDurationHistogram(
            descriptor: Family.controllerRuntimeReconcileTimeSeconds,
            labels: [("controller", controller)], buckets: Self.reconcileBuckets
        ).record(duration)
    }

    /// Sets how many workers are inside a reconcile right now.
    public func activeWorkers(controller: String, _ count: Int) {
        registry.makeGauge(
            descriptor: Family.controllerRuntimeActiveWorkers,
            labels: [("controller", controller)]
        ).set(to: Double(count))
    }

    /// Creates the series a controller reports at zero, so they exist before the first reconcile.
    public func registerController(_ controller: String) {
        for result in ["success", "error", "requeue_after"] {
            _ = registry.makeCounter(
                descriptor: Family.controllerRuntimeReconcileTotal,
                labels: [("controller", controller), ("result", result)])
        }
        _ = registry.makeCounter(
            descriptor: Family.controllerRuntimeReconcileErrorsTotal,
            labels: [("controller", controller)])
        activeWorkers(controller: controller, 0)
        depth(queue: controller, 0)
        _ = registry.makeCounter(descriptor: Family.workqueueAddsTotal,
                                 labels: [("name", controller)])
        _ = registry.makeCounter(descriptor: Family.workqueueRetriesTotal,
                                 labels: [("name", controller)])
    }

    // MARK: Work queues

    public func added(queue: String) {
        registry.makeCounter(descriptor: Family.workqueueAddsTotal,
                             labels: [("name", queue)]).increment()
    }

    public func depth(queue: String, _ depth: Int) {
        registry.makeGauge(descriptor: Family.workqueueDepth,
                           labels: [("name", queue)]).set(to: Double(depth))
    }

    public func queueLatency(queue: String, _ duration: Duration) {
        registry.makeDurationHistogram(
            descriptor: Family.workqueueQueueDurationSeconds,
            labels: [("name", queue)], buckets: Self.queueBuckets
        ).record(duration)
    }

    public func workDuration(queue: String, _ duration: Duration) {
        registry.makeDurationHistogram(
            descriptor: Family.workqueueWorkDurationSeconds,
            labels: [("name", queue)], buckets: Self.queueBuckets
        ).record(duration)
    }

    public func retried(queue: String) {
        registry.makeCounter(descriptor: Family.workqueueRetriesTotal,
                             labels: [("name", queue)]).increment()
    }

    // MARK: Leader election

    /// 1 while this process holds lease `name`, else 0.
    public func leader(name: String, _ leading: Bool) {
        registry.makeGauge(
            descriptor: Family.leaderElectionMasterStatus,
            labels: [("name", name)]
        ).set(to: leading ? 1.0 : 0.0)
    }

    // MARK: API client

    /// Feeds ``KubernetesClient``'s request observer.
    public func request(_ record: KubernetesClient.RequestRecord) {
        registry.makeCounter(
            descriptor: Family.restClientRequestsTotal,
            labels: [("verb", record.verb), ("code", record.code == 0 ? "<error>" : String(record.code))]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: Family.restClientRequestDurationSeconds,
            labels: [("verb", record.verb)], buckets: Self.requestBuckets
        ).record(record.duration)
    }

    /// The text exposition format.
    public func render() -> String {
        registry.emitToString()
    }
}
