import Autoscaling
import TandemAPI

/// `oracle`: a hindsight lower bound. It knows the whole request plan in advance and, for each
/// window of `window` length (the autoscaler interval), sets the fewest replicas per tier that
/// serve that window's demand at no more than 100% utilisation, ignoring start-up delay,
/// queueing and imbalance. Its GPU-hours are a lower bound for any policy on the same trace.
///
/// ## Formula
/// Windows are `[kΔ, (k+1)Δ)` on the plan's clock (the same origin as `now`). For window `k`:
/// - **prefill**: `P_k = ceil(Σ prompt tokens arriving in the window ÷ (prefillTokensPerSecond × Δ))`;
/// - **decode**: a request's output is spread evenly over `[arrival, arrival + output ÷ r)` when a
///   per-sequence decode rate `r` is given, else it all falls in its arrival window;
///   `T_k` = output tokens generated in the window; with `r`, the request's cache holds
///   `prompt + tokens generated so far` while it decodes, and `M_k` = the mean over the window of
///   the sum over requests (computed exactly, piecewise linear);
///   `D_k = max(ceil(T_k ÷ (decodeTokensPerSecond × Δ)), ceil(M_k ÷ kvCacheTokensPerReplica))`;
/// - each tier is then raised to its floor (default 1, the operator's default `minReplicas`).
///
/// The oracle's GPU-seconds are `Σ_k Δ × (P_k × gpus(prefill) + D_k × gpus(decode))`.
public struct OraclePolicy: DocumentedPolicy {
    /// One request of the plan.
    public struct Request: Sendable, Hashable {
        /// When it arrives, on the simulation clock.
        public var arrival: Duration
        public var promptTokens: Int
        public var outputTokens: Int

        /// A request arriving at `arrival` with the given token counts.
        public init(arrival: Duration, promptTokens: Int, outputTokens: Int) {
            self.arrival = arrival
            self.promptTokens = promptTokens
            self.outputTokens = outputTokens
        }
    }

    /// What one replica of each tier can do.
    public struct Capacity: Sendable, Hashable {
        /// Prompt tokens one prefill replica prefills per second.
        public var prefillTokensPerSecond: Double
        /// Output tokens one decode replica generates per second (all sequences together).
        public var decodeTokensPerSecond: Double
        /// KV-cache tokens one decode replica holds.
        public var kvCacheTokensPerReplica: Double
        /// Output tokens per second of one sequence (1 ÷ TPOT); `nil` leaves KV residency out.
        public var decodeTokensPerSecondPerSequence: Double?

        /// A replica's capacities.
        public init(prefillTokensPerSecond: Double, decodeTokensPerSecond: Double, kvCacheTokensPerReplica: Double,
                    decodeTokensPerSecondPerSequence: Double? = nil) {
            self.prefillTokensPerSecond = prefillTokensPerSecond
            self.decodeTokensPerSecond = decodeTokensPerSecond
            self.kvCacheTokensPerReplica = kvCacheTokensPerReplica
            self.decodeTokensPerSecondPerSequence = decodeTokensPerSecondPerSequence
        }
    }

    /// `oracle`.
    public var name: String { "oracle" }

    /// The window length (the autoscaler interval).
    public let window: Duration
    /// Replicas per window, per tier.
    public let plan: [TierName: [Int]]
    /// The floor per tier, also used past the plan's last window.
    public let floors: [TierName: Int]

    /// Tandem's default autoscaler interval, the oracle's default window.
    ///
    /// Source: docs/autoscaling.md, "At most every `--autoscaler-interval` (5 s)".
    public static let defaultWindow = Duration.seconds(5)

    /// The oracle for a request plan and replica capacities.
    public init(requests: [Request], capacity: Capacity, window: Duration = OraclePolicy.defaultWindow,
                floors: [TierName: Int] = [.prefill: 1, .decode: 1]) {
        self.window = window
        self.floors = floors
        self.plan = Self.plan(requests: requests, capacity: capacity, window: window, floors: floors)
    }

    /// Every parameter of the policy.
    public static let parameters: [PolicyParameter] = [
        PolicyParameter(
            name: "request plan", value: "the whole trace, known in advance",
            source: "the benchmark's trace; a hindsight bound, not a real autoscaler"),
        PolicyParameter(
            name: "window", value: "5 s (the autoscaler interval)",
            source: "docs/autoscaling.md: --autoscaler-interval 5 s"),
        PolicyParameter(
            name: "capacities", value: "prefill tokens/s, decode tokens/s, KV-cache tokens per replica (and optionally 1/TPOT)",
            source: "constructor parameters, from the benchmark's performance model"),
        PolicyParameter(
            name: "floors", value: "1 replica per tier",
            source: "Tandem's default minReplicas (TierSettings), the same floor the other policies use"),
        PolicyParameter(
            name: "start-up delay, queueing, imbalance", value: "ignored",
            source: "by design, so that its GPU-hours are a lower bound"),
    ]

    /// The replicas per window of each tier (see the formula above).
    public static func plan(requests: [Request], capacity: Capacity, window: Duration,
                            floors: [TierName: Int] = [.prefill: 1, .decode: 1]) -> [TierName: [Int]] {
        let delta = PolicyMath.seconds(window)
        precondition(delta > 0, "window must be positive")
        // Enough windows for every arrival and, with a sequence rate, every decode's end.
        var count = 0
        for request in requests {
            let start = PolicyMath.seconds(request.arrival)
            count = max(count, PolicyMath.floorInt(start / delta) + 1)
            if let rate = capacity.decodeTokensPerSecondPerSequence, rate > 0 {
                count = max(count, PolicyMath.ceilInt((start + Double(request.outputTokens) / rate) / delta))
            }
        }
        var prompt = [Double](repeating: 0, count: count)
        var output = [Double](repeating: 0, count: count)
        var kvSeconds = [Double](repeating: 0, count: count)  // ∫ KV tokens dt over each window
        for request in requests {
            let start = PolicyMath.seconds(request.arrival)
            let first = PolicyMath.floorInt(start / delta)
            guard first >= 0, first < count else { continue }
            prompt[first] += Double(request.promptTokens)
            guard let rate = capacity.decodeTokensPerSecondPerSequence, rate > 0 else {
                output[first] += Double(request.outputTokens)
                continue
            }
            let finish = start + Double(request.outputTokens) / rate
            let p = Double(request.promptTokens)
            var k = first
            while k < count, Double(k) * delta < finish {
                let a = max(start, Double(k) * delta)
                let b = min(finish, Double(k + 1) * delta)
                if b > a {
                    output[k] += rate * (b - a)
                    // ∫_a^b (p + r(t − start)) dt
                    kvSeconds[k] += p * (b - a) + rate / 2 * ((b - start) * (b - start) - (a - start) * (a - start))
                }
                k += 1
            }
        }
        let prefillFloor = max(0, floors[.prefill] ?? 1)
        let decodeFloor = max(0, floors[.decode] ?? 1)
        var prefill: [Int] = []
        var decode: [Int] = []
        for k in 0..<count {
            let p = PolicyMath.ceilInt(prompt[k] / (capacity.prefillTokensPerSecond * delta))
            let tokens = PolicyMath.ceilInt(output[k] / (capacity.decodeTokensPerSecond * delta))
            let memory = PolicyMath.ceilInt(kvSeconds[k] / delta / capacity.kvCacheTokensPerReplica)
            prefill.append(max(prefillFloor, p))
            decode.append(max(decodeFloor, tokens, memory))
        }
        return [.prefill: prefill, .decode: decode]
    }

    /// The oracle's replicas of a tier at `now`: its window's count, the floor outside the plan.
    public func replicas(tier: TierName, at now: Duration) -> Int {
        let floor = floors[tier] ?? 1
        let index = PolicyMath.floorInt(PolicyMath.seconds(now) / PolicyMath.seconds(window))
        guard let counts = plan[tier], index >= 0, index < counts.count else { return floor }
        return counts[index]
    }

    /// GPU-seconds of the whole plan for the given GPUs per replica.
    public func gpuSeconds(gpusPerReplica: [TierName: Int] = [:]) -> Double {
        let delta = PolicyMath.seconds(window)
        return plan.reduce(0.0) { sum, entry in
            sum + Double(entry.value.reduce(0, +)) * delta * Double(gpusPerReplica[entry.key] ?? 1)
        }
    }

    /// Sets each tier to its window's count.
    public mutating func decide(
        spec: InferencePoolSpec, observations: [TierName: TierObservation], fixed: [TierName: Int], now: Duration
    ) -> [TierName: TierScaling] {
        var decisions: [TierName: TierScaling] = [:]
        for (tier, observation) in observations {
            let target = replicas(tier: tier, at: now)
            decisions[tier] = TierScaling(
                tier: tier, from: observation.current, to: target, reason: "oracle: \(target) serve this window's demand",
                observed: PolicyMath.observed(observation), desired: target)
        }
        return decisions
    }
}
