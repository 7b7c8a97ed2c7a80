import Foundation
import KubeCore

/// One model-server pod the router may send a request to, with what its last scrape said.
public struct Endpoint: Sendable, Hashable {
    /// A stable name for logs and for the prefix index (`namespace/pod`).
    public var name: String
    /// `ip:port` of the pod's target port.
    public var address: String
    /// The pod's `llm-d.ai/role` label, `nil` when it has none.
    public var role: String?
    /// `vllm:num_requests_waiting` at the last scrape.
    public var waitingRequests: Double
    /// `vllm:kv_cache_usage_perc` at the last scrape, 0–1.
    public var kvCacheUsage: Double

    public init(name: String, address: String, role: String?, waitingRequests: Double = 0, kvCacheUsage: Double = 0) {
        self.name = name
        self.address = address
        self.role = role
        self.waitingRequests = waitingRequests
        self.kvCacheUsage = kvCacheUsage
    }
}

/// Where one request goes: the decode endpoint always, the prefill endpoint when the prefill
/// profile ran.
public struct SchedulingDecision: Sendable, Hashable {
    public var decode: Endpoint
    public var prefill: Endpoint?
    /// The prompt's tokens the chosen decode endpoint does not hold (what the decider compared).
    public var uncachedTokens: Int
    /// Why, in a line for logs.
    public var reason: String

    /// Whether the prompt is prefilled on a prefill endpoint.
    public var isDisaggregated: Bool { prefill != nil }
}

/// Why a request cannot be scheduled, or a config cannot be run.
public struct EndpointPickerError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// llm-d's router scheduling, as a value: runs an ``EndpointPickerConfig`` (the P/D profile
/// handler, its prefix-based decider, the role filters, the scorers and the max-score picker)
/// over candidate endpoints for one prompt at a time, and keeps the prefix index the
/// prefix-cache scorer learns from its own decisions.
///
/// The order is llm-d's `disagg-profile-handler`'s: the `decode` profile picks the decode
/// endpoint; the decider then compares the prompt's tokens that endpoint does not hold (per the
/// prefix index; every token when the config has no prefix-cache scorer) with its
/// `nonCachedTokens` (0: never); when they reach it, the `prefill` profile picks a prefill
/// endpoint. With no prefill candidate the request goes to decode alone, as llm-d falls back.
public struct EndpointPicker: Sendable {
    public let config: EndpointPickerConfig
    /// The prefix-cache scorer's memory; `nil` when the config has no prefix-cache scorer.
    public private(set) var prefixIndex: PrefixIndex?
    /// The decider's `nonCachedTokens`; `nil` when no decider is configured (never disaggregate).
    public let threshold: Int?
    let decodeProfile: Profile
    let prefillProfile: Profile?


    enum Filter: Sendable { case prefill, decode }
    enum Scorer: Sendable { case prefixCache, queue, kvCacheUtilization }

    /// A profile compiled from the config: its filters, weighted scorers and picker.
    struct Profile: Sendable {
        var name: String
        var filters: [Filter]
        var scorers: [(scorer: Scorer, name: String, weight: Double)]
    }

    /// Compiles `config` as the router would load it.
    ///
    /// - Throws: ``EndpointPickerError`` listing the config's ``EndpointPickerConfig/problems()``,
    ///   a plugin type the router does not implement, or a missing `decode` profile.
    public init(config: EndpointPickerConfig) throws(EndpointPickerError) {
        let problems = config.problems()
        guard problems.isEmpty else {
            throw EndpointPickerError("the EndpointPickerConfig is refused: \(problems.joined(separator: "; "))")
        }
        self.config = config
        let known = PluginType.filters.union(PluginType.scorers).union(PluginType.pickers)
            .union(PluginType.profileHandlers).union(PluginType.deciders)
        for plugin in config.plugins where !known.contains(plugin.type) {
            throw EndpointPickerError("plugin \(plugin.reference) has type \(plugin.type), which this router does not implement (known: \(known.sorted().joined(separator: ", ")))")
        }
        func compile(_ profile: EndpointPickerConfig.SchedulingProfile) -> Profile {
            var compiled = Profile(name: profile.name, filters: [], scorers: [])
            for reference in profile.plugins {
                guard let plugin = config.plugin(reference.pluginRef) else { continue }  // problems() caught it
                switch plugin.type {
                case PluginType.prefillFilter: compiled.filters.append(.prefill)
                case PluginType.decodeFilter: compiled.filters.append(.decode)
                // A scorer without a weight counts once, as GIE's config loader defaults it.
                case PluginType.prefixCacheScorer: compiled.scorers.append((.prefixCache, plugin.reference, reference.weight ?? 1))
                case PluginType.queueScorer: compiled.scorers.append((.queue, plugin.reference, reference.weight ?? 1))
                case PluginType.kvCacheUtilizationScorer:
                    compiled.scorers.append((.kvCacheUtilization, plugin.reference, reference.weight ?? 1))
                default: break  // the picker: max-score is the only one
                }
            }
            return compiled
        }
        let hasHandler = config.plugins.contains { $0.type == PluginType.disaggProfileHandler }
        if hasHandler {
            guard let decode = config.profile(EndpointPickerConfig.decodeProfile) else {
                throw EndpointPickerError("the config has no \(EndpointPickerConfig.decodeProfile) profile")
            }
            decodeProfile = compile(decode)
            prefillProfile = config.profile(EndpointPickerConfig.prefillProfile).map(compile)
            threshold = config.disaggregationThreshold
        } else {
            // No P/D handler: llm-d's single-profile handler runs the one profile there is.
            guard config.schedulingProfiles.count == 1, let only = config.schedulingProfiles.first else {
                throw EndpointPickerError("without a \(PluginType.disaggProfileHandler) the router runs exactly one profile; the config has \(config.schedulingProfiles.count)")
            }
            decodeProfile = compile(only)
            prefillProfile = nil
            threshold = nil
        }
        if let scorer = config.plugins.first(where: { $0.type == PluginType.prefixCacheScorer }) {
            let parameters = scorer.parameters
            prefixIndex = PrefixIndex(
                blockSize: Int(parameters?["blockSize"]?.intValue ?? Int64(EndpointPickerConfig.prefixBlockSize)),
                maxBlocksToMatch: Int(parameters?["maxPrefixBlocksToMatch"]?.intValue ?? Int64(EndpointPickerConfig.maxPrefixBlocksToMatch)),
                capacityPerEndpoint: Int(parameters?["lruCapacityPerServer"]?.intValue ?? Int64(EndpointPickerConfig.lruCapacityPerServer)))
        } else {
            prefixIndex = nil
        }
    }

    /// Schedules one request and records its blocks for the endpoints picked.
    ///
    /// - Parameters:
    ///   - prompt: the prompt's tokens.
    ///   - endpoints: every ready endpoint of the pool (the profiles' filters choose among them).
    ///   - random: breaks ties between equal best scores.
    /// - Throws: ``EndpointPickerError`` when no endpoint passes the decode profile's filters.
    public mutating func schedule(
        prompt: [Substring], endpoints: [Endpoint], random: inout some RandomNumberGenerator
    ) throws(EndpointPickerError) -> SchedulingDecision {
        let hashes = prefixIndex?.blockHashes(prompt) ?? []
        guard let (decode, decodeScore) = pick(decodeProfile, endpoints, hashes, &random) else {
            let roles = endpoints.map { "\($0.name)=\($0.role ?? "unlabelled")" }.joined(separator: ", ")
            throw EndpointPickerError("no endpoint passes the \(decodeProfile.name) profile's filters (endpoints: \(roles.isEmpty ? "none" : roles)); the pool needs a ready decode pod")
        }
        let cached = (prefixIndex?.matchedBlocks(hashes, endpoint: decode.name) ?? 0) * (prefixIndex?.blockSize ?? 0)
        let uncached = max(0, prompt.count - cached)
        var decision = SchedulingDecision(decode: decode, prefill: nil, uncachedTokens: uncached, reason: "")
        let decodeText = "decode \(decode.name) (score \(Self.format(decodeScore)))"
        if let threshold, threshold > 0, uncached >= threshold, let prefillProfile {
            if let (prefill, prefillScore) = pick(prefillProfile, endpoints, hashes, &random) {
                decision.prefill = prefill
                decision.reason = "\(uncached) uncached tokens ≥ \(threshold): prefill \(prefill.name) (score \(Self.format(prefillScore))), \(decodeText)"
            } else {
                decision.reason = "\(uncached) uncached tokens ≥ \(threshold) but no endpoint passes the \(prefillProfile.name) profile's filters: \(decodeText) prefills"
            }
        } else if let threshold, threshold > 0 {
            decision.reason = "\(uncached) uncached tokens < \(threshold): \(decodeText)"
        } else {
            decision.reason = "disaggregation off: \(decodeText)"
        }
        if prefixIndex != nil {
            prefixIndex?.record(hashes, endpoint: decode.name)
            if let prefill = decision.prefill { prefixIndex?.record(hashes, endpoint: prefill.name) }
        }
        return decision
    }

    /// Forgets the prefix memory of endpoints not in `names` (pods that left the pool).
    public mutating func retainPrefixes(of names: Set<String>) {
        prefixIndex?.retain(names)
    }

    /// Scores of each candidate that passes `profile`'s filters, by scorer, weighted and summed.
    func scores(_ profile: Profile, _ endpoints: [Endpoint], _ hashes: [UInt64]) -> [(Endpoint, Double)] {
        let candidates = endpoints.filter { endpoint in profile.filters.allSatisfy { Self.passes($0, endpoint) } }
        guard !candidates.isEmpty else { return [] }
        var totals = [Double](repeating: 0, count: candidates.count)
        for (scorer, _, weight) in profile.scorers {
            let values: [Double]
            switch scorer {
            case .prefixCache:
                let blocks = hashes.count
                values = candidates.map { endpoint in
                    guard blocks > 0, let index = prefixIndex else { return 0 }
                    return Double(index.matchedBlocks(hashes, endpoint: endpoint.name)) / Double(blocks)
                }
            case .queue:
                let queues = candidates.map(\.waitingRequests)
                let low = queues.min() ?? 0, high = queues.max() ?? 0
                values = queues.map { high > low ? (high - $0) / (high - low) : 1 }
            case .kvCacheUtilization:
                values = candidates.map { 1 - min(1, max(0, $0.kvCacheUsage)) }
            }
            for index in totals.indices { totals[index] += weight * values[index] }
        }
        return Array(zip(candidates, totals))
    }

    /// max-score-picker: the best weighted score, ties at random.
    func pick(_ profile: Profile, _ endpoints: [Endpoint], _ hashes: [UInt64], _ random: inout some RandomNumberGenerator)
        -> (Endpoint, Double)?
    {
        let scored = scores(profile, endpoints, hashes)
        guard let best = scored.map(\.1).max() else { return nil }
        let top = scored.filter { abs($0.1 - best) <= 1e-9 }
        return top[Int.random(in: 0..<top.count, using: &random)]
    }

    /// The role filters: prefill keeps `prefill`; decode keeps `decode`, `prefill-decode`,
    /// `both` (deprecated) and pods without the label.
    static func passes(_ filter: Filter, _ endpoint: Endpoint) -> Bool {
        switch filter {
        case .prefill: return endpoint.role == "prefill"
        case .decode: return endpoint.role == nil || ["decode", "prefill-decode", "both"].contains(endpoint.role!)
        }
    }

    static func format(_ score: Double) -> String {
        String(format: "%.2f", score)
    }
}
