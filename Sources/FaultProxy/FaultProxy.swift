import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// A TLS-terminating proxy on loopback between Kubernetes clients (Tandem's operator
/// processes) and a real kube-apiserver, that injects network and API faults switched at run
/// time. The chaos suite's instrument; lab and test support only.
///
/// The client connects to ``url`` and trusts the cluster CA (the proxy's certificate is signed
/// by it for 127.0.0.1, see ``ProxyCertificate``). The proxy negotiates `h2` or `http/1.1` by
/// ALPN as the client asks (``Configuration/protocols`` narrows the offer), and forwards every
/// request to the API server over TLS, verified with the cluster CA, with its headers,
/// `Authorization` included: bearer-token clients (ServiceAccount tokens) authenticate as
/// themselves. Client certificates cannot pass a TLS-terminating proxy (the proxy would have to
/// hold the client's key); clients behind it must use tokens.
///
/// Faults (``inject(_:at:for:scope:)``) apply per request (after TLS: per HTTP/2 stream, so one
/// identity's or only watch traffic can be singled out on a shared connection) or per
/// connection (on the raw bytes, selected by the connection's first request). Responses stream
/// chunk by chunk, so watches behave as watches. ``records`` tells what arrived, when, from whom,
/// and what was done with it.
public final class FaultProxy: Sendable {
    /// How to reach the API server and what to present to clients.
    public struct Configuration: Sendable {
        /// The API server's base URL; must be on loopback (`https://127.0.0.1:PORT`).
        public var upstream: String
        /// PEM of the CA that signed the API server's certificate (the cluster CA).
        public var upstreamCAPEM: [UInt8]
        /// PEM of the proxy's certificate chain and key (``ProxyCertificate/make(caCertificateFile:caKeyFile:)``).
        public var certificatePEM: [UInt8]
        public var privateKeyPEM: [UInt8]
        /// The protocols offered by ALPN, in preference order; `[.http1]` makes even an h2-capable
        /// client speak HTTP/1.1.
        public var protocols: [NegotiatedProtocol]
        /// The port on 127.0.0.1 to listen on; 0 picks a free one.
        public var port: Int

        public init(upstream: String, upstreamCAPEM: [UInt8], certificatePEM: [UInt8], privateKeyPEM: [UInt8],
                    protocols: [NegotiatedProtocol] = [.http2, .http1], port: Int = 0) {
            self.upstream = upstream
            self.upstreamCAPEM = upstreamCAPEM
            self.certificatePEM = certificatePEM
            self.privateKeyPEM = privateKeyPEM
            self.protocols = protocols
            self.port = port
        }
    }

    private let core: ProxyCore
    private let server: any Channel
    /// The port the proxy listens on (127.0.0.1).
    public let port: Int

    /// The URL clients use instead of the API server's.
    public var url: String { "https://127.0.0.1:\(port)" }

    private init(core: ProxyCore, server: any Channel, port: Int) {
        self.core = core
        self.server = server
        self.port = port
    }

    /// Starts listening on 127.0.0.1.
    ///
    /// - Throws: ``FaultProxyError`` when the upstream is not on loopback or the TLS material
    ///   cannot be parsed; NIO's error when the port cannot be bound.
    public static func start(_ configuration: Configuration) async throws -> FaultProxy {
        guard let upstreamURL = URL(string: configuration.upstream), upstreamURL.scheme == "https",
              let host = upstreamURL.host, host == "127.0.0.1" || host == "localhost" || host.hasPrefix("127.")
        else {
            throw FaultProxyError("the upstream \(configuration.upstream) is not an https URL on loopback: the fault proxy only forwards to 127.0.0.0/8")
        }
        guard !configuration.protocols.isEmpty else { throw FaultProxyError("offer at least one protocol (h2 or http/1.1)") }

        var clientTLS = TLSConfiguration.makeClientConfiguration()
        var serverTLS: TLSConfiguration
        do {
            clientTLS.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(configuration.upstreamCAPEM))
            serverTLS = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMBytes(configuration.certificatePEM).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: configuration.privateKeyPEM, format: .pem)))
        } catch {
            throw FaultProxyError("cannot parse the proxy's TLS material (cluster CA, proxy certificate or key): \(error)")
        }
        serverTLS.applicationProtocols = configuration.protocols.map(\.rawValue)
        let sslContext = try NIOSSLContext(configuration: serverTLS)

        var upstreamConfig = HTTPClient.Configuration(
            tlsConfiguration: clientTLS, redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(10)),
            // Each held or streaming request keeps its own upstream connection: a watch holds one
            // for minutes, so the default of 8 per host would stall every request behind them.
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 4096))
        upstreamConfig.httpVersion = .http1Only
        let upstream = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: upstreamConfig)

        var base = configuration.upstream
        while base.hasSuffix("/") { base.removeLast() }
        let core = ProxyCore(upstream: upstream, upstreamBase: base)

        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let connection = core.open(channel: channel)
                do {
                    try channel.pipeline.syncOperations.addHandler(ConnectionGate(core: core, connection: connection))
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: sslContext))
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
                return channel.configureHTTP2SecureUpgrade(
                    h2ChannelConfigurator: { channel in
                        connection.setNegotiated(.http2)
                        return channel.configureHTTP2Pipeline(mode: .server, inboundStreamInitializer: { stream in
                            stream.eventLoop.makeCompletedFuture {
                                try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                                try stream.pipeline.syncOperations.addHandler(
                                    ProxyHandler(core: core, connection: connection, negotiated: .http2))
                            }
                        }).map { _ in }
                    },
                    http1ChannelConfigurator: { channel in
                        connection.setNegotiated(.http1)
                        return channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                            try channel.pipeline.syncOperations.addHandler(
                                ProxyHandler(core: core, connection: connection, negotiated: .http1))
                        }
                    })
            }
        let server: any Channel
        do {
            server = try await bootstrap.bind(host: "127.0.0.1", port: configuration.port).get()
        } catch {
            try? await upstream.shutdown()
            throw error
        }
        guard let port = server.localAddress?.port else {
            try? await server.close()
            try? await upstream.shutdown()
            throw FaultProxyError("the proxy's listening socket has no port")
        }
        return FaultProxy(core: core, server: server, port: port)
    }

    /// Stops listening, closes every client connection and the upstream client.
    public func shutdown() async throws {
        try? await server.close()
        for connection in core.connections { try? await connection.channel.close() }
        try await core.upstream.shutdown()
    }

    // MARK: - Faults

    /// Installs a fault, effective at once; returns its id for ``remove(_:)``.
    ///
    /// - Parameters:
    ///   - layer: ``FaultLayer/request`` (default) or ``FaultLayer/connection``; 429, 503 and
    ///     closing a watch exist only per request.
    ///   - match: the traffic it applies to (default: all).
    ///   - scope: ``FaultScope/existing`` limits it to requests (or connections) already received
    ///     when it is installed.
    @discardableResult
    public func inject(_ fault: Fault, at layer: FaultLayer = .request, for match: RequestMatch = .all,
                       scope: FaultScope = .all) -> FaultID {
        if layer == .connection {
            switch fault {
            case .latency, .blackhole, .reset: break
            default: preconditionFailure("\(fault) exists only at the request layer")
            }
        }
        return core.add(fault, layer: layer, match: match, scope: scope)
    }

    /// Removes a fault; held bytes and requests are released in order.
    public func remove(_ id: FaultID) { core.remove(id) }

    /// Removes every fault.
    public func removeAllFaults() { core.removeAll() }

    /// The faults in force.
    public var faults: [FaultRule] { core.rules }

    /// Aborts (TCP RST) every live client connection whose first request matches `match`, now;
    /// returns how many.
    @discardableResult
    public func resetConnections(where match: RequestMatch = .all) -> Int { core.resetConnections(where: match) }

    /// Names the client that authenticates with `bearerToken` `identity`, for requests whose
    /// User-Agent is not `tandem/<identity>` (the User-Agent wins when it names one).
    ///
    /// Tokens must differ per identity: two TokenRequests for one ServiceAccount in the same
    /// second can return the same token on 1.20 (its claims carry no unique id), so give each
    /// process a ServiceAccount of its own.
    ///
    /// - Throws: ``FaultProxyError`` when the token already names another identity.
    public func identify(bearerToken: String, as identity: String) throws {
        if let previous = core.identify(bearerToken: bearerToken, as: identity), previous != identity {
            core.identify(bearerToken: bearerToken, as: previous)
            throw FaultProxyError(
                "this bearer token already identifies \(previous), so \(identity) could not be told apart: give each process a token of its own ServiceAccount")
        }
    }

    // MARK: - Record

    /// Every request received so far, in order of arrival.
    public var records: [ProxyRecord] { core.log.all }

    /// Forgets the record so far.
    public func clearRecords() { core.log.removeAll() }

    /// The live client connections, in order of arrival.
    public var connections: [ConnectionSummary] {
        core.connections.map {
            let held = $0.held
            return ConnectionSummary(id: $0.id, negotiated: $0.negotiated, classifier: $0.view, heldInboundBytes: held.inbound,
                                     heldOutboundBytes: held.outbound)
        }
    }
}

/// One live client connection of the proxy.
public struct ConnectionSummary: Sendable {
    public var id: Int
    /// nil until the TLS handshake chose a protocol.
    public var negotiated: NegotiatedProtocol?
    /// The first request it carried (`isWatch` true once it carried any watch): what
    /// connection-layer faults match against.
    public var classifier: RequestInfo?
    /// Bytes a connection-layer fault holds now, from the client and to the client.
    public var heldInboundBytes: Int
    public var heldOutboundBytes: Int
}

/// Why the fault proxy could not start or do what was asked.
public struct FaultProxyError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
