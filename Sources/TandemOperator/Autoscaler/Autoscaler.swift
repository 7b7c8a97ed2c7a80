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
public final class Autoscaler: Sendable {
    /// The field manager of `spec.replicas` of the Deployments it scales, and of its part of
    /// the pool's status (``ScalingStatus/split(_:)``).
    public static let fieldManager = "tandem-autoscaler"

    let source: any SignalSource
    public let options: AutoscalerOptions
    let origin = ContinuousClock.now
    let memory = Mutex<[ObjectKey: Memory]>([:])

    struct Memory {
        var pool = PoolAutoscaler()
        var decidedAt: ContinuousClock.Instant?
        var signalsWrittenAt: ContinuousClock.Instant?
        /// The scaling history and last scale times as this process wrote them: the informer's
        /// copy of the status may not show the last write yet, and must not undo it.
        var history: [ScalingRecord]?
        var lastScaleTimes: [TierName: KubeTime] = [:]
        /// The autoscaler's part of the status as last written, for reconciles between rounds.
        var written: InferencePoolStatus?
    }

    /// Notes the autoscaler's part of the status a round produced.
    func remember(_ status: InferencePoolStatus, pool: InferencePool) {
        memory.withLock { $0[ObjectKey(pool), default: Memory()].written = status }
    }

    /// Between rounds, puts back the autoscaler's part of the status as this process last
    /// wrote it (the informer's copy may be older).
    func restore(into status: inout InferencePoolStatus, pool: InferencePool) {
        guard let written = memory.withLock({ $0[ObjectKey(pool)]?.written }) else { return }
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
            var entry = all[key] ?? Memory()
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

    /// Reads and decides for the tiers in `Operator` mode, unless the last round is less than
    /// half an interval old (reconciles triggered by pod changes do not scrape again).
    public func round(pool: InferencePool, deployments: [TierName: Deployment], pods: [Pod]) async -> Round {
        let key = ObjectKey(pool)
        let now = ContinuousClock.now
        if let last = memory.withLock({ $0[key]?.decidedAt }), now - last < options.interval / 2 {
            return .notDue(options.interval - (now - last))
        }
        let spec = pool.spec ?? InferencePoolSpec(model: "")
        let poolName = pool.metadata.name ?? ""
        let namespace = pool.metadata.namespace ?? ""
        var observations: [TierName: TierObservation] = [:]
        var fixed: [TierName: Int] = [:]
        for tier in TierName.allCases {
            guard let deployment = deployments[tier] else { continue }
            let current = Int(deployment.spec?.replicas ?? 1)
            guard spec.config(tier).autoscaling?.mode == .operator else {
                fixed[tier] = current
                continue
            }
            let tierPods = pods.filter {
                $0.metadata.labels?[PoolLabels.pool] == poolName && $0.metadata.labels?[PoolLabels.role] == tier.rawValue
                    && $0.metadata.deletionTimestamp == nil
            }
            let ready = tierPods.filter { $0.status?.isReady == true }
            let targets = ready.compactMap { Self.target($0, namespace: namespace) }
            let readings = targets.isEmpty ? [:] : await source.read(targets, modelName: spec.model)
            observations[tier] = TierObservation(
                current: current, ready: ready.count, readings: readings,
                capacity: Self.capacityLimit(deployment: deployment, pods: tierPods), startupDelay: Self.startupDelay(ready))
        }
        let elapsed = now - origin
        let decisions = memory.withLock { all in
            var entry = all[key] ?? Memory()
            let decisions = entry.pool.decide(
                spec: spec, observations: observations, fixed: fixed, panic: options.panic,
                averagingWindow: options.averagingWindow, now: elapsed)
            entry.decidedAt = now
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
            let key = ObjectKey(pool)
            if let last = all[key]?.signalsWrittenAt, now - last < options.statusInterval { return false }
            all[key, default: Memory()].signalsWrittenAt = now
            return true
        }
    }

    /// Forgets a deleted pool.
    public func forget(_ key: ObjectKey) {
        _ = memory.withLock { $0.removeValue(forKey: key) }
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
