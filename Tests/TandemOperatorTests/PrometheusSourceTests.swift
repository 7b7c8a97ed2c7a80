import AsyncHTTPClient
import Autoscaling
import Foundation
import Testing

@testable import TandemOperator

/// The query `PrometheusSource` sends and what it makes of the answers; no network.
@Suite("PrometheusSource without a server")
struct PrometheusSourceTests {
    static let endpoint = "http://127.0.0.1:9090/api/v1/query"
    static let model = "meta-llama/Llama-3.1-8B-Instruct"
    static let targets = [
        ScrapeTarget(namespace: "serving", pod: "decode-0", address: "10.0.0.1:8000"),
        ScrapeTarget(namespace: "serving", pod: "decode-1", address: "10.0.0.2:8000"),
    ]

    /// One vector series as the API writes it.
    static func series(_ name: String?, _ labels: [String: String], _ value: String, at time: String = "1704067200.5") -> String {
        var metric = labels
        if let name { metric["__name__"] = name }
        let fields = metric.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",")
        return #"{"metric":{\#(fields)},"value":[\#(time),"\#(value)"]}"#
    }

    static func success(_ series: [String]) -> [UInt8] {
        Array(#"{"status":"success","data":{"resultType":"vector","result":[\#(series.joined(separator: ","))]}}"#.utf8)
    }

    static func readings(_ answer: [UInt8], status: Int = 200, maxAge: Duration? = nil, modelName: String? = model) -> [String: PodReading] {
        PrometheusSource.readings(
            fromAnswer: answer, httpStatus: status, targets: targets, modelName: modelName, maxAge: maxAge, endpoint: endpoint)
    }

    static func pod(_ name: String, engine: String = "0") -> [String: String] {
        ["namespace": "serving", "pod": name, "engine": engine, "model_name": model, "job": "model-servers", "instance": "10.0.0.1:8000"]
    }

    // MARK: - The query

    @Test func oneSelectorAsksForEveryNameOfEveryEngineAndTheHistogram() {
        let query = PrometheusSource.query(for: Self.targets, withTimestamps: false)
        for names in MetricNames.preferenceOrder {
            for name in [names.waiting, names.running, names.kvCacheUtilization] {
                #expect(query.contains(name), "\(name) missing from \(query)")
            }
        }
        #expect(query.contains("vllm:request_prompt_tokens_bucket"))
        #expect(query.hasPrefix("{__name__=~\""))
        #expect(query.contains(#"namespace="serving""#))
        #expect(query.contains(#"pod=~"decode-0|decode-1""#))
        #expect(!query.contains(" or "))
        // Each name once, though v1 and v0 share the queue names.
        #expect(query.components(separatedBy: "vllm:num_requests_waiting").count == 2)
    }

    @Test func podNamesAreMatchedLiterally() {
        let targets = [
            ScrapeTarget(namespace: #"we"ird"#, pod: "decode.0", address: ""),
            ScrapeTarget(namespace: #"we"ird"#, pod: "a+b(c)|d", address: ""),
        ]
        let query = PrometheusSource.query(for: targets, withTimestamps: false)
        // RE2 escapes, then PromQL string escapes (a backslash doubles).
        #expect(query.contains(#"pod=~"decode\\.0|a\\+b\\(c\\)\\|d""#), "\(query)")
        #expect(query.contains(#"namespace="we\"ird""#), "\(query)")
        #expect(PrometheusSource.regexEscaped(#"a.b*c?d^e$f[g]h{i}j\k"#) == #"a\.b\*c\?d\^e\$f\[g\]h\{i\}j\\k"#)
    }

    @Test func targetsOfSeveralNamespacesShareOneQuery() {
        let targets = [ScrapeTarget(namespace: "a", pod: "p", address: ""), ScrapeTarget(namespace: "b.c", pod: "p", address: "")]
        let query = PrometheusSource.query(for: targets, withTimestamps: false)
        #expect(query.contains(#"namespace=~"a|b\\.c""#), "\(query)")
        #expect(query.contains(#"pod=~"p""#), "\(query)")
    }

    @Test func maxAgeAsksForEachNamesSampleTimes() {
        let query = PrometheusSource.query(for: Self.targets, withTimestamps: true)
        for name in PrometheusSource.seriesNames {
            #expect(query.contains(#"label_replace(timestamp({__name__="\#(name)",namespace="serving",pod=~"decode-0|decode-1"}), "tandem_sample_of", "\#(name)", "", "")"#), "\(name)")
        }
    }

    @Test func theQueryIsPercentEncodedForGosQueryParser() {
        #expect(PrometheusSource.percentEncoded(#"{a=~"x+y|z"} or b"#) == "%7Ba%3D~%22x%2By%7Cz%22%7D%20or%20b")
        #expect(PrometheusSource.percentEncoded("é") == "%C3%A9")
    }

    @Test func evaluationTimesAreSecondsWithMilliseconds() {
        #expect(PrometheusSource.formatTime(Date(timeIntervalSince1970: 1_704_067_200)) == "1704067200.000")
        #expect(PrometheusSource.formatTime(Date(timeIntervalSince1970: 1_704_067_200.0456)) == "1704067200.046")
        #expect(PrometheusSource.formatTime(Date(timeIntervalSince1970: 1.5)) == "1.500")
    }

    // MARK: - Answers

    /// The same samples as text and as an API answer give the same `PodMetrics`.
    @Test func anAnswerGivesWhatTheSameTextGives() throws {
        let answer = Self.success([
            Self.series("vllm:num_requests_waiting", Self.pod("decode-0"), "3"),
            Self.series("vllm:num_requests_waiting", Self.pod("decode-0", engine: "1"), "2"),
            Self.series("vllm:num_requests_running", Self.pod("decode-0"), "5"),
            Self.series("vllm:kv_cache_usage_perc", Self.pod("decode-0"), "0.25"),
            Self.series("vllm:kv_cache_usage_perc", Self.pod("decode-0", engine: "1"), "0.75"),
            Self.series("vllm:request_prompt_tokens_bucket", Self.pod("decode-0").merging(["le": "128.0"]) { $1 }, "4"),
            Self.series("vllm:request_prompt_tokens_bucket", Self.pod("decode-0").merging(["le": "512.0"]) { $1 }, "9"),
            Self.series("vllm:request_prompt_tokens_bucket", Self.pod("decode-0").merging(["le": "+Inf"]) { $1 }, "10"),
            Self.series("vllm:num_requests_waiting", Self.pod("decode-1"), "0"),
            Self.series("vllm:kv_cache_usage_perc", Self.pod("decode-1"), "1e-05"),
        ])
        let text = """
            vllm:num_requests_waiting{engine="0",model_name="\(Self.model)"} 3.0
            vllm:num_requests_waiting{engine="1",model_name="\(Self.model)"} 2.0
            vllm:num_requests_running{engine="0",model_name="\(Self.model)"} 5.0
            vllm:kv_cache_usage_perc{engine="0",model_name="\(Self.model)"} 0.25
            vllm:kv_cache_usage_perc{engine="1",model_name="\(Self.model)"} 0.75
            vllm:request_prompt_tokens_bucket{engine="0",le="128.0",model_name="\(Self.model)"} 4.0
            vllm:request_prompt_tokens_bucket{engine="0",le="512.0",model_name="\(Self.model)"} 9.0
            vllm:request_prompt_tokens_bucket{engine="0",le="+Inf",model_name="\(Self.model)"} 10.0
            """
        let readings = Self.readings(answer)
        let expected = PodMetrics.extract(from: try PrometheusText.parse(text), modelName: Self.model)
        #expect(readings["decode-0"] == .metrics(expected))
        #expect(expected.signals == PodSignals(waiting: 5, running: 5, kvCacheUtilization: 0.5))
        #expect(expected.promptTokens?.count(atLeast: 512) == 6)
        #expect(readings["decode-1"] == .metrics(PodMetrics(signals: PodSignals(waiting: 0, kvCacheUtilization: 0.00001))))
    }

    /// Prometheus writes values as strings: `NaN` and `±Inf` are ignored as `extract` ignores
    /// them in text, so the deprecated KV name fills in for a NaN new one.
    @Test func nanAndInfinityAreReadAndIgnoredAsInText() {
        let answer = Self.success([
            Self.series("vllm:num_requests_waiting", Self.pod("decode-0"), "+Inf"),
            Self.series("vllm:num_requests_running", Self.pod("decode-0"), "-Inf"),
            Self.series("vllm:kv_cache_usage_perc", Self.pod("decode-0"), "NaN"),
            Self.series("vllm:gpu_cache_usage_perc", Self.pod("decode-0"), "0.5"),
            Self.series("vllm:request_prompt_tokens_bucket", Self.pod("decode-0").merging(["le": "+Inf"]) { $1 }, "7"),
            Self.series("sglang:num_queue_reqs", Self.pod("decode-1"), "NaN"),
            Self.series("sglang:num_running_reqs", Self.pod("decode-1"), "4"),
        ])
        let readings = Self.readings(answer)
        #expect(readings["decode-0"] == .metrics(PodMetrics(
            signals: PodSignals(kvCacheUtilization: 0.5),
            promptTokens: CumulativeHistogram(buckets: [.init(upperBound: .infinity, count: 7)]))))
        #expect(readings["decode-1"] == .metrics(PodMetrics(signals: PodSignals(running: 4))))
    }

    @Test func aPodWithNoSeriesFailsAndNamesItself() {
        let readings = Self.readings(Self.success([Self.series("vllm:num_requests_waiting", Self.pod("decode-0"), "1")]))
        #expect(readings["decode-0"] == .metrics(PodMetrics(signals: PodSignals(waiting: 1))))
        let message = readings["decode-1"].flatMap { if case .failed(let text) = $0 { text } else { nil } } ?? ""
        #expect(message.contains("no series for pod serving/decode-1 in Prometheus at \(Self.endpoint)"), "\(message)")
        #expect(message.contains("docs/prometheus-source.md"))
    }

    @Test func anEmptyAnswerFailsEveryPod() {
        let readings = Self.readings(Self.success([]))
        #expect(readings.count == 2)
        for target in Self.targets {
            guard case .failed(let message) = readings[target.pod] else {
                Issue.record("\(target.pod): \(String(describing: readings[target.pod]))")
                continue
            }
            #expect(message.contains("no series for pod serving/\(target.pod)"))
        }
    }

    @Test func seriesOfOtherPodsOrWithoutPodLabelsAreIgnored() {
        var other = Self.pod("decode-0")
        other["namespace"] = "elsewhere"
        var unlabeled = Self.pod("decode-1")
        unlabeled.removeValue(forKey: "pod")
        let readings = Self.readings(Self.success([
            Self.series("vllm:num_requests_waiting", other, "99"),
            Self.series("vllm:num_requests_waiting", unlabeled, "99"),
            Self.series("vllm:num_requests_waiting", Self.pod("decode-00"), "99"),
        ]))
        #expect(readings.values.allSatisfy { if case .failed = $0 { true } else { false } }, "\(readings)")
    }

    @Test func seriesOfAnotherModelLeaveThePodWithoutSignals() {
        var other = Self.pod("decode-0")
        other["model_name"] = "other-model"
        let readings = Self.readings(Self.success([Self.series("vllm:num_requests_waiting", other, "3")]))
        guard case .failed(let message) = readings["decode-0"] else {
            Issue.record("\(String(describing: readings["decode-0"]))")
            return
        }
        #expect(message.contains("none of the vLLM or SGLang load metrics"), "\(message)")
        #expect(message.contains(Self.model))
        #expect(Self.readings(Self.success([Self.series("vllm:num_requests_waiting", other, "3")]), modelName: nil)["decode-0"]
            == .metrics(PodMetrics(signals: PodSignals(waiting: 3))))
    }

    // MARK: - Errors

    @Test func anErrorAnswerFailsEveryPodWithTheServersWords() {
        let answer = Array(#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error"}"#.utf8)
        let readings = Self.readings(answer, status: 400)
        #expect(readings.count == 2)
        for reading in readings.values {
            guard case .failed(let message) = reading else { Issue.record("\(reading)"); continue }
            #expect(message.contains("Prometheus at \(Self.endpoint) refused the query with HTTP 400 (bad_data): invalid parameter \"query\""), "\(message)")
        }
        let timeout = Array(#"{"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"}"#.utf8)
        #expect(Self.readings(timeout, status: 503).values.allSatisfy { "\($0)".contains("HTTP 503 (timeout)") })
    }

    @Test func aBodyThatIsNotTheAPIsJSONFailsEveryPod() {
        for (body, status) in [("<html>502 Bad Gateway</html>", 502), ("", 200), (#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,2]}]}}"#, 200)] {
            let readings = Self.readings(Array(body.utf8), status: status)
            #expect(readings.count == 2)
            for reading in readings.values {
                guard case .failed(let message) = reading else { Issue.record("\(reading)"); continue }
                #expect(message.contains("answered HTTP \(status) with a body that is not the query API's JSON"), "\(message)")
                #expect(message.contains(Self.endpoint))
            }
        }
    }

    @Test func aValueThatIsNotANumberOrAnotherResultTypeFailsEveryPod() {
        let garbage = Self.readings(Self.success([Self.series("vllm:num_requests_waiting", Self.pod("decode-0"), "many")]))
        #expect(garbage.values.allSatisfy { "\($0)".contains("value \\\"many\\\"") || "\($0)".contains("value \"many\"") }, "\(garbage)")
        let matrix = Array(#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#.utf8)
        #expect(Self.readings(matrix).values.allSatisfy { "\($0)".contains("result type") }, "\(Self.readings(matrix))")
        let success500 = Self.readings(Self.success([]), status: 500)
        #expect(success500.values.allSatisfy { "\($0)".contains("HTTP 500") })
    }

    // MARK: - maxAge

    @Test func maxAgeDropsSamplesOlderThanItBeforeTheEvaluationTime() {
        func stamp(_ name: String, _ pod: String, _ time: String) -> String {
            Self.series(nil, Self.pod(pod).merging(["tandem_sample_of": name]) { $1 }, time, at: "1704067230")
        }
        let answer = Self.success([
            Self.series("vllm:num_requests_waiting", Self.pod("decode-0"), "3", at: "1704067230"),
            Self.series("vllm:num_requests_running", Self.pod("decode-0"), "7", at: "1704067230"),
            stamp("vllm:num_requests_waiting", "decode-0", "1704067229.5"),  // 0.5 s old
            stamp("vllm:num_requests_running", "decode-0", "1704067200"),  // 30 s old
            Self.series("vllm:num_requests_waiting", Self.pod("decode-1"), "1", at: "1704067230"),
            stamp("vllm:num_requests_waiting", "decode-1", "1704067215"),  // 15 s old
        ])
        let readings = Self.readings(answer, maxAge: .seconds(10))
        guard case .metrics(let metrics) = readings["decode-0"] else {
            Issue.record("\(String(describing: readings["decode-0"]))")
            return
        }
        #expect(metrics.signals == PodSignals(waiting: 3))
        guard case .failed(let message) = readings["decode-1"] else {
            Issue.record("\(String(describing: readings["decode-1"]))")
            return
        }
        #expect(message.contains("older than maxAge 10.0 seconds (the newest is 15.0 s old)"), "\(message)")
        // Without maxAge the sample times are not needed and the old value counts.
        #expect(Self.readings(answer)["decode-1"] == .metrics(PodMetrics(signals: PodSignals(waiting: 1))))
        // Exactly maxAge old is still fresh.
        #expect(Self.readings(answer, maxAge: .seconds(15))["decode-1"] == .metrics(PodMetrics(signals: PodSignals(waiting: 1))))
    }

    @Test func withMaxAgeAValueWithoutItsSampleTimeIsDropped() {
        let answer = Self.success([Self.series("vllm:num_requests_waiting", Self.pod("decode-0"), "3")])
        guard case .failed(let message) = Self.readings(answer, maxAge: .seconds(10))["decode-0"] else {
            Issue.record("expected a failure")
            return
        }
        #expect(message.contains("none has a sample time"), "\(message)")
    }

    // MARK: - Construction

    @Test func loopbackOnlyRefusesOtherHosts() throws {
        let http = HTTPClient()
        defer { try? http.syncShutdown() }
        for url in ["http://127.0.0.1:9090", "http://127.3.4.5:9090/", "http://localhost:9090/prom", "http://[::1]:9090", "https://LOCALHOST"] {
            #expect(throws: Never.self, "\(url)") { try PrometheusSource(baseURL: url, httpClient: http, allowedHosts: .loopback) }
        }
        for url in ["http://prometheus.monitoring:9090", "http://10.0.0.1:9090", "http://128.0.0.1", "http://127.0.0.1.example.com", "http://1270.0.0.1"] {
            #expect(throws: PrometheusSourceError.self, "\(url)") { try PrometheusSource(baseURL: url, httpClient: http, allowedHosts: .loopback) }
        }
        do {
            _ = try PrometheusSource(baseURL: "http://prometheus.monitoring:9090", httpClient: http, allowedHosts: .loopback)
        } catch {
            #expect("\(error)".contains("names host \"prometheus.monitoring\", which is not loopback"), "\(error)")
        }
        // The default allows any host.
        let any = try PrometheusSource(baseURL: "http://prometheus.monitoring:9090/", httpClient: http)
        #expect(any.baseURL == "http://prometheus.monitoring:9090")
    }

    @Test func malformedBaseURLsAndMaxAgesAreRefused() {
        let http = HTTPClient()
        defer { try? http.syncShutdown() }
        for url in ["", "prometheus:9090", "ftp://127.0.0.1", "http://127.0.0.1:9090/?x=1", "http://127.0.0.1:9090/#top", "http:///path"] {
            #expect(throws: PrometheusSourceError.self, "\(url)") { try PrometheusSource(baseURL: url, httpClient: http) }
        }
        #expect(throws: PrometheusSourceError.self) { try PrometheusSource(baseURL: "http://127.0.0.1", httpClient: http, maxAge: .zero) }
    }

    @Test func noTargetsAskNothing() async throws {
        let http = HTTPClient()
        // Port 1 on loopback: nothing listens, and nothing is asked.
        let source = try PrometheusSource(baseURL: "http://127.0.0.1:1", httpClient: http, allowedHosts: .loopback)
        #expect(await source.read([], modelName: nil).isEmpty)
        try await http.shutdown()
    }
}
