import Foundation

/// Runs an ``EngineSimulator`` in real time for an emulated server: requests are submitted at
/// the current instant, and each caller learns when its tokens come out.
///
/// One pump task advances the simulator to "now" whenever its next step ends and hands the
/// events to the waiting requests; with nothing to do it waits for the next submission.
actor EngineDriver {
    /// What a request sees: its first token, each later token, and the end.
    enum Progress: Sendable {
        case token
        case finished(outputTokens: Int, reason: SimRequest.FinishReason)
    }

    private var simulator: EngineSimulator
    private let origin = ContinuousClock.now
    private var nextID = 0
    private var streams: [Int: AsyncStream<Progress>.Continuation] = [:]
    /// Requests that want every token (streams); the others only learn of the finish.
    private var streaming: Set<Int> = []
    private var prefixCache: PrefixCache
    private var idleWaiter: CheckedContinuation<Void, Never>?
    private var pump: Task<Void, Never>?

    init(simulator: EngineSimulator) {
        self.simulator = simulator
        prefixCache = PrefixCache(capacityBlocks: simulator.configuration.kvCacheBlocks,
                                  blockSize: simulator.configuration.blockSize)
    }

    private var now: Duration { .now - origin }

    /// The engine's metrics as of now.
    func metrics() -> EngineMetrics {
        _ = simulator.advance(to: now).map(dispatch)
        return simulator.metrics
    }

    /// Submits a request now; the stream yields its tokens as the engine produces them (every
    /// token when `stream`, else only the finish).
    ///
    /// - Parameter prompt: the prompt's tokens (words), for prefix-cache hits.
    func submit(prompt: [Substring], uncachedPromptTokens: Int?, maxTokens: Int, stream wantsTokens: Bool) -> AsyncStream<Progress> {
        let promptTokens = max(1, prompt.count)
        let cachedPromptTokens = prefixCache.lookupAndInsert(prompt)
        startPumpIfNeeded()
        nextID += 1
        let id = nextID
        let (stream, continuation) = AsyncStream<Progress>.makeStream()
        streams[id] = continuation
        if wantsTokens { streaming.insert(id) }
        simulator.submit(
            SimRequest(id: id, promptTokens: promptTokens, cachedPromptTokens: cachedPromptTokens, maxOutputTokens: maxTokens,
                       uncachedPromptTokens: uncachedPromptTokens ?? promptTokens),
            at: now)
        if let waiter = idleWaiter {
            idleWaiter = nil
            waiter.resume()
        }
        return stream
    }

    /// Tokens of `prompt` the prefix cache holds now (nothing is remembered).
    func cachedTokens(_ prompt: [Substring]) -> Int {
        prefixCache.lookup(prompt)
    }

    /// Stops the pump; open requests end.
    func shutDown() {
        pump?.cancel()
        idleWaiter?.resume()
        idleWaiter = nil
        for continuation in streams.values { continuation.finish() }
        streams.removeAll()
    }

    private func startPumpIfNeeded() {
        guard pump == nil else { return }
        pump = Task { await self.run() }
    }

    private func run() async {
        while !Task.isCancelled {
            for event in simulator.advance(to: now) { dispatch(event) }
            if let next = simulator.nextEventTime {
                let wait = next - now
                if wait > .zero { try? await Task.sleep(until: origin + next, clock: .continuous) }
            } else {
                await withCheckedContinuation { idleWaiter = $0 }
            }
        }
    }

    private func dispatch(_ event: SimEvent) {
        switch event {
        case .firstToken(let id, _), .token(let id, _):
            if streaming.contains(id) { streams[id]?.yield(.token) }
        case .finished(let id, _, let outputTokens, let reason):
            streams[id]?.yield(.finished(outputTokens: outputTokens, reason: reason))
            streams[id]?.finish()
            streams[id] = nil
            streaming.remove(id)
        case .preempted:
            break
        }
    }
}

/// Which prompt prefixes the engine has cached, by 16-token block (vLLM's automatic prefix
/// caching hashes full blocks, each hash covering the whole prefix up to it). Bounded by the
/// KV cache's blocks, oldest first out.
struct PrefixCache {
    let capacityBlocks: Int
    let blockSize: Int
    private var known: Set<Int> = []
    private var order: [Int] = []

    init(capacityBlocks: Int, blockSize: Int) {
        self.capacityBlocks = max(1, capacityBlocks)
        self.blockSize = max(1, blockSize)
    }

    /// The hash of each full block, each covering the whole prefix up to the block's end.
    func blockKeys(_ prompt: [Substring]) -> [Int] {
        var hasher = Hasher()
        var keys: [Int] = []
        for start in stride(from: 0, to: prompt.count - prompt.count % blockSize, by: blockSize) {
            for token in prompt[start..<start + blockSize] { hasher.combine(token) }
            var copy = hasher
            copy.combine(start)
            keys.append(copy.finalize())
        }
        return keys
    }

    /// Tokens of `prompt` cached now: whole leading blocks, never the whole prompt (vLLM
    /// computes at least the last token).
    func lookup(_ prompt: [Substring]) -> Int {
        let hits = blockKeys(prompt).prefix { known.contains($0) }.count * blockSize
        return min(hits, max(0, prompt.count - 1))
    }

    /// ``lookup(_:)``, then remembers every full block of `prompt`.
    mutating func lookupAndInsert(_ prompt: [Substring]) -> Int {
        let hits = lookup(prompt)
        for key in blockKeys(prompt) where !known.contains(key) {
            known.insert(key)
            order.append(key)
        }
        if order.count > capacityBlocks {
            for key in order.prefix(order.count - capacityBlocks) { known.remove(key) }
            order.removeFirst(order.count - capacityBlocks)
        }
        return hits
    }
}
