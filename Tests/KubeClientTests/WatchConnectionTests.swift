import Foundation
import KubeCore
import Synchronization
import Testing

@testable import KubeClient

/// The watch pool's replacement (a watch gone silent may sit on a half-open connection) and the
/// accepted-watch hook liveness counts as contact.
@Suite("Watch connections: replacement and the accepted-watch hook")
struct WatchConnectionTests {
    static let bookmark =
        #"{"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"15","creationTimestamp":null}}}"#

    func client(_ server: ScriptedServer) throws -> KubernetesClient {
        try KubernetesClient(configuration: ClientConfiguration(server: server.url))
    }

    /// One watch, read to its end (the server closes the stream as at its timeout).
    func watchOnce(_ client: KubernetesClient) async throws -> Int {
        var events = 0
        for try await _ in client.resources(ConfigMap.self, namespace: "n").watchSkippingUndecodable(ListOptions(resourceVersion: "9")) {
            events += 1
        }
        return events
    }

    @Test func aReplacedPoolOpensTheNextWatchOnANewConnection() async throws {
        let server = try await ScriptedServer { _, _ in [.head(200), .chunk(Self.bookmark + "\n"), .end] }
        let client = try client(server)
        #expect(try await watchOnce(client) == 1)
        #expect(try await watchOnce(client) == 1)
        // Keep-alive: the second watch reused the first one's connection.
        #expect(server.connections == 1)

        let generation = client.watchConnectionGeneration
        client.replaceWatchConnections(ifGeneration: generation)
        #expect(client.watchConnectionGeneration == generation + 1)
        #expect(try await watchOnce(client) == 1)
        #expect(server.connections == 2, "the watch after the replacement did not dial a new connection")
        #expect(server.requests.count == 3)
        try await client.shutdown()
        await server.close()
    }

    @Test func onlyTheFirstCallerForAGenerationReplacesThePool() async throws {
        let server = try await ScriptedServer { _, _ in [.head(200), .chunk(Self.bookmark + "\n"), .end] }
        let client = try client(server)
        let generation = client.watchConnectionGeneration
        // Two informers noticing the same dead connection.
        client.replaceWatchConnections(ifGeneration: generation)
        client.replaceWatchConnections(ifGeneration: generation)
        #expect(client.watchConnectionGeneration == generation + 1)
        // A stale generation (an informer that noticed late) changes nothing either.
        client.replaceWatchConnections(ifGeneration: generation)
        #expect(client.watchConnectionGeneration == generation + 1)
        #expect(try await watchOnce(client) == 1)
        try await client.shutdown()
        // After shutdown a replacement is refused (nothing left to dial for).
        client.replaceWatchConnections(ifGeneration: generation + 1)
        #expect(client.watchConnectionGeneration == generation + 1)
        await server.close()
    }

    @Test func theHookFiresWhenTheServerAcceptsTheWatchNotWhenItRefuses() async throws {
        let server = try await ScriptedServer { request, _ in
            request.uri.contains("/namespaces/denied/")
                ? ScriptedServer.status(403, "Forbidden")
                : [.head(200), .pause(.milliseconds(50)), .chunk(Self.bookmark + "\n"), .end]
        }
        let client = try client(server)
        let opened = Atomic<Int>(0)
        let accepted = client.resources(ConfigMap.self, namespace: "n")
            .watchSkippingUndecodable(ListOptions(resourceVersion: "9")) { opened.add(1, ordering: .relaxed) }
        var iterator = accepted.makeAsyncIterator()
        #expect(opened.load(ordering: .relaxed) == 0, "the hook fired before the watch was sent")
        _ = try await iterator.next()
        #expect(opened.load(ordering: .relaxed) == 1)
        while try await iterator.next() != nil {}
        #expect(opened.load(ordering: .relaxed) == 1)

        let refused = client.resources(ConfigMap.self, namespace: "denied")
            .watchSkippingUndecodable(ListOptions(resourceVersion: "9")) { opened.add(1, ordering: .relaxed) }
        await #expect(throws: APIError.self) {
            for try await _ in refused {}
        }
        #expect(opened.load(ordering: .relaxed) == 1, "a refused watch counted as contact")
        try await client.shutdown()
        await server.close()
    }
}
