/// The watch watchdog's clock, pure: when a watch has been silent for its idle timeout, the
/// informer cancels it and watches again from the last resourceVersion.
///
/// A TCP connection can go half-open (a peer vanished, a NAT entry expired) without either end
/// seeing a FIN or RST; the watch then simply stops delivering. HTTP/2 PINGs would detect it,
/// but AsyncHTTPClient offers no setting for them, so the informer watches the stream itself:
/// every event and every bookmark counts as activity.
///
/// Time is injected as a `Duration` since any fixed origin, like ``Backoff``.
public struct WatchWatchdog: Sendable, Equatable {
    /// How long a watch may stay silent.
    public let idleTimeout: Duration
    /// When the last sign of life arrived (the watch's start counts as one).
    public private(set) var lastActivity: Duration

    public init(idleTimeout: Duration, startedAt now: Duration) {
        precondition(idleTimeout > .zero, "a watch idle timeout must be positive")
        self.idleTimeout = idleTimeout
        lastActivity = now
    }

    /// An event or a bookmark arrived at `now`.
    public mutating func activity(at now: Duration) {
        if now > lastActivity { lastActivity = now }
    }

    /// The moment the watch counts as stale unless something arrives first.
    public var deadline: Duration { lastActivity + idleTimeout }

    /// Whether the watch has been silent for the whole idle timeout at `now`.
    public func isExpired(at now: Duration) -> Bool { now >= deadline }
}
