import Prometheus

/// The informers' own metrics, kept beside the informer (``RuntimeMetrics`` holds the
/// controller-runtime and client-go families).
///
/// | metric | type | labels |
/// |---|---|---|
/// | `tandem_undecodable_objects` | gauge: objects an informer skips because they cannot be decoded | resource |
/// | `tandem_informer_watchdog_restarts_total` | counter: watches resumed after the idle timeout | resource |
extension RuntimeMetrics {
    enum InformerFamily {
        static var undecodableObjects: MetricNameDescriptor {
            MetricNameDescriptor(
                metricName: "tandem_undecodable", unitName: "objects",
                helpText: "Objects an informer leaves out of its cache because they cannot be decoded, by resource")
        }
        static var watchdogRestarts: MetricNameDescriptor {
            MetricNameDescriptor(
                metricName: "tandem_informer_watchdog_restarts", unitName: "total",
                helpText: "Watches an informer cancelled and resumed because no event or bookmark arrived within its idle timeout")
        }
    }

    /// Sets how many objects of `resource` the informer currently skips.
    public func undecodableObjects(resource: String, _ count: Int) {
        registry.makeGauge(descriptor: InformerFamily.undecodableObjects, labels: [("resource", resource)])
            .set(to: Double(count))
    }

    /// Creates the watchdog counter of `resource` at zero.
    public func registerWatchdog(resource: String) {
        _ = registry.makeCounter(descriptor: InformerFamily.watchdogRestarts, labels: [("resource", resource)])
    }

    /// One watch of `resource` was resumed by the watchdog.
    public func watchdogRestarted(resource: String) {
        registry.makeCounter(descriptor: InformerFamily.watchdogRestarts, labels: [("resource", resource)]).increment()
    }
}
