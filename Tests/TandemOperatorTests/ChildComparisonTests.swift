import Foundation
import KubeCore
import Rendering
import TandemAPI
import Testing

@testable import TandemOperator

@Suite("When the reconciler writes a child")
struct ChildComparisonTests {
    func desired() throws -> Deployment {
        let pool = InferencePool(
            metadata: ObjectMeta(name: "p", namespace: "ns"),
            spec: InferencePoolSpec(model: "meta-llama/Llama-3.1-8B-Instruct", accelerator: "nvidia-h100"))
        let plan = PoolPlanner().plan(pool)
        return try ChildComparison.stamped(Renderer.render(pool: pool, plans: plan.plans, owner: nil).deployments[0])
    }

    /// What the API server returns: the applied object plus defaults, status and bookkeeping.
    func asServed(_ object: Deployment) throws -> Deployment {
        var tree = try JSONValue(encoding: object)
        tree["metadata"]?["uid"] = "u-1"
        tree["metadata"]?["resourceVersion"] = "42"
        tree["status"] = ["replicas": 1]
        tree["spec"]?["template"]?["spec"]?["restartPolicy"] = "Always"
        return try tree.decode()
    }

    @Test func servedCopyOfTheDesiredObjectNeedsNoWrite() throws {
        let wanted = try desired()
        #expect(try ChildComparison.isUpToDate(cached: asServed(wanted), desired: wanted))
    }

    @Test func missingChildHandEditAndChangedIntentNeedAWrite() throws {
        let wanted = try desired()
        #expect(try !ChildComparison.isUpToDate(cached: nil, desired: wanted))
        var edited = try asServed(wanted)
        edited.spec?.template?.spec?.containers?[0].image = "someone/else:1"
        #expect(try !ChildComparison.isUpToDate(cached: edited, desired: wanted))
        // Intent that only removes a field: the hash tells, containment alone could not.
        var smaller = wanted
        smaller.metadata.annotations?[PoolLabels.sizingAnnotation] = nil
        let restamped = try ChildComparison.stamped(smaller)
        #expect(try !ChildComparison.isUpToDate(cached: asServed(wanted), desired: restamped))
    }

    @Test func quantitiesCompareByValue() {
        #expect(ChildComparison.contains(["cpu": "500m"], ["cpu": "0.5"]))
        #expect(ChildComparison.contains(["memory": "1Gi"], ["memory": "1024Mi"]))
        #expect(!ChildComparison.contains(["memory": "1Gi"], ["memory": "1G"]))
        #expect(!ChildComparison.contains(["list": [1, 2]], ["list": [1]]))
        #expect(ChildComparison.contains(["a": 1, "b": 2], ["a": 1]))
    }

    @Test func stampIsStable() throws {
        #expect(try desired().metadata.annotations?[ChildComparison.desiredHashAnnotation]
                == (try desired().metadata.annotations?[ChildComparison.desiredHashAnnotation]))
    }
}

@Suite("Pool status")
struct PoolStatusBuilderTests {
    let now = KubeTime(Date(timeIntervalSince1970: 1_800_000_000))

    func pool(_ spec: InferencePoolSpec) -> InferencePool {
        var pool = InferencePool(metadata: ObjectMeta(name: "p", namespace: "ns"), spec: spec)
        pool.metadata.generation = 3
        return pool
    }

    @Test func invalidSpecSaysWhatIsWrong() {
        let status = PoolStatusBuilder.status(
            pool: pool(InferencePoolSpec(model: "m")), previous: nil,
            invalid: [FieldError("spec.ratio", "minPrefillPerDecode 2 is above maxPrefillPerDecode 1")],
            plan: nil, deployments: [:], now: now)
        let sizing = status.conditions?[type: PoolCondition.sizingValid]
        #expect(sizing?.status == .false)
        #expect(sizing?.reason == "InvalidSpec")
        #expect(sizing?.message.contains("spec.ratio") == true)
        #expect(sizing?.observedGeneration == 3)
        #expect(status.observedGeneration == 3)
    }

    @Test func readyWhenEveryTierRunsItsReplicasAndTransitionTimesHold() {
        let spec = InferencePoolSpec(model: "meta-llama/Llama-3.1-8B-Instruct", accelerator: "nvidia-h100",
                                     prefillConfig: TierConfig(replicas: 1), decodeConfig: TierConfig(replicas: 2))
        let plan = PoolPlanner().plan(pool(spec))
        func deployment(_ replicas: Int32, ready: Int32) -> Deployment {
            var deployment = Deployment(metadata: ObjectMeta(name: "x"), spec: DeploymentSpec(replicas: replicas))
            deployment.metadata.generation = 1
            deployment.status = DeploymentStatus(observedGeneration: 1, replicas: replicas, updatedReplicas: replicas, readyReplicas: ready)
            return deployment
        }
        let starting = PoolStatusBuilder.status(
            pool: pool(spec), previous: nil, invalid: [], plan: plan,
            deployments: [.prefill: deployment(1, ready: 1), .decode: deployment(2, ready: 1)], now: now)
        #expect(starting.conditions?[type: PoolCondition.ready]?.status == .false)
        #expect(starting.conditions?[type: PoolCondition.progressing]?.status == .true)
        #expect(starting.decode?.ready == "1/2")
        let later = KubeTime(Date(timeIntervalSince1970: 1_800_000_100))
        let serving = PoolStatusBuilder.status(
            pool: pool(spec), previous: starting, invalid: [], plan: plan,
            deployments: [.prefill: deployment(1, ready: 1), .decode: deployment(2, ready: 2)], now: later)
        #expect(serving.conditions?[type: PoolCondition.ready]?.status == .true)
        #expect(serving.conditions?[type: PoolCondition.ready]?.lastTransitionTime == later)
        #expect(serving.conditions?[type: PoolCondition.sizingValid]?.lastTransitionTime == now, "unchanged status keeps its time")
        #expect(serving.decode?.tensorParallelSize == 1)
        #expect(serving.decode?.selector == "inference.x-k8s.io/pool=p,inference.x-k8s.io/role=decode")
        // The same inputs again: the same status, so the reconciler writes nothing.
        #expect(PoolStatusBuilder.status(
            pool: pool(spec), previous: serving, invalid: [], plan: plan,
            deployments: [.prefill: deployment(1, ready: 1), .decode: deployment(2, ready: 2)], now: later) == serving)
    }
}
