/// The cumulative buckets of a Prometheus histogram, summed over a pod's series.
public struct CumulativeHistogram: Sendable, Hashable {
    /// One bucket: observations ≤ `upperBound` so far.
    public struct Bucket: Sendable, Hashable {
        public var upperBound: Double
        public var count: Double

        public init(upperBound: Double, count: Double) {
            self.upperBound = upperBound
            self.count = count
        }
    }

    /// Buckets sorted by upper bound; the last one is `+Inf` when the pod reported it.
    public var buckets: [Bucket]

    public init(buckets: [Bucket]) {
        self.buckets = buckets.sorted { $0.upperBound < $1.upperBound }
    }

    /// All observations so far (the `+Inf` bucket, or the largest one).
    public var total: Double { buckets.last?.count ?? 0 }

    /// Observations of an integer quantity at or above `threshold`, e.g. prompts of at least
    /// 512 tokens: everything minus the largest bucket whose bound is below `threshold`.
    ///
    /// When no bound falls exactly on `threshold - 1`, the answer over-counts (a bucket
    /// straddling the threshold counts as above it): waking a tier too eagerly is the safer error.
    public func count(atLeast threshold: Double) -> Double {
        let below = buckets.last { $0.upperBound < threshold }?.count ?? 0
        return max(0, total - below)
    }
}

/// What the autoscaler learns from one pod in one collection round.
public struct PodMetrics: Sendable, Hashable {
    /// The three scaling signals.
    public var signals: PodSignals
    /// `vllm:request_prompt_tokens` (the prompt length of finished requests), summed over the
    /// pod's engines; `nil` when the pod does not report it. Decode's histogram wakes a prefill
    /// tier that was scaled to zero.
    public var promptTokens: CumulativeHistogram?

    public init(signals: PodSignals, promptTokens: CumulativeHistogram? = nil) {
        self.signals = signals
        self.promptTokens = promptTokens
    }

    /// vLLM's histogram of prompt lengths (vllm/v1/metrics/loggers.py, `vllm:request_prompt_tokens`).
    public static let promptTokensName = "vllm:request_prompt_tokens"

    /// Reads a pod's metrics from its parsed samples (see ``PodSignals/extract(from:modelName:)``
    /// for the signals; the histogram's `_bucket` series are summed per `le`).
    public static func extract(from samples: [PrometheusText.Sample], modelName: String? = nil) -> PodMetrics {
        var byBound: [Double: Double] = [:]
        let bucketName = promptTokensName + "_bucket"
        for sample in samples where sample.name == bucketName {
            guard sample.value.isFinite, sample.value >= 0, let le = sample.labels["le"], let bound = Double(le) ?? (le == "+Inf" ? .infinity : nil)
            else { continue }
            if let modelName, let label = sample.labels["model_name"], label != modelName { continue }
            byBound[bound, default: 0] += sample.value
        }
        let histogram = byBound.isEmpty
            ? nil : CumulativeHistogram(buckets: byBound.map { CumulativeHistogram.Bucket(upperBound: $0.key, count: $0.value) })
        return PodMetrics(signals: PodSignals.extract(from: samples, modelName: modelName), promptTokens: histogram)
    }
}

/// One pod whose metrics are wanted.
public struct ScrapeTarget: Sendable, Hashable {
    public var namespace: String
    public var pod: String
    /// `host:port` of the pod's container port named `metrics`.
    public var address: String

    public init(namespace: String, pod: String, address: String) {
        self.namespace = namespace
        self.pod = pod
        self.address = address
    }
}

/// The outcome of reading one pod.
public enum PodReading: Sendable, Hashable {
    /// The pod answered with usable metrics.
    case metrics(PodMetrics)
    /// The pod could not be read: timeout, refused connection, garbage. The text says which.
    case failed(String)
}

/// Where the autoscaler's per-pod metrics come from: the pods themselves (scraping `/metrics`)
/// or a Prometheus server that already scrapes them.
///
/// Both sources go through ``PodMetrics/extract(from:modelName:)``, so the same data gives the
/// same decisions.
public protocol SignalSource: Sendable {
    /// Reads the given pods (all of one tier); the answer has one entry per target, keyed by
    /// pod name. It never throws: a pod that cannot be read is `.failed`.
    func read(_ targets: [ScrapeTarget], modelName: String?) async -> [String: PodReading]
}
