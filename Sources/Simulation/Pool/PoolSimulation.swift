import Autoscaling
import Sizing
import TandemAPI
import KubeCore

/// A deterministic discrete-event simulation of one `InferencePool` — a prefill tier and a
/// decode tier of ``EngineSimulator`` replicas — with an ``Autoscaling/AutoscalingPolicy`` in
/// the loop, in virtual time.
///
/// - **Routing** (llm-d's, simplified): an arriving request goes to the ready decode replica
///   with the fewest requests assigned and not finished (those still in prefill or KV transfer
///   for it included); ties go to the lowest index. If its prompt has at least
///   `spec.scheduler.disaggregationThreshold` tokens (100 when unset) and a prefill replica is
///   ready, it is first prefilled on the least-loaded prefill replica (role `prefill`: done at
///   its first token), its KV cache is sent to the decode replica (prompt tokens × the model's
///   KV bytes per token, at ``Interconnect/bytesPerSecond(for:)``), and the decode replica then
///   computes one uncached prompt token and decodes. Otherwise the decode replica prefills it.
///   With no ready decode replica, requests wait at the router.
/// - **Replicas**: the initial replicas are ready at time 0. A replica the policy adds is placed
///   when the pool's GPUs allow (else it stays pending, in creation order, and the tier's
///   observation carries ``Autoscaling/CapacityLimit/insufficientCapacity(_:)``) and is ready
///   ``StartupDelayModel/delay(weightsBytesPerDevice:)`` after placement. A replica the policy
///   removes is chosen as Kubernetes' ReplicaSet controller ranks pods for deletion — pending
///   before placed, not ready before ready — and among ready ones the one with the least work
///   (ties: the newest). A ready replica with work drains: it takes nothing new, finishes what
///   it has and then goes (its GPUs are held, and counted, until then).
/// - **Rounds**: every ``Options/interval`` the policy gets a ``Autoscaling/TierObservation``
///   per tier it sizes: the Deployment's count (`current`: replicas not draining), the ready
///   ones, each ready replica's ``Autoscaling/PodMetrics`` from its ``EngineMetrics`` (waiting,
///   running, KV-cache usage, the prompt-length histogram: what the operator scrapes) and its
///   ``Autoscaling/PodLoad`` (prompt tokens it still has to prefill, known from routing). The
///   `to` of each decision is applied at once.
///
/// Cost: one loop iteration per distinct event time (an engine step ending, an arrival, a KV
/// transfer landing, a replica turning ready, a round), each touching the tiers' replicas.
public struct PoolSimulation: Sendable {
    /// The pool: model, accelerator, scheduler threshold, and the autoscaling blocks a policy reads.
    public var spec: InferencePoolSpec
    /// Both tiers' engines.
    public var tiers: [TierName: PoolTierModel]
    /// The pool's accelerator (for the KV-transfer bandwidth).
    public var accelerator: Accelerator
    /// Interval, start-up, capacity, SLO, ….
    public var options: Options

    /// A simulation of tiers already sized.
    public init(spec: InferencePoolSpec, tiers: [TierName: PoolTierModel], accelerator: Accelerator, options: Options = Options()) {
        self.spec = spec
        self.tiers = tiers
        self.accelerator = accelerator
        self.options = options
    }

    /// A simulation of `spec`, its tiers sized by ``tiers(for:)``.
    public init(spec: InferencePoolSpec, options: Options = Options()) throws {
        let tiers = try Self.tiers(for: spec)
        guard let name = spec.accelerator, let accelerator = AcceleratorCatalog.builtIn.accelerator(named: name) else {
            throw PoolSimulationError("unknown accelerator")
        }
        self.init(spec: spec, tiers: tiers, accelerator: accelerator, options: options)
    }

    /// The start-up delay of a replica of `tier`.
    public func startupDelay(_ tier: TierName) -> Duration {
        options.startup.delay(weightsBytesPerDevice: tiers[tier]?.sizing.weightsBytesPerDevice ?? 0)
    }

    /// The seconds a KV transfer of `promptTokens` tokens takes from prefill to decode.
    public func transferTime(promptTokens: Int) -> Duration {
        let bytes = Double(promptTokens) * Double(tiers[.prefill]?.kvBytesPerToken ?? 0)
        return Duration(engineSeconds: bytes / Interconnect.bytesPerSecond(for: accelerator))
    }

    /// The prompt length from which requests are prefilled on the prefill tier.
    public var disaggregationThreshold: Int {
        (spec.scheduler ?? SchedulerSpec()).threshold
    }

    /// Runs `plan` (any order; sorted by arrival, ties in plan order) with `policy` deciding.
    public func run(plan: [PlannedRequest], policy: any AutoscalingPolicy) -> SimulationReport {
        var runner = PoolRunner(simulation: self, plan: plan, policy: policy)
        return runner.run()
    }
}

// MARK: - The run

/// One replica of either tier.
private struct Replica {
    let tier: TierName
    let name: String
    var engine: EngineSimulator
    /// `engine.nextEventTime`, cached.
    var next: Duration?
    /// When it got GPUs; `nil` while pending.
    var placedAt: Duration?
    var readyAt: Duration?
    var ready = false
    var draining = false
    var removedAt: Duration?
    /// Requests routed here and not finished (on decode: also those still in prefill or transfer).
    var assigned = 0
    /// Requests whose prompt this replica still has to compute: id → (submission order, tokens).
    var prefillPending: [Int: (order: Int, tokens: Int)] = [:]
    var submissions = 0

    init(tier: TierName, name: String, engine: EngineSimulator) {
        self.tier = tier
        self.name = name
        self.engine = engine
    }
}

private struct RequestState {
    var arrival: Duration
    var prompt: Int
    var output: Int
    var decode = -1
    var disaggregated = false
    var firstToken: Duration?
    var finish: Duration?
    var outputTokens = 0
    var completed = false
    var done = false
}

/// A min-heap of KV transfers by landing time (ties: the order they were pushed).
private struct TransferQueue {
    private var heap: [(time: Duration, order: Int, id: Int)] = []
    private var pushed = 0

    var top: (time: Duration, order: Int, id: Int)? { heap.first }

    mutating func push(time: Duration, id: Int) {
        heap.append((time, pushed, id))
        pushed += 1
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.less(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Int? {
        guard !heap.isEmpty else { return nil }
        let id = heap[0].id
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < heap.count, Self.less(heap[left], heap[smallest]) { smallest = left }
                if right < heap.count, Self.less(heap[right], heap[smallest]) { smallest = right }
                if smallest == parent { break }
                heap.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return id
    }

    private static func less(_ a: (time: Duration, order: Int, id: Int), _ b: (time: Duration, order: Int, id: Int)) -> Bool {
        a.time != b.time ? a.time < b.time : a.order < b.order
    }
}

private struct PoolRunner {
    let simulation: PoolSimulation
    var policy: any AutoscalingPolicy
    var replicas: [Replica] = []
    /// Replicas not removed, per tier, in creation order (draining ones included).
    var members: [TierName: [Int]] = [.prefill: [], .decode: []]
    var requests: [RequestState]
    var nextArrival = 0
    var transfers = TransferQueue()
    var backlog: [Int] = []
    var pending: [Int] = []
    var gpusInUse = 0
    var outstanding = 0
    var created: [TierName: Int] = [:]
    var scaleEvents: [SimulationReport.ScaleEvent] = []
    var timeline: [SimulationReport.TimelinePoint] = []
    let threshold: Int
    let startup: [TierName: Duration]

    init(simulation: PoolSimulation, plan: [PlannedRequest], policy: any AutoscalingPolicy) {
        self.simulation = simulation
        self.policy = policy
        let sorted = plan.enumerated().sorted { $0.element.at != $1.element.at ? $0.element.at < $1.element.at : $0.offset < $1.offset }
        requests = sorted.map { RequestState(arrival: max(.zero, $0.element.at), prompt: max(1, $0.element.promptTokens), output: max(1, $0.element.outputTokens)) }
        threshold = simulation.disaggregationThreshold
        startup = [.prefill: simulation.startupDelay(.prefill), .decode: simulation.startupDelay(.decode)]
    }

    var options: PoolSimulation.Options { simulation.options }

    mutating func run() -> SimulationReport {
        for tier in TierName.allCases {
            let config = simulation.spec.config(tier)
            var count = options.initialReplicas[tier]
                ?? Int(config.replicas ?? config.autoscaling?.minReplicas ?? 1)
            if tier == .decode { count = max(1, count) }
            for _ in 0..<max(0, count) { create(tier, at: .zero, warm: true) }
        }
        let lastArrival = requests.last?.arrival ?? .zero
        let hardEnd = lastArrival + options.drainLimit
        let interval = options.interval > .zero ? options.interval : .seconds(5)
        var nextRound = interval
        var now = Duration.zero
        while nextArrival < requests.count || outstanding > 0 {
            var time = nextRound
            if nextArrival < requests.count { time = min(time, requests[nextArrival].arrival) }
            if let top = transfers.top { time = min(time, top.time) }
            for tier in TierName.allCases {
                for index in members[tier]! {
                    if let next = replicas[index].next { time = min(time, next) }
                    if !replicas[index].ready, let readyAt = replicas[index].readyAt { time = min(time, readyAt) }
                }
            }
            if time > hardEnd {
                now = hardEnd
                break
            }
            now = time
            advanceEngines(to: time)
            while let top = transfers.top, top.time <= time {
                let id = transfers.pop()!
                submitToDecode(id, at: time, local: false)
            }
            var decodeReady = false
            for tier in TierName.allCases {
                for index in members[tier]! where !replicas[index].ready {
                    if let readyAt = replicas[index].readyAt, readyAt <= time {
                        replicas[index].ready = true
                        if tier == .decode { decodeReady = true }
                    }
                }
            }
            if decodeReady, !backlog.isEmpty {
                let waiting = backlog
                backlog.removeAll()
                for id in waiting { route(id, at: time) }
            }
            while nextArrival < requests.count, requests[nextArrival].arrival <= time {
                outstanding += 1
                route(nextArrival, at: time)
                nextArrival += 1
            }
            if time >= nextRound {
                round(at: time)
                nextRound += interval
            }
        }
        return report(end: max(now, lastArrival))
    }

    // MARK: Engines and requests

    /// Completes every engine step ending by `time` and handles what happened.
    mutating func advanceEngines(to time: Duration) {
        for tier in TierName.allCases {
            var position = 0
            while position < members[tier]!.count {
                let index = members[tier]![position]
                position += 1
                guard let next = replicas[index].next, next <= time else { continue }
                let events = replicas[index].engine.advance(to: time)
                replicas[index].next = replicas[index].engine.nextEventTime
                handle(events, replica: index)
            }
            compact(tier)
        }
    }

    mutating func handle(_ events: [SimEvent], replica index: Int) {
        let tier = replicas[index].tier
        for event in events {
            switch event {
            case .firstToken(let id, let at):
                replicas[index].prefillPending[id] = nil
                if tier == .prefill {
                    transfers.push(time: at + simulation.transferTime(promptTokens: requests[id].prompt), id: id)
                } else {
                    requests[id].firstToken = at
                }
            case .finished(let id, let at, let outputTokens, let reason):
                replicas[index].prefillPending[id] = nil
                replicas[index].assigned -= 1
                if tier == .decode {
                    requests[id].finish = at
                    requests[id].outputTokens = outputTokens
                    requests[id].completed = reason != .abort
                    requests[id].done = true
                    outstanding -= 1
                } else if reason == .abort {  // the prompt cannot fit a prefill replica's cache
                    requests[id].done = true
                    outstanding -= 1
                    let decode = requests[id].decode
                    replicas[decode].assigned -= 1
                    retireIfDrained(decode, at: at)
                }
                retireIfDrained(index, at: at)
            case .token, .preempted:
                break
            }
        }
    }

    /// The ready replica of `tier` taking new work with the fewest assigned requests (ties: lowest index).
    func leastLoaded(_ tier: TierName) -> Int? {
        var best: Int?
        for index in members[tier]! where replicas[index].ready && !replicas[index].draining {
            if let chosen = best, replicas[chosen].assigned <= replicas[index].assigned { continue }
            best = index
        }
        return best
    }

    mutating func route(_ id: Int, at time: Duration) {
        guard let decode = leastLoaded(.decode) else {
            backlog.append(id)
            return
        }
        requests[id].decode = decode
        replicas[decode].assigned += 1
        if requests[id].prompt >= threshold, let prefill = leastLoaded(.prefill) {
            requests[id].disaggregated = true
            replicas[prefill].assigned += 1
            submit(SimRequest(id: id, promptTokens: requests[id].prompt, maxOutputTokens: 1), to: prefill,
                   pendingTokens: requests[id].prompt, at: time)
        } else {
            submitToDecode(id, at: time, local: true)
        }
    }

    mutating func submitToDecode(_ id: Int, at time: Duration, local: Bool) {
        let prompt = requests[id].prompt
        let uncached = local ? prompt : 1
        submit(SimRequest(id: id, promptTokens: prompt, maxOutputTokens: requests[id].output, uncachedPromptTokens: uncached),
               to: requests[id].decode, pendingTokens: uncached, at: time)
    }

    mutating func submit(_ request: SimRequest, to index: Int, pendingTokens: Int, at time: Duration) {
        replicas[index].engine.submit(request, at: time)
        replicas[index].next = replicas[index].engine.nextEventTime
        replicas[index].prefillPending[request.id] = (replicas[index].submissions, pendingTokens)
        replicas[index].submissions += 1
    }

    // MARK: Replicas

    mutating func create(_ tier: TierName, at time: Duration, warm: Bool) {
        guard let model = simulation.tiers[tier] else { return }
        let number = created[tier, default: 0]
        created[tier] = number + 1
        let index = replicas.count
        replicas.append(Replica(tier: tier, name: "\(tier.rawValue)-\(number)",
                                engine: EngineSimulator(configuration: model.configuration, stepTime: model.stepTime)))
        members[tier]!.append(index)
        pending.append(index)
        place(at: time)
        if warm, replicas[index].placedAt != nil {
            replicas[index].readyAt = time
            replicas[index].ready = true
        }
    }

    /// Places pending replicas, oldest first, on free GPUs.
    mutating func place(at time: Duration) {
        var stillPending: [Int] = []
        for index in pending {
            let gpus = simulation.tiers[replicas[index].tier]!.gpusPerReplica
            if let capacity = options.gpuCapacity, gpusInUse + gpus > capacity {
                stillPending.append(index)
                continue
            }
            gpusInUse += gpus
            replicas[index].placedAt = time
            replicas[index].readyAt = time + startup[replicas[index].tier]!
        }
        pending = stillPending
    }

    /// Removes a replica at once (its GPUs are freed and pending ones placed).
    mutating func remove(_ index: Int, at time: Duration) {
        replicas[index].removedAt = time
        replicas[index].next = nil
        if replicas[index].placedAt != nil {
            gpusInUse -= simulation.tiers[replicas[index].tier]!.gpusPerReplica
        } else {
            pending.removeAll { $0 == index }
        }
        place(at: time)
    }

    mutating func retireIfDrained(_ index: Int, at time: Duration) {
        if replicas[index].draining, replicas[index].removedAt == nil, replicas[index].assigned == 0, replicas[index].engine.isIdle {
            remove(index, at: time)
        }
    }

    mutating func compact(_ tier: TierName) {
        if members[tier]!.contains(where: { replicas[$0].removedAt != nil }) {
            let all = replicas
            members[tier]!.removeAll { all[$0].removedAt != nil }
        }
    }

    /// Replicas of `tier` the Deployment counts: not removed, not draining.
    func counted(_ tier: TierName) -> [Int] {
        members[tier]!.filter { !replicas[$0].draining }
    }

    mutating func scale(_ tier: TierName, to target: Int, at time: Duration) {
        let current = counted(tier)
        if target > current.count {
            for _ in 0..<(target - current.count) { create(tier, at: time, warm: false) }
            return
        }
        var victims = current
        // ReplicaSet deletion ranking: unplaced, then not ready, then the least work; newest first on ties.
        victims.sort { a, b in
            let ra = replicas[a]
            let rb = replicas[b]
            let rankA = ra.placedAt == nil ? 0 : (ra.ready ? 2 : 1)
            let rankB = rb.placedAt == nil ? 0 : (rb.ready ? 2 : 1)
            if rankA != rankB { return rankA < rankB }
            if ra.assigned != rb.assigned { return ra.assigned < rb.assigned }
            return a > b
        }
        for index in victims.prefix(current.count - max(0, target)) {
            if replicas[index].ready, replicas[index].assigned > 0 || !replicas[index].engine.isIdle {
                replicas[index].draining = true
            } else {
                remove(index, at: time)
            }
        }
        compact(tier)
    }

    // MARK: Rounds

    mutating func round(at time: Duration) {
        var observations: [TierName: TierObservation] = [:]
        var fixed: [TierName: Int] = [:]
        for tier in TierName.allCases {
            let counted = counted(tier)
            guard options.policyTiers.contains(tier) else {
                fixed[tier] = counted.count
                continue
            }
            var readings: [String: PodReading] = [:]
            var load: [String: PodLoad] = [:]
            var ready = 0
            for index in counted where replicas[index].ready {
                ready += 1
                let metrics = replicas[index].engine.metrics
                let histogram = metrics.requestPromptTokens
                let bounds = histogram.upperBounds + [.infinity]
                let buckets = zip(bounds, histogram.cumulativeCounts).map {
                    CumulativeHistogram.Bucket(upperBound: $0.0, count: Double($0.1))
                }
                readings[replicas[index].name] = .metrics(PodMetrics(
                    signals: PodSignals(waiting: Double(metrics.waiting), running: Double(metrics.running),
                                        kvCacheUtilization: metrics.kvCacheUsage),
                    promptTokens: CumulativeHistogram(buckets: buckets)))
                load[replicas[index].name] = podLoad(index, waiting: metrics.waiting)
            }
            let unplaced = counted.filter { replicas[$0].placedAt == nil }.count
            let capacity: CapacityLimit? = unplaced == 0 ? nil : .insufficientCapacity(
                "\(unplaced) \(tier.rawValue) pod\(unplaced == 1 ? "" : "s") pending: \(gpusInUse) of \(options.gpuCapacity ?? gpusInUse) GPUs in use")
            observations[tier] = TierObservation(
                current: counted.count, ready: ready, readings: readings, capacity: capacity, load: load,
                startupDelay: startup[tier])
        }
        let decisions = policy.decide(spec: simulation.spec, observations: observations, fixed: fixed, now: time)
        for tier in TierName.allCases where options.policyTiers.contains(tier) {
            guard let decision = decisions[tier] else { continue }
            let from = counted(tier).count
            let target = max(0, decision.to)
            if target != from {
                scale(tier, to: target, at: time)
                scaleEvents.append(SimulationReport.ScaleEvent(time: time, tier: tier, from: from, to: target, reason: decision.reason))
            }
        }
        for tier in TierName.allCases {
            let counted = counted(tier)
            var point = SimulationReport.TimelinePoint(
                time: time, tier: tier, desired: counted.count, ready: counted.filter { replicas[$0].ready }.count,
                pending: counted.filter { replicas[$0].placedAt == nil }.count)
            for index in counted where replicas[index].ready {
                let metrics = replicas[index].engine.metrics
                point.waiting += metrics.waiting
                point.running += metrics.running
                point.promptTokensInFlight += Int(podLoad(index, waiting: metrics.waiting).inFlightPromptTokens)
            }
            timeline.append(point)
        }
    }

    /// Prompt tokens a replica still has to compute; the queued ones are the newest `waiting`
    /// (the engine admits first come, first served).
    func podLoad(_ index: Int, waiting: Int) -> PodLoad {
        let entries = replicas[index].prefillPending.values.sorted { $0.order < $1.order }
        var inFlight = 0
        var queued = 0
        let firstQueued = max(0, entries.count - waiting)
        for (position, entry) in entries.enumerated() {
            inFlight += entry.tokens
            if position >= firstQueued { queued += entry.tokens }
        }
        return PodLoad(queuedPromptTokens: Double(queued), inFlightPromptTokens: Double(inFlight))
    }

    // MARK: Report

    func report(end: Duration) -> SimulationReport {
        let slo = options.slo
        let outcomes = requests.map { request -> SimulationReport.RequestOutcome in
            let ttft = request.firstToken.map { $0 - request.arrival }
            var tpot: Duration?
            if request.completed, let first = request.firstToken, let finish = request.finish, request.outputTokens > 1 {
                tpot = (finish - first) / (request.outputTokens - 1)
            }
            let met = request.completed && (ttft.map { $0 <= slo.timeToFirstToken } ?? false)
                && (tpot.map { $0 <= slo.timePerOutputToken } ?? true)
            return SimulationReport.RequestOutcome(
                arrival: request.arrival, promptTokens: request.prompt, outputTokens: request.output,
                disaggregated: request.disaggregated, timeToFirstToken: ttft, timePerOutputToken: tpot,
                finished: request.finish, completed: request.completed, metSLO: met)
        }
        var gpuSeconds: [TierName: Double] = [.prefill: 0, .decode: 0]
        var replicaSeconds: [TierName: Double] = [.prefill: 0, .decode: 0]
        for replica in replicas {
            guard let placed = replica.placedAt else { continue }
            let seconds = ((replica.removedAt ?? end) - placed).inSeconds
            replicaSeconds[replica.tier]! += seconds
            gpuSeconds[replica.tier]! += seconds * Double(simulation.tiers[replica.tier]!.gpusPerReplica)
        }
        let first = requests.first?.arrival ?? .zero
        let last = requests.last?.arrival ?? .zero
        return SimulationReport(
            policy: policy.name, slo: slo, seed: options.seed, loadDuration: last - first, simulatedDuration: end,
            requests: outcomes, scaleEvents: scaleEvents, timeline: timeline, gpuSeconds: gpuSeconds,
            replicaSeconds: replicaSeconds)
    }
}

