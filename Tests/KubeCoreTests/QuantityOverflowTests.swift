import Foundation
import Testing
@testable import KubeCore

/// Issue 14, defect 2: huge or odd quantities are refused with a typed error or survive every
/// operation Tandem applies to them; none traps.
@Suite struct QuantityOverflowTests {
    @Test func anExponentBeyond100IsATypedError() {
        do {
            _ = try Quantity(parsing: "1e101")
            Issue.record("1e101 parsed")
        } catch {
            #expect(error == QuantityError(text: "1e101", reason: "exponent out of range: 101 is not within -100 to 100"))
            #expect(error.description == "invalid quantity \"1e101\": exponent out of range: 101 is not within -100 to 100")
        }
        #expect((try? Quantity(parsing: "1e-101")) == nil)
        // The largest value is below 10^100: 1e100 has 101 digits before the point.
        #expect((try? Quantity(parsing: "1e100")) == nil && (try? Quantity(parsing: "1e99")) != nil)
    }

    @Test(arguments: ["1e99", "9e98", "99999999999999999999999999999999999999E", "9999999999Ei", "-1e99",
                      "9223372036854775808", "18446744073709551616", "1e-9", "0.000000000000000000001"])
    func theLargestAndSmallestQuantitiesSurviveTheArithmetic(text: String) throws {
        let quantity = try Quantity(parsing: text)
        // Int64 views clamp, as Kubernetes' Value() and MilliValue() do.
        let huge = quantity.value.magnitude >= Decimal(Int64.max)
        if huge { #expect(quantity.int64Value == (quantity.value < 0 ? .min : .max)) }
        _ = quantity.milliValue
        #expect(!quantity.canonical.isEmpty)
        let scaled = quantity * Int.max
        _ = (scaled.int64Value, scaled.milliValue, scaled.canonical)
        _ = (quantity + quantity - quantity * Int.min).canonical
        #expect(quantity < quantity + Quantity(1) || quantity.value.magnitude > Decimal(sign: .plus, exponent: 38, significand: 1))
        let decoded = try JSONDecoder().decode(Quantity.self, from: JSONEncoder().encode(quantity))
        #expect(decoded == quantity)
    }

    @Test func int64ViewsOfHugeValuesClampInsteadOfTrapping() throws {
        let memory = try Quantity(parsing: "9999999999Ei")
        #expect(memory.int64Value == .max && memory.milliValue == .max)
        #expect((-memory).int64Value == .min && (-memory).milliValue == .min)
        #expect(try Quantity(parsing: "9223372036854775807").int64Value == .max)
        #expect(try Quantity(parsing: "9223372036854775807").milliValue == .max)
        #expect(try Quantity(parsing: "2147483648").int64Value == 2_147_483_648)
    }
}
