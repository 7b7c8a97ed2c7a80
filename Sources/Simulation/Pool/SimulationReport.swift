import Foundation
import TandemAPI
import KubeCore

/// What one ``PoolSimulation`` run measured. Equal inputs give an equal report.
public struct SimulationReport: Sendable, Hashable {
    /// What happened to one request.
    public struct RequestOutcome: Sendable, Hashable {
        /// Arrival, from the start of the run.
        public var arrival: Duration
        public var promptTokens: Int
        public var outputTokens: Int
        /// Whether it was prefilled on a prefill replica (else on its decode replica).
        public var disaggregated: Bool
        /// Arrival to the first token leaving the decode replica; `nil` if it never came.
        public var timeToFirstToken: Duration?
        /// (finish − first token) / (output tokens − 1); `nil` for one-token outputs or unfinished requests.
        public var timePerOutputToken: Duration?
        /// When it finished (or was aborted); `nil` if it did not within the run.
        public var finished: Duration?
        /// Finished normally.
        public var completed: Bool
        /// Met the SLO: completed, TTFT and TPOT within it (a one-token output has no TPOT to miss).
        public var metSLO: Bool
    }

    /// A policy's change of one tier.
    public struct ScaleEvent: Sendable, Hashable {
        public var time: Duration
        public var tier: TierName
        public var from: Int
        public var to: Int
        public var reason: String
    }

    /// One tier's size after one round.
    public struct TimelinePoint: Sendable, Hashable {
        public var time: Duration
        public var tier: TierName
        /// Replicas asked for (the Deployment's `spec.replicas`).
        public var desired: Int
        /// Replicas ready and taking new work.
        public var ready: Int
        /// Replicas asked for but not placed for lack of GPUs.
        public var pending: Int
        /// Requests waiting, summed over the ready replicas (`vllm:num_requests_waiting`).
        public var waiting: Int = 0
        /// Requests running, summed over the ready replicas (`vllm:num_requests_running`).
        public var running: Int = 0
        /// Prompt tokens still to compute (queued or in prefill), summed over the ready replicas.
        public var promptTokensInFlight: Int = 0
    }

    /// The policy's name.
    public var policy: String
    /// The objective requests were judged by.
    public var slo: ServiceLevelObjective
    /// The seed of the options.
    public var seed: UInt64
    /// First to last arrival.
    public var loadDuration: Duration
    /// Time 0 to the end of the run (the last request finished, or the drain limit).
    public var simulatedDuration: Duration
    /// Every request, in arrival order.
    public var requests: [RequestOutcome]
    /// Every change a policy made.
    public var scaleEvents: [ScaleEvent]
    /// Both tiers after every round.
    public var timeline: [TimelinePoint]
    /// Replica-seconds on GPUs (placement to removal, start-up included) × GPUs per replica, per tier.
    public var gpuSeconds: [TierName: Double]
    /// Replica-seconds on GPUs per tier (for mean replicas).
    public var replicaSeconds: [TierName: Double]

    /// Requests in the plan.
    public var requestCount: Int { requests.count }
    /// Requests that finished normally.
    public var completedCount: Int { requests.reduce(0) { $0 + ($1.completed ? 1 : 0) } }
    /// Requests meeting the SLO.
    public var goodCount: Int { requests.reduce(0) { $0 + ($1.metSLO ? 1 : 0) } }
    /// Share of all requests meeting the SLO (unfinished ones count as missing it).
    public var sloAttainment: Double { requests.isEmpty ? 1 : Double(goodCount) / Double(requests.count) }
    /// SLO-meeting requests per second of load (first to last arrival).
    public var goodput: Double {
        let seconds = loadDuration.inSeconds
        return seconds > 0 ? Double(goodCount) / seconds : Double(goodCount)
    }
    /// GPU-hours of both tiers.
    public var gpuHours: Double { gpuSeconds.values.reduce(0, +) / 3600 }

    /// TTFT p50, p90, p99 in seconds over requests that got a first token.
    public var timeToFirstTokenPercentiles: [Double] {
        Percentiles.of(requests.compactMap { $0.timeToFirstToken?.inSeconds }, [50, 90, 99])
    }
    /// TPOT p50, p90, p99 in seconds over finished requests with at least two tokens.
    public var timePerOutputTokenPercentiles: [Double] {
        Percentiles.of(requests.compactMap { $0.timePerOutputToken?.inSeconds }, [50, 90, 99])
    }

    /// The most replicas a tier asked for (`desired`) and had ready, over the timeline.
    public func peakReplicas(_ tier: TierName) -> (desired: Int, ready: Int) {
        var desired = 0
        var ready = 0
        for point in timeline where point.tier == tier {
            desired = max(desired, point.desired)
            ready = max(ready, point.ready)
        }
        return (desired, ready)
    }

    /// Time-weighted mean replicas on GPUs of a tier.
    public func meanReplicas(_ tier: TierName) -> Double {
        let seconds = simulatedDuration.inSeconds
        return seconds > 0 ? (replicaSeconds[tier] ?? 0) / seconds : 0
    }

    /// A short table for people.
    public func table() -> String {
        func ms(_ values: [Double]) -> String {
            values.map { $0.isNaN ? "-" : String(format: "%.0f", $0 * 1000) }.joined(separator: " / ")
        }
        let unfinished = requestCount - completedCount
        let disaggregated = requests.reduce(0) { $0 + ($1.disaggregated ? 1 : 0) }
        var lines: [String] = []
        lines.append(String(
            format: "policy %@: %d requests over %.0f s of load (simulated %.0f s), %d disaggregated",
            policy, requestCount, loadDuration.inSeconds, simulatedDuration.inSeconds, disaggregated))
        lines.append(String(
            format: "  SLO (TTFT ≤ %.2f s, TPOT ≤ %.0f ms): %.2f %% met; goodput %.2f req/s; %d completed, %d not",
            slo.timeToFirstToken.inSeconds, slo.timePerOutputToken.inSeconds * 1000,
            sloAttainment * 100, goodput, completedCount, unfinished))
        lines.append("  TTFT ms p50 / p90 / p99: \(ms(timeToFirstTokenPercentiles))")
        lines.append("  TPOT ms p50 / p90 / p99: \(ms(timePerOutputTokenPercentiles))")
        lines.append(String(format: "  GPU-hours: %.2f", gpuHours))
        for tier in [TierName.prefill, .decode] {
            let peak = peakReplicas(tier)
            let events = scaleEvents.filter { $0.tier == tier }
            lines.append(String(
                format: "  %@: mean %.2f replicas, peak %d desired / %d ready, %d scale events (%d up, %d down), %.2f GPU-hours",
                tier.rawValue, meanReplicas(tier), peak.desired, peak.ready, events.count,
                events.filter { $0.to > $0.from }.count, events.filter { $0.to < $0.from }.count,
                (gpuSeconds[tier] ?? 0) / 3600))
        }
        return lines.joined(separator: "\n")
    }

    /// The timeline as CSV: `time_s,tier,desired,ready,pending,waiting,running,prompt_tokens_in_flight`,
    /// one row per tier per round (the last three summed over the tier's ready replicas).
    public func timelineCSV() -> String {
        var text = "time_s,tier,desired,ready,pending,waiting,running,prompt_tokens_in_flight\n"
        for point in timeline {
            text += String(format: "%.3f", point.time.inSeconds)
                + ",\(point.tier.rawValue),\(point.desired),\(point.ready),\(point.pending)"
                + ",\(point.waiting),\(point.running),\(point.promptTokensInFlight)\n"
        }
        return text
    }
}

