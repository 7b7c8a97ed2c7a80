import Foundation
import KubeClient
import KubeCore
import Rendering
import Sizing
import TandemAPI
import Testing

@testable import TandemOperator

@Suite("The accelerator of a pool that names none is resolved once")
struct AcceleratorResolverTests {
    let spec = InferencePoolSpec(model: "meta-llama/Llama-3.1-8B-Instruct")
    var h200: Accelerator { AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h200")! }
    var h100: Accelerator { AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h100")! }

    @Test func firstInferenceIsRecordedWithTheGeneration() {
        let outcome = AcceleratorResolver.resolve(spec: spec, generation: 3, recorded: nil, nodes: .identified(h200))
        #expect(outcome.accelerator == "nvidia-h200")
        #expect(outcome.record == AcceleratorResolution(inferred: "nvidia-h200", generation: 3))
        #expect(outcome.condition?.status == .true)
        #expect(outcome.condition?.reason == "Inferred")
    }

    @Test func aNodeOfAnotherTypeJoiningChangesNothing() {
        let recorded = AcceleratorResolution(inferred: "nvidia-h200", generation: 3)
        let mixed = AcceleratorResolver.resolve(spec: spec, generation: 3, recorded: recorded,
                                                nodes: .ambiguous(["nvidia-h100", "nvidia-h200"]))
        #expect(mixed.accelerator == "nvidia-h200")
        #expect(mixed.record == recorded)
        #expect(mixed.condition?.status == .true)
        #expect(mixed.condition?.reason == "NodesDisagree")
        #expect(mixed.condition?.message.contains("nvidia-h100, nvidia-h200") == true)
        // Only H100 nodes left: still the recorded H200 while the spec is unchanged.
        let replaced = AcceleratorResolver.resolve(spec: spec, generation: 3, recorded: recorded, nodes: .identified(h100))
        #expect(replaced.accelerator == "nvidia-h200")
        #expect(replaced.condition?.reason == "NodesDisagree")
        // And back: the same answer, no flapping.
        let back = AcceleratorResolver.resolve(spec: spec, generation: 3, recorded: recorded, nodes: .identified(h200))
        #expect(back.accelerator == "nvidia-h200")
        #expect(back.condition?.reason == "Inferred")
        let gone = AcceleratorResolver.resolve(spec: spec, generation: 3, recorded: recorded, nodes: .none)
        #expect(gone.accelerator == "nvidia-h200")
    }

    @Test func aSpecChangeInfersAgainOnlyFromAgreeingNodes() {
        let recorded = AcceleratorResolution(inferred: "nvidia-h200", generation: 3)
        let agreeing = AcceleratorResolver.resolve(spec: spec, generation: 4, recorded: recorded, nodes: .identified(h100))
        #expect(agreeing.accelerator == "nvidia-h100")
        #expect(agreeing.record == AcceleratorResolution(inferred: "nvidia-h100", generation: 4))
        let disagreeing = AcceleratorResolver.resolve(spec: spec, generation: 4, recorded: recorded,
                                                      nodes: .ambiguous(["nvidia-h100", "nvidia-h200"]))
        #expect(disagreeing.accelerator == "nvidia-h200")
        #expect(disagreeing.record == recorded)
    }

    @Test func unresolvedCasesSayWhyWithAFalseCondition() {
        let ambiguous = AcceleratorResolver.resolve(spec: spec, generation: 1, recorded: nil, nodes: .ambiguous(["nvidia-h100", "nvidia-h200"]))
        #expect(ambiguous.accelerator == nil)
        #expect(ambiguous.record == nil)
        #expect(ambiguous.condition?.status == .false)
        #expect(ambiguous.condition?.reason == "NodesDisagree")
        #expect(AcceleratorResolver.resolve(spec: spec, generation: 1, recorded: nil, nodes: .none).condition?.reason == "NoGPUNodes")
        #expect(AcceleratorResolver.resolve(spec: spec, generation: 1, recorded: nil, nodes: .unrecognized(["x=y"])).condition?.reason
                == "UnrecognizedAccelerator")
    }

    @Test func aNamedAcceleratorNeedsNoResolution() {
        var named = spec
        named.accelerator = "nvidia-h100"
        let outcome = AcceleratorResolver.resolve(spec: named, generation: 1, recorded: AcceleratorResolution(inferred: "nvidia-h200", generation: 0),
                                                  nodes: .ambiguous(["a", "b"]))
        #expect(outcome.accelerator == nil)
        #expect(outcome.record == nil)
        #expect(outcome.condition == nil)
    }

    @Test func thePlannerUsesTheResolvedAcceleratorOverMixedNodes() {
        let pool = InferencePool(metadata: ObjectMeta(name: "p", namespace: "ns"), spec: spec)
        var planner = PoolPlanner()
        planner.nodeLabels = [["nvidia.com/gpu.product": "NVIDIA-H200"], ["nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"]]
        #expect(planner.plan(pool).accelerators[.decode]?.accelerator == nil)  // ambiguous
        planner.resolvedAccelerator = "nvidia-h200"
        let plan = planner.plan(pool)
        #expect(plan.accelerators[.decode]?.accelerator?.name == "nvidia-h200")
        #expect(plan.decode.plan?.nodeSelector["nvidia.com/gpu.product"] == "NVIDIA-H200")
    }
}

@Suite("A pool writes only its own children")
struct ChildOwnershipTests {
    let pool: InferencePool = {
        var pool = InferencePool(metadata: ObjectMeta(name: "a.b", namespace: "ns"), spec: InferencePoolSpec(model: "m"))
        pool.metadata.uid = "uid-1"
        return pool
    }()

    func service(owners: [OwnerReference]?) -> Service {
        var service = Service(metadata: ObjectMeta(name: "a-b-decode", namespace: "ns"))
        service.metadata.ownerReferences = owners
        return service
    }

    @Test func ownersAreTold() {
        #expect(ChildOwner.of(Service?.none, pool: pool) == .absent)
        #expect(ChildOwner.of(service(owners: [OwnerReference(apiVersion: "inference.x-k8s.io/v1alpha1", kind: "InferencePool", name: "a.b", uid: "uid-1", controller: true)]), pool: pool) == .pool)
        #expect(ChildOwner.of(service(owners: [OwnerReference(apiVersion: "inference.x-k8s.io/v1alpha1", kind: "InferencePool", name: "a-b", uid: "uid-2", controller: true)]), pool: pool) == .otherPool("a-b"))
        #expect(ChildOwner.of(service(owners: nil), pool: pool) == .foreign("it has no controller"))
        #expect(ChildOwner.of(service(owners: [OwnerReference(apiVersion: "argoproj.io/v1alpha1", kind: "Application", name: "x", uid: "u", controller: true)]), pool: pool)
                == .foreign("its controller is Application x"))
        // A non-controller reference of another kind does not make it the pool's.
        #expect(ChildOwner.of(service(owners: [OwnerReference(apiVersion: "v1", kind: "ConfigMap", name: "x", uid: "u")]), pool: pool)
                == .foreign("it has no controller"))
    }

    @Test func theReportNamesTheGravestProblemFirst() {
        #expect(ChildReport().problem == nil)
        let refused = ChildReport(failures: ["Deployment p-decode: 422 Invalid: label too long"])
        #expect(refused.problem?.reason == ChildReason.applyFailed)
        #expect(refused.problem?.message.contains("label too long") == true)
        let both = ChildReport(conflicts: ["Role p-epp (it has no controller)"], failures: ["x"])
        #expect(both.problem?.reason == ChildReason.conflict)
        #expect(both.problem?.message.contains("Role p-epp") == true)
        let named = ChildReport(nameConflicts: ["Service a-b-decode (InferencePool a-b)"], conflicts: ["y"])
        #expect(named.problem?.reason == ChildReason.nameConflict)
        #expect(named.problem?.message.contains("rename one pool") == true)
    }

    @Test func refusalsAreTheServersAnswersAboutTheObject() {
        func error(_ code: Int) -> APIError {
            APIError(status: Status(message: "m", reason: "x", code: code), method: "PATCH", path: "/p")
        }
        for code in [400, 403, 404, 422] { #expect(ChildReport.isRefusal(error(code))) }
        for code in [409, 429, 500, 503] { #expect(!ChildReport.isRefusal(error(code))) }
        #expect(!ChildReport.isRefusal(CancellationError()))
    }

    @Test func theStatusSaysReadyFalseWithTheReason() {
        let plan = PoolPlanner().plan(InferencePool(metadata: ObjectMeta(name: "p", namespace: "ns"),
                                                    spec: InferencePoolSpec(model: "meta-llama/Llama-3.1-8B-Instruct", accelerator: "nvidia-h100")))
        let status = PoolStatusBuilder.status(
            pool: pool, previous: nil, invalid: [], plan: plan, deployments: [:],
            children: ChildReport(failures: ["Deployment a-b-decode: 403 Forbidden: no"]), now: KubeTime(Date()))
        #expect(status.conditions?[type: PoolCondition.ready]?.status == .false)
        #expect(status.conditions?[type: PoolCondition.ready]?.reason == ChildReason.applyFailed)
        #expect(status.conditions?[type: PoolCondition.progressing]?.reason == ChildReason.applyFailed)
        #expect(status.conditions?[type: PoolCondition.acceleratorResolved] == nil)
    }
}
