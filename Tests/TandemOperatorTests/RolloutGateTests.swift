import Foundation
import KubeCore
import KubeRuntime
import TandemAPI
import Testing

@testable import TandemOperator

@Suite("One pool at a time for the operator's own pod-template changes")
struct RolloutGateStateTests {
    let a = ObjectKey(namespace: "ns", name: "a")
    let b = ObjectKey(namespace: "ns", name: "b")
    let c = ObjectKey(namespace: "other", name: "c")
    let start = ContinuousClock.now

    @Test func theFirstPoolRollsTheOthersWaitAndAreWokenInOrder() {
        var gate = RolloutGateState(maxHold: .seconds(3600))
        #expect(gate.request(a, now: start) == .proceed(acquired: true, tookOverFrom: nil))
        #expect(gate.request(c, now: start) == .wait(holder: a))
        #expect(gate.request(b, now: start + .seconds(1)) == .wait(holder: a))
        // The holder asks again (its next reconcile): still its, not acquired anew.
        #expect(gate.request(a, now: start + .seconds(2)) == .proceed(acquired: false, tookOverFrom: nil))
        // A waiting pool asking again is told the same.
        #expect(gate.request(b, now: start + .seconds(3)) == .wait(holder: a))
        #expect(gate.waiting == [b, c])
        // Releasing by a pool that does not hold it frees nothing.
        #expect(gate.release(b) == [])
        #expect(gate.holds(a))
        #expect(gate.waiting == [c])
        #expect(gate.release(a) == [c])
        #expect(gate.hold == nil && gate.waiting.isEmpty)
        #expect(gate.request(c, now: start + .seconds(10)) == .proceed(acquired: true, tookOverFrom: nil))
        #expect(gate.request(a, now: start + .seconds(10)) == .wait(holder: c))
    }

    @Test func aHolderPastTheBoundLosesTheGateToTheNextAsker() {
        var gate = RolloutGateState(maxHold: .seconds(60))
        _ = gate.request(a, now: start)
        #expect(gate.request(b, now: start + .seconds(59)) == .wait(holder: a))
        #expect(gate.request(b, now: start + .seconds(60)) == .proceed(acquired: true, tookOverFrom: a))
        #expect(gate.holds(b) && !gate.holds(a))
        #expect(gate.hold?.since == start + .seconds(60))
        // The old holder is now one more waiting pool; its late release frees nothing.
        #expect(gate.request(a, now: start + .seconds(61)) == .wait(holder: b))
        #expect(gate.release(a) == [])
        #expect(gate.holds(b))
    }

    @Test func aDeletedHolderFreesTheGate() {
        var gate = RolloutGateState(maxHold: .seconds(3600))
        _ = gate.request(a, now: start)
        _ = gate.request(b, now: start)
        #expect(gate.release(a) == [b])  // the deletion hook releases
        #expect(gate.request(b, now: start) == .proceed(acquired: true, tookOverFrom: nil))
    }
}

@Suite("What counts as an operator-driven template change, and when a rollout is done")
struct RolloutPolicyTests {
    func pool(generation: Int64?, observed: Int64?) -> InferencePool {
        var pool = InferencePool(metadata: ObjectMeta(name: "p", namespace: "ns"), spec: InferencePoolSpec(model: "m"))
        pool.metadata.generation = generation
        if let observed { pool.status = InferencePoolStatus(observedGeneration: observed) }
        return pool
    }

    func deployment(replicas: Int32? = 2, generation: Int64 = 3, observed: Int64 = 3, updated: Int32 = 2, total: Int32 = 2,
                    available: Int32 = 2, image: String = "vllm:1", security: Bool = false) -> Deployment {
        var container = Container(name: "vllm", image: image)
        if security { container.securityContext = SecurityContext(allowPrivilegeEscalation: false) }
        var object = Deployment(
            metadata: ObjectMeta(name: "p-decode", namespace: "ns"),
            spec: DeploymentSpec(replicas: replicas, template: PodTemplateSpec(
                metadata: ObjectMeta(labels: ["app": "p"]), spec: PodSpec(containers: [container]))))
        object.metadata.generation = generation
        object.status = DeploymentStatus(observedGeneration: observed, replicas: total, updatedReplicas: updated,
                                         availableReplicas: available)
        return object
    }

    @Test func onlyAnUnchangedSpecIsOperatorDriven() {
        #expect(RolloutPolicy.isOperatorDriven(pool(generation: 4, observed: 4)))
        #expect(!RolloutPolicy.isOperatorDriven(pool(generation: 5, observed: 4)))  // a user edit: never held
        #expect(!RolloutPolicy.isOperatorDriven(pool(generation: 1, observed: nil)))  // a new pool
        #expect(!RolloutPolicy.isOperatorDriven(pool(generation: nil, observed: nil)))
    }

    @Test func aTemplateChangeIsAFieldTandemSetsWithAnotherValueOrNoneLive() throws {
        let live = deployment()
        #expect(try !RolloutPolicy.changesTemplate(live: live, desired: deployment()))
        #expect(try RolloutPolicy.changesTemplate(live: live, desired: deployment(image: "vllm:2")))
        #expect(try RolloutPolicy.changesTemplate(live: live, desired: deployment(security: true)))
        // Replicas are not the template.
        #expect(try !RolloutPolicy.changesTemplate(live: live, desired: deployment(replicas: 5)))
        // Fields the API server defaulted live are not a change.
        var defaulted = live
        defaulted.spec?.template?.spec?.containers?[0].imagePullPolicy = "IfNotPresent"
        #expect(try !RolloutPolicy.changesTemplate(live: defaulted, desired: deployment()))
    }

    @Test func aHeldDeploymentKeepsTheLiveTemplateAndTakesTheRest() throws {
        let live = deployment()
        let held = RolloutPolicy.holding(deployment(replicas: 4, security: true), live: live)
        #expect(held.spec?.replicas == 4)
        #expect(held.spec?.template == live.spec?.template)
        #expect(try !RolloutPolicy.changesTemplate(live: live, desired: held))
    }

    @Test func rolledOutMeansEveryReplicaUpdatedAndAvailableOnTheCurrentGeneration() {
        #expect(RolloutPolicy.isRolledOut(deployment()))
        #expect(!RolloutPolicy.isRolledOut(deployment(generation: 4, observed: 3)))  // not yet seen by the controller
        #expect(!RolloutPolicy.isRolledOut(deployment(updated: 1)))
        #expect(!RolloutPolicy.isRolledOut(deployment(total: 3)))  // an old pod still counted
        #expect(!RolloutPolicy.isRolledOut(deployment(available: 1)))
        #expect(RolloutPolicy.isRolledOut(deployment(replicas: 0, updated: 0, total: 0, available: 0)))
        #expect(RolloutPolicy.isRolledOut(deployment(replicas: nil, updated: 1, total: 1, available: 1)))  // the API default, 1
    }

    @Test func stalledMeansProgressDeadlineExceededOnTheCurrentGeneration() {
        var stuck = deployment(available: 1)
        stuck.status?.conditions = [DeploymentCondition(type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded")]
        #expect(RolloutPolicy.isStalled(stuck))
        var older = stuck
        older.metadata.generation = 4  // a newer template since: its deadline has not passed
        #expect(!RolloutPolicy.isStalled(older))
        var progressing = deployment(available: 1)
        progressing.status?.conditions = [DeploymentCondition(type: "Progressing", status: "True", reason: "ReplicaSetUpdated")]
        #expect(!RolloutPolicy.isStalled(progressing))
    }
}
