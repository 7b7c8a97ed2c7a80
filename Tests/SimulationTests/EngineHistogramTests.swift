import Testing

@testable import Simulation

@Suite struct EngineHistogramTests {
    /// The bucket lists exactly as VLLM-METRICS.md prints them.
    static let documented = [
        "0.001 0.005 0.01 0.02 0.04 0.06 0.08 0.1 0.25 0.5 0.75 1 2.5 5 7.5 10 20 40 80 160 640 2560",
        "0.01 0.025 0.05 0.075 0.1 0.15 0.2 0.3 0.4 0.5 0.75 1 2.5 5 7.5 10 20 40 80",
        "0.3 0.5 0.8 1 1.5 2 2.5 5 10 15 20 30 40 50 60 120 240 480 960 1920 7680",
    ]

    static func parse(_ line: String) -> [Double] { line.split(separator: " ").map { Double(String($0))! } }

    @Test func bucketsMatchVLLM() {
        #expect(Histogram.timeToFirstTokenBounds == Self.parse(Self.documented[0]))
        #expect(Histogram.interTokenLatencyBounds == Self.parse(Self.documented[1]))
        #expect(Histogram.requestLatencyBounds == Self.parse(Self.documented[2]))
        let metrics = EngineMetrics()
        #expect(metrics.timeToFirstToken.upperBounds == Histogram.timeToFirstTokenBounds)
        #expect(metrics.interTokenLatency.upperBounds == Histogram.interTokenLatencyBounds)
        #expect(metrics.e2eRequestLatency.upperBounds == Histogram.requestLatencyBounds)
        #expect(metrics.requestQueueTime.upperBounds == Histogram.requestLatencyBounds)
    }

    @Test func valuesOnABoundCountInThatBucketAndCountsAccumulate() {
        var histogram = Histogram(upperBounds: [0.1, 1, 10])
        for value in [0.05, 0.1, 0.5, 1, 20] { histogram.observe(value) }
        histogram.observe(Duration.milliseconds(2_500))
        #expect(histogram.bucketCounts == [2, 2, 1, 1])
        #expect(histogram.cumulativeCounts == [2, 4, 5, 6])
        #expect(histogram.count == 6)
        #expect(abs(histogram.sum - 24.15) < 1e-12)
    }
}
