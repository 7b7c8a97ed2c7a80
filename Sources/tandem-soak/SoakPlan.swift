import Autoscaling
import Foundation
import KubeCore
import TandemAPI

/// How one incarnation of a pool is set up. The mix covers the modes that create per-pool
/// autoscaler state (a metrics sampler task, decisions' memory, metric series) and the one that
/// creates none.
///
/// Replicas are 0 wherever the API allows it (the soak cluster has no nodes: a replica is a
/// Pending pod, and thousands of them would load the 2-core control plane's scheduler and
/// garbage collector, not the operator). Decode in `Operator` mode keeps at least one replica
/// (``AutoscalingSpec`` floor), so ``operatorBoth`` pools bring one Pending pod each.
enum SoakMode: String, CaseIterable, Sendable {
    /// Both tiers `Disabled`, 0 replicas: children only, no autoscaler state.
    case disabled
    /// Prefill in `Operator` mode from 0 (`minReplicas: 0`), decode `Disabled` at 0: a sampler
    /// task, decisions' memory and `tandem_*` series, no pod.
    case operatorPrefill = "operator-prefill"
    /// Both tiers in `Operator` mode: prefill from 0, decode at 1 (one Pending pod).
    case operatorBoth = "operator-both"

    /// The mode of the pool created `index`-th: 4 in 10 disabled, 4 prefill-only, 2 both.
    static func of(index: Int) -> SoakMode {
        switch index % 10 {
        case 0, 3, 6, 9: .disabled
        case 1, 4, 5, 7: .operatorPrefill
        default: .operatorBoth
        }
    }

    /// Whether a tier of this mode is in `Operator` mode (the autoscaler writes `ScalingActive`).
    var autoscaled: Bool { self != .disabled }

    /// The spec of a pool of this mode. The accelerator is named, so planning needs no GPU node.
    var spec: InferencePoolSpec {
        let model = "meta-llama/Llama-3.1-8B-Instruct"
        switch self {
        case .disabled:
            return InferencePoolSpec(
                model: model, accelerator: "nvidia-h200",
                prefillConfig: TierConfig(replicas: 0, autoscaling: AutoscalingSpec(mode: .disabled)),
                decodeConfig: TierConfig(replicas: 0, autoscaling: AutoscalingSpec(mode: .disabled)))
        case .operatorPrefill:
            return InferencePoolSpec(
                model: model, accelerator: "nvidia-h200",
                prefillConfig: TierConfig(autoscaling: AutoscalingSpec(mode: .operator, minReplicas: 0, maxReplicas: 2)),
                decodeConfig: TierConfig(replicas: 0, autoscaling: AutoscalingSpec(mode: .disabled)))
        case .operatorBoth:
            return InferencePoolSpec(
                model: model, accelerator: "nvidia-h200",
                prefillConfig: TierConfig(autoscaling: AutoscalingSpec(mode: .operator, minReplicas: 0, maxReplicas: 2)),
                decodeConfig: TierConfig(autoscaling: AutoscalingSpec(mode: .operator, minReplicas: 1, maxReplicas: 1)))
        }
    }
}

/// The bounded set of pool names, handed out least recently freed first, so that every name is
/// deleted and later created again (after the longest gap the set allows).
///
/// One name in ten is longer than 63 characters, so that the hashed pool label (issue 14,
/// defect 9) is part of the soak.
struct NamePool: Sendable {
    private(set) var free: [String]
    private var head = 0
    /// How many times each name was handed out.
    private(set) var uses: [String: Int] = [:]

    init(count: Int) {
        free = (0..<count).map(Self.name)
    }

    /// The `index`-th name: `soak-<index>`, or for one in ten a 70-odd character name.
    static func name(_ index: Int) -> String {
        let short = "soak-\(index)"
        guard index % 10 == 7 else { return short }
        return short + "-" + String(repeating: "long", count: 16)
    }

    /// The next free name, or nil when every name is in use.
    mutating func take() -> String? {
        guard head < free.count else { return nil }
        let name = free[head]
        head += 1
        if head > 1024, head * 2 > free.count {
            free.removeFirst(head)
            head = 0
        }
        uses[name, default: 0] += 1
        return name
    }

    /// Returns a name whose pool is gone.
    mutating func give(_ name: String) {
        free.append(name)
    }

    /// Creations under a name already used before.
    var reuses: Int { uses.values.reduce(0) { $0 + max(0, $1 - 1) } }
    /// Names handed out more than once.
    var namesReused: Int { uses.values.filter { $0 > 1 }.count }
}

/// The default size of the name set: twice the pools alive at once (so a name waits about one
/// lifetime between its deletion and its next creation), at least 20, at most the pool count.
func defaultNameCount(pools: Int, minutes: Double, lifetime: Double) -> Int {
    let rate = Double(pools) / max(1, minutes * 60)
    let alive = Int((rate * lifetime).rounded(.up))
    return max(1, min(pools, max(20, 2 * alive + 10)))
}

/// Counting series in the operator's `/metrics`, read by the autoscaler's own exposition parser.
enum SeriesCount {
    /// The samples (one per series); a malformed line is an error of the operator's exposition.
    static func samples(_ text: String) throws -> [PrometheusText.Sample] {
        do {
            return try PrometheusText.parse(text)
        } catch {
            throw SoakError("the operator's /metrics does not parse: \(error)")
        }
    }

    /// The series identity: name and labels (sorted by key), without the value.
    static func identity(_ sample: PrometheusText.Sample) -> String {
        guard !sample.labels.isEmpty else { return sample.name }
        let labels = sample.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }
        return sample.name + "{" + labels.joined(separator: ",") + "}"
    }

    /// Samples that carry a `pool` label.
    static func poolLabelled(_ samples: [PrometheusText.Sample]) -> Int {
        samples.filter { $0.labels["pool"] != nil }.count
    }

    /// Whether a sample is a series of pool `name` in namespace `namespace` with `label` set.
    static func isSeries(_ sample: PrometheusText.Sample, namespace: String, pool name: String, label: (key: String, value: String)) -> Bool {
        sample.labels["pool"] == name && sample.labels["namespace"] == namespace && sample.labels[label.key] == label.value
    }
}

/// `VmRSS` and `VmHWM` of a process, from `/proc/<pid>/status`, in bytes.
struct ProcessMemory: Sendable {
    var rss: Int
    var highWater: Int
    /// The anonymous part of ``rss`` (the heap, stacks) and the file-backed part (the binary's
    /// pages touched so far: a debug build's code alone is over 100 MiB); 0 when not reported.
    var anonymous = 0
    var file = 0

    /// Parses the `status` file's text; nil when a field is missing.
    static func parse(_ status: String) -> ProcessMemory? {
        func kilobytes(_ field: String) -> Int? {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }) else { return nil }
            // "VmRSS:\t   12345 kB"
            let digits = line.dropFirst(field.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first
            return digits.flatMap { Int($0) }.map { $0 * 1024 }
        }
        guard let rss = kilobytes("VmRSS"), let hwm = kilobytes("VmHWM") else { return nil }
        return ProcessMemory(rss: rss, highWater: hwm, anonymous: kilobytes("RssAnon") ?? 0, file: kilobytes("RssFile") ?? 0)
    }

    static func read(pid: Int32) -> ProcessMemory? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        return parse(text)
    }
}

/// One reading of the operator: memory and `/metrics`.
struct Sample: Sendable {
    var at: Date
    var rss: Int
    var anonymous = 0
    var file = 0
    var series: Int
    var poolSeries: Int
}

/// What "returns to baseline" means, and the verdict.
///
/// The reference is the *warm* baseline: the operator's state after a first tenth of the pools
/// was created and deleted, all gone and settled. Before it, the first pools fill caches sized
/// once (the informers' stores and indexes, the HTTP/2 connection's buffers, NIO's allocators,
/// the per-controller metric families, response codes seen for the first time), and glibc's
/// malloc keeps freed memory in its arenas rather than returning it to the kernel (a high-water
/// mark, not a leak). A leak grows with the pools created after the warm baseline, so the
/// final reading is held to it.
struct Tolerance: Sendable {
    /// RSS may end this many bytes above the warm baseline…
    var rssBytes: Int
    /// …or this fraction of it, whichever is larger.
    var rssFraction: Double
    /// Series may end this many above the warm baseline (label values of a bounded set seen
    /// for the first time, e.g. a response code); series with a `pool` label: none may remain.
    var series: Int

    func allowedRSS(warm: Int) -> Int { warm + max(rssBytes, Int(Double(warm) * rssFraction)) }

    /// The reasons the run failed, empty when it passed.
    func failures(warm: Sample, final: Sample) -> [String] {
        var reasons: [String] = []
        if final.rss > allowedRSS(warm: warm.rss) {
            reasons.append("RSS ended at \(mib(final.rss)), above the warm baseline \(mib(warm.rss)) + tolerance (limit \(mib(allowedRSS(warm: warm.rss))))")
        }
        if final.series > warm.series + series {
            reasons.append("/metrics ended with \(final.series) series, above the warm baseline \(warm.series) + \(series)")
        }
        if final.poolSeries > 0 {
            reasons.append("/metrics still has \(final.poolSeries) series with a pool label after every pool was deleted")
        }
        return reasons
    }
}

func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

/// Writes a line to standard output at once (print's buffer would hold the per-minute lines
/// back until exit when the output is a file or a pipe).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
