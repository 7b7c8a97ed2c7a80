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
    private var idleWaiter: CheckedContinuation<Void, Never>?
    private var pump: Task<Void, Never>?

    init(simulator: EngineSimulator) {
        self.simulator = simulator
    }

    private var now: Duration { .now - origin }

    /// The engine's metrics as of now.
    func metrics() -> EngineMetrics {
        _ = simulator.advance(to: now).map(dispatch)
        return simulator.metrics
    }

    /// Submits a request now; the stream yields its tokens as the engine produces them.
    func submit(promptTokens: Int, cachedPromptTokens: Int, uncachedPromptTokens: Int, maxTokens: Int) -> AsyncStream<Progress> {
        startPumpIfNeeded()
        nextID += 1
        let id = nextID
        let (stream, continuation) = AsyncStream<Progress>.makeStream()
        streams[id] = continuation
        simulator.submit(
            SimRequest(id: id, promptTokens: promptTokens, cachedPromptTokens: cachedPromptTokens, maxOutputTokens: maxTokens,
                       uncachedPromptTokens: uncachedPromptTokens),
            at: now)
        if let waiter = idleWaiter {
            idleWaiter = nil
            waiter.resume()
        }
        return stream
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
            streams[id]?.yield(.token)
        case .finished(let id, _, let outputTokens, let reason):
            streams[id]?.yield(.finished(outputTokens: outputTokens, reason: reason))
            streams[id]?.finish()
            streams[id] = nil
        case .preempted:
            break
        }
    }
}
