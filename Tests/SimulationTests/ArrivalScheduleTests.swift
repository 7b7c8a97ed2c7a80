import Foundation
import KubeCore
import Sizing
import Testing

@testable import Simulation

@Suite("Load schedules")
struct ArrivalScheduleTests {
    @Test func poissonArrivalsAreDeterministicAndNearTheRate() {
        let a = ArrivalSchedule.generate(pattern: .steady, rate: 10, duration: .seconds(100), promptTokens: 5, outputTokens: 3, seed: 7)
        let b = ArrivalSchedule.generate(pattern: .steady, rate: 10, duration: .seconds(100), promptTokens: 5, outputTokens: 3, seed: 7)
        #expect(a == b)
        // 1,000 expected; a Poisson count's standard deviation is √1000 ≈ 32.
        #expect(abs(a.count - 1_000) < 130, "\(a.count)")
        #expect(a.allSatisfy { $0.at < .seconds(100) && $0.promptTokens == 5 })
        #expect(zip(a, a.dropFirst()).allSatisfy { $0.at <= $1.at })
    }

    @Test func surgeQuadruplesThePromptsOfTheMiddleThirdOnly() {
        let plan = ArrivalSchedule.generate(pattern: .surge, rate: 5, duration: .seconds(300), promptTokens: 100, outputTokens: 3, seed: 3)
        for request in plan {
            let t = request.at.inSeconds
            #expect(request.promptTokens == (t >= 100 && t < 200 ? 400 : 100), "t=\(t)")
            #expect(request.outputTokens == 3)
        }
        // The request rate does not change: each third holds about a third of the arrivals.
        let middle = plan.filter { $0.promptTokens == 400 }.count
        #expect(abs(Double(middle) / Double(plan.count) - 1.0 / 3) < 0.06, "\(middle) of \(plan.count)")
    }

    @Test func stepTriplesTheSecondHalf() {
        let plan = ArrivalSchedule.generate(pattern: .step, rate: 10, duration: .seconds(200), promptTokens: 1, outputTokens: 1, seed: 3)
        let first = plan.filter { $0.at < .seconds(100) }.count
        let second = plan.count - first
        let ratio = Double(second) / Double(first)
        #expect(ratio > 2.4 && ratio < 3.6, "\(first) then \(second)")
    }

    @Test func azureTraceRowsBecomeRelativeTimes() throws {
        let csv = """
            TIMESTAMP,ContextTokens,GeneratedTokens
            2023-11-16 18:15:46.6805900,374,44
            2023-11-16 18:15:50.9951690,396,109
            2023-11-16 18:16:06.2972700,879,42
            """
        let plan = try ArrivalSchedule.trace(csv: csv, speedup: 2)
        #expect(plan.map(\.promptTokens) == [374, 396, 879])
        #expect(plan.map(\.outputTokens) == [44, 109, 42])
        #expect(plan[0].at == .zero)
        let second = Double(plan[1].at.components.seconds) + Double(plan[1].at.components.attoseconds) / 1e18
        let expected = 4.3145790 / 2  // 18:15:50.9951690 − 18:15:46.6805900, replayed twice as fast
        #expect(abs(second - expected) < 1e-5, "\(second)")  // seconds since the epoch leave ~1 µs of double precision
        #expect(throws: ArrivalSchedule.TraceError.self) { try ArrivalSchedule.trace(csv: "a,b\n1,2\n") }
    }

    @Test func sharedAzureTraceLoads() throws {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let path = url.deletingLastPathComponent().appendingPathComponent("shared/data/traces/AzureLLMInferenceTrace_conv.csv").path
        let text = try #require(try? String(contentsOfFile: path, encoding: .utf8), "the shared trace is missing at \(path)")
        let plan = try ArrivalSchedule.trace(csv: text)
        #expect(plan.count == 19_366)
        let minutes = Double(plan.last!.at.components.seconds) / 60
        #expect(minutes > 55 && minutes < 62, "\(minutes) minutes")
    }

    @Test func percentilesByNearestRank() {
        #expect(Percentiles.of(Array(1...100).map(Double.init), [50, 90, 99]) == [50, 90, 99])
        #expect(Percentiles.of([3], [50]) == [3])
        #expect(Percentiles.of([], [50]).first?.isNaN == true)
    }
}

@Suite("Node agent pieces")
struct NodeAgentPieceTests {
    @Test func startupDelayGrowsWithTheWeightsPerDevice() {
        func pod(_ args: [String]) -> KubeCore.Pod {
            KubeCore.Pod(spec: PodSpec(containers: [Container(name: "vllm", args: args)]))
        }
        let delay = StartupDelay.byModelSize(base: .seconds(1), perGiB: .milliseconds(100))
        let small = delay.delay(pod(["--model=meta-llama/Llama-3.1-8B-Instruct"]))
        let large = delay.delay(pod(["--model=meta-llama/Llama-3.1-70B-Instruct", "--tensor-parallel-size=2"]))
        let unknown = delay.delay(pod(["--model=acme/x"]))
        #expect(unknown == .seconds(1))
        // 8B at bf16 ≈ 15.0 GiB → 1 s + 1.5 s; 70B ≈ 131.4 GiB over 2 devices → 1 s + 6.6 s.
        #expect(small > .milliseconds(2_400) && small < .milliseconds(2_600), "\(small)")
        #expect(large > .milliseconds(7_500) && large < .milliseconds(7_700), "\(large)")
    }

    @Test func loopbackAddressesAreDistinctAndReused() {
        let pool = LoopbackAddresses()
        let taken = (0..<300).compactMap { _ in pool.take() }
        #expect(Set(taken).count == 300)
        #expect(!taken.contains("127.0.0.1") && !taken.contains { $0.hasSuffix(".0") || $0.hasSuffix(".255") })
        pool.give(back: taken[5])
        #expect(pool.take() == taken[5])
    }

    @Test func emulatedNodesCarryEveryAcceleratorLabelAndTheTaint() throws {
        let h200 = try #require(AcceleratorCatalog.builtIn.accelerator(named: "nvidia-h200"))
        let node = EmulatedNode(name: "n", accelerator: h200).object()
        #expect(node.metadata.labels?["nvidia.com/gpu.product"] == "NVIDIA-H200")
        #expect(node.spec?.taints?.first?.key == "nvidia.com/gpu")
        let status = EmulatedNode(name: "n", accelerator: h200, devices: 8).statusPatch(now: Date())
        #expect(status["status"]?["capacity"]?["nvidia.com/gpu"] == "8")
    }
}
