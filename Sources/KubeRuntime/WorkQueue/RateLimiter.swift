/// Decides how long a failed key waits before it is retried.
///
/// Limiters are values with time injected as a `Duration` since an origin the caller chooses.
/// The per-key failure count lives in ``WorkQueueState``, which passes it in, so a limiter holds
/// only state shared by all keys (such as a token bucket).
public protocol RateLimiter: Sendable {
    /// The delay before the next retry of a key that has failed `failures` times before this
    /// failure (0 for its first failure). Limiters with shared state update it, so call this
    /// once per retry.
    mutating func delay(failures: Int, now: Duration) -> Duration
}

/// Per-key exponential backoff: `base × 2^failures`, capped at `cap`
/// (client-go's `ItemExponentialFailureRateLimiter`).
public struct ItemExponentialBackoff: RateLimiter, Hashable {
    /// The delay after a key's first failure.
    public var base: Duration
    /// The longest delay.
    public var cap: Duration

    /// - Parameters:
    ///   - base: 5 ms, from client-go's `DefaultControllerRateLimiter`.
    ///   - cap: 1000 s, from client-go's `DefaultControllerRateLimiter`.
    public init(base: Duration = .milliseconds(5), cap: Duration = .seconds(1000)) {
        self.base = base
        self.cap = cap
    }

    /// `base × 2^failures`, capped at ``cap``; never overflows, however large `failures` is.
    public func delay(failures: Int) -> Duration {
        guard base > .zero else { return min(max(base, .zero), cap) }
        var delay = base
        var doublings = max(failures, 0)
        // Terminates: each pass doubles a positive delay, so it passes cap / 2 within ~128 passes.
        while doublings > 0 {
            if delay > cap / 2 { return cap }
            delay = delay * 2
            doublings -= 1
        }
        return min(delay, cap)
    }

    public func delay(failures: Int, now: Duration) -> Duration {
        delay(failures: failures)
    }
}

/// A token bucket shared by all keys, with reservations that queue up like
/// `golang.org/x/time/rate`'s `Reserve` (client-go's `BucketRateLimiter`).
///
/// The bucket starts full with `burst` tokens and refills at `qps` tokens a second. Each
/// ``reserve(now:)`` takes a token, going into debt when none is left: with the defaults, 100
/// immediate reservations get no delay, the 101st waits 100 ms, the 102nd 200 ms, and so on.
public struct TokenBucket: RateLimiter, Hashable {
    /// The time between two tokens (1 / qps).
    public let interval: Duration
    /// How many tokens the bucket holds when full.
    public let burst: Int
    /// When the bucket would be full again if nothing else were reserved.
    private var fullAt: Duration = .zero

    /// - Parameters:
    ///   - qps: 10 tokens a second, from client-go's `DefaultControllerRateLimiter`.
    ///   - burst: 100 tokens, from client-go's `DefaultControllerRateLimiter`.
    /// - Precondition: `qps > 0` and `burst > 0`.
    public init(qps: Double = 10, burst: Int = 100) {
        precondition(qps > 0 && burst > 0, "TokenBucket needs a positive rate and burst")
        self.interval = .seconds(1) / qps
        self.burst = burst
    }

    /// Takes a token and returns how long to wait until it is available (zero if one is left).
    public mutating func reserve(now: Duration) -> Duration {
        // Tokens at `now` = burst - (fullAt - now) / interval; taking one adds an interval.
        fullAt = max(fullAt, now) + interval
        return max(.zero, fullAt - now - interval * burst)
    }

    public mutating func delay(failures: Int, now: Duration) -> Duration {
        reserve(now: now)
    }
}

/// The longer of two limiters' delays; both are asked every time, so a bucket is charged even
/// when the backoff is longer (client-go's `MaxOfRateLimiter`).
public struct MaxOfRateLimiter<First: RateLimiter, Second: RateLimiter>: RateLimiter {
    /// The first limiter asked, usually the per-key backoff.
    public var first: First
    /// The second limiter asked, usually the shared bucket.
    public var second: Second

    public init(_ first: First, _ second: Second) {
        self.first = first
        self.second = second
    }

    public mutating func delay(failures: Int, now: Duration) -> Duration {
        let firstDelay = first.delay(failures: failures, now: now)
        let secondDelay = second.delay(failures: failures, now: now)
        return max(firstDelay, secondDelay)
    }
}

extension RateLimiter where Self == MaxOfRateLimiter<ItemExponentialBackoff, TokenBucket> {
    /// Per-key backoff 5 ms → 1000 s combined with a 10 qps / burst 100 bucket (client-go's
    /// `DefaultControllerRateLimiter`).
    public static var defaultController: Self {
        MaxOfRateLimiter(ItemExponentialBackoff(), TokenBucket())
    }
}
