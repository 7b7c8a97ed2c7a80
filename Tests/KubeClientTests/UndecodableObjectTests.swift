import Foundation
import KubeCore
import KubeRuntime
import Synchronization
import Testing

@testable import KubeClient

/// Objects the Swift types refuse are skipped one by one, and a silent watch is resumed by the
/// informer's watchdog; against a scripted loopback server, no API server needed.
@Suite("Undecodable objects and the watch watchdog")
struct UndecodableObjectTests {
    static func configMap(_ name: String, rv: Int, data: String = #"{"k":"v"}"#) -> String {
        #"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"\#(name)","namespace":"n","uid":"uid-\#(name)","resourceVersion":"\#(rv)"},"data":\#(data)}"#
    }

    /// `data.k` must be a string; `1` (an unquoted number) is what a loose schema lets through.
    static let bad = configMap("bad", rv: 6, data: #"{"k":1}"#)

    static func list(_ items: [String], rv: Int, continue token: String? = nil) -> String {
        let more = token.map { #","continue":"\#($0)""# } ?? ""
        return #"{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"\#(rv)"\#(more)},"items":[\#(items.joined(separator: ","))]}"#
    }

    func client(_ server: ScriptedServer) throws -> KubernetesClient {
        try KubernetesClient(configuration: ClientConfiguration(
            server: server.url, retry: RetryPolicy(maxRetries: 1, initialBackoff: .milliseconds(50), maxBackoff: .seconds(1))))
    }

    @Test func aListSkipsTheOneItemItCannotDecode() async throws {
        let body = Self.list([Self.configMap("a", rv: 5), Self.bad, Self.configMap("c", rv: 7)], rv: 9)
        let server = try await ScriptedServer { _, _ in ScriptedServer.answer(200, body) }
        let client = try client(server)
        let resources = client.resources(ConfigMap.self, namespace: "n")

        let result = try await resources.listAllSkippingUndecodable()
        #expect(result.list.items.map { $0.metadata.name } == ["a", "c"])
        #expect(result.list.metadata.resourceVersion == "9")
        #expect(result.undecodable.count == 1)
        let skipped = try #require(result.undecodable.first)
        #expect(skipped.name == "bad" && skipped.namespace == "n" && skipped.uid == "uid-bad")
        #expect(skipped.resourceVersion == "6")
        #expect(skipped.fieldPath == "data.k", "the path is relative to the object: \(skipped.fieldPath)")
        #expect(skipped.kind == "ConfigMap" && skipped.apiVersion == "v1")
        #expect(skipped.reference.name == "bad" && skipped.reference.uid == "uid-bad")

        // The strict list still fails as a whole: callers choose.
        await #expect(throws: KubeClientError.self) { _ = try await resources.listAll() }
        try await client.shutdown()
        await server.close()
    }

    @Test func pagesAreDecodedItemByItem() async throws {
        let server = try await ScriptedServer { request, _ in
            request.uri.contains("continue=page2")
                ? ScriptedServer.answer(200, Self.list([Self.configMap("c", rv: 7)], rv: 10))
                : ScriptedServer.answer(200, Self.list([Self.bad, Self.configMap("a", rv: 5)], rv: 9, continue: "page2"))
        }
        let client = try client(server)
        let result = try await client.resources(ConfigMap.self, namespace: "n").listAllSkippingUndecodable(pageSize: 2)
        #expect(result.list.items.map { $0.metadata.name } == ["a", "c"])
        #expect(result.list.metadata.resourceVersion == "9", "the snapshot is the first page's")
        #expect(result.undecodable.map(\.name) == ["bad"])
        try await client.shutdown()
        await server.close()
    }

    @Test func aWatchReportsAnUndecodableEventAndGoesOn() async throws {
        let lines = [
            #"{"type":"ADDED","object":\#(Self.configMap("a", rv: 10))}"#,
            #"{"type":"MODIFIED","object":\#(Self.configMap("a", rv: 11, data: #"{"k":["x"]}"#))}"#,
            #"{"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"15"}}}"#,
            #"{"type":"DELETED","object":\#(Self.configMap("a", rv: 16))}"#,
        ]
        let server = try await ScriptedServer { _, _ in [.head(200), .chunk(lines.joined(separator: "\n") + "\n"), .end] }
        let client = try client(server)
        var seen: [String] = []
        for try await update in client.resources(ConfigMap.self, namespace: "n").watchSkippingUndecodable() {
            switch update {
            case .event(let event): seen.append("\(event.type.rawValue):\(event.resourceVersion ?? "")")
            case .undecodable(let type, let object):
                seen.append("undecodable \(type.rawValue):\(object.resourceVersion ?? ""):\(object.fieldPath)")
            }
        }
        #expect(seen == ["ADDED:10", "undecodable MODIFIED:11:data.k", "BOOKMARK:15", "DELETED:16"])
        try await client.shutdown()
        await server.close()
    }

    @Test func theInformerSkipsReportsAndDropsTheStaleCopy() async throws {
        let watch = [
            // "a" decoded in the list turns undecodable: its cached copy must go.
            #"{"type":"MODIFIED","object":\#(Self.configMap("a", rv: 12, data: #"{"k":2}"#))}"#,
            #"{"type":"ADDED","object":\#(Self.configMap("d", rv: 13))}"#,
            // "bad" is fixed: it comes back.
            #"{"type":"MODIFIED","object":\#(Self.configMap("bad", rv: 14))}"#,
        ]
        let server = try await ScriptedServer { request, _ in
            if !request.uri.contains("watch=1") {
                return ScriptedServer.answer(200, Self.list([Self.configMap("a", rv: 5), Self.bad], rv: 9))
            }
            return [.head(200), .chunk(watch.joined(separator: "\n") + "\n"), .stall(.seconds(60))]
        }
        let client = try client(server)
        let informer = Informer(client.resources(ConfigMap.self, namespace: "n"))
        let reported = Shared<[String]>([])
        let deleted = Shared<[String]>([])
        informer.onUndecodable { object in reported.value.withLock { $0.append("\(object.name ?? ""):\(object.fieldPath)") } }
        informer.subscribe { change in
            if case .deleted(let object) = change { deleted.value.withLock { $0.append(object.metadata.name ?? "") } }
        }
        let run = Task { await informer.run() }
        defer { run.cancel() }

        try await waitFor("the watch events to land") {
            informer.store.get(namespace: "n", name: "bad") != nil && informer.store.get(namespace: "n", name: "d") != nil
        }
        #expect(informer.store.get(namespace: "n", name: "a") == nil, "the stale copy of a stayed in the cache")
        #expect(deleted.value.withLock { $0 } == ["a"])
        #expect(reported.value.withLock { $0 } == ["bad:data.k", "a:data.k"])
        #expect(informer.undecodableObjects.map(\.name) == ["a"], "bad was fixed, a broke")
        #expect(informer.listCount == 1, "an undecodable object must not cause a relist")
        run.cancel()
        _ = await run.value
        try await client.shutdown()
        await server.close()
    }

    @Test func aSilentWatchIsResumedFromItsVersionByTheWatchdog() async throws {
        let event = #"{"type":"ADDED","object":\#(Self.configMap("late", rv: 20))}"#
        let watches = Shared<Int>(0)
        let server = try await ScriptedServer { request, _ in
            if !request.uri.contains("watch=1") { return ScriptedServer.answer(200, Self.list([], rv: 9)) }
            // The first watch sends its headers and then nothing, like a half-open connection;
            // the next one delivers.
            if watches.value.withLock({ count in defer { count += 1 }; return count }) == 0 { return [.head(200), .stall(.seconds(120))] }
            return [.head(200), .chunk(event + "\n"), .stall(.seconds(120))]
        }
        let client = try client(server)
        let informer = Informer(client.resources(ConfigMap.self, namespace: "n"), watchIdleTimeout: .seconds(1))
        let run = Task { await informer.run() }
        defer { run.cancel() }
        try await waitFor("the watchdog to resume the watch and the event to arrive") {
            informer.store.get(namespace: "n", name: "late") != nil
        }
        #expect(informer.watchdogRestarts >= 1)
        let requests = server.requests.filter { $0.uri.contains("watch=1") }
        #expect(requests.count >= 2)
        #expect(requests.prefix(2).allSatisfy { $0.uri.contains("resourceVersion=9") && $0.uri.contains("allowWatchBookmarks=true") },
                "\(requests.map(\.uri))")
        #expect(informer.listCount == 1, "the watchdog resumes the watch; it does not list again")
        run.cancel()
        _ = await run.value
        try await client.shutdown()
        await server.close()
    }

    @Test func aWatchThatKeepsTalkingIsNotRestarted() async throws {
        let server = try await ScriptedServer { request, _ in
            if !request.uri.contains("watch=1") { return ScriptedServer.answer(200, Self.list([], rv: 9)) }
            var steps: [ScriptedServer.Step] = [.head(200)]
            for version in 10..<40 {
                steps.append(.chunk(#"{"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"\#(version)"}}}"# + "\n"))
                steps.append(.pause(.milliseconds(300)))
            }
            steps.append(.end)
            return steps
        }
        let client = try client(server)
        // Bookmarks every 0.3 s against a 5 s idle timeout: the watch ends on its own (at 9 s).
        let informer = Informer(client.resources(ConfigMap.self, namespace: "n"), watchIdleTimeout: .seconds(5))
        let run = Task { await informer.run() }
        defer { run.cancel() }
        try await waitFor("the stream to end and be resumed from its last bookmark") {
            server.requests.contains { $0.uri.contains("resourceVersion=39") }
        }
        #expect(informer.watchdogRestarts == 0)
        run.cancel()
        _ = await run.value
        try await client.shutdown()
        await server.close()
    }

    /// Polls `condition` until it holds, failing after a generous deadline.
    func waitFor(_ what: String, timeout: Duration = .seconds(30), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            if ContinuousClock.now > deadline {
                Issue.record("timed out waiting for \(what)")
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// A value the test and the closures it hands out share.
final class Shared<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
}
