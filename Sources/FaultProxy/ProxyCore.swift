import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// One client connection of the proxy: its number, protocol, and the request that classifies
/// it for connection-layer faults.
final class ConnectionState: Sendable {
    let id: Int
    /// The TCP channel (the gate handler sits at its head).
    let channel: any Channel
    private let state = Mutex<(negotiated: NegotiatedProtocol?, first: RequestInfo?, carriedWatch: Bool)>((nil, nil, false))

    init(id: Int, channel: any Channel) {
        self.id = id
        self.channel = channel
    }

    var negotiated: NegotiatedProtocol? { state.withLock { $0.negotiated } }

    /// Bytes the gate holds now (connection-layer faults), client→server and server→client.
    private let heldBytes = Mutex<(inbound: Int, outbound: Int)>((0, 0))
    var held: (inbound: Int, outbound: Int) { heldBytes.withLock { $0 } }
    func setHeld(inbound: Int, outbound: Int) { heldBytes.withLock { $0 = (inbound, outbound) } }

    func setNegotiated(_ value: NegotiatedProtocol) { state.withLock { $0.negotiated = value } }

    /// While the gate releases bytes it held, when the chunk being delivered reached the proxy:
    /// a request completed by that chunk was sent by the client no later than this.
    private let releasing = Mutex<ContinuousClock.Instant?>(nil)
    var releasedChunkArrival: ContinuousClock.Instant? { releasing.withLock { $0 } }
    func setReleasedChunkArrival(_ instant: ContinuousClock.Instant?) { releasing.withLock { $0 = instant } }

    /// The first request, with `isWatch` true once any request on the connection was a watch.
    var view: RequestInfo? {
        state.withLock { s in
            guard var first = s.first else { return nil }
            first.isWatch = first.isWatch || s.carriedWatch
            return first
        }
    }

    /// Notes a request; returns whether the connection's classification changed.
    func note(_ request: RequestInfo) -> Bool {
        state.withLock { s in
            var changed = false
            if s.first == nil { s.first = request; changed = true }
            if request.isWatch, !s.carriedWatch { s.carriedWatch = true; changed = true }
            return changed
        }
    }
}

/// Events the proxy sends down a connection's pipeline to its ``ConnectionGate``.
enum GateEvent: Sendable {
    /// The rules or the connection's classification changed: look again.
    case reevaluate
    /// Abort the connection with a TCP RST.
    case abort
}

/// The proxy's shared state: rules, counters, connections, record, upstream client.
final class ProxyCore: Sendable {
    let log = RequestLog()
    let upstream: HTTPClient
    let upstreamBase: String
    private let faults = Mutex<(set: FaultSet, generation: Int)>((FaultSet(), 0))
    private let waiters = Mutex<[UUID: CheckedContinuation<Void, Never>]>([:])
    private let counters = Mutex<(requests: Int, connections: Int)>((0, 0))
    private let live = Mutex<[Int: ConnectionState]>([:])
    /// Identities for bearer tokens, for clients whose User-Agent does not name one.
    private let tokenIdentities = Mutex<[String: String]>([:])

    /// Registers `identity` for `bearerToken`; returns the identity it had before, if any.
    @discardableResult
    func identify(bearerToken: String, as identity: String) -> String? {
        tokenIdentities.withLock { map in
            defer { map[bearerToken] = identity }
            return map[bearerToken]
        }
    }

    /// `tandem/<identity>` from the User-Agent, else the identity registered for the bearer token.
    func identity(of head: HTTPRequestHead) -> String? {
        if let identity = RequestInfo.identity(fromUserAgent: head.headers.first(name: "User-Agent")) { return identity }
        guard let authorization = head.headers.first(name: "Authorization"), authorization.hasPrefix("Bearer ") else { return nil }
        let token = String(authorization.dropFirst("Bearer ".count))
        return tokenIdentities.withLock { $0[token] }
    }

    init(upstream: HTTPClient, upstreamBase: String) {
        self.upstream = upstream
        self.upstreamBase = upstreamBase
    }

    // MARK: rules

    func add(_ fault: Fault, layer: FaultLayer, match: RequestMatch, scope: FaultScope) -> FaultID {
        let marks = counters.withLock { $0 }
        let rule = faults.withLock { f in
            defer { f.generation += 1 }
            return f.set.add(fault, layer: layer, match: match, scope: scope,
                             requestWatermark: marks.requests, connectionWatermark: marks.connections)
        }
        changed()
        return rule.id
    }

    func remove(_ id: FaultID) {
        faults.withLock { f in
            f.set.remove(id)
            f.generation += 1
        }
        changed()
    }

    func removeAll() {
        faults.withLock { f in
            f.set.removeAll()
            f.generation += 1
        }
        changed()
    }

    var rules: [FaultRule] { faults.withLock { $0.set.rules } }

    /// Wakes every held request and tells every connection gate to look again.
    private func changed() {
        let woken = waiters.withLock { w in
            defer { w.removeAll() }
            return Array(w.values)
        }
        for continuation in woken { continuation.resume() }
        for connection in live.withLock({ Array($0.values) }) {
            connection.channel.pipeline.fireUserInboundEventTriggered(GateEvent.reevaluate)
        }
    }

    var generation: Int { faults.withLock { $0.generation } }

    /// Returns when the rules change after `generation` (at once if they already did), or when
    /// the task is cancelled.
    func waitForChange(after generation: Int) async {
        let key = UUID()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = waiters.withLock { w -> Bool in
                    if self.generation != generation || Task.isCancelled { return true }
                    w[key] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            waiters.withLock { $0.removeValue(forKey: key) }?.resume()
        }
    }

    func verdict(for request: RequestInfo) -> RequestVerdict { faults.withLock { $0.set.verdict(for: request) } }

    func shaping(request: RequestInfo) -> (held: Bool, latency: Duration, generation: Int) {
        faults.withLock { f in
            let s = f.set.shaping(request: request)
            return (s.held, s.latency, f.generation)
        }
    }

    func closesAfterHead(_ request: RequestInfo) -> (close: Bool, abrupt: Bool) {
        faults.withLock { $0.set.closesAfterHead(request) }
    }

    func shaping(connection: ConnectionState) -> (held: Bool, latency: Duration, reset: FaultID?) {
        let view = connection.view
        return faults.withLock { $0.set.shaping(connection: connection.id, view: view) }
    }

    // MARK: connections and requests

    func open(channel: any Channel) -> ConnectionState {
        let id = counters.withLock { c in
            c.connections += 1
            return c.connections
        }
        let connection = ConnectionState(id: id, channel: channel)
        live.withLock { $0[id] = connection }
        channel.closeFuture.whenComplete { [weak self] _ in
            _ = self?.live.withLock { $0.removeValue(forKey: id) }
        }
        return connection
    }

    var connections: [ConnectionState] { live.withLock { Array($0.values) }.sorted { $0.id < $1.id } }

    /// Numbers and records a newly received request head.
    func admit(_ head: HTTPRequestHead, on connection: ConnectionState, negotiated: NegotiatedProtocol) -> RequestInfo {
        let sequence = counters.withLock { c in
            c.requests += 1
            return c.requests
        }
        let (path, query) = Self.split(head.uri)
        let userAgent = head.headers.first(name: "User-Agent")
        let info = RequestInfo(sequence: sequence, connection: connection.id,
                               identity: identity(of: head),
                               method: head.method.rawValue, path: path, query: query)
        let now = ContinuousClock.now
        log.append(ProxyRecord(request: info, userAgent: userAgent, negotiated: negotiated, receivedAt: Date(),
                               received: now, arrived: connection.releasedChunkArrival ?? now, forwarded: nil, status: nil, faults: [], finished: nil, failure: nil))
        if connection.note(info) {
            connection.channel.pipeline.fireUserInboundEventTriggered(GateEvent.reevaluate)
        }
        return info
    }

    func abort(connection id: Int) {
        live.withLock { $0[id] }?.channel.pipeline.fireUserInboundEventTriggered(GateEvent.abort)
    }

    /// Aborts (RST) every live connection whose classifying request matches; returns how many.
    func resetConnections(where match: RequestMatch) -> Int {
        var count = 0
        for connection in connections {
            guard let view = connection.view, match.matches(view) else { continue }
            connection.channel.pipeline.fireUserInboundEventTriggered(GateEvent.abort)
            count += 1
        }
        return count
    }

    static func split(_ uri: String) -> (path: String, query: String) {
        guard let mark = uri.firstIndex(of: "?") else { return (uri, "") }
        return (String(uri[..<mark]), String(uri[uri.index(after: mark)...]))
    }
}
