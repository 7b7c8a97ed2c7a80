import Autoscaling
import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import Logging
import Rendering
import Routing
import Sizing
import TandemAPI

/// Reconciles one ``InferencePool``: validate, plan (size each tier), render the children,
/// apply those that differ from the cache, and write status and Events.
///
/// Level-triggered and idempotent: a reconcile of an unchanged pool whose children are in
/// place sends no write at all.
///
/// With an ``Autoscaler``, the tiers in `Operator` mode are also read (their pods' metrics),
/// decided and scaled in the same reconcile, which then returns "requeue after" the next round.
///
/// RBAC (measured from the API server's audit log, docs/install.md): `list`/`watch`
/// InferencePools and `patch` their status; `get`/`list`/`watch`/`create`/`patch` Deployments
/// and Services in the pools' namespaces (a server-side apply that makes an object needs
/// `create` too; a child missing from the cache is looked up with `get` first, so a foreign
/// object is never written over); `list`/`watch` Pods and Nodes; `create`/`patch` Events.
/// With a `scheduler` block also the router's objects: `get`/`list`/`watch`/`create`/`patch`/`delete`
/// ConfigMaps, ServiceAccounts, Roles and RoleBindings, `delete` Deployments and Services,
/// `get`/`create`/`patch`/`delete` GIE InferencePools; and, to grant them to the endpoint
/// picker's Role, everything that Role allows (``RouterRenderer/endpointPickerRules``).
public final class PoolReconciler: Sendable {
    /// The field manager of every child and of the status (but the autoscaler's part of it,
    /// written as ``Autoscaler/fieldManager``).
    public static let fieldManager = "tandem"

    let client: KubernetesClient
    let deployments: Store<Deployment>
    let services: Store<Service>
    let nodes: Store<Node>?
    let pods: Store<Pod>?
    let recorder: EventRecorder
    let catalogs: PoolPlanner
    let autoscaler: Autoscaler?
    let scalingMetrics: ScalingMetrics?
    let router: RouterStores?
    /// One pool at a time for the operator's own pod-template changes (an upgrade); `nil`
    /// applies them at once.
    let rolloutGate: RolloutGate?

    /// The field manager that takes `spec.replicas` over from ``fieldManager`` when a tier's
    /// mode becomes `External`, so the count survives the reconciler letting go of it.
    public static let handoverFieldManager = "tandem-handover"

    public init(client: KubernetesClient, deployments: Store<Deployment>, services: Store<Service>, nodes: Store<Node>?,
                pods: Store<Pod>? = nil, recorder: EventRecorder, catalogs: PoolPlanner = PoolPlanner(),
                autoscaler: Autoscaler? = nil, scalingMetrics: ScalingMetrics? = nil, router: RouterStores? = nil,
                rolloutGate: RolloutGate? = nil) {
        self.client = client
        self.deployments = deployments
        self.services = services
        self.nodes = nodes
        self.pods = pods
        self.recorder = recorder
        self.catalogs = catalogs
        self.autoscaler = autoscaler
        self.scalingMetrics = scalingMetrics
        self.router = router
        self.rolloutGate = rolloutGate
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
        var routerState = RouterState.absent
        var recheckDiscovery = false
        var report = ChildReport()
        var resolution: AcceleratorResolver.Outcome?
        var gate: RolloutGateState.Decision?
        if invalid.isEmpty {
            var planner = catalogs
            planner.nodeLabels = nodes?.list().compactMap { $0.metadata.labels } ?? []
            let resolved = AcceleratorResolver.resolve(
                spec: spec, generation: pool.metadata.generation, recorded: pool.status?.acceleratorResolution,
                nodes: planner.accelerators.inferAccelerator(fromNodeLabels: planner.nodeLabels), catalog: planner.accelerators)
            planner.resolvedAccelerator = resolved.accelerator
            resolution = resolved
            let made = planner.plan(pool)
            plan = made
            // The tiers' Deployments as they are; for a tier whose replicas are not the spec's, a
            // Deployment missing from the cache is looked up, since creating it anew would
            // apply `minReplicas` over the count it has.
            var existing: [TierName: Deployment] = [:]
            for plan in made.plans {
                let childName = ChildNames.tier(name, plan.tier)
                if let cached = deployments.get(namespace: namespace, name: childName) {
                    existing[plan.tier] = cached
                } else if plan.replicas == nil {
                    existing[plan.tier] = try await client.resources(Deployment.self, namespace: namespace).getIfExists(childName)
                }
            }
            let plans = made.plans.map { keepReplicas($0, pool: pool, existing: existing[$0.tier]) }
            var options = router?.options ?? RouterOptions()
            var routed = made.routerPlan
            if routed != nil, router == nil {
                routed = nil  // a reconciler without router stores (tests of the tiers alone)
            }
            if routed != nil, let router {
                let version = try await router.discovery.serverVersion()
                let served = try await router.discovery.serves(GatewayInferencePool.apiResource.apiVersion)
                options = RouterOptions(serverMajor: version.major, minor: version.minor, gatewayAPIServed: served,
                                        configAPIVersion: options.configAPIVersion, endpointPickerImage: options.endpointPickerImage,
                                        routingSidecarImage: options.routingSidecarImage)
                recheckDiscovery = !served
            }
            let children = try Renderer.render(pool: pool, plans: plans, owner: pool.controllerReference(), router: routed, options: options)
            // Another pool's children in the cache under this pool's child names (`a.b` and
            // `a-b`): this pool writes nothing at all until one of the two is renamed.
            func claimedByAnotherPool<Object: KubernetesResource>(_ desired: [Object], _ cache: (String) -> Object?) {
                for child in desired {
                    let childName = child.metadata.name ?? ""
                    if case .otherPool(let other) = ChildOwner.of(cache(childName), pool: pool) {
                        report.nameConflicts.append("\(Object.apiResource.kind) \(childName) (InferencePool \(other))")
                    }
                }
            }
            claimedByAnotherPool(children.deployments) { deployments.get(namespace: namespace, name: $0) }
            claimedByAnotherPool(children.services) { services.get(namespace: namespace, name: $0) }
            if let router {
                claimedByAnotherPool(children.configMaps) { router.configMaps.get(namespace: namespace, name: $0) }
                claimedByAnotherPool(children.serviceAccounts) { router.serviceAccounts.get(namespace: namespace, name: $0) }
                claimedByAnotherPool(children.roles) { router.roles.get(namespace: namespace, name: $0) }
                claimedByAnotherPool(children.roleBindings) { router.roleBindings.get(namespace: namespace, name: $0) }
            }
            if report.nameConflicts.isEmpty {
                if let router {
                    for account in children.serviceAccounts {
                        _ = try await applyChild(account, cached: router.serviceAccounts.get(namespace: namespace, name: account.metadata.name ?? ""), pool: pool, report: &report, context: context)
                    }
                    for role in children.roles {
                        _ = try await applyChild(role, cached: router.roles.get(namespace: namespace, name: role.metadata.name ?? ""), pool: pool, report: &report, context: context)
                    }
                    for binding in children.roleBindings {
                        _ = try await applyChild(binding, cached: router.roleBindings.get(namespace: namespace, name: binding.metadata.name ?? ""), pool: pool, report: &report, context: context)
                    }
                    for configMap in children.configMaps {
                        _ = try await applyChild(configMap, cached: router.configMaps.get(namespace: namespace, name: configMap.metadata.name ?? ""), pool: pool, report: &report, context: context)
                    }
                }
                for service in children.services {
                    _ = try await applyChild(service, cached: services.get(namespace: namespace, name: service.metadata.name ?? ""),
                                             pool: pool, report: &report, context: context)
                }
                func cachedDeployment(_ deployment: Deployment) -> Deployment? {
                    let tier = deployment.metadata.labels?[PoolLabels.role].flatMap(TierName.init(rawValue:))
                    return tier.flatMap { existing[$0] } ?? deployments.get(namespace: namespace, name: deployment.metadata.name ?? "")
                }
                // Pod-template changes the operator makes on its own (an upgrade) roll one pool
                // at a time; a pool waiting keeps its live templates and applies the rest.
                var retemplated: Set<String> = []
                for deployment in children.deployments {
                    if let cached = cachedDeployment(deployment), ChildOwner.of(cached, pool: pool) == .pool,
                        try RolloutPolicy.changesTemplate(live: cached, desired: deployment)
                    {
                        retemplated.insert(deployment.metadata.name ?? "")
                    }
                }
                if let rolloutGate, !retemplated.isEmpty, RolloutPolicy.isOperatorDriven(pool) {
                    gate = rolloutGate.request(ObjectKey(pool))
                }
                for deployment in children.deployments {
                    let tier = deployment.metadata.labels?[PoolLabels.role].flatMap(TierName.init(rawValue:))
                    let cached = cachedDeployment(deployment)
                    if ChildOwner.of(cached, pool: pool) == .pool {
                        try await handOverReplicas(desired: deployment, cached: cached, pool: pool, context: context)
                    }
                    let current: Deployment?
                    if case .wait? = gate, let cached, retemplated.contains(deployment.metadata.name ?? "") {
                        let held = RolloutPolicy.holding(deployment, live: cached)
                        if try ChildComparison.holds(cached, held) {
                            current = cached  // only the template differs: nothing to write yet
                        } else {
                            current = try await applyChild(held, cached: cached, pool: pool, report: &report, context: context)
                        }
                    } else {
                        current = try await applyChild(deployment, cached: cached, pool: pool, report: &report, context: context)
                    }
                    if let tier {
                        observed[tier] = current
                    } else if let routed {
                        routerState = .deployed(endpointPicker: current, gatewayPool: nil,
                                                threshold: routed.scheduler.threshold)
                    }
                }
                if case .deployed(let picker, _, let threshold) = routerState {
                    var gatewayName: String?
                    for gatewayPool in children.gatewayPools {
                        let live = try await client.resources(GatewayInferencePool.self, namespace: namespace).getIfExists(gatewayPool.metadata.name ?? "")
                        if try await applyChild(gatewayPool, cached: live, pool: pool, report: &report, context: context) != nil {
                            gatewayName = gatewayPool.metadata.name
                        }
                    }
                    routerState = .deployed(endpointPicker: picker, gatewayPool: gatewayName, threshold: threshold)
                } else {
                    if case .failure(let problem)? = made.router { routerState = .refused(problem) }
                    try await removeRouter(pool: pool, context: context)
                }
            }
        }
        // A tier that could not be planned keeps whatever Deployment it had (not rolled out anew);
        // only this pool's own Deployments count.
        for tier in TierName.allCases where observed[tier] == nil {
            let cached = deployments.get(namespace: namespace, name: ChildNames.tier(name, tier))
            if ChildOwner.of(cached, pool: pool) == .pool { observed[tier] = cached }
        }

        // The gate is this pool's until its Deployments are rolled out (or Kubernetes reports
        // them stalled): then the next pool may roll.
        if let rolloutGate, rolloutGate.holds(ObjectKey(pool)) {
            var own = Array(observed.values)
            if case .deployed(let picker?, _, _) = routerState { own.append(picker) }
            if own.allSatisfy({ RolloutPolicy.isRolledOut($0) || RolloutPolicy.isStalled($0) }) {
                if own.contains(where: { !RolloutPolicy.isRolledOut($0) }) {
                    context.logger.warning("the rollout of InferencePool \(namespace)/\(name) stalled (ProgressDeadlineExceeded): the next pool may roll")
                }
                await rolloutGate.release(ObjectKey(pool))
            }
        }

        // Autoscaling: decide the tiers in Operator mode and set their replicas.
        var action = ReconcileAction.awaitChange
        var scaling: [TierName: TierScaling] = [:]
        var operated: [TierName] = []
        // When the round decided: its records carry this time, not the reconcile's start (a slow
        // API server can put seconds between the two, and the history must show the decisions'
        // true spacing, which the stabilization windows are counted on).
        var decidedAt: KubeTime?
        if let autoscaler, plan != nil, report.nameConflicts.isEmpty {
            operated = Autoscaler.operatedTiers(pool).filter { observed[$0] != nil }
            if !operated.isEmpty {
                let podList = pods?.list(namespace: namespace) ?? []
                switch await autoscaler.round(pool: pool, deployments: observed, pods: podList) {
                case .decided(let decisions):
                    decidedAt = KubeTime(Date())
                    scaling = decisions
                    for (tier, decision) in decisions where decision.changed {
                        if let scaled = try await scale(tier: tier, to: decision.to, reason: decision.reason, pool: pool, context: context) {
                            observed[tier] = scaled
                        }
                    }
                    action = .requeue(after: autoscaler.nextRound(pool))
                case .notDue(let wait):
                    action = .requeue(after: wait)
                }
            }
        }

        if recheckDiscovery, let wait = router?.discovery.absentTTL {
            // Installing the Gateway API Inference Extension later is noticed without a restart.
            if case .requeue(let after) = action { action = .requeue(after: min(after, wait)) } else { action = .requeue(after: wait) }
        }
        if !report.conflicts.isEmpty || !report.nameConflicts.isEmpty {
            // The objects in the way are not watched (not labelled as Tandem's): look again later.
            if case .requeue(let after) = action {
                action = .requeue(after: min(after, Self.conflictRecheck))
            } else {
                action = .requeue(after: Self.conflictRecheck)
            }
        }
        var status = PoolStatusBuilder.status(
            pool: pool, previous: pool.status, invalid: invalid, plan: plan, deployments: observed, router: routerState,
            resolution: resolution, children: report, now: now)
        if case .wait(let holder)? = gate, report.isEmpty {
            status.conditions?.set(
                Condition(type: PoolCondition.progressing, status: .false, reason: RolloutPolicy.queuedReason,
                          message: RolloutPolicy.queuedMessage(holder: holder), observedGeneration: pool.metadata.generation),
                now: now)
            // Woken when the gate is freed; the recheck bounds a missed wake-up and the holder's time.
            if case .requeue(let after) = action {
                action = .requeue(after: min(after, RolloutGate.recheck))
            } else {
                action = .requeue(after: RolloutGate.recheck)
            }
        }
        if case .proceed(true, let previous)? = gate {
            let note = previous.map { "InferencePool \($0) held the one-pool-at-a-time rollout gate too long; " } ?? ""
            context.logger.info("rolling out the operator's pod-template changes of InferencePool \(namespace)/\(name)")
            await recorder.record(pool, type: .normal, reason: "RolloutStarted", action: "Rollout",
                                  note: note + "rolling out the operator's own pod-template changes (an upgrade); other pools with such changes wait until this one is rolled out")
        }
        if !operated.isEmpty || pool.status?.conditions?[type: PoolCondition.scalingActive] != nil {
            // Between rounds, and for what a round leaves alone, the part this process last wrote.
            autoscaler?.restore(into: &status, pool: pool)
            if !scaling.isEmpty || operated.isEmpty {
                let refresh = scaling.values.contains { $0.changed } || (autoscaler?.mayRefreshSignals(pool) ?? false)
                let record = autoscaler?.record(scaling, pool: pool, now: decidedAt ?? now)
                ScalingStatus.apply(scaling, operated: operated, record: record, to: &status, previous: pool.status,
                                    refreshSignals: refresh, generation: pool.metadata.generation, now: decidedAt ?? now)
                autoscaler?.remember(status, pool: pool)
            }
        }
        if let scalingMetrics {
            scalingMetrics.record(pool: pool, decisions: scaling, status: status)
        }
        await recordScaling(pool: pool, decisions: scaling, old: pool.status, new: status)
        if status != pool.status {
            // Two managers, two parts: the autoscaler's first, so that a field moving from the
            // reconciler's part to the autoscaler's never goes without an owner.
            let new = ScalingStatus.split(status)
            let old = ScalingStatus.split(pool.status)
            let pools = client.resources(InferencePool.self, namespace: namespace)
            if new.autoscaler != old.autoscaler {
                var update = InferencePool(metadata: ObjectMeta(name: name, namespace: namespace))
                update.status = new.autoscaler
                _ = try await pools.applyStatus(update, fieldManager: Autoscaler.fieldManager, force: true)
            }
            if new.reconciler != old.reconciler {
                var update = InferencePool(metadata: ObjectMeta(name: name, namespace: namespace))
                update.status = new.reconciler
                _ = try await pools.applyStatus(update, fieldManager: Self.fieldManager, force: true)
            }
            await recordTransitions(pool: pool, old: pool.status, new: status, plan: plan)
        }
        if !report.failures.isEmpty {
            // Status says why; the error makes the work queue retry with its backoff, as an
            // RBAC grant or an admission webhook may be fixed without a change to the pool.
            throw ChildrenRefused(pool: "\(namespace)/\(name)", failures: report.failures)
        }
        return action
    }

    /// How often a pool blocked by an object it does not own looks again (the object is not
    /// watched: only children labelled as Tandem's are).
    public static let conflictRecheck: Duration = .seconds(30)

    /// Applies a child that is the pool's to write (it controls it, or nothing has its name), and
    /// records in `report` what could not be written: an object someone else holds (never
    /// modified) or the API server's refusal. Returns the child as it now is, or `nil` when it
    /// is not the pool's.
    func applyChild<Object: KubernetesResource>(
        _ desired: Object, cached: Object?, pool: InferencePool, report: inout ChildReport, context: ReconcileContext
    ) async throws -> Object? {
        let childName = desired.metadata.name ?? ""
        let what = "\(Object.apiResource.kind) \(childName)"
        var current = cached
        if current == nil {
            // The informers see only objects labelled as Tandem's: one that someone else made
            // is looked up before anything could be written over it.
            current = try await client.resources(Object.self, namespace: pool.metadata.namespace).getIfExists(childName)
        }
        switch ChildOwner.of(current, pool: pool) {
        case .otherPool(let other):
            report.nameConflicts.append("\(what) (InferencePool \(other))")
            return nil
        case .foreign(let why):
            report.conflicts.append("\(what) (\(why))")
            return nil
        case .absent, .pool:
            break
        }
        do {
            return try await applyIfChanged(desired, cached: current, pool: pool, context: context)
        } catch let error as APIError where ChildReport.isRefusal(error) {
            let message = error.status.message ?? "\(error)"
            report.failures.append("\(what): \(error.code) \(error.status.reason ?? ""): \(message)")
            context.logger.warning("could not apply \(what): \(message)")
            return current
        }
    }

    /// A tier whose replica count is not the spec's (`Operator`, `External`) leaves
    /// `spec.replicas` out of the reconciler's apply once its Deployment exists (the field is
    /// then the autoscaler's, an HPA's or `kubectl scale`'s; see ``handOverReplicas``); a new
    /// Deployment starts at `minReplicas` (at least 1 for decode).
    func keepReplicas(_ plan: TierPlan, pool: InferencePool, existing: Deployment?) -> TierPlan {
        guard plan.replicas == nil else { return plan }
        var kept = plan
        if existing != nil {
            return plan  // the field is another manager's (handed over): not applied
        } else {
            let minimum = pool.spec?.config(plan.tier).autoscaling?.minReplicas ?? 1
            kept.replicas = plan.tier == .decode ? max(1, minimum) : max(0, minimum)
        }
        return kept
    }

    /// Before the reconciler stops applying a Deployment's `spec.replicas` (its tier left
    /// `Disabled`), the new owner applies the current value, so the field never loses its last
    /// manager and never falls back to the default of 1 (ARCHITECTURE.md's handover).
    func handOverReplicas(desired: Deployment, cached: Deployment?, pool: InferencePool, context: ReconcileContext) async throws {
        guard desired.spec?.replicas == nil, let cached, let name = cached.metadata.name,
            Self.owns(Self.fieldManager, path: ["f:spec", "f:replicas"], in: cached),
            let role = cached.metadata.labels?[PoolLabels.role].flatMap(TierName.init(rawValue:))
        else { return }
        // The count handed over is the live one: the informer's copy may be older (a handover
        // of a stale count would undo a scale made just before the switch).
        let resources = client.resources(Deployment.self, namespace: pool.metadata.namespace)
        let live = try await resources.get(name)
        guard let current = live.spec?.replicas, Self.owns(Self.fieldManager, path: ["f:spec", "f:replicas"], in: live) else { return }
        let mode = pool.spec?.config(role).autoscaling?.mode ?? .disabled
        let manager = mode == .operator ? Autoscaler.fieldManager : Self.handoverFieldManager
        var claim = Deployment(metadata: ObjectMeta(name: name, namespace: cached.metadata.namespace),
                               spec: DeploymentSpec(replicas: current))
        claim.metadata.resourceVersion = live.metadata.resourceVersion  // fails (409) if it changed meanwhile: retried
        _ = try await resources.apply(claim, fieldManager: manager, force: true)
        context.logger.info("handed spec.replicas (\(current)) of Deployment \(name) to \(manager)")
    }

    /// Sets a tier's replicas under the autoscaler's field manager.
    func scale(tier: TierName, to replicas: Int, reason: String, pool: InferencePool, context: ReconcileContext) async throws -> Deployment? {
        let name = ChildNames.tier(pool.metadata.name ?? "", tier)
        guard deployments.get(namespace: pool.metadata.namespace, name: name) != nil else { return nil }
        let claim = Deployment(metadata: ObjectMeta(name: name, namespace: pool.metadata.namespace),
                               spec: DeploymentSpec(replicas: Int32(clamping: replicas)))
        let scaled = try await client.resources(Deployment.self, namespace: pool.metadata.namespace)
            .apply(claim, fieldManager: Autoscaler.fieldManager, force: true)
        context.logger.info("scaled Deployment \(name) to \(replicas): \(reason)")
        return scaled
    }

    /// Whether `manager` owns the field at `path` of `object` through a server-side apply.
    static func owns<Object: KubernetesObject>(_ manager: String, path: [String], in object: Object) -> Bool {
        object.metadata.managedFields?.contains { entry in
            guard entry.manager == manager, entry.operation == "Apply", entry.subresource?.isEmpty ?? true,
                var fields = entry.fieldsV1 else { return false }
            for key in path {
                guard let next = fields[key] else { return false }
                fields = next
            }
            return true
        } ?? false
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

    /// Deletes the router objects this pool owns (its `scheduler` block is gone, or its router
    /// cannot be deployed). Only children whose controller is this pool are touched.
    func removeRouter(pool: InferencePool, context: ReconcileContext) async throws {
        guard let router, let uid = pool.metadata.uid else { return }
        let namespace = pool.metadata.namespace ?? ""
        let name = ChildNames.router(pool.metadata.name ?? "")
        func ours<Object: KubernetesObject>(_ object: Object?) -> Bool {
            object?.metadata.ownerReferences?.contains { $0.uid == uid && $0.controller == true } ?? false
        }
        func remove<Object: KubernetesResource>(_ type: Object.Type, _ objectName: String) async throws {
            do {
                _ = try await client.resources(type, namespace: namespace).delete(
                    objectName, options: DeleteOptions(propagationPolicy: .background))
            } catch let error as APIError where error.code == 404 {
                return
            }
            context.logger.info("deleted \(Object.apiResource.kind) \(objectName)")
            await recorder.record(pool, type: .normal, reason: "Deleted", action: "Delete",
                                  note: "deleted \(Object.apiResource.kind) \(objectName): the pool has no router")
        }
        let picker = deployments.get(namespace: namespace, name: name)
        if ours(picker) {
            // The GIE pool goes first: a Gateway must not keep routing to a picker being removed.
            if try await router.discovery.serves(GatewayInferencePool.apiResource.apiVersion) {
                let gatewayName = ChildNames.gatewayPool(pool.metadata.name ?? "")
                let live = try await client.resources(GatewayInferencePool.self, namespace: namespace).getIfExists(gatewayName)
                if ours(live) { try await remove(GatewayInferencePool.self, gatewayName) }
            }
            try await remove(Deployment.self, name)
        }
        if ours(services.get(namespace: namespace, name: name)) { try await remove(Service.self, name) }
        if ours(router.configMaps.get(namespace: namespace, name: name)) { try await remove(ConfigMap.self, name) }
        if ours(router.roleBindings.get(namespace: namespace, name: name)) { try await remove(RoleBinding.self, name) }
        if ours(router.roles.get(namespace: namespace, name: name)) { try await remove(Role.self, name) }
        if ours(router.serviceAccounts.get(namespace: namespace, name: name)) { try await remove(ServiceAccount.self, name) }
    }

    /// Warning Events when a problem appears or changes, so a steady state records nothing.
    func recordTransitions(pool: InferencePool, old: InferencePoolStatus?, new: InferencePoolStatus, plan: PoolPlan?) async {
        // Children that could not be written: a Warning whenever the reason or message changes.
        if let ready = Self.changed(PoolCondition.ready, old, new), ready.after.status == .false,
            [ChildReason.nameConflict, ChildReason.conflict, ChildReason.applyFailed].contains(ready.after.reason)
        {
            await recorder.record(pool, type: .warning, reason: ready.after.reason, action: "Apply", note: ready.after.message)
        }
        // Waiting for another pool's operator-driven rollout: a Normal Event when it starts waiting.
        if let progressing = Self.changed(PoolCondition.progressing, old, new), progressing.after.reason == RolloutPolicy.queuedReason,
            progressing.before?.reason != RolloutPolicy.queuedReason
        {
            await recorder.record(pool, type: .normal, reason: RolloutPolicy.queuedReason, action: "Rollout", note: progressing.after.message)
        }
        // How the accelerator was resolved: a Warning when the nodes disagree, once per message.
        if let resolved = Self.changed(PoolCondition.acceleratorResolved, old, new), resolved.after.reason != "Inferred" {
            await recorder.record(pool, type: .warning, reason: resolved.after.reason, action: "Sizing", note: resolved.after.message)
        }
        // The router: a Warning when it stops (or cannot start) routing for a new reason, a
        // Normal Event when it routes.
        let routerBefore = old?.conditions?[type: PoolCondition.routerReady]
        if let routerAfter = new.conditions?[type: PoolCondition.routerReady],
            routerBefore?.reason != routerAfter.reason || routerBefore?.status != routerAfter.status
        {
            if routerAfter.status == .true {
                await recorder.record(pool, type: .normal, reason: "RouterReady", action: "Routing", note: routerAfter.message)
            } else if routerAfter.reason != "EndpointPickerNotReady" {  // a rollout's normal course
                await recorder.record(pool, type: .warning, reason: routerAfter.reason, action: "Routing", note: routerAfter.message)
            }
        }
        guard let (before, after) = Self.changed(PoolCondition.sizingValid, old, new) else { return }
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

extension PoolReconciler {
    /// The condition `type` before and after, when its status, reason or message changed: what
    /// an Event is recorded for (a steady state records nothing).
    static func changed(_ type: String, _ old: InferencePoolStatus?, _ new: InferencePoolStatus)
        -> (before: Condition?, after: Condition)?
    {
        let before = old?.conditions?[type: type]
        guard let after = new.conditions?[type: type],
            before?.status != after.status || before?.reason != after.reason || before?.message != after.message
        else { return nil }
        return (before, after)
    }
}

/// A reconcile that wrote what it could and reported the rest in status; thrown so the work
/// queue retries with its backoff.
struct ChildrenRefused: Error, CustomStringConvertible {
    var pool: String
    var failures: [String]
    var description: String {
        "InferencePool \(pool): the API server refused \(failures.count) child(ren): \(failures.joined(separator: "; ")) (see the pool's Ready condition)"
    }
}

/// The informer caches and settings of pools' routers.
public struct RouterStores: Sendable {
    public var configMaps: Store<ConfigMap>
    public var serviceAccounts: Store<ServiceAccount>
    public var roles: Store<Role>
    public var roleBindings: Store<RoleBinding>
    public var discovery: APIDiscovery
    /// Images and the config's apiVersion; the rest is discovered per reconcile.
    public var options: RouterOptions

    public init(configMaps: Store<ConfigMap>, serviceAccounts: Store<ServiceAccount>, roles: Store<Role>,
                roleBindings: Store<RoleBinding>, discovery: APIDiscovery, options: RouterOptions) {
        self.configMaps = configMaps
        self.serviceAccounts = serviceAccounts
        self.roles = roles
        self.roleBindings = roleBindings
        self.discovery = discovery
        self.options = options
    }
}
