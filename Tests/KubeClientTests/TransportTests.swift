import Foundation
import KubeCore
import Testing

@testable import KubeClient

/// The client against a real loopback HTTP server that misbehaves on purpose.
@Suite("Transport: retries, authentication, watch framing and timeouts")
struct TransportTests {
    let configMap = #"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c","namespace":"n","resourceVersion":"7"}}"#

    func client(_ server: ScriptedServer, _ configure: (inout ClientConfiguration) -> Void = { _ in }) throws
        -> KubernetesClient
    {
        var configuration = ClientConfiguration(
            server: server.url, retry: RetryPolicy(maxRetries: 3, initialBackoff: .milliseconds(50), maxBackoff: .seconds(2)))
        configure(&configuration)
        return try KubernetesClient(configuration: configuration)
    }

    @Test func tooManyRequestsHonoursRetryAfter() async throws {
        let body = configMap
        let server = try await ScriptedServer { _, index in
            index == 0 ? ScriptedServer.status(429, "TooManyRequests", retryAfter: 1) : ScriptedServer.answer(200, body)
        }
        let client = try client(server)
        let started = ContinuousClock.now
        let object = try await client.resources(ConfigMap.self, namespace: "n").create(ConfigMap(metadata: ObjectMeta(name: "c")))
        let waited = ContinuousClock.now - started
        #expect(object.metadata.resourceVersion == "7")
        #expect(server.requests.map(\.method) == ["POST", "POST"])
        #expect(waited >= .seconds(1), "retried after \(waited), before Retry-After")
        try await client.shutdown()
        await server.close()
    }

    @Test func serverErrorsAreRetriedForReadsOnly() async throws {
        let body = configMap
        let server = try await ScriptedServer { request, index in
            if request.method == "POST" { return ScriptedServer.status(500, "InternalError") }
            return index < 2 ? ScriptedServer.status(503, "ServiceUnavailable") : ScriptedServer.answer(200, body)
        }
        let client = try client(server)
        let configMaps = client.resources(ConfigMap.self, namespace: "n")
        #expect(try await configMaps.get("c").metadata.name == "c")
        #expect(server.requests.count == 3)

        // A POST answered 500 without Retry-After may have been applied: it is not repeated.
        do {
            _ = try await configMaps.create(ConfigMap(metadata: ObjectMeta(name: "c")))
            Issue.record("a 500 answer was taken as success")
        } catch let error as APIError {
            #expect(error.reason == .serverError)
        }
        #expect(server.requests.filter { $0.method == "POST" }.count == 1)
        try await client.shutdown()
        await server.close()
    }

    @Test func retriesStopAtTheLimit() async throws {
        let server = try await ScriptedServer { _, _ in ScriptedServer.status(503, "ServiceUnavailable") }
        let client = try client(server)
        do {
            _ = try await client.resources(ConfigMap.self, namespace: "n").get("c")
            Issue.record("an endless 503 was taken as success")
        } catch let error as APIError {
            #expect(error.code == 503)
        }
        #expect(server.requests.count == 4)  // the first attempt and three retries
        try await client.shutdown()
        await server.close()
    }

    @Test func conflictIsNotRetried() async throws {
        let server = try await ScriptedServer { _, _ in ScriptedServer.status(409, "Conflict") }
        let client = try client(server)
        var object = ConfigMap(metadata: ObjectMeta(name: "c"))
        object.metadata.resourceVersion = "1"
        do {
            _ = try await client.resources(ConfigMap.self, namespace: "n").replace(object)
            Issue.record("a 409 was taken as success")
        } catch let error as APIError {
            #expect(error.reason == .conflict)
        }
        #expect(server.requests.count == 1)
        try await client.shutdown()
        await server.close()
    }

    @Test func unauthorizedRereadsTheTokenFileOnce() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("token").path
        try "old".write(toFile: path, atomically: true, encoding: .utf8)
        let body = configMap
        let server = try await ScriptedServer { request, _ in
            request.headers.first(name: "Authorization") == "Bearer new"
                ? ScriptedServer.answer(200, body) : ScriptedServer.status(401, "Unauthorized")
        }
        let client = try client(server) { $0.credentials = .tokenFile(path: path, refreshInterval: .seconds(3600)) }
        let configMaps = client.resources(ConfigMap.self, namespace: "n")
        _ = try? await configMaps.get("c")  // caches "old"
        try "new".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try await configMaps.get("c").metadata.name == "c")
        #expect(server.requests.compactMap { $0.headers.first(name: "Authorization") }.suffix(2) == ["Bearer old", "Bearer new"])
        try await client.shutdown()
        await server.close()
    }

    static let events = [
        #"{"type":"ADDED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a","resourceVersion":"10"}}}"#,
        #"{"type":"MODIFIED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a","resourceVersion":"11"},"data":{"k":"v"}}}"#,
        #"{"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"15","creationTimestamp":null}}}"#,
        #"{"type":"DELETED","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"a","resourceVersion":"16"}}}"#,
    ]

    @Test func watchSurvivesChunksSplitAnywhere() async throws {
        let stream = Self.events.map { $0 + "\n" }.joined()
        let server = try await ScriptedServer { _, _ in
            // Split into 7-byte pieces with small pauses: events straddle chunks, chunks hold parts of two.
            var steps: [ScriptedServer.Step] = [.head(200)]
            var rest = Substring(stream)
            while !rest.isEmpty {
                steps.append(.chunk(String(rest.prefix(7))))
                steps.append(.pause(.milliseconds(1)))
                rest = rest.dropFirst(7)
            }
            steps.append(.end)
            return steps
        }
        let client = try client(server)
        var seen: [String] = []
        for try await event in client.resources(ConfigMap.self, namespace: "n").watch(ListOptions(resourceVersion: "9")) {
            seen.append("\(event.type.rawValue):\(event.resourceVersion ?? "")")
        }
        #expect(seen == ["ADDED:10", "MODIFIED:11", "BOOKMARK:15", "DELETED:16"])
        let query = server.requests.first?.uri ?? ""
        #expect(query.contains("watch=1") && query.contains("allowWatchBookmarks=true") && query.contains("resourceVersion=9"))
        #expect(query.contains("timeoutSeconds=290"))
        try await client.shutdown()
        await server.close()
    }

    @Test func watchErrorEventIsThrownAsGone() async throws {
        let first = Self.events[0]
        let server = try await ScriptedServer { _, _ in
            [.head(200), .chunk(first + "\n"),
             .chunk(#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 1 (10)","reason":"Expired","code":410}}"# + "\n"),
             .end]
        }
        let client = try client(server)
        var types: [WatchEventType] = []
        do {
            for try await event in client.resources(ConfigMap.self, namespace: "n").watch() { types.append(event.type) }
            Issue.record("the ERROR event did not end the stream with an error")
        } catch let error as APIError {
            #expect(error.reason == .gone)
            #expect(error.status.message?.contains("too old") == true)
        }
        #expect(types == [.added])
        try await client.shutdown()
        await server.close()
    }

    @Test func watchRejectsAnOversizedEvent() async throws {
        let server = try await ScriptedServer { _, _ in
            [.head(200), .chunk(String(repeating: "x", count: 3000)), .chunk(String(repeating: "y", count: 3000)), .end]
        }
        let client = try client(server)
        do {
            for try await _ in client.resources(ConfigMap.self, namespace: "n").watch(watch: WatchOptions(maxEventBytes: 4096)) {}
            Issue.record("an event over the limit was accepted")
        } catch let error as KubeClientError {
            guard case .watchLineTooLong(_, let limit) = error else {
                Issue.record("expected watchLineTooLong, got \(error)")
                return
            }
            #expect(limit == 4096)
        }
        try await client.shutdown()
        await server.close()
    }

    @Test func stalledWatchHitsTheIdleTimeout() async throws {
        let first = Self.events[0]
        let server = try await ScriptedServer { _, _ in [.head(200), .chunk(first + "\n"), .stall(.seconds(120))] }
        // 15 s: long enough that a busy machine still delivers the first event before the stall
        // (4 s was not, beside a soak and the parallel unit tests).
        let client = try client(server) { $0.watchIdleTimeout = .seconds(15) }
        var events = 0
        let started = ContinuousClock.now
        do {
            for try await _ in client.resources(ConfigMap.self, namespace: "n").watch() { events += 1 }
            Issue.record("a stalled stream ended without an error")
        } catch let error as KubeClientError {
            guard case .watchIdle = error else {
                Issue.record("expected watchIdle, got \(error)")
                return
            }
        }
        let waited = ContinuousClock.now - started
        #expect(events == 1)
        // Before the server's 120 s stall ends: the idle timeout cut the stream, not the server.
        #expect(waited >= .seconds(15) && waited < .seconds(120), "idle timeout after \(waited)")
        try await client.shutdown()
        await server.close()
    }

    @Test func watchRequestRefusedWithStatus() async throws {
        let server = try await ScriptedServer { _, _ in ScriptedServer.status(403, "Forbidden") }
        let client = try client(server)
        do {
            for try await _ in client.resources(ConfigMap.self, namespace: "n").watch() {}
            Issue.record("a refused watch yielded no error")
        } catch let error as APIError {
            #expect(error.reason == .forbidden)
            #expect(error.hint?.contains("RBAC") == true)
        }
        try await client.shutdown()
        await server.close()
    }
}
