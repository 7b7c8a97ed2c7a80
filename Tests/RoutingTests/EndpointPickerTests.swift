import KubeCore
import Routing
import TandemAPI
import KubeTestSupport
import Testing


/// `count` distinct words with `tag`: a prompt of exactly `count` tokens.
func words(_ count: Int, _ tag: String) -> [Substring] {
    (0..<count).map { Substring("\(tag)\($0)") }
}

@Suite("EndpointPicker")
struct EndpointPickerTests {
    static let prefillA = Endpoint(name: "ns/prefill-a", address: "127.0.0.10:8000", role: "prefill")
    static let prefillB = Endpoint(name: "ns/prefill-b", address: "127.0.0.11:8000", role: "prefill")
    static let decode = Endpoint(name: "ns/decode", address: "127.0.0.12:8000", role: "decode")
    static let pool = [prefillA, prefillB, decode]

    func picker(cache: Bool = false, load: Bool = false, threshold: Int32? = 100) throws -> EndpointPicker {
        try EndpointPicker(config: EndpointPickerConfig.forScheduler(
            SchedulerSpec(enableCacheAwareRouting: cache, enableLoadBalancing: load, disaggregationThreshold: threshold)))
    }

    @Test func thresholdBoundary() throws {
        var picker = try picker()
        var random = SplitMix64(seed: 1)
        let at = try picker.schedule(prompt: words(100, "a"), endpoints: Self.pool, random: &random)
        #expect(at.isDisaggregated, "\(at.reason)")
        #expect(at.uncachedTokens == 100)
        #expect(at.decode == Self.decode)
        let below = try picker.schedule(prompt: words(99, "b"), endpoints: Self.pool, random: &random)
        #expect(!below.isDisaggregated, "\(below.reason)")
        #expect(below.reason.contains("99 uncached tokens < 100"))
        let short = try picker.schedule(prompt: words(5, "c"), endpoints: Self.pool, random: &random)
        #expect(short.prefill == nil && short.decode == Self.decode)

        var never = try self.picker(threshold: 0)
        #expect(never.threshold == 0)
        let long = try never.schedule(prompt: words(5000, "d"), endpoints: Self.pool, random: &random)
        #expect(!long.isDisaggregated, "threshold 0 never disaggregates: \(long.reason)")
    }

    @Test func roleFilters() throws {
        var picker = try picker()
        var random = SplitMix64(seed: 2)
        let both = Endpoint(name: "ns/both", address: "127.0.0.13:8000", role: "both")
        let unlabelled = Endpoint(name: "ns/plain", address: "127.0.0.14:8000", role: nil)
        let mixed = Endpoint(name: "ns/pd", address: "127.0.0.15:8000", role: "prefill-decode")
        var decodes: Set<String> = []
        for index in 0..<60 {
            let decision = try picker.schedule(prompt: words(200, "r\(index)-"),
                                               endpoints: [Self.prefillA, both, unlabelled, mixed], random: &random)
            decodes.insert(decision.decode.name)
            #expect(decision.prefill == Self.prefillA)
        }
        #expect(decodes == ["ns/both", "ns/plain", "ns/pd"], "decode-filter keeps decode, prefill-decode, both and unlabelled")

        // Only prefill pods: nothing passes decode-filter.
        #expect(throws: EndpointPickerError.self) {
            try picker.schedule(prompt: words(10, "x"), endpoints: [Self.prefillA, Self.prefillB], random: &random)
        }
        // No prefill pod: decode alone, also above the threshold.
        let alone = try picker.schedule(prompt: words(500, "y"), endpoints: [Self.decode], random: &random)
        #expect(alone.prefill == nil && alone.decode == Self.decode)
        #expect(alone.reason.contains("no endpoint passes the prefill profile's filters"))
    }

    @Test func prefixAffinityWithTheCacheScorer() throws {
        var picker = try picker(cache: true)
        var random = SplitMix64(seed: 3)
        let shared = words(320, "doc")  // 20 blocks of 16
        var prefills: Set<String> = []
        for index in 0..<10 {
            let decision = try picker.schedule(prompt: shared + words(150, "q\(index)-"), endpoints: Self.pool, random: &random)
            #expect(decision.isDisaggregated)
            prefills.insert(decision.prefill?.name ?? "")
            if index > 0 {
                // The decode pod holds the 20 shared blocks: 470 − 320 uncached.
                #expect(decision.uncachedTokens == 150, "\(decision.reason)")
            }
        }
        #expect(prefills.count == 1, "every request sharing the prefix went to one prefill pod: \(prefills)")

        // The decode pod holds the whole prompt now: a repeat is all cached but its last partial
        // block (470 = 29·16 + 6), under the threshold.
        let repeatPrompt = shared + words(150, "q9-")
        let repeated = try picker.schedule(prompt: repeatPrompt, endpoints: Self.pool, random: &random)
        #expect(repeated.uncachedTokens == 6)
        #expect(!repeated.isDisaggregated)
    }

    @Test func loadSpreadsWithoutTheCacheScorer() throws {
        var picker = try picker(cache: false, load: true)
        var random = SplitMix64(seed: 4)
        let shared = words(320, "doc")
        var counts: [String: Int] = [:]
        for index in 0..<40 {
            let decision = try picker.schedule(prompt: shared + words(150, "q\(index)-"), endpoints: Self.pool, random: &random)
            #expect(decision.uncachedTokens == 470, "without a prefix scorer every token counts as uncached")
            counts[decision.prefill?.name ?? "", default: 0] += 1
        }
        #expect(counts.count == 2 && counts.values.allSatisfy { $0 >= 10 }, "equal loads tie and spread: \(counts)")

        // Unequal load: the emptier queue and cache win.
        var busy = Self.prefillA
        busy.waitingRequests = 4
        busy.kvCacheUsage = 0.8
        var idle = Self.prefillB
        idle.waitingRequests = 1
        idle.kvCacheUsage = 0.1
        for index in 0..<10 {
            let decision = try picker.schedule(prompt: words(200, "z\(index)-"), endpoints: [busy, idle, Self.decode], random: &random)
            #expect(decision.prefill == idle)
        }
    }

    @Test func cachedPrefixOutweighsASomewhatBusierPod() throws {
        var picker = try picker(cache: true, load: true)
        var random = SplitMix64(seed: 5)
        let shared = words(800, "doc")
        let first = try picker.schedule(prompt: shared + words(120, "a"), endpoints: Self.pool, random: &random)
        let holder = try #require(first.prefill)
        // The holder now has one more request waiting than the other.
        let endpoints = Self.pool.map { endpoint -> Endpoint in
            var endpoint = endpoint
            if endpoint == holder { endpoint.waitingRequests = 1 }
            return endpoint
        }
        let second = try picker.schedule(prompt: shared + words(120, "b"), endpoints: endpoints, random: &random)
        // prefix 3·(50/57) = 2.63 + kv 2 vs queue 2 + kv 2: the cached prefix wins.
        #expect(second.prefill?.name == holder.name, "\(second.reason)")
    }

    @Test func tiesBreakAtRandomButRepeatForASeed() throws {
        func run(seed: UInt64) throws -> [String] {
            var picker = try picker()
            var random = SplitMix64(seed: seed)
            return try (0..<20).map { index in
                try picker.schedule(prompt: words(150, "t\(index)-"), endpoints: Self.pool, random: &random).prefill?.name ?? ""
            }
        }
        let first = try run(seed: 42)
        #expect(try run(seed: 42) == first, "the same seed gives the same picks")
        #expect(Set(first).count == 2, "ties go both ways: \(first)")
    }

    @Test func blocksAreRecordedForThePickedEndpoints() throws {
        var picker = try picker(cache: true)
        var random = SplitMix64(seed: 6)
        let decision = try picker.schedule(prompt: words(170, "rec"), endpoints: Self.pool, random: &random)
        let index = try #require(picker.prefixIndex)
        let prefill = try #require(decision.prefill)
        let other = prefill == Self.prefillA ? Self.prefillB : Self.prefillA
        #expect(index.heldBlocks(Self.decode.name) == 10, "170 tokens: 10 full blocks of 16")
        #expect(index.heldBlocks(prefill.name) == 10)
        #expect(index.heldBlocks(other.name) == 0)
        let short = try picker.schedule(prompt: words(5, "tiny"), endpoints: Self.pool, random: &random)
        #expect(short.prefill == nil)
        #expect(picker.prefixIndex?.heldBlocks(Self.decode.name) == 10, "a prompt shorter than a block adds nothing")
    }

    @Test func prefixIndexHashesChainAndEvictLeastRecentlyUsed() {
        var index = PrefixIndex(blockSize: 4, maxBlocksToMatch: 3, capacityPerEndpoint: 4)
        let a = index.blockHashes(words(14, "a"))
        #expect(a.count == 3, "14 tokens: 3 full blocks of 4, capped at 3")
        // Same second block after a different first one: a different hash (chained).
        let b = index.blockHashes(Array(words(4, "x")) + Array(words(14, "a")[4..<8]))
        #expect(b[1] != a[1])
        #expect(index.blockHashes(words(14, "a")) == a, "hashes are deterministic")
        index.record(a, endpoint: "e")
        #expect(index.matchedBlocks(a, endpoint: "e") == 3)
        #expect(index.matchedBlocks(b, endpoint: "e") == 0)
        index.record(index.blockHashes(words(8, "c")), endpoint: "e")  // 2 more: capacity 4 evicts a's first 1
        #expect(index.heldBlocks("e") == 4)
        #expect(index.matchedBlocks(a, endpoint: "e") == 0, "the evicted first block breaks the prefix")
        index.retain([])
        #expect(index.heldBlocks("e") == 0)
    }

    @Test func refusesBrokenConfigsAndUnknownPlugins() throws {
        var config = EndpointPickerConfig.forScheduler(SchedulerSpec(enableCacheAwareRouting: true))
        config.schedulingProfiles[1].plugins.removeLast()
        #expect { try EndpointPicker(config: config) } throws: { "\($0)".contains("has 0 pickers") }
        var unknown = EndpointPickerConfig.forScheduler(SchedulerSpec())
        unknown.plugins.append(.init(type: "lora-affinity-scorer"))
        #expect { try EndpointPicker(config: unknown) } throws: { "\($0)".contains("does not implement") }
    }
}
