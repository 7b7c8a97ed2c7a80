import Foundation
import KubeCore
import KubeRuntime
import Synchronization
import TandemAPI

/// Which pool may roll out pod-template changes the operator itself makes. Pure.
///
/// An upgrade of the operator can change the pod templates it renders (docs/install.md, "Upgrade
/// notes"): every pool's pods would then roll at once. The gate lets one pool at a time start
/// such a rollout. A pool asks for it when its spec did not change since the last reconcile
/// (``RolloutPolicy/isOperatorDriven(_:)``) yet a rendered pod template differs from its live
/// Deployment's; the gate stays with that pool until its Deployments are rolled out (or stalled,
/// or ``maxHold`` has passed), then the next pool asking gets it.
///
/// Spec-driven changes (a user edited the pool) never ask: they are applied at once.
public struct RolloutGateState: Sendable, Equatable {
    /// The pool holding the gate and since when.
    public struct Hold: Sendable, Equatable {
        public var pool: ObjectKey
        public var since: ContinuousClock.Instant
    }

    /// What a pool asking for the gate is told.
    public enum Decision: Sendable, Equatable {
        /// Roll now. `acquired`: the gate was not this pool's before this request;
        /// `tookOverFrom`: the pool that held it longer than ``maxHold`` and lost it.
        case proceed(acquired: Bool, tookOverFrom: ObjectKey?)
        /// Keep the live pod templates: `holder` is rolling out.
        case wait(holder: ObjectKey)
    }

    public private(set) var hold: Hold?
    /// Pools told to wait since the gate last changed hands (woken when it does).
    public private(set) var waiting: Set<ObjectKey> = []
    /// How long one pool may hold the gate before the next pool asking takes it.
    public var maxHold: Duration

    public init(maxHold: Duration) {
        self.maxHold = maxHold
    }

    /// `pool` asks to roll out an operator-driven template change at `now`.
    public mutating func request(_ pool: ObjectKey, now: ContinuousClock.Instant) -> Decision {
        guard let current = hold else {
            hold = Hold(pool: pool, since: now)
            waiting.remove(pool)
            return .proceed(acquired: true, tookOverFrom: nil)
        }
        if current.pool == pool { return .proceed(acquired: false, tookOverFrom: nil) }
        if now - current.since >= maxHold {
            hold = Hold(pool: pool, since: now)
            waiting.remove(pool)
            return .proceed(acquired: true, tookOverFrom: current.pool)
        }
        waiting.insert(pool)
        return .wait(holder: current.pool)
    }

    /// Whether `pool` holds the gate.
    public func holds(_ pool: ObjectKey) -> Bool { hold?.pool == pool }

    /// `pool` is done (rolled out, stalled, or deleted): frees the gate if it is `pool`'s and
    /// returns the pools to wake. A pool that was only waiting is simply no longer waiting.
    public mutating func release(_ pool: ObjectKey) -> [ObjectKey] {
        waiting.remove(pool)
        guard hold?.pool == pool else { return [] }
        hold = nil
        let woken = waiting.sorted()
        waiting = []
        return woken
    }
}

/// The pure tests the reconciler makes around the gate.
public enum RolloutPolicy {
    /// The `Progressing=False` reason of a pool whose operator-driven rollout waits for the gate.
    public static let queuedReason = "RolloutQueued"

    /// Whether a template change now would be the operator's own doing: the spec did not change
    /// since the last reconcile wrote `status.observedGeneration`. A new pool (no status) and an
    /// edited one are spec-driven.
    public static func isOperatorDriven(_ pool: InferencePool) -> Bool {
        guard let generation = pool.metadata.generation, let observed = pool.status?.observedGeneration else { return false }
        return generation == observed
    }

    /// Whether applying `desired` would change the live Deployment's pod template (and so roll
    /// its pods): some field Tandem sets in the template has another value, or none, live.
    ///
    /// A field a new release stops setting is not seen here (it is absent from `desired`); such
    /// a release must list it in the upgrade notes as rolling ungated.
    public static func changesTemplate(live: Deployment, desired: Deployment) throws -> Bool {
        guard let wanted = desired.spec?.template else { return false }
        guard let current = live.spec?.template else { return true }
        return try !ChildComparison.holds(current, wanted)
    }

    /// `desired` with the live pod template: what a pool waiting for the gate applies, so its
    /// replicas, labels and the rest follow the render while its pods stay as they are.
    public static func holding(_ desired: Deployment, live: Deployment) -> Deployment {
        var held = desired
        held.spec?.template = live.spec?.template
        return held
    }

    /// Whether a Deployment runs its current template on every replica, all available
    /// (`kubectl rollout status`'s test).
    public static func isRolledOut(_ deployment: Deployment) -> Bool {
        let status = deployment.status
        if let generation = deployment.metadata.generation, (status?.observedGeneration ?? 0) < generation { return false }
        // A Deployment without `spec.replicas` runs the API default of 1.
        let wanted = deployment.spec?.replicas ?? 1
        return (status?.updatedReplicas ?? 0) == wanted && (status?.replicas ?? 0) == wanted
            && (status?.availableReplicas ?? 0) == wanted
    }

    /// Whether the Deployment controller gave up waiting for progress (`Progressing=False`,
    /// `ProgressDeadlineExceeded`: no progress for `progressDeadlineSeconds`) on the current
    /// generation: a rollout that will not finish without help.
    public static func isStalled(_ deployment: Deployment) -> Bool {
        if let generation = deployment.metadata.generation, (deployment.status?.observedGeneration ?? 0) < generation { return false }
        return deployment.status?.conditions?.contains {
            $0.type == "Progressing" && $0.status == "False" && $0.reason == "ProgressDeadlineExceeded"
        } ?? false
    }

    /// The `Progressing` message of a waiting pool.
    public static func queuedMessage(holder: ObjectKey) -> String {
        "the operator's own pod-template changes (an upgrade, see docs/install.md's upgrade notes) roll out one pool at a time: waiting for InferencePool \(holder) to finish rolling out; a spec edit of this pool is applied at once"
    }
}

/// The gate shared by every controller of one operator process (one per watched namespace),
/// and the wake-up of waiting pools when it changes hands.
///
/// In memory: a new leader starts with a free gate, so a pool that was rolling when leadership
/// moved may overlap with the next one.
public final class RolloutGate: Sendable {
    /// How long one pool may hold the gate by default: two progress deadlines of the tier
    /// Deployments (Renderer's `progressDeadlineSeconds`, 3600 s). A pool that never becomes
    /// Ready is usually released sooner, when Kubernetes reports its rollout stalled
    /// (``RolloutPolicy/isStalled(_:)``); the bound covers one that keeps making slow progress.
    public static let defaultMaxHold: Duration = .seconds(7200)
    /// How often a waiting pool looks again even without a wake-up (a missed wake-up, and the
    /// holder's ``RolloutGateState/maxHold`` running out, are noticed this way).
    public static let recheck: Duration = .seconds(60)

    private let state: Mutex<RolloutGateState>
    private let listeners = Mutex<[(namespace: String?, wake: @Sendable (ObjectKey) async -> Void)]>([])

    public init(maxHold: Duration = RolloutGate.defaultMaxHold) {
        state = Mutex(RolloutGateState(maxHold: maxHold))
    }

    public func request(_ pool: ObjectKey) -> RolloutGateState.Decision {
        let now = ContinuousClock.now
        return state.withLock { $0.request(pool, now: now) }
    }

    public func holds(_ pool: ObjectKey) -> Bool { state.withLock { $0.holds(pool) } }

    /// Frees the gate if `pool` holds it and wakes the pools that waited.
    public func release(_ pool: ObjectKey) async {
        let woken = state.withLock { $0.release(pool) }
        guard !woken.isEmpty else { return }
        let handlers = listeners.withLock { $0 }
        for key in woken {
            for handler in handlers where handler.namespace == nil || handler.namespace == key.namespace {
                await handler.wake(key)
            }
        }
    }

    /// Calls `wake` with each waiting pool of `namespace` (nil: all) when the gate is freed.
    public func onRelease(namespace: String?, _ wake: @escaping @Sendable (ObjectKey) async -> Void) {
        listeners.withLock { $0.append((namespace, wake)) }
    }
}
