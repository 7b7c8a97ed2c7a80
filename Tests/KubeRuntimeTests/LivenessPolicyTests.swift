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
