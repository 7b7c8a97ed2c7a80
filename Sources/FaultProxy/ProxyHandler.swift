import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Receives one request at a time (an HTTP/2 stream, or an HTTP/1.1 connection's requests in
/// turn) after TLS termination, and hands it to a task that applies the request-layer faults
/// and forwards it.
final class ProxyHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let core: ProxyCore
    private let connection: ConnectionState
    private let negotiated: NegotiatedProtocol
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var task: Task<Void, Never>?

    init(core: ProxyCore, connection: ConnectionState, negotiated: NegotiatedProtocol) {
        self.core = core
        self.connection = connection
        self.negotiated = negotiated
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = nil
        case .body(var chunk):
            if body == nil { body = chunk } else { body!.writeBuffer(&chunk) }
        case .end:
            guard let head else { return }
            self.head = nil
            let info = core.admit(head, on: connection, negotiated: negotiated)
            let exchange = Exchange(core: core, channel: context.channel, connection: connection.id, negotiated: negotiated,
                                    head: head, body: body ?? ByteBuffer(), info: info)
            body = nil
            task = Task { await exchange.run() }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        task?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        task?.cancel()
        context.close(promise: nil)
    }
}

/// One request's trip through the proxy.
struct Exchange: Sendable {
    let core: ProxyCore
    let channel: any Channel
    let connection: Int
    let negotiated: NegotiatedProtocol
    let head: HTTPRequestHead
    let body: ByteBuffer
    let info: RequestInfo

    /// Headers that belong to one hop (RFC 9110 §7.6.1) or that the client library sets itself.
    static let hopByHop: Set<String> = [
        "connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
        "proxy-authorization", "proxy-authenticate", "host", "content-length",
    ]

    private func note(_ change: (inout ProxyRecord) -> Void) { core.log.update(info.sequence, change) }

    private func noteFault(_ fault: String) {
        note { record in if !record.faults.contains(fault) { record.faults.append(fault) } }
    }

    func run() async {
        switch core.verdict(for: info) {
        case .reset(let rule):
            noteFault("reset")
            note { $0.failure = "connection reset by \(rule)"; $0.finished = .now }
            core.abort(connection: connection)
            return
        case .refuse(let code, let retryAfter, _):
            noteFault(code == 429 ? "429" : "503")
            await refuse(code: code, retryAfterSeconds: retryAfter)
            return
        case .forward:
            break
        }
        let arrived = ContinuousClock.now
        guard await gate(arrivedAt: arrived) else {
            note { $0.failure = "client went away while the request was held"; $0.finished = .now }
            return
        }
        note { $0.forwarded = .now }
        await forward()
    }

    /// Waits while a blackhole holds this request and until `arrivedAt + latency`; false when
    /// the task was cancelled (the client went away).
    private func gate(arrivedAt: ContinuousClock.Instant) async -> Bool {
        while !Task.isCancelled {
            let shaping = core.shaping(request: info)
            if shaping.held {
                noteFault("blackhole")
                await core.waitForChange(after: shaping.generation)
                continue
            }
            let due = arrivedAt + shaping.latency
            if shaping.latency > .zero { noteFault("latency(\(shaping.latency))") }
            if ContinuousClock.now < due {
                do { try await Task.sleep(until: due, clock: .continuous) } catch { return false }
                continue
            }
            return true
        }
        return false
    }

    private func refuse(code: Int, retryAfterSeconds: Int?) async {
        let message = code == 429
            ? "the fault proxy refused this request (429 fault injected); retry after \(retryAfterSeconds ?? 1)s"
            : "the fault proxy refused this request (503 fault injected)"
        let bytes = KubeStatus.body(code: code, message: message, retryAfterSeconds: retryAfterSeconds)
        var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "\(bytes.count)")])
        if let retryAfterSeconds { headers.add(name: "Retry-After", value: "\(retryAfterSeconds)") }
        let response = HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: code), headers: headers)
        do {
            try await channel.writeAndFlush(HTTPServerResponsePart.head(response)).get()
            try await channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: bytes)))).get()
            try await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
            note { $0.status = code; $0.finished = .now }
        } catch {
            note { $0.status = code; $0.failure = "writing the refusal: \(error)"; $0.finished = .now }
        }
    }

    /// What the upstream reader passes to the writer, stamped with when it arrived.
    private enum Piece: Sendable {
        case head(HTTPResponseStatus, HTTPHeaders)
        case chunk(ByteBuffer)
        case end
        case failed(String)
    }

    private func forward() async {
        var request = HTTPClientRequest(url: core.upstreamBase + head.uri)
        request.method = head.method
        for (name, value) in head.headers where !Self.hopByHop.contains(name.lowercased()) {
            request.headers.add(name: name, value: value)
        }
        if body.readableBytes > 0 || [.POST, .PUT, .PATCH].contains(head.method) {
            request.body = .bytes(body)
        }
        let pieces = AsyncStream<(Piece, ContinuousClock.Instant)>.makeStream()
        let upstream = core.upstream
        let outgoing = request
        await withTaskGroup(of: Void.self) { group in
            // The reader takes the upstream answer as fast as it comes (a held stream's bytes
            // wait in `pieces`, in order); the writer releases them as the faults allow.
            group.addTask {
                do {
                    // A watch lasts as long as the API server keeps it (timeoutSeconds); an hour bounds a stuck one.
                    let response = try await upstream.execute(outgoing, timeout: .hours(1))
                    pieces.continuation.yield((.head(response.status, response.headers), .now))
                    for try await chunk in response.body {
                        pieces.continuation.yield((.chunk(chunk), .now))
                    }
                    pieces.continuation.yield((.end, .now))
                } catch {
                    pieces.continuation.yield((.failed("\(error)"), .now))
                }
                pieces.continuation.finish()
            }
            await write(pieces.stream)
            group.cancelAll()
        }
    }

    private func write(_ pieces: AsyncStream<(Piece, ContinuousClock.Instant)>) async {
        var sentHead = false
        for await (piece, arrived) in pieces {
            guard await gate(arrivedAt: arrived) else {
                note { $0.failure = "client went away"; $0.finished = .now }
                return
            }
            do {
                switch piece {
                case .head(let status, let upstreamHeaders):
                    var headers = HTTPHeaders()
                    for (name, value) in upstreamHeaders where !Self.hopByHop.contains(name.lowercased()) || name.lowercased() == "content-length" {
                        headers.add(name: name, value: value)
                    }
                    let response = HTTPResponseHead(version: head.version, status: status, headers: headers)
                    try await channel.writeAndFlush(HTTPServerResponsePart.head(response)).get()
                    sentHead = true
                    note { $0.status = Int(status.code) }
                    let close = core.closesAfterHead(info)
                    if close.close {
                        noteFault(close.abrupt ? "closeWatchAfterHead(abrupt)" : "closeWatchAfterHead")
                        if close.abrupt {
                            try await channel.close()
                        } else {
                            try await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
                        }
                        note { $0.finished = .now }
                        return
                    }
                case .chunk(let bytes):
                    try await channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(bytes))).get()
                case .end:
                    try await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
                    note { $0.finished = .now }
                    return
                case .failed(let reason):
                    note { $0.failure = "upstream: \(reason)"; $0.finished = .now }
                    if sentHead {
                        try await channel.close()
                    } else {
                        // Nothing reached the client yet: answer as a gateway that could not reach its server.
                        let bytes = KubeStatus.body(code: 502, message: "the fault proxy could not reach the API server: \(reason)",
                                                    retryAfterSeconds: nil)
                        let headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "\(bytes.count)")])
                        try await channel.writeAndFlush(HTTPServerResponsePart.head(
                            HTTPResponseHead(version: head.version, status: .badGateway, headers: headers))).get()
                        try await channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: bytes)))).get()
                        try await channel.writeAndFlush(HTTPServerResponsePart.end(nil)).get()
                        note { $0.status = 502 }
                    }
                    return
                }
            } catch {
                note { $0.failure = "writing to the client: \(error)"; $0.finished = .now }
                return
            }
        }
    }
}
