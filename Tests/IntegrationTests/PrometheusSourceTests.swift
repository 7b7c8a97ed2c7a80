import AsyncHTTPClient
import Autoscaling
import Foundation
import KubeClient
import KubeCore
import KubeTestSupport
import Simulation
import Sizing
import TandemOperator
import Testing

#if canImport(Glibc)
import Glibc
#endif

// MARK: - A Prometheus server of the test's own

/// Runs `body` with a `prometheus` process serving on a free port of 127.0.0.1, then stops it
/// (SIGTERM, SIGKILL after 5 s) whether `body` returns or throws.
///
/// The server logs to `prometheus.log` in a temporary folder (never to the test's output); the
/// folder is removed afterwards, except when `body` throws, whose error then names the log.
///
/// - Parameters:
///   - config: The YAML of `--config.file`.
///   - dataDirectory: `--storage.tsdb.path`; a fresh folder when `nil`.
///   - flags: More flags.
///   - body: Gets the server's base URL, `http://127.0.0.1:PORT`.
func withPrometheus<T>(
    config: String, dataDirectory: URL? = nil, flags: [String] = [], _ body: (String) async throws -> T
) async throws -> T {
    guard let binary = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"].first(where: FileManager.default.isExecutableFile)
    else {
        throw TestClusterError("no prometheus binary in /usr/bin or /usr/local/bin: run `make deps` (hack/install-deps.sh installs Debian's prometheus package)")
    }
    let folder = try temporaryFolder()
    let configFile = folder.appendingPathComponent("prometheus.yml")
    try config.write(to: configFile, atomically: true, encoding: .utf8)
    let logFile = folder.appendingPathComponent("prometheus.log")
    let data = dataDirectory ?? folder.appendingPathComponent("data")

    // The port is free when asked for; another process may take it before Prometheus binds,
    // so a failed start is retried on a new port.
    var lastFailure = ""
    for _ in 0..<3 {
        let port = try freeLoopbackPort()
        let arguments = [
            "--config.file=\(configFile.path)", "--storage.tsdb.path=\(data.path)",
            "--web.listen-address=127.0.0.1:\(port)",
        ] + flags
        let server = try LoggedChildProcess(binary, arguments, log: logFile)
        let base = "http://127.0.0.1:\(port)"
        let ready = await waitUntilReady(base, server)
        guard ready else {
            await server.stop()
            lastFailure = (try? String(contentsOf: logFile, encoding: .utf8))?.split(separator: "\n").suffix(10).joined(separator: "\n") ?? ""
            continue
        }
        do {
            let result = try await body(base)
            await server.stop()
            try? FileManager.default.removeItem(at: folder)
            return result
        } catch {
            await server.stop()
            throw TestClusterError("\(error)\n(Prometheus's log: \(logFile.path))")
        }
    }
    throw TestClusterError("prometheus did not become ready on 127.0.0.1 in 3 tries; the end of its log (\(logFile.path)):\n\(lastFailure)")
}

/// Polls `/-/ready` for up to 20 s; `false` when the process exits or the time runs out.
private func waitUntilReady(_ base: String, _ server: LoggedChildProcess) async -> Bool {
    let http = HTTPClient.shared
    let deadline = ContinuousClock.now + .seconds(20)
    while ContinuousClock.now < deadline, server.isRunning {
        if let response = try? await http.execute(HTTPClientRequest(url: base + "/-/ready"), timeout: .seconds(1)),
            response.status == .ok
        {
            return true
        }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return false
}

/// A port of 127.0.0.1 that nothing listens on now.
func freeLoopbackPort() throws -> Int {
    let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socketFD >= 0 else { throw TestClusterError("socket() failed: errno \(errno)") }
    defer { close(socketFD) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
            bind(socketFD, raw, length) == 0 && getsockname(socketFD, raw, &length) == 0
        }
    }
    guard bound else { throw TestClusterError("cannot bind a free port on 127.0.0.1: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A child process writing to a log file, stopped with SIGTERM (then SIGKILL).
final class LoggedChildProcess: Sendable {
    private let process: Process
    private let exited: AsyncStream<Void>

    init(_ executable: String, _ arguments: [String], log: URL) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if !FileManager.default.fileExists(atPath: log.path) {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in
            continuation.yield()
            continuation.finish()
        }
        do {
            try process.run()
        } catch {
            try? handle.close()
            throw TestClusterError("cannot start \(executable): \(error)")
        }
        try? handle.close()
        self.process = process
        self.exited = stream
    }

    var isRunning: Bool { process.isRunning }

    /// SIGTERM, then SIGKILL if it has not exited within 5 s; returns once it has exited.
    func stop() async {
        guard process.isRunning else { return }
        process.terminate()
        let pid = process.processIdentifier
        let killer = Task {
            try await Task.sleep(for: .seconds(5))
            kill(pid, SIGKILL)
        }
        for await _ in exited { break }
        killer.cancel()
    }
}

// MARK: - A recording of model-server scrapes

/// A few model-server pods scraped every 15 s for 3 minutes, as each served `/metrics` (text
/// format 0.0.4 with vLLM's or SGLang's names, like the emulator serves), from a fixed start
/// so every replay is the same.
private enum Recording {
    static let namespace = "serving"
    static let model = "meta-llama/Llama-3.1-8B-Instruct"
    /// 2024-01-01T00:00:00Z: fixed, far from now, so the replayed blocks never meet the head block.
    static let start: Int64 = 1_704_067_200
    static let interval: Int64 = 15
    static let instants = 12
    /// A burst and its end: the load each pod sees at each instant.
    static let load: [Double] = [0, 1, 3, 8, 16, 24, 20, 12, 6, 2, 0, 0]
    static let pods = ["prefill-0", "prefill-1", "prefill-2.v0", "prefill-3", "sglang-0"]
    /// A pod of another namespace with a name of this one's, and a pod the regex `prefill-0`
    /// would match if it were not anchored: neither may leak into the readings.
    static let decoys: [(namespace: String, pod: String)] = [("elsewhere", "prefill-0"), (namespace, "prefill-00")]

    static func time(_ instant: Int) -> Int64 { start + Int64(instant) * interval }

    /// `true` when `pod` was Ready at `instant` (prefill-3 joins at 4 and leaves after 8).
    static func isReady(_ pod: String, at instant: Int) -> Bool {
        pod != "prefill-3" || (4...8).contains(instant)
    }

    /// What `pod` served at `instant`; `nil` when it was not scraped (prefill-1's scrape at
    /// instant 6 failed).
    static func text(_ pod: String, at instant: Int) -> String? {
        guard isReady(pod, at: instant), !(pod == "prefill-1" && instant == 6) else { return nil }
        let l = load[instant]
        var out = ""
        func gauge(_ name: String, _ help: String, _ values: [Double]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) gauge\n"
            for (engine, value) in values.enumerated() {
                out += "\(name){engine=\"\(engine)\",model_name=\"\(model)\"} \(format(value))\n"
            }
        }
        switch pod {
        case "sglang-0":
            // SGLang's names and labels (its metrics collector).
            for (name, value) in [("sglang:num_queue_reqs", l * 0.5), ("sglang:num_running_reqs", l), ("sglang:token_usage", l / 30)] {
                out += "# HELP \(name) \(name)\n# TYPE \(name) gauge\n\(name){model_name=\"\(model)\"} \(format(value))\n"
            }
            return out
        case "prefill-1":
            // Two data-parallel engines share the pod's load.
            let half = (l / 2).rounded(.down)
            gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", [half, l - half])
            gauge("vllm:num_requests_running", "Number of requests in model execution batches.", [min(half * 2, 32), min((l - half) * 2, 32)])
            gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", [min(0.03 * l, 0.99), min(0.05 * l, 0.99)])
        case "prefill-2.v0":
            // An older server: the v1 KV name unusable (NaN), the deprecated one served; once,
            // an infinite queue length that must be ignored.
            gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", [instant == 3 ? .infinity : l + 1])
            gauge("vllm:num_requests_running", "Number of requests in model execution batches.", [min(l * 2, 32)])
            gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", [.nan])
            gauge("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage.", [min(0.02 * l + 0.001, 0.99)])
        default:
            gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", [l])
            gauge("vllm:num_requests_running", "Number of requests in model execution batches.", [min(l * 2, 32)])
            gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", [min(0.04 * l, 0.99)])
        }
        // Noise the autoscaler does not read.
        let finished = load[0...instant].reduce(0, +) * 3
        out += "# HELP vllm:prompt_tokens_total Number of prefill tokens processed.\n# TYPE vllm:prompt_tokens_total counter\n"
        out += "vllm:prompt_tokens_total{engine=\"0\",model_name=\"\(model)\"} \(format(finished * 700))\n"
        // The prompt-length histogram (vLLM's buckets up to the context length).
        let bounds: [Double] = [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384]
        out += "# HELP vllm:request_prompt_tokens Number of prefill tokens processed.\n# TYPE vllm:request_prompt_tokens histogram\n"
        for bound in bounds {
            let count = (finished * min(1, bound / 4096)).rounded(.down)
            out += "vllm:request_prompt_tokens_bucket{engine=\"0\",le=\"\(format(bound))\",model_name=\"\(model)\"} \(format(count))\n"
        }
        out += "vllm:request_prompt_tokens_bucket{engine=\"0\",le=\"+Inf\",model_name=\"\(model)\"} \(format(finished))\n"
        out += "vllm:request_prompt_tokens_sum{engine=\"0\",model_name=\"\(model)\"} \(format(finished * 700))\n"
        out += "vllm:request_prompt_tokens_count{engine=\"0\",model_name=\"\(model)\"} \(format(finished))\n"
        return out
    }

    /// A value as prometheus_client prints it: `3.0`, `0.12`, `NaN`, `+Inf`.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) + ".0" }
        return "\(value)"
    }

    /// Every scrape as Prometheus would have stored it: each sample with the `namespace` and
    /// `pod` labels the scrape configuration adds and the scrape's time, in OpenMetrics text
    /// (samples of one name together, each series in time order, `# EOF` at the end), which
    /// `promtool tsdb create-blocks-from openmetrics` reads.
    static func openMetrics() throws -> String {
        struct Series: Hashable {
            var labels: [String: String]
        }
        var names: [String] = []
        var points: [String: [Series: [(Int64, Double)]]] = [:]
        var seriesOrder: [String: [Series]] = [:]
        func add(_ samples: [PrometheusText.Sample], namespace: String, pod: String, at instant: Int) {
            for sample in samples {
                var labels = sample.labels
                labels["namespace"] = namespace
                labels["pod"] = pod
                let series = Series(labels: labels)
                if points[sample.name] == nil { names.append(sample.name) }
                if points[sample.name, default: [:]][series] == nil { seriesOrder[sample.name, default: []].append(series) }
                points[sample.name, default: [:]][series, default: []].append((time(instant), sample.value))
            }
        }
        for instant in 0..<instants {
            for pod in pods {
                guard let text = text(pod, at: instant) else { continue }
                add(try PrometheusText.parse(text), namespace: namespace, pod: pod, at: instant)
            }
            // The decoys serve prefill-0's text with a huge queue.
            for decoy in decoys {
                let text = try #require(Recording.text("prefill-0", at: instant))
                let loud = try PrometheusText.parse(text).map { sample in
                    var sample = sample
                    if sample.name == "vllm:num_requests_waiting" { sample.value = 999 }
                    return sample
                }
                add(loud, namespace: decoy.namespace, pod: decoy.pod, at: instant)
            }
        }
        var out = ""
        for name in names {
            out += "# TYPE \(name) unknown\n"
            for series in seriesOrder[name] ?? [] {
                let labels = series.labels.sorted { $0.key < $1.key }
                    .map { "\($0.key)=\"\(escape($0.value))\"" }.joined(separator: ",")
                for (time, value) in points[name]?[series] ?? [] {
                    out += "\(name){\(labels)} \(format(value)) \(time)\n"
                }
            }
        }
        return out + "# EOF\n"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: #"\\"#).replacingOccurrences(of: "\"", with: #"\""#)
            .replacingOccurrences(of: "\n", with: #"\n"#)
    }
}

fileprivate extension PodReading {
    /// The metrics, or `nil` when the pod could not be read.
    var metrics: PodMetrics? {
        if case .metrics(let metrics) = self { return metrics }
        return nil
    }

    var failure: String? {
        if case .failed(let message) = self { return message }
        return nil
    }
}

/// What the autoscaler decides for a tier whose pods read `readings`.
private func decide(_ recommender: inout TierRecommender, _ readings: [String: PodReading], current: Int, at instant: Int) -> Recommendation {
    let pods = readings.keys.sorted().compactMap { readings[$0]?.metrics?.signals }
    let input = RecommendationInput(
        currentReplicas: current, readyReplicas: readings.count, pods: pods,
        targets: ScalingTargets(waitingRequestsPerReplica: 4, kvCacheUtilization: 0.8),
        minReplicas: 1, maxReplicas: 16)
    return recommender.recommend(input, now: .seconds(Recording.time(instant) - Recording.start))
}

// MARK: - Tests

@Suite("PrometheusSource against a real Prometheus")
struct PrometheusSourceTests {
    /// Recorded scrapes, backfilled into a TSDB with promtool, then read back at each recorded
    /// instant: the same `PodMetrics` as parsing the recorded text, and the same decisions.
    @Test func replayedScrapesGiveTheSameMetricsAndDecisionsAsTheRecordedText() async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let recording = folder.appendingPathComponent("scrapes.om")
        try Recording.openMetrics().write(to: recording, atomically: true, encoding: .utf8)
        let data = folder.appendingPathComponent("data")
        let created = try await Script.exec(["promtool", "tsdb", "create-blocks-from", "openmetrics", recording.path, data.path])
        try #require(created.status == 0, "promtool could not backfill the recording:\n\(created.output)")

        // The process-wide client: nothing to shut down.
        let http = HTTPClient.shared
        // Nothing to scrape; a long retention keeps the 2024 blocks.
        try await withPrometheus(
            config: "global:\n  scrape_interval: 15s\n", dataDirectory: data,
            flags: ["--storage.tsdb.retention.time=30y", "--query.lookback-delta=5m"]
        ) { base in
            var direct = TierRecommender()
            var replayed = TierRecommender()
            var directReplicas = 4
            var replayedReplicas = 4
            var decisions: [Int] = []
            for instant in 0..<Recording.instants {
                let at = Date(timeIntervalSince1970: TimeInterval(Recording.time(instant)))
                let targets = Recording.pods.filter { Recording.isReady($0, at: instant) }
                    .map { ScrapeTarget(namespace: Recording.namespace, pod: $0, address: "127.0.0.1:1") }
                // What DirectScraper makes of the recorded text.
                var expected: [String: PodReading] = [:]
                for target in targets {
                    if let text = Recording.text(target.pod, at: instant) {
                        let metrics = PodMetrics.extract(from: try PrometheusText.parse(text), modelName: Recording.model)
                        expected[target.pod] = .metrics(metrics)
                    } else {
                        expected[target.pod] = .failed("scrape failed")
                    }
                }
                // maxAge below the scrape interval: exactly what was scraped at this instant.
                let fresh = try PrometheusSource(
                    baseURL: base, httpClient: http, maxAge: .seconds(10), evaluationTime: { at }, allowedHosts: .loopback)
                let freshReadings = await fresh.read(targets, modelName: Recording.model)
                // Without maxAge: the instant query's 5-minute lookback.
                let plain = try PrometheusSource(baseURL: base, httpClient: http, evaluationTime: { at }, allowedHosts: .loopback)
                let plainReadings = await plain.read(targets, modelName: Recording.model)

                #expect(Set(freshReadings.keys) == Set(expected.keys))
                for target in targets {
                    let want = expected[target.pod]?.metrics
                    let got = freshReadings[target.pod]
                    #expect(got?.metrics == want, "instant \(instant), \(target.pod): \(String(describing: got)) ≠ \(String(describing: want))")
                    if want == nil {
                        #expect(got?.failure?.contains("older than maxAge") == true, "\(String(describing: got))")
                        // Backfilled data has no staleness markers (a live Prometheus would have
                        // written one for the failed scrape), so the lookback serves the last value.
                        let previous = try #require(Recording.text(target.pod, at: instant - 1))
                        #expect(plainReadings[target.pod]?.metrics
                            == PodMetrics.extract(from: try PrometheusText.parse(previous), modelName: Recording.model))
                    } else {
                        #expect(plainReadings[target.pod]?.metrics == want, "instant \(instant), \(target.pod) without maxAge")
                    }
                }

                let fromText = decide(&direct, expected, current: directReplicas, at: instant)
                let fromPrometheus = decide(&replayed, freshReadings, current: replayedReplicas, at: instant)
                #expect(fromText == fromPrometheus, "instant \(instant): \(fromText.reason) ≠ \(fromPrometheus.reason)")
                directReplicas = fromText.replicas
                replayedReplicas = fromPrometheus.replicas
                decisions.append(fromText.replicas)
            }
            // The burst moved the tier, so the comparison above compared real decisions.
            #expect(Set(decisions).count > 1, "the recording never moved the tier: \(decisions)")

            // prefill-3 left after instant 8: within the lookback Prometheus still has it, and
            // maxAge is what tells it is gone.
            let after = Date(timeIntervalSince1970: TimeInterval(Recording.time(10)))
            let gone = [ScrapeTarget(namespace: Recording.namespace, pod: "prefill-3", address: "127.0.0.1:1")]
            let stale = try PrometheusSource(
                baseURL: base, httpClient: http, maxAge: .seconds(10), evaluationTime: { after }, allowedHosts: .loopback)
            let staleReading = await stale.read(gone, modelName: Recording.model)["prefill-3"]
            #expect(staleReading?.failure?.contains("older than maxAge") == true, "\(String(describing: staleReading))")
            let lookback = try PrometheusSource(baseURL: base, httpClient: http, evaluationTime: { after }, allowedHosts: .loopback)
            #expect(await lookback.read(gone, modelName: Recording.model)["prefill-3"]?.metrics != nil)

            // A pod Prometheus never saw, and a time before the recording.
            let unknown = await lookback.read(
                [ScrapeTarget(namespace: Recording.namespace, pod: "prefill-9", address: "127.0.0.1:1")], modelName: nil)
            #expect(unknown["prefill-9"]?.failure?.contains("no series for pod serving/prefill-9") == true)
            let before = Date(timeIntervalSince1970: TimeInterval(Recording.start - 3600))
            let early = try PrometheusSource(baseURL: base, httpClient: http, evaluationTime: { before }, allowedHosts: .loopback)
            let earlyReading = await early.read(
                [ScrapeTarget(namespace: Recording.namespace, pod: "prefill-0", address: "127.0.0.1:1")], modelName: nil)
            #expect(earlyReading["prefill-0"]?.failure?.contains("no series") == true)
        }
    }

    /// Prometheus scraping emulated model-server pods of the test cluster every second, with the
    /// relabeling docs/prometheus-source.md gives: the source reads what the pods serve.
    ///
    /// Debian's prometheus is built without `kubernetes_sd_configs` (Debian removed Kubernetes
    /// discovery for its client library's dependencies; /usr/share/doc/prometheus/NEWS.Debian.gz,
    /// 1.5.0+ds-1), so the test plays the discovery: it lists the pods through the API server and
    /// writes, for every container port, a `file_sd_configs` target with the `__meta_kubernetes_*`
    /// labels `role: pod` discovery would give it. The relabeling under test is the documented one.
    @Test func liveScrapesOfEmulatedPodsMatchWhatThePodsServe() async throws {
        let cluster = try await TestCluster.shared()
        let accelerator = try #require(AcceleratorCatalog.builtIn.accelerator(named: "amd-mi325x"))
        // A node of this test's own; the pods are bound to it by name, so no other test's pods
        // land on it and these land nowhere else. It is deleted at the end.
        let node = EmulatedNode(name: "prom-\(UUID().uuidString.prefix(8).lowercased())", accelerator: accelerator, devices: 8)
        // The process-wide client: nothing to shut down.
        let http = HTTPClient.shared
        var stoppedBase: String?
        do {
            try await withNodeAgent(cluster, [node], startupDelay: .fixed(.milliseconds(200))) { _, _, _ in
                try await cluster.withNamespace("prom") { admin, namespace in
                    let names = ["decode-0", "decode-1"]
                    for name in names {
                        var spec = try modelServerPodSpec(accelerator)
                        spec.nodeName = node.name
                        // A second port, which the relabeling must not scrape.
                        spec.containers?[0].ports?.append(ContainerPort(name: "http", containerPort: 8001))
                        _ = try await admin.resources(Pod.self, namespace: namespace).create(
                            Pod(metadata: ObjectMeta(name: name, labels: ["llm-d.ai/role": "decode"]), spec: spec))
                    }
                    let pods = try await eventually("both pods Running with an IP") { () -> [Pod]? in
                        let listed = try await admin.resources(Pod.self, namespace: namespace).list().items
                            .filter { $0.status?.phase == "Running" && $0.status?.podIP != nil }
                        return listed.count == names.count ? listed : nil
                    }
                    let folder = try temporaryFolder()
                    defer { try? FileManager.default.removeItem(at: folder) }
                    let targetsFile = folder.appendingPathComponent("pods.json")
                    try Self.discoveredTargets(pods).write(to: targetsFile, atomically: true, encoding: .utf8)

                    try await withPrometheus(config: Self.scrapeConfig(targetsFile: targetsFile.path)) { base in
                        stoppedBase = base
                        let source = try PrometheusSource(
                            baseURL: base, httpClient: http, maxAge: .seconds(5), allowedHosts: .loopback)
                        let targets = pods.map {
                            ScrapeTarget(namespace: namespace, pod: $0.metadata.name ?? "", address: "\($0.status?.podIP ?? ""):8000")
                        }
                        let readings = try await eventually("Prometheus has both pods' series") { () -> [String: PodReading]? in
                            let readings = await source.read(targets, modelName: Recording.model)
                            return readings.count == 2 && readings.values.allSatisfy { $0.metrics != nil } ? readings : nil
                        }
                        // No load is sent, so what the pods serve stays put.
                        for target in targets {
                            let response = try await http.execute(HTTPClientRequest(url: "http://\(target.address)/metrics"), timeout: .seconds(30))
                            let text = String(buffer: try await response.body.collect(upTo: 4 << 20))
                            let direct = PodMetrics.extract(from: try PrometheusText.parse(text), modelName: Recording.model)
                            #expect(!direct.signals.isEmpty)
                            #expect(readings[target.pod]?.metrics == direct, "\(target.pod): Prometheus \(String(describing: readings[target.pod])) ≠ pod \(direct)")
                        }
                        // One scrape target per pod: the port named metrics, not the other one.
                        let up = try await Self.instantQuery(base, "up{namespace=\"\(namespace)\"}")
                        #expect(up.count == 2, "targets kept: \(up)")
                        #expect(up.allSatisfy { $0.contains(":8000") }, "\(up)")
                        // A pod Prometheus does not scrape.
                        let missing = await source.read([ScrapeTarget(namespace: namespace, pod: "decode-9", address: "127.0.0.1:1")], modelName: nil)
                        #expect(missing["decode-9"]?.failure?.contains("no series for pod \(namespace)/decode-9") == true)
                    }
                    // The server is gone: every target fails, naming the URL (refused, or timed out
                    // while a loaded machine still holds the stopping process's socket).
                    let base = try #require(stoppedBase)
                    let down = try PrometheusSource(baseURL: base, httpClient: http, allowedHosts: .loopback)
                    let readings = await down.read(names.map { ScrapeTarget(namespace: namespace, pod: $0, address: "") }, modelName: nil)
                    #expect(readings.count == 2)
                    #expect(readings.values.allSatisfy { $0.failure?.contains("Prometheus at \(base)/api/v1/query") == true }, "\(readings)")
                }
            }
        } catch {
            await Self.deleteNode(cluster, node.name)
            throw error
        }
        await Self.deleteNode(cluster, node.name)
    }

    /// What `kubernetes_sd_configs` with `role: pod` discovers for `pods`: one target per
    /// container port, `<pod IP>:<port>`, with the pod's `__meta_kubernetes_*` labels, as
    /// `file_sd_configs` JSON.
    static func discoveredTargets(_ pods: [Pod]) throws -> String {
        var groups: [JSONValue] = []
        for pod in pods {
            guard let ip = pod.status?.podIP else { continue }
            for container in pod.spec?.containers ?? [] {
                for port in container.ports ?? [] {
                    guard let number = port.containerPort else { continue }
                    let labels: [String: String] = [
                        "__meta_kubernetes_namespace": pod.metadata.namespace ?? "",
                        "__meta_kubernetes_pod_name": pod.metadata.name ?? "",
                        "__meta_kubernetes_pod_ip": ip,
                        "__meta_kubernetes_pod_container_name": container.name ?? "",
                        "__meta_kubernetes_pod_container_port_name": port.name ?? "",
                        "__meta_kubernetes_pod_container_port_number": String(number),
                        "__meta_kubernetes_pod_phase": pod.status?.phase ?? "",
                    ]
                    let target: JSONValue = .string("\(ip):\(number)")
                    groups.append(.object(["targets": .array([target]), "labels": .object(labels.mapValues(JSONValue.string))]))
                }
            }
        }
        return String(decoding: try KubeJSON.encode(JSONValue.array(groups)), as: UTF8.self)
    }

    /// Scrape every second; the relabeling of docs/prometheus-source.md, on targets read from
    /// `targetsFile` instead of the API server.
    static func scrapeConfig(targetsFile: String) -> String {
        """
        global:
          scrape_interval: 1s
          scrape_timeout: 1s
        scrape_configs:
          - job_name: model-servers
            file_sd_configs:
              - files: [\(targetsFile)]
            relabel_configs:
              - source_labels: [__meta_kubernetes_pod_container_port_name]
                regex: metrics
                action: keep
              - source_labels: [__meta_kubernetes_pod_phase]
                regex: Running
                action: keep
              - source_labels: [__meta_kubernetes_namespace]
                target_label: namespace
              - source_labels: [__meta_kubernetes_pod_name]
                target_label: pod

        """
    }

    /// The `instance` label of each series an instant query returns.
    static func instantQuery(_ base: String, _ query: String) async throws -> [String] {
        let url = base + "/api/v1/query?query=" + (query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept-Encoding", value: "identity")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        let answer = try KubeJSON.decode(JSONValue.self, from: Data(body.readableBytesView))
        return (answer["data"]?["result"]?.arrayValue ?? []).map { $0["metric"]?["instance"]?.stringValue ?? "" }
    }

    static func deleteNode(_ cluster: TestCluster, _ name: String) async {
        guard let client = try? cluster.adminClient() else { return }
        _ = try? await client.resources(Node.self).delete(name)
        try? await client.shutdown()
    }
}
