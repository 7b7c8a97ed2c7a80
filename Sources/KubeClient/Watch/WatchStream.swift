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
/// idle timeout. Breaking out of the loop (or cancelling the task) closes the stream.
public struct WatchStream<Object: KubernetesObject>: AsyncSequence, Sendable {
    public typealias Element = WatchEvent<Object>

    let lines: WatchLines

    init(client: KubernetesClient, path: String, query: [(String, String)], resourceName: String, maxLineBytes: Int) {
        lines = WatchLines(client: client, path: path, query: query, resourceName: resourceName, maxLineBytes: maxLineBytes)
    }

    public func makeAsyncIterator() -> Iterator {
        Iterator(lines: lines.makeIterator())
    }

    /// Iterates one watch stream; not to be shared between tasks.
    public struct Iterator: AsyncIteratorProtocol {
        private var lines: WatchLines.Iterator

        init(lines: WatchLines.Iterator) {
            self.lines = lines
        }

        public mutating func next() async throws -> WatchEvent<Object>? {
            guard let line = try await lines.next() else { return nil }
            let event: WatchEvent<Object>
            do {
                event = try KubeJSON.decoder().decode(WatchEvent<Object>.self, from: Data(line))
            } catch {
                lines.close()
                throw lines.decodingError(type: "watch event of \(Object.self)", error: error, line: line)
            }
            if case .error(let status) = event {
                lines.close()
                throw lines.apiError(status)
            }
            return event
        }
    }
}

/// The elements of one watch request where an object event the Swift type cannot decode is
/// reported as ``WatchUpdate/undecodable(_:_:)`` instead of ending the stream; otherwise the
/// same as ``WatchStream``. Obtain one from ``ResourceClient/watchSkippingUndecodable(_:watch:)``.
public struct LenientWatchStream<Object: KubernetesObject>: AsyncSequence, Sendable {
    public typealias Element = WatchUpdate<Object>

    let lines: WatchLines
    let resource: APIResource

    public func makeAsyncIterator() -> Iterator {
        Iterator(lines: lines.makeIterator(), resource: resource)
    }

    /// Iterates one watch stream; not to be shared between tasks.
    public struct Iterator: AsyncIteratorProtocol {
        private var lines: WatchLines.Iterator
        let resource: APIResource

        init(lines: WatchLines.Iterator, resource: APIResource) {
            self.lines = lines
            self.resource = resource
        }

        public mutating func next() async throws -> WatchUpdate<Object>? {
            guard let line = try await lines.next() else { return nil }
            let update: WatchUpdate<Object>
            do {
                // Only a line that is not a watch event at all (or an object without readable
                // metadata) fails here; a bad object inside a good event does not.
                update = try KubeJSON.decoder().decode(LenientWatchEvent<Object>.self, from: Data(line)).update
            } catch {
                lines.close()
                throw lines.decodingError(type: "watch event", error: error, line: line)
            }
            switch update {
            case .event(.error(let status)):
                lines.close()
                throw lines.apiError(status)
            case .undecodable(let type, var record):
                if record.apiVersion == nil { record.apiVersion = resource.apiVersion }
                if record.kind == nil { record.kind = resource.kind }
                return .undecodable(type, record)
            default:
                return update
            }
        }
    }
}

/// The lines of one watch response: opens the request, frames the body into lines and
/// translates transport failures.
struct WatchLines: Sendable {
    let client: KubernetesClient
    let path: String
    let query: [(String, String)]
    let resourceName: String
    let maxLineBytes: Int
    /// Called once the server has answered the request with a 2xx head.
    var onOpen: (@Sendable () -> Void)? = nil

    func makeIterator() -> Iterator { Iterator(stream: self) }

    struct Iterator {
        let stream: WatchLines
        private var body: HTTPClientResponse.Body.AsyncIterator?
        private var started = false
        private var finished = false
        private var framer: LineFramer
        private var lines: [[UInt8]] = []
        private var nextLine = 0

        init(stream: WatchLines) {
            self.stream = stream
            framer = LineFramer(maxLineBytes: stream.maxLineBytes)
        }

        /// Ends the stream: the next call returns `nil`.
        mutating func close() {
            finished = true
            body = nil
        }

        mutating func next() async throws -> [UInt8]? {
            if finished { return nil }
            if !started {
                started = true
                body = try await open()
            }
            while true {
                if nextLine < lines.count {
                    let line = lines[nextLine]
                    nextLine += 1
                    return line
                }
                lines.removeAll(keepingCapacity: true)
                nextLine = 0
                let chunk: ByteBuffer?
                do {
                    chunk = try await body?.next()
                } catch {
                    close()
                    throw translate(error)
                }
                guard let chunk else {
                    close()
                    // A final line without a newline is still a complete JSON event.
                    return framer.finish()
                }
                do {
                    lines = try framer.append(chunk.readableBytesView)
                } catch {
                    close()
                    throw KubeClientError.watchLineTooLong(resource: stream.resourceName, limit: error.limit)
                }
            }
        }

        func decodingError(type: String, error: any Error, line: [UInt8]) -> KubeClientError {
            KubeClientError.decoding(
                method: "WATCH", path: stream.path, type: type,
                underlying: "\(error); line starts: \(String(decoding: line.prefix(200), as: UTF8.self))")
        }

        func apiError(_ status: Status) -> APIError {
            APIError(status: status, method: "WATCH", path: stream.path)
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
            stream.onOpen?()
            return response.body.makeAsyncIterator()
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
