import Foundation
import Testing

import KubeCore

@Suite struct QuantityTests {
    @Test(arguments: [
        ("500m", "0.5", Quantity.Format.decimalSI),
        ("64Gi", "68719476736", .binarySI),
        ("2", "2", .decimalSI),
        ("1e3", "1000", .decimalExponent),
        ("1.5", "1.5", .decimalSI),
        ("-1", "-1", .decimalSI),
        ("100Mi", "104857600", .binarySI),
        ("0.5Gi", "536870912", .binarySI),
        ("12E-1", "1.2", .decimalExponent),
        ("1E", "1000000000000000000", .decimalSI),
        ("+3k", "3000", .decimalSI),
        (".5", "0.5", .decimalSI),
        ("1.", "1", .decimalSI),
        ("250u", "0.00025", .decimalSI),
        ("7n", "0.000000007", .decimalSI),
        ("1.5Ki", "1536", .binarySI),
    ])
    func parsesValueAndFormat(text: String, value: String, format: Quantity.Format) throws {
        let quantity = try Quantity(parsing: text)
        #expect(quantity.value == Decimal(string: value)!)
        #expect(quantity.format == format)
        #expect(quantity.description == text)
    }

    @Test(arguments: [
        ("", "empty string"),
        ("Gi", "expected a number"),
        ("1.2.3", "malformed number"),
        ("5Zi", "unknown suffix \"Zi\""),
        ("1 Gi", "unknown suffix \" Gi\""),
        ("1e", "unknown suffix \"e\""),
        ("1e+", "malformed exponent"),
        ("1Ki2", "unknown suffix \"Ki2\""),
        ("--1", "expected a number"),
        (" 1", "expected a number"),
        ("1K", "unknown suffix \"K\""),
        ("1e101", "exponent out of range"),
        ("1234567890123456789012345678901234567890", "more than 38 significant digits"),
        ("99999999999999999999999999999999999999Ei", "value out of range"),
    ])
    func rejectsInvalidText(text: String, reason: String) {
        #expect(Quantity(text) == nil)
        do {
            _ = try Quantity(parsing: text)
            Issue.record("\(text) parsed")
        } catch {
            #expect(error.text == text)
            #expect(error.reason.contains(reason))
            #expect(error.description.contains("\"\(text)\""))
        }
    }

    @Test func comparesByValue() {
        #expect(Quantity("1Gi") > Quantity("1000Mi"))
        #expect(Quantity("1000M") < Quantity("1Gi"))
        #expect(Quantity("500m") == Quantity("0.5"))
        #expect(Quantity("1Gi") == Quantity("1024Mi"))
        #expect(Quantity("1e3") == Quantity("1k"))
        #expect(Quantity("-1") < Quantity("0"))
        #expect([Quantity("2Gi"), "1k", "500m"].sorted().map(\.description) == ["500m", "1k", "2Gi"])
    }

    @Test func hashAgreesWithEquality() {
        let equalPairs: [(Quantity, Quantity)] = [("1Gi", "1024Mi"), ("500m", "0.5"), ("1e3", "1k"), ("0", "0Gi")]
        for (lhs, rhs) in equalPairs {
            #expect(lhs == rhs)
            #expect(lhs.hashValue == rhs.hashValue)
        }
        #expect(Set<Quantity>(["1Gi", "1024Mi", "1073741824", "1Mi"]).count == 2)
    }

    @Test(arguments: [
        ("1Gi", "512Mi", "1536Mi"),
        ("500m", "1", "1500m"),
        ("1", "1", "2"),
        ("1k", "1", "1001"),
        ("1k", "1k", "2k"),
        ("1e3", "1e3", "2e3"),
        ("1Gi", "1Gi", "2Gi"),
        ("0", "1Gi", "1Gi"),
        ("1Ki", "0.5", "1024500m"),
        ("100m", "100m", "200m"),
        ("1n", "1", "1000000001n"),
    ])
    func addsToCanonicalForm(lhs: String, rhs: String, sum: String) {
        let result = Quantity(lhs)! + Quantity(rhs)!
        #expect(result.description == sum)
        #expect(result == Quantity(sum)!)
    }

    @Test(arguments: [
        ("2Gi", "1Gi", "1Gi"),
        ("1Gi", "1Mi", "1023Mi"),
        ("1Gi", "1Gi", "0"),
        ("1Ki", "1000", "24"),
        ("-1", "500m", "-1500m"),
        ("1", "1500m", "-500m"),
        ("4Gi", "1", "4294967295"),
    ])
    func subtractsToCanonicalForm(lhs: String, rhs: String, difference: String) {
        #expect((Quantity(lhs)! - Quantity(rhs)!).description == difference)
    }

    @Test func multipliesAndAccumulates() {
        #expect((Quantity("100m") * 3).description == "300m")
        #expect((3 * Quantity("4Gi")).description == "12Gi")
        #expect((Quantity("1e3") * 1500).description == "1500e3")
        #expect((Quantity("1.5") * 2).description == "3")
        var total: Quantity = 0
        for memory in ["512Mi", "1Gi", "512Mi"] { total += Quantity(memory)! }
        #expect(total.description == "2Gi")
        #expect((-Quantity("1Gi")).description == "-1Gi")
    }

    @Test func keepsOriginalTextUntilArithmetic() {
        let half = Quantity("0.5Gi")
        #expect(half.description == "0.5Gi")
        #expect(half.canonical == "512Mi")
        #expect(Quantity("1000m").canonical == "1")
        #expect(Quantity("1500").canonical == "1500")
        #expect(Quantity("2000").canonical == "2k")
        #expect(Quantity("1e6").canonical == "1e6")
        #expect(Quantity("0.1Ki").canonical == "102400m")
        #expect(Quantity("1025Ki").canonical == "1025Ki")
        #expect(Quantity("1000E").canonical == "1000E")
        #expect(Quantity(Decimal(string: "0.25")!, format: .binarySI).description == "250m")
    }

    @Test func roundsSubNanoPrecisionUp() {
        let tiny = Quantity("0.1n")
        #expect(tiny.value == Decimal(string: "0.000000001")!)
        #expect(tiny.description == "1n")
        #expect(Quantity("-1.5n").description == "-2n")
    }

    @Test func integerViewsRoundAwayFromZero() {
        #expect(Quantity("500m").int64Value == 1)
        #expect(Quantity("1.2").int64Value == 2)
        #expect(Quantity("-1.2").int64Value == -2)
        #expect(Quantity("2").int64Value == 2)
        #expect(Quantity("64Gi").int64Value == 68_719_476_736)
        #expect(Quantity("100E").int64Value == Int64.max)
        #expect(Quantity("1.5").milliValue == 1500)
        #expect(Quantity("250m").milliValue == 250)
        #expect(Quantity("100u").milliValue == 1)
        #expect(Quantity("-100u").milliValue == -1)
        #expect(Quantity("1.5").doubleValue == 1.5)
        #expect(Quantity("1Ki").doubleValue == 1024)
    }

    @Test func literals() {
        let gpus: Quantity = 2
        let memory: Quantity = "16Gi"
        #expect(gpus.description == "2")
        #expect(gpus.format == .decimalSI)
        #expect(memory.int64Value == 16 << 30)
    }

    @Test func decodesStringsAndNumbers() throws {
        let json = #"{"cpu": "500m", "memory": "64Gi", "nvidia.com/gpu": 2, "fraction": 1.5, "big": 1e3}"#
        let resources = try KubeJSON.decode([String: Quantity].self, from: Data(json.utf8))
        #expect(resources["cpu"] == Quantity("0.5"))
        #expect(resources["memory"]?.format == .binarySI)
        #expect(resources["nvidia.com/gpu"] == 2)
        #expect(resources["nvidia.com/gpu"]?.description == "2")
        #expect(resources["fraction"] == Quantity("1500m"))
        #expect(resources["big"] == Quantity("1k"))
    }

    @Test func encodesAsString() throws {
        let limits: [String: Quantity] = ["memory": "0.5Gi", "sum": Quantity("1Gi") + Quantity("512Mi"), "gpu": 1]
        let text = String(decoding: try KubeJSON.encode(limits), as: UTF8.self)
        #expect(text == #"{"gpu":"1","memory":"0.5Gi","sum":"1536Mi"}"#)
        let back = try KubeJSON.decode([String: Quantity].self, from: Data(text.utf8))
        #expect(back == limits)
    }

    @Test func invalidJSONTextNamesTheText() {
        do {
            _ = try KubeJSON.decode([String: Quantity].self, from: Data(#"{"memory": "5Zi"}"#.utf8))
            Issue.record("decoded an invalid quantity")
        } catch let DecodingError.dataCorrupted(context) {
            #expect(context.debugDescription.contains("5Zi"))
            #expect(context.codingPath.last?.stringValue == "memory")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }
}
