import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A real HTTP/1.1 server on 127.0.0.1 whose answers a test scripts, for behaviour no API
/// server produces on demand (429s, 5xx, split chunks, stalls, oversized lines).
final class ScriptedServer: Sendable {
    /// One request as the server saw it.
    struct Request: Sendable {
        var method: String
        var uri: String
        var headers: HTTPHeaders
    }

    /// One piece of an answer.
    enum Step: Sendable {
        case head(Int, [(String, String)] = [])
        case chunk(String)
        case pause(Duration)
        /// Keeps the connection open without sending anything for this long, then closes it.
        case stall(Duration)
        case end
    }

    typealias Handler = @Sendable (Request, Int) -> [Step]

    private let channel: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    private let seen = NIOLockedValueBox<[Request]>([])
    private let accepted = NIOLockedValueBox(0)
    private let task: Task<Void, Never>
    let port: Int

    /// Requests received so far, in order.
    var requests: [Request] { seen.withLockedValue { $0 } }
    /// TCP connections accepted so far.
    var connections: Int { accepted.withLockedValue { $0 } }
    var url: String { "http://127.0.0.1:\(port)" }

    init(handler: @escaping Handler) async throws {
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: child)
                }
            }
        port = channel.channel.localAddress?.port ?? 0
        let seen = self.seen
        let accepted = self.accepted
        let channel = self.channel
        task = Task {
            try? await channel.executeThenClose { inbound in
                await withDiscardingTaskGroup { group in
                    do {
                        for try await connection in inbound {
                            accepted.withLockedValue { $0 += 1 }
                            group.addTask { await Self.serve(connection, handler: handler, seen: seen) }
                        }
                    } catch {}
                }
            }
        }
    }

    func close() async {
        try? await channel.channel.close()
        task.cancel()
        _ = await task.value
    }

    private static func serve(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, handler: Handler,
        seen: NIOLockedValueBox<[Request]>
    ) async {
        try? await connection.executeThenClose { inbound, outbound in
            var current: Request?
            for try await part in inbound {
                switch part {
                case .head(let head):
                    current = Request(method: head.method.rawValue, uri: head.uri, headers: head.headers)
                case .body:
                    continue
                case .end:
                    guard let request = current else { continue }
                    let index = seen.withLockedValue { list in
                        list.append(request)
                        return list.count - 1
                    }
                    for step in handler(request, index) {
                        switch step {
                        case .head(let code, let headers):
                            var fields = HTTPHeaders(headers)
                            fields.add(name: "Content-Type", value: "application/json")
                            if !fields.contains(name: "Content-Length") { fields.add(name: "Transfer-Encoding", value: "chunked") }
                            try await outbound.write(.head(HTTPResponseHead(
                                version: .http1_1, status: HTTPResponseStatus(statusCode: code), headers: fields)))
                        case .chunk(let text):
                            try await outbound.write(.body(.byteBuffer(ByteBuffer(string: text))))
                        case .pause(let duration):
                            try await Task.sleep(for: duration)
                        case .stall(let duration):
                            try await Task.sleep(for: duration)
                            return
                        case .end:
                            try await outbound.write(.end(nil))
                        }
                    }
                }
            }
        }
    }

    /// A complete JSON answer.
    static func answer(_ code: Int, _ body: String, headers: [(String, String)] = []) -> [Step] {
        [.head(code, headers), .chunk(body), .end]
    }

    static func status(_ code: Int, _ reason: String, retryAfter: Int? = nil) -> [Step] {
        answer(
            code, #"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"\#(reason)","code":\#(code)}"#,
            headers: retryAfter.map { [("Retry-After", String($0))] } ?? [])
    }
}
