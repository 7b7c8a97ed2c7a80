import Autoscaling
import KubeCore
import KubeRuntime
import Prometheus
import Rendering
import Synchronization
import TandemAPI

/// The autoscaler's part of a pool's status: per-tier desired replicas, signals and last
/// scale time, the scaling history and the `ScalingActive` and `ScalingLimited` conditions. Pure.
public enum ScalingStatus {
    /// `ScalingLimited`: a tier wanted to grow and the cluster had no room.
    public static let scalingLimited = "ScalingLimited"

    /// Writes this round's decisions into `status`.
    ///
    /// - Parameters:
    ///   - decisions: this round's decisions; empty when no round ran (the status keeps what it had).
    ///   - operated: the tiers in `Operator` mode.
    ///   - refreshSignals: whether signal values may be updated (they are rate-limited).
    public static func apply(
        _ decisions: [TierName: TierScaling], operated: [TierName], record: Autoscaler.Record?, to status: inout InferencePoolStatus,
        previous: InferencePoolStatus?, refreshSignals: Bool, generation: Int64?, now: KubeTime
    ) {
        var conditions = status.conditions ?? []
        func set(_ type: String, _ value: ConditionStatus, _ reason: String, _ message: String) {
            conditions.set(Condition(type: type, status: value, reason: reason, message: message, observedGeneration: generation), now: now)
        }
        defer { status.conditions = conditions }

        guard !operated.isEmpty else {
            set(PoolCondition.scalingActive, .false, "Disabled", "no tier's autoscaling mode is Operator")
            conditions.removeAll { $0.type == scalingLimited }
            for tier in TierName.allCases { status[tier]?.metrics = nil }
            return
        }
        for tier in TierName.allCases where !operated.contains(tier) { status[tier]?.metrics = nil }
        guard !decisions.isEmpty else { return }

        if let record {
            status.scalingHistory = record.history.isEmpty ? nil : record.history
            for tier in TierName.allCases { status[tier]?.lastScaleTime = record.lastScaleTimes[tier] ?? previous?[tier]?.lastScaleTime }
        }
        for tier in [TierName.prefill, .decode] {
            guard let decision = decisions[tier] else { continue }
            status[tier]?.desiredReplicas = Int32(clamping: decision.to)
            if refreshSignals || previous?[tier]?.metrics == nil {
                let metrics = TierMetrics(
                    waitingRequests: rounded(decision.observed.waiting), runningRequests: rounded(decision.observed.running),
                    kvCacheUtilization: rounded(decision.observed.kvCacheUtilization))
                // No signal at all (no ready pod read): no `metrics`. An empty object would reach
                // the 1.20 API server's server-side apply as null, which the CRD's schema refuses
                // (422 on every round until a pod reports).
                status[tier]?.metrics = metrics == TierMetrics() ? nil : metrics
            }
        }

        let unavailable = decisions.values.filter { $0.metricsUnavailable != nil }.sorted { $0.tier.rawValue > $1.tier.rawValue }
        if unavailable.isEmpty {
            let tiers = operated.map(\.rawValue).joined(separator: " and ")
            set(PoolCondition.scalingActive, .true, "Autoscaling", "\(tiers) scale on their model servers' metrics")
        } else {
            set(PoolCondition.scalingActive, .false, "MetricsUnavailable",
                unavailable.map { "\($0.tier.rawValue): \($0.metricsUnavailable ?? ""); size held at \($0.from)" }.joined(separator: "; "))
        }
        let limited = decisions.values.filter { $0.capacity != nil }.sorted { $0.tier.rawValue > $1.tier.rawValue }
        if let first = limited.first?.capacity {
            set(scalingLimited, .true, first.reason,
                limited.map { "\($0.tier.rawValue) held at \($0.from), wanted \($0.desired): \($0.capacity?.message ?? "")" }.joined(separator: "; "))
        } else {
            set(scalingLimited, .false, "WithinCapacity", "every tier can grow")
        }
    }

    /// Splits a status into the reconciler's part (field manager `tandem`) and the autoscaler's
    /// (`tandem-autoscaler`): the tiers' `metrics` and `lastScaleTime`, and `scalingHistory`.
    /// Each part is applied by its own manager, so neither removes the other's.
    ///
    /// The conditions, the autoscaler's `ScalingActive` and `ScalingLimited` among them, stay in
    /// the reconciler's part: the CRD declares them a map list keyed by `type`, but the 1.20
    /// API server merges a CRD's status lists as atomic under server-side apply (measured on the
    /// local control plane), so two managers would replace each other's entries.
    public static func split(_ status: InferencePoolStatus?) -> (reconciler: InferencePoolStatus, autoscaler: InferencePoolStatus) {
        var own = status ?? InferencePoolStatus()
        var scaler = InferencePoolStatus()
        scaler.scalingHistory = own.scalingHistory
        own.scalingHistory = nil
        for tier in TierName.allCases {
            let metrics = own[tier]?.metrics
            let lastScaleTime = own[tier]?.lastScaleTime
            own[tier]?.metrics = nil
            own[tier]?.lastScaleTime = nil
            if metrics != nil || lastScaleTime != nil { scaler[tier] = TierStatus(metrics: metrics, lastScaleTime: lastScaleTime) }
        }
        return (own, scaler)
    }

    /// Signals in the status carry three decimals, so noise below that does not churn it.
    static func rounded(_ value: Double?) -> Double? {
        value.map { ($0 * 1000).rounded() / 1000 }
    }
}

extension PoolReconciler {
    /// Forgets a deleted pool (the controller's ``Controller/onDeleted(_:)`` hook): the
    /// autoscaler's memory and background reads, and every metric series labelled with it.
    public func forget(_ key: ObjectKey) {
        autoscaler?.forget(key)
        scalingMetrics?.forget(key)
    }

    /// Events for what the autoscaler did: one per scale, and a Warning when a tier becomes
    /// limited or loses its metrics.
    func recordScaling(pool: InferencePool, decisions: [TierName: TierScaling], old: InferencePoolStatus?, new: InferencePoolStatus) async {
        for tier in [TierName.prefill, .decode] {
            guard let decision = decisions[tier], decision.changed else { continue }
            let reason = decision.to > decision.from ? "ScaledUp" : "ScaledDown"
            await recorder.record(pool, type: .normal, reason: reason, action: "Scale",
                                  note: "\(tier.rawValue) \(decision.from) → \(decision.to): \(decision.reason)")
        }
        func changed(_ type: String) -> Condition? {
            let before = old?.conditions?[type: type]
            guard let after = new.conditions?[type: type], after.status != before?.status || after.reason != before?.reason else { return nil }
            return after
        }
        if let limited = changed(ScalingStatus.scalingLimited), limited.status == .true {
            await recorder.record(pool, type: .warning, reason: "ScalingLimited", action: "Scale", note: "\(limited.reason): \(limited.message)")
        }
        if let active = changed(PoolCondition.scalingActive), active.reason == "MetricsUnavailable" {
            await recorder.record(pool, type: .warning, reason: "MetricsUnavailable", action: "Scale", note: active.message)
        }
    }
}

/// The autoscaler's Prometheus metrics, next to the controller runtime's on `/metrics`.
///
/// Every series carries the pool's `namespace` and `pool` labels; the series made for a pool are
/// noted, so that ``forget(_:)`` removes them all when the pool is deleted (a pool created again
/// under the same name starts without the old one's series, and deleted pools do not pile up).
/// They are tied to the pool's UID too: a pool deleted and created again before a worker saw it
/// gone (the deletion hook then never runs) drops the old one's series at its first record.
public struct ScalingMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    let made: Made

    /// The series made per pool, by family and labels.
    final class Made: Sendable {
        struct PoolSeries {
            /// The UID of the pool the series are of.
            var uid: String?
            var gauges: [String: Gauge] = [:]
            var counters: [String: Counter] = [:]
        }

        let series = Mutex<[ObjectKey: PoolSeries]>([:])
    }

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        made = Made()
    }

    /// Metrics on a registry of their own (tests).
    public init() {
        self.init(registry: PrometheusCollectorRegistry())
    }

    /// The registry's series in Prometheus text, as `/metrics` serves them.
    public var text: String {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return String(decoding: buffer, as: UTF8.self)
    }

    static func id(_ descriptor: MetricNameDescriptor, _ labels: [(String, String)]) -> String {
        ([descriptor.name] + labels.map { "\($0.0)=\($0.1)" }).joined(separator: "\u{0}")
    }

    func gauge(_ descriptor: MetricNameDescriptor, _ labels: [(String, String)], pool: ObjectKey) -> Gauge {
        let gauge = registry.makeGauge(descriptor: descriptor, labels: labels)
        made.series.withLock { $0[pool, default: Made.PoolSeries()].gauges[Self.id(descriptor, labels)] = gauge }
        return gauge
    }

    func counter(_ descriptor: MetricNameDescriptor, _ labels: [(String, String)], pool: ObjectKey) -> Counter {
        let counter = registry.makeCounter(descriptor: descriptor, labels: labels)
        made.series.withLock { $0[pool, default: Made.PoolSeries()].counters[Self.id(descriptor, labels)] = counter }
        return counter
    }

    /// Removes every series of the pool `key` from the registry. Idempotent.
    public func forget(_ key: ObjectKey) {
        guard let series = made.series.withLock({ $0.removeValue(forKey: key) }) else { return }
        for gauge in series.gauges.values { registry.unregisterGauge(gauge) }
        for counter in series.counters.values { registry.unregisterCounter(counter) }
    }

    /// The pools that have series now, for tests.
    public var poolsWithSeries: Set<ObjectKey> { made.series.withLock { Set($0.keys) } }

    enum Family {
        static var desiredReplicas: MetricNameDescriptor { MetricNameDescriptor(metricName: "tandem_tier_desired", unitName: "replicas", helpText: "Replicas the autoscaler wants for a tier") }
        static var signal: MetricNameDescriptor { MetricNameDescriptor(metricName: "tandem_tier_signal", helpText: "Mean per-pod value of a scaling signal of a tier, at the last decision") }
        static var decisions: MetricNameDescriptor { MetricNameDescriptor(metricName: "tandem_scaling_decisions", unitName: "total", helpText: "Autoscaling decisions per tier, by direction (up, down, hold)") }
    }

    func record(pool: InferencePool, decisions: [TierName: TierScaling], status: InferencePoolStatus) {
        let namespace = pool.metadata.namespace ?? ""
        let name = pool.metadata.name ?? ""
        let key = ObjectKey(pool)
        let uid = pool.metadata.uid
        if made.series.withLock({ $0[key].map { $0.uid != uid } ?? false }) { forget(key) }
        if !decisions.isEmpty { made.series.withLock { $0[key, default: Made.PoolSeries()].uid = uid } }
        for (tier, decision) in decisions {
            let labels = [("namespace", namespace), ("pool", name), ("tier", tier.rawValue)]
            gauge(Family.desiredReplicas, labels, pool: key).set(to: Double(decision.to))
            let direction = decision.to > decision.from ? "up" : decision.to < decision.from ? "down" : "hold"
            counter(Family.decisions, labels + [("direction", direction)], pool: key).increment()
            let signals: [(String, Double?)] = [
                ("waiting_requests", decision.observed.waiting), ("running_requests", decision.observed.running),
                ("kv_cache_utilization", decision.observed.kvCacheUtilization),
            ]
            for (signal, value) in signals {
                guard let value else { continue }
                gauge(Family.signal, labels + [("signal", signal)], pool: key).set(to: value)
            }
        }
    }
}
