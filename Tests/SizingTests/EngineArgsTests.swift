import Testing
@testable import Sizing

@Suite struct EngineArgsTests {
    /// The error a parse throws, or `nil` when it succeeds.
    func parseError(_ tokens: [String]) -> EngineArgsError? {
        do {
            _ = try EngineArgs(tokens)
            return nil
        } catch {
            return error
        }
    }

    @Test func readsEqualsSeparateAndBareForms() throws {
        let args = try EngineArgs(["--tensor-parallel-size=2", "--max-model-len", "8192", "--enforce-eager"])
        #expect(args.tensorParallelSize == 2)
        #expect(args.maxModelLen == 8_192)
        #expect(args.enforceEager == true)
        #expect(args.arguments.map(\.flag) == ["--tensor-parallel-size", "--max-model-len", "--enforce-eager"])
        #expect(args.tokens == ["--tensor-parallel-size=2", "--max-model-len", "8192", "--enforce-eager"])
    }

    @Test func readsEveryFlagSizingUses() throws {
        let args = try EngineArgs([
            "--pipeline-parallel-size=2", "--gpu-memory-utilization", "0.92", "--max-num-seqs=128",
            "--max-num-batched-tokens=4096", "--dtype=half", "--kv-cache-dtype=fp8_e5m2", "--quantization=awq",
            "--block-size=32",
        ])
        #expect(args.pipelineParallelSize == 2)
        #expect(args.gpuMemoryUtilization == 0.92)
        #expect(args.maxNumSeqs == 128)
        #expect(args.maxNumBatchedTokens == 4_096)
        #expect(args.dtype == .float16)
        #expect(args.kvCacheDType == .fp8)
        #expect(args.quantization == "awq")
        #expect(args.blockSize == 32)
        #expect(args.enforceEager == nil && args.tensorParallelSize == nil && args.maxModelLen == nil)
    }

    @Test func underscoresAndDashesAreTheSameFlag() throws {
        let args = try EngineArgs(["--max_model_len=4096", "--tensor_parallel_size", "4"])
        #expect(args.maxModelLen == 4_096)
        #expect(args.tensorParallelSize == 4)
        #expect(args.contains("--max-model-len") && args.contains("--max_model_len"))
        #expect(args.value(of: "--tensor-parallel-size") == "4")
        #expect(args.tokens == ["--max_model_len=4096", "--tensor_parallel_size", "4"])  // as written
    }

    @Test func onlyTheFlagNameBeforeADotIsNormalised() throws {
        let args = try EngineArgs(["--compilation_config.cudagraph_mode=FULL_DECODE_ONLY"])
        #expect(args.arguments.first?.flag == "--compilation-config.cudagraph_mode")
    }

    @Test func shortAliases() throws {
        #expect(try EngineArgs(["-tp", "4"]).tensorParallelSize == 4)
        #expect(try EngineArgs(["-tp=2", "-pp=2"]).pipelineParallelSize == 2)
        #expect(try EngineArgs(["-q", "fp8"]).quantization == "fp8")
    }

    @Test func lastOccurrenceWins() throws {
        #expect(try EngineArgs(["--max-num-seqs=8", "--max-num-seqs", "16"]).maxNumSeqs == 16)
    }

    @Test func malformedValuesNameTheFlag() {
        #expect(parseError(["--tensor-parallel-size=two"])
            == .malformedValue(flag: "--tensor-parallel-size", value: "two", expected: "a positive integer"))
        #expect(parseError(["--tensor_parallel_size=0"])?.description.hasPrefix("--tensor-parallel-size=0") == true)
        guard case .malformedValue(let flag, _, _) = parseError(["--gpu-memory-utilization=1.5"]) else {
            Issue.record("1.5 must be rejected")
            return
        }
        #expect(flag == "--gpu-memory-utilization")
        #expect(parseError(["--gpu-memory-utilization=0"]) != nil)
        #expect(parseError(["--max-num-batched-tokens=-5"]) != nil)
        #expect(parseError(["--dtype=int4"]) != nil)
        #expect(parseError(["--kv-cache-dtype=int3"]) != nil)
        #expect(parseError(["--enforce-eager=maybe"]) != nil)
    }

    @Test func everyOccurrenceIsChecked() {
        // vLLM's parser would reject the first even though a later one is fine.
        #expect(parseError(["--max-model-len=lots", "--max-model-len=8192"]) != nil)
    }

    @Test func missingValuesNameTheFlag() {
        #expect(parseError(["--max-model-len"]) == .missingValue(flag: "--max-model-len"))
        #expect(parseError(["--max-model-len", "--enforce-eager"]) == .missingValue(flag: "--max-model-len"))
        #expect(parseError(["--quantization="]) == .missingValue(flag: "--quantization"))
    }

    @Test func maxModelLenAcceptsVLLMsHumanReadableForms() throws {
        #expect(try EngineArgs(["--max-model-len=32k"]).maxModelLen == 32_000)
        #expect(try EngineArgs(["--max-model-len=32K"]).maxModelLen == 32_768)
        #expect(try EngineArgs(["--max-model-len=25.6k"]).maxModelLen == 25_600)
        #expect(try EngineArgs(["--max-model-len=1M"]).maxModelLen == 1_048_576)
        #expect(parseError(["--max-model-len=1.5K"]) != nil)  // decimals only with decimal suffixes
        #expect(parseError(["--max-model-len=8x"]) != nil)
    }

    @Test func booleanFlagsDoNotSwallowTheNextToken() throws {
        let args = try EngineArgs(["--enforce-eager", "stray", "--disable-log-requests", "--trust-remote-code"])
        #expect(args.arguments.count == 4)
        #expect(args.arguments[1] == EngineArgs.Argument(flag: nil, value: nil, tokens: ["stray"]))
        #expect(args.arguments[2].flag == "--disable-log-requests" && args.arguments[2].value == nil)
    }

    @Test func booleanFlagsTakeExplicitValuesAndNegations() throws {
        #expect(try EngineArgs(["--no-enforce-eager"]).enforceEager == false)
        #expect(try EngineArgs(["--enforce-eager=false"]).enforceEager == false)
        #expect(try EngineArgs(["--enforce-eager=True"]).enforceEager == true)
    }

    @Test func valuesMayLookLikeJSONOrNegativeNumbers() throws {
        let json = #"{"kv_connector":"NixlConnector","kv_role":"kv_producer"}"#
        let args = try EngineArgs(["--kv-transfer-config", json, "--seed", "-1", "--port", "8200"])
        #expect(args.value(of: "--kv-transfer-config") == json)
        #expect(args.value(of: "--seed") == "-1")
        #expect(args.value(of: "--port") == "8200")
    }

    @Test func emptyArgumentsHaveNothingSet() {
        let args = EngineArgs()
        #expect(args.tokens.isEmpty && args.tensorParallelSize == nil && !args.contains("--enforce-eager"))
    }
}
