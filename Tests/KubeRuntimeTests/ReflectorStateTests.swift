import KubeCore
import Testing

@testable import KubeRuntime

@Suite("Reflector state machine")
struct ReflectorStateTests {
    @Test func listThenWatchThenResume() {
        var state = ReflectorState()
        #expect(state.start() == .list)
        #expect(!state.hasSynced)
        #expect(state.listed(resourceVersion: "100") == .watch(resourceVersion: "100"))
        #expect(state.hasSynced)
        state.observed(resourceVersion: "105")
        state.observed(resourceVersion: "110")  // a bookmark
        // The server closed the stream at its timeout: resume where we were, no re-list.
        #expect(state.watchEnded() == .watch(resourceVersion: "110"))
    }

    @Test func goneForcesAnImmediateRelist() {
        var state = ReflectorState()
        _ = state.listed(resourceVersion: "100")
        #expect(state.watchFailed(.gone, now: .seconds(1)) == .list)
        #expect(state.resourceVersion == nil)
        #expect(state.hasSynced, "a re-list keeps the cache readable")
    }

    @Test func otherWatchFailuresBackOffAndRewatch() {
        var state = ReflectorState()
        _ = state.listed(resourceVersion: "100")
        #expect(state.watchFailed(.other, now: .seconds(1), random: 0) == .wait(.milliseconds(800), then: .watch(resourceVersion: "100")))
        #expect(state.watchFailed(.other, now: .seconds(2), random: 0) == .wait(.milliseconds(1600), then: .watch(resourceVersion: "100")))
        #expect(state.consecutiveFailures == 2)
        state.observed(resourceVersion: "120")
        #expect(state.consecutiveFailures == 0)
    }

    @Test func listFailuresBackOffAndRelist() {
        var state = ReflectorState()
        #expect(state.listFailed(.other, now: .zero, random: 0) == .wait(.milliseconds(800), then: .list))
        #expect(state.listFailed(.other, now: .seconds(1), random: 0) == .wait(.milliseconds(1600), then: .list))
        #expect(state.listFailed(.gone, now: .seconds(2), random: 0) == .wait(.milliseconds(3200), then: .list))
        #expect(state.listed(resourceVersion: "7") == .watch(resourceVersion: "7"))
    }

    @Test func streamEndBeforeAnyListRelists() {
        var state = ReflectorState()
        #expect(state.watchEnded() == .list)
    }
}

@Suite("Backoff")
struct BackoffTests {
    @Test func doublesToTheCapWithClientGoNumbers() {
        var backoff = Backoff.reflector
        let delays = (0..<8).map { backoff.next(now: .seconds($0), random: 0) }
        #expect(delays == [.milliseconds(800), .milliseconds(1600), .milliseconds(3200), .milliseconds(6400),
                           .milliseconds(12800), .milliseconds(25600), .seconds(30), .seconds(30)])
    }

    @Test func jitterAddsUpToOneTimesTheDelay() {
        var backoff = Backoff.reflector
        #expect(backoff.next(now: .zero, random: 0.5) == .milliseconds(1200))
        var other = Backoff.reflector
        #expect(other.next(now: .zero, random: 0.999) < .milliseconds(1600))
    }

    @Test func resetsAfterTwoMinutesOfHealth() {
        var backoff = Backoff.reflector
        _ = backoff.next(now: .zero, random: 0)
        _ = backoff.next(now: .seconds(1), random: 0)
        #expect(backoff.next(now: .seconds(2), random: 0) == .milliseconds(3200))
        #expect(backoff.next(now: .seconds(2 + 119), random: 0) == .milliseconds(6400))
        #expect(backoff.next(now: .seconds(2 + 119 + 120), random: 0) == .milliseconds(800))
    }
}

@Suite("Store state")
struct StoreStateTests {
    func configMap(_ name: String, namespace: String = "a", version: String = "1", labels: [String: String]? = nil,
                   owner: String? = nil) -> ConfigMap {
        var meta = ObjectMeta(name: name, namespace: namespace, labels: labels)
        meta.resourceVersion = version
        if let owner { meta.ownerReferences = [OwnerReference(apiVersion: "v1", kind: "ConfigMap", name: "o", uid: owner, controller: true)] }
        return ConfigMap(metadata: meta)
    }

    @Test func eventsMaintainObjectsAndIndexes() {
        var store = StoreState<ConfigMap>()
        _ = store.apply(.added(configMap("x", labels: ["app": "web"], owner: "u1")))
        _ = store.apply(.added(configMap("y", namespace: "b", labels: ["app": "db"])))
        #expect(store.count == 2)
        #expect(store.keys(index: .namespace, value: "a") == [ObjectKey(namespace: "a", name: "x")])
        #expect(store.keys(index: .owner, value: "u1") == [ObjectKey(namespace: "a", name: "x")])
        #expect(store.keys(index: .label, value: "app=web").count == 1)

        // An update moves index entries; a delete removes them.
        let change = store.apply(.modified(configMap("x", version: "2", labels: ["app": "api"])))
        guard case .updated(let old, let new) = change else {
            Issue.record("expected an update, got \(String(describing: change))")
            return
        }
        #expect(old.metadata.resourceVersion == "1" && new.metadata.resourceVersion == "2")
        #expect(store.keys(index: .label, value: "app=web").isEmpty)
        #expect(store.keys(index: .label, value: "app=api").count == 1)
        #expect(store.keys(index: .owner, value: "u1").isEmpty)
        _ = store.apply(.deleted(configMap("y", namespace: "b")))
        #expect(store.count == 1)
        #expect(store.keys(index: .namespace, value: "b").isEmpty)
        #expect(store.apply(.bookmark(resourceVersion: "9")) == nil)
        #expect(store.apply(.deleted(configMap("gone"))) == nil)
    }

    @Test func relistReportsWhatChangedWhileAway() {
        var store = StoreState<ConfigMap>()
        _ = store.replace(with: [configMap("keep"), configMap("change"), configMap("vanish")])
        let changes = store.replace(with: [configMap("keep"), configMap("change", version: "2"), configMap("new")])
        var summary: [String] = []
        for change in changes {
            switch change {
            case .added(let object): summary.append("+\(object.metadata.name!)")
            case .updated(_, let object): summary.append("~\(object.metadata.name!)")
            case .deleted(let object): summary.append("-\(object.metadata.name!)")
            }
        }
        #expect(summary.sorted() == ["+new", "-vanish", "~change"])
        #expect(store.count == 3)
        #expect(store[ObjectKey(namespace: "a", name: "vanish")] == nil)
    }
}

@Suite("Watch watchdog")
struct WatchWatchdogTests {
    @Test func expiresOnlyAfterAWholeSilentTimeout() {
        var watchdog = WatchWatchdog(idleTimeout: .seconds(90), startedAt: .seconds(10))
        #expect(watchdog.deadline == .seconds(100))
        #expect(!watchdog.isExpired(at: .seconds(99)))
        watchdog.activity(at: .seconds(60))  // an event
        #expect(!watchdog.isExpired(at: .seconds(149)))
        #expect(watchdog.isExpired(at: .seconds(150)))
    }

    @Test func activityNeverMovesTheClockBack() {
        var watchdog = WatchWatchdog(idleTimeout: .seconds(5), startedAt: .seconds(20))
        watchdog.activity(at: .seconds(12))
        #expect(watchdog.lastActivity == .seconds(20))
    }

    @Test func anIdleWatchIsResumedFromItsVersionWithoutAListOrBackoff() {
        var state = ReflectorState()
        _ = state.listed(resourceVersion: "100")
        state.observed(resourceVersion: "130")
        #expect(state.watchIdle() == .watch(resourceVersion: "130"))
        #expect(state.watchIdle() == .watch(resourceVersion: "130"))
        #expect(state.watchdogRestarts == 2)
        #expect(state.consecutiveFailures == 0, "a quiet watch is not a failure")
    }

    @Test func theDefaultStaysBetweenTheBookmarkPeriodAndTheWatchTimeout() {
        // Bookmarks come about every 60 s; the server ends a watch after timeoutSeconds.
        #expect(Informer<ConfigMap>.defaultWatchIdleTimeout > .seconds(60))
        #expect(Informer<ConfigMap>.defaultWatchIdleTimeout < .seconds(290))
    }
}

@Suite("Store removal by key")
struct StoreRemovalTests {
    @Test func removingByKeyUnindexes() {
        var state = StoreState<ConfigMap>()
        var map = ConfigMap(metadata: ObjectMeta(name: "a", namespace: "n"))
        map.metadata.labels = ["app": "x"]
        state.upsert(map)
        #expect(state.keys(index: .label, value: "app=x").count == 1)
        let change = state.remove(key: ObjectKey(namespace: "n", name: "a"))
        #expect(change?.object.metadata.name == "a")
        #expect(state.count == 0)
        #expect(state.keys(index: .label, value: "app=x").isEmpty)
        #expect(state.remove(key: ObjectKey(namespace: "n", name: "a")) == nil)
    }
}
