import FaultProxy
import Foundation
import KubeClient
import KubeCore
import KubeRuntime
import KubeTestSupport
import Synchronization
import TandemAPI
import Testing

/// A fault proxy in front of the shared cluster's API server, a namespace, and clients that
/// reach the API server only through the proxy, each with its own ServiceAccount token and
/// `tandem/<identity>` user agent.
struct ProxiedSetup: Sendable {
    let cluster: TestCluster
    let proxy: FaultProxy
    let admin: KubernetesClient
    let namespace: String
    let token: String

    /// A client of `identity` through the proxy, with the production transport (https,
    /// `httpVersion = .automatic`: it offers h2 and http/1.1 by ALPN).
    func client(_ identity: String, configure: (inout ClientConfiguration) -> Void = { _ in }) throws -> KubernetesClient {
        var configuration = ClientConfiguration(
            server: proxy.url, certificateAuthorityPEM: try caPEM(cluster), credentials: .bearerToken(token),
            namespace: namespace, userAgent: "tandem/\(identity)")
        configure(&configuration)
        return try KubernetesClient(configuration: configuration)
    }

    func records(of identity: String) -> [ProxyRecord] { proxy.records.filter { $0.identity == identity } }

    /// Runs `body` with a fresh proxy (offering `protocols`) and namespace; tears both down.
    static func run(protocols: [NegotiatedProtocol] = [.http2, .http1], _ body: (ProxiedSetup) async throws -> Void) async throws {
        let cluster = try await TestCluster.shared()
        let caKey = (cluster.caFile as NSString).deletingLastPathComponent + "/ca.key"
        let certificate = try ProxyCertificate.make(caCertificateFile: cluster.caFile, caKeyFile: caKey)
        let proxy = try await FaultProxy.start(FaultProxy.Configuration(
            upstream: cluster.apiserverURL, upstreamCAPEM: try caPEM(cluster),
            certificatePEM: certificate.certificatePEM, privateKeyPEM: certificate.privateKeyPEM, protocols: protocols))
        do {
            try await cluster.withNamespace("proxy") { admin, namespace in
                let token = try await serviceAccountToken(
                    admin, namespace: namespace, name: "operator",
                    configMapVerbs: ["get", "list", "watch", "create", "update", "patch", "delete"])
                try await body(ProxiedSetup(cluster: cluster, proxy: proxy, admin: admin, namespace: namespace, token: token))
            }
        } catch {
            try? await proxy.shutdown()
            throw error
        }
        try await proxy.shutdown()
    }
}

/// Collects the names of ConfigMaps a watch reports ADDED, in order.
final class AddedNames: Sendable {
    private let names = Mutex<[String]>([])
    func append(_ name: String) { names.withLock { $0.append(name) } }
    var all: [String] { names.withLock { $0 } }
}

@Suite("Fault proxy between KubeClient and a real API server", .serialized)
struct FaultProxyTests {
    /// ALPN offers as the tests use them: the proxy's full offer (the client picks h2) and an
    /// HTTP/1.1-only offer (the same client falls back).
    static let offers: [[NegotiatedProtocol]] = [[.http2, .http1], [.http1]]

    @Test(arguments: offers)
    func getListAndWatchStreamThroughTheProxy(offer: [NegotiatedProtocol]) async throws {
        try await ProxiedSetup.run(protocols: offer) { setup in
            let client = try setup.client("op-a")
            defer { Task { try? await client.shutdown() } }
            let configMaps = client.resources(ConfigMap.self, namespace: setup.namespace)
            _ = try await configMaps.create(ConfigMap(metadata: ObjectMeta(name: "first"), data: ["v": "1"]))
            #expect(try await configMaps.get("first").data?["v"] == "1")
            let list = try await configMaps.list()
            #expect(list.items.contains { $0.metadata.name == "first" })

            // A watch with a long server timeout: its events can only arrive while it is open
            // if the proxy streams the response chunk by chunk.
            let added = AddedNames()
            let watcher = Task {
                for try await event in configMaps.watch(ListOptions(resourceVersion: list.metadata.resourceVersion),
                                                        watch: WatchOptions(timeoutSeconds: 120)) {
                    if event.type == .added, let name = event.object?.metadata.name { added.append(name) }
                    if added.all.contains("third") { return }
                }
            }
            defer { watcher.cancel() }
            let adminMaps = setup.admin.resources(ConfigMap.self, namespace: setup.namespace)
            _ = try await adminMaps.create(ConfigMap(metadata: ObjectMeta(name: "second")))
            _ = try await eventually("the watch to stream ADDED second") { added.all.contains("second") ? true : nil }
            _ = try await adminMaps.create(ConfigMap(metadata: ObjectMeta(name: "third")))
            try await watcher.value
            #expect(added.all.filter { $0 != "kube-root-ca.crt" } == ["second", "third"])

            // The ServiceAccount's own token passed through: it may not list namespaces.
            await expectAPIError(.forbidden) { try await client.resources(Namespace.self).list() }

            let records = setup.records(of: "op-a")
            let expected: NegotiatedProtocol = offer.first!
            #expect(!records.isEmpty)
            #expect(records.allSatisfy { $0.negotiated == expected }, "\(records.map(\.description))")
            #expect(records.contains { $0.isWatch && $0.status == 200 })
            #expect(records.contains { $0.method == "POST" && $0.isMutating && $0.status == 201 })
            #expect(records.contains { $0.path == "/api/v1/namespaces" && $0.status == 403 })
            print("fault proxy: get/list/watch over \(expected.rawValue): \(records.count) requests")
        }
    }

    @Test func latencyDelaysEachDirectionAndOnlyTheMatchingIdentity() async throws {
        try await ProxiedSetup.run { setup in
            let slow = try setup.client("op-slow")
            let other = try setup.client("op-other")
            defer { Task { try? await slow.shutdown(); try? await other.shutdown() } }
            _ = try await slow.resources(ConfigMap.self, namespace: setup.namespace).list()  // connection up
            let delay = Duration.milliseconds(400)
            setup.proxy.inject(.latency(delay), for: .identity("op-slow"))
            let started = ContinuousClock.now
            _ = try await slow.resources(ConfigMap.self, namespace: setup.namespace).list()
            let elapsed = ContinuousClock.now - started
            // The request waits d before it is forwarded, the answer d before it is sent back.
            #expect(elapsed >= delay * 2, "took \(elapsed)")
            _ = try await other.resources(ConfigMap.self, namespace: setup.namespace).list()
            #expect(setup.records(of: "op-slow").last?.faults == ["latency(\(delay))"])
            #expect(setup.records(of: "op-other").allSatisfy { $0.faults.isEmpty })
            #expect(setup.proxy.records.allSatisfy { $0.negotiated == .http2 })
        }
    }

    @Test(arguments: [FaultLayer.request, .connection])
    func aBlackholeHoldsBytesAndReleasesThemInOrder(layer: FaultLayer) async throws {
        try await ProxiedSetup.run { setup in
            let leader = try setup.client("op-leader")
            let follower = try setup.client("op-follower")
            defer { Task { try? await leader.shutdown(); try? await follower.shutdown() } }
            let leaderMaps = leader.resources(ConfigMap.self, namespace: setup.namespace)
            let start = try await leaderMaps.list().metadata.resourceVersion
            let added = AddedNames()
            let watcher = Task {
                for try await event in leaderMaps.watch(ListOptions(resourceVersion: start), watch: WatchOptions(timeoutSeconds: 120)) {
                    if event.type == .added, let name = event.object?.metadata.name, name.hasPrefix("held-") { added.append(name) }
                    if added.all.count == 3 { return }
                }
            }
            defer { watcher.cancel() }
            // The watch is established (the proxy saw it answered) before the blackhole starts.
            _ = try await eventually("the leader's watch to be answered") {
                setup.records(of: "op-leader").contains { $0.isWatch && $0.status == 200 } ? true : nil
            }
            let blackhole = setup.proxy.inject(.blackhole, at: layer, for: .identity("op-leader"))
            let adminMaps = setup.admin.resources(ConfigMap.self, namespace: setup.namespace)
            for index in 1...3 { _ = try await adminMaps.create(ConfigMap(metadata: ObjectMeta(name: "held-\(index)"))) }
            let held = Task { try await leaderMaps.get("held-2") }
            // The leader's GET reached the proxy and is held (per request: recorded and waiting;
            // per connection: its bytes queue in the gate, before TLS); the follower is not affected.
            _ = try await eventually("the leader's GET to be held") {
                switch layer {
                case .request:
                    setup.records(of: "op-leader").contains { $0.method == "GET" && $0.path.hasSuffix("/held-2") } ? true : nil
                case .connection:
                    setup.proxy.connections.contains {
                        $0.classifier?.identity == "op-leader" && $0.classifier?.isWatch == false && $0.heldInboundBytes > 0
                    } ? true : nil
                }
            }
            #expect(try await follower.resources(ConfigMap.self, namespace: setup.namespace).get("held-1").metadata.name == "held-1")
            #expect(added.all.isEmpty, "watch events crossed the blackhole: \(added.all)")
            let released = ContinuousClock.now
            setup.proxy.remove(blackhole)
            #expect(try await held.value.metadata.name == "held-2")
            let completed = ContinuousClock.now
            try await watcher.value
            #expect(added.all == ["held-1", "held-2", "held-3"])
            #expect(completed >= released)
            if layer == .request {
                #expect(setup.records(of: "op-leader").contains { $0.path.hasSuffix("/held-2") && $0.faults.contains("blackhole") })
            } else {
                // Recorded when its bytes were released, dated when they arrived (before the release).
                let get = try #require(setup.records(of: "op-leader").first { $0.path.hasSuffix("/held-2") })
                #expect(get.received >= released)
                #expect(get.arrived < released)
            }
            #expect(setup.records(of: "op-follower").allSatisfy { $0.faults.isEmpty && $0.status == 200 })
            print("fault proxy: blackhole at \(layer) layer over \(setup.proxy.records.first?.negotiated.rawValue ?? "?")")
        }
    }

    /// Half-open: only the watch connections that exist are frozen; a watch on a new connection
    /// goes through, and the frozen one gets its events, in order, when the path heals.
    @Test func aHalfOpenWatchFreezesOnlyTheExistingWatchConnection() async throws {
        try await ProxiedSetup.run { setup in
            let stale = try setup.client("op-a")
            let fresh = try setup.client("op-a")
            defer { Task { try? await stale.shutdown(); try? await fresh.shutdown() } }
            let start = try await stale.resources(ConfigMap.self, namespace: setup.namespace).list().metadata.resourceVersion
            func watch(_ client: KubernetesClient, into names: AddedNames) -> Task<Void, any Error> {
                Task {
                    for try await event in client.resources(ConfigMap.self, namespace: setup.namespace)
                        .watch(ListOptions(resourceVersion: start), watch: WatchOptions(timeoutSeconds: 120)) {
                        if event.type == .added, let name = event.object?.metadata.name, name.hasPrefix("half-") { names.append(name) }
                        if names.all.count == 2 { return }
                    }
                }
            }
            let staleNames = AddedNames()
            let staleWatch = watch(stale, into: staleNames)
            defer { staleWatch.cancel() }
            _ = try await eventually("the first watch to be answered") {
                setup.records(of: "op-a").contains { $0.isWatch && $0.status == 200 } ? true : nil
            }
            let freeze = setup.proxy.inject(.blackhole, at: .connection, for: .watches, scope: .existing)
            let adminMaps = setup.admin.resources(ConfigMap.self, namespace: setup.namespace)
            _ = try await adminMaps.create(ConfigMap(metadata: ObjectMeta(name: "half-1")))
            _ = try await adminMaps.create(ConfigMap(metadata: ObjectMeta(name: "half-2")))
            let freshNames = AddedNames()
            try await watch(fresh, into: freshNames).value
            #expect(freshNames.all == ["half-1", "half-2"])
            #expect(staleNames.all.isEmpty, "events crossed the frozen connection: \(staleNames.all)")
            #expect(setup.proxy.connections.contains { $0.classifier?.isWatch == true && $0.heldOutboundBytes > 0 })
            setup.proxy.remove(freeze)
            try await staleWatch.value
            #expect(staleNames.all == ["half-1", "half-2"])
        }
    }

    @Test func refusalsReachTheClientAsAPIErrors() async throws {
        try await ProxiedSetup.run { setup in
            let client = try setup.client("op-a") { $0.retry = .none }
            let retrying = try setup.client("op-b")
            defer { Task { try? await client.shutdown(); try? await retrying.shutdown() } }
            let maps = client.resources(ConfigMap.self, namespace: setup.namespace)

            let tooMany = setup.proxy.inject(.tooManyRequests(fraction: 1, retryAfterSeconds: 1), for: .identity("op-a"))
            let error429 = await expectAPIError(.tooManyRequests) { try await maps.list() }
            #expect(error429?.status.details?.retryAfterSeconds == 1)
            setup.proxy.remove(tooMany)

            let unavailable = setup.proxy.inject(.serviceUnavailable(fraction: 1), for: .identity("op-a"))
            let error503 = await expectAPIError(.serverError) { try await maps.list() }
            #expect(error503?.status.code == 503)
            #expect(error503?.status.reason == "ServiceUnavailable")
            setup.proxy.remove(unavailable)

            // Half refused (the first of every two): the client's retry gets through.
            setup.proxy.inject(.serviceUnavailable(fraction: 0.5), for: .identity("op-b"))
            _ = try await retrying.resources(ConfigMap.self, namespace: setup.namespace).list()
            let statuses = setup.records(of: "op-b").compactMap(\.status)
            #expect(statuses == [503, 200])
            #expect(setup.records(of: "op-a").map(\.faults) == [["429"], ["503"]])
        }
    }

    @Test func aWatchClosedAfterItsHeadIsWatchedAgain() async throws {
        try await ProxiedSetup.run { setup in
            let client = try setup.client("op-a")
            defer { Task { try? await client.shutdown() } }
            let close = setup.proxy.inject(.closeWatchAfterHead(abrupt: false), for: .identity("op-a") && .watches)
            let informer = Informer(client.resources(ConfigMap.self, namespace: setup.namespace),
                                    backoff: Backoff(initial: .milliseconds(100), maximum: .milliseconds(500), factor: 2, jitter: 0.1,
                                                     resetAfter: .seconds(30)))
            let running = Task { await informer.run() }
            defer { running.cancel() }
            try await informer.waitUntilSynced()
            _ = try await eventually("the informer to watch again after closed watches") {
                setup.records(of: "op-a").filter { $0.isWatch && $0.faults.contains("closeWatchAfterHead") }.count >= 2 ? true : nil
            }
            setup.proxy.remove(close)
            _ = try await setup.admin.resources(ConfigMap.self, namespace: setup.namespace)
                .create(ConfigMap(metadata: ObjectMeta(name: "after")))
            _ = try await eventually("the re-established watch to deliver a new object") {
                informer.store.get(namespace: setup.namespace, name: "after") != nil ? true : nil
            }
            #expect(setup.records(of: "op-a").contains { $0.isWatch && $0.faults.isEmpty && $0.status == 200 })
        }
    }

    @Test func aResetFailsTheRequestAndTheNextConnectionWorks() async throws {
        try await ProxiedSetup.run { setup in
            let client = try setup.client("op-a") { $0.retry = .none }
            defer { Task { try? await client.shutdown() } }
            let maps = client.resources(ConfigMap.self, namespace: setup.namespace)
            _ = try await maps.list()
            let reset = setup.proxy.inject(.reset, for: .identity("op-a"))
            do {
                _ = try await maps.list()
                Issue.record("a request through a reset connection succeeded")
            } catch let error as KubeClientError {
                guard case .transport = error else { Issue.record("expected a transport error, got \(error)"); return }
            }
            setup.proxy.remove(reset)
            _ = try await eventually("a request after the reset to succeed") { try await maps.list() }
            #expect(setup.records(of: "op-a").contains { $0.faults == ["reset"] })
        }
    }

    @Test func theRecordTellsIdentitiesApart() async throws {
        try await ProxiedSetup.run { setup in
            let a = try setup.client("op-a")
            let b = try setup.client("op-b")
            defer { Task { try? await a.shutdown(); try? await b.shutdown() } }
            _ = try await a.resources(ConfigMap.self, namespace: setup.namespace).create(ConfigMap(metadata: ObjectMeta(name: "by-a")))
            _ = try await b.resources(ConfigMap.self, namespace: setup.namespace).get("by-a")
            _ = try await b.resources(ConfigMap.self, namespace: setup.namespace).delete("by-a")
            let byA = setup.records(of: "op-a")
            let byB = setup.records(of: "op-b")
            #expect(byA.map(\.method) == ["POST"])
            #expect(byA.map(\.isMutating) == [true])
            #expect(byB.map(\.method) == ["GET", "DELETE"])
            #expect(byB.map(\.isMutating) == [false, true])
            let times = setup.proxy.records.map(\.received)
            #expect(times == times.sorted(), "records are in order of arrival")
            #expect(setup.proxy.records.allSatisfy { $0.negotiated == .http2 })
        }
    }

    /// The chaos harness: two `tandem operator` processes through the proxy, each with a token
    /// of its own, told apart in the record; the invariant checker on the pool they reconcile.
    @Test func aFleetOfTwoOperatorsRunsThroughTheProxy() async throws {
        let binary = Script.projectRoot + "/.build/debug/tandem"
        try #require(FileManager.default.isExecutableFile(atPath: binary), "build the tandem binary first (swift build)")
        try await ProxiedSetup.run { setup in
            try await installCRD(setup.cluster, file: Script.projectRoot + "/crds/", name: "inferencepools.inference.x-k8s.io")
            // The test grants the operator's account cluster-admin; the chart's narrower RBAC is
            // HelmChartTests' subject.
            // A ServiceAccount per process: the proxy tells them apart by token.
            let identities = ["op-a", "op-b"]
            for identity in identities {
                _ = try await setup.admin.resources(ServiceAccount.self, namespace: setup.namespace)
                    .create(ServiceAccount(metadata: ObjectMeta(name: identity)))
            }
            let binding = "fault-proxy-\(setup.namespace)"
            _ = try await setup.admin.resources(ClusterRoleBinding.self).create(ClusterRoleBinding(
                metadata: ObjectMeta(name: binding), roleRef: RoleRef(kind: "ClusterRole", name: "cluster-admin"),
                subjects: identities.map { Subject(kind: "ServiceAccount", name: $0, namespace: setup.namespace) }))
            defer { Task { _ = try? await setup.admin.resources(ClusterRoleBinding.self).delete(binding) } }
            let folder = try temporaryFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            let fleet = OperatorFleet(
                binary: binary, proxy: setup.proxy, caFile: setup.cluster.caFile, folder: folder,
                arguments: ["--namespace", setup.namespace, "--leader-election-namespace", setup.namespace,
                            "--metrics-address", "127.0.0.1:0", "--log-format", "json"])
            for identity in identities {
                let token = try await tokenRequest(setup.admin, namespace: setup.namespace, name: identity)
                try fleet.start(identity: identity, token: token, namespace: setup.namespace)
            }
            do {
                let leases = setup.admin.resources(Lease.self, namespace: setup.namespace)
                _ = try await eventually("one operator to lead") {
                    try await leases.getIfExists("tandem-operator")?.spec?.holderIdentity?.isEmpty == false ? true : nil
                }
                _ = try await eventually("both operators' requests in the proxy's record") {
                    Set(setup.proxy.records.compactMap(\.identity)).isSuperset(of: ["op-a", "op-b"]) ? true : nil
                }
                let pools = setup.admin.resources(InferencePool.self, namespace: setup.namespace)
                _ = try await pools.create(InferencePool(
                    metadata: ObjectMeta(name: "llama"),
                    spec: InferencePoolSpec(model: "meta-llama/Llama-3.1-8B-Instruct", accelerator: "nvidia-h200")))
                let report = try await eventually("the invariants to hold for the pool") { () -> InvariantReport? in
                    let report = try await ChildInvariants.check(client: setup.admin, namespace: setup.namespace)
                    return report.holds && report.pools == 1 && report.children > 0 ? report : nil
                }
                print("fault proxy fleet: \(report); writes by identity: "
                      + "\(Dictionary(grouping: setup.proxy.records.filter(\.isMutating), by: { $0.identity ?? "-" }).mapValues(\.count))")
                #expect(setup.proxy.records.allSatisfy { $0.negotiated == .http2 })
            } catch {
                Issue.record("\(error)\nop-a:\n\(fleet.output("op-a").suffix(2000))\nop-b:\n\(fleet.output("op-b").suffix(2000))")
            }
            await fleet.stopAll()
        }
    }
}
