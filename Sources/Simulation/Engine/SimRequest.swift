/// One request as the engine simulator sees it: token counts only, no text.
public struct SimRequest: Sendable, Hashable {
    /// Why a request finished, as vLLM's `finished_reason` label spells it.
    public enum FinishReason: String, Sendable, Hashable, CaseIterable {
        /// The model emitted an end-of-sequence token (``SimRequest/stopAfterTokens``).
        case stop
        /// It reached ``SimRequest/maxOutputTokens``.
        case length
        /// The engine gave up: the sequence cannot fit in the whole KV cache.
        case abort
    }

    /// The caller's identifier, echoed in events.
    public var id: Int
    /// Prompt tokens.
    public var promptTokens: Int
    /// Leading prompt tokens already in the prefix cache (the caller decides hits); they are
    /// not computed. vLLM always computes at least the last prompt token.
    public var cachedPromptTokens: Int
    /// `max_tokens`: the request ends with reason `length` after this many output tokens.
    public var maxOutputTokens: Int
    /// When the model would emit end-of-sequence after this many tokens (≤ ``maxOutputTokens``),
    /// the request ends there with reason `stop`; `nil` runs to ``maxOutputTokens``.
    public var stopAfterTokens: Int?
    /// For a decode-role engine: prompt tokens whose KV did not come from the prefill server and
    /// must be computed here (at least 1: vLLM recomputes the last prompt token for its logits).
    /// Ignored by other roles.
    public var uncachedPromptTokens: Int

    /// A request.
    public init(
        id: Int, promptTokens: Int, cachedPromptTokens: Int = 0, maxOutputTokens: Int, stopAfterTokens: Int? = nil,
        uncachedPromptTokens: Int = 1
    ) {
        self.id = id
        self.promptTokens = max(1, promptTokens)
        self.cachedPromptTokens = min(max(0, cachedPromptTokens), self.promptTokens)
        self.maxOutputTokens = max(1, maxOutputTokens)
        self.stopAfterTokens = stopAfterTokens.map { max(1, $0) }
        self.uncachedPromptTokens = min(max(1, uncachedPromptTokens), self.promptTokens)
    }
}

/// Something that happened in the engine, at the end of a step (or on arrival, for aborts).
public enum SimEvent: Sendable, Hashable {
    /// The request's first output token left the engine.
    case firstToken(id: Int, at: Duration)
    /// A later output token (only when ``EngineConfiguration/recordsTokenEvents`` is on).
    case token(id: Int, at: Duration)
    /// The request finished after `outputTokens` tokens.
    case finished(id: Int, at: Duration, outputTokens: Int, reason: SimRequest.FinishReason)
    /// The request lost its KV blocks and went back to the waiting queue to be recomputed.
    case preempted(id: Int, at: Duration)
}

/// What an engine does with a request.
public enum EngineRole: String, Sendable, Hashable, CaseIterable {
    /// Prefill then decode (an aggregated server).
    case both
    /// Prefill only: the request ends with its first token, its KV shipped to a decode server.
    case prefill
    /// Decode only: the prompt's KV arrives from a prefill server; the engine computes just
    /// ``SimRequest/uncachedPromptTokens`` of it, but still holds blocks for the whole prompt.
    case decode
}
