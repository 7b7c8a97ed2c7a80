/// Exponential backoff with jitter that resets after a stretch of health, as client-go's
/// reflector uses between failed list/watch attempts.
///
/// Time is injected (`now` is any monotonic `Duration` since an origin), so the type is pure.
public struct Backoff: Sendable, Equatable {
    /// client-go reflector: `wait.NewExponentialBackoffManager(800ms, 30s, 2m, 2.0, 1.0, …)`.
    public static let reflector = Backoff(initial: .milliseconds(800), maximum: .seconds(30), factor: 2,
                                          jitter: 1.0, resetAfter: .seconds(120))

    public let initial: Duration
    public let maximum: Duration
    public let factor: Double
    /// A delay `d` becomes `d + d × jitter × random` (random in 0..<1), as `wait.Jitter`.
    public let jitter: Double
    /// With no failure for this long, the next failure starts again from `initial`.
    public let resetAfter: Duration

    private var current: Duration?
    private var lastFailure: Duration?

    public init(initial: Duration, maximum: Duration, factor: Double, jitter: Double, resetAfter: Duration) {
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self.resetAfter = resetAfter
    }

    /// The delay before the next attempt after a failure at `now`.
    ///
    /// - Parameter random: a number in `0..<1` for the jitter (injectable for tests).
    public mutating func next(now: Duration, random: Double = Double.random(in: 0..<1)) -> Duration {
        if let lastFailure, now - lastFailure >= resetAfter { current = nil }
        let base: Duration
        if let current {
            base = min(current * factor, maximum)
        } else {
            base = initial
        }
        current = base
        lastFailure = now
        return base + base * (jitter * random)
    }

    /// Forgets past failures.
    public mutating func reset() {
        current = nil
        lastFailure = nil
    }
}
