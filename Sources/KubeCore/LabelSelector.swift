/// `metav1.LabelSelector`: selects objects by their labels.
///
/// All conditions must hold (they are ANDed). An empty selector matches every object; a missing
/// (`nil`) selector means "nothing" in most Kubernetes APIs, which is the caller's to decide.
public struct LabelSelector: Codable, Hashable, Sendable {
    /// Labels that must be present with exactly these values.
    public var matchLabels: [String: String]?
    /// Set-based requirements.
    public var matchExpressions: [LabelSelectorRequirement]?

    public init(matchLabels: [String: String]? = nil, matchExpressions: [LabelSelectorRequirement]? = nil) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }

    /// Whether the selector has no conditions (and so matches everything).
    public var isEmpty: Bool { (matchLabels ?? [:]).isEmpty && (matchExpressions ?? []).isEmpty }

    /// Whether `labels` satisfy every condition of this selector.
    public func matches(_ labels: [String: String]) -> Bool {
        for (key, value) in matchLabels ?? [:] where labels[key] != value { return false }
        return (matchExpressions ?? []).allSatisfy { $0.matches(labels) }
    }

    /// The form the API server's `labelSelector=` query parameter accepts, sorted by key:
    /// `a=b,c in (x,y),d notin (z),e,!f`.
    public var selectorString: String {
        var parts: [(key: String, text: String)] = (matchLabels ?? [:]).sorted { $0.key < $1.key }
            .map { ($0.key, "\($0.key)=\($0.value)") }
        parts += (matchExpressions ?? []).map { ($0.key, $0.selectorString) }
        let ordered = parts.enumerated().sorted { ($0.element.key, $0.offset) < ($1.element.key, $1.offset) }
        return ordered.map(\.element.text).joined(separator: ",")
    }

    /// Parses the string form: `a=b, c==d, e!=f, g in (x, y), h notin (z), i, !j`.
    ///
    /// `=` and `==` become ``matchLabels`` (a repeated key becomes an `In` requirement), `!=`
    /// becomes `NotIn` with one value. An empty string is the empty selector.
    ///
    /// - Throws: ``LabelSelectorParseError`` with the offset and cause of the first problem.
    public init(parsing text: String) throws(LabelSelectorParseError) {
        var parser = LabelSelectorParser(text)
        self = try parser.parse()
    }
}

/// One set-based requirement of a ``LabelSelector``.
public struct LabelSelectorRequirement: Codable, Hashable, Sendable {
    public var key: String
    public var `operator`: LabelSelectorOperator
    /// The values for `In` and `NotIn` (must be non-empty); empty for `Exists` and `DoesNotExist`.
    public var values: [String]?

    public init(key: String, operator: LabelSelectorOperator, values: [String]? = nil) {
        self.key = key
        self.operator = `operator`
        self.values = values
    }

    /// Whether `labels` satisfy this requirement. `NotIn` holds when the key is absent.
    public func matches(_ labels: [String: String]) -> Bool {
        let value = labels[key]
        switch self.operator {
        case .in: return value.map { (values ?? []).contains($0) } ?? false
        case .notIn: return value.map { !(values ?? []).contains($0) } ?? true
        case .exists: return value != nil
        case .doesNotExist: return value == nil
        }
    }

    /// This requirement in selector-string form (`k in (a,b)`, `k notin (a)`, `k`, `!k`).
    public var selectorString: String {
        let list = Set(values ?? []).sorted().joined(separator: ",")
        switch self.operator {
        case .in: return "\(key) in (\(list))"
        case .notIn: return "\(key) notin (\(list))"
        case .exists: return key
        case .doesNotExist: return "!\(key)"
        }
    }
}

/// The operator of a ``LabelSelectorRequirement``.
public enum LabelSelectorOperator: String, Codable, Hashable, Sendable, CaseIterable {
    case `in` = "In"
    case notIn = "NotIn"
    case exists = "Exists"
    case doesNotExist = "DoesNotExist"
}

/// Why a string is not a valid label selector.
public struct LabelSelectorParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The whole selector text.
    public var text: String
    /// Character offset of the problem within ``text``.
    public var offset: Int
    /// What is wrong.
    public var reason: String

    public init(text: String, offset: Int, reason: String) {
        self.text = text
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "invalid label selector \"\(text)\" at offset \(offset): \(reason)" }
}

struct LabelSelectorParser {
    enum Token: Equatable {
        case identifier(String)
        case symbol(String)
        case end
    }

    let text: String
    var tokens: [(token: Token, offset: Int)] = []
    var position = 0

    init(_ text: String) { self.text = text }

    func fail(_ reason: String, at offset: Int? = nil) -> LabelSelectorParseError {
        LabelSelectorParseError(text: text, offset: offset ?? tokens[position].offset, reason: reason)
    }

    mutating func tokenize() {
        let chars = Array(text)
        var index = 0
        let symbols: Set<Character> = ["!", "=", ",", "(", ")", "<", ">"]
        while index < chars.count {
            let char = chars[index]
            if char.isWhitespace {
                index += 1
            } else if symbols.contains(char) {
                if (char == "!" || char == "="), index + 1 < chars.count, chars[index + 1] == "=" {
                    tokens.append((.symbol(String(char) + "="), index))
                    index += 2
                } else {
                    tokens.append((.symbol(String(char)), index))
                    index += 1
                }
            } else {
                let start = index
                while index < chars.count, !chars[index].isWhitespace, !symbols.contains(chars[index]) { index += 1 }
                tokens.append((.identifier(String(chars[start..<index])), start))
            }
        }
        tokens.append((.end, chars.count))
    }

    var current: Token { tokens[position].token }

    mutating func advance() { position += 1 }

    mutating func key() throws(LabelSelectorParseError) -> String {
        guard case .identifier(let key) = current else { throw fail("expected a label key") }
        if let problem = LabelSyntax.keyProblem(key) { throw fail("invalid key \"\(key)\": \(problem)") }
        advance()
        return key
    }

    /// A value, which may be empty (`a=` selects an empty label value).
    mutating func value() throws(LabelSelectorParseError) -> String {
        guard case .identifier(let value) = current else { return "" }
        if let problem = LabelSyntax.valueProblem(value) { throw fail("invalid value \"\(value)\": \(problem)") }
        advance()
        return value
    }

    mutating func valueSet(for op: String) throws(LabelSelectorParseError) -> [String] {
        guard current == .symbol("(") else { throw fail("expected \"(\" after \"\(op)\"") }
        let open = tokens[position].offset
        advance()
        var values = [try value()]
        while current == .symbol(",") {
            advance()
            values.append(try value())
        }
        guard current == .symbol(")") else { throw fail("expected \",\" or \")\" in the values of \"\(op)\"") }
        advance()
        if values == [""] { throw fail("\"\(op)\" needs at least one value", at: open) }
        return values
    }

    mutating func parse() throws(LabelSelectorParseError) -> LabelSelector {
        tokenize()
        var selector = LabelSelector()
        if current == .end { return selector }
        while true {
            var requirement: LabelSelectorRequirement?
            if current == .symbol("!") {
                advance()
                requirement = LabelSelectorRequirement(key: try key(), operator: .doesNotExist)
            } else {
                let key = try key()
                switch current {
                case .end, .symbol(","):
                    requirement = LabelSelectorRequirement(key: key, operator: .exists)
                case .symbol("="), .symbol("=="):
                    advance()
                    let value = try value()
                    if let existing = selector.matchLabels?[key], existing != value {
                        requirement = LabelSelectorRequirement(key: key, operator: .in, values: [value])
                    } else {
                        selector.matchLabels = (selector.matchLabels ?? [:]).merging([key: value]) { $1 }
                    }
                case .symbol("!="):
                    advance()
                    requirement = LabelSelectorRequirement(key: key, operator: .notIn, values: [try value()])
                case .identifier("in"):
                    advance()
                    requirement = LabelSelectorRequirement(key: key, operator: .in, values: try valueSet(for: "in"))
                case .identifier("notin"):
                    advance()
                    requirement = LabelSelectorRequirement(
                        key: key, operator: .notIn, values: try valueSet(for: "notin"))
                case .symbol("<"), .symbol(">"):
                    throw fail("operators \"<\" and \">\" cannot be expressed in a LabelSelector")
                default:
                    throw fail(
                        "expected \"=\", \"==\", \"!=\", \"in\", \"notin\", \",\" or the end after key \"\(key)\"")
                }
            }
            if let requirement { selector.matchExpressions = (selector.matchExpressions ?? []) + [requirement] }
            if current == .end { return selector }
            guard current == .symbol(",") else { throw fail("expected \",\" or the end of the selector") }
            advance()
            if current == .end { throw fail("expected a requirement after \",\"") }
        }
    }
}

/// Label key and value syntax (`[prefix/]name`), as the API server validates it.
enum LabelSyntax {
    static func isAlphanumeric(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber)
    }

    static func nameProblem(_ name: Substring) -> String? {
        if name.count > 63 { return "must be at most 63 characters" }
        guard let first = name.first, let last = name.last, isAlphanumeric(first), isAlphanumeric(last) else {
            return "must begin and end with an alphanumeric character"
        }
        if !name.allSatisfy({ isAlphanumeric($0) || $0 == "-" || $0 == "_" || $0 == "." }) {
            return "may contain only alphanumerics, \"-\", \"_\" and \".\""
        }
        return nil
    }

    static func keyProblem(_ key: String) -> String? {
        let parts = key.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2 {
            let prefix = parts[0]
            let dnsCharacters = prefix.allSatisfy {
                ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" || $0 == "."
            }
            guard !prefix.isEmpty, prefix.count <= 253, dnsCharacters, let first = prefix.first, let last = prefix.last,
                isAlphanumeric(first), isAlphanumeric(last)
            else { return "prefix must be a lower-case DNS subdomain" }
        }
        return nameProblem(parts[parts.count - 1])
    }

    static func valueProblem(_ value: String) -> String? {
        value.isEmpty ? nil : nameProblem(Substring(value))
    }
}
