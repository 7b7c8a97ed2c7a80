import Autoscaling
import AsyncHTTPClient
import Foundation
import KubeClient
import KubeCore
import Logging
import NIOCore
import Rendering
import Synchronization
import TandemAPI

/// The highest readings so far.
final class Peak: Sendable {
    let value: Mutex<(rss: Int, series: Int, poolSeries: Int)>
    init(_ sample: Sample) { value = Mutex((sample.rss, sample.series, sample.poolSeries)) }
    func note(_ sample: Sample) {
        value.withLock {
            $0.rss = max($0.rss, sample.rss)
            $0.series = max($0.series, sample.series)
            $0.poolSeries = max($0.poolSeries, sample.poolSeries)
        }
    }
    var top: (rss: Int, series: Int, poolSeries: Int) { value.withLock { $0 } }
}

/// What the run has done so far, shared by the pools' tasks and the sampler.
final class Tally: Sendable {
    struct Counts: Sendable {
        var created = 0
        var deleted = 0
        var modes: [SoakMode: Int] = [:]
        var longNames = 0
        var childrenWaited = 0
        var childrenTimeouts = 0
        var historiesMade = 0
        var historyTimeouts = 0
        var historyTimeoutSamples: [String] = []
        var freshChecked = 0
        var freshTimeouts = 0
        var inherited: [String] = []
        var apiErrors = 0
        var lastError: String?
        var nameWaits = 0
    }

    let counts = Mutex(Counts())
    /// Names whose last pool carried a scaling history (and an `up` decisions series).
    let hadHistory = Mutex<Set<String>>([])
    /// When each name's last pool was seen gone.
    let goneAt = Mutex<[String: Date]>([:])
    let names: Mutex<NamePool>

    init(names: Int) {
        self.names = Mutex(NamePool(count: names))
    }

    func update(_ body: (inout Counts) -> Void) { counts.withLock { body(&$0) } }
    var snapshot: Counts { counts.withLock { $0 } }
}

/// The soak itself: pools created at a steady rate under re-used names, checked, deleted; the
/// operator sampled throughout.
struct Soak: Sendable {
    let client: KubernetesClient
    let http: HTTPClient
    let namespace: String
    let metricsURL: String
    let operatorPID: Int32
    let pools: Int
    let minutes: Double
    let lifetime: Double
    let childrenEvery: Int
    let historyEvery: Int
    let warmupFraction: Double
    let sampleEvery: Double
    let settleSeconds: Double
    let settleTimeout: Double
    let tolerance: Tolerance
    let tally: Tally
    let started = Date()

    /// A reading of the operator; throws when the process is gone or `/metrics` does not answer.
    func sample() async throws -> (Sample, [PrometheusText.Sample]) {
        guard let memory = ProcessMemory.read(pid: operatorPID) else {
            throw SoakError("the operator (pid \(operatorPID)) is gone: /proc/\(operatorPID)/status cannot be read; see its log")
        }
        let text = try await scrape()
        let lines = try SeriesCount.samples(text)
        return (Sample(at: Date(), rss: memory.rss, anonymous: memory.anonymous, file: memory.file, series: lines.count,
                       poolSeries: SeriesCount.poolLabelled(lines)), lines)
    }

    func scrape() async throws -> String {
        var request = HTTPClientRequest(url: metricsURL)
        request.method = .GET
        let response = try await http.execute(request, timeout: .seconds(10))
        guard response.status == .ok else {
            throw SoakError("GET \(metricsURL) answered \(response.status): is the operator serving plain HTTP (--metrics-secure=false)?")
        }
        let body = try await response.body.collect(upTo: 64 << 20)
        return String(buffer: body)
    }

    /// Retries an API call a few times on errors a busy control plane may give; counts them.
    func api<T: Sendable>(_ what: String, _ call: @Sendable () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await call()
            } catch {
                attempt += 1
                tally.update {
                    $0.apiErrors += 1
                    $0.lastError = "\(what): \(error)"
                }
                if attempt >= 5 { throw SoakError("\(what) failed \(attempt) times; last: \(error)") }
                try await Task.sleep(for: .seconds(Double(attempt)))
            }
        }
    }

    /// Polls `check` every half second until it returns a value or `timeout` seconds pass.
    func poll<T: Sendable>(_ timeout: Double, _ check: @Sendable () async throws -> T?) async throws -> T? {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let value = try await check() { return value }
            try await Task.sleep(for: .milliseconds(500))
        }
        return nil
    }

    var poolsAPI: ResourceClient<InferencePool> { client.resources(InferencePool.self, namespace: namespace) }

    /// One pool's life: created, checked (a sample of them), kept `lifetime` seconds, deleted,
    /// its name freed once the pool is gone.
    func live(index: Int, name: String, reused: Bool) async throws {
        let mode = SoakMode.of(index: index)
        let born = Date()
        let created = try await api("create pool \(namespace)/\(name)") {
            try await poolsAPI.create(InferencePool(metadata: ObjectMeta(name: name, namespace: namespace), spec: mode.spec))
        }
        let uid = created.metadata.uid ?? ""
        let predecessorHadHistory = tally.hadHistory.withLock { $0.remove(name) != nil }
        let predecessorGone = tally.goneAt.withLock { $0[name] }
        tally.update {
            $0.created += 1
            $0.modes[mode, default: 0] += 1
            if name.count > 63 { $0.longNames += 1 }
        }

        // A name re-used after a pool that had a scaling history: the new pool starts empty.
        if reused, predecessorHadHistory {
            try await checkFresh(name: name, uid: uid, mode: mode, predecessorGone: predecessorGone)
        }
        if index % childrenEvery == 0 {
            try await waitForChildren(name: name, uid: uid)
        }
        if mode == .operatorPrefill, (index / 10) % historyEvery == 0 {
            try await makeHistory(name: name, uid: uid)
        }

        let jitter = 0.8 + 0.4 * Double((index &* 2_654_435_761) % 1000) / 1000
        let rest = lifetime * jitter - Date().timeIntervalSince(born)
        if rest > 0 { try await Task.sleep(for: .seconds(rest)) }

        _ = try await api("delete pool \(namespace)/\(name)") {
            do {
                return try await poolsAPI.delete(name, options: DeleteOptions(preconditions: .init(uid: uid)))
            } catch let error as APIError where error.reason == .notFound {
                return nil
            }
        }
        let gone = try await poll(120) { () -> Bool? in
            let current = try await api("get pool \(namespace)/\(name)", { try await poolsAPI.getIfExists(name) })
            return current?.metadata.uid == uid ? nil : true
        }
        guard gone != nil else { throw SoakError("pool \(namespace)/\(name) (uid \(uid)) still exists 120 s after its deletion") }
        tally.update { $0.deleted += 1 }
        tally.goneAt.withLock { $0[name] = Date() }
        tally.names.withLock { $0.give(name) }
    }

    /// Waits for the pool's two Deployments, owned by this pool (uid).
    func waitForChildren(name: String, uid: String) async throws {
        let deployments = client.resources(Deployment.self, namespace: namespace)
        let found = try await poll(90) { () -> Bool? in
            for tier in TierName.allCases {
                let child = try await api("get deployment") { try await deployments.getIfExists(ChildNames.tier(name, tier)) }
                guard child?.metadata.ownerReferences?.contains(where: { $0.uid == uid }) == true else { return nil }
            }
            return true
        }
        tally.update {
            $0.childrenWaited += 1
            if found == nil { $0.childrenTimeouts += 1 }
        }
    }

    /// Raises prefill's `minReplicas` to 1: the autoscaler scales 0 → 1 and records it in the
    /// status history (and the `direction="up"` decisions series). Waits until the status shows it.
    func makeHistory(name: String, uid: String) async throws {
        // The Deployment must be born at 0 (minReplicas 0): patched before the first reconcile,
        // it would be created at 1 and nothing would scale.
        guard try await reconciled(name: name, uid: uid, autoscaled: true) != nil else {
            tally.update { $0.historyTimeouts += 1 }
            return
        }
        _ = try await api("patch pool \(namespace)/\(name)") {
            try await poolsAPI.patch(name, .merge(["spec": ["prefillConfig": ["autoscaling": ["minReplicas": 1]]]]))
        }
        let recorded = try await poll(90) { () -> Bool? in
            let current = try await api("get pool", { try await poolsAPI.getIfExists(name) })
            guard let pool = current, pool.metadata.uid == uid else { return nil }
            return pool.status?.scalingHistory?.isEmpty == false ? true : nil
        }
        if recorded != nil {
            tally.hadHistory.withLock { _ = $0.insert(name) }
            tally.update { $0.historiesMade += 1 }
        } else {
            // What the pool says when nothing scaled: the first few are printed.
            let pool = try? await poolsAPI.getIfExists(name)
            let active = pool?.status?.conditions?[type: PoolCondition.scalingActive]
            let why = "\(name): generation \(pool?.metadata.generation ?? 0), observed \(pool?.status?.observedGeneration ?? 0), "
                + "prefill desired \(pool?.status?.prefill?.desiredReplicas.map(String.init) ?? "-"), "
                + "ScalingActive \(active.map { "\($0.status.rawValue) \($0.reason): \($0.message)" } ?? "absent")"
            tally.update {
                $0.historyTimeouts += 1
                if $0.historyTimeoutSamples.count < 5 { $0.historyTimeoutSamples.append(why) }
            }
        }
    }

    /// The pool (uid) once reconciled (and, autoscaled, once the autoscaler decided on it) has no
    /// scaling history, no last scale time, and `/metrics` has no `up` decision of its name.
    func checkFresh(name: String, uid: String, mode: SoakMode, predecessorGone: Date?) async throws {
        let created = Date()
        guard let pool = try await reconciled(name: name, uid: uid, autoscaled: mode.autoscaled) else {
            tally.update { $0.freshTimeouts += 1 }
            return
        }
        var inherited: [String] = []
        if let history = pool.status?.scalingHistory, !history.isEmpty {
            inherited.append("status.scalingHistory has \(history.count) record(s), first: \(history[0].tier.rawValue) \(history[0].from)→\(history[0].to)")
        }
        for tier in TierName.allCases {
            if let time = pool.status?[tier]?.lastScaleTime { inherited.append("status.\(tier.rawValue).lastScaleTime \(time)") }
        }
        let samples = try SeriesCount.samples(try await scrape())
        let up = samples.filter { SeriesCount.isSeries($0, namespace: namespace, pool: name, label: ("direction", "up")) }
        if let first = up.first { inherited.append("/metrics: \(SeriesCount.identity(first))") }
        if !inherited.isEmpty {
            let gap = predecessorGone.map { String(format: "%.1f s", created.timeIntervalSince($0)) } ?? "?"
            let checked = String(format: "%.1f s", Date().timeIntervalSince(created))
            inherited.append("(created \(gap) after its predecessor was gone, checked \(checked) after creation; mode \(mode.rawValue))")
        }
        tally.update {
            $0.freshChecked += 1
            if !inherited.isEmpty { $0.inherited.append("\(name): " + inherited.joined(separator: "; ")) }
        }
    }

    /// The pool (uid) once its generation is reconciled and, `autoscaled`, the autoscaler has
    /// decided on it (a `ScalingActive` condition); nil after 90 s.
    func reconciled(name: String, uid: String, autoscaled: Bool) async throws -> InferencePool? {
        try await poll(90) { () -> InferencePool? in
            let current = try await api("get pool", { try await poolsAPI.getIfExists(name) })
            guard let pool = current, pool.metadata.uid == uid,
                  let status = pool.status, status.observedGeneration == pool.metadata.generation
            else { return nil }
            if autoscaled, status.conditions?[type: PoolCondition.scalingActive] == nil { return nil }
            return pool
        }
    }

    /// Every pool gone, every child gone, no pool series left; then readings until they hold
    /// still (three in a row equal in series, at least `settleSeconds`). Returns the last.
    func settle(_ what: String) async throws -> Sample {
        let start = Date()
        let deployments = client.resources(Deployment.self, namespace: namespace)
        let emptied = try await poll(settleTimeout) { () -> Bool? in
            let pools = try await api("list pools") { try await poolsAPI.list() }
            let children = try await api("list deployments") { try await deployments.list() }
            let (reading, _) = try await sample()
            return pools.items.isEmpty && children.items.isEmpty && reading.poolSeries == 0 ? true : nil
        }
        if emptied == nil {
            say("soak: \(what): pools, Deployments or pool series remain after \(Int(settleTimeout)) s; measuring anyway")
        }
        var last: [Sample] = []
        while true {
            let (reading, _) = try await sample()
            last.append(reading)
            if last.count > 3 { last.removeFirst() }
            let still = last.count == 3 && Set(last.map(\.series)).count == 1
            if still, Date().timeIntervalSince(start) >= settleSeconds { break }
            if Date().timeIntervalSince(start) > settleTimeout + settleSeconds { break }
            try await Task.sleep(for: .seconds(sampleEvery))
        }
        return last.last!
    }

    /// Creates `range` of the pools at the run's rate, from `origin` on; returns when all are gone.
    func run(_ range: Range<Int>, origin: Date) async throws {
        let interval = minutes * 60 / Double(pools)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in range {
                let due = origin.addingTimeInterval(Double(index - range.lowerBound) * interval)
                let wait = due.timeIntervalSinceNow
                if wait > 0 { try await Task.sleep(for: .seconds(wait)) }
                var taken: String?
                while taken == nil {
                    taken = tally.names.withLock { $0.take() }
                    if taken == nil {
                        tally.update { $0.nameWaits += 1 }
                        try await Task.sleep(for: .milliseconds(200))
                    }
                }
                let chosen = taken ?? ""
                let reused = (tally.names.withLock { $0.uses[chosen] } ?? 0) > 1
                group.addTask { try await live(index: index, name: chosen, reused: reused) }
            }
            try await group.waitForAll()
        }
    }
}

struct SoakError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
