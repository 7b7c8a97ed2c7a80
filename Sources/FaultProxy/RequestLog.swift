import Foundation
import Synchronization

/// The HTTP version a client connection negotiated (by ALPN) with the proxy.
public enum NegotiatedProtocol: String, Sendable, Hashable {
    case http2 = "h2"
    case http1 = "http/1.1"
}

/// One request the proxy received, as the chaos invariants read it.
public struct ProxyRecord: Sendable, CustomStringConvertible {
    public var request: RequestInfo
    /// `User-Agent` as sent.
    public var userAgent: String?
    /// The protocol of the client connection that carried it.
    public var negotiated: NegotiatedProtocol
    /// When the proxy received the request head (wall clock, for logs; and monotonic, for
    /// comparing with other instants of this process).
    public var receivedAt: Date
    public var received: ContinuousClock.Instant
    /// When the client's bytes that completed the request reached the proxy: `received`, or, for
    /// bytes a connection-layer fault held, when they arrived before the hold (an upper bound on
    /// when the client sent it). The chaos invariants about *sending* read this.
    public var arrived: ContinuousClock.Instant
    /// When the request was sent upstream (after any latency or blackhole); nil if never.
    public var forwarded: ContinuousClock.Instant?
    /// The status the client got: the API server's, or the proxy's own for a refused request;
    /// nil while none was sent or when the connection was reset.
    public var status: Int?
    /// The faults applied to it (`blackhole`, `latency(…)`, `429…`, `reset`, …).
    public var faults: [String]
    /// When the proxy finished with it (response ended, or aborted).
    public var finished: ContinuousClock.Instant?
    /// Why it ended without a complete response, if it did (client went away, upstream error).
    public var failure: String?

    public var identity: String? { request.identity }
    public var method: String { request.method }
    public var path: String { request.path }
    public var isWatch: Bool { request.isWatch }
    public var isMutating: Bool { request.isMutating }

    public var description: String {
        "#\(request.sequence) c\(request.connection) \(negotiated.rawValue) \(identity ?? "-") \(method) \(path)"
            + (request.query.isEmpty ? "" : "?\(request.query)")
            + " → \(status.map(String.init) ?? "-")" + (faults.isEmpty ? "" : " [\(faults.joined(separator: ", "))]")
            + (failure.map { " (\($0))" } ?? "")
    }
}

/// The proxy's record of every request, thread-safe.
final class RequestLog: Sendable {
    private let entries = Mutex<[ProxyRecord]>([])

    func append(_ record: ProxyRecord) {
        entries.withLock { $0.append(record) }
    }

    func update(_ sequence: Int, _ change: (inout ProxyRecord) -> Void) {
        entries.withLock { list in
            // Sequence numbers are appended in order; search from the end (recent requests).
            if let index = list.lastIndex(where: { $0.request.sequence == sequence }) { change(&list[index]) }
        }
    }

    var all: [ProxyRecord] { entries.withLock { $0 } }

    func removeAll() { entries.withLock { $0.removeAll() } }
}
