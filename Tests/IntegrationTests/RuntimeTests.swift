import AsyncHTTPClient
import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import KubeTestSupport
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing

/// The demo controller: every ConfigMap labelled `demo=source` owns a copy of itself,
/// `<name>-copy`, written by server-side apply and garbage-collected with it.
func demoReconcile(client: KubernetesClient, recorder: EventRecorder)
    -> @Sendable (ConfigMap, ReconcileContext) async throws -> ReconcileAction
{
    { source, context in
        guard let name = source.metadata.name, let owner = source.controllerReference() else { return .awaitChange }
        let copies = client.resources(ConfigMap.self, namespace: source.metadata.namespace)
        let copy = ConfigMap(
            metadata: ObjectMeta(name: "\(name)-copy", labels: ["demo": "copy"], ownerReferences: [owner]),
            data: source.data ?? [:])
        _ = try await copies.apply(copy, fieldManager: "demo-controller", force: true)
        await recorder.record(source, type: .normal, reason: "Copied", action: "Copy", note: "copied to \(name)-copy")
        context.logger.debug("copied")
        return .awaitChange
    }
}

/// Reads one sample's value from Prometheus text (`name{labels} value`).
func sample(_ text: String, _ name: String, _ labels: String = "") -> Double? {
    for line in text.split(separator: "\n") where !line.hasPrefix("#") {
        let parts = line.split(separator: " ")
        guard parts.count >= 2 else { continue }
        let series = String(parts[0])
        guard series.hasPrefix(name) else { continue }
        let rest = series.dropFirst(name.count)
        if labels.isEmpty ? (rest.isEmpty || rest.hasPrefix("{")) : (rest.hasPrefix("{") && labels.split(separator: ",").allSatisfy { rest.contains($0) }) {
            return Double(parts[1])
        }
    }
    return nil
}

/// Leader election for tests about the runtime, not the election: a busy machine's slow API
/// server must not end a term midway (LeaderElectionTests test the real timings).
let roomyElection = LeaderElectionTiming(leaseDuration: .seconds(60), renewDeadline: .seconds(40), retryPeriod: .seconds(2))

@Suite("Controller runtime against a real API server")
struct RuntimeTests {
    @Test func demoControllerWithMetricsProbesEventsAndGracefulShutdown() async throws {
        let cluster = try await TestCluster.shared()
        try await cluster.withNamespace("demo") { admin, namespace in
            let metrics = RuntimeMetrics()
            let client = try KubernetesClient(
                configuration: try ClientConfiguration.fromKubeconfig(path: cluster.kubeconfigPath),
                observer: { metrics.request($0) })
            let recorder = EventRecorder(client: client, reportingController: "tandem.test/demo", reportingInstance: "test-1")
            let configMaps = client.resources(ConfigMap.self, namespace: namespace)
            let controller = Controller(
                name: "demo", configMaps, listOptions: ListOptions(labelSelector: "demo=source"), metrics: metrics)
            controller.owns(configMaps, listOptions: ListOptions(labelSelector: "demo=copy"))
            // Roomy timings: this test is about the runtime, and a busy machine's slow API server
            // must not end its term midway (LeaderElectionTests cover the timings themselves).
            let elector = LeaderElector(client: client, namespace: namespace, leaseName: "demo-controller", identity: "test-1",
                                        timing: roomyElection, metrics: metrics)
            let health = HealthServer(metrics: metrics)
            let runtime = OperatorRuntime(
                controllers: [ControllerRegistration(controller, reconcile: demoReconcile(client: client, recorder: recorder))],
                elector: elector, gracePeriod: .seconds(5), health: health)

            // The HTTP endpoint first: not ready until the caches sync.
            let port = Mutex<Int>(0)
            let app = health.application(host: "127.0.0.1", port: 0) { bound in port.withLock { $0 = bound } }
            let group = ServiceGroup(configuration: .init(services: [.init(service: app)], logger: Logger(label: "test")))
            let serving = Task { try await group.run() }
            _ = try await eventually("the health server to listen") { port.withLock { $0 } > 0 ? true : nil }
            let base = "http://127.0.0.1:\(port.withLock { $0 })"
            let http = HTTPClient()
            func get(_ path: String) async throws -> (Int, String) {
                // A bound on a failure: the probes answer at once, a loaded machine late.
                let response = try await http.execute(HTTPClientRequest(url: base + path), timeout: .seconds(30))
                let body = try await response.body.collect(upTo: 8 << 20)
                return (Int(response.status.code), String(buffer: body))
            }
            let runtimeGroup = ServiceGroup(configuration: .init(
                services: [.init(service: runtime)], gracefulShutdownSignals: [], logger: Logger(label: "test")))
            let running = Mutex<Task<Void, any Error>?>(nil)
            // Whatever fails below, the clients are shut down (an HTTPClient dropped unshut
            // stops the whole test process) before the failure is reported.
            do {
                #expect(try await get("/healthz").0 == 200)
                let notReady = try await get("/readyz")
                #expect(notReady.0 == 503)
                #expect(notReady.1.contains("informers"))
                running.withLock { $0 = Task { try await runtimeGroup.run() } }

                _ = try await eventually("/readyz to answer 200") { try await get("/readyz").0 == 200 ? true : nil }
                _ = try await eventually("leadership") { elector.isLeader ? true : nil }

                // Primary → owned copy.
                _ = try await admin.resources(ConfigMap.self, namespace: namespace).create(
                    ConfigMap(metadata: ObjectMeta(name: "app", labels: ["demo": "source"]), data: ["k": "1"]))
                let copy = try await eventually("the copy") { try await configMaps.getIfExists("app-copy") }
                #expect(copy.data == ["k": "1"])
                #expect(copy.metadata.ownerReferences?.first?.controller == true)
                // The metric moves when the reconcile returns, a moment after its write is visible.
                let reconcilesBefore = try await eventually("a counted reconcile") { () -> Double? in
                    let value = sample(try await get("/metrics").1, "controller_runtime_reconcile_total", #"controller="demo",result="success""#) ?? 0
                    return value >= 1 ? value : nil
                }

                // A change to the primary flows to the copy; a deleted copy is recreated (owned watch).
                _ = try await configMaps.patch("app", .merge(["data": ["k": "2"]]))
                _ = try await eventually("the copy to follow") { try await configMaps.get("app-copy").data?["k"] == "2" ? true : nil }
                try await configMaps.delete("app-copy")
                _ = try await eventually("the copy to come back") { try await configMaps.getIfExists("app-copy") }

                // Metrics by controller-runtime's names, moving.
                let after = try await eventually("more counted reconciles") { () -> String? in
                    let text = try await get("/metrics").1
                    let value = sample(text, "controller_runtime_reconcile_total", #"controller="demo",result="success""#) ?? 0
                    return value > reconcilesBefore ? text : nil
                }
                for name in ["controller_runtime_reconcile_total", "controller_runtime_reconcile_errors_total",
                             "controller_runtime_reconcile_time_seconds_bucket", "controller_runtime_active_workers",
                             "workqueue_depth", "workqueue_adds_total", "workqueue_queue_duration_seconds_bucket",
                             "workqueue_work_duration_seconds_bucket", "workqueue_retries_total",
                             "leader_election_master_status", "rest_client_requests_total",
                             "rest_client_request_duration_seconds_bucket"] {
                    #expect(after.contains(name), "/metrics lacks \(name)")
                }
                #expect((sample(after, "controller_runtime_reconcile_total", #"controller="demo",result="success""#) ?? 0) > reconcilesBefore)
                #expect((sample(after, "workqueue_adds_total", #"name="demo""#) ?? 0) >= 3)
                #expect(sample(after, "leader_election_master_status", #"name="demo-controller""#) == 1)
                #expect((sample(after, "rest_client_requests_total", #"verb="PATCH",code="200""#) ?? 0) >= 2)

                // Repeated reconciles fold into one Event with a series, not new objects.
                let events = try await eventually("the Copied event series") { () -> [Event]? in
                    let list = try await admin.resources(Event.self, namespace: namespace).list().items.filter { $0.reason == "Copied" }
                    return list.count == 1 && (list[0].series?.count ?? 0) >= 2 ? list : nil
                }
                #expect(events[0].regarding?.name == "app")
                #expect(events[0].reportingController == "tandem.test/demo")

                // Deleting the owner: the real kube-controller-manager garbage-collects the copy.
                try await configMaps.delete("app", options: DeleteOptions(propagationPolicy: .background))
                _ = try await eventually("garbage collection of the copy") {
                    try await configMaps.getIfExists("app-copy") == nil ? true : nil
                }

                // Graceful shutdown: stop taking work, release the lease, return normally.
                await runtimeGroup.triggerGracefulShutdown()
                try await running.withLock { $0 }?.value
                #expect(!elector.isLeader)
                let lease = try await admin.resources(Lease.self, namespace: namespace).get("demo-controller")
                #expect(lease.spec?.holderIdentity == nil, "the lease was not released on graceful shutdown")
            } catch {
                await runtimeGroup.triggerGracefulShutdown()
                _ = await running.withLock { $0 }?.result
                await group.triggerGracefulShutdown()
                _ = await serving.result
                try? await http.shutdown()
                try? await client.shutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await serving.value
            try await http.shutdown()
            try await client.shutdown()
        }
    }
}

@Suite("Graceful shutdown of the controller runtime")
struct GracefulShutdownTests {
    /// Runs a controller whose reconcile takes `reconcileTime`, asks for a graceful shutdown while
    /// it runs, and reports whether the reconcile finished and how long shutdown took.
    func shutdownDuring(reconcileTime: Duration, grace: Duration) async throws -> (finished: Bool, took: Duration) {
        let cluster = try await TestCluster.shared()
        return try await cluster.withNamespace("grace") { client, namespace in
            let configMaps = client.resources(ConfigMap.self, namespace: namespace)
            let started = Atomic<Bool>(false)
            let finished = Atomic<Bool>(false)
            let controller = Controller(name: "slow", configMaps, listOptions: ListOptions(labelSelector: "slow=yes"))
            let runtime = OperatorRuntime(
                controllers: [ControllerRegistration(controller) { _, _ in
                    started.store(true, ordering: .relaxed)
                    try await Task.sleep(for: reconcileTime)
                    finished.store(true, ordering: .relaxed)
                    return .awaitChange
                }],
                elector: LeaderElector(client: client, namespace: namespace, leaseName: "slow", identity: "only", timing: roomyElection),
                gracePeriod: grace)
            let group = ServiceGroup(configuration: .init(services: [.init(service: runtime)], gracefulShutdownSignals: [], logger: Logger(label: "test")))
            let running = Task { try await group.run() }
            _ = try await configMaps.create(ConfigMap(metadata: ObjectMeta(name: "x", labels: ["slow": "yes"])))
            _ = try await eventually("the reconcile to start") { started.load(ordering: .relaxed) ? true : nil }
            let shutdownAt = ContinuousClock.now
            await group.triggerGracefulShutdown()
            try await running.value
            let took = ContinuousClock.now - shutdownAt
            let lease = try await client.resources(Lease.self, namespace: namespace).get("slow")
            #expect(lease.spec?.holderIdentity == nil, "the lease was not released")
            return (finished.load(ordering: .relaxed), took)
        }
    }

    @Test func runningReconcileFinishesWithinTheGracePeriod() async throws {
        let (finished, took) = try await shutdownDuring(reconcileTime: .seconds(2), grace: .seconds(20))
        #expect(finished, "the running reconcile was cut short")
        #expect(took < .seconds(20), "shutdown took \(took), past its 20 s grace period")
    }

    @Test func reconcilePastTheGracePeriodIsCancelled() async throws {
        let (finished, took) = try await shutdownDuring(reconcileTime: .seconds(60), grace: .seconds(1))
        #expect(!finished)
        // Far below the reconcile's 60 s: it was cut, not waited for.
        #expect(took < .seconds(30), "shutdown took \(took) with a 1 s grace period")
    }
}
