import Hummingbird
import NIOCore
import Synchronization

/// A fault an emulated server's `/metrics` can be told to show, so that scrapers (the
/// autoscaler's among them) can be tested against broken model servers. The OpenAI endpoints,
/// `/health` and `/v1/models` are never affected.
///
/// Under the node agent, a pod's ``annotation`` switches it, also on a running pod:
/// `kubectl annotate pod NAME emulator.tandem.x-k8s.io/fault=hang`, and `…/fault-` to clear it.
public enum MetricsFault: String, Sendable, Hashable, CaseIterable {
    /// `/metrics` answers normally.
    case none
    /// `/metrics` answers 200 with bytes that are not the Prometheus text format: an HTML page
    /// followed by random binary bytes (not UTF-8), different on every scrape.
    case garbage
    /// `/metrics` reads the request and never answers, until the fault changes or the server
    /// stops (it then answers 503).
    case hang
    /// `/metrics` answers 500.
    case error
    /// `/metrics` sends the response head (200) and the first bytes of the body, then stalls
    /// until the fault changes or the server stops (it then ends the body). A scraper with a
    /// deadline on the head only hangs on it.
    case stallAfterHeaders = "stall-after-headers"

    /// The pod annotation the node agent reads a fault from.
    public static let annotation = "emulator.tandem.x-k8s.io/fault"

    /// The fault a pod's annotations ask for: none when the annotation is absent, empty,
    /// `none`, or a value that names no fault (``isKnown(annotations:)`` tells).
    public init(annotations: [String: String]?) {
        self = annotations?[Self.annotation].flatMap { MetricsFault(rawValue: $0) } ?? .none
    }

    /// Whether the annotation, when present, names a fault (or `none`, or is empty).
    public static func isKnown(annotations: [String: String]?) -> Bool {
        guard let value = annotations?[annotation], !value.isEmpty else { return true }
        return MetricsFault(rawValue: value) != nil
    }

    /// A `garbage` answer: an HTML page (what a misrouted scrape might get) and 512 random
    /// bytes, some of them never valid in UTF-8.
    static func garbageResponse() -> Response {
        var buffer = ByteBuffer(string: "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head><body><h1>oops</h1>\n")
        var generator = SystemRandomNumberGenerator()
        buffer.writeBytes((0..<512).map { index in index % 64 == 0 ? 0xFF : UInt8.random(in: 0...255, using: &generator) })
        buffer.writeString("\n</body></html>\n")
        // The header claims Prometheus text: only the body is wrong, as with a broken exporter.
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: ResponseBody(byteBuffer: buffer))
    }
}

/// The current ``MetricsFault`` of one server, and the `/metrics` requests held by `hang`.
///
/// ``gate()`` returns at once unless the fault is `hang`; then it waits until the fault changes,
/// the server stops (``stop()``), or the waiting task is cancelled. Nothing outlives ``stop()``:
/// every held request is let go, and later ones are not held.
final class MetricsFaultSwitch: Sendable {
    /// What a `/metrics` request is to do once the gate lets it through.
    enum Outcome: Equatable {
        case serve(MetricsFault)
        /// The server is stopping (or the request was cancelled) while held.
        case stopping
    }

    private struct State {
        var fault = MetricsFault.none
        var stopped = false
        var nextWaiter = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    /// The current fault.
    var fault: MetricsFault { state.withLock { $0.fault } }

    /// Requests held by `hang` now.
    var heldRequests: Int { state.withLock { $0.waiters.count } }

    /// Sets the fault; requests held by `hang` (or stalled by `stall-after-headers`) go on when
    /// it is another one.
    func set(_ fault: MetricsFault) {
        // On a change, every held request is let go and checks again whether its fault still
        // holds it; the same fault again changes nothing.
        let released = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            let previous = state.fault
            state.fault = fault
            guard fault != previous else { return [] }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in released { waiter.resume() }
    }

    /// Lets every held request go and holds no more.
    func stop() {
        let released = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.stopped = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in released { waiter.resume() }
    }

    /// Waits while the fault is `hang`, then says what to serve.
    func gate() async -> Outcome {
        await hold(while: .hang)
    }

    /// Waits while the fault is `stall-after-headers` (a body already begun stalls here).
    func stall() async {
        _ = await hold(while: .stallAfterHeaders)
    }

    private func hold(while holding: MetricsFault) async -> Outcome {
        while true {
            let id = state.withLock { state -> Int? in
                guard state.fault == holding, !state.stopped else { return nil }
                state.nextWaiter += 1
                return state.nextWaiter
            }
            guard let id else { return state.withLock { $0.stopped ? .stopping : .serve($0.fault) } }
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let held = state.withLock { state -> Bool in
                        guard state.fault == holding, !state.stopped, !Task.isCancelled else { return false }
                        state.waiters[id] = continuation
                        return true
                    }
                    if !held { continuation.resume() }
                }
            } onCancel: {
                state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
            }
            if Task.isCancelled { return .stopping }
        }
    }
}
