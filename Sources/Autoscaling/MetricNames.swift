/// The metric names one serving engine uses for the three signals the autoscaler reads.
///
/// Names come from docs/VLLM-METRICS.md (read from vllm-project/vllm `vllm/v1/metrics/loggers.py`
/// and SGLang's metrics collector).
public struct MetricNames: Sendable, Hashable {
    /// The gauge of requests waiting for admission to the running batch.
    public var waiting: String
    /// The gauge of requests in the running batch.
    public var running: String
    /// The gauge of KV-cache usage as a fraction 0–1.
    public var kvCacheUtilization: String

    /// A name map.
    public init(waiting: String, running: String, kvCacheUtilization: String) {
        self.waiting = waiting
        self.running = running
        self.kvCacheUtilization = kvCacheUtilization
    }

    /// vLLM's v1 engine (vLLM ≥ 0.9).
    public static let vllmV1 = MetricNames(
        waiting: "vllm:num_requests_waiting",
        running: "vllm:num_requests_running",
        // Replaced vllm:gpu_cache_usage_perc in vLLM 0.9 (VLLM-METRICS.md).
        kvCacheUtilization: "vllm:kv_cache_usage_perc"
    )

    /// vLLM's v0 engine and older v1 servers: same queue names, the deprecated KV-usage name.
    public static let vllmV0 = MetricNames(
        waiting: "vllm:num_requests_waiting",
        running: "vllm:num_requests_running",
        // Deprecated in vLLM 0.9, still served by older servers (VLLM-METRICS.md).
        kvCacheUtilization: "vllm:gpu_cache_usage_perc"
    )

    /// SGLang.
    public static let sglang = MetricNames(
        waiting: "sglang:num_queue_reqs",
        running: "sglang:num_running_reqs",
        kvCacheUtilization: "sglang:token_usage"
    )

    /// The maps tried in order when reading a pod: vLLM v1 first, then v0, then SGLang.
    ///
    /// Each signal is read from the first map whose name has a usable series, so a server
    /// exposing both the new and the deprecated KV-usage name is read by the new one.
    public static let preferenceOrder: [MetricNames] = [.vllmV1, .vllmV0, .sglang]
}

/// What one pod's `/metrics` says about its load; `nil` where the pod does not report a signal.
public struct PodSignals: Sendable, Hashable {
    /// Requests waiting, summed over the pod's data-parallel engines.
    public var waiting: Double?
    /// Requests running, summed over the pod's data-parallel engines.
    public var running: Double?
    /// KV-cache usage 0–1, the mean over the pod's data-parallel engines.
    public var kvCacheUtilization: Double?

    /// Signals with the given values.
    public init(waiting: Double? = nil, running: Double? = nil, kvCacheUtilization: Double? = nil) {
        self.waiting = waiting
        self.running = running
        self.kvCacheUtilization = kvCacheUtilization
    }

    /// `true` when the pod reports none of the three signals.
    public var isEmpty: Bool { waiting == nil && running == nil && kvCacheUtilization == nil }

    /// Reads a pod's signals from its parsed `/metrics` samples.
    ///
    /// - Waiting and running are **summed** over all series of the chosen name: each
    ///   data-parallel engine (`engine="0"`, `"1"`, …) serves its own share of the pod's requests.
    /// - KV-cache usage is the **mean** over the series: data-parallel engines have equal caches,
    ///   so the mean is the pod's overall cache fill, which is what the per-pod average of the
    ///   HPA formula expects. (The maximum would let one hot engine size the whole tier.)
    /// - Names are tried in ``MetricNames/preferenceOrder``; the first name with at least one
    ///   usable series wins, the others are ignored.
    /// - Values that are `NaN`, infinite or negative are ignored.
    ///
    /// - Parameters:
    ///   - samples: The pod's samples, e.g. from ``PrometheusText/parse(_:)``.
    ///   - modelName: When given, series whose `model_name` label is present and differs are
    ///     ignored (a series without the label is kept).
    /// - Returns: The signals; a field is `nil` when no usable series reports it.
    public static func extract(from samples: [PrometheusText.Sample], modelName: String? = nil) -> PodSignals {
        var byName: [String: [Double]] = [:]
        let wanted = Set(MetricNames.preferenceOrder.flatMap { [$0.waiting, $0.running, $0.kvCacheUtilization] })
        for sample in samples where wanted.contains(sample.name) {
            guard sample.value.isFinite, sample.value >= 0 else { continue }
            if let modelName, let label = sample.labels["model_name"], label != modelName { continue }
            byName[sample.name, default: []].append(sample.value)
        }
        func first(_ name: KeyPath<MetricNames, String>) -> [Double]? {
            for names in MetricNames.preferenceOrder {
                if let values = byName[names[keyPath: name]], !values.isEmpty { return values }
            }
            return nil
        }
        let waiting = first(\.waiting).map { $0.reduce(0, +) }
        let running = first(\.running).map { $0.reduce(0, +) }
        let kv = first(\.kvCacheUtilization).map { $0.reduce(0, +) / Double($0.count) }
        return PodSignals(waiting: waiting, running: running, kvCacheUtilization: kv)
    }
}
