import KubeClient
import KubeCore
import Synchronization
import Testing

@testable import KubeRuntime

/// The deletion hook of ``Controller``: keys whose object is gone from the cache go to
/// `onDeleted`, never to the reconcile, and never while a reconcile of the same key runs.
///
/// No request is sent: the cache is filled by hand and the informers never run (the client
/// points at a loopback port nothing listens on).
@Suite struct ControllerDeletionTests {
    final class Log: Sendable {
        let reconciled = Mutex<[String]>([])
        let deleted = Mutex<[String]>([])
        /// Set while the reconcile of `slow` runs.
        let slowRunning = Atomic<Bool>(false)
        let releaseSlow = Atomic<Bool>(false)
        /// Whether the hook ever ran for `slow` while its reconcile did.
        let overlapped = Atomic<Bool>(false)
    }

    static func configMap(_ name: String) -> ConfigMap {
        ConfigMap(metadata: ObjectMeta(name: name, namespace: "n"))
    }

    /// Polls `condition` every 5 ms for up to `limit`.
    /// Polls `condition` until it holds; the deadline bounds how long a failure takes to show.
    static func wait(_ limit: Duration = .seconds(90), _ condition: () -> Bool) async -> Bool {
        let end = ContinuousClock.now + limit
        while ContinuousClock.now < end {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition()
    }

    @Test func vanishedKeysGoToTheDeletionHookOnlyOnceNoReconcileOfThemRuns() async throws {
        let client = try KubernetesClient(configuration: ClientConfiguration(server: "http://127.0.0.1:9"))
        let controller = Controller(name: "hook", client.resources(ConfigMap.self, namespace: "n"),
                                    configuration: ControllerConfiguration(workers: 2))
        for name in ["present", "slow"] { _ = controller.primary.store.apply(.added(Self.configMap(name))) }
        controller.primary.store.markSynced()

        let log = Log()
        let registration = ControllerRegistration(controller, reconcile: { object, _ in
            let name = object.metadata.name ?? ""
            log.reconciled.withLock { $0.append(name) }
            if name == "slow" {
                log.slowRunning.store(true, ordering: .sequentiallyConsistent)
                while !log.releaseSlow.load(ordering: .sequentiallyConsistent) { try await Task.sleep(for: .milliseconds(5)) }
                log.slowRunning.store(false, ordering: .sequentiallyConsistent)
            }
            return .awaitChange
        }, onDeleted: { key in
            if key.name == "slow", log.slowRunning.load(ordering: .sequentiallyConsistent) {
                log.overlapped.store(true, ordering: .sequentiallyConsistent)
            }
            log.deleted.withLock { $0.append(key.name) }
        })
        let workers = Task { await registration.runWorkers() }

        // A present object is reconciled; a key no object has goes to the hook.
        await controller.enqueue(ObjectKey(namespace: "n", name: "present"))
        await controller.enqueue(ObjectKey(namespace: "n", name: "never-there"))
        #expect(await Self.wait { log.reconciled.withLock { $0 } == ["present"] && log.deleted.withLock { $0 } == ["never-there"] },
                "reconciled \(log.reconciled.withLock { $0 }), deleted \(log.deleted.withLock { $0 })")

        // Deleted while its reconcile runs: the hook waits for the reconcile to return.
        await controller.enqueue(ObjectKey(namespace: "n", name: "slow"))
        #expect(await Self.wait { log.slowRunning.load(ordering: .sequentiallyConsistent) })
        _ = controller.primary.store.apply(.deleted(Self.configMap("slow")))
        await controller.enqueue(ObjectKey(namespace: "n", name: "slow"))
        // The other worker is free, yet the key is held until the running reconcile ends
        // (`overlapped` would tell otherwise).
        log.releaseSlow.store(true, ordering: .sequentiallyConsistent)
        #expect(await Self.wait { log.deleted.withLock { $0 } == ["never-there", "slow"] })
        let overlapped = log.overlapped.load(ordering: .sequentiallyConsistent)
        #expect(!overlapped, "the deletion hook ran while a reconcile of the same key did")
        #expect(log.reconciled.withLock { $0 } == ["present", "slow"], "a vanished key was reconciled")

        // Called again for a key enqueued again (every event mapped to it brings one): idempotence is the handler's.
        await controller.enqueue(ObjectKey(namespace: "n", name: "slow"))
        #expect(await Self.wait { log.deleted.withLock { $0 }.count == 3 })

        await controller.shutDown()
        await workers.value
        try await client.shutdown()
    }
}
