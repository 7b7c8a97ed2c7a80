import AsyncHTTPClient
import Autoscaling
import Foundation
import KubeCore
import NIOCore

/// Reads each pod's `/metrics` itself, the way Prometheus would scrape it.
///
/// Pods are read in parallel, at most ``maxConcurrent`` at a time, each within ``timeout``
/// overall (connect, response head **and** body: a pod that sends its headers and then stalls
/// fails after `timeout`, see ``OverallDeadline``); a pool of hundreds of pods therefore spreads
/// its scrapes over several waves instead of opening hundreds of connections at once. An answer
/// larger than ``maxBytes`` is refused.
public struct DirectScraper: SignalSource {
    let http: HTTPClient
    /// The longest one scrape may take, from connecting to the last byte of the body.
    public var timeout: Duration
    /// Scrapes in flight at once, across one call.
    public var maxConcurrent: Int
    /// The largest `/metrics` answer accepted; vLLM's is a few tens of kB.
    public var maxBytes: Int

    /// A scraper on `http`.
    ///
    /// - Parameter timeout: 2 s by default: well inside the autoscaler's 5 s interval, as
    ///   Prometheus requires `scrape_timeout` ≤ `scrape_interval` (its defaults are 10 s and
    ///   1 min); vLLM renders `/metrics` in milliseconds, so 2 s only fails a pod in trouble.
    ///   Scrapes run off the reconcile workers (``MetricsSampler``): the deadline bounds how
    ///   stale a pool's sample may get, not how long a reconcile waits.
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
                // The read timeout (idle between bytes) is a backstop; the overall deadline of
                // each scrape (OverallDeadline) is what bounds a stalled body.
                timeout: .init(connect: TimeAmount(timeout), read: TimeAmount(timeout)),
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
        let (http, timeout, maxBytes) = (self.http, self.timeout, self.maxBytes)
        do {
            // One deadline over the whole exchange: `execute(_:timeout:)` alone stops covering
            // the request once the response head arrived (AsyncHTTPClient cancels its deadline
            // task then), so a body that stalls would hang the scrape for ever.
            let answer = try await OverallDeadline.run(within: timeout) { () -> (status: UInt, body: ByteBuffer?) in
                var request = HTTPClientRequest(url: url)
                request.headers.add(name: "Accept", value: "text/plain;version=0.0.4")
                let response = try await http.execute(request, timeout: TimeAmount(OverallDeadline.headDeadline(within: timeout)))
                guard response.status == .ok else { return (response.status.code, nil) }
                return (response.status.code, try await response.body.collect(upTo: maxBytes))
            }
            guard let body = answer.body else {
                return .failed("\(target.namespace)/\(target.pod): GET \(url) answered \(answer.status)")
            }
            let text = String(decoding: body.readableBytesView, as: UTF8.self)
            let samples = try PrometheusText.parse(text)
            let metrics = PodMetrics.extract(from: samples, modelName: modelName)
            guard !metrics.signals.isEmpty else {
                return .failed("\(target.namespace)/\(target.pod): \(url) has none of the vLLM or SGLang load metrics")
            }
            return .metrics(metrics)
        } catch let error as PrometheusParseError {
            return .failed("\(target.namespace)/\(target.pod): \(url) is not Prometheus text (\(error))")
        } catch is OverallDeadline.Exceeded {
            return .failed("\(target.namespace)/\(target.pod): GET \(url) timed out after \(OverallDeadline.format(timeout)) (no complete answer); check the pod's model server")
        } catch let error as HTTPClientError where [.deadlineExceeded, .readTimeout, .connectTimeout].contains(error) {
            return .failed("\(target.namespace)/\(target.pod): GET \(url) timed out after \(OverallDeadline.format(timeout)) (\(error)); check the pod's model server")
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
