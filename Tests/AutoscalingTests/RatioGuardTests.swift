import Testing

@testable import Autoscaling

struct RatioCase: Sendable, CustomTestStringConvertible {
    var name: String
    var ratio: RatioGuard
    var prefill: Int
    var decode: Int
    var bounds: ClosedRange<Int>? = nil
    var want: Int
    var adjustment: RatioGuard.Outcome.Adjustment?
    var testDescription: String { name }
}

private let seedRatio = RatioGuard(minPrefillPerDecode: 0.25, maxPrefillPerDecode: 2)

private let ratioCases: [RatioCase] = [
    RatioCase(name: "inside the band: untouched", ratio: seedRatio, prefill: 3, decode: 4, want: 3, adjustment: nil),
    RatioCase(name: "below the band: raised (ceil)", ratio: seedRatio, prefill: 1, decode: 8, want: 2, adjustment: .raisedToMinimumRatio),
    RatioCase(name: "below the band, fractional: ceil", ratio: seedRatio, prefill: 1, decode: 9, want: 3, adjustment: .raisedToMinimumRatio),
    RatioCase(name: "above the band: lowered (floor)", ratio: seedRatio, prefill: 20, decode: 4, want: 8, adjustment: .loweredToMaximumRatio),
    RatioCase(name: "above the band, fractional: floor",
              ratio: RatioGuard(maxPrefillPerDecode: 1.5), prefill: 9, decode: 3, want: 4, adjustment: .loweredToMaximumRatio),
    RatioCase(name: "prefill idled to zero is exempt from the lower bound", ratio: seedRatio, prefill: 0, decode: 8, want: 0, adjustment: nil),
    RatioCase(name: "floating-point noise does not add a replica",
              ratio: RatioGuard(minPrefillPerDecode: 0.3), prefill: 1, decode: 10, want: 3, adjustment: .raisedToMinimumRatio),
    RatioCase(name: "floating-point noise does not remove a replica",
              ratio: RatioGuard(maxPrefillPerDecode: 0.7), prefill: 9, decode: 10, want: 7, adjustment: .loweredToMaximumRatio),
    RatioCase(name: "upper bound may reach zero",
              ratio: RatioGuard(maxPrefillPerDecode: 0.5), prefill: 5, decode: 1, want: 0, adjustment: .loweredToMaximumRatio),
    RatioCase(name: "crossing bounds: the lower wins",
              ratio: RatioGuard(minPrefillPerDecode: 0.6, maxPrefillPerDecode: 0.7), prefill: 5, decode: 1, want: 1,
              adjustment: .raisedToMinimumRatio),
    RatioCase(name: "the tier's own max wins over the ratio", ratio: RatioGuard(minPrefillPerDecode: 0.5), prefill: 1, decode: 8,
              bounds: 0...3, want: 3, adjustment: .raisedToMinimumRatio),
    RatioCase(name: "the tier's own min undoes a lowering", ratio: RatioGuard(maxPrefillPerDecode: 1), prefill: 2, decode: 1,
              bounds: 2...4, want: 2, adjustment: nil),
    RatioCase(name: "no ratio: untouched", ratio: RatioGuard(), prefill: 7, decode: 1, want: 7, adjustment: nil),
    RatioCase(name: "NaN and negative ratios are ignored",
              ratio: RatioGuard(minPrefillPerDecode: .nan, maxPrefillPerDecode: -1), prefill: 7, decode: 1, want: 7, adjustment: nil),
    RatioCase(name: "zero decode lowers prefill to zero", ratio: seedRatio, prefill: 2, decode: 0, want: 0, adjustment: .loweredToMaximumRatio),
]

@Suite("RatioGuard")
struct RatioGuardTests {
    @Test(arguments: ratioCases)
    func table(_ testCase: RatioCase) {
        let outcome = testCase.ratio.apply(prefill: testCase.prefill, decode: testCase.decode, prefillBounds: testCase.bounds)
        #expect(outcome.prefillReplicas == testCase.want, "\(outcome.reason)")
        #expect(outcome.adjustment == testCase.adjustment, "\(outcome.reason)")
        #expect(outcome.reason.isEmpty == (testCase.adjustment == nil))
    }

    @Test func reasonHasTheNumbers() {
        let outcome = seedRatio.apply(prefill: 1, decode: 8)
        #expect(outcome.reason == "prefill 1 < 0.25 × 8 decode; raised to 2")
    }
}
