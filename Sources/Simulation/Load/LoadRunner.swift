import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization
import KubeCore

/// What a load run measured.
public struct LoadReport: Sendable {
    public var sent = 0
    public var succeeded = 0
    public var failed = 0
    /// Seconds to the first streamed token, per successful request.
    public var timeToFirstToken: [Double] = []
    /// Seconds per output token after the first, per request with at least two tokens.
    public var timePerOutputToken: [Double] = []
    public var elapsed: Duration = .zero
    public var firstError: String?

    /// A few lines for people: counts, then p50/p90/p99 of TTFT and TPOT in milliseconds.
    public func summary() -> String {
        func line(_ name: String, _ values: [Double]) -> String {
            let p = Percentiles.of(values, [50, 90, 99]).map { String(format: "%.1f", $0 * 1000) }
            return "\(name) ms  p50 \(p[0])  p90 \(p[1])  p99 \(p[2])  (n=\(values.count))"
        }
        var text = "requests: \(sent) sent, \(succeeded) succeeded, \(failed) failed in \(elapsed)\n"
        text += line("TTFT", timeToFirstToken) + "\n" + line("TPOT", timePerOutputToken)
        if let firstError { text += "\nfirst error: \(firstError)" }
        return text
    }
}

/// Sends OpenAI streaming completions on a schedule to model servers on loopback addresses and
/// measures TTFT and TPOT from the Server-Sent Events. Bounded by the plan: it stops by itself.
public enum LoadRunner {
    /// - Parameters:
    ///   - targets: base URLs (`http://127.0.0.5:8000`), used round-robin. Only 127.0.0.0/8.
    ///   - maxInFlight: requests open at once; later arrivals wait (and count their wait).
    public static func run(
        targets: [String], model: String, plan: [PlannedRequest], maxInFlight: Int = 512,
        requestTimeout: Duration = .seconds(600)
    ) async throws -> LoadReport {
        guard !targets.isEmpty else { throw LoadError("no targets: the pool has no ready decode pods") }
        for target in targets where !target.hasPrefix("http://127.") {
            throw LoadError("refusing \(target): load goes to loopback addresses (127.0.0.0/8) only")
        }
        // One connection per request in flight: the default of 8 per host would queue requests
        // in the client, where no server metric sees them.
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                              configuration: .init(timeout: .init(connect: .seconds(5)),
                                                   connectionPool: .init(idleTimeout: .seconds(60),
                                                                         concurrentHTTP1ConnectionsPerHostSoftLimit: maxInFlight)))
        let report = ReportBox()
        let start = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for (index, request) in plan.enumerated() {
                // Cancelled: stop sending (the requests in flight are cancelled with the group).
                guard (try? await Task.sleep(until: start + request.at, clock: .continuous)) != nil, !Task.isCancelled else {
                    group.cancelAll()
                    break
                }
                if inFlight >= maxInFlight {
                    await group.next()
                    inFlight -= 1
                }
                inFlight += 1
                let target = targets[index % targets.count]
                group.addTask {
                    let outcome = await send(http: http, target: target, model: model, request: request, index: index,
                                             timeout: requestTimeout)
                    report.value.withLock { report in
                        report.sent += 1
                        switch outcome {
                        case .success(let timing):
                            report.succeeded += 1
                            report.timeToFirstToken.append(timing.ttft)
                            if let tpot = timing.tpot { report.timePerOutputToken.append(tpot) }
                        case .failure(let error):
                            report.failed += 1
                            if report.firstError == nil { report.firstError = "\(error)" }
                        }
                    }
                }
            }
        }
        try await http.shutdown()
        return report.value.withLock { report in
            report.elapsed = .now - start
            return report
        }
    }

    final class ReportBox: Sendable {
        let value = Mutex(LoadReport())
    }

    struct Timing: Sendable {
        var ttft: Double
        var tpot: Double?
    }

    /// Sends one request. Its prompt starts with a word of its own (`r<index>`), so no two
    /// prompts share a prefix: a load of identical prompts would be served from the prefix cache
    /// and never reach a prefill tier.
    static func send(http: HTTPClient, target: String, model: String, request: PlannedRequest, index: Int, timeout: Duration)
        async -> Result<Timing, LoadError>
    {
        var call = HTTPClientRequest(url: target + "/v1/completions")
        call.method = .POST
        call.headers.add(name: "Content-Type", value: "application/json")
        let prompt = (["r\(index)"] + Array(repeating: "w", count: max(0, request.promptTokens - 1))).joined(separator: " ")
        call.body = .bytes(ByteBuffer(string:
            #"{"model":"\#(model)","prompt":"\#(prompt)","max_tokens":\#(request.outputTokens),"stream":true,"ignore_eos":true}"#))
        let began = ContinuousClock.now
        do {
            let response = try await http.execute(call, timeout: .seconds(timeout.components.seconds))
            guard response.status == .ok else {
                return .failure(LoadError("\(target) answered \(response.status.code)"))
            }
            var first: ContinuousClock.Instant?
            var tokens = 0
            var pending = ""
            for try await chunk in response.body {
                pending += String(buffer: chunk)
                while let end = pending.range(of: "\n\n") {
                    let event = pending[..<end.lowerBound]
                    pending = String(pending[end.upperBound...])
                    guard event.hasPrefix("data: "), !event.hasSuffix("[DONE]") else { continue }
                    if event.contains(#""text":"tok""#) || event.contains(#""text":" tok""#) {
                        tokens += 1
                        if first == nil { first = .now }
                    }
                }
            }
            guard let first else { return .failure(LoadError("\(target) streamed no token")) }
            let ttft = (first - began).inSeconds
            let total = (ContinuousClock.now - began).inSeconds
            return .success(Timing(ttft: ttft, tpot: tokens > 1 ? (total - ttft) / Double(tokens - 1) : nil))
        } catch {
            return .failure(LoadError("\(target): \(error)"))
        }
    }
}

/// Why a load run could not proceed.
public struct LoadError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
