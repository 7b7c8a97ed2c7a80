// tandem-fuzz: runs seeded random pools with hostile numbers through Tandem's pure pipeline
// (spec validation, planning, sizing, rendering, the pool status) and streams its progress, so a
// parent process can tell which case a trap (a Swift runtime failure, e.g. an arithmetic
// overflow) killed. Issue 14, defect 2. Not part of the `tandem` executable.
//
//   tandem-fuzz --seed <UInt64> --cases <N> [--progress-every <K>]
//   tandem-fuzz --case-seed <UInt64>          (re-runs one case, printing its pool as JSON)
//   tandem-fuzz … --trap-at <i>                (traps at case i: tests the harness)
//
// Output, one line each, written unbuffered so nothing is lost when the process dies:
//   start seed <s> cases <n>
//   case <i> seed <case seed>                  (before case i runs)
//   progress <i>/<n> plans <p> failures <f> invalid <v>
//   summary cases <n> plans <p> failures <f> invalid <v> sizings <a> sizing-failures <b> args-refused <c> quantities <q> elapsed-ms <t>
//   reasons <Reason>=<count> …
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Writes a line straight to standard output (no buffer a trap could lose).
func emit(_ line: String) {
    var bytes = Array((line + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes.withUnsafeMutableBytes { write(1, $0.baseAddress! + offset, $0.count - offset) }
        if written <= 0 { break }
        offset += written
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("tandem-fuzz: \(message)\n".utf8))
    exit(2)
}

var seed: UInt64?
var cases = 10_000
var every = 1_000
var caseSeed: UInt64?
var trapAt: Int?
var arguments = CommandLine.arguments.dropFirst()

/// The value after `flag`, parsed, or an exit with `problem`.
@MainActor func parsed<T>(_ flag: String, _ problem: String, _ parse: (String) -> T?) -> T {
    guard let text = arguments.popFirst() else { fail("\(flag) needs a value") }
    guard let value = parse(text) else { fail(problem) }
    return value
}

while let argument = arguments.popFirst() {
    switch argument {
    case "--seed": seed = parsed(argument, "--seed must be an unsigned 64-bit integer") { UInt64($0) }
    case "--cases": cases = parsed(argument, "--cases must be a count") { Int($0).flatMap { $0 >= 0 ? $0 : nil } }
    case "--progress-every": every = parsed(argument, "--progress-every must be positive") { Int($0).flatMap { $0 >= 1 ? $0 : nil } }
    // Tests the harness: an arithmetic-overflow trap when case <i> starts.
    case "--trap-at": trapAt = parsed(argument, "--trap-at must be a case index") { Int($0) }
    case "--case-seed": caseSeed = parsed(argument, "--case-seed must be an unsigned 64-bit integer") { UInt64($0) }
    default: fail("unknown argument \(argument); usage: tandem-fuzz --seed <s> --cases <n> | --case-seed <s>")
    }
}

if let caseSeed {
    var tally = Tally()
    let pool = FuzzCase.pool(seed: caseSeed)
    emit(String(decoding: (try? JSONEncoder.pretty.encode(pool)) ?? Data(), as: UTF8.self))
    emit("outcome \(FuzzCase.run(seed: caseSeed, tally: &tally))")
    exit(0)
}
guard let seed else { fail("--seed is required") }

let started = DispatchTime.now().uptimeNanoseconds
var tally = Tally()
emit("start seed \(seed) cases \(cases)")
for index in 0..<cases {
    let current = FuzzCase.caseSeed(run: seed, index: index)
    emit("case \(index) seed \(current)")
    if index == trapAt {
        var overflowing = Int.max
        overflowing += CommandLine.arguments.count  // traps: "arithmetic overflow"
        emit("unreachable \(overflowing)")
    }
    _ = FuzzCase.run(seed: current, tally: &tally)
    if (index + 1) % every == 0 {
        emit("progress \(index + 1)/\(cases) plans \(tally.plans) failures \(tally.failures) invalid \(tally.invalid)")
    }
}
let elapsed = (DispatchTime.now().uptimeNanoseconds - started) / 1_000_000
emit("summary cases \(cases) plans \(tally.plans) failures \(tally.failures) invalid \(tally.invalid) "
     + "sizings \(tally.sizings) sizing-failures \(tally.sizingFailures) args-refused \(tally.argsRefused) "
     + "quantities \(tally.quantities) elapsed-ms \(elapsed)")
emit("reasons " + tally.reasons.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
if let problem = tally.inconsistencies.first {
    emit("inconsistent \(tally.inconsistencies.count) first: \(problem)")
    exit(1)
}
exit(0)
