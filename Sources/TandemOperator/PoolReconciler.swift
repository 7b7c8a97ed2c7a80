import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import Logging
import Rendering
import Sizing
import TandemAPI

/// Reconciles one ``InferencePool``: validate, plan (size each tier), render the children,
/// apply those that differ from the cache, and write status and Events.
///
/// Level-triggered and idempotent: a reconcile of an unchanged pool whose children are in
/// place sends no write at all.
///
/// RBAC: `get`/`list`/`watch` InferencePools and `patch` their status; `get`/`list`/`watch`/
/// `create`/`patch` Deployments and Services in the pools' namespaces; `list`/`watch` Nodes;
/// `create`/`patch` Events.
public final class PoolReconciler: Sendable {
    /// The field manager of every child and of the status.
    public static let fieldManager = "tandem"

    let client: KubernetesClient
    let deployments: Store<Deployment>
    let services: Store<Service>
    let nodes: Store<Node>?
    let recorder: EventRecorder
    let catalogs: PoolPlanner

    public init(client: KubernetesClient, deployments: Store<Deployment>, services: Store<Service>, nodes: Store<Node>?,
                recorder: EventRecorder, catalogs: PoolPlanner = PoolPlanner()) {
        self.client = client
        self.deployments = deployments
        self.services = services
        self.nodes = nodes
        self.recorder = recorder
        self.catalogs = catalogs
    }

    public func reconcile(_ pool: InferencePool, _ context: ReconcileContext) async throws -> ReconcileAction {
        guard pool.metadata.deletionTimestamp == nil else { return .awaitChange }  // children go with it (GC)
        let namespace = pool.metadata.namespace ?? ""
        let name = pool.metadata.name ?? ""
        let spec = pool.spec ?? InferencePoolSpec(model: "")
        let invalid = pool.spec == nil ? [FieldError("spec", "the pool has no spec")] : spec.validate()
        let now = KubeTime(Date())

        var plan: PoolPlan?
        var observed: [TierName: Deployment] = [:]
        if invalid.isEmpty {
            var planner = catalogs
            planner.nodeLabels = nodes?.list().compactMap { $0.metadata.labels } ?? []
            let made = planner.plan(pool)
            plan = made
            let plans = made.plans.map { keepReplicas($0, pool: pool) }
            let children = Renderer.render(pool: pool, plans: plans, owner: pool.controllerReference())
            for service in children.services {
                _ = try await applyIfChanged(service, cached: services.get(namespace: namespace, name: service.metadata.name ?? ""),
                                             pool: pool, context: context)
            }
            for deployment in children.deployments {
                let cached = deployments.get(namespace: namespace, name: deployment.metadata.name ?? "")
                let current = try await applyIfChanged(deployment, cached: cached, pool: pool, context: context)
                if let tier = deployment.metadata.labels?[PoolLabels.role].flatMap(TierName.init(rawValue:)) {
                    observed[tier] = current
                }
            }
        }
        // A tier that could not be planned keeps whatever Deployment it had (not rolled out anew).
        for tier in TierName.allCases where observed[tier] == nil {
            observed[tier] = deployments.get(namespace: namespace, name: ChildNames.tier(name, tier))
        }

        let status = PoolStatusBuilder.status(
            pool: pool, previous: pool.status, invalid: invalid, plan: plan, deployments: observed, now: now)
        if status != pool.status {
            var update = InferencePool(metadata: ObjectMeta(name: name, namespace: namespace))
            update.status = status
            _ = try await client.resources(InferencePool.self, namespace: namespace)
                .applyStatus(update, fieldManager: Self.fieldManager, force: true)
            await recordTransitions(pool: pool, old: pool.status, new: status, plan: plan)
        }
        return .awaitChange
    }

    /// A tier whose replica count is not Tandem's to set (`Operator`, `External`) keeps the
    /// count its Deployment has, so the field never loses its last owner and never falls back
    /// to the default of 1 (ARCHITECTURE.md's handover rule); a new Deployment starts at
    /// `minReplicas` (at least 1 for decode).
    ///
    /// Applying the value it already has takes no decision away from an HPA or from
    /// `kubectl scale`: their value is the one applied.
    func keepReplicas(_ plan: TierPlan, pool: InferencePool) -> TierPlan {
        guard plan.replicas == nil else { return plan }
        var kept = plan
        let name = ChildNames.tier(pool.metadata.name ?? "", plan.tier)
        if let current = deployments.get(namespace: pool.metadata.namespace, name: name)?.spec?.replicas {
            kept.replicas = current
        } else {
            let minimum = pool.spec?.config(plan.tier).autoscaling?.minReplicas ?? 1
            kept.replicas = plan.tier == .decode ? max(1, minimum) : max(0, minimum)
        }
        return kept
    }

    /// Applies `desired` when the cached child differs; returns the child as it now is.
    func applyIfChanged<Object: KubernetesResource>(
        _ desired: Object, cached: Object?, pool: InferencePool, context: ReconcileContext
    ) async throws -> Object? {
        let stamped = try ChildComparison.stamped(desired)
        if try ChildComparison.isUpToDate(cached: cached, desired: stamped) { return cached }
        let applied = try await client.resources(Object.self, namespace: pool.metadata.namespace)
            .apply(stamped, fieldManager: Self.fieldManager, force: true)
        let verb = cached == nil ? "Created" : "Updated"
        let what = "\(Object.apiResource.kind) \(desired.metadata.name ?? "")"
        context.logger.info("\(verb.lowercased()) \(what)")
        await recorder.record(pool, type: .normal, reason: verb, action: verb == "Created" ? "Create" : "Update",
                              note: "\(verb.lowercased()) \(what)")
        return applied
    }

    /// Warning Events when a problem appears or changes, so a steady state records nothing.
    func recordTransitions(pool: InferencePool, old: InferencePoolStatus?, new: InferencePoolStatus, plan: PoolPlan?) async {
        let before = old?.conditions?[type: PoolCondition.sizingValid]
        guard let after = new.conditions?[type: PoolCondition.sizingValid],
            before?.reason != after.reason || before?.message != after.message || before?.status != after.status
        else { return }
        if after.status == .false {
            let reason = after.reason == "InvalidSpec" ? "InvalidSpec" : after.reason
            await recorder.record(pool, type: .warning, reason: reason, action: "Sizing", note: after.message)
        }
        for warning in plan?.warnings ?? [] {
            await recorder.record(pool, type: .warning, reason: warning.reason, action: "Rendering", note: warning.message)
        }
        if after.status == .true, before?.status == .false {
            await recorder.record(pool, type: .normal, reason: "SizingValid", action: "Sizing", note: after.message)
        }
    }
}
