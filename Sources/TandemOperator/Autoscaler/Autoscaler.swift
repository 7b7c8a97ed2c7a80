import Autoscaling
import Foundation
import KubeCore
import KubeRuntime
import Rendering
import Synchronization
import TandemAPI

/// How often the autoscaler reads and decides, and how often it reports.
public struct AutoscalerOptions: Sendable {
    /// One round per pool per interval.
    ///
    /// Source: 5 s, the issue's default, a third of the HPA's 15 s sync period
    /// (--horizontal-pod-autoscaler-sync-period) since vLLM's gauges move in seconds.
    public var interval: Duration
    /// Signal values in the status are refreshed at most this often unless a decision changed.
    ///
    /// Source: 30 s, so that a steady pool writes its status twice a minute at most.
    public var statusInterval: Duration
    /// Panic mode's windows (Knative KPA's 6 s and 60 s by default); tests compress them.
    public var panic: PanicPolicy
    /// The window whose mean signals bound a scale-down (Knative's 60 s stable window by
    /// default, ``Autoscaling/RecommendationInput/defaultAveragingWindow``); tests compress it.
    public var averagingWindow: Duration

    public init(interval: Duration = .seconds(5), statusInterval: Duration = .seconds(30), panic: PanicPolicy = .default,
                averagingWindow: Duration = RecommendationInput.defaultAveragingWindow) {
        self.interval = interval
        self.statusInterval = statusInterval
        self.panic = panic
        self.averagingWindow = averagingWindow
    }
}

/// The autoscaler's side of a reconcile: reads the ready pods of each tier in `Operator` mode
/// through a ``SignalSource``, finds what limits growth, and decides with a ``PoolAutoscaler``
/// kept per pool between reconciles.
///
/// The pods are read in the background (``MetricsSampler``), never on a reconcile worker: a
/// round hands the sampler the pool's targets and decides on the latest snapshot it has, once
/// per snapshot. ``onSample(namespace:_:)`` tells the controller when a snapshot lands, so the
/// pool is reconciled with it; a pod that stalls costs its pool one overall scrape deadline per
/// interval, and no other pool anything.
///
/// Per-pool state is keyed by the pool's namespace and name and tied to its UID: a pool deleted
/// and created again under the same name starts afresh, even before ``forget(_:)`` ran.
public final class Autoscaler: Sendable {
    /// The field manager of `spec.replicas` of the Deployments it scales, and of its part of
    /// the pool's status (``ScalingStatus/split(_:)``).
    public static let fieldManager = "tandem-autoscaler"

    let source: any SignalSource
    public let options: AutoscalerOptions
    let origin = ContinuousClock.now
    let memory = Mutex<[ObjectKey: Memory]>([:])
    let sampler: MetricsSampler
    private let listeners = Mutex<[(namespace: String?, notify: @Sendable (ObjectKey) async -> Void)]>([])

    struct Memory {
        /// The UID of the pool this memory is of; another UID under the same key starts afresh.
        var uid: String?
        var pool = PoolAutoscaler()
        /// The ``MetricsSampler/Snapshot/sequence`` of the last snapshot decided on.
        var decidedSequence = 0
        var signalsWrittenAt: ContinuousClock.Instant?
        /// The scaling history and last scale times as this process wrote them: the informer's
        /// copy of the status may not show the last write yet, and must not undo it.
        var history: [ScalingRecord]?
        var lastScaleTimes: [TierName: KubeTime] = [:]
        /// The autoscaler's part of the status as last written, for reconciles between rounds.
        var written: InferencePoolStatus?
    }

    /// The memory of `pool` in `all`, new when none is kept or the kept one is of another UID.
    static func entry(_ all: inout [ObjectKey: Memory], _ pool: InferencePool) -> Memory {
        let uid = pool.metadata.uid
        if let kept = all[ObjectKey(pool)], kept.uid == uid { return kept }
        return Memory(uid: uid)
    }

    /// Notes the autoscaler's part of the status a round produced.
    func remember(_ status: InferencePoolStatus, pool: InferencePool) {
        memory.withLock { all in
            var entry = Self.entry(&all, pool)
            entry.written = status
            all[ObjectKey(pool)] = entry
        }
    }

    /// Between rounds, puts back the autoscaler's part of the status as this process last
    /// wrote it (the informer's copy may be older).
    func restore(into status: inout InferencePoolStatus, pool: InferencePool) {
        guard let written = memory.withLock({ all in Self.entry(&all, pool).written }) else { return }
        status.scalingHistory = written.scalingHistory
        var conditions = status.conditions ?? []
        for type in [PoolCondition.scalingActive, ScalingStatus.scalingLimited] {
            conditions.removeAll { $0.type == type }
            if let condition = written.conditions?[type: type] { conditions.append(condition) }
        }
        status.conditions = conditions
        for tier in TierName.allCases {
            status[tier]?.metrics = written[tier]?.metrics
            status[tier]?.lastScaleTime = written[tier]?.lastScaleTime
            if let desired = written[tier]?.desiredReplicas { status[tier]?.desiredReplicas = desired }
        }
    }

    /// What the status says of past decisions, with this round's added (newest first).
    public struct Record: Sendable {
        public var history: [ScalingRecord]
        public var lastScaleTimes: [TierName: KubeTime]
    }

    /// Adds this round's changes to the pool's history, kept here between reconciles (seeded
    /// from the status the first time a pool is seen, so a restart keeps it).
    public func record(_ decisions: [TierName: TierScaling], pool: InferencePool, now: KubeTime) -> Record {
        memory.withLock { all in
            let key = ObjectKey(pool)
            var entry = Self.entry(&all, pool)
            var history = entry.history ?? pool.status?.scalingHistory ?? []
            if entry.history == nil {
                for tier in TierName.allCases { entry.lastScaleTimes[tier] = pool.status?[tier]?.lastScaleTime }
            }
            for tier in [TierName.prefill, .decode] {
                guard let decision = decisions[tier], decision.changed else { continue }
                history.insert(
                    ScalingRecord(time: now, tier: tier, from: Int32(clamping: decision.from), to: Int32(clamping: decision.to),
                                  reason: decision.reason), at: 0)
                entry.lastScaleTimes[tier] = now
            }
            history = Array(history.prefix(InferencePoolStatus.scalingHistoryLimit))
            entry.history = history
            all[key] = entry
            return Record(history: history, lastScaleTimes: entry.lastScaleTimes)
        }
    }

    public init(source: any SignalSource, options: AutoscalerOptions = AutoscalerOptions()) {
        self.source = source
        self.options = options
        // Each round requeues its pool after about one interval, so a pool no reconcile asked
        // for in six intervals (at least 30 s, room for a busy work queue) has left Operator
        // mode: stop reading it. Deleted pools stop at once (forget).
        sampler = MetricsSampler(source: source, interval: options.interval, idleLimit: max(options.interval * 6, .seconds(30)))
        sampler.setListener { [weak self] key in await self?.sampled(key) }
    }

    private func sampled(_ key: ObjectKey) async {
        let matching = listeners.withLock { $0.filter { $0.namespace == nil || $0.namespace == key.namespace } }
        for listener in matching { await listener.notify(key) }
    }

    /// Calls `notify` whenever a fresh metrics snapshot of a pool in `namespace` (any namespace
    /// when nil) lands, e.g. to enqueue the pool with the controller that owns that namespace.
    public func onSample(namespace: String?, _ notify: @escaping @Sendable (ObjectKey) async -> Void) {
        listeners.withLock { $0.append((namespace, notify)) }
    }

    /// Stops every background read (the operator is shutting down).
    public func stop() {
        sampler.stop()
    }

    /// How long the tier's pods took from creation to Ready: the median over the five newest
    /// ready pods (a pod whose readiness flapped counts its latest transition); `nil` without any.
    public static func startupDelay(_ readyPods: [Pod]) -> Duration? {
        let delays = readyPods.compactMap { pod -> (created: Date, seconds: Double)? in
            guard let created = pod.metadata.creationTimestamp?.date,
                  let readyAt = pod.status?.readyCondition?.lastTransitionTime?.date
            else { return nil }
            return (created, max(0, readyAt.timeIntervalSince(created)))
        }.sorted { $0.created > $1.created }.prefix(5).map(\.seconds).sorted()
        guard !delays.isEmpty else { return nil }
        return .milliseconds(Int64(delays[delays.count / 2] * 1000))
    }

    /// The tiers the autoscaler owns in `pool`.
    public static func operatedTiers(_ pool: InferencePool) -> [TierName] {
        TierName.allCases.filter { pool.spec?.config($0).autoscaling?.mode == .operator }
    }

    /// A round's outcome: the decisions, or the time until the next round is due.
    public enum Round: Sendable {
        case decided([TierName: TierScaling])
        case notDue(Duration)
    }

    /// Decides for the tiers in `Operator` mode on the pool's latest metrics snapshot, once per
    /// snapshot; never waits on the network.
    ///
    /// The pods' targets go to the background sampler, which reads them once per interval and
    /// calls the ``onSample(namespace:_:)`` listeners when a snapshot lands. Until the first
    /// snapshot, after a snapshot already decided on, or when the newest one is older than two
    /// intervals (a reconcile that waited in the queue), the round is `.notDue`.
    public func round(pool: InferencePool, deployments: [TierName: Deployment], pods: [Pod]) async -> Round {
        let key = ObjectKey(pool)
        let now = ContinuousClock.now
        let spec = pool.spec ?? InferencePoolSpec(model: "")
        let namespace = pool.metadata.namespace ?? ""
        let poolLabel = ChildNames.poolLabel(pool.metadata.name ?? "")
        var targets: [TierName: [ScrapeTarget]] = [:]
        var tierPods: [TierName: [Pod]] = [:]
        var fixed: [TierName: Int] = [:]
        for tier in TierName.allCases {
            guard let deployment = deployments[tier] else { continue }
            guard spec.config(tier).autoscaling?.mode == .operator else {
                fixed[tier] = Int(deployment.spec?.replicas ?? 1)
                continue
            }
            // Pods carry the pool's label value, which is shortened for long names: select by
            // the same function that renders it.
            tierPods[tier] = pods.filter {
                $0.metadata.labels?[PoolLabels.pool] == poolLabel && $0.metadata.labels?[PoolLabels.role] == tier.rawValue
                    && $0.metadata.deletionTimestamp == nil
            }
            targets[tier] = (tierPods[tier] ?? []).filter { $0.status?.isReady == true }.compactMap { Self.target($0, namespace: namespace) }
        }
        let all = TierName.allCases.flatMap { targets[$0] ?? [] }
        guard let snapshot = sampler.want(key, targets: all, modelName: spec.model) else { return .notDue(options.interval) }
        let decided = memory.withLock { all in Self.entry(&all, pool).decidedSequence }
        guard snapshot.sequence > decided, now - snapshot.completedAt <= options.interval * 2 else { return .notDue(options.interval) }

        var observations: [TierName: TierObservation] = [:]
        for (tier, tierTargets) in targets {
            guard let deployment = deployments[tier] else { continue }
            let podsOfTier = tierPods[tier] ?? []
            let ready = podsOfTier.filter { $0.status?.isReady == true }
            var readings: [String: PodReading] = [:]
            for target in tierTargets {
                if let reading = snapshot.readings[target.pod] { readings[target.pod] = reading }
            }
            observations[tier] = TierObservation(
                current: Int(deployment.spec?.replicas ?? 1), ready: ready.count, readings: readings,
                capacity: Self.capacityLimit(deployment: deployment, pods: podsOfTier), startupDelay: Self.startupDelay(ready))
        }
        let elapsed = now - origin
        let decisions = memory.withLock { all in
            var entry = Self.entry(&all, pool)
            let decisions = entry.pool.decide(
                spec: spec, observations: observations, fixed: fixed, panic: options.panic,
                averagingWindow: options.averagingWindow, now: elapsed)
            entry.decidedSequence = snapshot.sequence
            all[key] = entry
            return decisions
        }
        return .decided(decisions)
    }

    /// The wait before a pool's next round: the interval plus up to 10 % more, fixed per pool,
    /// so that pools created together drift apart and do not scrape their pods all at once.
    func nextRound(_ pool: InferencePool) -> Duration {
        var hash: UInt64 = 14_695_981_039_346_656_037  // FNV-1a: stable across runs, unlike Hasher
        for byte in "\(pool.metadata.namespace ?? "")/\(pool.metadata.name ?? "")".utf8 {
            hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211
        }
        return options.interval + options.interval * (Double(hash % 1000) / 10_000)
    }

    /// Whether the status may carry fresh signal values now (rate limit), and notes that it does.
    func mayRefreshSignals(_ pool: InferencePool) -> Bool {
        let now = ContinuousClock.now
        return memory.withLock { all in
            var entry = Self.entry(&all, pool)
            if let last = entry.signalsWrittenAt, now - last < options.statusInterval { return false }
            entry.signalsWrittenAt = now
            all[ObjectKey(pool)] = entry
            return true
        }
    }

    /// Forgets a deleted pool: its decisions' memory, history and snapshot, and stops reading
    /// its pods. Idempotent; a pool of the same name created later starts afresh.
    public func forget(_ key: ObjectKey) {
        _ = memory.withLock { $0.removeValue(forKey: key) }
        sampler.forget(key)
    }

    /// Pools with per-pool state kept (decisions' memory or background reads), for tests.
    public var rememberedPools: Set<ObjectKey> {
        memory.withLock { Set($0.keys) }.union(sampler.sampledPools)
    }

    /// The pools a pod's change concerns: the pool whose label value (``ChildNames/poolLabel(_:)``,
    /// shortened with a hash for names over 63 characters) the pod carries. The label alone is
    /// not the pool's name for long names, so it is matched against the pools in the cache; a
    /// label no cached pool renders still names its key (the controller then forgets it).
    public static func pools(of pod: Pod, in pools: Store<InferencePool>) -> [ObjectKey] {
        guard let label = pod.metadata.labels?[PoolLabels.pool] else { return [] }
        let namespace = pod.metadata.namespace
        if let named = pools.get(namespace: namespace, name: label), ChildNames.poolLabel(named.metadata.name ?? "") == label {
            return [ObjectKey(named)]
        }
        let matching = pools.list(namespace: namespace ?? "").filter { ChildNames.poolLabel($0.metadata.name ?? "") == label }
        return matching.isEmpty ? [ObjectKey(namespace: namespace, name: label)] : matching.map { ObjectKey($0) }
    }

    /// Where a ready pod serves `/metrics`: its IP and the container port named `metrics`.
    static func target(_ pod: Pod, namespace: String) -> ScrapeTarget? {
        guard let ip = pod.status?.podIP, let name = pod.metadata.name else { return nil }
        let port = pod.spec?.containers?.lazy.compactMap { container in
            container.ports?.first { $0.name == Renderer.metricsPortName }?.containerPort
        }.first ?? Int32(Renderer.servingPort)
        let host = ip.contains(":") ? "[\(ip)]" : ip
        return ScrapeTarget(namespace: namespace, pod: name, address: "\(host):\(port)")
    }

    /// What stops the tier from growing: pods the scheduler cannot place, or a ReplicaSet that
    /// cannot create pods (a quota denial leaves no Pending pod, only the Deployment's condition).
    static func capacityLimit(deployment: Deployment, pods: [Pod]) -> CapacityLimit? {
        if let failure = deployment.status?.conditions?.first(where: { $0.type == "ReplicaFailure" && $0.status == "True" }) {
            let message = failure.message ?? failure.reason ?? "the ReplicaSet cannot create pods"
            if message.localizedCaseInsensitiveContains("quota") { return .quotaExceeded(message) }
            return .insufficientCapacity(message)
        }
        let unschedulable = pods.filter { pod in
            pod.status?.phase == "Pending"
                && pod.status?.conditions?.contains { $0.type == "PodScheduled" && $0.status == "False" && $0.reason == "Unschedulable" } == true
        }
        guard let first = unschedulable.first else { return nil }
        let why = first.status?.conditions?.first { $0.type == "PodScheduled" }?.message ?? "no node has room"
        return .insufficientCapacity("\(unschedulable.count) pod\(unschedulable.count == 1 ? "" : "s") unschedulable: \(why)")
    }
}
