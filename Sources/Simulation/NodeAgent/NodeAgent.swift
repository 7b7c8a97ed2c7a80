import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import Logging
import Sizing
import Synchronization

/// Starts and stops the model server of one pod (the container runtime of the node agent).
public protocol ModelServerLauncher: Sendable {
    /// Starts serving `pod`, bound to `node`, on `address:port` and returns once it listens.
    func start(pod: Pod, node: EmulatedNode, address: String, port: Int) async throws -> any ModelServerHandle
}

/// A running model server.
public protocol ModelServerHandle: Sendable {
    /// Stops it: in-flight requests end, the address is free afterwards.
    func stop() async

    /// Stops it as the kubelet stops a container: gracefully (SIGTERM) at once, and hard
    /// (SIGKILL) when `grace` has passed, whatever is still in flight.
    func stop(grace: Duration) async

    /// Makes its `/metrics` show `fault` (the pod's ``MetricsFault/annotation``) from now on.
    func setMetricsFault(_ fault: MetricsFault)
}

extension ModelServerHandle {
    /// Servers without a hard stop stop gracefully, however long that takes.
    public func stop(grace: Duration) async { await stop() }

    /// Servers that cannot break their metrics on purpose ignore faults.
    public func setMetricsFault(_ fault: MetricsFault) {}
}

/// How long an emulated model server takes to load its weights before the pod turns Ready.
public struct StartupDelay: Sendable {
    let delay: @Sendable (Pod) -> Duration

    public init(_ delay: @escaping @Sendable (Pod) -> Duration) {
        self.delay = delay
    }

    /// The same delay for every pod.
    public static func fixed(_ duration: Duration) -> StartupDelay { StartupDelay { _ in duration } }

    /// `base` plus `perGiB` for every GiB of weights each device loads (the model from the
    /// pod's `--model`, split over its tensor-parallel devices), so a 70B model takes longer to
    /// come up than an 8B one, as real servers do.
    public static func byModelSize(base: Duration, perGiB: Duration) -> StartupDelay {
        StartupDelay { pod in
            let args = pod.spec?.containers?.first?.args ?? []
            let model = args.first { $0.hasPrefix("--model=") }.map { String($0.dropFirst("--model=".count)) }
            guard let model, let profile = ModelCatalog.builtIn.profile(for: model) else { return base }
            let tp = args.first { $0.hasPrefix("--tensor-parallel-size=") }.flatMap { Int($0.dropFirst("--tensor-parallel-size=".count)) } ?? 1
            let gib = Double(profile.weightsBytes(dtype: profile.weightsDType)) / Double(max(1, tp)) / Double(1 << 30)
            return base + perGiB * gib
        }
    }
}

/// Plays the kubelet for emulated GPU (and CPU) nodes: registers them, keeps them Ready (node
/// Lease and status heartbeats), and for every model-server or endpoint-picker pod the real
/// scheduler binds to them starts its emulation (vLLM, with llm-d's routing sidecar when the pod
/// has one; llm-d's endpoint picker) on a loopback address of its own and reports the pod Running
/// and Ready with that IP once everything the pod runs listens. A deleted pod's server stops
/// after its grace period (capped), and the pod object is then removed, as a kubelet does. Other
/// pods are left alone. A pod's ``MetricsFault/annotation`` is passed to its server whenever it
/// changes.
///
/// RBAC (as a kubelet): nodes (create, get, patch, patch status), leases in `kube-node-lease`,
/// pods (list, watch, patch status, delete); for endpoint-picker pods, ConfigMaps (get: the
/// config volume) and `serviceaccounts/token` (create: the picker runs with its account's token).
public final class NodeAgent: Sendable {
    public let nodes: [EmulatedNode]
    let client: KubernetesClient
    let launcher: any ModelServerLauncher
    let startupDelay: StartupDelay
    /// kubelet renews its node Lease every 10 s (a quarter of the 40 s lease).
    let leaseRenewal: Duration
    /// A deleted pod's server stops after its grace period or this, whichever is shorter.
    let maxTerminationGrace: Duration
    let addresses: LoopbackAddresses
    let running = Mutex<[String: RunningPod]>([:])
    let logger: Logger

    struct RunningPod: Sendable {
        var address: String
        var handle: (any ModelServerHandle)?
        var ready: Bool
        var stopping: Bool
        /// What the pod's annotation asks `/metrics` to show; the handle is kept in step.
        var fault: MetricsFault
    }

    public init(client: KubernetesClient, nodes: [EmulatedNode], launcher: any ModelServerLauncher,
                startupDelay: StartupDelay = .fixed(.seconds(2)), leaseRenewal: Duration = .seconds(10),
                maxTerminationGrace: Duration = .seconds(5), addresses: LoopbackAddresses = .shared,
                logger: Logger = Logger(label: "tandem.node-agent")) {
        self.addresses = addresses
        self.client = client
        self.nodes = nodes
        self.launcher = launcher
        self.startupDelay = startupDelay
        self.leaseRenewal = leaseRenewal
        self.maxTerminationGrace = maxTerminationGrace
        self.logger = logger
    }

    /// The loopback address of each pod served now, by pod UID.
    public var servedAddresses: [String: String] {
        running.withLock { $0.mapValues(\.address) }
    }

    /// Registers the nodes, then heartbeats and serves pods until cancelled; stops every server
    /// it started on the way out.
    public func run() async throws {
        try await register()
        let names = Set(nodes.map(\.name))
        let controller = Controller(name: "node-agent", client.resources(Pod.self),
                                    configuration: ControllerConfiguration(workers: 4, resyncPeriod: .seconds(60)),
                                    logger: logger)
        controller.primary.subscribe { [weak self] change in
            // A pod gone from the API (force-deleted) still has a server to stop.
            if case .deleted(let pod) = change, let uid = pod.metadata.uid, let self {
                Task { await self.release(uid: uid) }
            }
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.heartbeats() }
            group.addTask {
                await controller.run { pod, _ in
                    guard let node = pod.spec?.nodeName, names.contains(node) else { return .awaitChange }
                    return try await self.reconcile(pod)
                }
            }
        }
        for uid in running.withLock({ Array($0.keys) }) { await release(uid: uid) }
    }

    func register() async throws {
        for node in nodes {
            try await node.register(with: client)
            logger.info("registered node \(node.name) with \(node.accelerator.map { "\(node.devices) \($0.name)" } ?? "no accelerator")")
        }
    }

    func heartbeats() async {
        let leases = client.resources(Lease.self, namespace: "kube-node-lease")
        var beat = 0
        while !Task.isCancelled {
            for node in nodes {
                do {
                    let spec = LeaseSpec(holderIdentity: node.name, leaseDurationSeconds: 40, renewTime: MicroTime(Date()))
                    if var lease = try await leases.getIfExists(node.name) {
                        lease.spec = spec
                        _ = try await leases.replace(lease)
                    } else {
                        _ = try await leases.create(Lease(metadata: ObjectMeta(name: node.name, namespace: "kube-node-lease"), spec: spec))
                    }
                    // Status (the Ready heartbeat) every third beat, as kubelets post it less often than leases.
                    if beat % 3 == 0 { _ = try await client.resources(Node.self).patchStatus(node.name, .merge(node.statusPatch(now: Date()))) }
                } catch {
                    logger.warning("heartbeat of \(node.name) failed: \(error)")
                }
            }
            beat += 1
            try? await Task.sleep(for: leaseRenewal)
        }
    }

    /// Whether the pod runs a model server Tandem renders (or llm-d labels).
    static func isModelServer(_ pod: Pod) -> Bool {
        pod.metadata.labels?["llm-d.ai/role"] != nil || pod.spec?.containers?.contains { $0.name == "vllm" } == true
    }

    /// Whether the agent runs the pod: a model server or llm-d's endpoint picker.
    static func runsHere(_ pod: Pod) -> Bool {
        isModelServer(pod) || EndpointPickerPod.isEndpointPicker(pod)
    }

    func reconcile(_ pod: Pod) async throws -> ReconcileAction {
        guard let uid = pod.metadata.uid, let name = pod.metadata.name, let namespace = pod.metadata.namespace else {
            return .awaitChange
        }
        let pods = client.resources(Pod.self, namespace: namespace)
        if pod.metadata.deletionTimestamp != nil {
            let grace = min(Duration.seconds(pod.metadata.deletionGracePeriodSeconds ?? 30), maxTerminationGrace)
            let first = running.withLock { table -> Bool in
                guard table[uid]?.stopping == false else { return table[uid] == nil }
                table[uid]?.stopping = true
                return true
            }
            guard first else { return .awaitChange }
            await release(uid: uid, grace: grace)
            // The kubelet's last word: the pod object goes once its containers are gone.
            _ = try? await pods.delete(name, options: DeleteOptions(gracePeriodSeconds: 0, preconditions: .init(uid: uid)))
            return .awaitChange
        }
        guard Self.runsHere(pod) else { return .awaitChange }
        applyFault(of: pod, uid: uid)
        if let known = running.withLock({ $0[uid] }), known.ready {
            if pod.status?.podIP == known.address && pod.status?.phase == "Running" { return .awaitChange }
            try await reportRunning(pod, address: known.address)
            return .awaitChange
        }
        if running.withLock({ $0[uid] }) != nil { return .awaitChange }  // starting
        guard let address = addresses.take() else {
            logger.error("no loopback address left for \(namespace)/\(name)")
            return .requeue(after: .seconds(5))
        }
        running.withLock {
            $0[uid] = RunningPod(address: address, handle: nil, ready: false, stopping: false,
                                 fault: MetricsFault(annotations: pod.metadata.annotations))
        }
        // vLLM's port: its container's `metrics` port (8200 behind llm-d's routing sidecar).
        let server = pod.spec?.containers?.first { $0.name == "vllm" } ?? pod.spec?.containers?.first
        let port = Int(server?.ports?.first { $0.name == "metrics" }?.containerPort ?? server?.ports?.first?.containerPort ?? 8000)
        // Start in the background: loading weights takes a while and must not hold a worker.
        // The address stays this task's until the handle is attached: a pod released while its
        // server starts has no handle to stop, so `release` leaves the address to this task,
        // which returns it once the server it started is stopped (returned earlier, it went to
        // the next pod while still bound: "Address already in use").
        Task {
            var attached = false
            do {
                guard let node = nodes.first(where: { $0.name == pod.spec?.nodeName }) else {
                    await release(uid: uid)
                    addresses.give(back: address)
                    return
                }
                let handle = try await launcher.start(pod: pod, node: node, address: address, port: port)
                attached = running.withLock { table -> Bool in
                    guard let fault = table[uid]?.fault else { return false }
                    table[uid]?.handle = handle
                    // Under the lock, so that a later annotation change cannot be overtaken.
                    handle.setMetricsFault(fault)
                    return true
                }
                guard attached else {  // deleted while starting
                    await handle.stop()
                    addresses.give(back: address)
                    return
                }
                try await Task.sleep(for: startupDelay.delay(pod))
                guard running.withLock({ $0[uid].map { !$0.stopping } ?? false }) else { return }
                try await reportRunning(pod, address: address)
                running.withLock { $0[uid]?.ready = true }
                logger.info("pod \(namespace)/\(name) is serving on \(address):\(port)")
            } catch {
                logger.error("starting the server of \(namespace)/\(name) failed: \(error)")
                await release(uid: uid)
                if !attached { addresses.give(back: address) }
            }
        }
        return .awaitChange
    }

    /// Brings a started (or starting) server's metrics fault in line with the pod's annotation.
    func applyFault(of pod: Pod, uid: String) {
        let fault = MetricsFault(annotations: pod.metadata.annotations)
        if !MetricsFault.isKnown(annotations: pod.metadata.annotations) {
            logger.warning("pod \(pod.metadata.namespace ?? "")/\(pod.metadata.name ?? ""): \(MetricsFault.annotation) names no fault; serving normally")
        }
        let changed = running.withLock { table -> Bool in
            guard let entry = table[uid], entry.fault != fault else { return false }
            table[uid]?.fault = fault
            entry.handle?.setMetricsFault(fault)  // under the lock: changes reach the server in order
            return true
        }
        if changed {
            logger.info("pod \(pod.metadata.namespace ?? "")/\(pod.metadata.name ?? ""): /metrics fault \(fault.rawValue)")
        }
    }

    func reportRunning(_ pod: Pod, address: String) async throws {
        let now = JSONValue.string(KubeTime(Date()).description)
        let condition = { (type: String) -> JSONValue in ["type": .string(type), "status": "True", "lastTransitionTime": now] }
        let containers: [JSONValue] = (pod.spec?.containers ?? []).map { container in
            ["name": .string(container.name ?? ""), "ready": true, "started": true, "restartCount": 0,
             "image": .string(container.image ?? ""), "imageID": "", "containerID": .string("tandem://\(pod.metadata.uid ?? "")"),
             "state": ["running": ["startedAt": now]]]
        }
        // Native sidecars (init containers with restartPolicy Always) run beside the others.
        let initContainers: [JSONValue] = (pod.spec?.initContainers ?? []).map { container in
            ["name": .string(container.name ?? ""), "ready": true, "started": true, "restartCount": 0,
             "image": .string(container.image ?? ""), "imageID": "", "containerID": .string("tandem://\(pod.metadata.uid ?? "")"),
             "state": ["running": ["startedAt": now]]]
        }
        _ = try await client.resources(Pod.self, namespace: pod.metadata.namespace).patchStatus(
            pod.metadata.name ?? "",
            .merge(["status": [
                "initContainerStatuses": .array(initContainers),
                "phase": "Running", "podIP": .string(address), "podIPs": [["ip": .string(address)]], "hostIP": "127.0.0.1",
                "startTime": now,
                "conditions": [condition("Initialized"), condition("Ready"), condition("ContainersReady"), condition("PodScheduled")],
                "containerStatuses": .array(containers),
            ]]))
    }

    /// Stops a pod's server and returns its address; a pod still starting (no handle yet) is only
    /// forgotten: its starting task stops what it started and returns the address.
    func release(uid: String, grace: Duration? = nil) async {
        guard let entry = running.withLock({ $0.removeValue(forKey: uid) }), let handle = entry.handle else { return }
        if let grace { await handle.stop(grace: grace) } else { await handle.stop() }
        addresses.give(back: entry.address)
    }
}
