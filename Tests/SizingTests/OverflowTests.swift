import Testing
@testable import Sizing

/// Issue 14, defect 2: numbers beyond what sizing can compute with are refused with a typed
/// error naming the flag or field, the range and what to do; nothing traps.
@Suite struct OverflowTests {
    let llama8B = ModelCatalog.builtIn.profile(for: "meta-llama/Llama-3.1-8B-Instruct")!
    let h100 = AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h100")!

    func refusal(_ tokens: [String]) -> EngineArgsError? {
        do {
            _ = try EngineArgs(tokens)
            Issue.record("\(tokens) was accepted")
            return nil
        } catch {
            return error
        }
    }

    func sizingFailure(_ request: TierSizingRequest) -> SizingFailure? {
        do {
            let sizing = try TierSizer().size(request)
            Issue.record("sized: \(sizing.report())")
            return nil
        } catch {
            return error
        }
    }

    // The issue's reproductions (`tandem size … --args <flag>` died with "arithmetic overflow").

    @Test func maxNumBatchedTokensAtInt64MaxIsOutOfRange() {
        let error = refusal(["--max-num-batched-tokens=9223372036854775807"])
        #expect(error == .outOfRange(flag: "--max-num-batched-tokens", value: "9223372036854775807", range: SizingLimits.tokens))
        #expect(error?.description == "--max-num-batched-tokens=9223372036854775807 is out of range: Tandem accepts 1 to 2,147,483,647; "
            + "set --max-num-batched-tokens to a value in that range, or leave it out for Tandem to derive it")
    }

    @Test func maxNumBatchedTokensOf2e14IsOutOfRange() {
        let error = refusal(["--max-num-batched-tokens", "200000000000000"])
        #expect(error == .outOfRange(flag: "--max-num-batched-tokens", value: "200000000000000", range: SizingLimits.tokens))
    }

    @Test func maxNumSeqsAtInt64MaxIsOutOfRange() {
        let error = refusal(["--max-num-seqs=9223372036854775807"])
        #expect(error == .outOfRange(flag: "--max-num-seqs", value: "9223372036854775807", range: SizingLimits.tokens))
        #expect(error?.description.contains("Tandem accepts 1 to 2,147,483,647") == true)
    }

    @Test func maxModelLenBeyondInt64IsOutOfRangeNotMalformed() {
        let error = refusal(["--max-model-len=99999999999999999999"])
        #expect(error == .outOfRange(flag: "--max-model-len", value: "99999999999999999999", range: SizingLimits.tokens))
    }

    @Test func suffixedMaxModelLenIsCheckedAfterMultiplying() throws {
        // 9,999,999,999,999 × 2³⁰ overflows Int64; 10²³ × 1000 is beyond Int64 as a Double.
        for value in ["9999999999999G", "99999999999999999999999k", "2G", "2147483.648k", "1" + String(repeating: "0", count: 400) + "k"] {
            #expect(refusal(["--max-model-len=\(value)"]) == .outOfRange(flag: "--max-model-len", value: value, range: SizingLimits.tokens))
        }
        #expect(try EngineArgs(["--max-model-len=1G"]).maxModelLen == 1 << 30)
        #expect(try EngineArgs(["--max-model-len=2147483647"]).maxModelLen == Int(Int32.max))
        #expect(try EngineArgs(["--max-model-len=2097151K"]).maxModelLen == 2_097_151 * 1_024)
    }

    @Test func parallelSizesAreBoundedByTheDevicesANodeCouldHave() throws {
        #expect(refusal(["-tp", "2048"]) == .outOfRange(flag: "--tensor-parallel-size", value: "2048", range: SizingLimits.parallel))
        #expect(refusal(["--pipeline-parallel-size=4294967297"])
            == .outOfRange(flag: "--pipeline-parallel-size", value: "4294967297", range: SizingLimits.parallel))
        #expect(try EngineArgs(["-tp", "1024"]).tensorParallelSize == 1_024)
    }

    @Test func nonNumbersStayMalformedAndNonPositiveToo() {
        for value in ["0", "-1", "-99999999999999999999", "1e5", "١٢", "+0"] {
            guard case .malformedValue? = refusal(["--max-num-seqs=\(value)"]) else {
                Issue.record("--max-num-seqs=\(value) is not malformed")
                continue
            }
        }
    }

    @Test func theLargestAcceptedBatchIsSizedWithoutOverflow() {
        // 2³¹ − 1 tokens × 4,096 hidden × 16 B of activations ≈ 128 TiB: a typed "does not fit".
        let failure = sizingFailure(TierSizingRequest(
            tier: .decode, model: llama8B, accelerator: h100,
            args: try! EngineArgs(["--max-num-batched-tokens=2147483647", "--max-num-seqs=2147483647"])))
        #expect(failure?.rule == .weightsDoNotFit, "\(String(describing: failure))")
    }

    @Test func devicesPerReplicaBeyondTheRangeAreInvalidSpec() {
        let failure = sizingFailure(TierSizingRequest(tier: .decode, model: llama8B, accelerator: nil, explicitDevices: Int.max))
        #expect(failure?.rule == .invalidSpec)
        #expect(failure?.rule.reason == "InvalidSpec")
        #expect(failure?.message == "devices per replica 9,223,372,036,854,775,807 is out of range: Tandem accepts 1 to 1,024; "
            + "request between 1 and 1,024 accelerator devices per replica in the tier's resources")
    }

    @Test func aHostileModelProfileIsInvalidSpecNamingTheField() {
        var model = llama8B
        model.hiddenSize = Int.max
        let failure = sizingFailure(TierSizingRequest(tier: .prefill, model: model, accelerator: h100))
        #expect(failure?.rule == .invalidSpec)
        #expect(failure?.message.contains("hiddenSize 9,223,372,036,854,775,807 is out of range: Tandem accepts 1 to 4,194,304") == true)
        model = llama8B
        model.kvHeads = 0
        #expect(sizingFailure(TierSizingRequest(tier: .prefill, model: model, accelerator: nil))?.message.contains("kvHeads 0") == true)
        model = llama8B
        model.parameters = Int.max
        #expect(sizingFailure(TierSizingRequest(tier: .prefill, model: model, accelerator: nil))?.rule == .invalidSpec)
    }

    @Test func profileArithmeticSaturatesInsteadOfTrapping() {
        var model = llama8B
        model.kvHeads = Int.max
        model.headDim = Int.max
        #expect(model.kvCacheBytesPerDevice(sequenceLength: Int.max, dtype: .float32, tensorParallel: 1) == Int.max)
        model.parameters = Int.max
        #expect(model.weightsBytes(dtype: .float32) == Int.max)
        #expect(!model.acceptsTensorParallel(Int.max))
        model.kvHeads = 0
        #expect(model.acceptsTensorParallel(1))
    }

    @Test func saturatingArithmeticClampsBothWaysAndNeverReachesIntMin() {
        #expect(Int.max.saturatingMultiplied(by: 2) == .max)
        #expect(Int.max.saturatingMultiplied(by: -2) == -.max)
        #expect(Int.min.saturatingMultiplied(by: 1) == -.max)
        #expect(Int.max.saturatingAdded(1) == .max)
        #expect((-Int.max).saturatingAdded(-5) == -.max)
        #expect((-Int.max).saturatingSubtracted(Int.max) == -.max)
        #expect(Int.max.saturatingSubtracted(-1) == .max)
        #expect(Int(saturating: 1e300) == .max && Int(saturating: -1e300) == -.max && Int(saturating: .nan) == 0)
        #expect(Int(saturating: 12.9) == 12)
        #expect(ceilDiv(Int.max, 2) == Int.max / 2 + 1)
    }
}
