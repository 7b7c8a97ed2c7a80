/// Sizes one tier: chooses tensor parallelism and engine limits, checks the model fits the
/// accelerator's memory as vLLM would, and derives pod resources. Pure: no I/O, no clock.
///
/// The rules, in order:
/// 0. Every number lies in its ``SizingLimits`` range (else ``SizingFailure/Rule/invalidSpec``);
///    byte arithmetic beyond that saturates at `Int.max`, which fails every fit check.
/// 1. `--max-model-len` may not exceed the model's context length; `--max-num-batched-tokens`
///    may not be below `--max-num-seqs` (vLLM rejects both).
/// 2. Parallel layout: devices per replica = tensor parallel × pipeline parallel. An explicit
///    `--tensor-parallel-size` must match an explicit device count; a device count alone sets
///    the tensor-parallel size. The size must suit the model's heads
///    (``ModelProfile/acceptsTensorParallel(_:)``) and fit in one node.
/// 3. Memory, per device, in bytes: usable = memory × `--gpu-memory-utilization` − reserve
///    (``SizingPolicy/runtimeReserveBytes`` + ``SizingPolicy/activationBytesPerTokenPerHiddenUnit``
///    × `--max-num-batched-tokens` × hidden size); weights = weight bytes ÷ (TP × PP); KV cache
///    = usable − weights. Like vLLM, the KV cache must hold one full `--max-model-len` sequence.
/// 4. With no `--max-model-len`, Tandem derives the largest multiple of
///    ``SizingPolicy/maxModelLenStep`` that leaves room for
///    ``SizingPolicy/concurrentSequencesGoal`` sequences, capped at the model's context length
///    (and fails if that is below one step).
/// 5. With neither tensor parallelism nor devices given, Tandem picks the smallest valid size
///    whose KV cache holds ``SizingPolicy/concurrentSequencesGoal`` sequences of the target
///    length (`--max-model-len` if given, else ``SizingPolicy/preferredContextLength`` capped at
///    the model's); if none does, the largest valid size that fits at all.
///
/// With no accelerator, steps 3–5 are skipped: tensor parallelism defaults to vLLM's 1 and
/// memory-dependent flags are left to vLLM, and the result says so.
public struct TierSizer: Sendable {
    /// Tandem's own numbers (reserve, targets, defaults per tier).
    public var policy: SizingPolicy

    /// A sizer using `policy`.
    public init(policy: SizingPolicy = .standard) {
        self.policy = policy
    }

    /// Sizes one tier.
    /// - Returns: the sizing; values the user gave are kept as given.
    /// - Throws: ``SizingFailure`` naming the rule that failed, the numbers, and the smallest
    ///   setting that would fit when one exists.
    public func size(_ request: TierSizingRequest) throws(SizingFailure) -> TierSizing {
        try Self.checkRanges(request)
        var plan = Plan(request: request, policy: policy)
        try plan.checkFlags()
        let layout = try plan.checkLayout()
        guard let accelerator = request.accelerator else { return plan.uncheckedSizing(tensorParallel: layout) }
        return try plan.checkedSizing(tensorParallel: layout, accelerator: accelerator)
    }
}

extension TierSizer {
    /// Rule 0: every number the request carries lies in its ``SizingLimits`` range, so the
    /// arithmetic below stays within `Int` and every reported value fits an `int32` status
    /// field. Flags were range-checked when ``EngineArgs`` parsed them; they are checked again
    /// here so a hand-built request cannot slip past.
    static func checkRanges(_ request: TierSizingRequest) throws(SizingFailure) {
        let tier = request.tier
        func check(_ field: String, _ value: Int?, _ range: ClosedRange<Int>, fix: String? = nil) throws(SizingFailure) {
            guard let value, !range.contains(value) else { return }
            throw SizingFailure.outOfRange(field, value: value, range: range, tier: tier, fix: fix)
        }
        let args = request.args
        try check("--tensor-parallel-size", args.tensorParallelSize, SizingLimits.parallel)
        try check("--pipeline-parallel-size", args.pipelineParallelSize, SizingLimits.parallel)
        try check("--max-model-len", args.maxModelLen, SizingLimits.tokens)
        try check("--max-num-seqs", args.maxNumSeqs, SizingLimits.tokens)
        try check("--max-num-batched-tokens", args.maxNumBatchedTokens, SizingLimits.tokens)
        try check("--block-size", args.blockSize, SizingLimits.tokens)
        try check(
            "devices per replica", request.explicitDevices, SizingLimits.parallel,
            fix: "request between 1 and \(grouped(SizingLimits.parallel.upperBound)) accelerator devices per replica in the tier's resources")
        let model = request.model
        let profile = "model profile \(model.id)"
        let fix = "correct the model profile (spec.modelProfile) from the model's config.json"
        try check("\(profile): parameters", model.parameters, SizingLimits.parameters, fix: fix)
        try check("\(profile): unquantizedParameters", model.unquantizedParameters, 0...model.parameters, fix: fix)
        try check("\(profile): layers", model.layers, SizingLimits.layersOrHeads, fix: fix)
        try check("\(profile): attentionHeads", model.attentionHeads, SizingLimits.layersOrHeads, fix: fix)
        try check("\(profile): kvHeads", model.kvHeads, SizingLimits.layersOrHeads, fix: fix)
        try check("\(profile): headDim", model.headDim, SizingLimits.headDim, fix: fix)
        try check("\(profile): hiddenSize", model.hiddenSize, SizingLimits.hiddenSize, fix: fix)
        try check("\(profile): maxContextLength", model.maxContextLength, SizingLimits.tokens, fix: fix)
        if let window = model.slidingWindow {
            try check("\(profile): sliding-window layers", window.layers, 0...model.layers, fix: fix)
            try check("\(profile): sliding window", window.window, SizingLimits.tokens, fix: fix)
        }
        if case .multiHeadLatent(let rank, let rope) = model.attention {
            try check("\(profile): kv_lora_rank", rank, 0...SizingLimits.hiddenSize.upperBound, fix: fix)
            try check("\(profile): rope head dim", rope, 0...SizingLimits.headDim.upperBound, fix: fix)
        }
    }
}

/// The memory arithmetic at one tensor-parallel size and weight precision.
struct MemoryBudget {
    var tensorParallel: Int
    var weightsDType: DType
    /// Memory × utilisation.
    var capacity: Int
    /// Capacity − reserve.
    var usable: Int
    var weights: Int
    var weightsPerDevice: Int
    /// Usable − weights per device (negative when the weights do not fit).
    var kvPerDevice: Int
    var kvPerTokenPerDevice: Int
    /// Sliding-window bytes set aside for `--max-num-seqs` running sequences.
    var windowSetAside: Int
    /// Tokens the replica's KV cache holds (0 when nothing is left).
    var kvTokens: Int

    var weightsFit: Bool { weightsPerDevice <= usable }
}

/// What one budget allows.
enum Fit {
    case fits(maxModelLen: Int)
    case weightsDoNotFit
    /// The weights fit but the KV cache is below what one sequence needs (bytes per device).
    case kvCacheTooSmall(neededBytes: Int)

    var fits: Bool {
        if case .fits = self { return true }
        return false
    }
}

/// The working state of one ``TierSizer/size(_:)`` call.
struct Plan {
    let request: TierSizingRequest
    let policy: SizingPolicy
    let model: ModelProfile
    let args: EngineArgs
    let weightsDType: DType
    let kvDType: DType
    let maxNumSeqs: SizedValue<Int>
    let maxNumBatchedTokens: SizedValue<Int>
    let pipelineParallel: SizedValue<Int>
    var notes: [String] = []
    var arithmetic: [String] = []

    init(request: TierSizingRequest, policy: SizingPolicy) {
        self.request = request
        self.policy = policy
        model = request.model
        args = request.args
        var weights = model.weightsDType
        if let method = args.quantization {
            if let quantized = DType(quantizationMethod: method) {
                weights = quantized
            } else {
                notes.append("--quantization=\(method): weight bytes taken from the model profile (\(model.weightsDType))")
            }
        } else if let dtype = args.dtype, model.weightsDType.isFloatingPoint {
            weights = dtype
        }
        weightsDType = weights
        kvDType = args.kvCacheDType ?? args.dtype ?? model.computeDType
        let prefill = request.tier == .prefill
        let seqsDefault = prefill ? policy.prefillMaxNumSeqs : policy.decodeMaxNumSeqs
        let batchedDefault = prefill ? policy.prefillMaxNumBatchedTokens : policy.decodeMaxNumBatchedTokens
        maxNumSeqs = args.maxNumSeqs.map { SizedValue($0, .explicit) }
            ?? SizedValue(min(seqsDefault, args.maxNumBatchedTokens ?? .max), .derived)
        maxNumBatchedTokens = args.maxNumBatchedTokens.map { SizedValue($0, .explicit) }
            ?? SizedValue(max(batchedDefault, maxNumSeqs.value), .derived)
        pipelineParallel = args.pipelineParallelSize.map { SizedValue($0, .explicit) } ?? SizedValue(1, .engineDefault)
    }

    var tier: Tier { request.tier }
    var device: String { request.accelerator?.deviceNoun ?? "device" }
    func devices(_ count: Int) -> String { "\(count) \(device)\(count == 1 ? "" : "s")" }

    func failure(_ rule: SizingFailure.Rule, _ message: String, smallestFit: String? = nil) -> SizingFailure {
        SizingFailure(rule: rule, tier: tier, message: message, smallestFit: smallestFit, arithmetic: arithmetic)
    }

    // MARK: Rule 1: flags

    func checkFlags() throws(SizingFailure) {
        if let length = args.maxModelLen, length > model.maxContextLength {
            throw failure(
                .maxModelLenExceedsModel,
                "--max-model-len \(grouped(length)) exceeds \(model.id)'s context length of \(grouped(model.maxContextLength)) tokens; vLLM refuses it",
                smallestFit: "--max-model-len=\(model.maxContextLength)")
        }
        if maxNumBatchedTokens.value < maxNumSeqs.value {
            throw failure(
                .contradictoryFlags,
                "--max-num-batched-tokens \(grouped(maxNumBatchedTokens.value)) is below --max-num-seqs \(grouped(maxNumSeqs.value)); vLLM refuses it",
                smallestFit: "--max-num-batched-tokens=\(maxNumSeqs.value)")
        }
    }

    // MARK: Rule 2: parallel layout

    /// The tensor-parallel size fixed by the user's flags or resources, or `nil` to search.
    func checkLayout() throws(SizingFailure) -> SizedValue<Int>? {
        let pp = pipelineParallel.value
        var tensorParallel: SizedValue<Int>?
        switch (args.tensorParallelSize, request.explicitDevices) {
        case (let tp?, let count?):
            guard count >= 1, tp * pp == count else {
                throw failure(
                    .tensorParallelMismatchesDevices,
                    "--tensor-parallel-size \(tp)\(pp > 1 ? " × --pipeline-parallel-size \(pp)" : "") needs \(devices(tp * pp)) per replica but the resources request \(count)",
                    smallestFit: "request \(devices(tp * pp)) per replica, or set --tensor-parallel-size to match")
            }
            tensorParallel = SizedValue(tp, .explicit)
        case (nil, let count?):
            guard count >= 1, count % pp == 0 else {
                throw failure(
                    .tensorParallelMismatchesDevices,
                    "\(devices(count)) per replica cannot be split into --pipeline-parallel-size \(pp) equal stages")
            }
            tensorParallel = SizedValue(count / pp, .derived)
        case (let tp?, nil):
            tensorParallel = SizedValue(tp, .explicit)
        case (nil, nil):
            tensorParallel = nil
        }
        guard let tensorParallel else { return nil }
        let limit = request.accelerator.map { $0.devicesPerNode / pp } ?? 8
        if !model.acceptsTensorParallel(tensorParallel.value) {
            let valid = model.validTensorParallelSizes(upTo: max(limit, 1)).map(String.init).joined(separator: ", ")
            throw failure(
                .invalidTensorParallel,
                "tensor parallel \(tensorParallel.value) does not suit \(model.id): it must divide the "
                    + "\(model.attentionHeads) attention heads and divide or be a multiple of the \(model.kvHeads) KV heads "
                    + "(valid: \(valid))",
                smallestFit: request.accelerator.flatMap { smallestFit(above: 0, accelerator: $0) })
        }
        if let accelerator = request.accelerator, tensorParallel.value * pp > accelerator.devicesPerNode {
            throw failure(
                .moreDevicesThanNode,
                "tensor parallel \(tensorParallel.value) × pipeline parallel \(pp) needs \(devices(tensorParallel.value * pp)) "
                    + "per replica but a node of \(accelerator.name) has \(accelerator.devicesPerNode); "
                    + "multi-node replicas are not supported yet",
                smallestFit: smallestFit(above: 0, accelerator: accelerator))
        }
        return tensorParallel
    }

    // MARK: Rules 3–5: memory

    func budget(tensorParallel tp: Int, weightsDType dtype: DType, accelerator: Accelerator, utilisation: Double) -> MemoryBudget {
        let pp = pipelineParallel.value
        let capacity = Int(saturating: Double(accelerator.memoryBytes) * utilisation)
        let usable = capacity.saturatingSubtracted(reserveBytes)
        let weights = model.weightsBytes(dtype: dtype)
        let weightsPerDevice = ceilDiv(weights, tp * pp)
        let kvPerDevice = usable.saturatingSubtracted(weightsPerDevice)
        let perToken = model.kvCacheBytesPerTokenPerDevice(dtype: kvDType, tensorParallel: tp, pipelineParallel: pp)
        let window = model.slidingWindow.map {
            maxNumSeqs.value.saturatingMultiplied(by: model.slidingWindowBytesPerDevice(
                sequenceLength: $0.window, dtype: kvDType, tensorParallel: tp, pipelineParallel: pp))
        } ?? 0
        return MemoryBudget(
            tensorParallel: tp, weightsDType: dtype, capacity: capacity, usable: usable, weights: weights,
            weightsPerDevice: weightsPerDevice, kvPerDevice: kvPerDevice, kvPerTokenPerDevice: perToken,
            windowSetAside: window, kvTokens: max(0, kvPerDevice.saturatingSubtracted(window) / max(1, perToken)))
    }

    var reserveBytes: Int { policy.runtimeReserveBytes.saturatingAdded(activationBytes) }
    var activationBytes: Int {
        maxNumBatchedTokens.value.saturatingMultiplied(by: model.hiddenSize)
            .saturatingMultiplied(by: policy.activationBytesPerTokenPerHiddenUnit)
    }

    /// The largest `--max-model-len` (a multiple of the step, at most the model's) that leaves
    /// room for the sequence goal in `tokens`; 0 when not even one step does.
    func derivedMaxModelLen(kvTokens tokens: Int) -> Int {
        let perSequence = tokens / policy.concurrentSequencesGoal
        if perSequence >= model.maxContextLength { return model.maxContextLength }
        return perSequence / policy.maxModelLenStep * policy.maxModelLenStep
    }

    func oneSequenceBytes(_ length: Int, tensorParallel tp: Int) -> Int {
        model.kvCacheBytesPerDevice(
            sequenceLength: length, dtype: kvDType, tensorParallel: tp, pipelineParallel: pipelineParallel.value)
    }

    func evaluate(_ budget: MemoryBudget) -> Fit {
        guard budget.weightsFit else { return .weightsDoNotFit }
        if let length = args.maxModelLen {
            let needed = oneSequenceBytes(length, tensorParallel: budget.tensorParallel)
            return budget.kvPerDevice >= needed ? .fits(maxModelLen: length) : .kvCacheTooSmall(neededBytes: needed)
        }
        let derived = derivedMaxModelLen(kvTokens: budget.kvTokens)
        if derived >= min(policy.maxModelLenStep, model.maxContextLength) { return .fits(maxModelLen: derived) }
        let needed = budget.windowSetAside.saturatingAdded(
            policy.concurrentSequencesGoal.saturatingMultiplied(by: policy.maxModelLenStep)
                .saturatingMultiplied(by: budget.kvPerTokenPerDevice))
        return .kvCacheTooSmall(neededBytes: needed)
    }

    func utilisation(for accelerator: Accelerator) -> SizedValue<Double> {
        args.gpuMemoryUtilization.map { SizedValue($0, .explicit) }
            ?? SizedValue(accelerator.defaultGPUMemoryUtilization, .derived)
    }

    /// Tensor-parallel sizes the model accepts within one node.
    func candidates(_ accelerator: Accelerator) -> [Int] {
        model.validTensorParallelSizes(upTo: accelerator.devicesPerNode / pipelineParallel.value)
    }

    /// Tries each size in `sizes` (ascending) and reports the first whose KV cache holds
    /// ``SizingPolicy/concurrentSequencesGoal`` sequences of the target length, every size that
    /// fits at all, and one trace line per size tried (stopping at the goal).
    func trySizes(_ sizes: [Int], weightsDType dtype: DType, accelerator: Accelerator)
        -> (meetsGoal: Int?, fitting: [Int], trace: [String])
    {
        let utilisation = utilisation(for: accelerator).value
        let target = args.maxModelLen ?? min(model.maxContextLength, policy.preferredContextLength)
        let goal = "\(policy.concurrentSequencesGoal) × \(grouped(target))"
        var fitting: [Int] = []
        var trace: [String] = []
        for tp in sizes {
            let budget = budget(tensorParallel: tp, weightsDType: dtype, accelerator: accelerator, utilisation: utilisation)
            switch evaluate(budget) {
            case .weightsDoNotFit: trace.append("TP \(tp): weights do not fit")
            case .kvCacheTooSmall: trace.append("TP \(tp): KV cache below one sequence")
            case .fits where budget.kvTokens < policy.concurrentSequencesGoal.saturatingMultiplied(by: target):
                trace.append("TP \(tp): \(grouped(budget.kvTokens)) tokens < \(goal)")
                fitting.append(tp)
            case .fits:
                trace.append("TP \(tp): \(grouped(budget.kvTokens)) tokens ≥ \(goal) → TP \(tp)")
                return (tp, fitting + [tp], trace)
            }
        }
        return (nil, fitting, trace)
    }

    /// What would fit instead: the smallest tensor-parallel size above `above` that meets the
    /// sequence goal (else the smallest that fits at all) with everything else as the user
    /// wrote it; failing that, the same with `--quantization=fp8` where the hardware has FP8
    /// and the weights are 16-bit.
    func smallestFit(above: Int, accelerator: Accelerator) -> String? {
        let utilisation = utilisation(for: accelerator).value
        func describe(_ tp: Int, _ dtype: DType) -> String {
            let budget = budget(tensorParallel: tp, weightsDType: dtype, accelerator: accelerator, utilisation: utilisation)
            return "tensor parallel \(tp) (\(devices(tp * pipelineParallel.value)) per replica) fits with \(gib(budget.kvPerDevice)) for KV cache per \(device)"
        }
        let sizes = candidates(accelerator)
        let larger = trySizes(sizes.filter { $0 > above }, weightsDType: weightsDType, accelerator: accelerator)
        if let tp = larger.meetsGoal ?? larger.fitting.first { return describe(tp, weightsDType) }
        guard accelerator.supportsFP8, weightsDType.isFloatingPoint, args.quantization == nil else { return nil }
        let fp8 = trySizes(sizes, weightsDType: .fp8, accelerator: accelerator)
        guard let tp = fp8.meetsGoal ?? fp8.fitting.first else { return nil }
        return "--quantization=fp8 with " + describe(tp, .fp8)
    }

    mutating func checkedSizing(tensorParallel fixed: SizedValue<Int>?, accelerator: Accelerator) throws(SizingFailure) -> TierSizing {
        let utilisation = utilisation(for: accelerator)
        func budget(_ tp: Int) -> MemoryBudget {
            self.budget(tensorParallel: tp, weightsDType: weightsDType, accelerator: accelerator, utilisation: utilisation.value)
        }
        let chosen: SizedValue<Int>
        if let fixed {
            chosen = fixed
        } else {
            let sizes = candidates(accelerator)
            // The smallest size meeting the goal; else the largest that fits (the most cache).
            var (pick, fitting, trace) = trySizes(sizes, weightsDType: weightsDType, accelerator: accelerator)
            if pick == nil, let largest = fitting.last {
                trace.append("none reaches the goal; the largest that fits → TP \(largest)")
                pick = largest
            }
            let heads = "\(model.attentionHeads) heads, \(model.kvHeads) KV heads, \(devices(accelerator.devicesPerNode)) per node"
            arithmetic.append(
                "tensor parallel search over \(sizes.map(String.init).joined(separator: ", ")) (\(heads)): " + trace.joined(separator: "; "))
            chosen = SizedValue(pick ?? sizes.last ?? 1, .derived)
        }
        let budget = budget(chosen.value)
        arithmetic += memoryLines(budget, accelerator: accelerator, utilisation: utilisation)
        let atSize = "at tensor parallel \(chosen.value) on \(accelerator.name)"
        switch evaluate(budget) {
        case .fits(let length):
            arithmetic.append(outcomeLine(budget, maxModelLen: length))
            return sizing(
                tensorParallel: chosen, utilisation: utilisation,
                maxModelLen: SizedValue(length, args.maxModelLen == nil ? .derived : .explicit), budget: budget)
        case .weightsDoNotFit:
            let searched = fixed == nil ? "no tensor-parallel size up to a node's \(devices(accelerator.devicesPerNode)) fits: " : ""
            throw failure(
                .weightsDoNotFit,
                searched + "\(atSize) the weights (\(gib(budget.weights)) in \(weightsDType)) need "
                    + "\(gib(budget.weightsPerDevice)) per \(device) but only \(gib(budget.usable)) is usable "
                    + "(\(gib(budget.capacity)) at --gpu-memory-utilization \(twoDecimals(utilisation.value)) − \(gib(reserveBytes)) reserve)"
                    + (fixed == nil ? "; more needs multi-node serving, which Tandem does not support yet" : ""),
                smallestFit: smallestFit(above: fixed == nil ? Int.max : chosen.value, accelerator: accelerator))
        case .kvCacheTooSmall(let needed):
            let wanted = args.maxModelLen.map { "one \(grouped($0))-token sequence" }
                ?? "\(policy.concurrentSequencesGoal) sequences of \(grouped(policy.maxModelLenStep)) tokens (the least Tandem derives --max-model-len for)"
            let searched = fixed == nil ? "no tensor-parallel size up to a node's \(devices(accelerator.devicesPerNode)) leaves room for the KV cache: " : ""
            throw failure(
                .kvCacheBelowOneSequence,
                searched + "\(atSize) the weights (\(gib(budget.weightsPerDevice)) per \(device)) and reserve "
                    + "(\(gib(reserveBytes))) leave \(gib(max(0, budget.kvPerDevice))) of the \(gib(budget.capacity)) vLLM may use "
                    + "at --gpu-memory-utilization \(twoDecimals(utilisation.value)); \(wanted) needs \(gib(needed)) "
                    + "(\(kib(budget.kvPerTokenPerDevice)) per token per \(device))",
                smallestFit: smallestFit(above: fixed == nil ? Int.max : chosen.value, accelerator: accelerator))
        }
    }

    mutating func uncheckedSizing(tensorParallel fixed: SizedValue<Int>?) -> TierSizing {
        let tensorParallel = fixed ?? SizedValue(1, .engineDefault)
        notes.append("accelerator unknown: memory not checked; --max-model-len and --gpu-memory-utilization are left to vLLM")
        if fixed == nil {
            notes.append("tensor parallel 1 assumed (vLLM's default); give --tensor-parallel-size or a device count for a model this size")
        }
        arithmetic.append(weightsLine(model.weightsBytes(dtype: weightsDType), tensorParallel: tensorParallel.value))
        arithmetic.append(kvPerTokenLine(tensorParallel: tensorParallel.value))
        return sizing(
            tensorParallel: tensorParallel,
            utilisation: args.gpuMemoryUtilization.map { SizedValue($0, .explicit) }
                ?? SizedValue(0.90, .engineDefault),  // vLLM's --gpu-memory-utilization default (vllm/config/cache.py)
            maxModelLen: args.maxModelLen.map { SizedValue($0, .explicit) }
                ?? SizedValue(model.maxContextLength, .engineDefault),  // vLLM defaults to config.json's max_position_embeddings
            budget: nil)
    }

    func sizing(
        tensorParallel: SizedValue<Int>, utilisation: SizedValue<Double>, maxModelLen: SizedValue<Int>, budget: MemoryBudget?
    ) -> TierSizing {
        let pp = pipelineParallel.value
        let deviceCount = tensorParallel.value * pp
        let devices = SizedValue(deviceCount, request.explicitDevices == nil ? .derived : .explicit)
        var flags: [String] = []
        if tensorParallel.origin == .derived { flags.append("--tensor-parallel-size=\(tensorParallel.value)") }
        if utilisation.origin == .derived { flags.append("--gpu-memory-utilization=\(twoDecimals(utilisation.value))") }
        if maxModelLen.origin == .derived { flags.append("--max-model-len=\(maxModelLen.value)") }
        if maxNumSeqs.origin == .derived { flags.append("--max-num-seqs=\(maxNumSeqs.value)") }
        if maxNumBatchedTokens.origin == .derived { flags.append("--max-num-batched-tokens=\(maxNumBatchedTokens.value)") }
        let shm = deviceCount > 1 ? policy.multiDeviceShmBytes : policy.singleDeviceShmBytes
        let weights = model.weightsBytes(dtype: weightsDType)
        return TierSizing(
            tier: tier, modelID: model.id, acceleratorName: request.accelerator?.name, deviceNoun: device,
            memoryChecked: budget != nil,
            tensorParallelSize: tensorParallel, pipelineParallelSize: pipelineParallel, devices: devices,
            gpuMemoryUtilization: utilisation, maxModelLen: maxModelLen, maxNumSeqs: maxNumSeqs,
            maxNumBatchedTokens: maxNumBatchedTokens, weightsDType: weightsDType, kvCacheDType: kvDType,
            kvCacheBytesPerToken: model.kvCacheBytesPerToken(dtype: kvDType),
            kvCacheBytesPerTokenPerDevice: model.kvCacheBytesPerTokenPerDevice(
                dtype: kvDType, tensorParallel: tensorParallel.value, pipelineParallel: pp),
            weightsBytes: weights, weightsBytesPerDevice: ceilDiv(weights, deviceCount),
            reserveBytesPerDevice: reserveBytes, usableBytesPerDevice: budget?.usable,
            kvCacheBytesPerDevice: budget?.kvPerDevice, kvCacheTokens: budget?.kvTokens,
            cpu: policy.cpuCoresPerDevice.saturatingMultiplied(by: deviceCount),
            memoryBytes: policy.hostMemoryBaseBytes
                .saturatingAdded(policy.hostMemoryPerDeviceBytes.saturatingMultiplied(by: deviceCount)).saturatingAdded(shm),
            shmBytes: shm, derivedFlags: flags, engineArgs: args.tokens + flags, notes: notes, arithmetic: arithmetic)
    }

    // MARK: Arithmetic lines

    func memoryLines(_ budget: MemoryBudget, accelerator: Accelerator, utilisation: SizedValue<Double>) -> [String] {
        let per = "per \(device)"
        var lines = [
            "device memory: \(gib(accelerator.memoryBytes)) (\(accelerator.memorySource)) × --gpu-memory-utilization "
                + "\(twoDecimals(utilisation.value)) (\(utilisation.origin.label)) = \(gib(budget.capacity)) \(per)",
            "reserve: \(gib(policy.runtimeReserveBytes)) runtime (CUDA context, NCCL, CUDA graphs) + "
                + "\(grouped(maxNumBatchedTokens.value)) batched tokens × \(grouped(model.hiddenSize)) hidden × "
                + "\(policy.activationBytesPerTokenPerHiddenUnit) B activations (\(gib(activationBytes))) = \(gib(reserveBytes)) \(per)",
            "usable: \(gib(budget.capacity)) − \(gib(reserveBytes)) = \(gib(budget.usable)) \(per)",
            weightsLine(budget.weights, tensorParallel: budget.tensorParallel),
            "KV cache: \(gib(budget.usable)) − \(gib(budget.weightsPerDevice)) = "
                + "\(budget.kvPerDevice < 0 ? "−" + gib(-budget.kvPerDevice) : gib(budget.kvPerDevice)) \(per)",
            kvPerTokenLine(tensorParallel: budget.tensorParallel),
        ]
        if let window = model.slidingWindow, budget.windowSetAside > 0 {
            lines.append(
                "sliding-window layers: \(window.layers) layers keep \(grouped(window.window)) tokens per sequence; "
                    + "× --max-num-seqs \(maxNumSeqs.value) = \(gib(budget.windowSetAside)) set aside \(per)")
        }
        guard budget.kvPerDevice > 0 else { return lines }
        let room = budget.windowSetAside > 0
            ? "(\(gib(budget.kvPerDevice)) − \(gib(budget.windowSetAside)))" : gib(budget.kvPerDevice)
        lines.append("capacity: \(room) ÷ \(kib(budget.kvPerTokenPerDevice)) = \(grouped(budget.kvTokens)) tokens per replica")
        return lines
    }

    func outcomeLine(_ budget: MemoryBudget, maxModelLen length: Int) -> String {
        if args.maxModelLen != nil {
            let needed = oneSequenceBytes(length, tensorParallel: budget.tensorParallel)
            return "one \(grouped(length))-token sequence needs \(gib(needed)) per \(device): fits (\(oneDecimal(Double(budget.kvTokens) / Double(length))) such sequences)"
        }
        return "--max-model-len: largest multiple of \(grouped(policy.maxModelLenStep)) leaving room for "
            + "\(policy.concurrentSequencesGoal) sequences in \(grouped(budget.kvTokens)) tokens, "
            + "at most the model's \(grouped(model.maxContextLength)) = \(grouped(length))"
    }

    func weightsLine(_ weights: Int, tensorParallel tp: Int) -> String {
        let pp = pipelineParallel.value
        let split = pp > 1 ? "(TP \(tp) × PP \(pp))" : "TP \(tp)"
        let kept = min(model.unquantizedParameters, model.parameters)
        let terms = weightsDType.isFloatingPoint || kept == 0
            ? "\(grouped(model.parameters)) params × \(elementBytes(weightsDType)) B (\(weightsDType))"
            : "\(grouped(model.parameters - kept)) params × \(elementBytes(weightsDType)) B (\(weightsDType)) + "
                + "\(grouped(kept)) params × \(elementBytes(model.computeDType)) B (\(model.computeDType))"
        return "weights: \(terms) = \(gib(weights)) ÷ \(split) = \(gib(ceilDiv(weights, tp * pp))) per \(device)"
    }

    func kvPerTokenLine(tensorParallel tp: Int) -> String {
        let bytes = elementBytes(kvDType)
        let layers = model.fullAttentionLayers
        let whole = kib(model.kvCacheBytesPerToken(dtype: kvDType))
        let perDevice = kib(model.kvCacheBytesPerTokenPerDevice(dtype: kvDType, tensorParallel: tp, pipelineParallel: pipelineParallel.value))
        let window = model.slidingWindow.map { " (\($0.layers) sliding-window layers keep only \(grouped($0.window)) tokens)" } ?? ""
        switch model.attention {
        case .standard:
            return "KV per token: 2 × \(layers) layers × \(model.kvHeads) KV heads × \(model.headDim) head dim × "
                + "\(bytes) B (\(kvDType)) = \(whole)\(window); at TP \(tp): \(perDevice) per \(device)"
        case .multiHeadLatent(let rank, let rope):
            return "KV per token (latent attention): \(layers) layers × (\(rank) kv_lora_rank + \(rope) rope dims) × "
                + "\(bytes) B (\(kvDType)) = \(whole), the whole latent on each \(device): \(perDevice) per \(device)"
        }
    }

    func elementBytes(_ dtype: DType) -> String {
        let value = dtype.bytesPerElement
        return value == value.rounded() ? String(Int(value)) : String(value)
    }
}

extension Accelerator {
    /// What one device is called in messages.
    var deviceNoun: String {
        switch vendor {
        case .nvidia, .amd: "GPU"
        case .google: "TPU chip"
        case .intel: "HPU"
        }
    }
}
