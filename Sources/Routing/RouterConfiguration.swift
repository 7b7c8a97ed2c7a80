import KubeCore
import TandemAPI

extension EndpointPickerConfig {
    /// Profile names llm-d's P/D handler runs: `prefill` (when the decider says so), then `decode`.
    public static let prefillProfile = "prefill"
    public static let decodeProfile = "decode"

    /// Scorer weights Tandem writes. llm-d's samples weight prefix-cache 2–3, queue 1–2 and
    /// KV-cache utilisation 2; the prefix weight is above either load weight so a cached
    /// prefix wins unless its pod is clearly busier (both load scorers together outweigh it).
    public static let prefixCacheWeight = 3.0
    public static let queueWeight = 2.0
    public static let kvCacheUtilizationWeight = 2.0
    /// Tokens per hashed prefix block: vLLM's default KV block size (`--block-size 16`). These
    /// three are also what the emulated picker assumes when a config omits them.
    public static let prefixBlockSize = 16
    /// Blocks compared per request and blocks remembered per pod: llm-d's sample values.
    public static let maxPrefixBlocksToMatch = 256
    public static let lruCapacityPerServer = 31_250

    /// The config for a pool's `scheduler` block: llm-d's P/D handler with a prefix-based
    /// decider at the pool's threshold, prefill and decode profiles that filter by role and end
    /// in a max-score picker, and the scorers the two switches turn on.
    ///
    /// - Parameter apiVersion: the group/version the deployed router expects.
    public static func forScheduler(_ scheduler: SchedulerSpec, apiVersion: String = defaultAPIVersion) -> EndpointPickerConfig {
        let threshold = Int64(scheduler.threshold)
        var plugins: [Plugin] = [
            Plugin(type: PluginType.prefixBasedPDDecider, parameters: ["nonCachedTokens": .int(threshold)]),
            Plugin(type: PluginType.disaggProfileHandler,
                   parameters: ["deciders": ["prefill": .string(PluginType.prefixBasedPDDecider)]]),
            Plugin(type: PluginType.prefillFilter),
            Plugin(type: PluginType.decodeFilter),
        ]
        var scorers: [PluginReference] = []
        if scheduler.enableCacheAwareRouting ?? false {
            plugins.append(Plugin(type: PluginType.prefixCacheScorer, parameters: [
                "blockSize": .int(Int64(prefixBlockSize)), "maxPrefixBlocksToMatch": .int(Int64(maxPrefixBlocksToMatch)),
                "lruCapacityPerServer": .int(Int64(lruCapacityPerServer)),
            ]))
            scorers.append(PluginReference(pluginRef: PluginType.prefixCacheScorer, weight: prefixCacheWeight))
        }
        if scheduler.enableLoadBalancing ?? false {
            plugins.append(Plugin(type: PluginType.queueScorer))
            plugins.append(Plugin(type: PluginType.kvCacheUtilizationScorer))
            scorers.append(PluginReference(pluginRef: PluginType.queueScorer, weight: queueWeight))
            scorers.append(PluginReference(pluginRef: PluginType.kvCacheUtilizationScorer, weight: kvCacheUtilizationWeight))
        }
        plugins.append(Plugin(type: PluginType.maxScorePicker))
        let picker = PluginReference(pluginRef: PluginType.maxScorePicker)
        return EndpointPickerConfig(
            apiVersion: apiVersion, plugins: plugins,
            schedulingProfiles: [
                SchedulingProfile(name: prefillProfile, plugins: [PluginReference(pluginRef: PluginType.prefillFilter)] + scorers + [picker]),
                SchedulingProfile(name: decodeProfile, plugins: [PluginReference(pluginRef: PluginType.decodeFilter)] + scorers + [picker]),
            ])
    }

    /// The decider's threshold: a prompt with at least this many uncached tokens is prefilled
    /// on the prefill tier (0: never). `nil` when the config has no prefix-based decider.
    public var disaggregationThreshold: Int? {
        guard let handler = plugins.first(where: { $0.type == PluginType.disaggProfileHandler }),
            let deciderName = handler.parameters?["deciders"]?["prefill"]?.stringValue,
            let decider = plugin(deciderName), decider.type == PluginType.prefixBasedPDDecider
        else { return nil }
        return Int(decider.parameters?["nonCachedTokens"]?.intValue ?? 0)
    }

    /// Everything the router would refuse or that would route wrongly; empty when the config is
    /// sound. Checks that names are unique, every reference resolves to a declared plugin, every
    /// profile has filters and scorers before exactly one picker, which comes last, scorers alone
    /// carry (positive) weights, and a P/D handler's deciders and profiles exist.
    public func problems() -> [String] {
        var problems: [String] = []
        if kind != Self.kind { problems.append("kind is \(kind), expected \(Self.kind)") }
        if apiVersion.isEmpty { problems.append("apiVersion is empty") }
        var seen: Set<String> = []
        for plugin in plugins where !seen.insert(plugin.reference).inserted {
            problems.append("plugin name \(plugin.reference) is declared twice")
        }
        let handlers = plugins.filter { PluginType.profileHandlers.contains($0.type) }
        if handlers.count > 1 { problems.append("\(handlers.count) profile handlers are declared; the router runs one") }
        if schedulingProfiles.isEmpty { problems.append("no scheduling profiles") }
        var profileNames: Set<String> = []
        for profile in schedulingProfiles {
            if !profileNames.insert(profile.name).inserted { problems.append("profile \(profile.name) is declared twice") }
            var pickers = 0
            for (index, reference) in profile.plugins.enumerated() {
                guard let plugin = plugin(reference.pluginRef) else {
                    problems.append("profile \(profile.name) refers to \(reference.pluginRef), which no plugin declares")
                    continue
                }
                if PluginType.pickers.contains(plugin.type) {
                    pickers += 1
                    if index != profile.plugins.count - 1 {
                        problems.append("profile \(profile.name): picker \(reference.pluginRef) is not the last plugin")
                    }
                }
                if let weight = reference.weight {
                    if !PluginType.scorers.contains(plugin.type) {
                        problems.append("profile \(profile.name): \(reference.pluginRef) is not a scorer but has a weight")
                    } else if !(weight > 0) {
                        problems.append("profile \(profile.name): scorer \(reference.pluginRef) has weight \(weight); weights are positive")
                    }
                }
                if PluginType.profileHandlers.contains(plugin.type) || PluginType.deciders.contains(plugin.type) {
                    problems.append("profile \(profile.name) lists \(reference.pluginRef), which is not a filter, scorer or picker")
                }
            }
            if pickers != 1 { problems.append("profile \(profile.name) has \(pickers) pickers; it must end in exactly one") }
        }
        for handler in handlers where handler.type == PluginType.disaggProfileHandler {
            for (role, value) in handler.parameters?["deciders"]?.objectValue ?? [:] {
                guard let name = value.stringValue, let decider = plugin(name) else {
                    problems.append("\(handler.reference): decider for \(role) refers to \(value), which no plugin declares")
                    continue
                }
                if !PluginType.deciders.contains(decider.type) {
                    problems.append("\(handler.reference): \(name) is a \(decider.type), not a decider")
                }
            }
            for required in [Self.prefillProfile, Self.decodeProfile] where !profileNames.contains(required) {
                problems.append("\(handler.reference) runs profile \(required), which is not declared")
            }
        }
        return problems
    }
}
