/// The numbers behind Tandem's own choices. Each default says where it comes from; the ones
/// that are Tandem's judgement say so.
public struct SizingPolicy: Sendable, Hashable {
    /// Per-device memory vLLM uses outside weights, activations and KV cache: CUDA context,
    /// NCCL buffers, CUDA-graph pools. Tandem's rounded estimate: vLLM's startup log usually
    /// shows a few hundred MiB of non-torch memory and 0.3–1 GiB for graph capture.
    public var runtimeReserveBytes = 1 << 30
    /// Peak activation bytes per batched token per unit of hidden size in vLLM's profiling
    /// forward pass (`determine_available_memory` runs one pass of `--max-num-batched-tokens`):
    /// hidden states and residual plus the MLP's gate/up output (≈ 2 × 3.5 × hidden) at 2 B
    /// come to about 16 B. Tandem's estimate, deliberately on the high side (not split by TP).
    public var activationBytesPerTokenPerHiddenUnit = 16
    /// The context length the tensor-parallel search aims to leave room for when the user gave
    /// no `--max-model-len` (capped by the model's maximum). Tandem's choice: covers most chat
    /// and RAG prompts; the derived `--max-model-len` still grows to the model maximum when the
    /// cache has room.
    public var preferredContextLength = 32_768
    /// Full-length sequences the KV cache should hold at once: the TP search wants this many
    /// at the target length, and a derived `--max-model-len` leaves room for this many.
    /// Tandem's choice (vLLM itself only requires one).
    public var concurrentSequencesGoal = 2
    /// A derived `--max-model-len` is a multiple of this, and at least this (Tandem's choice).
    public var maxModelLenStep = 1_024
    /// Prefill: `--max-num-batched-tokens` 8,192 — vLLM's own default for the OpenAI server on
    /// ≥ 70 GiB GPUs (`vllm/engine/arg_utils.py`, V1 defaults); large chunks suit prefill.
    public var prefillMaxNumBatchedTokens = 8_192
    /// Prefill: `--max-num-seqs`. Prefill requests finish after one token, so few run at once
    /// (Tandem's choice).
    public var prefillMaxNumSeqs = 64
    /// Decode: `--max-num-batched-tokens`, small so prefill chunks done locally (prompts under
    /// the disaggregation threshold) do not stall token generation (Tandem's choice).
    public var decodeMaxNumBatchedTokens = 1_024
    /// Decode: `--max-num-seqs`; 256 is vLLM's default on smaller GPUs
    /// (`vllm/engine/arg_utils.py`, V1 defaults).
    public var decodeMaxNumSeqs = 256
    /// Host CPU cores requested per device (Tandem's choice: a worker process per GPU plus
    /// the API server and tokenizer).
    public var cpuCoresPerDevice = 4
    /// Host memory for the API server, tokenizer and engine core (Tandem's choice).
    public var hostMemoryBaseBytes = 8 << 30
    /// Host memory per device worker process (Tandem's choice; weights are mmapped page
    /// cache, which the kernel can reclaim).
    public var hostMemoryPerDeviceBytes = 8 << 30
    /// `/dev/shm` for replicas with more than one device: llm-d's guides mount a 20Gi memory
    /// `emptyDir` (NCCL uses shared memory between ranks).
    public var multiDeviceShmBytes = 20 << 30
    /// `/dev/shm` for single-device replicas (Tandem's choice; no NCCL ranks to connect).
    public var singleDeviceShmBytes = 1 << 30

    /// The documented defaults.
    public init() {}

    /// The defaults above.
    public static let standard = SizingPolicy()
}
