import Foundation
import KubeCore
import Rendering
import TandemAPI
import TandemOperator
import Testing

/// Issue 14, defect 2, end to end in pure code: a pool with an out-of-range number gets
/// `SizingValid=False, InvalidSpec` naming the field, and its Deployments' counts near the
/// Int32 limits do not trap the status arithmetic.
@Suite struct OverflowStatusTests {
    @Test func anOutOfRangeFlagBecomesSizingValidFalseInvalidSpec() {
        let spec = InferencePoolSpec(
            model: "meta-llama/Llama-3.1-8B-Instruct", accelerator: "nvidia-h100",
            decodeConfig: TierConfig(vllmArgs: ["--max-num-batched-tokens=9223372036854775807"]))
        var meta = ObjectMeta(name: "big", namespace: "ns")
        meta.generation = Int64.max
        let pool = InferencePool(metadata: meta, spec: spec)
        let plan = PoolPlanner().plan(pool)
        let counts = DeploymentStatus(observedGeneration: Int64.min, replicas: Int32.max, updatedReplicas: Int32.min,
                                      readyReplicas: Int32.max)
        var deployment = Deployment(metadata: ObjectMeta(name: "big-prefill"), spec: DeploymentSpec(replicas: Int32.max), status: counts)
        deployment.metadata.generation = Int64.max
        let status = PoolStatusBuilder.status(
            pool: pool, previous: nil, invalid: [], plan: plan, deployments: [.prefill: deployment, .decode: deployment],
            now: KubeTime(Date(timeIntervalSince1970: 0)))
        let sizing = status.conditions?[type: PoolCondition.sizingValid]
        #expect(sizing?.status == .false)
        #expect(sizing?.reason == "InvalidSpec")
        #expect(sizing?.message.contains("spec.decodeConfig.vllmArgs: --max-num-batched-tokens=9223372036854775807 is out of range: Tandem accepts 1 to 2,147,483,647") == true,
                "\(sizing?.message ?? "")")
        #expect(status.conditions?[type: PoolCondition.ready]?.status == .false)
    }
}
