/// A parser of the Prometheus text exposition format, version 0.0.4, as vLLM and SGLang serve it
/// on `/metrics`.
///
/// The parser reads sample lines (`name{label="value",…} value [timestamp]`) and skips comments,
/// including `# HELP` and `# TYPE` lines, which the autoscaler does not need. It works on the
/// UTF-8 bytes of the text in one pass, so a 1 MB scrape parses in milliseconds.
///
/// ## Guarantees
/// Any input — random bytes, truncated lines, huge numbers, CRLF line ends — produces either
/// samples or a ``PrometheusParseError``; the parser never traps and always terminates, because
/// every loop advances through the input.
///
/// ## Format notes
/// - Values accept what Prometheus accepts: decimal and exponent notation, `NaN`, `+Inf`, `-Inf`.
///   A decimal too large for a `Double` reads as infinity.
/// - Label values may contain the escapes `\\`, `\"` and `\n`; any other escape is an error.
/// - A trailing comma inside `{…}` is allowed; a label name repeated within one sample is an error.
/// - An optional integer timestamp (milliseconds) may follow the value.
/// - A trailing `\r` on a line (CRLF files) is ignored.
public enum PrometheusText {
    /// One sample line: a metric name, its labels, and its value.
    public struct Sample: Sendable, Hashable {
        /// The metric name, e.g. `vllm:num_requests_waiting`.
        public var name: String
        /// The labels, with escapes resolved.
        public var labels: [String: String]
        /// The value; may be `NaN` or infinite.
        public var value: Double
        /// The optional timestamp after the value, in milliseconds since the Unix epoch.
        public var timestamp: Int64?

        /// A sample with the given name, labels, value and optional timestamp.
        public init(name: String, labels: [String: String] = [:], value: Double, timestamp: Int64? = nil) {
            self.name = name
            self.labels = labels
            self.value = value
            self.timestamp = timestamp
        }
    }

    /// Parses a whole exposition, stopping at the first malformed line.
    ///
    /// - Parameter text: The body of a `/metrics` response.
    /// - Returns: The samples, in the order they appear.
    /// - Throws: ``PrometheusParseError`` for the first malformed line, with its 1-based number.
    public static func parse(_ text: String) throws(PrometheusParseError) -> [Sample] {
        var samples: [Sample] = []
        var firstError: PrometheusParseError?
        forEachLine(of: text) { number, bytes, start, end in
            do throws(PrometheusParseError.Reason) {
                if let sample = try parseLine(bytes, start, end) { samples.append(sample) }
                return true
            } catch {
                firstError = PrometheusParseError(line: number, reason: error)
                return false
            }
        }
        if let firstError { throw firstError }
        return samples
    }

    /// Parses a whole exposition, skipping malformed lines instead of stopping at them.
    ///
    /// - Parameter text: The body of a `/metrics` response.
    /// - Returns: The samples of the well-formed lines, and one error per malformed line.
    public static func parseLenient(_ text: String) -> (samples: [Sample], errors: [PrometheusParseError]) {
        var samples: [Sample] = []
        var errors: [PrometheusParseError] = []
        forEachLine(of: text) { number, bytes, start, end in
            do throws(PrometheusParseError.Reason) {
                if let sample = try parseLine(bytes, start, end) { samples.append(sample) }
            } catch {
                errors.append(PrometheusParseError(line: number, reason: error))
            }
            return true
        }
        return (samples, errors)
    }

    // MARK: - Lines

    /// Calls `body` with each line's 1-based number and byte range (without `\n` or a trailing
    /// `\r`) until `body` returns `false`.
    private static func forEachLine(
        of text: String,
        _ body: (_ number: Int, _ bytes: [UInt8], _ start: Int, _ end: Int) -> Bool
    ) {
        let bytes = Array(text.utf8)
        var start = 0
        var number = 1
        while start <= bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != newline { end += 1 }
            var lineEnd = end
            if lineEnd > start && bytes[lineEnd - 1] == carriageReturn { lineEnd -= 1 }
            if !body(number, bytes, start, lineEnd) { return }
            if end >= bytes.count { return }
            start = end + 1
            number += 1
        }
    }

    /// Parses one line; `nil` for blank and comment lines.
    private static func parseLine(
        _ bytes: [UInt8], _ start: Int, _ end: Int
    ) throws(PrometheusParseError.Reason) -> Sample? {
        var i = skipBlanks(bytes, start, end)
        guard i < end, bytes[i] != hash else { return nil }

        // Metric name: [a-zA-Z_:][a-zA-Z0-9_:]*
        let nameStart = i
        guard isNameStart(bytes[i]) || bytes[i] == colon else {
            throw .invalidMetricName(token(bytes, i, end))
        }
        i += 1
        while i < end && (isNameContinue(bytes[i]) || bytes[i] == colon) { i += 1 }
        let name = string(bytes, nameStart, i)

        var labels: [String: String] = [:]
        let afterName = i
        i = skipBlanks(bytes, i, end)
        if i < end && bytes[i] == openBrace {
            i = try parseLabels(bytes, i + 1, end, into: &labels)
            i = skipBlanks(bytes, i, end)
        } else if i == afterName && i < end {
            throw .unexpectedCharacter(after: "metric name \(quoted(name))", found: token(bytes, i, end))
        }

        // Value.
        guard i < end else { throw .missingValue(metric: name) }
        let valueStart = i
        while i < end && !isBlank(bytes[i]) { i += 1 }
        let valueText = string(bytes, valueStart, i)
        guard let value = parseValue(valueText) else { throw .invalidValue(clip(valueText)) }

        // Optional timestamp.
        i = skipBlanks(bytes, i, end)
        var timestamp: Int64?
        if i < end {
            let stampStart = i
            while i < end && !isBlank(bytes[i]) { i += 1 }
            let stampText = string(bytes, stampStart, i)
            guard let stamp = Int64(stampText) else { throw .invalidTimestamp(clip(stampText)) }
            timestamp = stamp
            i = skipBlanks(bytes, i, end)
            if i < end { throw .unexpectedCharacter(after: "timestamp", found: token(bytes, i, end)) }
        }
        return Sample(name: name, labels: labels, value: value, timestamp: timestamp)
    }

    /// Parses `name="value", …}` starting just after `{`; returns the index after `}`.
    private static func parseLabels(
        _ bytes: [UInt8], _ start: Int, _ end: Int, into labels: inout [String: String]
    ) throws(PrometheusParseError.Reason) -> Int {
        var i = start
        while true {
            i = skipBlanks(bytes, i, end)
            guard i < end else { throw .unterminatedLabelSet }
            if bytes[i] == closeBrace { return i + 1 }

            // Label name: [a-zA-Z_][a-zA-Z0-9_]*
            let nameStart = i
            guard isNameStart(bytes[i]) else { throw .invalidLabelName(token(bytes, i, end)) }
            i += 1
            while i < end && isNameContinue(bytes[i]) { i += 1 }
            let labelName = string(bytes, nameStart, i)

            i = skipBlanks(bytes, i, end)
            guard i < end, bytes[i] == equals else { throw .missingEquals(label: labelName) }
            i = skipBlanks(bytes, i + 1, end)
            guard i < end, bytes[i] == quote else { throw .missingQuote(label: labelName) }
            i += 1

            var value: [UInt8] = []
            var closed = false
            while i < end {
                let byte = bytes[i]
                if byte == quote {
                    closed = true
                    i += 1
                    break
                }
                if byte == backslash {
                    guard i + 1 < end else { break }
                    switch bytes[i + 1] {
                    case backslash: value.append(backslash)
                    case quote: value.append(quote)
                    case letterN: value.append(newline)
                    default:
                        throw .invalidEscape(label: labelName, escape: "\\" + string(bytes, i + 1, i + 2))
                    }
                    i += 2
                } else {
                    value.append(byte)
                    i += 1
                }
            }
            guard closed else { throw .unterminatedLabelValue(label: labelName) }
            guard labels[labelName] == nil else { throw .duplicateLabel(labelName) }
            labels[labelName] = String(decoding: value, as: UTF8.self)

            i = skipBlanks(bytes, i, end)
            guard i < end else { throw .unterminatedLabelSet }
            if bytes[i] == comma {
                i += 1
            } else if bytes[i] != closeBrace {
                throw .unexpectedCharacter(after: "label \(quoted(labelName))", found: token(bytes, i, end))
            }
        }
    }

    /// Reads a sample value: a Go-`ParseFloat`-style number, `NaN`, or `±Inf`.
    private static func parseValue(_ text: String) -> Double? {
        switch text {
        case "NaN": return .nan
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        default:
            // Swift's parser also accepts the spellings Go accepts (`inf`, `nan`, hex floats).
            return Double(text)
        }
    }

    // MARK: - Bytes

    private static let newline: UInt8 = 0x0A
    private static let carriageReturn: UInt8 = 0x0D
    private static let hash = UInt8(ascii: "#")
    private static let colon = UInt8(ascii: ":")
    private static let openBrace = UInt8(ascii: "{")
    private static let closeBrace = UInt8(ascii: "}")
    private static let equals = UInt8(ascii: "=")
    private static let quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\")
    private static let comma = UInt8(ascii: ",")
    private static let letterN = UInt8(ascii: "n")

    private static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

    private static func isNameStart(_ byte: UInt8) -> Bool {
        (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x41 && byte <= 0x5A) || byte == 0x5F
    }

    private static func isNameContinue(_ byte: UInt8) -> Bool {
        isNameStart(byte) || (byte >= 0x30 && byte <= 0x39)
    }

    private static func skipBlanks(_ bytes: [UInt8], _ start: Int, _ end: Int) -> Int {
        var i = start
        while i < end && isBlank(bytes[i]) { i += 1 }
        return i
    }

    private static func string(_ bytes: [UInt8], _ start: Int, _ end: Int) -> String {
        String(decoding: bytes[start..<end], as: UTF8.self)
    }

    /// The text from `start` up to the next blank, clipped for messages.
    private static func token(_ bytes: [UInt8], _ start: Int, _ end: Int) -> String {
        var i = start
        while i < end && !isBlank(bytes[i]) && i - start < 40 { i += 1 }
        return string(bytes, start, max(i, min(start + 1, end)))
    }

    private static func clip(_ text: String) -> String {
        text.count <= 40 ? text : String(text.prefix(40)) + "…"
    }

    private static func quoted(_ text: String) -> String { "\"" + clip(text) + "\"" }
}

/// Why a line of a Prometheus text exposition could not be read.
public struct PrometheusParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong with a line.
    public enum Reason: Error, Sendable, Hashable {
        /// The line does not start with a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`); carries
        /// the offending text.
        case invalidMetricName(String)
        /// A label name inside `{…}` is not `[a-zA-Z_][a-zA-Z0-9_]*`; carries the offending text.
        case invalidLabelName(String)
        /// A label name is not followed by `=`.
        case missingEquals(label: String)
        /// A label's `=` is not followed by a double-quoted value.
        case missingQuote(label: String)
        /// A label value's closing `"` is missing before the end of the line.
        case unterminatedLabelValue(label: String)
        /// A label value contains a backslash escape other than `\\`, `\"`, `\n`.
        case invalidEscape(label: String, escape: String)
        /// The same label name appears twice in one sample.
        case duplicateLabel(String)
        /// The line ends before the closing `}` of the label set.
        case unterminatedLabelSet
        /// A metric name (and labels) with no value after it.
        case missingValue(metric: String)
        /// The value is not a number, `NaN` or `±Inf`; carries the offending text.
        case invalidValue(String)
        /// The text after the value is not an integer timestamp; carries the offending text.
        case invalidTimestamp(String)
        /// Something other than the expected separator follows a part of the line.
        case unexpectedCharacter(after: String, found: String)
    }

    /// The 1-based line number of the malformed line.
    public var line: Int
    /// What was wrong with it.
    public var reason: Reason

    /// An error for `line` with `reason`.
    public init(line: Int, reason: Reason) {
        self.line = line
        self.reason = reason
    }

    /// A one-line message naming the line and the problem.
    public var message: String {
        switch reason {
        case .invalidMetricName(let text): "invalid metric name at \"\(text)\""
        case .invalidLabelName(let text): "invalid label name at \"\(text)\""
        case .missingEquals(let label): "expected '=' after label name \"\(label)\""
        case .missingQuote(let label): "expected '\"' to open the value of label \"\(label)\""
        case .unterminatedLabelValue(let label): "value of label \"\(label)\" is missing its closing '\"'"
        case .invalidEscape(let label, let escape):
            "invalid escape \(escape) in the value of label \"\(label)\" (only \\\\, \\\" and \\n are allowed)"
        case .duplicateLabel(let label): "label \"\(label)\" appears more than once"
        case .unterminatedLabelSet: "label set is missing its closing '}'"
        case .missingValue(let metric): "sample \"\(metric)\" has no value"
        case .invalidValue(let text): "value \"\(text)\" is not a number, NaN, +Inf or -Inf"
        case .invalidTimestamp(let text): "timestamp \"\(text)\" is not an integer (milliseconds)"
        case .unexpectedCharacter(let after, let found): "unexpected \"\(found)\" after \(after)"
        }
    }

    /// `line N: message`.
    public var description: String { "line \(line): \(message)" }
}
