import AsyncHTTPClient
import Autoscaling
import Foundation
import KubeCore
import NIOCore

/// Reads the pods' metrics from a Prometheus server that already scrapes them, through its HTTP
/// API (`GET /api/v1/query`), instead of scraping each pod.
///
/// One ``read(_:modelName:)`` sends **one** instant query for all targets:
///
/// ```
/// {__name__=~"vllm:num_requests_waiting|…|vllm:request_prompt_tokens_bucket",
///  namespace="<ns>", pod=~"<pod-1>|<pod-2>|…"}
/// ```
///
/// asking for every name of ``MetricNames/preferenceOrder`` and the prompt-length histogram's
/// buckets. The answer's series are turned back into ``PrometheusText/Sample``s per pod and read
/// by the same ``PodMetrics/extract(from:modelName:)`` as ``DirectScraper``, so the same data
/// gives the same decisions.
///
/// ## Contract with the scrape configuration
/// Every series must carry a `namespace` and a `pod` label naming the pod it was scraped from,
/// and each pod must be scraped once (only its port named `metrics`); docs/prometheus-source.md
/// has the `relabel_configs` that do this with `kubernetes_sd_configs` (role `pod`).
///
/// ## Freshness
/// An instant query sees each series' newest sample within Prometheus's lookback window
/// (`--query.lookback-delta`, 5 minutes by default), unless the series was marked stale
/// (its target disappeared or failed a scrape). With ``maxAge`` set, the query also asks for
/// each series' sample time (`timestamp(…)`) and samples older than `maxAge` before the
/// evaluation time are dropped, so a lagging Prometheus cannot feed minutes-old load.
///
/// ## Determinism
/// With `evaluationTime` set, every query carries `time=`: replaying a recorded TSDB at recorded
/// instants gives the same answers each run.
public struct PrometheusSource: SignalSource {
    /// Which Prometheus hosts ``init(baseURL:httpClient:timeout:maxAge:evaluationTime:allowedHosts:)`` accepts.
    public enum AllowedHosts: Sendable, Hashable {
        /// Any host.
        case any
        /// Only `localhost`, `127.0.0.0/8` and `::1`: what tests use (they dial loopback only).
        case loopback
    }

    /// The base URL as given, without a trailing `/` (e.g. `http://127.0.0.1:9090`).
    public let baseURL: String
    /// The longest one query may take.
    public let timeout: Duration
    /// When set, samples older than this before the evaluation time are dropped.
    public let maxAge: Duration?
    /// The largest answer accepted.
    public let maxBytes: Int
    let http: HTTPClient
    let evaluationTime: (@Sendable () -> Date)?

    /// A source asking the Prometheus server at `baseURL`.
    ///
    /// - Parameters:
    ///   - baseURL: The server's root, `http(s)://host[:port][/prefix]` (a prefix when the
    ///     server runs with `--web.route-prefix`); `/api/v1/query` is appended.
    ///   - httpClient: The client to send queries on; the caller owns and shuts it down.
    ///   - timeout: 2 s by default, the same as ``DirectScraper``: one query must fit well
    ///     inside the autoscaler's round, whatever the server's own `--query.timeout` (2 min).
    ///   - maxAge: Drop samples older than this before the evaluation time; `nil` (the default)
    ///     keeps whatever the instant query returns.
    ///   - evaluationTime: The time to evaluate each query at (`time=`); `nil` lets the server
    ///     use its clock. Set it to replay recorded data deterministically.
    ///   - allowedHosts: `.any` by default; tests pass `.loopback`.
    ///   - maxBytes: The largest answer accepted, 32 MiB by default (a few hundred series of
    ///     a few hundred bytes each are expected).
    /// - Throws: ``PrometheusSourceError`` when `baseURL` is not an `http`/`https` URL with a
    ///   host, carries a query or fragment, or names a host `allowedHosts` refuses.
    public init(
        baseURL: String,
        httpClient: HTTPClient,
        timeout: Duration = .seconds(2),
        maxAge: Duration? = nil,
        evaluationTime: (@Sendable () -> Date)? = nil,
        allowedHosts: AllowedHosts = .any,
        maxBytes: Int = 32 << 20
    ) throws {
        var trimmed = baseURL
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let components = URLComponents(string: trimmed),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else {
            throw PrometheusSourceError(
                "Prometheus base URL \"\(baseURL)\" is not an http(s) URL with a host; give the server's root, e.g. http://prometheus.monitoring:9090")
        }
        guard components.query == nil, components.fragment == nil else {
            throw PrometheusSourceError(
                "Prometheus base URL \"\(baseURL)\" carries a query or fragment; give only the server's root (and route prefix), e.g. http://prometheus.monitoring:9090")
        }
        if allowedHosts == .loopback, !Self.isLoopback(host) {
            throw PrometheusSourceError(
                "Prometheus base URL \"\(baseURL)\" names host \"\(host)\", which is not loopback (localhost, 127.0.0.0/8, ::1), and this source only allows loopback hosts; point it at a server on 127.0.0.1 or allow any host")
        }
        if let maxAge, maxAge <= .zero {
            throw PrometheusSourceError("maxAge \(maxAge) is not positive; give a positive duration or nil to keep every sample the query returns")
        }
        self.baseURL = trimmed
        self.http = httpClient
        self.timeout = timeout
        self.maxAge = maxAge
        self.evaluationTime = evaluationTime
        self.maxBytes = maxBytes
    }

    /// The series names asked for: every name of ``MetricNames/preferenceOrder`` (deduplicated,
    /// in order) and the buckets of ``PodMetrics/promptTokensName``.
    public static let seriesNames: [String] = {
        var names: [String] = []
        for map in MetricNames.preferenceOrder {
            for name in [map.waiting, map.running, map.kvCacheUtilization] where !names.contains(name) {
                names.append(name)
            }
        }
        names.append(PodMetrics.promptTokensName + "_bucket")
        return names
    }()

    /// The label added to the `timestamp(…)` half of a ``maxAge`` query, carrying the name of the
    /// series whose sample time it is (`timestamp` drops `__name__`).
    static let sampleOfLabel = "tandem_sample_of"

    /// Reads `targets` with one instant query; never throws.
    ///
    /// - Parameters:
    ///   - targets: The pods to read (their `address` is not used: Prometheus knows where it
    ///     scraped them).
    ///   - modelName: When given, series whose `model_name` label differs are ignored.
    /// - Returns: One reading per target, keyed by pod name: `.metrics`, or `.failed` with what
    ///   went wrong (for a server error, a timeout or an answer that is not the API's JSON, every
    ///   target fails with the same message naming the URL).
    public func read(_ targets: [ScrapeTarget], modelName: String?) async -> [String: PodReading] {
        guard !targets.isEmpty else { return [:] }
        let query = Self.query(for: targets, withTimestamps: maxAge != nil)
        var url = baseURL + "/api/v1/query?query=" + Self.percentEncoded(query)
        if let evaluationTime { url += "&time=" + Self.formatTime(evaluationTime()) }
        let endpoint = baseURL + "/api/v1/query"

        let status: Int
        let body: ByteBuffer
        let (http, timeout, maxBytes, queryURL) = (self.http, self.timeout, self.maxBytes, url)
        do {
            // One deadline over the whole exchange, body included (see OverallDeadline): the
            // deadline of `execute` ends with the response head.
            let answer = try await OverallDeadline.run(within: timeout) { () -> (Int, ByteBuffer) in
                var request = HTTPClientRequest(url: queryURL)
                request.method = .GET
                request.headers.add(name: "Accept", value: "application/json")
                // Uncompressed: a client with response decompression on (HTTPClient.shared's allows a
                // 25:1 ratio, Configuration+BrowserLike.swift) refuses Prometheus's gzip of these
                // repetitive series, and the answer is small enough not to need it.
                request.headers.add(name: "Accept-Encoding", value: "identity")
                let response = try await http.execute(request, timeout: TimeAmount(OverallDeadline.headDeadline(within: timeout)))
                return (Int(response.status.code), try await response.body.collect(upTo: maxBytes))
            }
            (status, body) = answer
        } catch let error as HTTPClientError where [.deadlineExceeded, .readTimeout, .connectTimeout].contains(error) {
            return Self.allFailed(
                targets, "Prometheus at \(endpoint) did not answer within \(timeout); check the server's load and health, or raise the source's timeout")
        } catch is OverallDeadline.Exceeded {
            return Self.allFailed(
                targets, "Prometheus at \(endpoint) did not answer within \(timeout) (timed out after \(OverallDeadline.format(timeout))); check the server's load and health, or raise the source's timeout")
        } catch is NIOTooManyBytesError {
            return Self.allFailed(
                targets, "Prometheus at \(endpoint) answered with more than \(maxBytes) bytes; check that the scrape configuration keeps one target per pod (docs/prometheus-source.md)")
        } catch {
            return Self.allFailed(
                targets, "cannot query Prometheus at \(endpoint): \(type(of: error)) \(error); check the URL and that the server is running and reachable")
        }
        return Self.readings(
            fromAnswer: Array(body.readableBytesView), httpStatus: status, targets: targets,
            modelName: modelName, maxAge: maxAge, endpoint: endpoint)
    }

    // MARK: - The query

    /// The PromQL query for `targets`: one selector for all series names and pods; with
    /// `withTimestamps`, `or`-ed with each name's sample times (see ``maxAge``).
    static func query(for targets: [ScrapeTarget], withTimestamps: Bool) -> String {
        var namespaces: [String] = []
        var pods: [String] = []
        for target in targets {
            if !namespaces.contains(target.namespace) { namespaces.append(target.namespace) }
            if !pods.contains(target.pod) { pods.append(target.pod) }
        }
        let namespaceMatcher = namespaces.count == 1
            ? "namespace=\(quoted(namespaces[0]))"
            : "namespace=~\(quoted(namespaces.map(regexEscaped).joined(separator: "|")))"
        let scope = "\(namespaceMatcher),pod=~\(quoted(pods.map(regexEscaped).joined(separator: "|")))"
        let names = seriesNames.map(regexEscaped).joined(separator: "|")
        var query = "{__name__=~\(quoted(names)),\(scope)}"
        guard withTimestamps else { return query }
        // `timestamp` returns a sample's own time only when applied directly to a selector, and
        // drops `__name__`; a label per name keeps the halves apart (and apart from the values,
        // which `or` would otherwise match on their other labels).
        for name in seriesNames {
            query += " or label_replace(timestamp({__name__=\(quoted(name)),\(scope)}), \(quoted(sampleOfLabel)), \(quoted(name)), \"\", \"\")"
        }
        return query
    }

    /// `text` with RE2's metacharacters escaped, so it matches itself literally.
    static func regexEscaped(_ text: String) -> String {
        var out = ""
        for character in text {
            if "\\.+*?()|[]{}^$".contains(character) { out.append("\\") }
            out.append(character)
        }
        return out
    }

    /// `text` as a double-quoted PromQL string literal.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for character in text {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out + "\""
    }

    /// Percent-encodes everything but RFC 3986's unreserved characters. (Go's query parser reads
    /// `+` as a space, so a plain URL-query encoding is not enough.)
    static func percentEncoded(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(byte)))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return out
    }

    /// Seconds since the epoch with millisecond precision (`1704067200.125`), a form the API's
    /// `time` parameter accepts.
    static func formatTime(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let sign = millis < 0 ? "-" : ""
        let magnitude = millis.magnitude
        let fraction = String(magnitude % 1000)
        return sign + String(magnitude / 1000) + "." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    // MARK: - The answer

    /// Turns the API's answer into one reading per target.
    ///
    /// - Parameters:
    ///   - answer: The response body.
    ///   - httpStatus: The response status.
    ///   - endpoint: The query URL without parameters, for messages.
    static func readings(
        fromAnswer answer: [UInt8], httpStatus: Int, targets: [ScrapeTarget], modelName: String?,
        maxAge: Duration?, endpoint: String
    ) -> [String: PodReading] {
        let decoded: APIAnswer
        do {
            decoded = try JSONDecoder().decode(APIAnswer.self, from: Data(answer))
        } catch {
            let snippet = String(decoding: answer.prefix(200), as: UTF8.self)
            return allFailed(
                targets, "Prometheus at \(endpoint) answered HTTP \(httpStatus) with a body that is not the query API's JSON (\(snippet.isEmpty ? "empty" : "\"\(snippet)\"")); check that the base URL points at the Prometheus server itself (and its route prefix)")
        }
        guard decoded.status == "success", (200..<300).contains(httpStatus) else {
            let kind = decoded.errorType.map { " (\($0))" } ?? ""
            let message = decoded.error ?? "status \"\(decoded.status)\" without an error message"
            return allFailed(
                targets, "Prometheus at \(endpoint) refused the query with HTTP \(httpStatus)\(kind): \(message); check the server's health and logs")
        }
        guard let data = decoded.data, data.resultType == "vector" else {
            return allFailed(
                targets, "Prometheus at \(endpoint) answered an instant query with result type \"\(decoded.data?.resultType ?? "none")\" instead of a vector; the server is not behaving as Prometheus's query API does")
        }

        // Split the answer: values (with `__name__`) and, for `maxAge`, sample times.
        struct SeriesKey: Hashable {
            var name: String
            var labels: [String: String]
        }
        var samplesByPod: [PodKey: [(key: SeriesKey, sample: PrometheusText.Sample)]] = [:]
        var sampleTimes: [SeriesKey: Double] = [:]
        var evaluatedAt: Double?
        for series in data.result {
            var labels = series.metric
            guard let value = Self.value(series.value.text) else {
                return allFailed(
                    targets, "Prometheus at \(endpoint) answered value \"\(series.value.text)\" for series \(series.metric), which is not a number, NaN or ±Inf; the server is not behaving as Prometheus's query API does")
            }
            evaluatedAt = series.value.time
            if let name = labels.removeValue(forKey: "__name__") {
                guard let namespace = labels["namespace"], let pod = labels["pod"] else { continue }
                let sample = PrometheusText.Sample(name: name, labels: labels, value: value)
                samplesByPod[PodKey(namespace: namespace, pod: pod), default: []].append((SeriesKey(name: name, labels: labels), sample))
            } else if let name = labels.removeValue(forKey: sampleOfLabel) {
                sampleTimes[SeriesKey(name: name, labels: labels)] = value
            }
        }

        var readings: [String: PodReading] = [:]
        for target in targets {
            let key = PodKey(namespace: target.namespace, pod: target.pod)
            let pod = "\(target.namespace)/\(target.pod)"
            guard let found = samplesByPod[key], !found.isEmpty else {
                readings[target.pod] = .failed(
                    "no series for pod \(pod) in Prometheus at \(endpoint); check that Prometheus scrapes the pod's port named metrics and labels its series with namespace and pod (docs/prometheus-source.md)")
                continue
            }
            var samples: [PrometheusText.Sample] = []
            var newest: Double?
            for (seriesKey, sample) in found {
                guard let maxAge, let evaluatedAt else {
                    samples.append(sample)
                    continue
                }
                // A value without its sample time cannot be shown fresh, so it is dropped.
                guard let time = sampleTimes[seriesKey] else { continue }
                newest = max(newest ?? time, time)
                var stamped = sample
                stamped.timestamp = Int64((time * 1000).rounded())
                if evaluatedAt - time <= maxAge.inSeconds { samples.append(stamped) }
            }
            guard !samples.isEmpty else {
                let when = newest.map { "the newest is \(Self.formatSeconds((evaluatedAt ?? $0) - $0)) s old" } ?? "none has a sample time"
                readings[target.pod] = .failed(
                    "the series of pod \(pod) in Prometheus at \(endpoint) are older than maxAge \(maxAge.map { "\($0)" } ?? "?") (\(when)); the pod's scrapes are failing or Prometheus lags: check the pod's target on the server's /targets page")
                continue
            }
            let metrics = PodMetrics.extract(from: samples, modelName: modelName)
            guard !metrics.signals.isEmpty else {
                readings[target.pod] = .failed(
                    "Prometheus at \(endpoint) has series for pod \(pod) but none of the vLLM or SGLang load metrics with a usable value\(modelName.map { " for model \($0)" } ?? "")")
                continue
            }
            readings[target.pod] = .metrics(metrics)
        }
        return readings
    }

    struct PodKey: Hashable {
        var namespace: String
        var pod: String
    }

    /// A value as the API writes it (Go's `strconv.FormatFloat(v, 'f', -1, 64)`, or `NaN`, `+Inf`, `-Inf`).
    static func value(_ text: String) -> Double? {
        switch text {
        case "NaN": return .nan
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        default: return Double(text)
        }
    }

    static func allFailed(_ targets: [ScrapeTarget], _ message: String) -> [String: PodReading] {
        var readings: [String: PodReading] = [:]
        for target in targets { readings[target.pod] = .failed(message) }
        return readings
    }

    static func isLoopback(_ host: String) -> Bool {
        var host = host.lowercased()
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host == "localhost" || host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return false }
        let octets = parts.compactMap { part -> Int? in
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), let value = Int(part), value <= 255 else { return nil }
            return value
        }
        return octets.count == 4 && octets[0] == 127
    }

    static func formatSeconds(_ value: Double) -> String {
        let tenths = Int64((value * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }

}

/// Why a ``PrometheusSource`` cannot be made.
public struct PrometheusSourceError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was wrong, with what, and what to do.
    public var description: String

    /// An error with `description`.
    public init(_ description: String) { self.description = description }
}

/// The query API's answer (https://prometheus.io/docs/prometheus/latest/querying/api/): the
/// envelope, and for an instant vector, `{"metric": {…}, "value": [<seconds>, "<value>"]}` per series.
struct APIAnswer: Decodable {
    var status: String
    var data: Payload?
    var errorType: String?
    var error: String?

    struct Payload: Decodable {
        var resultType: String
        var result: [Series]

        enum CodingKeys: String, CodingKey { case resultType, result }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            resultType = try container.decode(String.self, forKey: .resultType)
            // Only vectors are read; other result types are refused by the caller.
            result = resultType == "vector" ? try container.decode([Series].self, forKey: .result) : []
        }
    }

    struct Series: Decodable {
        var metric: [String: String]
        var value: Point
    }

    /// `[<unix seconds>, "<value>"]`.
    struct Point: Decodable {
        var time: Double
        var text: String

        init(from decoder: any Decoder) throws {
            var container = try decoder.unkeyedContainer()
            time = try container.decode(Double.self)
            text = try container.decode(String.self)
        }
    }
}
