import ArgumentParser
import Simulation

/// The synthetic load of the `--pattern` options, shared by `tandem load` and `tandem simulate`.
enum SyntheticLoad {
    /// Seeded Poisson arrivals of the named pattern (``ArrivalSchedule/generate(pattern:rate:duration:promptTokens:outputTokens:seed:)``).
    /// - Throws: `ValidationError` naming the patterns when `pattern` is not one.
    static func plan(
        pattern: String, rate: Double, seconds: Double, promptTokens: Int, outputTokens: Int, seed: UInt64
    ) throws -> [PlannedRequest] {
        guard let kind = ArrivalSchedule.Pattern(rawValue: pattern) else {
            throw ValidationError("--pattern must be one of \(ArrivalSchedule.Pattern.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return ArrivalSchedule.generate(
            pattern: kind, rate: rate, duration: .milliseconds(Int64(seconds * 1000)), promptTokens: promptTokens,
            outputTokens: outputTokens, seed: seed)
    }
}
