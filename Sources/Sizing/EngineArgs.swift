/// vLLM command-line arguments as the user wrote them, in order, with typed access to the
/// flags sizing reads.
///
/// Tokens are read the way vLLM's argument parser reads them: `--flag=value`, `--flag value`,
/// and bare boolean flags. Underscores and dashes in a flag name are equivalent
/// (`--max_model_len` is `--max-model-len`), as vLLM's `FlexibleArgumentParser` makes them;
/// only the part before a `.` is normalised (`--compilation-config.cudagraph_mode` keeps its key).
///
/// A bare flag takes the next token as its value unless that token is itself a flag or the
/// flag is boolean: a known boolean, or any `--no-…`, `--enable-…` or `--disable-…` flag
/// (vLLM declares these as `BooleanOptionalAction`/`store_true`; give a value with `=` to
/// avoid the guess).
public struct EngineArgs: Sendable, Hashable {
    /// One flag (with its value, if any) or one stray positional token.
    public struct Argument: Sendable, Hashable {
        /// The normalised flag, e.g. `--max-model-len`; `nil` for a positional token.
        public var flag: String?
        /// The value given with `=` or as the next token.
        public var value: String?
        /// The tokens exactly as written (one or two).
        public var tokens: [String]
    }

    /// The arguments in the order written.
    public private(set) var arguments: [Argument]

    /// `--tensor-parallel-size` / `-tp`.
    public private(set) var tensorParallelSize: Int?
    /// `--pipeline-parallel-size` / `-pp`.
    public private(set) var pipelineParallelSize: Int?
    /// `--max-model-len` (vLLM also accepts `32k` = 32,000 and `32K` = 32,768).
    public private(set) var maxModelLen: Int?
    /// `--gpu-memory-utilization`, a fraction in (0, 1].
    public private(set) var gpuMemoryUtilization: Double?
    /// `--max-num-seqs`.
    public private(set) var maxNumSeqs: Int?
    /// `--max-num-batched-tokens`.
    public private(set) var maxNumBatchedTokens: Int?
    /// `--dtype`; `nil` when absent or `auto`.
    public private(set) var dtype: DType?
    /// `--kv-cache-dtype`; `nil` when absent or `auto`.
    public private(set) var kvCacheDType: DType?
    /// `--quantization` / `-q`, the method name as written.
    public private(set) var quantization: String?
    /// `--block-size`.
    public private(set) var blockSize: Int?
    /// `--enforce-eager` (`--no-enforce-eager` or `=false` make it `false`); `nil` when absent.
    public private(set) var enforceEager: Bool?

    /// No arguments.
    public init() {
        arguments = []
    }

    /// Parses vLLM arguments.
    /// - Throws: ``EngineArgsError`` naming the flag when a flag sizing reads is missing its
    ///   value or has one vLLM would reject (e.g. `--tensor-parallel-size=two`). Every
    ///   occurrence is checked, as vLLM's parser would; the last occurrence wins.
    public init(_ tokens: [String]) throws(EngineArgsError) {
        arguments = Self.split(tokens)
        try readTypedFlags()
    }

    /// Arguments already checked by ``init(_:)`` (a subset of them stays valid).
    init(checkedArguments: [Argument]) {
        arguments = checkedArguments
        try? readTypedFlags()
    }

    /// All tokens, in order, as written.
    public var tokens: [String] { arguments.flatMap(\.tokens) }

    /// Whether the flag appears (any spelling: `_` or `-`, short alias).
    public func contains(_ flag: String) -> Bool {
        let name = Self.normalise(flag)
        return arguments.contains { $0.flag == name }
    }

    /// The value of the flag's last occurrence, if it has one.
    public func value(of flag: String) -> String? {
        let name = Self.normalise(flag)
        return arguments.last { $0.flag == name }?.value
    }

    /// The canonical spelling of a flag: short aliases expanded, `_` → `-` before any `.`.
    public static func normalise(_ flag: String) -> String {
        if let long = shortAliases[flag] { return long }
        guard flag.hasPrefix("--") else { return flag }
        let body = flag.dropFirst(2)
        guard let dot = body.firstIndex(of: ".") else { return "--" + body.replacingUnderscores() }
        return "--" + body[..<dot].replacingUnderscores() + body[dot...]
    }

    // MARK: Tokenising

    /// vLLM's short aliases (`vllm/engine/arg_utils.py`, vLLM ≥ 0.9).
    private static let shortAliases = [
        "-tp": "--tensor-parallel-size", "-pp": "--pipeline-parallel-size",
        "-dp": "--data-parallel-size", "-q": "--quantization",
    ]

    /// Boolean flags that do not start with `--no-`, `--enable-` or `--disable-`.
    private static let booleanFlags: Set<String> = [
        "--enforce-eager", "--trust-remote-code", "--use-v2-block-manager", "--worker-use-ray",
        "--engine-use-ray", "--skip-tokenizer-init", "--async-scheduling", "--headless",
        "--enable-eplb",
    ]

    private static func isBoolean(_ flag: String) -> Bool {
        booleanFlags.contains(flag) || flag.hasPrefix("--no-") || flag.hasPrefix("--enable-")
            || flag.hasPrefix("--disable-")
    }

    /// A token that starts a new flag (not a negative number such as `-1`).
    private static func isFlag(_ token: String) -> Bool {
        guard token.hasPrefix("-"), token.count > 1 else { return false }
        let second = token[token.index(after: token.startIndex)]
        return second == "-" || second.isLetter
    }

    private static func split(_ tokens: [String]) -> [Argument] {
        var result: [Argument] = []
        var index = 0
        while index < tokens.count {
            let token = tokens[index]
            index += 1
            guard isFlag(token) else {
                result.append(Argument(flag: nil, value: nil, tokens: [token]))
                continue
            }
            if let equals = token.firstIndex(of: "=") {
                let flag = normalise(String(token[..<equals]))
                result.append(Argument(flag: flag, value: String(token[token.index(after: equals)...]), tokens: [token]))
                continue
            }
            let flag = normalise(token)
            if !isBoolean(flag), index < tokens.count, !isFlag(tokens[index]) {
                result.append(Argument(flag: flag, value: tokens[index], tokens: [token, tokens[index]]))
                index += 1
            } else {
                result.append(Argument(flag: flag, value: nil, tokens: [token]))
            }
        }
        return result
    }

    // MARK: Typed flags

    private mutating func readTypedFlags() throws(EngineArgsError) {
        for argument in arguments {
            guard let flag = argument.flag else { continue }
            let value = argument.value
            switch flag {
            case "--tensor-parallel-size": tensorParallelSize = try Self.positiveInt(flag, value, SizingLimits.parallel)
            case "--pipeline-parallel-size": pipelineParallelSize = try Self.positiveInt(flag, value, SizingLimits.parallel)
            case "--max-num-seqs": maxNumSeqs = try Self.positiveInt(flag, value, SizingLimits.tokens)
            case "--max-num-batched-tokens": maxNumBatchedTokens = try Self.positiveInt(flag, value, SizingLimits.tokens)
            case "--block-size": blockSize = try Self.positiveInt(flag, value, SizingLimits.tokens)
            case "--max-model-len": maxModelLen = try Self.humanReadableInt(flag, value, SizingLimits.tokens)
            case "--gpu-memory-utilization":
                let text = try Self.required(flag, value)
                guard let fraction = Double(text), fraction > 0, fraction <= 1 else {
                    throw .malformedValue(flag: flag, value: text, expected: "a fraction greater than 0 and at most 1")
                }
                gpuMemoryUtilization = fraction
            case "--dtype":
                let text = try Self.required(flag, value)
                // vLLM's --dtype choices: auto, half, float16, bfloat16, float, float32.
                guard ["auto", "half", "float16", "bfloat16", "float", "float32"].contains(text) else {
                    throw .malformedValue(flag: flag, value: text, expected: "auto, half, float16, bfloat16, float or float32")
                }
                dtype = DType(name: text)
            case "--kv-cache-dtype":
                let text = try Self.required(flag, value)
                // vLLM's --kv-cache-dtype choices (CacheDType in vllm/config/cache.py, 0.11–0.12).
                switch text {
                case "auto": kvCacheDType = nil
                case "bfloat16": kvCacheDType = .bfloat16
                case "fp8", "fp8_e4m3", "fp8_e5m2", "fp8_inc", "fp8_ds_mla": kvCacheDType = .fp8
                default:
                    throw .malformedValue(
                        flag: flag, value: text, expected: "auto, bfloat16, fp8, fp8_e4m3, fp8_e5m2, fp8_inc or fp8_ds_mla")
                }
            case "--quantization": quantization = try Self.required(flag, value)
            case "--enforce-eager":
                guard let text = value else {
                    enforceEager = true
                    continue
                }
                switch text.lowercased() {
                case "true", "1", "yes": enforceEager = true
                case "false", "0", "no": enforceEager = false
                default: throw .malformedValue(flag: flag, value: text, expected: "no value, true or false")
                }
            case "--no-enforce-eager": enforceEager = false
            default: continue
            }
        }
    }

    private static func required(_ flag: String, _ value: String?) throws(EngineArgsError) -> String {
        guard let value, !value.isEmpty else { throw .missingValue(flag: flag) }
        return value
    }

    /// Whether `text` is an optionally signed run of ASCII digits (an integer, whatever its size).
    private static func isInteger(_ text: Substring) -> Bool {
        let digits = text.first == "+" || text.first == "-" ? text.dropFirst() : text
        return !digits.isEmpty && digits.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// A positive integer within `range`. Numbers beyond `Int` or outside `range` are
    /// ``EngineArgsError/outOfRange(flag:value:range:)``, not malformed.
    private static func positiveInt(_ flag: String, _ value: String?, _ range: ClosedRange<Int>) throws(EngineArgsError) -> Int {
        let text = try required(flag, value)
        guard isInteger(Substring(text)) else {
            throw .malformedValue(flag: flag, value: text, expected: "a positive integer")
        }
        guard let number = Int(text), number >= 1 else {
            if text.first != "-", text.contains(where: { $0 != "0" && $0 != "+" }) { throw .outOfRange(flag: flag, value: text, range: range) }
            throw .malformedValue(flag: flag, value: text, expected: "a positive integer")
        }
        guard range.contains(number) else { throw .outOfRange(flag: flag, value: text, range: range) }
        return number
    }

    /// vLLM's `human_readable_int` (used for `--max-model-len`): `k`/`m`/`g` are powers of
    /// 1,000 and may have decimals (`25.6k` = 25,600); `K`/`M`/`G` are powers of 1,024 and must
    /// be whole (`32K` = 32,768). The result must lie in `range`; the multiplication is checked.
    private static func humanReadableInt(_ flag: String, _ value: String?, _ range: ClosedRange<Int>) throws(EngineArgsError) -> Int {
        let text = try required(flag, value)
        let malformed = EngineArgsError.malformedValue(
            flag: flag, value: text, expected: "a positive integer, optionally with k/m/g (×1000) or K/M/G (×1024)")
        let outOfRange = EngineArgsError.outOfRange(flag: flag, value: text, range: range)
        if isInteger(Substring(text)) {
            return try positiveInt(flag, text, range)
        }
        let multipliers: [Character: (factor: Int, decimalsAllowed: Bool)] = [
            "k": (1_000, true), "m": (1_000_000, true), "g": (1_000_000_000, true),
            "K": (1_024, false), "M": (1_048_576, false), "G": (1_073_741_824, false),
        ]
        guard let suffix = text.last, let multiplier = multipliers[suffix] else { throw malformed }
        let digits = text.dropLast()
        if !multiplier.decimalsAllowed {
            guard isInteger(digits), digits.first != "-", digits.first != "+" else { throw malformed }
            guard let whole = Int(digits) else { throw outOfRange }
            guard whole >= 1 else { throw malformed }
            let (scaled, overflow) = whole.multipliedReportingOverflow(by: multiplier.factor)
            guard !overflow, range.contains(scaled) else { throw outOfRange }
            return scaled
        }
        guard !digits.isEmpty, digits.allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "." }),
            let number = Double(digits), number > 0
        else {
            throw malformed
        }
        guard number.isFinite else { throw outOfRange }
        let scaled = number * Double(multiplier.factor)
        guard scaled == scaled.rounded(), scaled >= 1 else { throw malformed }
        // Compared as Doubles before converting: Int(_:) traps beyond Int's range.
        guard scaled <= Double(range.upperBound), scaled >= Double(range.lowerBound) else { throw outOfRange }
        return Int(scaled)
    }
}

/// Why a list of vLLM arguments cannot be used.
public enum EngineArgsError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A flag sizing reads has a value vLLM would reject; names the flag, what it got and
    /// what it accepts.
    case malformedValue(flag: String, value: String, expected: String)
    /// A flag that needs a value has none (it was last, or followed by another flag).
    case missingValue(flag: String)
    /// A number Tandem cannot size with: beyond the range ``SizingLimits`` allows for the flag
    /// (which covers every real deployment), or beyond a 64-bit integer.
    case outOfRange(flag: String, value: String, range: ClosedRange<Int>)

    /// The flag the error is about.
    public var flag: String {
        switch self {
        case .malformedValue(let flag, _, _), .missingValue(let flag), .outOfRange(let flag, _, _): flag
        }
    }

    public var description: String {
        switch self {
        case .malformedValue(let flag, let value, let expected): "\(flag)=\(value): expected \(expected)"
        case .missingValue(let flag): "\(flag) needs a value"
        case .outOfRange(let flag, let value, let range):
            "\(flag)=\(value) is out of range: Tandem accepts \(SizingLimits.describe(range)); "
                + "set \(flag) to a value in that range, or leave it out for Tandem to derive it"
        }
    }
}

extension Substring {
    fileprivate func replacingUnderscores() -> String {
        String(map { $0 == "_" ? "-" : $0 })
    }
}
