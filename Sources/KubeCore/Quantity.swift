import Foundation

/// A Kubernetes `resource.Quantity`: an exact decimal amount with a unit suffix, such as `500m`
/// CPU, `64Gi` of memory or `2` GPUs.
///
/// The value is exact (a `Decimal`), rounded up to nano precision as Kubernetes does. Equality,
/// hashing and ordering compare values, so `"1Gi" == "1024Mi"` and `"500m" == "0.5"`. A parsed
/// quantity prints (and encodes) exactly the text it was parsed from; the result of arithmetic
/// prints in Kubernetes' canonical form (see ``canonical``).
public struct Quantity: Codable, Hashable, Comparable, Sendable, CustomStringConvertible,
    ExpressibleByStringLiteral, ExpressibleByIntegerLiteral
{
    /// How a quantity's suffix is written.
    public enum Format: String, Codable, Hashable, Sendable {
        /// Powers of 1024: `Ki`, `Mi`, `Gi`, `Ti`, `Pi`, `Ei`.
        case binarySI = "BinarySI"
        /// Powers of 1000: `n`, `u`, `m`, none, `k`, `M`, `G`, `T`, `P`, `E`.
        case decimalSI = "DecimalSI"
        /// A power-of-ten exponent: `1e3`, `12E-1`.
        case decimalExponent = "DecimalExponent"
    }

    /// The exact amount, in base units (bytes, cores, …).
    public private(set) var value: Decimal
    /// The suffix style used when printing the canonical form.
    public private(set) var format: Format
    /// The text this quantity was parsed from; `nil` once arithmetic produced it.
    private var text: String?

    /// Parses a quantity such as `500m`, `64Gi`, `1e3` or `-1.5`.
    ///
    /// - Throws: ``QuantityError`` naming the text and what is wrong with it.
    public init(parsing text: String) throws(QuantityError) {
        let (value, format, exact) = try QuantityParser.parse(text)
        self.value = value
        self.format = format
        self.text = exact ? text : nil
    }

    /// Parses a quantity, or returns `nil` when `string` is not one.
    public init?(_ string: String) {
        guard let quantity = try? Quantity(parsing: string) else { return nil }
        self = quantity
    }

    /// A quantity of exactly `value` base units (rounded up to nano precision).
    public init(_ value: Decimal, format: Format = .decimalSI) {
        self.value = QuantityMath.roundedToNano(value)
        self.format = format
        self.text = nil
    }

    /// A whole number of base units.
    public init(_ value: Int, format: Format = .decimalSI) {
        self.init(Decimal(value), format: format)
    }

    /// Parses a literal; traps when it is not a valid quantity.
    public init(stringLiteral value: String) {
        do {
            try self.init(parsing: value)
        } catch {
            preconditionFailure(error.description)
        }
    }

    public init(integerLiteral value: Int) {
        self.init(value)
    }

    /// The original text when parsed and unchanged, else ``canonical``.
    public var description: String { text ?? canonical }

    /// The canonical form Kubernetes prints: the largest suffix of ``format`` that leaves an
    /// integer mantissa (`1536Mi`, `1500m`, `2k`, `1e3`). Binary quantities that are fractional
    /// or smaller than 1024 in magnitude are printed in decimal SI form.
    public var canonical: String { QuantityMath.canonical(value, format: format) }

    /// The value as a `Double` (may lose precision).
    public var doubleValue: Double { NSDecimalNumber(decimal: value).doubleValue }

    /// The value in base units, rounded up (away from zero) to an integer, like Kubernetes'
    /// `Value()`; clamped to the `Int64` range.
    public var int64Value: Int64 { QuantityMath.int64(QuantityMath.roundedAwayFromZero(value, scale: 0)) }

    /// The value in thousandths of a base unit, rounded up (away from zero), like Kubernetes'
    /// `MilliValue()`; clamped to the `Int64` range.
    public var milliValue: Int64 {
        QuantityMath.int64(QuantityMath.roundedAwayFromZero(value * 1000, scale: 0))
    }

    /// Whether the amount is zero.
    public var isZero: Bool { value.isZero }

    public static func == (lhs: Quantity, rhs: Quantity) -> Bool { lhs.value == rhs.value }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(QuantityMath.compacted(value).description)
    }

    public static func < (lhs: Quantity, rhs: Quantity) -> Bool { lhs.value < rhs.value }

    /// The sum, in the left operand's format (a zero left operand adopts the right one's, as in
    /// Kubernetes, so summing from `0` keeps binary units).
    public static func + (lhs: Quantity, rhs: Quantity) -> Quantity {
        Quantity(lhs.value + rhs.value, format: lhs.isZero ? rhs.format : lhs.format)
    }

    /// The difference, in the left operand's format (see ``+(_:_:)``).
    public static func - (lhs: Quantity, rhs: Quantity) -> Quantity {
        Quantity(lhs.value - rhs.value, format: lhs.isZero ? rhs.format : lhs.format)
    }

    public static prefix func - (operand: Quantity) -> Quantity {
        Quantity(-operand.value, format: operand.format)
    }

    public static func * (lhs: Quantity, rhs: Int) -> Quantity {
        Quantity(lhs.value * Decimal(rhs), format: lhs.format)
    }

    public static func * (lhs: Int, rhs: Quantity) -> Quantity { rhs * lhs }

    public static func += (lhs: inout Quantity, rhs: Quantity) { lhs = lhs + rhs }

    public static func -= (lhs: inout Quantity, rhs: Quantity) { lhs = lhs - rhs }

    /// Decodes from a JSON string (`"500m"`) or a number (`2`, as YAML manifests often write).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text: String
        if let string = try? container.decode(String.self) {
            text = string
        } else if let integer = try? container.decode(Int64.self) {
            text = String(integer)
        } else if let decimal = try? container.decode(Decimal.self) {
            text = decimal.description
        } else {
            text = String(try container.decode(Double.self))
        }
        do {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    /// Encodes as a JSON string (``description``).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Why a string is not a valid ``Quantity``.
public struct QuantityError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The text that failed to parse.
    public var text: String
    /// What is wrong with it.
    public var reason: String

    public init(text: String, reason: String) {
        self.text = text
        self.reason = reason
    }

    public var description: String { "invalid quantity \"\(text)\": \(reason)" }
}

enum QuantityParser {
    static let decimalSuffixes: [String: Int] = [
        "n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18,
    ]
    static let binarySuffixes: [String: Int] = ["Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6]

    /// Returns the value, its format and whether the value is exactly what the text says (false
    /// when sub-nano precision was rounded away).
    static func parse(_ text: String) throws(QuantityError) -> (Decimal, Quantity.Format, Bool) {
        func fail(_ reason: String) -> QuantityError { QuantityError(text: text, reason: reason) }
        let chars = Array(text.unicodeScalars)
        guard !chars.isEmpty else { throw fail("empty string") }
        var index = 0
        var negative = false
        if chars[0] == "+" || chars[0] == "-" {
            negative = chars[0] == "-"
            index = 1
        }
        func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }
        var integerDigits = ""
        var fractionDigits = ""
        while index < chars.count, isDigit(chars[index]) {
            integerDigits.unicodeScalars.append(chars[index])
            index += 1
        }
        if index < chars.count, chars[index] == "." {
            index += 1
            while index < chars.count, isDigit(chars[index]) {
                fractionDigits.unicodeScalars.append(chars[index])
                index += 1
            }
        }
        guard !integerDigits.isEmpty || !fractionDigits.isEmpty else { throw fail("expected a number") }
        var suffix = String(String.UnicodeScalarView(chars[index...]))
        if suffix.first == "." || suffix.first?.isNumber == true {
            throw fail("malformed number")
        }
        let format: Quantity.Format
        var exponent10 = 0
        var binaryPower = 0
        if let power = binarySuffixes[suffix] {
            format = .binarySI
            binaryPower = power
        } else if let power = decimalSuffixes[suffix] {
            format = .decimalSI
            exponent10 = power
        } else if suffix.count > 1, suffix.first == "e" || suffix.first == "E" {
            suffix.removeFirst()
            let unsigned = suffix.first == "+" || suffix.first == "-" ? suffix.dropFirst() : Substring(suffix)
            guard !unsigned.isEmpty, unsigned.allSatisfy({ $0.isASCII && $0.isNumber }), let exponent = Int(suffix)
            else { throw fail("malformed exponent \"\(suffix)\"") }
            // Tandem's bound: 10^±100 is far beyond any resource amount, and keeps every
            // value and its arithmetic within Decimal's range (about 10^±165).
            guard (-100...100).contains(exponent) else { throw fail("exponent out of range: \(exponent) is not within -100 to 100") }
            format = .decimalExponent
            exponent10 = exponent
        } else {
            throw fail("unknown suffix \"\(suffix)\"")
        }

        var digits = Substring(integerDigits + fractionDigits)
        var exponent = exponent10 - fractionDigits.count
        while digits.first == "0" { digits.removeFirst() }
        while digits.last == "0" {
            digits.removeLast()
            exponent += 1
        }
        guard !digits.isEmpty else { return (Decimal(0), format, true) }
        guard digits.count <= 38 else { throw fail("more than 38 significant digits") }
        guard let significand = Decimal(string: String(digits)), exponent + digits.count <= 100, exponent >= -120
        else { throw fail("value out of range") }
        let number = Decimal(sign: negative ? .minus : .plus, exponent: exponent, significand: significand)
        var multiplier = Decimal(1)
        for _ in 0..<binaryPower { multiplier *= 1024 }
        let value = number * multiplier
        guard !value.isNaN, value / multiplier == number else { throw fail("value out of range") }
        let rounded = QuantityMath.roundedToNano(value)
        return (rounded, format, rounded == value)
    }
}

enum QuantityMath {
    static let binarySuffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
    static let decimalSuffixes = [-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"]

    static func compacted(_ value: Decimal) -> Decimal {
        var value = value
        if value.isZero { return Decimal(0) }
        NSDecimalCompact(&value)
        return value
    }

    static func isInteger(_ value: Decimal) -> Bool {
        value.isZero || compacted(value).exponent >= 0
    }

    /// Rounds the magnitude up to `scale` fractional digits, keeping the sign.
    static func roundedAwayFromZero(_ value: Decimal, scale: Int) -> Decimal {
        var magnitude = value.magnitude
        var result = Decimal()
        NSDecimalRound(&result, &magnitude, scale, .up)
        return value < 0 ? -result : result
    }

    /// Kubernetes keeps at most nano precision, rounding finer values up (away from zero).
    static func roundedToNano(_ value: Decimal) -> Decimal {
        value.isZero || compacted(value).exponent >= -9 ? value : roundedAwayFromZero(value, scale: 9)
    }

    static func int64(_ integer: Decimal) -> Int64 {
        if integer >= Decimal(Int64.max) { return .max }
        if integer <= Decimal(Int64.min) { return .min }
        return Int64(compacted(integer).description) ?? 0
    }

    static func canonical(_ value: Decimal, format: Quantity.Format) -> String {
        if value.isZero { return "0" }
        if format == .binarySI, value.magnitude >= 1024, isInteger(value) {
            var divisor = Decimal(1)
            var best = (value, 0)
            for power in 1..<binarySuffixes.count {
                divisor *= 1024
                var quotient = value / divisor
                var whole = Decimal()
                NSDecimalRound(&whole, &quotient, 0, .down)
                if whole * divisor == value { best = (whole, power) }
            }
            return compacted(best.0).description + binarySuffixes[best.1]
        }
        let value = compacted(value)
        var exponent = value.exponent >= 0 ? value.exponent / 3 * 3 : -((-value.exponent + 2) / 3 * 3)
        exponent = max(exponent, -9)
        if format != .decimalExponent { exponent = min(exponent, 18) }
        let mantissa = Decimal(
            sign: value.sign, exponent: value.exponent - exponent, significand: value.significand)
        let suffix =
            format == .decimalExponent ? (exponent == 0 ? "" : "e\(exponent)") : decimalSuffixes[exponent] ?? ""
        return compacted(mantissa).description + suffix
    }
}
