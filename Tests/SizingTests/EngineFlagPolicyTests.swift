import Testing
@testable import Sizing

@Suite struct EngineFlagPolicyTests {
    let policy = EngineFlagPolicy.vllmV0_12_0

    @Test func pinsVLLM0_12_0() {
        #expect(EngineFlagPolicy.pinnedVLLMImage == "vllm/vllm-openai:v0.12.0")
        #expect(policy.image == EngineFlagPolicy.pinnedVLLMImage)
        #expect(EngineFlagPolicy.policy(forImage: "vllm/vllm-openai:v0.12.0") == policy)
        #expect(EngineFlagPolicy.policy(forImage: "docker.io/vllm/vllm-openai:v0.12.0") == policy)
        #expect(EngineFlagPolicy.policy(forImage: "vllm/vllm-openai:v0.13.0") == nil)
    }

    @Test func dropsDisableLogRequestsAndKeepsTheRestInOrder() throws {
        let args = try EngineArgs(["--max-model-len=8192", "--disable-log-requests", "--enforce-eager", "--port", "8200"])
        let review = policy.review(args)
        #expect(review.kept.tokens == ["--max-model-len=8192", "--enforce-eager", "--port", "8200"])
        #expect(review.kept.maxModelLen == 8_192 && review.kept.enforceEager == true)
        #expect(review.dropped.map(\.flag) == ["--disable-log-requests"])
        #expect(review.refused.isEmpty)
        guard case .drop(let reason) = review.dropped.first?.action else {
            Issue.record("--disable-log-requests must be dropped")
            return
        }
        #expect(reason.contains("off by default"))
    }

    @Test func matchesAnySpellingOfARemovedFlag() throws {
        let review = policy.review(try EngineArgs(["--disable_log_requests", "--use-v2-block-manager", "--num-scheduler-steps=8"]))
        #expect(review.kept.tokens.isEmpty)
        #expect(review.dropped.map(\.flag) == ["--disable-log-requests", "--use-v2-block-manager", "--num-scheduler-steps"])
    }

    @Test func refusesAFlagWithNoHarmlessReading() throws {
        let review = policy.review(try EngineArgs(["--speculative-model", "meta-llama/Llama-3.2-1B", "--max-model-len=4096"]))
        #expect(review.refused.map(\.flag) == ["--speculative-model"])
        #expect(review.refused.first?.reason.contains("--speculative-config") == true)
        #expect(review.kept.tokens == ["--max-model-len=4096"])  // the draft model's id goes with its flag
        #expect(review.dropped.isEmpty)
    }

    @Test func aSyntheticTableRefusesAndReportsEachFlagOnce() throws {
        let table = EngineFlagPolicy(
            image: "example/engine:v1",
            removedFlags: [
                .init(flag: "--rope_scaling", removedIn: "1.0", action: .refuse(reason: "changes the context length")),
                .init(flag: "--old-knob", removedIn: "1.0", action: .drop(reason: "no effect")),
            ])
        let review = table.review(try EngineArgs([
            "--old-knob=1", "--rope-scaling", #"{"type":"yarn"}"#, "--old-knob=2", "--tensor-parallel-size=2",
        ]))
        #expect(review.refused.map(\.flag) == ["--rope-scaling"])
        #expect(review.dropped.map(\.flag) == ["--old-knob"])
        #expect(review.kept.tokens == ["--tensor-parallel-size=2"])
        #expect(review.kept.tensorParallelSize == 2)
    }

    @Test func argumentsWithoutRemovedFlagsPassUntouched() throws {
        let args = try EngineArgs(["--max-model-len=8192", "--enable-prefix-caching"])
        let review = policy.review(args)
        #expect(review.kept == args)
        #expect(review.dropped.isEmpty && review.refused.isEmpty)
    }
}
