import AsyncHTTPClient
import Autoscaling
import Foundation
import KubeCore
import NIOCore

/// Reads each pod's `/metrics` itself, the way Prometheus would scrape it.
///
/// Pods are read in parallel, at most ``maxConcurrent`` at a time, each within ``timeout``;
/// a pool of hundreds of pods therefore spreads its scrapes over several waves instead of
/// opening hundreds of connections at once. An answer larger than ``maxBytes`` is refused.
public struct DirectScraper: SignalSource {
    let http: HTTPClient
    /// The longest one pod may take to answer.
    public var timeout: Duration
    /// Scrapes in flight at once, across one call.
    public var maxConcurrent: Int
    /// The largest `/metrics` answer accepted; vLLM's is a few tens of kB.
    public var maxBytes: Int

    /// A scraper on `http`.
    ///
    /// - Parameter timeout: 2 s by default: well inside the 5 s scrape interval, as Prometheus
    ///   requires `scrape_timeout` ≤ `scrape_interval`.
    public init(http: HTTPClient, timeout: Duration = .seconds(2), maxConcurrent: Int = 16, maxBytes: Int = 4 << 20) {
        self.http = http
        self.timeout = timeout
        self.maxConcurrent = max(1, maxConcurrent)
        self.maxBytes = maxBytes
    }

    /// A scraper with an HTTP client of its own; call ``shutdown()`` when done.
    public static func standalone(timeout: Duration = .seconds(2), maxConcurrent: Int = 16) -> DirectScraper {
        let http = HTTPClient(
            eventLoopGroup: HTTPClient.defaultEventLoopGroup,
            configuration: HTTPClient.Configuration(
                timeout: .init(connect: TimeAmount(timeout)),
                connectionPool: .init(idleTimeout: .seconds(60))))
        return DirectScraper(http: http, timeout: timeout, maxConcurrent: maxConcurrent)
    }

    /// Shuts the HTTP client down.
    public func shutdown() async throws {
        try await http.shutdown()
    }

    public func read(_ targets: [ScrapeTarget], modelName: String?) async -> [String: PodReading] {
        await withTaskGroup(of: (String, PodReading).self) { group in
            var answers: [String: PodReading] = [:]
            var pending = targets[...]
            func startNext() {
                guard let target = pending.popFirst() else { return }
                group.addTask { (target.pod, await scrape(target, modelName: modelName)) }
            }
            for _ in 0..<min(maxConcurrent, targets.count) { startNext() }
            for await (pod, reading) in group {
                answers[pod] = reading
                startNext()
            }
            return answers
        }
    }

    func scrape(_ target: ScrapeTarget, modelName: String?) async -> PodReading {
        let url = "http://\(target.address)/metrics"
        do {
            var request = HTTPClientRequest(url: url)
            request.headers.add(name: "Accept", value: "text/plain;version=0.0.4")
            let response = try await http.execute(request, timeout: TimeAmount(timeout))
            guard response.status == .ok else {
                return .failed("\(target.namespace)/\(target.pod): GET \(url) answered \(response.status.code)")
            }
            let body = try await response.body.collect(upTo: maxBytes)
            let text = String(decoding: body.readableBytesView, as: UTF8.self)
            let samples = try PrometheusText.parse(text)
            let metrics = PodMetrics.extract(from: samples, modelName: modelName)
            guard !metrics.signals.isEmpty else {
                return .failed("\(target.namespace)/\(target.pod): \(url) has none of the vLLM or SGLang load metrics")
            }
            return .metrics(metrics)
        } catch let error as PrometheusParseError {
            return .failed("\(target.namespace)/\(target.pod): \(url) is not Prometheus text (\(error))")
        } catch {
            return .failed("\(target.namespace)/\(target.pod): GET \(url) failed: \(error)")
        }
    }
}

/// A signal source with the HTTP client it owns, as `tandem operator` builds it from its flags.
public struct OwnedSignalSource: Sendable {
    public let source: any SignalSource
    let http: HTTPClient

    /// Pods are scraped directly unless `prometheusURL` names a Prometheus server to query.
    ///
    /// - Parameter maxAge: with Prometheus, samples older than this are ignored (its own 5-minute
    ///   lookback would otherwise keep a vanished pod's last values).
    public init(prometheusURL: String?, timeout: Duration, maxAge: Duration) throws {
        let scraper = DirectScraper.standalone(timeout: timeout)
        http = scraper.http
        if let prometheusURL {
            source = try PrometheusSource(baseURL: prometheusURL, httpClient: http, timeout: timeout, maxAge: maxAge)
        } else {
            source = scraper
        }
    }

    /// Shuts the HTTP client down.
    public func shutdown() async throws {
        try await http.shutdown()
    }
}
