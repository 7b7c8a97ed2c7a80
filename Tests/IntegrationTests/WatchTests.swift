import Foundation
import KubeClient
import KubeCore
import KubeTestSupport
import Testing

@Suite("Watch against a real API server")
struct WatchTests {
    @Test func eventsArriveInOrderAndResumeReplaysNothing() async throws {
        let cluster = try await TestCluster.shared()
        try await cluster.withNamespace("watch") { client, namespace in
            let configMaps = client.resources(ConfigMap.self, namespace: namespace)
            let start = try await configMaps.list().metadata.resourceVersion
            let watcher = Task {
                var seen: [(WatchEventType, String)] = []
                for try await event in configMaps.watch(ListOptions(resourceVersion: start)) {
                    // The controller-manager adds kube-root-ca.crt to new namespaces: only "w" counts.
                    guard let object = event.object, object.metadata.name == "w" else { continue }
                    seen.append((event.type, object.metadata.resourceVersion ?? ""))
                    if event.type == .deleted { break }
                }
                return seen
            }
            try await Task.sleep(for: .milliseconds(300))
            _ = try await configMaps.create(ConfigMap(metadata: ObjectMeta(name: "w"), data: ["v": "1"]))
            _ = try await configMaps.patch("w", .merge(["data": ["v": "2"]]))
            try await configMaps.delete("w")
            let seen = try await watcher.value
            #expect(seen.map(\.0) == [.added, .modified, .deleted])

            // Resuming from the MODIFIED event's version yields only what came after it.
            let modifiedVersion = seen[1].1
            var resumed: [WatchEventType] = []
            for try await event in configMaps.watch(ListOptions(resourceVersion: modifiedVersion), watch: WatchOptions(timeoutSeconds: 3)) {
                if event.object?.metadata.name == "w" { resumed.append(event.type) }
                if event.type == .deleted { break }
            }
            #expect(resumed == [.deleted])
        }
    }

    @Test func bookmarksAdvanceTheResourceVersion() async throws {
        let cluster = try await TestCluster.shared()
        try await cluster.withNamespace("bookmark") { client, namespace in
            let quiet = client.resources(ConfigMap.self, namespace: namespace)
            let start = try await quiet.list().metadata.resourceVersion ?? "0"
            // Changes elsewhere move the cluster's resourceVersion past `start`.
            try await cluster.withNamespace("bookmark-noise") { _, other in
                let noisy = client.resources(ConfigMap.self, namespace: other)
                for index in 0..<5 { _ = try await noisy.create(ConfigMap(metadata: ObjectMeta(name: "n\(index)"))) }
            }
            // kube-apiserver 1.20 sends a bookmark shortly before a watch's timeout.
            // The controller-manager may add kube-root-ca.crt to the namespace at any moment;
            // a selector nothing matches keeps the watch quiet while bookmarks still arrive.
            var bookmarks: [String] = []
            var others = 0
            for try await event in quiet.watch(ListOptions(labelSelector: "tandem.test/quiet", resourceVersion: start), watch: WatchOptions(allowBookmarks: true, timeoutSeconds: 4)) {
                if case .bookmark(let version) = event { bookmarks.append(version) } else { others += 1 }
            }
            #expect(others == 0)
            #expect(!bookmarks.isEmpty, "no BOOKMARK arrived before the watch timed out")
            if let last = bookmarks.last {
                #expect((UInt64(last) ?? 0) > (UInt64(start) ?? UInt64.max), "bookmark \(last) did not pass \(start)")
            }
        }
    }

    @Test func idleWatchIsClosedByTheClient() async throws {
        let cluster = try await TestCluster.shared()
        try await cluster.withNamespace("idle") { admin, namespace in
            let client = try cluster.adminClient { $0.watchIdleTimeout = .seconds(2) }
            let configMaps = client.resources(ConfigMap.self, namespace: namespace)
            let start = try await configMaps.list().metadata.resourceVersion
            let began = ContinuousClock.now
            do {
                // A selector nothing matches: kube-root-ca.crt may be added to the new namespace
                // while the watch runs, and it must not count as traffic.
                for try await event in configMaps.watch(
                    ListOptions(labelSelector: "tandem.test/quiet", resourceVersion: start), watch: WatchOptions(allowBookmarks: false, timeoutSeconds: 60))
                {
                    Issue.record("unexpected event on a quiet watch: \(event.type)")
                }
                Issue.record("the quiet watch ended without the idle timeout")
            } catch let error as KubeClientError {
                guard case .watchIdle = error else {
                    Issue.record("expected watchIdle, got \(error)")
                    try await client.shutdown()
                    return
                }
                let waited = ContinuousClock.now - began
                #expect(waited >= .seconds(2) && waited < .seconds(30), "idle timeout fired after \(waited)")
            }
            try await client.shutdown()
        }
    }

    @Test func watchTooOldResourceVersionReportsGone() async throws {
        // Compacting etcd disrupts the cluster, so this test has a cluster of its own, without
        // the watch cache so the compaction is seen by watches.
        try await TestCluster.withPrivateCluster(name: "gone", apiserverFlags: ["--watch-cache=false"]) { cluster in
            try await cluster.withNamespace("gone") { client, namespace in
                let configMaps = client.resources(ConfigMap.self, namespace: namespace)
                let first = try await configMaps.create(ConfigMap(metadata: ObjectMeta(name: "c"), data: ["n": "0"]))
                let oldVersion = try #require(first.metadata.resourceVersion)
                var latest = first
                for index in 1...10 {
                    latest = try await configMaps.patch("c", .merge(["data": ["n": .string(String(index))]]))
                }
                let revision = try #require(latest.metadata.resourceVersion.flatMap { Int64($0) })
                try await cluster.compactEtcd(to: revision)

                do {
                    for try await event in configMaps.watch(ListOptions(resourceVersion: oldVersion)) {
                        Issue.record("a watch from a compacted version delivered \(event.type)")
                        break
                    }
                    Issue.record("a watch from a compacted version ended without an error")
                } catch let error as APIError {
                    #expect(error.reason == .gone, "\(error)")
                    #expect(error.code == 410)
                }
                // From the current version the watch works again.
                let relisted = try await configMaps.list()
                let stream = configMaps.watch(
                    ListOptions(resourceVersion: relisted.metadata.resourceVersion), watch: WatchOptions(timeoutSeconds: 2))
                var events = 0
                for try await event in stream where event.type != .bookmark { events += 1 }
                #expect(events == 0)
            }
        }
    }
}
