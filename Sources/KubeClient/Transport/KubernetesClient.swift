import AsyncHTTPClient
import Foundation
import KubeCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOSSL

/// A connection to one Kubernetes API server: TLS, authentication, retries and error decoding.
///
/// Create one per process and share it; it is safe to use from any task. Call ``shutdown()``
/// before dropping it. Reach resources through ``resources(_:namespace:)`` (typed) or
/// ``dynamic(_:namespace:)`` (kinds known at run time).
public final class KubernetesClient: Sendable {
    /// The configuration this client was built from.
    public let configuration: ClientConfiguration
    let http: HTTPClient
    /// A second pool for watches (its read timeout is the watch idle timeout), with a generation
    /// that counts its replacements.
    private let watchPool: NIOLockedValueBox<(client: HTTPClient, generation: Int)>
    private let makeWatchPool: @Sendable () -> HTTPClient
    /// The pool watches are opened on now.
    var watchHTTP: HTTPClient { watchPool.withLockedValue { $0.client } }
    let tokens: TokenSource
    let baseURL: String
    let logger: Logger
    /// Called after every request with its verb, resource, code and duration (metrics hook).
    let observer: (@Sendable (RequestRecord) -> Void)?

    /// One completed request, for metrics.
    public struct RequestRecord: Sendable {
        /// `GET`, `LIST`, `WATCH`, `POST`, `PUT`, `PATCH`, `DELETE` (LIST and WATCH as client-go counts them).
        public var verb: String
        /// The HTTP status code, or 0 when no answer arrived.
        public var code: Int
        public var duration: Duration
        public var path: String
    }

    /// Connects lazily: nothing is dialled until the first request.
    ///
    /// - Throws: ``KubeClientError/configuration(_:)`` when the CA, certificate or key cannot be parsed.
    public init(
        configuration: ClientConfiguration, logger: Logger = Logger(label: "kube.client"),
        observer: (@Sendable (RequestRecord) -> Void)? = nil
    ) throws {
        self.configuration = configuration
        self.logger = logger
        self.observer = observer
        var server = configuration.server
        while server.hasSuffix("/") { server.removeLast() }
        guard server.hasPrefix("https://") || server.hasPrefix("http://") else {
            throw KubeClientError.configuration("server \"\(configuration.server)\" is not an http(s) URL")
        }
        baseURL = server
        tokens = TokenSource(configuration.credentials)

        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if let ca = configuration.certificateAuthorityPEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
            }
            if let certificate = configuration.clientCertificatePEM, let key = configuration.clientKeyPEM {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            }
        } catch {
            throw KubeClientError.configuration("cannot parse the TLS material for \(server): \(error)")
        }
        if configuration.insecureSkipTLSVerify { tls.certificateVerification = .none }

        let tlsConfiguration = tls
        @Sendable func make(read: Duration) -> HTTPClient {
            var config = HTTPClient.Configuration(
                tlsConfiguration: tlsConfiguration, redirectConfiguration: .disallow,
                timeout: .init(connect: .seconds(10), read: TimeAmount(read)))
            config.httpVersion = .automatic
            return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
        }
        http = make(read: configuration.requestTimeout)
        let watchRead = configuration.watchIdleTimeout
        makeWatchPool = { make(read: watchRead) }
        watchPool = NIOLockedValueBox((make(read: watchRead), 0))
    }

    /// Which watch pool new watches open on; pass it to ``replaceWatchConnections(ifGeneration:)``.
    public var watchConnectionGeneration: Int { watchPool.withLockedValue { $0.generation } }

    /// Replaces the watch pool with a new one, so the next watches dial new connections. For a
    /// watch gone silent: AsyncHTTPClient opens a resumed watch as another HTTP/2 stream on the
    /// same connection, and a half-open connection would keep every watch stale. The old pool is
    /// closed once every watch still on it has reached the server's timeout (Tandem asks for
    /// 290 s; closed after 300 s): healthy watches on it end as usual and reopen on the new
    /// pool, silent ones are resumed there by their own watchdogs. Only the first caller for a
    /// generation replaces it (several informers may notice the same dead connection).
    public func replaceWatchConnections(ifGeneration generation: Int) {
        guard !isShutDown.withLockedValue({ $0 }) else { return }
        let fresh = makeWatchPool()
        let old: HTTPClient? = watchPool.withLockedValue { pool in
            guard pool.generation == generation else { return nil }
            let old = pool.client
            pool = (fresh, generation + 1)
            return old
        }
        if let old {
            logger.info("replacing the watch connections: a watch went silent")
            retiring.withLockedValue { $0.append(old) }
            Task { [retiring] in
                try? await Task.sleep(for: .seconds(300))
                let due = retiring.withLockedValue { pools in
                    pools.firstIndex { $0 === old }.map { pools.remove(at: $0) }
                }
                try? await due?.shutdown()
            }
        } else {
            Task { try? await fresh.shutdown() }
        }
    }

    private let isShutDown = NIOLockedValueBox(false)
    /// Replaced watch pools not yet closed (closed by ``shutdown()`` at the latest).
    private let retiring = NIOLockedValueBox<[HTTPClient]>([])

    /// Closes every connection. The client cannot be used afterwards. Calling it twice is harmless.
    public func shutdown() async throws {
        let first = isShutDown.withLockedValue { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        try await http.shutdown()
        try await watchHTTP.shutdown()
        for pool in retiring.withLockedValue({ pools in defer { pools = [] }; return pools }) {
            try? await pool.shutdown()
        }
    }

    deinit {
        // A client dropped without shutdown() still closes its connections, in the background
        // (AsyncHTTPClient traps when a client is freed while open).
        guard !isShutDown.withLockedValue({ $0 }) else { return }
        let pools = [http, watchPool.withLockedValue { $0.client }] + retiring.withLockedValue { $0 }
        Task {
            for pool in pools { try? await pool.shutdown() }
        }
    }

    /// A typed client for `Object`'s resource, in `namespace` (ignored for cluster-scoped kinds;
    /// `nil` for namespaced kinds means all namespaces, for list and watch).
    public func resources<Object: KubernetesResource>(_ type: Object.Type, namespace: String? = nil)
        -> ResourceClient<Object>
    {
        ResourceClient(client: self, resource: Object.apiResource, namespace: namespace)
    }

    /// A client for a kind known only at run time; objects are ``DynamicObject``s.
    public func dynamic(_ resource: APIResource, namespace: String? = nil) -> ResourceClient<DynamicObject> {
        ResourceClient(client: self, resource: resource, namespace: namespace)
    }

    // MARK: - Raw requests

    /// A raw answer: status code, headers and body bytes.
    public struct Response: Sendable {
        public var code: Int
        public var headers: HTTPHeaders
        public var body: ByteBuffer
    }

    /// Sends one request with authentication and retries; returns a 2xx answer or throws.
    ///
    /// - Parameters:
    ///   - verb: the verb for metrics (`LIST` for a collection GET); defaults to the method.
    /// - Throws: ``APIError`` for a failure answer, ``KubeClientError`` when no answer came.
    public func send(
        method: HTTPMethod, path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
        contentType: String = "application/json", verb: String? = nil
    ) async throws -> Response {
        let verb = verb ?? method.rawValue
        var attempt = 0
        var refreshedToken = false
        while true {
            if method != .GET, method != .HEAD, let gate = configuration.writeGate { try gate(method.rawValue, path) }
            let started = ContinuousClock.now
            let response: HTTPClientResponse
            var request = try makeRequest(method: method, path: path, query: query, forceTokenReload: refreshedToken)
            if let body {
                request.headers.replaceOrAdd(name: "Content-Type", value: contentType)
                request.body = .bytes(ByteBuffer(bytes: body))
            }
            do {
                response = try await http.execute(request, timeout: TimeAmount(configuration.requestTimeout), logger: logger)
            } catch {
                observer?(RequestRecord(verb: verb, code: 0, duration: .now - started, path: path))
                throw KubeClientError.transport(method: method.rawValue, path: path, underlying: "\(error)")
            }
            let bytes: ByteBuffer
            do {
                bytes = try await response.body.collect(upTo: Self.maxResponseBytes)
            } catch {
                observer?(RequestRecord(verb: verb, code: 0, duration: .now - started, path: path))
                throw KubeClientError.transport(method: method.rawValue, path: path, underlying: "reading the body: \(error)")
            }
            let code = Int(response.status.code)
            observer?(RequestRecord(verb: verb, code: code, duration: .now - started, path: path))
            if (200..<300).contains(code) {
                return Response(code: code, headers: response.headers, body: bytes)
            }
            let failure = apiError(code: code, headers: response.headers, body: bytes, method: method, path: path)
            if code == 401, tokens.canRefresh, !refreshedToken {
                refreshedToken = true
                continue
            }
            let retryAfter = response.headers.first(name: "Retry-After").flatMap { Int($0) }
                ?? failure.status.details?.retryAfterSeconds
            if attempt < configuration.retry.maxRetries,
                Self.isRetriable(code: code, method: method, contentType: contentType, hasRetryAfter: retryAfter != nil)
            {
                let delay = configuration.retry.delay(attempt: attempt, retryAfterSeconds: retryAfter)
                logger.debug("retrying after \(code)", metadata: ["path": "\(path)", "delay": "\(delay)"])
                attempt += 1
                try await Task.sleep(for: delay)
                continue
            }
            throw failure
        }
    }

    /// Bodies larger than this are refused (a list of every Pod in a large cluster fits).
    static let maxResponseBytes = 512 * 1024 * 1024

    static func isRetriable(code: Int, method: HTTPMethod, contentType: String, hasRetryAfter: Bool) -> Bool {
        if code == 429 { return true }
        guard code >= 500 else { return false }
        switch method {
        case .GET, .HEAD, .PUT: return true
        case .PATCH where contentType == PatchType.apply.contentType: return true
        default: return hasRetryAfter
        }
    }

    func makeRequest(method: HTTPMethod, path: String, query: [(String, String)], forceTokenReload: Bool = false)
        throws -> HTTPClientRequest
    {
        var request = HTTPClientRequest(url: baseURL + path + Self.encode(query: query))
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: configuration.userAgent)
        if let authorization = try tokens.authorization(forceReload: forceTokenReload) {
            request.headers.add(name: "Authorization", value: authorization)
        }
        return request
    }

    func apiError(code: Int, headers: HTTPHeaders, body: ByteBuffer, method: HTTPMethod, path: String) -> APIError {
        if let status = try? KubeJSON.decoder().decode(Status.self, from: Data(body.readableBytesView)),
            status.kind == "Status" || status.reason != nil
        {
            var status = status
            if status.code == nil || status.code == 0 { status.code = code }
            return APIError(status: status, method: method.rawValue, path: path)
        }
        let text = String(decoding: body.readableBytesView.prefix(512), as: UTF8.self)
        let reason = HTTPResponseStatus(statusCode: code).reasonPhrase.replacingOccurrences(of: " ", with: "")
        return APIError(status: Status(message: text, reason: reason, code: code), method: method.rawValue, path: path)
    }

    static func encode(query: [(String, String)]) -> String {
        guard !query.isEmpty else { return "" }
        return "?" + query.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    private static let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)

    static func escape(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if unreserved.contains(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }
}
