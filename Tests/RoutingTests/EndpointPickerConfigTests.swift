import KubeCore
import Routing
import TandemAPI
import Testing

@Suite("EndpointPickerConfig")
struct EndpointPickerConfigTests {
    /// Every combination of the scheduler's two switches, with and without a threshold.
    static let schedulers: [SchedulerSpec] = [false, true].flatMap { cache in
        [false, true].flatMap { load in
            [nil, Int32(100), Int32(0)].map { SchedulerSpec(enableCacheAwareRouting: cache, enableLoadBalancing: load, disaggregationThreshold: $0) }
        }
    }

    @Test(arguments: schedulers)
    func generatedConfigParsesAndEveryReferenceResolves(scheduler: SchedulerSpec) throws {
        let yaml = try EndpointPickerConfig.forScheduler(scheduler).yaml()
        let config = try EndpointPickerConfig.parse(yaml)
        #expect(config.problems() == [], "\(yaml)")
        // Each profile: a role filter first, a picker last, only declared plugins between.
        for profile in config.schedulingProfiles {
            #expect(profile.plugins.first?.pluginRef == (profile.name == "prefill" ? "prefill-filter" : "decode-filter"))
            let last = try #require(profile.plugins.last.flatMap { config.plugin($0.pluginRef) })
            #expect(PluginType.pickers.contains(last.type))
            for reference in profile.plugins { #expect(config.plugin(reference.pluginRef) != nil) }
        }
        #expect(Set(config.schedulingProfiles.map(\.name)) == ["prefill", "decode"])
        #expect(config.disaggregationThreshold == Int(scheduler.disaggregationThreshold ?? 100))
        let scorers = Set(config.profile("decode")!.plugins.compactMap { $0.weight == nil ? nil : $0.pluginRef })
        var expected: Set<String> = []
        if scheduler.enableCacheAwareRouting == true { expected.insert("prefix-cache-scorer") }
        if scheduler.enableLoadBalancing == true { expected.formUnion(["queue-scorer", "kv-cache-utilization-scorer"]) }
        #expect(scorers == expected)
    }

    @Test func apiVersionIsConfigurable() throws {
        for version in EndpointPickerConfig.knownAPIVersions {
            let config = try EndpointPickerConfig.parse(try EndpointPickerConfig.forScheduler(SchedulerSpec(), apiVersion: version).yaml())
            #expect(config.apiVersion == version)
        }
    }

    @Test func brokenConfigsAreCaught() throws {
        var config = EndpointPickerConfig.forScheduler(SchedulerSpec(enableCacheAwareRouting: true, enableLoadBalancing: true))
        var missing = config
        missing.plugins.removeAll { $0.type == PluginType.queueScorer }
        #expect(missing.problems().contains { $0.contains("refers to queue-scorer, which no plugin declares") })

        var pickerFirst = config
        pickerFirst.schedulingProfiles[0].plugins.insert(pickerFirst.schedulingProfiles[0].plugins.removeLast(), at: 0)
        #expect(pickerFirst.problems().contains { $0.contains("is not the last plugin") })

        var noPicker = config
        noPicker.schedulingProfiles[1].plugins.removeLast()
        #expect(noPicker.problems().contains { $0.contains("has 0 pickers") })

        var weightedFilter = config
        weightedFilter.schedulingProfiles[0].plugins[0].weight = 1
        #expect(weightedFilter.problems().contains { $0.contains("is not a scorer but has a weight") })

        var badDecider = config
        badDecider.plugins.removeAll { $0.type == PluginType.prefixBasedPDDecider }
        #expect(badDecider.problems().contains { $0.contains("decider for prefill refers to") })
        #expect(badDecider.disaggregationThreshold == nil)

        config.plugins.append(EndpointPickerConfig.Plugin(type: PluginType.queueScorer))
        #expect(config.problems().contains { $0.contains("declared twice") })
    }

    @Test func parseRejectsOtherKinds() {
        #expect(throws: EndpointPickerConfigError.self) { try EndpointPickerConfig.parse("kind: ConfigMap\napiVersion: v1\nplugins: []\nschedulingProfiles: []\n") }
        #expect(throws: EndpointPickerConfigError.self) { try EndpointPickerConfig.parse("not: [yaml") }
    }
}
