import Foundation
import Testing

/// Issue 14's overflow fuzz, the `make test` tier: the `tandem-fuzz` child runs seeded cases
/// of hostile numbers through validation, planning, sizing, rendering and the pool status; if
/// it dies of a signal (a Swift runtime trap), the test names the run seed, the last case the
/// child started and the command that re-runs that case alone. Fixed seeds only (no flakiness);
/// `hack/fuzz.sh` runs the 100k-case tier.
@Suite("Overflow fuzz")
struct OverflowFuzzTests {
    /// The outcome of one child run.
    struct Run {
        var reason: Process.TerminationReason
        var status: Int32
        var lines: [String]
        var stderr: String

        /// `case <i> seed <s>`: the last case the child started.
        var lastCase: (index: Int, seed: String)? {
            guard let line = lines.last(where: { $0.hasPrefix("case ") }) else { return nil }
            let words = line.split(separator: " ")
            guard words.count == 4, let index = Int(words[1]) else { return nil }
            return (index, String(words[3]))
        }

        /// The numbers of the `summary` line, by name.
        var summary: [String: Int] {
            guard let line = lines.last(where: { $0.hasPrefix("summary ") }) else { return [:] }
            let words = line.split(separator: " ").dropFirst().map(String.init)
            var result: [String: Int] = [:]
            for index in stride(from: 0, to: words.count - 1, by: 2) { result[words[index]] = Int(words[index + 1]) }
            return result
        }
    }

    static var projectRoot: String {
        if let root = ProcessInfo.processInfo.environment["TANDEM_ROOT"], !root.isEmpty { return root }
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        return FileManager.default.currentDirectoryPath
    }

    /// The `tandem-fuzz` beside the test binary (the same build), else in `.build/debug`.
    static func binary() throws -> String {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("tandem-fuzz").path
        for candidate in [beside, projectRoot + "/.build/debug/tandem-fuzz"] where FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
        throw FuzzHarnessError("tandem-fuzz is not built (looked at \(beside) and \(projectRoot)/.build/debug/tandem-fuzz): run swift build --build-tests")
    }

    /// Runs the child to its end, stdout and stderr to files (a full pipe could block it);
    /// waits without holding a thread of the concurrency pool.
    static func run(_ arguments: [String]) async throws -> Run {
        let directory = FileManager.default.temporaryDirectory
        let out = directory.appendingPathComponent("tandem-fuzz-\(UUID().uuidString).out")
        let err = directory.appendingPathComponent("tandem-fuzz-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: out)
            try? FileManager.default.removeItem(at: err)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try binary())
        process.arguments = arguments
        let outHandle = try FileHandle(forWritingTo: out)
        let errHandle = try FileHandle(forWritingTo: err)
        process.standardOutput = outHandle
        process.standardError = errHandle
        process.standardInput = FileHandle.nullDevice
        let exited = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in
            exited.continuation.yield()
            exited.continuation.finish()
        }
        try process.run()
        try? outHandle.close()
        try? errHandle.close()
        for await _ in exited.stream { break }
        process.waitUntilExit()
        let lines = try String(contentsOf: out, encoding: .utf8).split(separator: "\n").map(String.init)
        return Run(reason: process.terminationReason, status: process.terminationStatus, lines: lines,
                   stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// Runs `cases` cases of `seed` and checks every one ended in a plan or a condition.
    static func fuzz(seed: UInt64, cases: Int) async throws -> Run {
        let run = try await run(["--seed", String(seed), "--cases", String(cases)])
        if run.reason == .uncaughtSignal {
            let last = run.lastCase.map { "case \($0.index) (case seed \($0.seed)); re-run it alone: tandem-fuzz --case-seed \($0.seed)" }
                ?? "no case started"
            Issue.record("""
                tandem-fuzz died of signal \(run.status) with run seed \(seed), in \(last)
                \(run.stderr.suffix(2_000))
                """)
            return run
        }
        #expect(run.status == 0, "tandem-fuzz exited \(run.status): \(run.lines.suffix(3)) \(run.stderr.suffix(1_000))")
        let summary = run.summary
        let plans = summary["plans"] ?? -1, failures = summary["failures"] ?? -1, invalid = summary["invalid"] ?? -1
        #expect(summary["cases"] == cases, "no summary line: \(run.lines.suffix(3))")
        #expect(plans + failures + invalid == cases, "\(plans) plans + \(failures) failures + \(invalid) invalid ≠ \(cases)")
        return run
    }

    @Test(.timeLimit(.minutes(5)))
    func tenThousandSeededCasesEachEndInAPlanOrACondition() async throws {
        let cases = 10_000
        let run = try await Self.fuzz(seed: 14_002, cases: cases)
        guard run.reason == .exit else { return }
        let summary = run.summary
        // The generator reaches every outcome, so the count above proves something.
        #expect((summary["plans"] ?? 0) > 0 && (summary["failures"] ?? 0) > 0 && (summary["invalid"] ?? 0) > 0, "\(summary)")
        #expect((summary["sizings"] ?? 0) > 0 && (summary["sizing-failures"] ?? 0) > 0 && (summary["args-refused"] ?? 0) > 0)
        #expect((summary["quantities"] ?? 0) > 0)
        let reasons = run.lines.last { $0.hasPrefix("reasons ") } ?? ""
        #expect(reasons.contains("InvalidSpec="), "\(reasons)")
        #expect(run.lines.filter { $0.hasPrefix("progress ") }.count == cases / 1_000)
        print("overflow fuzz: \(run.lines.last { $0.hasPrefix("summary ") } ?? "")")
    }

    /// The harness itself: a child that traps is reported with its seed and the case it was in.
    @Test func aTrapIsReportedWithTheSeedAndTheCase() async throws {
        let run = try await Self.run(["--seed", "7", "--cases", "50", "--trap-at", "23"])
        #expect(run.reason == .uncaughtSignal)
        #expect(run.lastCase?.index == 23)
        let again = try await Self.run(["--seed", "7", "--cases", "50"])
        #expect(again.reason == .exit && again.status == 0)
        #expect(again.lines.contains { $0.hasPrefix("case 23 seed \(run.lastCase?.seed ?? "?")") },
                "a case's seed depends on the run seed and the index only")
    }
}

struct FuzzHarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
