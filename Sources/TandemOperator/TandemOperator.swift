import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import Logging
import Rendering
import Routing
import TandemAPI

/// How `tandem operator` runs.
public struct OperatorOptions: Sendable {
    /// Namespaces to watch; empty watches all.
    public var namespaces: [String]
    public var leaderElection: Bool
    /// Where the leader-election Lease lives.
    public var leaseNamespace: String
    public var leaseName: String
    public var identity: String
    /// Lease duration, renew deadline and retry period (validated by the caller).
    public var leaderElectionTiming: LeaderElectionTiming = LeaderElectionTiming()
    /// The term the client's `writeGate` consults; the elector moves it (see ``LeadershipFence``).
    public var leadershipFence: LeadershipFence?
    public var workers: Int
    public var resyncPeriod: Duration
    /// The router's images and config apiVersion (the rest is discovered).
    public var router: RouterOptions
    /// How soon discovery is asked again after the Gateway API Inference Extension was not
    /// served (pools with a router are requeued after it).
    public var discoveryRecheck: Duration
    /// How long one pool may hold the one-pool-at-a-time gate of operator-driven rollouts
    /// (``RolloutGate``).
    public var rolloutHoldLimit: Duration = RolloutGate.defaultMaxHold

    public init(namespaces: [String] = [], leaderElection: Bool = true, leaseNamespace: String = "default",
                leaseName: String = "tandem-operator",
                identity: String = "\(ProcessInfo.processInfo.hostName)_\(UUID().uuidString.prefix(8).lowercased())",
                workers: Int = 2, resyncPeriod: Duration = .seconds(3600), router: RouterOptions = RouterOptions(),
                discoveryRecheck: Duration = .seconds(30)) {
        self.namespaces = namespaces
        self.leaderElection = leaderElection
        self.leaseNamespace = leaseNamespace
        self.leaseName = leaseName
        self.identity = identity
        self.workers = workers
        self.resyncPeriod = resyncPeriod
        self.router = router
        self.discoveryRecheck = discoveryRecheck
    }
}

/// Assembles Tandem's controllers on KubeRuntime: one InferencePool controller per watched
/// namespace (or one for all), owning Deployments, Services and the router's ConfigMaps,
/// ServiceAccounts, Roles and RoleBindings, watching Nodes for accelerator inference.
public enum TandemOperator {
    /// The name Events are reported under.
    public static let reportingController = "tandem.x-k8s.io/operator"

    public static func makeRuntime(
        client: KubernetesClient, options: OperatorOptions, metrics: RuntimeMetrics, health: HealthServer?,
        autoscaler: Autoscaler? = nil, logger: Logger = Logger(label: "tandem")
    ) -> OperatorRuntime {
        let recorder = EventRecorder(client: client, reportingController: reportingController, reportingInstance: options.identity)
        let scopes: [String?] = options.namespaces.isEmpty ? [nil] : options.namespaces.map { Optional($0) }
        var registrations: [any RuntimeController] = []
        let managed = ListOptions(labelSelector: "\(PoolLabels.managedBy)=tandem")
        let discovery = APIDiscovery(client: client, absentTTL: options.discoveryRecheck)
        // One gate for the whole process: pools of every watched namespace roll one at a time.
        let rolloutGate = RolloutGate(maxHold: options.rolloutHoldLimit)
        for scope in scopes {
            let name = scope.map { "inferencepool-\($0)" } ?? "inferencepool"
            let controller = Controller(
                name: name, client.resources(InferencePool.self, namespace: scope),
                configuration: ControllerConfiguration(workers: options.workers, resyncPeriod: options.resyncPeriod),
                metrics: metrics, logger: logger)
            let deployments = controller.owns(client.resources(Deployment.self, namespace: scope), listOptions: managed)
            let services = controller.owns(client.resources(Service.self, namespace: scope), listOptions: managed)
            let pools = controller.primary.store
            // A pool the types cannot decode is left out of the cache (the others go on): say so
            // on the pool itself and in `tandem_undecodable_objects`.
            controller.primary.report(to: metrics)
            controller.primary.onUndecodable { pool in
                Task { await recorder.record(undecodablePool: pool) }
            }
            // Nodes matter to pools that name no accelerator (it is inferred from their labels).
            let nodes = controller.watches(client.resources(Node.self)) { _ in
                pools.list().filter { $0.spec?.accelerator == nil }.map { ObjectKey($0) }
            }
            // The autoscaler reads the pools' pods: their readiness, addresses and scheduling.
            let pods = autoscaler.map { _ in
                controller.watches(client.resources(Pod.self, namespace: scope), listOptions: managed) { pod in
                    Autoscaler.pools(of: pod, in: pools)
                }
            }
            let router = RouterStores(
                configMaps: controller.owns(client.resources(ConfigMap.self, namespace: scope), listOptions: managed),
                serviceAccounts: controller.owns(client.resources(ServiceAccount.self, namespace: scope), listOptions: managed),
                roles: controller.owns(client.resources(Role.self, namespace: scope), listOptions: managed),
                roleBindings: controller.owns(client.resources(RoleBinding.self, namespace: scope), listOptions: managed),
                discovery: discovery, options: options.router)
            let reconciler = PoolReconciler(client: client, deployments: deployments, services: services, nodes: nodes,
                                            pods: pods, recorder: recorder, autoscaler: autoscaler,
                                            scalingMetrics: autoscaler.map { _ in ScalingMetrics(registry: metrics.registry) },
                                            router: router, rolloutGate: rolloutGate)
            rolloutGate.onRelease(namespace: scope) { key in await controller.enqueue(key) }
            // A fresh metrics sample brings its pool back; a deleted pool's state is dropped.
            autoscaler?.onSample(namespace: scope) { key in await controller.enqueue(key) }
            registrations.append(ControllerRegistration(controller, reconcile: reconciler.reconcile, onDeleted: { key in
                reconciler.forget(key)
                await rolloutGate.release(key)
            }))
        }
        let elector = options.leaderElection
            ? LeaderElector(client: client, namespace: options.leaseNamespace, leaseName: options.leaseName,
                            identity: options.identity, timing: options.leaderElectionTiming,
                            fence: options.leadershipFence, metrics: metrics, logger: logger)
            : nil
        return OperatorRuntime(controllers: registrations, elector: elector, health: health, logger: logger)
    }
}

extension EventRecorder {
    /// Event reason for a pool the operator cannot read.
    public static let undecodableSpecReason = "UndecodableSpec"

    /// Records a Warning Event on a pool the operator cannot decode, from its raw metadata.
    func record(undecodablePool pool: UndecodableObject) async {
        let field = pool.fieldPath.isEmpty ? "the object" : pool.fieldPath
        await record(
            regarding: pool.reference, type: .warning, reason: Self.undecodableSpecReason, action: "Decoding",
            note: "Tandem cannot read this pool and ignores it until it is fixed: \(field): \(pool.reason). "
                + "Correct the value at \(field) (kubectl edit) or delete the pool; other pools are not affected.")
    }
}
