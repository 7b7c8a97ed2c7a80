import KubeCore
import Rendering
import Sizing
import TandemAPI
import Testing

/// Issue 14, defect 2, at the planner: a pool whose numbers are out of range (the CRD caps most,
/// but `tandem render -f` reads manifests no API server checked) plans to an `InvalidSpec`
/// problem naming the field and the range; nothing traps.
@Suite struct PlannerOverflowTests {
    func pool(_ spec: InferencePoolSpec) -> InferencePool {
        InferencePool(metadata: ObjectMeta(name: "big", namespace: "ns"), spec: spec)
    }

    func decode(_ config: TierConfig, profile: ModelProfileSpec? = nil, model: String = "meta-llama/Llama-3.1-8B-Instruct")
        -> InferencePoolSpec
    {
        InferencePoolSpec(model: model, accelerator: "nvidia-h100", modelProfile: profile, decodeConfig: config)
    }

    @Test(arguments: [
        ("--max-num-batched-tokens=9223372036854775807", "--max-num-batched-tokens=9223372036854775807 is out of range"),
        ("--max-num-seqs=9223372036854775807", "--max-num-seqs=9223372036854775807 is out of range"),
        ("--max-model-len=99999999999999999999", "--max-model-len=99999999999999999999 is out of range"),
        ("--max-num-batched-tokens=200000000000000", "--max-num-batched-tokens=200000000000000 is out of range"),
        ("--max-model-len=9999999999999G", "--max-model-len=9999999999999G is out of range"),
    ])
    func hugeEngineArgsAreInvalidSpecNamingTheField(flag: String, expected: String) {
        let plan = PoolPlanner().plan(pool(decode(TierConfig(vllmArgs: [flag]))))
        let problem = plan.decode.problem
        #expect(problem?.reason == "InvalidSpec")
        #expect(problem?.message.hasPrefix("spec.decodeConfig.vllmArgs: \(expected): Tandem accepts 1 to 2,147,483,647") == true,
                "\(String(describing: problem))")
        #expect(plan.prefillHeld, "prefill waits for decode")
    }

    @Test func replicasNearInt32MaxAreInvalidSpec() {
        let plan = PoolPlanner().plan(pool(decode(TierConfig(replicas: Int32.max))))
        #expect(plan.decode.problem?.reason == "InvalidSpec")
        #expect(plan.decode.problem?.message
            == "spec.decodeConfig.replicas 2147483647 is out of range: Tandem accepts 0 to 10,000; set at most 10,000 replicas")
        let negative = PoolPlanner().plan(pool(decode(TierConfig(replicas: Int32.min))))
        #expect(negative.decode.problem?.message.hasPrefix("spec.decodeConfig.replicas -2147483648 is out of range") == true)
    }

    @Test func autoscalingBoundsNearTheLimitsAreInvalidSpec() {
        let scaling = AutoscalingSpec(mode: .operator, minReplicas: 1, maxReplicas: Int32.max)
        let plan = PoolPlanner().plan(pool(decode(TierConfig(autoscaling: scaling))))
        #expect(plan.decode.problem?.reason == "InvalidSpec")
        #expect(plan.decode.problem?.message.hasPrefix("spec.decodeConfig.autoscaling.maxReplicas 2147483647 is out of range: Tandem accepts 1 to 10,000") == true)
        let steps = AutoscalingSpec(mode: .operator, behavior: ScalingBehavior(scaleUp: ScalingRules(periodSeconds: Int32.max)))
        #expect(PoolPlanner().plan(pool(decode(TierConfig(autoscaling: steps)))).decode.problem?.message
            .hasPrefix("spec.decodeConfig.autoscaling.behavior.scaleUp.periodSeconds 2147483647 is out of range") == true)
    }

    @Test func aHugeDeviceCountIsInvalidSpec() throws {
        let config = TierConfig(resources: ["nvidia.com/gpu": try Quantity(parsing: "9223372036854775807")])
        let problem = PoolPlanner().plan(pool(decode(config))).decode.problem
        #expect(problem?.reason == "InvalidSpec")
        #expect(problem?.message.hasPrefix("spec.decodeConfig.resources[nvidia.com/gpu] 9223372036854775807 is out of range: Tandem accepts 1 to 1,024") == true)
    }

    @Test func aModelProfileBeyondTheCRDsBoundsIsInvalidSpecAndDoesNotTrap() {
        // attentionHeads × headDim overflowed Int32 when hiddenSize was left out.
        let profile = ModelProfileSpec(parameters: 8_000_000_000, layers: 32, attentionHeads: Int32.max, kvHeads: 8, headDim: Int32.max)
        let plan = PoolPlanner().plan(pool(decode(TierConfig(), profile: profile, model: "acme/huge")))
        #expect(plan.decode.problem?.reason == "InvalidSpec")
        #expect(plan.decode.problem?.message.hasPrefix("spec.modelProfile.attentionHeads 2147483647 is out of range: Tandem accepts 1 to 1,024") == true)
        let parameters = ModelProfileSpec(parameters: Int64.max, layers: 32, attentionHeads: 32, kvHeads: 8, headDim: 128)
        #expect(PoolPlanner().plan(pool(decode(TierConfig(), profile: parameters, model: "acme/huge"))).decode.problem?.message
            .hasPrefix("spec.modelProfile.parameters 9223372036854775807 is out of range") == true)
    }

    @Test func hugeMemoryQuantitiesPassThroughUnchanged() throws {
        let memory = try Quantity(parsing: "1e99")
        let plan = PoolPlanner().plan(pool(decode(TierConfig(resources: ["memory": memory]))))
        #expect(plan.decode.plan?.requests["memory"] == memory)
        _ = try Renderer.render(pool: pool(decode(TierConfig(resources: ["memory": memory]))), plans: plan.plans, owner: nil)
    }
}
