import Synchronization

/// Decides `/healthz`: whether the process still makes progress. Pure.
///
/// A leader that keeps renewing its lease while its workers are wedged (a reconcile stuck on a
/// network call) or its caches are frozen (a watch gone silent) would hold the lease forever
/// and reconcile nothing; failing liveness lets the kubelet restart it, and the standby takes
/// over. A follower reconciles nothing and watches only what it must, so it is alive as long as
/// it answers.
public struct LivenessPolicy: Sendable, Hashable {
    /// The longest a single reconcile may be in flight.
    public var maxReconcileAge: Duration
    /// The longest an informer may go without an event or a bookmark (or a successful list).
    public var maxInformerSilence: Duration

    /// - Parameters:
    ///   - maxReconcileAge: default 5 minutes: well above controller-runtime's largest reconcile-time
    ///     bucket (60 s) and below the kubelet's default liveness patience (3 failures × 10 s period
    ///     after the limit), so only a wedged reconcile trips it.
    ///   - maxInformerSilence: default 15 minutes: above the longest server-side watch timeout
    ///     client-go's reflector asks for (2 × minWatchTimeout = 10 minutes), after which a healthy
    ///     watch is always re-established and lists or bookmarks again.
    public init(maxReconcileAge: Duration = .seconds(300), maxInformerSilence: Duration = .seconds(900)) {
        self.maxReconcileAge = maxReconcileAge
        self.maxInformerSilence = maxInformerSilence
    }

    /// What the leader's controllers report, at one instant.
    public struct Observation: Sendable, Hashable {
        /// How long the oldest in-flight reconcile has been running, per controller.
        public var oldestReconcile: [String: Duration]
        /// How long since each informer's last list, event or bookmark (by resource).
        public var informerSilence: [String: Duration]

        public init(oldestReconcile: [String: Duration] = [:], informerSilence: [String: Duration] = [:]) {
            self.oldestReconcile = oldestReconcile
            self.informerSilence = informerSilence
        }
    }

    /// The reasons liveness fails, empty when alive. A follower is always alive.
    public func failures(leading: Bool, _ observation: Observation) -> [String] {
        guard leading else { return [] }
        var reasons: [String] = []
        for (controller, age) in observation.oldestReconcile.sorted(by: { $0.key < $1.key }) where age > maxReconcileAge {
            reasons.append("controller \(controller): a reconcile has run for \(Self.seconds(age)), over the \(Self.seconds(maxReconcileAge)) limit")
        }
        for (resource, silence) in observation.informerSilence.sorted(by: { $0.key < $1.key }) where silence > maxInformerSilence {
            reasons.append("informer \(resource): no list, event or bookmark for \(Self.seconds(silence)), over the \(Self.seconds(maxInformerSilence)) limit")
        }
        return reasons
    }

    static func seconds(_ duration: Duration) -> String {
        "\(duration.components.seconds) s"
    }
}
