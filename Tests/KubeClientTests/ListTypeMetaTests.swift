import Foundation
import KubeCore
import Testing

@testable import KubeClient

/// The API server leaves `apiVersion` and `kind` out of a list's items; the client puts them
/// back, so an object read by a list compares equal to the same object read by a get or a
/// watch (otherwise every child an informer listed looked changed and was re-applied on every
/// reconcile after a restart).
@Suite("Listed items carry their type")
struct ListTypeMetaTests {
    static let list = #"{"kind":"ConfigMapList","apiVersion":"v1","metadata":{"resourceVersion":"9"},"items":[{"metadata":{"name":"a","namespace":"n","resourceVersion":"7"}},{"metadata":{"name":"b","namespace":"n","resourceVersion":"8"},"data":{"k":"v"}}]}"#

    @Test func everyListCallFillsApiVersionAndKind() async throws {
        let server = try await ScriptedServer { _, _ in ScriptedServer.answer(200, Self.list) }
        let client = try KubernetesClient(configuration: ClientConfiguration(server: server.url))
        let configMaps = client.resources(ConfigMap.self, namespace: "n")
        let page = try await configMaps.list()
        let all = try await configMaps.listAll()
        let lenient = try await configMaps.listAllSkippingUndecodable()
        for items in [page.items, all.items, lenient.list.items] {
            #expect(items.map(\.metadata.name) == ["a", "b"])
            #expect(items.allSatisfy { $0.apiVersion == "v1" && $0.kind == "ConfigMap" }, "\(items)")
        }
        try await client.shutdown()
        await server.close()
    }
}
