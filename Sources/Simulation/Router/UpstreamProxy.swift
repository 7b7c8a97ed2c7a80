import AsyncHTTPClient
import Foundation
import Hummingbird
import KubeCore
import NIOCore
import NIOHTTP1

/// Forwards HTTP requests to a model server on a loopback address and streams the answer back
/// as it comes (Server-Sent Events token by token), as Envoy and llm-d's sidecar do.
enum UpstreamProxy {
    /// One client for every proxy in the process: as many connections per upstream as requests
    /// in flight (a small pool would queue requests here, out of the servers' metrics' sight).
    static let client = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: HTTPClient.Configuration(
            timeout: .init(connect: .seconds(5)),
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 1024)))

    /// Sends `method path` with `body` to `upstream` (`ip:port`, loopback only) and returns its
    /// answer as a response whose body streams.
    ///
    /// - Parameter headers: extra request headers (`x-prefiller-host-port`).
    static func forward(
        _ method: HTTPRequest.Method, path: String, body: ByteBuffer?, to upstream: String,
        headers: [(String, String)] = [], timeout: TimeAmount = .seconds(600)
    ) async throws -> Response {
        guard upstream.hasPrefix("127.") else {
            throw EmulatorError("refusing upstream \(upstream): only 127.0.0.0/8 addresses are dialled here")
        }
        var request = HTTPClientRequest(url: "http://\(upstream)\(path)")
        request.method = HTTPMethod(rawValue: method.rawValue)
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body)
        }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await client.execute(request, timeout: timeout)
        var answer = HTTPFields()
        // The body's kind is passed on; hop-by-hop and length headers are the proxy's own.
        if let type = response.headers.first(name: "content-type") { answer[.contentType] = type }
        if let cache = response.headers.first(name: "cache-control") { answer[.cacheControl] = cache }
        let upstreamBody = response.body
        return Response(
            status: HTTPResponse.Status(code: Int(response.status.code)), headers: answer,
            body: ResponseBody { writer in
                for try await chunk in upstreamBody { try await writer.write(chunk) }
                try await writer.finish(nil)
            })
    }

    /// A JSON error in vLLM's (OpenAI's) shape.
    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let text = #"{"object":"error","message":"\#(VLLMMetricsText.escape(message))","type":"\#(status.reasonPhrase.replacingOccurrences(of: " ", with: ""))","param":null,"code":\#(status.code)}"#
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
