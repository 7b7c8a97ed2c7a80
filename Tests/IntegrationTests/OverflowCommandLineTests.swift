import Foundation
import KubeTestSupport
import Testing

/// Issue 14, defect 2, on the command line: `tandem size` and `tandem render -f` refuse numbers
/// out of range with a clear message and exit 1; they never trap (a trap ends the process with
/// a signal and "Fatal error"/"arithmetic overflow" on stderr). No cluster needed.
@Suite("Overflow on the command line")
struct OverflowCommandLineTests {
    let binary = Script.projectRoot + "/.build/debug/tandem"

    func tandem(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the tandem binary first (swift build)")
        return try await Script.exec([binary] + arguments)
    }

    func expectRefusedWithoutTrap(_ result: (status: Int32, output: String), _ expected: String) {
        #expect(result.status == 1, "exit \(result.status): \(result.output)")
        #expect(!result.output.contains("Fatal error") && !result.output.contains("arithmetic overflow"), "\(result.output)")
        #expect(result.output.contains(expected), "\(result.output)")
    }

    @Test(arguments: [
        ("--max-num-batched-tokens=9223372036854775807", "--max-num-batched-tokens=9223372036854775807 is out of range: Tandem accepts 1 to 2,147,483,647"),
        ("--max-num-seqs=9223372036854775807", "--max-num-seqs=9223372036854775807 is out of range: Tandem accepts 1 to 2,147,483,647"),
        ("--max-model-len=99999999999999999999", "--max-model-len=99999999999999999999 is out of range: Tandem accepts 1 to 2,147,483,647"),
        ("--max-num-batched-tokens=200000000000000", "--max-num-batched-tokens=200000000000000 is out of range"),
    ])
    func sizeRefusesTheIssuesNumbers(flag: String, expected: String) async throws {
        let result = try await tandem(["size", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--accelerator", "nvidia-h100",
                                       "--tier", "decode", "--args", flag])
        expectRefusedWithoutTrap(result, expected)
    }

    @Test func sizeRefusesAHugeDeviceCount() async throws {
        let result = try await tandem(["size", "--model", "meta-llama/Llama-3.1-8B-Instruct", "--devices", "9223372036854775807"])
        expectRefusedWithoutTrap(result, "devices per replica 9,223,372,036,854,775,807 is out of range: Tandem accepts 1 to 1,024")
    }

    @Test func renderRefusesReplicasNearInt32MaxAndHugeArgs() async throws {
        let manifest = """
            apiVersion: inference.x-k8s.io/v1alpha1
            kind: InferencePool
            metadata: {name: huge}
            spec:
              model: meta-llama/Llama-3.1-8B-Instruct
              accelerator: nvidia-h100
              prefillConfig:
                replicas: 2147483647
                vllmArgs: [--max-model-len=99999999999999999999]
              decodeConfig:
                replicas: 2147483647
                vllmArgs: [--max-num-seqs=9223372036854775807]
                autoscaling: {mode: Disabled, maxReplicas: 2147483647}
            """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("overflow-\(UUID().uuidString).yaml")
        try manifest.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try await tandem(["render", "-f", file.path])
        expectRefusedWithoutTrap(result, "huge: decode tier not rolled out: InvalidSpec: spec.decodeConfig.replicas 2147483647 is out of range")
        #expect(result.output.contains("huge: prefill tier not rolled out: InvalidSpec: spec.prefillConfig.replicas 2147483647 is out of range"))
        // Replicas in range, arguments not: the flag is named.
        let args = manifest.replacingOccurrences(of: "replicas: 2147483647", with: "replicas: 1")
            .replacingOccurrences(of: ", maxReplicas: 2147483647", with: "")
        try args.write(to: file, atomically: true, encoding: .utf8)
        let flags = try await tandem(["render", "-f", file.path])
        expectRefusedWithoutTrap(flags, "InvalidSpec: spec.decodeConfig.vllmArgs: --max-num-seqs=9223372036854775807 is out of range")
        #expect(flags.output.contains("spec.prefillConfig.vllmArgs: --max-model-len=99999999999999999999 is out of range"))
    }
}
