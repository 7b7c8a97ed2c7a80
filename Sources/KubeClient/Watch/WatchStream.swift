import AsyncHTTPClient
import Foundation
import KubeCore
import NIOCore

/// The events of one watch request, as an `AsyncSequence`.
///
/// Nothing is sent until iteration starts. The sequence ends (returns `nil`) when the server
/// closes the stream, normally after the watch's `timeoutSeconds`: watch again from the last
/// resourceVersion seen. It throws ``APIError`` for an `ERROR` event or a failed request
/// (`reason == .gone` when the resourceVersion is too old: list again), and
/// ``KubeClientError/watchIdle(resource:after:)`` when no bytes arrive for the client's watch
/// idle timeout. Breaking out of the loop closes the stream.
public struct WatchStream<Object: KubernetesObject>: AsyncSequence, Sendable {
    public typealias Element = WatchEvent<Object>

    let client: KubernetesClient
    let path: String
    let query: [(String, String)]
    let resourceName: String
    let maxLineBytes: Int

    public func makeAsyncIterator() -> Iterator {
        Iterator(stream: self)
    }

    /// Iterates one watch stream; not to be shared between tasks.
    public struct Iterator: AsyncIteratorProtocol {
        let stream: WatchStream
        private var body: HTTPClientResponse.Body.AsyncIterator?
        private var started = false
        private var finished = false
        private var framer: LineFramer
        private var lines: [[UInt8]] = []
        private var nextLine = 0

        init(stream: WatchStream) {
            self.stream = stream
            framer = LineFramer(maxLineBytes: stream.maxLineBytes)
        }

        public mutating func next() async throws -> WatchEvent<Object>? {
            if finished { return nil }
            if !started {
                started = true
                body = try await open()
            }
            while true {
                if nextLine < lines.count {
                    let line = lines[nextLine]
                    nextLine += 1
                    return try decode(line)
                }
                lines.removeAll(keepingCapacity: true)
                nextLine = 0
                let chunk: ByteBuffer?
                do {
                    chunk = try await body?.next()
                } catch {
                    finished = true
                    body = nil
                    throw translate(error)
                }
                guard let chunk else {
                    finished = true
                    body = nil
                    // A final line without a newline is still a complete JSON event.
                    if let last = framer.finish() { return try decode(last) }
                    return nil
                }
                do {
                    lines = try framer.append(chunk.readableBytesView)
                } catch {
                    finished = true
                    body = nil
                    throw KubeClientError.watchLineTooLong(resource: stream.resourceName, limit: error.limit)
                }
            }
        }

        private func open() async throws -> HTTPClientResponse.Body.AsyncIterator {
            let client = stream.client
            let request = try client.makeRequest(method: .GET, path: stream.path, query: stream.query)
            let started = ContinuousClock.now
            let response: HTTPClientResponse
            do {
                response = try await client.watchHTTP.execute(
                    request, timeout: TimeAmount(client.configuration.requestTimeout), logger: client.logger)
            } catch {
                client.observer?(.init(verb: "WATCH", code: 0, duration: .now - started, path: stream.path))
                throw translate(error)
            }
            let code = Int(response.status.code)
            client.observer?(.init(verb: "WATCH", code: code, duration: .now - started, path: stream.path))
            guard (200..<300).contains(code) else {
                let bytes = (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()
                throw client.apiError(code: code, headers: response.headers, body: bytes, method: .GET, path: stream.path)
            }
            return response.body.makeAsyncIterator()
        }

        private mutating func decode(_ line: [UInt8]) throws -> WatchEvent<Object> {
            let event: WatchEvent<Object>
            do {
                event = try KubeJSON.decoder().decode(WatchEvent<Object>.self, from: Data(line))
            } catch {
                finished = true
                body = nil
                throw KubeClientError.decoding(
                    method: "WATCH", path: stream.path, type: "watch event of \(Object.self)",
                    underlying: "\(error); line starts: \(String(decoding: line.prefix(200), as: UTF8.self))")
            }
            if case .error(let status) = event {
                finished = true
                body = nil
                throw APIError(status: status, method: "WATCH", path: stream.path)
            }
            return event
        }

        private func translate(_ error: any Error) -> any Error {
            if let error = error as? HTTPClientError, error == .readTimeout {
                return KubeClientError.watchIdle(
                    resource: stream.resourceName, after: stream.client.configuration.watchIdleTimeout)
            }
            if error is CancellationError { return error }
            return KubeClientError.transport(method: "WATCH", path: stream.path, underlying: "\(error)")
        }
    }
}
