import Synchronization
import Testing

@testable import KubeRuntime

@Suite("Liveness fails only a wedged leader")
struct LivenessPolicyTests {
    let policy = LivenessPolicy(maxReconcileAge: .seconds(60), maxInformerSilence: .seconds(600))

    @Test func aFollowerIsAlwaysAlive() {
        let wedged = LivenessPolicy.Observation(oldestReconcile: ["pools": .seconds(3600)], informerSilence: ["pods": .seconds(7200)])
        #expect(policy.failures(leading: false, wedged).isEmpty)
    }

    @Test func aLeaderWithinTheLimitsIsAlive() {
        let fine = LivenessPolicy.Observation(oldestReconcile: ["pools": .seconds(60)], informerSilence: ["pods": .seconds(600)])
        #expect(policy.failures(leading: true, fine).isEmpty)
        #expect(policy.failures(leading: true, LivenessPolicy.Observation()).isEmpty)
    }

    @Test func aStuckReconcileOrASilentInformerFailsWithTheirNames() {
        let stuck = LivenessPolicy.Observation(oldestReconcile: ["pools": .seconds(61), "other": .seconds(1)],
                                               informerSilence: ["deployments": .seconds(601)])
        let reasons = policy.failures(leading: true, stuck)
        #expect(reasons.count == 2)
        #expect(reasons[0].contains("controller pools") && reasons[0].contains("61 s"))
        #expect(reasons[1].contains("informer deployments") && reasons[1].contains("600 s limit"))
    }
}

/// A controller that reports a reconcile running for a fixed time.
struct StuckController: RuntimeController {
    var name = "pools"
    var hasSynced: Bool { true }
    var oldestReconcileAge: Duration?
    var informerSilence: [String: Duration] = [:]
    func runInformers() async {}
    func runWorkers() async {}
    func shutDown() async {}
}

@Suite("/healthz follows the runtime's liveness")
struct HealthzWiringTests {
    @Test func aHungReconcileFailsHealthzAndAQuickOneDoesNot() {
        let health = HealthServer(metrics: RuntimeMetrics())
        _ = OperatorRuntime(controllers: [StuckController(oldestReconcileAge: .seconds(400))], elector: nil, health: health,
                            liveness: LivenessPolicy(maxReconcileAge: .seconds(300)))
        #expect(health.livenessFailures().count == 1)
        #expect(health.livenessFailures().first?.contains("controller pools") == true)

        let fine = HealthServer(metrics: RuntimeMetrics())
        _ = OperatorRuntime(controllers: [StuckController(oldestReconcileAge: .seconds(1))], elector: nil, health: fine)
        #expect(fine.livenessFailures().isEmpty)
        let idle = HealthServer(metrics: RuntimeMetrics())
        _ = OperatorRuntime(controllers: [StuckController(oldestReconcileAge: nil)], elector: nil, health: idle)
        #expect(idle.livenessFailures().isEmpty)
    }

    /// A kubelet probing every 10 s asks 200,000 times in 23 days. A bare closure in a `Mutex`
    /// gained a thunk pair per read (swiftlang/swift#91348): this overflowed the stack in a
    /// debug build before the check was held in a struct.
    @Test func twoHundredThousandProbesLeaveTheCheckAsItWas() {
        let health = HealthServer(metrics: RuntimeMetrics())
        let calls = Atomic<Int>(0)
        health.setLivenessCheck {
            calls.add(1, ordering: .relaxed)
            return []
        }
        for _ in 0..<200_000 { #expect(health.livenessFailures().isEmpty) }
        #expect(calls.load(ordering: .relaxed) == 200_000)
    }

    @Test func anInformerThatHasNotHeardFromTheServerFailsHealthzWithTheLongestSilence() {
        let health = HealthServer(metrics: RuntimeMetrics())
        // Two controllers watch deployments; the longer silence is the one that counts.
        let controllers = [
            StuckController(name: "pools", oldestReconcileAge: nil, informerSilence: ["deployments": .seconds(30), "pools": .seconds(5)]),
            StuckController(name: "router", oldestReconcileAge: nil, informerSilence: ["deployments": .seconds(1000)]),
        ]
        _ = OperatorRuntime(controllers: controllers, elector: nil, health: health,
                            liveness: LivenessPolicy(maxInformerSilence: .seconds(900)))
        let failures = health.livenessFailures()
        #expect(failures.count == 1)
        #expect(failures.first?.contains("informer deployments") == true && failures.first?.contains("1000 s") == true)

        let fine = HealthServer(metrics: RuntimeMetrics())
        _ = OperatorRuntime(controllers: [StuckController(oldestReconcileAge: nil, informerSilence: ["pools": .seconds(899)])],
                            elector: nil, health: fine)
        #expect(fine.livenessFailures().isEmpty)
    }
}
