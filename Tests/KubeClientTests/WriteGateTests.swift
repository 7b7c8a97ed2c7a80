import Foundation
import KubeCore
import Testing

@testable import KubeClient

/// The `writeGate` leader election installs, and the User-Agent that names the process.
@Suite("Transport: write gate and User-Agent")
struct WriteGateTests {
    struct Refused: Error {}

    @Test func aClosedGateKeepsWritesOffTheWireButNotReads() async throws {
        let body = #"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"c","namespace":"n","resourceVersion":"7"}}"#
        let server = try await ScriptedServer { _, _ in ScriptedServer.answer(200, body) }
        var configuration = ClientConfiguration(server: server.url, userAgent: ClientConfiguration.userAgent(identity: "op-a"))
        configuration.writeGate = { method, path in
            if path.hasPrefix("/api/v1/namespaces/n/configmaps") { throw Refused() }
        }
        let client = try KubernetesClient(configuration: configuration)
        let configMaps = client.resources(ConfigMap.self, namespace: "n")
        #expect(try await configMaps.get("c").metadata.name == "c")
        await #expect(throws: Refused.self) {
            _ = try await configMaps.create(ConfigMap(metadata: ObjectMeta(name: "c")))
        }
        await #expect(throws: Refused.self) {
            var stored = ConfigMap(metadata: ObjectMeta(name: "c", namespace: "n"))
            stored.metadata.resourceVersion = "7"
            _ = try await configMaps.replace(stored)
        }
        // Only the GET reached the server, carrying the process's User-Agent.
        #expect(server.requests.map(\.method) == ["GET"])
        #expect(server.requests.first?.headers.first(name: "User-Agent") == "tandem/op-a")
        try await client.shutdown()
        await server.close()
    }
}
