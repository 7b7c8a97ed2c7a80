/// A deterministic discrete-event model of one vLLM engine with continuous batching and chunked
/// prefill. Pure: time is a `Duration` since an origin that the caller passes in.
///
/// Each step, like vLLM v1's scheduler:
/// 1. Running requests, oldest first, take tokens from the `--max-num-batched-tokens` budget:
///    a request still prefilling takes its next chunk (as much as the budget allows), a
///    decoding request takes one token and, when that token starts a new block, one more KV
///    block. If no block is free the newest running request is preempted: its blocks are freed
///    and it goes back to the front of the queue, to be recomputed (prompt and output so far).
/// 2. If nobody was preempted, waiting requests are admitted first-come first-served while
///    fewer than `--max-num-seqs` run, budget remains, and the free blocks hold the request's
///    whole prompt (allocated at admission); each admitted request takes a prefill chunk.
/// 3. The step lasts ``StepTimeModel/duration(_:)`` of what was scheduled. At its end a request
///    whose prefill completed emits its first token, each decoding request one more token;
///    requests reaching their output length finish and free their blocks.
///
/// Requests arriving during a step wait for the next one. So one request alone on an idle
/// engine has TTFT = ``StepTimeModel/prefillTime(tokens:cachedTokens:)`` (when the prompt fits
/// one chunk) and each later token takes ``StepTimeModel/decodeStepTime(batch:contextTokens:)``
/// at batch 1, with a context of the prompt plus the tokens generated so far.
///
/// Simplifications: prefix-cache hits are the caller's (``SimRequest/cachedPromptTokens``) and
/// cached blocks are not shared between requests (each request holds blocks for its whole
/// prompt); no KV-transfer wait is modelled (submit a decode request when its KV has arrived).
///
/// Cost: each step touches the running requests and those admitted, never the whole queue.
public struct EngineSimulator: Sendable {
    /// The limits.
    public let configuration: EngineConfiguration
    /// How long steps take.
    public let stepTime: StepTimeModel
    /// The latest time the engine has been advanced to.
    public private(set) var now: Duration = .zero

    private var requests: [RequestState] = []
    private var freeSlots: [Int] = []
    /// Submitted requests not yet arrived, ascending by arrival from `arrivalsHead`.
    private var arrivals: [Int] = []
    private var arrivalsHead = 0
    /// Arrived requests never admitted, FCFS from `waitingHead`.
    private var waiting: [Int] = []
    private var waitingHead = 0
    /// Preempted requests; the last is admitted first (vLLM prepends them to the queue).
    private var preempted: [Int] = []
    /// Admitted requests in admission order; the last is the newest.
    private var running: [Int] = []
    private var scheduled: [Int] = []
    private var freeBlocks: Int
    private var stepEnd: Duration?
    private var stats: EngineMetrics

    /// An idle engine with an empty cache.
    public init(configuration: EngineConfiguration, stepTime: StepTimeModel) {
        self.configuration = configuration
        self.stepTime = stepTime
        freeBlocks = configuration.usableBlocks
        stats = EngineMetrics(maxModelLen: configuration.maxModelLen)
        stats.kvCacheBlocks = configuration.kvCacheBlocks
        stats.blockSize = configuration.blockSize
    }

    // MARK: Driving

    /// Hands the engine a request arriving at `at` (times before ``now`` count as ``now``). It
    /// joins the queue when ``advance(to:)`` reaches its arrival; requests may be submitted in
    /// any order, those with equal arrival times keep submission order.
    public mutating func submit(_ request: SimRequest, at: Duration) {
        let arrival = max(at, now)
        let state: RequestState
        if configuration.role == .prefill {  // the P/D proxy sends prefill requests with max_tokens 1
            state = RequestState(request: request, arrival: arrival, targetTokens: 1, reason: .length)
        } else if let stop = request.stopAfterTokens, stop <= request.maxOutputTokens {
            state = RequestState(request: request, arrival: arrival, targetTokens: stop, reason: .stop)
        } else {
            state = RequestState(request: request, arrival: arrival, targetTokens: request.maxOutputTokens, reason: .length)
        }
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            requests[slot] = state
        } else {
            slot = requests.count
            requests.append(state)
        }
        if arrivalsHead == arrivals.count || requests[arrivals[arrivals.count - 1]].arrival <= arrival {
            arrivals.append(slot)
        } else {
            var low = arrivalsHead
            var high = arrivals.count
            while low < high {  // first arrival later than this one
                let mid = (low + high) / 2
                if requests[arrivals[mid]].arrival <= arrival { low = mid + 1 } else { high = mid }
            }
            arrivals.insert(slot, at: low)
        }
    }

    /// Runs the engine up to `time`: admits arrivals and completes every step ending by then.
    /// - Returns: what happened, in time order.
    public mutating func advance(to time: Duration) -> [SimEvent] {
        var events: [SimEvent] = []
        while true {
            let nextArrival = arrivalsHead < arrivals.count ? requests[arrivals[arrivalsHead]].arrival : nil
            if let end = stepEnd {
                if let arrival = nextArrival, arrival <= end, arrival <= time {
                    now = max(now, arrival)
                    enqueueNextArrival()
                } else if end <= time {
                    now = end
                    stepEnd = nil
                    finishStep(&events)
                } else {
                    break
                }
            } else if let arrival = nextArrival, arrival <= now {
                enqueueNextArrival()
            } else if hasQueuedWork, startStep(&events) {
                continue
            } else if let arrival = nextArrival, arrival <= time {
                now = arrival
            } else {
                break
            }
        }
        now = max(now, time)
        compactQueues()
        return events
    }

    /// When something next happens on its own: the current step's end or the next submitted
    /// arrival; `nil` when the engine is idle with nothing submitted.
    public var nextEventTime: Duration? {
        let arrival = arrivalsHead < arrivals.count ? requests[arrivals[arrivalsHead]].arrival : nil
        switch (stepEnd, arrival) {
        case (let end?, let arrival?): return min(end, arrival)
        case (let end?, nil): return end
        case (nil, let arrival?): return arrival
        case (nil, nil): return hasQueuedWork ? now : nil
        }
    }

    /// Whether no request is running, waiting or yet to arrive.
    public var isIdle: Bool { stepEnd == nil && !hasQueuedWork && arrivalsHead == arrivals.count }

    /// Counters, histograms and the gauges as of ``now``.
    public var metrics: EngineMetrics {
        var snapshot = stats
        snapshot.running = running.count
        snapshot.waiting = waiting.count - waitingHead + preempted.count
        snapshot.kvCacheUsage = Double(configuration.usableBlocks - freeBlocks) / Double(configuration.usableBlocks)
        return snapshot
    }

    // MARK: Capacity

    /// An estimate of the sustainable throughput, requests per second, for requests of one
    /// shape: the engine runs as many at once as `--max-num-seqs`, the KV cache (at each
    /// request's average length) and the token budget allow, each spending one step in prefill
    /// (if its prompt fits a chunk) and `outputTokens − 1` in decode; the average step mixes
    /// decodes and prefill chunks in that proportion. Queues grow above it and stay short
    /// well below it.
    public func estimatedCapacity(promptTokens: Int, outputTokens: Int, cachedPromptTokens: Int = 0) -> Double {
        let role = configuration.role
        let decodeSteps = role == .prefill ? 0 : max(0, outputTokens - 1)
        let work = role == .decode ? 1 : max(1, promptTokens - cachedPromptTokens)
        let averageLength = promptTokens + (role == .prefill ? 0 : outputTokens / 2)
        var concurrent = min(configuration.maxNumSeqs, configuration.usableBlocks / configuration.blocks(forTokens: averageLength))
        var batch = StepTimeModel.Batch()
        while concurrent > 0 {
            let decoding = concurrent * decodeSteps / (decodeSteps + 1)
            let prefilling = concurrent - decoding
            if decoding + prefilling * work <= configuration.maxNumBatchedTokens || concurrent == 1 {
                batch = StepTimeModel.Batch()
                batch.decodeSequences = decoding
                batch.decodeContextTokens = decoding * (promptTokens + outputTokens / 2)
                for _ in 0..<prefilling {
                    batch.addPrefill(tokens: min(work, configuration.maxNumBatchedTokens), cached: promptTokens - work)
                }
                break
            }
            concurrent -= 1
        }
        let prefillSteps = (work + configuration.maxNumBatchedTokens - 1) / configuration.maxNumBatchedTokens
        let stepsPerRequest = Double(decodeSteps + prefillSteps)
        return Double(concurrent) / (stepsPerRequest * stepTime.seconds(batch))
    }

    // MARK: Steps

    private var hasQueuedWork: Bool { !running.isEmpty || !preempted.isEmpty || waitingHead < waiting.count }

    private mutating func enqueueNextArrival() {
        waiting.append(arrivals[arrivalsHead])
        arrivalsHead += 1
    }

    /// Schedules a step starting at ``now``; `false` when nothing could be scheduled.
    private mutating func startStep(_ events: inout [SimEvent]) -> Bool {
        var budget = configuration.maxNumBatchedTokens
        var batch = StepTimeModel.Batch()
        var preemptedAny = false
        scheduled.removeAll(keepingCapacity: true)
        var index = 0
        while index < running.count, budget > 0 {
            let slot = running[index]
            if requests[slot].prefillRemaining > 0 {
                let tokens = min(requests[slot].prefillRemaining, budget)
                batch.addPrefill(tokens: tokens, cached: requests[slot].computed)
                schedule(slot, tokens: tokens, budget: &budget)
                index += 1
                continue
            }
            let needed = configuration.blocks(forTokens: requests[slot].computed + 1) - requests[slot].blocks
            while needed > freeBlocks, let victim = running.last {
                if victim == slot && running.count == 1 {  // cannot grow even with the whole cache
                    running.removeLast()
                    finish(slot, reason: .abort, &events)
                } else {
                    preempt(victim, &events)
                    preemptedAny = true
                }
                if victim == slot { break }
            }
            guard index < running.count, running[index] == slot else { break }
            requests[slot].blocks += max(0, needed)
            freeBlocks -= max(0, needed)
            batch.addDecode(context: requests[slot].computed + 1)
            schedule(slot, tokens: 1, budget: &budget)
            index += 1
        }
        while !preemptedAny, budget > 0, running.count < configuration.maxNumSeqs {
            let fromPreempted = !preempted.isEmpty
            guard let slot = fromPreempted ? preempted.last : (waitingHead < waiting.count ? waiting[waitingHead] : nil)
            else { break }
            let request = requests[slot].request
            let total = request.promptTokens + requests[slot].generated
            let needed = configuration.blocks(forTokens: total)
            guard needed <= freeBlocks || needed > configuration.usableBlocks else { break }
            if fromPreempted { preempted.removeLast() } else { waitingHead += 1 }
            if needed > configuration.usableBlocks {
                finish(slot, reason: .abort, &events)
                continue
            }
            freeBlocks -= needed
            requests[slot].blocks = needed
            let computed = configuration.role == .decode && !requests[slot].admitted  // remote KV, first time only
                ? request.promptTokens - request.uncachedPromptTokens
                : min(request.cachedPromptTokens, total - 1)
            requests[slot].computed = computed
            requests[slot].prefillRemaining = total - computed
            if !requests[slot].admitted {
                requests[slot].admitted = true
                stats.requestQueueTime.observe(now - requests[slot].arrival)
                stats.prefixCacheQueriesTotal += request.promptTokens
                stats.prefixCacheHitsTotal += request.cachedPromptTokens
            }
            running.append(slot)
            let tokens = min(total - computed, budget)
            batch.addPrefill(tokens: tokens, cached: computed)
            schedule(slot, tokens: tokens, budget: &budget)
        }
        guard !scheduled.isEmpty else { return false }
        stepEnd = now + stepTime.duration(batch)
        return true
    }

    private mutating func schedule(_ slot: Int, tokens: Int, budget: inout Int) {
        requests[slot].scheduledTokens = tokens
        budget -= tokens
        scheduled.append(slot)
    }

    private mutating func preempt(_ slot: Int, _ events: inout [SimEvent]) {
        running.removeLast()
        freeBlocks += requests[slot].blocks
        requests[slot].blocks = 0
        requests[slot].computed = 0
        requests[slot].prefillRemaining = 0
        preempted.append(slot)
        stats.preemptionsTotal += 1
        events.append(.preempted(id: requests[slot].request.id, at: now))
    }

    /// Completes the scheduled work at ``now``: tokens, first tokens, finishes.
    private mutating func finishStep(_ events: inout [SimEvent]) {
        var anyFinished = false
        for slot in scheduled {
            let tokens = requests[slot].scheduledTokens
            requests[slot].scheduledTokens = 0
            requests[slot].computed += tokens
            if requests[slot].prefillRemaining > 0 {
                stats.promptTokensComputedTotal += min(tokens, requests[slot].prefillRemaining)
                requests[slot].prefillRemaining -= tokens
                if requests[slot].prefillRemaining > 0 { continue }
            }
            emitToken(slot, &events)
            if requests[slot].generated >= requests[slot].targetTokens {
                finish(slot, reason: requests[slot].reason, &events)
                anyFinished = true
            }
        }
        scheduled.removeAll(keepingCapacity: true)
        if anyFinished {
            let states = requests
            running.removeAll { states[$0].finished }
        }
    }

    private mutating func emitToken(_ slot: Int, _ events: inout [SimEvent]) {
        requests[slot].generated += 1
        stats.generationTokensTotal += 1
        let id = requests[slot].request.id
        if requests[slot].generated == 1 {
            stats.timeToFirstToken.observe(now - requests[slot].arrival)
            stats.promptTokensTotal += requests[slot].request.promptTokens
            events.append(.firstToken(id: id, at: now))
        } else {
            stats.interTokenLatency.observe(now - requests[slot].lastTokenAt)
            if configuration.recordsTokenEvents { events.append(.token(id: id, at: now)) }
        }
        requests[slot].lastTokenAt = now
    }

    /// Ends a request that is in no queue any more (the caller removed it from `running`, or
    /// removes finished ones after the step) and frees its blocks and slot.
    private mutating func finish(_ slot: Int, reason: SimRequest.FinishReason, _ events: inout [SimEvent]) {
        freeBlocks += requests[slot].blocks
        requests[slot].blocks = 0
        requests[slot].finished = true
        stats.e2eRequestLatency.observe(now - requests[slot].arrival)
        // The whole prompt, also when its KV came from a prefill peer (vLLM's num_prompt_tokens).
        stats.requestPromptTokens.observe(Double(requests[slot].request.promptTokens))
        stats.requestGenerationTokens.observe(Double(requests[slot].generated))
        stats.requestSuccessTotal[reason, default: 0] += 1
        events.append(
            .finished(id: requests[slot].request.id, at: now, outputTokens: requests[slot].generated, reason: reason))
        freeSlots.append(slot)
    }

    private mutating func compactQueues() {
        if waitingHead > 1024, waitingHead * 2 > waiting.count {
            waiting.removeFirst(waitingHead)
            waitingHead = 0
        }
        if arrivalsHead > 1024, arrivalsHead * 2 > arrivals.count {
            arrivals.removeFirst(arrivalsHead)
            arrivalsHead = 0
        }
    }
}

/// One request's progress inside ``EngineSimulator``.
private struct RequestState {
    var request: SimRequest
    var arrival: Duration
    /// Output tokens at which the request ends.
    var targetTokens: Int
    /// Why it ends when it reaches ``targetTokens``.
    var reason: SimRequest.FinishReason
    /// Output tokens emitted so far.
    var generated = 0
    /// Tokens whose KV is in the cache.
    var computed = 0
    /// Tokens to compute before the next output token (prefill, or recompute after preemption).
    var prefillRemaining = 0
    var blocks = 0
    var scheduledTokens = 0
    var admitted = false
    var finished = false
    var lastTokenAt: Duration = .zero

    init(request: SimRequest, arrival: Duration, targetTokens: Int, reason: SimRequest.FinishReason) {
        self.request = request
        self.arrival = arrival
        self.targetTokens = targetTokens
        self.reason = reason
    }
}
