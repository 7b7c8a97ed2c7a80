/// `intstr.IntOrString`: a field that holds either an integer or a string, such as a probe's
/// `port` (`8080` or `"http"`) or a rolling update's `maxSurge` (`1` or `"25%"`).
public enum IntOrString: Codable, Hashable, Sendable, CustomStringConvertible, ExpressibleByIntegerLiteral,
    ExpressibleByStringLiteral
{
    case int(Int)
    case string(String)

    public init(integerLiteral value: Int) { self = .int(value) }
    public init(stringLiteral value: String) { self = .string(value) }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .int(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        }
    }

    public var description: String {
        switch self {
        case .int(let value): String(value)
        case .string(let value): value
        }
    }

    /// Resolves an absolute number or a percentage of `total`, like Kubernetes'
    /// `GetScaledValueFromIntOrPercent`: `"25%"` of 10 is 3 when rounding up, 2 when rounding down.
    ///
    /// - Returns: `nil` for a string that is not a percentage such as `"25%"`. Inputs are
    ///   assumed non-negative, as the API server validates them.
    public func scaledValue(total: Int, roundUp: Bool) -> Int? {
        switch self {
        case .int(let value):
            return value
        case .string(let text):
            guard text.hasSuffix("%"), let percent = Int(text.dropLast()) else { return nil }
            let product = percent * total
            return roundUp ? (product + 99) / 100 : product / 100
        }
    }
}
