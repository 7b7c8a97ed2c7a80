import Sizing
import Testing

@testable import Simulation
import KubeCore

@Suite struct EngineStepTimeTests {
    let llama70B = ModelCatalog.builtIn.profile(for: "meta-llama/Llama-3.1-70B-Instruct")!
    let h100 = EngineFixtures.h100

    @Test func decodeIsLinearInTheBatch() {
        let model = StepTimeModel(model: llama70B, accelerator: h100, tensorParallel: 4)
        for batch in [1, 8, 64, 256] {
            let seconds = model.decodeStepTime(batch: batch, contextTokens: 1_000).inSeconds
            let line = model.decodeIntercept + Double(batch) * model.decodeSlope(contextTokens: 1_000)
            #expect(abs(seconds - line) < 1e-9)
        }
        // α is at least the weights read at full bandwidth.
        let weightsRead = Double(llama70B.weightsBytes(dtype: .bfloat16)) / 4 / h100.memoryBandwidthBytesPerSecond
        #expect(model.decodeIntercept > weightsRead)
    }

    @Test func prefillIsComputeBoundWithAWeightsReadFloor() {
        let model = EngineFixtures.stepTime
        let weightsRead = model.weightsBytesPerDevice / (model.memoryBandwidth * model.efficiency.memoryBandwidth)
        let short = model.prefillTime(tokens: 16).inSeconds
        #expect(short >= weightsRead && short < weightsRead * 1.2)
        // A long prompt costs about 2 · params · tokens / (FLOPS · MFU), plus the quadratic attention.
        let tokens = 16_384
        let linear = 2 * Double(EngineFixtures.llama8B.activeParameters) * Double(tokens) / (model.peakFLOPS * model.efficiency.modelFLOPS)
        let long = model.prefillTime(tokens: tokens).inSeconds
        #expect(long > linear && long < linear * 1.3)
        #expect(model.prefillTime(tokens: 8_192) > model.prefillTime(tokens: 4_096) * 2)  // superlinear
    }

    @Test func sizingAndProfileConstructionAgree() throws {
        let sizing = try TierSizer().size(TierSizingRequest(tier: .decode, model: llama70B, accelerator: h100))
        let fromSizing = StepTimeModel(sizing: sizing, model: llama70B, accelerator: h100)
        let direct = StepTimeModel(model: llama70B, accelerator: h100, tensorParallel: sizing.tensorParallelSize.value)
        #expect(fromSizing.tensorParallel == sizing.tensorParallelSize.value)
        #expect(abs(fromSizing.weightsBytesPerDevice - direct.weightsBytesPerDevice) <= 1)
        #expect(fromSizing.kvCacheBytesPerTokenPerDevice == direct.kvCacheBytesPerTokenPerDevice)
        let configuration = try #require(EngineConfiguration(sizing: sizing))
        #expect(configuration.role == .decode)
        #expect(configuration.kvCacheBlocks == sizing.kvCacheTokens! / 16)
    }

    @Test func moreTensorParallelismCutsTheWeightsReadButAddsAllReduces() {
        let tp4 = StepTimeModel(model: llama70B, accelerator: h100, tensorParallel: 4)
        let tp2 = StepTimeModel(model: llama70B, accelerator: h100, tensorParallel: 2)
        #expect(tp4.decodeIntercept < tp2.decodeIntercept)
        #expect(tp4.prefillTime(tokens: 4_096) < tp2.prefillTime(tokens: 4_096))
        let fp8 = StepTimeModel(model: llama70B, accelerator: h100, tensorParallel: 4, weightsDType: .fp8)
        #expect(fp8.decodeIntercept < tp4.decodeIntercept)
    }
}
