import Foundation
import KubeCore

/// One request to send: when (from the start of the run) and its shape.
public struct PlannedRequest: Sendable, Hashable {
    public var at: Duration
    public var promptTokens: Int
    public var outputTokens: Int

    public init(at: Duration, promptTokens: Int, outputTokens: Int) {
        self.at = at
        self.promptTokens = promptTokens
        self.outputTokens = outputTokens
    }
}

/// Arrival times and request shapes for a load run. Pure and deterministic for a seed.
public enum ArrivalSchedule {
    /// How the request rate changes over a run.
    public enum Pattern: String, Sendable, CaseIterable {
        /// The rate throughout.
        case steady
        /// The rate for the first half, three times the rate for the second.
        case step
        /// The rate, with bursts of ten times the rate for 10% of each minute.
        case burst
        /// A day compressed into the run: a sine between 20% and 180% of the rate.
        case diurnal
        /// The rate throughout; prompts four times as long during the middle third of the run
        /// (a long-document workload arriving): prefill work quadruples, the request rate does not.
        case surge
    }

    /// How much longer prompts are during ``Pattern/surge``'s middle third.
    public static let surgePromptFactor = 4

    /// Poisson arrivals at a time-varying rate (thinning), each with the given shape.
    public static func generate(
        pattern: Pattern, rate: Double, duration: Duration, promptTokens: Int, outputTokens: Int, seed: UInt64
    ) -> [PlannedRequest] {
        var random = SplitMix64(seed: seed)
        let total = duration.inSeconds
        let base = rate
        func rateAt(_ t: Double) -> Double {
            switch pattern {
            case .steady, .surge: return base
            case .step: return t < total / 2 ? base : base * 3
            case .burst: return t.truncatingRemainder(dividingBy: 60) < 6 ? base * 10 : base
            case .diurnal:
                let phase = 2 * Double.pi * t / max(total, 1) - Double.pi / 2
                return base * (1 + 0.8 * sin(phase))
            }
        }
        let peakFactor: Double
        switch pattern {
        case .steady, .surge: peakFactor = 1
        case .step: peakFactor = 3
        case .burst: peakFactor = 10
        case .diurnal: peakFactor = 1.8
        }
        let peak = peakFactor * base
        guard peak > 0, total > 0 else { return [] }
        var t = 0.0
        var planned: [PlannedRequest] = []
        while true {
            t += -log(1 - random.nextUnit()) / peak
            guard t < total else { break }
            if random.nextUnit() < rateAt(t) / peak {
                let surging = pattern == .surge && t >= total / 3 && t < 2 * total / 3
                planned.append(PlannedRequest(
                    at: .nanoseconds(Int64(t * 1e9)), promptTokens: surging ? promptTokens * surgePromptFactor : promptTokens,
                    outputTokens: outputTokens))
            }
        }
        return planned
    }

    /// Requests from a trace in the Azure LLM inference trace's format
    /// (`TIMESTAMP,ContextTokens,GeneratedTokens`), times made relative to the first row and
    /// divided by `speedup`.
    public static func trace(csv: String, speedup: Double = 1, limit: Int? = nil) throws -> [PlannedRequest] {
        var rows = csv.split(whereSeparator: \.isNewline).map(String.init)
        guard let header = rows.first else { return [] }
        let columns = header.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let time = columns.firstIndex(of: "TIMESTAMP"), let context = columns.firstIndex(of: "ContextTokens"),
            let generated = columns.firstIndex(of: "GeneratedTokens")
        else {
            throw TraceError("the trace needs the columns TIMESTAMP, ContextTokens, GeneratedTokens; it has \(columns.joined(separator: ", "))")
        }
        rows.removeFirst()
        var first: Double?
        var planned: [PlannedRequest] = []
        for (index, row) in rows.enumerated() {
            if let limit, planned.count >= limit { break }
            let fields = row.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields.count > max(time, context, generated), let stamp = parseTimestamp(fields[time]),
                let prompt = Int(fields[context]), let output = Int(fields[generated])
            else { throw TraceError("row \(index + 2) is not a trace row: \(row)") }
            let start = first ?? stamp
            first = start
            planned.append(PlannedRequest(at: .nanoseconds(Int64((stamp - start) / speedup * 1e9)),
                                          promptTokens: max(1, prompt), outputTokens: max(1, output)))
        }
        return planned
    }

    /// Seconds since the epoch of `2023-11-16 18:15:46.6805900` (the trace's form, UTC) or a number.
    static func parseTimestamp(_ text: String) -> Double? {
        if let seconds = Double(text) { return seconds }
        return RFC3339.parse(text + "Z")?.timeIntervalSince1970
    }

    public struct TraceError: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }
}

/// A small, fast, seedable generator (SplitMix64), so runs repeat exactly.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

/// Percentiles of a sample, by nearest rank.
public enum Percentiles {
    public static func of(_ values: [Double], _ percentiles: [Double]) -> [Double] {
        guard !values.isEmpty else { return percentiles.map { _ in .nan } }
        let sorted = values.sorted()
        return percentiles.map { p in
            let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
            return sorted[min(max(rank, 1), sorted.count) - 1]
        }
    }
}
