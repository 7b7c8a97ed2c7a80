import KubeClient
import KubeCore
import Logging
import ServiceLifecycle
import Synchronization

/// Something ``OperatorRuntime`` runs: caches always, workers only while leading.
public protocol RuntimeController: Sendable {
    var name: String { get }
    var hasSynced: Bool { get }
    /// How long the oldest running reconcile has been running (`nil`: none runs).
    var oldestReconcileAge: Duration? { get }
    /// How long since the API server last answered each informer, by resource.
    var informerSilence: [String: Duration] { get }
    func runInformers() async
    func runWorkers() async
    func shutDown() async
}

/// A controller together with its reconcile function, ready for an ``OperatorRuntime``.
public struct ControllerRegistration<Primary: KubernetesResource>: RuntimeController {
    public let controller: Controller<Primary>
    let reconcile: @Sendable (Primary, ReconcileContext) async throws -> ReconcileAction

    /// - Parameter onDeleted: called with the key of each object gone from the cache
    ///   (``Controller/onDeleted(_:)``), to drop what the process keeps per object.
    public init(_ controller: Controller<Primary>,
                reconcile: @escaping @Sendable (Primary, ReconcileContext) async throws -> ReconcileAction,
                onDeleted: (@Sendable (ObjectKey) async -> Void)? = nil) {
        self.controller = controller
        self.reconcile = reconcile
        if let onDeleted { controller.onDeleted(onDeleted) }
    }

    public var name: String { controller.name }
    public var hasSynced: Bool { controller.hasSynced }
    public var oldestReconcileAge: Duration? { controller.oldestReconcileAge }
    public var informerSilence: [String: Duration] { controller.informerSilence }
    public func runInformers() async { await controller.runInformers() }
    public func runWorkers() async { await controller.runWorkers(reconcile: reconcile) }
    public func shutDown() async { await controller.shutDown() }
}

/// Runs a set of controllers as one operator process (controller-runtime's manager):
///
/// - every controller's caches start at once, so `/readyz` can report them synced;
/// - workers run only while this process holds the leader-election lease (when configured);
/// - on graceful shutdown (SIGTERM through swift-service-lifecycle) no new work is taken,
///   running reconciles get ``gracePeriod`` to finish, the lease is released, and ``run()``
///   returns normally (exit 0).
///
/// Losing the lease stops the workers and makes ``run()`` throw, so the process exits and is
/// restarted by its Deployment, as controller-runtime does.
public final class OperatorRuntime: ServiceLifecycle.Service {
    public let controllers: [any RuntimeController]
    public let elector: LeaderElector?
    /// How long running reconciles may take to finish after a shutdown request.
    public let gracePeriod: Duration
    let logger: Logger
    private let shuttingDown = Atomic<Bool>(false)

    public init(controllers: [any RuntimeController], elector: LeaderElector?, gracePeriod: Duration = .seconds(30),
                health: HealthServer? = nil, liveness: LivenessPolicy = LivenessPolicy(),
                logger: Logger = Logger(label: "kube.runtime")) {
        self.controllers = controllers
        self.elector = elector
        self.gracePeriod = gracePeriod
        self.logger = logger
        health?.addReadinessCheck("informers") { [controllers] in controllers.allSatisfy(\.hasSynced) }
        // Liveness: a leader whose reconcile has hung, or whose caches have not heard from the
        // API server for too long, fails /healthz so the kubelet restarts it and the standby
        // takes over; a follower is alive as long as it answers.
        health?.setLivenessCheck { [controllers, elector, liveness] in
            var ages: [String: Duration] = [:]
            var silences: [String: Duration] = [:]
            for controller in controllers {
                if let age = controller.oldestReconcileAge { ages[controller.name] = age }
                for (resource, silence) in controller.informerSilence {
                    silences[resource] = max(silences[resource] ?? .zero, silence)
                }
            }
            return liveness.failures(leading: elector?.isLeader ?? true,
                                     LivenessPolicy.Observation(oldestReconcile: ages, informerSilence: silences))
        }
    }

    /// Whether every controller's caches have synced.
    public var hasSynced: Bool { controllers.allSatisfy(\.hasSynced) }

    public func run() async throws {
        let controllers = self.controllers
        let informers = Task {
            await withTaskGroup(of: Void.self) { group in
                for controller in controllers { group.addTask { await controller.runInformers() } }
            }
        }
        defer { informers.cancel() }
        let workers = Task { [elector] in
            let runAll: @Sendable () async -> Void = {
                await withTaskGroup(of: Void.self) { group in
                    for controller in controllers { group.addTask { await controller.runWorkers() } }
                }
            }
            if let elector {
                try await elector.run(whileLeading: runAll)
            } else {
                await runAll()
            }
        }
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await workers.value
            } onCancel: {
                workers.cancel()
            }
        } onGracefulShutdown: { [gracePeriod, logger] in
            logger.info("graceful shutdown: finishing running reconciles (up to \(gracePeriod))")
            Task {
                for controller in controllers { await controller.shutDown() }
                try? await Task.sleep(for: gracePeriod)
                workers.cancel()
            }
        }
        logger.info("stopped")
    }
}
