import Testing

import KubeRuntime

@Suite struct RateLimiterTests {
    @Test func backoffDoublesFromFiveMillisecondsAndCapsAtOneThousandSeconds() {
        let backoff = ItemExponentialBackoff()
        let delays = (0..<20).map { backoff.delay(failures: $0) }
        #expect(Array(delays.prefix(4)) == [.milliseconds(5), .milliseconds(10), .milliseconds(20), .milliseconds(40)])
        #expect(delays[17] == .milliseconds(655_360))
        #expect(delays[18] == .seconds(1000), "5 ms × 2^18 = 1310.72 s is capped")
        #expect(delays[19] == .seconds(1000))
    }

    @Test func backoffNeverOverflows() {
        let backoff = ItemExponentialBackoff()
        #expect(backoff.delay(failures: 64) == .seconds(1000))
        #expect(backoff.delay(failures: 10_000) == .seconds(1000))
        #expect(backoff.delay(failures: .max) == .seconds(1000))
        let tiny = ItemExponentialBackoff(base: .nanoseconds(1), cap: .seconds(Int64.max))
        #expect(tiny.delay(failures: .max) == .seconds(Int64.max))
        #expect(ItemExponentialBackoff(base: .zero).delay(failures: 3) == .zero)
    }

    @Test func tokenBucketAllowsABurstOfOneHundredThenTenPerSecond() {
        var bucket = TokenBucket()
        let burst = (0..<100).map { _ in bucket.reserve(now: .zero) }
        #expect(burst.allSatisfy { $0 == .zero })
        #expect(bucket.reserve(now: .zero) == .milliseconds(100))
        #expect(bucket.reserve(now: .zero) == .milliseconds(200))
        #expect(bucket.reserve(now: .zero) == .milliseconds(300))
        // Three reservations are in debt; one second later seven of ten new tokens are free.
        let afterOneSecond = (0..<8).map { _ in bucket.reserve(now: .seconds(1)) }
        #expect(afterOneSecond == Array(repeating: .zero, count: 7) + [.milliseconds(100)])
    }

    @Test func tokenBucketRefillsOnlyUpToTheBurst() {
        var bucket = TokenBucket()
        for _ in 0..<150 { _ = bucket.reserve(now: .zero) }
        let later = Duration.seconds(3600)
        let delays = (0..<101).map { _ in bucket.reserve(now: later) }
        #expect(delays.prefix(100).allSatisfy { $0 == .zero })
        #expect(delays[100] == .milliseconds(100))
    }

    @Test func maxOfTakesTheLongerDelayAndChargesBoth() {
        var limiter = MaxOfRateLimiter.defaultController
        #expect(limiter.delay(failures: 0, now: .zero) == .milliseconds(5))
        #expect(limiter.delay(failures: 3, now: .zero) == .milliseconds(40))
        for _ in 0..<98 { _ = limiter.delay(failures: 20, now: .zero) }
        // 100 tokens are gone, although the backoff decided every delay so far.
        #expect(limiter.delay(failures: 0, now: .zero) == .milliseconds(100))
        #expect(limiter.delay(failures: 10, now: .zero) == .milliseconds(5120))
    }

    @Test func defaultControllerUsesClientGoNumbers() {
        let limiter = MaxOfRateLimiter.defaultController
        #expect(limiter.first == ItemExponentialBackoff(base: .milliseconds(5), cap: .seconds(1000)))
        #expect(limiter.second.interval == .milliseconds(100))
        #expect(limiter.second.burst == 100)
    }
}
