import Foundation
import Testing
import TandemAPI
@testable import tandem_soak

@Suite struct SoakPlanTests {
    @Test func namesComeBackLeastRecentlyFreedFirst() {
        var names = NamePool(count: 3)
        let first = [names.take(), names.take(), names.take()]
        #expect(first == ["soak-0", "soak-1", "soak-2"])
        #expect(names.take() == nil)
        names.give("soak-1")
        names.give("soak-0")
        #expect(names.take() == "soak-1")
        #expect(names.take() == "soak-0")
        #expect(names.reuses == 2)
        #expect(names.namesReused == 2)
    }

    @Test func theNamePoolStaysCorrectAcrossManyCycles() {
        var names = NamePool(count: 5)
        var handedOut = 0
        for _ in 0..<5_000 {
            guard let name = names.take() else { Issue.record("no free name"); return }
            handedOut += 1
            names.give(name)
        }
        #expect(handedOut == 5_000)
        #expect(names.uses.count == 5)
        #expect(names.uses.values.allSatisfy { $0 == 1_000 })
    }

    @Test func oneNameInTenIsLongerThanALabel() {
        #expect(NamePool.name(7).count > 63)
        #expect(NamePool.name(17).count > 63)
        #expect(NamePool.name(8).count <= 63)
        #expect((0..<100).map(NamePool.name).filter { $0.count > 63 }.count == 10)
        #expect((0..<100).allSatisfy { NamePool.name($0).count <= 253 })
    }

    @Test func theNameSetIsTwiceThePoolsAlive() {
        // 10,000 pools an hour living 30 s: 2.78/s × 30 s = 84 alive → 178 names.
        #expect(defaultNameCount(pools: 10_000, minutes: 60, lifetime: 30) == 2 * 84 + 10)
        #expect(defaultNameCount(pools: 600, minutes: 6, lifetime: 30) == 2 * 50 + 10)
        #expect(defaultNameCount(pools: 5, minutes: 1, lifetime: 30) == 5)
    }

    @Test func theModeMixIsFourFourTwo() {
        let modes = (0..<10).map(SoakMode.of(index:))
        #expect(modes.filter { $0 == .disabled }.count == 4)
        #expect(modes.filter { $0 == .operatorPrefill }.count == 4)
        #expect(modes.filter { $0 == .operatorBoth }.count == 2)
        #expect(SoakMode.disabled.spec.prefillConfig?.replicas == 0)
        #expect(SoakMode.operatorPrefill.spec.prefillConfig?.autoscaling?.minReplicas == 0)
        #expect(SoakMode.operatorBoth.spec.decodeConfig?.autoscaling?.minReplicas == 1)
        #expect(SoakMode.allCases.allSatisfy { $0.spec.accelerator != nil && $0.spec.validate().isEmpty })
    }

    @Test func seriesAreSampleLinesAndPoolSeriesCarryAPoolLabel() throws {
        let text = """
            # HELP tandem_tier_desired_replicas Replicas
            # TYPE tandem_tier_desired_replicas gauge
            tandem_tier_desired_replicas{namespace="ns",pool="soak-1",tier="prefill"} 1
            tandem_scaling_decisions_total{namespace="ns",pool="soak-10",tier="prefill",direction="up"} 1

            rest_client_requests_total{verb="GET",code="200"} 12
            process_up 1
            """
        let lines = try SeriesCount.samples(text)
        #expect(lines.count == 4)
        #expect(SeriesCount.poolLabelled(lines) == 2)
        #expect(SeriesCount.identity(lines[2]) == "rest_client_requests_total{code=\"200\",verb=\"GET\"}")
        #expect(SeriesCount.identity(lines[3]) == "process_up")
        #expect(lines.filter { SeriesCount.isSeries($0, namespace: "ns", pool: "soak-1", label: ("direction", "up")) }.isEmpty)
        #expect(lines.filter { SeriesCount.isSeries($0, namespace: "ns", pool: "soak-10", label: ("direction", "up")) }.count == 1)
    }

    @Test func memoryIsReadFromProcStatus() throws {
        let status = "Name:\ttandem\nVmHWM:\t   81234 kB\nVmRSS:\t   65432 kB\nThreads:\t9\n"
        let memory = try #require(ProcessMemory.parse(status))
        #expect(memory.rss == 65_432 * 1024)
        #expect(memory.highWater == 81_234 * 1024)
        #expect(ProcessMemory.parse("Name:\tx\n") == nil)
        #expect(ProcessMemory.read(pid: getpid())?.rss ?? 0 > 0)
    }

    @Test func theVerdictHoldsTheFinalReadingToTheWarmBaseline() {
        let tolerance = Tolerance(rssBytes: 16 << 20, rssFraction: 0.1, series: 0)
        let warm = Sample(at: Date(), rss: 100 << 20, series: 160, poolSeries: 0)
        // 10 % of 100 MiB is below 16 MiB: the limit is warm + 16 MiB.
        #expect(tolerance.allowedRSS(warm: warm.rss) == 116 << 20)
        #expect(tolerance.failures(warm: warm, final: Sample(at: Date(), rss: 116 << 20, series: 160, poolSeries: 0)).isEmpty)
        let failures = tolerance.failures(warm: warm, final: Sample(at: Date(), rss: 117 << 20, series: 161, poolSeries: 3))
        #expect(failures.count == 3)
        #expect(failures.contains { $0.contains("RSS ended at 117.0 MiB") })
        #expect(failures.contains { $0.contains("161 series") })
        #expect(failures.contains { $0.contains("3 series with a pool label") })
        #expect(Tolerance(rssBytes: 1 << 20, rssFraction: 0.1, series: 0).allowedRSS(warm: 500 << 20) == 550 << 20)
    }
}
