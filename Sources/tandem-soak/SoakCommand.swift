// tandem-soak: the soak driver of `make soak` (issue 14): against a running operator, creates and
// deletes InferencePools at a steady rate under a bounded set of names (so names are re-used),
// samples the operator's RSS and /metrics series, checks that a pool re-created under a name
// whose last pool had a scaling history starts without it, and exits 1 when RSS or the series
// do not return to their baseline. hack/soak.sh starts the cluster and the operator and runs it.
// Not part of the `tandem` executable.
import ArgumentParser
import AsyncHTTPClient
import Foundation
import KubeClient
import KubeCore
import Logging
import TandemAPI

@main
struct SoakCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem-soak",
        abstract: "Create and delete InferencePools for a while under re-used names; check that the operator's memory and /metrics return to baseline.")

    @Option(help: "Kubeconfig of the cluster the operator watches (default: $KUBECONFIG).")
    var kubeconfig: String?

    @Option(help: "Namespace the pools are made in (created if missing).")
    var namespace: String = "tandem-soak"

    @Option(help: "Pools to create (and delete) in all.")
    var pools: Int = 10_000

    @Option(help: "Minutes over which the pools are created, at a steady rate.")
    var minutes: Double = 60

    @Option(help: "Size of the name set (default: twice the pools alive at once + 10, at least 20).")
    var names: Int?

    @Option(help: "Seconds each pool lives (±20 %, longer when its checks take longer).")
    var lifetime: Double = 30

    @Option(help: "Process id of the operator (its RSS is read from /proc/<pid>/status).")
    var operatorPid: Int32

    @Option(help: "The operator's /metrics over plain HTTP (tandem operator --metrics-secure=false).")
    var metricsURL: String

    @Option(help: "Wait for the children (both tier Deployments) of every Nth pool.")
    var childrenEvery: Int = 5

    @Option(help: "Give a scaling history to one in N decades' operator-prefill pools (prefill minReplicas 0 → 1).")
    var historyEvery: Int = 2

    @Option(help: "Fraction of the pools run first, to take the warm baseline after them.")
    var warmupFraction: Double = 0.1

    @Option(help: "Seconds between readings of the operator.")
    var sampleEvery: Double = 5

    @Option(help: "Seconds the operator is left to settle (at least) before a baseline or final reading.")
    var settleSeconds: Double = 30

    @Option(help: "Seconds to wait for every pool, child and pool series to be gone before a reading.")
    var settleTimeout: Double = 300

    @Option(help: "RSS may end this many MiB above the warm baseline (or --rss-tolerance-percent of it, the larger).")
    var rssToleranceMib: Double = 16

    @Option(help: "RSS may end this many percent above the warm baseline (or --rss-tolerance-mib, the larger).")
    var rssTolerancePercent: Double = 10

    // The label values of bounded sets that may first appear after the warm-up: response
    // codes of rest_client_requests_total (404 and 409 were seen) and reconcile results.
    @Option(help: "Series /metrics may end with above the warm baseline (bounded label values seen late, e.g. a response code).")
    var seriesTolerance: Int = 10

    func validate() throws {
        guard pools >= 1, minutes > 0, lifetime >= 1 else { throw ValidationError("--pools ≥ 1, --minutes > 0 and --lifetime ≥ 1 are needed") }
        guard childrenEvery >= 1, historyEvery >= 1, sampleEvery > 0 else {
            throw ValidationError("--children-every, --history-every ≥ 1 and --sample-every > 0 are needed")
        }
        guard (0..<1).contains(warmupFraction) else { throw ValidationError("--warmup-fraction must be in [0, 1)") }
        if let names, names < 1 { throw ValidationError("--names must be at least 1") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let logger = Logger(label: "tandem-soak")
        let configuration = try ClientConfiguration.fromKubeconfig(path: kubeconfig, logger: logger)
        let client = try KubernetesClient(configuration: configuration, logger: logger)
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        let nameCount = names ?? defaultNameCount(pools: pools, minutes: minutes, lifetime: lifetime)
        let soak = Soak(
            client: client, http: http, namespace: namespace, metricsURL: metricsURL, operatorPID: operatorPid, pools: pools,
            minutes: minutes, lifetime: lifetime, childrenEvery: childrenEvery, historyEvery: historyEvery,
            warmupFraction: warmupFraction, sampleEvery: sampleEvery, settleSeconds: settleSeconds, settleTimeout: settleTimeout,
            tolerance: Tolerance(rssBytes: Int(rssToleranceMib * 1_048_576), rssFraction: rssTolerancePercent / 100, series: seriesTolerance),
            tally: Tally(names: nameCount))
        let outcome: Result<Bool, any Error>
        do {
            outcome = .success(try await drive(soak, nameCount: nameCount))
        } catch {
            outcome = .failure(error)
        }
        try? await http.shutdown()
        try? await client.shutdown()
        switch outcome {
        case .success(true): return
        case .success(false): throw ExitCode(1)
        case .failure(let error):
            say("soak: FAILED: \(error)")
            throw ExitCode(2)
        }
    }

    /// Runs the soak and prints its figures; true when it passed.
    func drive(_ soak: Soak, nameCount: Int) async throws -> Bool {
        let namespaces = soak.client.resources(Namespace.self)
        if try await namespaces.getIfExists(namespace) == nil {
            _ = try await namespaces.create(Namespace(metadata: ObjectMeta(name: namespace)))
        }
        let rate = Double(pools) / (minutes * 60)
        say("soak: \(pools) pools over \(minutes) min (\(String(format: "%.2f", rate))/s), lifetime \(lifetime) s, \(nameCount) names, "
              + "namespace \(namespace), operator pid \(operatorPid)")
        say("soak: modes per 10 pools: 4 disabled (0 replicas), 4 operator-prefill (prefill from 0), 2 operator-both (decode at 1: one Pending pod)")

        // The cold baseline: the operator up, no pool.
        if try await soak.poll(60, { () -> Bool? in (try? await soak.sample()) != nil ? true : nil }) == nil {
            _ = try await soak.sample()  // throws what is wrong
        }
        let cold = try await soak.settle("cold baseline")
        say("soak: baseline (no pool, settled): RSS \(mib(cold.rss)) (anon \(mib(cold.anonymous)), file \(mib(cold.file))), series \(cold.series) (with a pool label \(cold.poolSeries))")

        let peak = Peak(cold)
        let sampling = Task {
            var minute = 1
            var failures = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(sampleEvery))
                guard let reading = try? await soak.sample().0 else {
                    failures += 1
                    if ProcessMemory.read(pid: operatorPid) == nil {
                        say("soak: the operator (pid \(operatorPid)) has exited")
                        return
                    }
                    continue
                }
                peak.note(reading)
                if reading.at.timeIntervalSince(soak.started) >= Double(minute) * 60 {
                    let counts = soak.tally.snapshot
                    let reuses = soak.tally.names.withLock { $0.reuses }
                    say("soak: minute \(minute): created \(counts.created), deleted \(counts.deleted), alive \(counts.created - counts.deleted), "
                          + "re-used names \(reuses); RSS \(mib(reading.rss)) (anon \(mib(reading.anonymous)), file \(mib(reading.file))); series \(reading.series) (pool \(reading.poolSeries)); "
                          + "API errors \(counts.apiErrors), scrape failures \(failures)")
                    minute += 1
                }
            }
        }
        defer { sampling.cancel() }

        // The warm-up runs until as many pools live at once as later (three lifetimes at the
        // rate), and at least --warmup-fraction of them; at most half.
        let warmupCount = warmupFraction == 0 ? 0 : min(pools / 2, max(Int(Double(pools) * warmupFraction), Int(rate * lifetime * 3)))
        var warm = cold
        var origin = Date()
        if warmupCount > 0 {
            try await soak.run(0..<warmupCount, origin: origin)
            warm = try await soak.settle("warm baseline")
            say("soak: warm baseline (after \(warmupCount) pools, all gone, settled): RSS \(mib(warm.rss)) (anon \(mib(warm.anonymous)), file \(mib(warm.file))), series \(warm.series) (with a pool label \(warm.poolSeries))")
            origin = Date()
        }
        let (_, warmLines) = try await soak.sample()
        try await soak.run(warmupCount..<pools, origin: origin)
        let final = try await soak.settle("final")
        let (_, finalLines) = try await soak.sample()
        sampling.cancel()
        let highWater = ProcessMemory.read(pid: operatorPid)?.highWater ?? 0
        let top = peak.top

        let counts = soak.tally.snapshot
        let (reuses, reusedNames) = soak.tally.names.withLock { ($0.reuses, $0.namesReused) }
        let elapsed = Date().timeIntervalSince(soak.started)
        say("")
        say(String(format: "soak: done in %.1f min", elapsed / 60))
        say("soak: pools created \(counts.created), deleted \(counts.deleted); names \(nameCount), \(reusedNames) of them re-used, \(reuses) creations under a re-used name; \(counts.longNames) pools with a name over 63 characters")
        say("soak: modes: " + SoakMode.allCases.map { "\($0.rawValue) \(counts.modes[$0] ?? 0)" }.joined(separator: ", "))
        say("soak: children waited for \(counts.childrenWaited) pools (\(counts.childrenTimeouts) timed out); scaling histories made \(counts.historiesMade) (\(counts.historyTimeouts) timed out)")
        for line in counts.historyTimeoutSamples { say("soak:   no history: \(line)") }
        say("soak: re-created after a pool with history, checked \(counts.freshChecked) (\(counts.freshTimeouts) not reconciled in time): \(counts.inherited.count) inherited state")
        for line in counts.inherited.prefix(10) { say("soak:   inherited: \(line)") }
        say("soak: API errors retried \(counts.apiErrors)\(counts.lastError.map { " (last: \($0))" } ?? ""); waits for a free name \(counts.nameWaits)")
        say("soak: RSS: baseline \(mib(cold.rss)), warm baseline \(mib(warm.rss)), peak sampled \(mib(top.rss)) (VmHWM \(mib(highWater))), final \(mib(final.rss)) (anon \(mib(warm.anonymous)) → \(mib(final.anonymous)), file \(mib(warm.file)) → \(mib(final.file)) from the warm baseline); limit \(mib(soak.tolerance.allowedRSS(warm: warm.rss))) (warm + max(\(rssToleranceMib) MiB, \(rssTolerancePercent) %))")
        say("soak: series: baseline \(cold.series), warm baseline \(warm.series), peak \(top.series), final \(final.series) (tolerance \(seriesTolerance)); with a pool label: peak \(top.poolSeries), final \(final.poolSeries)")
        let before = Set(warmLines.map(SeriesCount.identity))
        let added = Set(finalLines.map(SeriesCount.identity)).subtracting(before).sorted()
        let removed = before.subtracting(finalLines.map(SeriesCount.identity)).sorted()
        if !added.isEmpty { say("soak: series new since the warm baseline (\(added.count)): " + added.prefix(12).joined(separator: ", ")) }
        if !removed.isEmpty { say("soak: series gone since the warm baseline (\(removed.count)): " + removed.prefix(12).joined(separator: ", ")) }

        var failures = soak.tolerance.failures(warm: warm, final: final)
        if counts.created != pools || counts.deleted != counts.created {
            failures.append("\(counts.created) of \(pools) pools created, \(counts.deleted) deleted")
        }
        if !counts.inherited.isEmpty { failures.append("\(counts.inherited.count) re-created pools inherited their predecessor's state") }
        if counts.freshTimeouts > 0 { failures.append("\(counts.freshTimeouts) re-created pools were not reconciled within 90 s") }
        if counts.childrenTimeouts > 0 { failures.append("\(counts.childrenTimeouts) pools got no children within 90 s") }
        if counts.historyTimeouts > 0 { failures.append("\(counts.historyTimeouts) pools got no scaling history within 90 s") }
        if counts.freshChecked == 0, pools >= 100 { failures.append("no re-created pool was checked (too few pools or names)") }
        if failures.isEmpty {
            say("soak: PASS")
            return true
        }
        for failure in failures { say("soak: FAIL: \(failure)") }
        return false
    }
}
