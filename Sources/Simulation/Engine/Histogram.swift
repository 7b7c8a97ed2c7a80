import KubeCore

/// A Prometheus-style histogram (of seconds, or of token counts): fixed upper bounds, a count per
/// bucket, a sum and a count, as vLLM's `prometheus_client` histograms expose them.
///
/// A value `v` falls in the first bucket whose bound `le` satisfies `v ≤ le`; values above every
/// bound fall in the implicit `+Inf` bucket. ``cumulativeCounts`` gives what `_bucket{le=…}`
/// prints.
public struct Histogram: Sendable, Hashable {
    /// Bucket upper bounds (seconds or tokens), ascending, without `+Inf`.
    public let upperBounds: [Double]
    /// Observations per bucket (not cumulative); one more entry than ``upperBounds`` (`+Inf`).
    public private(set) var bucketCounts: [Int]
    /// Sum of all observed values.
    public private(set) var sum: Double = 0
    /// Number of observations.
    public private(set) var count: Int = 0

    /// An empty histogram with these bounds (ascending).
    public init(upperBounds: [Double]) {
        precondition(zip(upperBounds, upperBounds.dropFirst()).allSatisfy { $0 < $1 }, "bounds must ascend")
        self.upperBounds = upperBounds
        bucketCounts = Array(repeating: 0, count: upperBounds.count + 1)
    }

    /// Records one value (seconds, or a count).
    public mutating func observe(_ seconds: Double) {
        var low = 0
        var high = upperBounds.count
        while low < high {  // first bound ≥ value
            let mid = (low + high) / 2
            if upperBounds[mid] < seconds { low = mid + 1 } else { high = mid }
        }
        bucketCounts[low] += 1
        sum += seconds
        count += 1
    }

    /// Records one duration.
    public mutating func observe(_ duration: Duration) {
        observe(duration.inSeconds)
    }

    /// Counts of observations `≤` each bound, then the total (`le="+Inf"`).
    public var cumulativeCounts: [Int] {
        var running = 0
        return bucketCounts.map { running += $0; return running }
    }
}

extension Histogram {
    /// `vllm:time_to_first_token_seconds` buckets (vLLM `vllm/v1/metrics/loggers.py`, per VLLM-METRICS.md).
    public static let timeToFirstTokenBounds: [Double] = [
        0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160,
        640, 2560,
    ]
    /// `vllm:inter_token_latency_seconds` buckets (vLLM `vllm/v1/metrics/loggers.py`, per VLLM-METRICS.md).
    public static let interTokenLatencyBounds: [Double] = [
        0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80,
    ]
    /// Buckets of vLLM's per-request latency histograms (`vllm:e2e_request_latency_seconds`,
    /// `vllm:request_queue_time_seconds`, …) (vLLM `vllm/v1/metrics/loggers.py`, per VLLM-METRICS.md).
    public static let requestLatencyBounds: [Double] = [
        0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680,
    ]

    /// Buckets of vLLM's per-request token-count histograms (`vllm:request_prompt_tokens`,
    /// `vllm:request_generation_tokens`): 1, 2, 5, 10, 20, 50, … while at most `maxModelLen`
    /// (vLLM `build_1_2_5_buckets(max_model_len)` in `vllm/v1/metrics/loggers.py`). The last bound
    /// is `maxModelLen` only when it is itself of that form (4,096 gives …, 1000, 2000).
    public static func tokenCountBounds(maxModelLen: Int) -> [Double] {
        var bounds: [Double] = []
        var scale = 1
        while true {
            for mantissa in [1, 2, 5] {
                let (value, overflow) = mantissa.multipliedReportingOverflow(by: scale)
                guard !overflow, value <= maxModelLen else { return bounds }
                bounds.append(Double(value))
            }
            let (next, overflow) = scale.multipliedReportingOverflow(by: 10)
            guard !overflow else { return bounds }
            scale = next
        }
    }
}

extension Duration {
    /// A duration of `seconds`, rounded to the nanosecond so that sums stay exact.
    init(engineSeconds seconds: Double) {
        self = .nanoseconds(Int64((seconds * 1e9).rounded()))
    }
}
