import Foundation
import KubeClient
import KubeCore
import KubeTestSupport
import Testing

@Suite("Resource API against a real API server")
struct CRUDTests {
    @Test func configMapLifecycleAndErrors() async throws {
        let cluster = try await TestCluster.shared()
        try await cluster.withNamespace("crud") { client, namespace in
            let configMaps = client.resources(ConfigMap.self, namespace: namespace)
            let created = try await configMaps.create(ConfigMap(metadata: ObjectMeta(name: "settings"), data: ["a": "1"]))
            #expect(created.metadata.uid != nil)
            #expect(created.metadata.namespace == namespace)

            // A second create gives AlreadyExists.
            await expectAPIError(.alreadyExists) {
                try await configMaps.create(ConfigMap(metadata: ObjectMeta(name: "settings")))
            }

            var fresh = try await configMaps.get("settings")
            fresh.data?["b"] = "2"
            let replaced = try await configMaps.replace(fresh)
            #expect(replaced.data == ["a": "1", "b": "2"])
            #expect(replaced.metadata.resourceVersion != created.metadata.resourceVersion)

            // Replacing with the stale resourceVersion gives Conflict.
            var stale = created
            stale.data = ["a": "stale"]
            let conflict = await expectAPIError(.conflict) { try await configMaps.replace(stale) }
            #expect(conflict?.hint?.contains("read it again") == true)

            // Merge and JSON patches.
            let merged = try await configMaps.patch("settings", .merge(["data": ["c": "3", "a": nil]]))
            #expect(merged.data == ["b": "2", "c": "3"])
            let jsonPatched = try await configMaps.patch("settings", .json([
                .test("/data/b", "2"), .replace("/data/b", "22"), .add("/metadata/labels", ["app": "x"]),
            ]))
            #expect(jsonPatched.data?["b"] == "22")
            #expect(jsonPatched.metadata.labels == ["app": "x"])
            await expectAPIError(.invalid) { try await configMaps.patch("settings", .json([.test("/data/b", "nope")])) }

            // Delete, then NotFound.
            try await configMaps.delete("settings", options: DeleteOptions(propagationPolicy: .background))
            await expectAPIError(.notFound) { try await configMaps.get("settings") }
            #expect(try await configMaps.getIfExists("settings") == nil)
            await expectAPIError(.notFound) { try await configMaps.delete("settings") }
        }
    }

    @Test func invalidObjectReportsFieldCauses() async throws {
        let cluster = try await TestCluster.shared()
        try await cluster.withNamespace("invalid") { client, namespace in
            let configMaps = client.resources(ConfigMap.self, namespace: namespace)
            let error = await expectAPIError(.invalid) {
                try await configMaps.create(ConfigMap(metadata: ObjectMeta(name: "Not_A_Valid_Name"), data: ["k": "v"]))
            }
            #expect(error?.causes.contains { $0.field == "metadata.name" } == true, "\(String(describing: error))")
            let badKey = await expectAPIError(.invalid) {
                try await configMaps.create(ConfigMap(metadata: ObjectMeta(name: "ok"), data: ["bad key!": "v"]))
            }
            #expect(badKey?.causes.contains { $0.field?.hasPrefix("data") == true } == true, "\(String(describing: badKey))")
        }
    }

    @Test func serverSideApplyWithTwoManagers() async throws {
        let cluster = try await TestCluster.shared()
        try await cluster.withNamespace("ssa") { client, namespace in
            let configMaps = client.resources(ConfigMap.self, namespace: namespace)
            _ = try await configMaps.apply(
                ConfigMap(metadata: ObjectMeta(name: "shared", labels: ["owner": "alpha"]), data: ["alpha": "1"]),
                fieldManager: "alpha")
            let both = try await configMaps.apply(
                ConfigMap(metadata: ObjectMeta(name: "shared"), data: ["beta": "1"]), fieldManager: "beta")
            #expect(both.data == ["alpha": "1", "beta": "1"])

            // beta claiming alpha's field conflicts without force…
            let conflict = await expectAPIError(.conflict) {
                try await configMaps.apply(
                    ConfigMap(metadata: ObjectMeta(name: "shared"), data: ["beta": "1", "alpha": "taken"]), fieldManager: "beta")
            }
            #expect(conflict?.status.message?.contains("alpha") == true)
            #expect(conflict?.hint?.contains("force") == true)
            // …and succeeds with it.
            let forced = try await configMaps.apply(
                ConfigMap(metadata: ObjectMeta(name: "shared"), data: ["beta": "1", "alpha": "taken"]),
                fieldManager: "beta", force: true)
            #expect(forced.data == ["alpha": "taken", "beta": "1"])

            func owned(_ object: ConfigMap, by manager: String) -> Set<String> {
                let entry = object.metadata.managedFields?.first { $0.manager == manager && $0.operation == "Apply" }
                return Set(entry?.fieldsV1?["f:data"]?.objectValue?.keys.map { String($0) } ?? [])
            }
            #expect(owned(forced, by: "beta") == ["f:alpha", "f:beta"])
            #expect(owned(forced, by: "alpha").isEmpty)
            let alphaEntry = forced.metadata.managedFields?.first { $0.manager == "alpha" }
            #expect(alphaEntry?.fieldsV1?["f:metadata"]?["f:labels"]?["f:owner"] != nil)

            // alpha re-applying without the label removes it: apply declares the full intent.
            let dropped = try await configMaps.apply(
                ConfigMap(metadata: ObjectMeta(name: "shared"), data: [:]), fieldManager: "alpha")
            #expect(dropped.metadata.labels?["owner"] == nil)
            #expect(dropped.data?["alpha"] == "taken")
        }
    }

    @Test func listPagingReturnsEachObjectOnce() async throws {
        let cluster = try await TestCluster.shared()
        try await cluster.withNamespace("paging") { client, namespace in
            let configMaps = client.resources(ConfigMap.self, namespace: namespace)
            let count = 1_200
            try await withThrowingTaskGroup(of: Void.self) { group in
                var next = 0
                func add() {
                    let index = next
                    next += 1
                    group.addTask {
                        _ = try await configMaps.create(ConfigMap(
                            metadata: ObjectMeta(name: "cm-\(index)", labels: ["parity": index % 2 == 0 ? "even" : "odd"])))
                    }
                }
                for _ in 0..<32 { add() }
                while try await group.next() != nil {
                    if next < count { add() }
                }
            }
            // Page by page by hand: three pages of at most 500.
            var pages: [Int] = []
            var names: [String] = []
            var options = ListOptions(limit: 500)
            repeat {
                let page = try await configMaps.list(options)
                pages.append(page.items.count)
                // Every namespace also holds the controller-manager's kube-root-ca.crt.
                names += page.items.compactMap(\.metadata.name).filter { $0.hasPrefix("cm-") }
                options.continueToken = page.metadata.continue
            } while options.continueToken?.isEmpty == false
            #expect(pages == [500, 500, 201])
            #expect(names.count == count)
            #expect(Set(names).count == count)

            // listAll follows the tokens itself; selectors combine with paging.
            let all = try await configMaps.listAll(pageSize: 500)
            let allNames = all.items.compactMap(\.metadata.name).filter { $0.hasPrefix("cm-") }
            #expect(allNames.count == count)
            #expect(Set(allNames) == Set((0..<count).map { "cm-\($0)" }), "missing: \(Set((0..<count).map { "cm-\($0)" }).subtracting(allNames).count)")
            #expect(all.metadata.resourceVersion != nil)
            let even = try await configMaps.listAll(ListOptions(labelSelector: "parity=even"), pageSize: 250)
            #expect(even.items.count == count / 2)
            #expect(even.items.allSatisfy { $0.metadata.labels?["parity"] == "even" })
        }
    }

    @Test func customResourceStatusAndScaleSubresources() async throws {
        let cluster = try await TestCluster.shared()
        let group = "it\(UUID().uuidString.prefix(6).lowercased()).tandem.test"
        let crdJSON: JSONValue = [
            "metadata": ["name": .string("widgets.\(group)")],
            "spec": [
                "group": .string(group), "scope": "Namespaced",
                "names": ["plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"],
                "versions": [[
                    "name": "v1", "served": true, "storage": true,
                    "schema": ["openAPIV3Schema": [
                        "type": "object",
                        "properties": [
                            "spec": ["type": "object", "properties": [
                                "replicas": ["type": "integer", "minimum": 0], "color": ["type": "string"],
                            ]],
                            "status": ["type": "object", "properties": [
                                "replicas": ["type": "integer"], "selector": ["type": "string"], "phase": ["type": "string"],
                            ]],
                        ],
                    ]],
                    "subresources": [
                        "status": [:],
                        "scale": ["specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas",
                                  "labelSelectorPath": ".status.selector"],
                    ],
                ]],
            ],
        ]
        let admin = try cluster.adminClient()
        let crds = admin.resources(CustomResourceDefinition.self)
        let crd: CustomResourceDefinition = try crdJSON.decode()
        _ = try await crds.create(crd)
        do {
            _ = try await eventually("the CRD to be established") {
                try await crds.get("widgets.\(group)").isEstablished ? true : nil
            }
            try await cluster.withNamespace("crd") { client, namespace in
                let widgets = client.dynamic(
                    APIResource(group: group, version: "v1", kind: "Widget", plural: "widgets", namespaced: true),
                    namespace: namespace)
                // Right after Established the discovery cache may lag a moment: retry NotFound briefly.
                let created = try await eventually("the Widget create to be served") {
                    try await widgets.create(DynamicObject(
                        apiVersion: "\(group)/v1", kind: "Widget", metadata: ObjectMeta(name: "w"),
                        fields: ["spec": ["replicas": 2, "color": "blue"]]))
                }
                #expect(created["spec"]?["replicas"] == 2)

                // A status apply changes status and leaves spec alone.
                let statusApplied = try await widgets.applyStatus(
                    DynamicObject(
                        apiVersion: "\(group)/v1", kind: "Widget", metadata: ObjectMeta(name: "w"),
                        fields: ["status": ["replicas": 2, "phase": "Ready", "selector": "app=w"]]),
                    fieldManager: "widget-controller")
                #expect(statusApplied["status"]?["phase"] == "Ready")
                #expect(statusApplied["spec"] == ["replicas": 2, "color": "blue"])
                #expect(try await widgets.getStatus("w")["status"]?["replicas"] == 2)

                // The scale subresource reads and writes spec.replicas.
                let scale = try await widgets.getScale("w")
                #expect(scale.spec?.replicas == 2)
                #expect(scale.status?.replicas == 2)
                #expect(scale.status?.selector == "app=w")
                let scaled = try await widgets.scale("w", replicas: 5)
                #expect(scaled.spec?.replicas == 5)
                #expect(try await widgets.get("w")["spec"]?["replicas"] == 5)
                #expect(try await widgets.get("w")["spec"]?["color"] == "blue")

                // Status through replace and merge patch too; a spec change sent to /status is ignored.
                var current = try await widgets.get("w")
                current["status"]?["phase"] = "Degraded"
                current["spec"]?["color"] = "red"
                let replaced = try await widgets.replaceStatus(current)
                #expect(replaced["status"]?["phase"] == "Degraded")
                #expect(replaced["spec"]?["color"] == "blue")
                let patched = try await widgets.patchStatus("w", .merge(["status": ["phase": "Ready"]]))
                #expect(patched["status"]?["phase"] == "Ready")
            }
        } catch {
            _ = try? await crds.delete("widgets.\(group)")
            try? await admin.shutdown()
            throw error
        }
        try await crds.delete("widgets.\(group)")
        try await admin.shutdown()
    }
}
