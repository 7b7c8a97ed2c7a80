import Foundation
import Testing
@testable import FaultProxy

@Suite struct RequestInfoTests {
    @Test func identityComesFromTheTandemUserAgentOnly() {
        #expect(RequestInfo.identity(fromUserAgent: "tandem/op-a") == "op-a")
        #expect(RequestInfo.identity(fromUserAgent: "tandem/op-b (linux)") == "op-b")
        #expect(RequestInfo.identity(fromUserAgent: "kubectl/v1.20.0") == nil)
        #expect(RequestInfo.identity(fromUserAgent: "tandem/") == nil)
        #expect(RequestInfo.identity(fromUserAgent: nil) == nil)
    }

    @Test func watchesAreRecognisedByQueryOrPath() {
        #expect(RequestInfo(identity: nil, method: "GET", path: "/api/v1/pods", query: "watch=true&resourceVersion=5").isWatch)
        #expect(RequestInfo(identity: nil, method: "GET", path: "/api/v1/pods", query: "watch=1").isWatch)
        #expect(RequestInfo(identity: nil, method: "GET", path: "/api/v1/watch/pods").isWatch)
        #expect(!RequestInfo(identity: nil, method: "GET", path: "/api/v1/pods", query: "watch=false").isWatch)
        #expect(!RequestInfo(identity: nil, method: "GET", path: "/api/v1/pods", query: "limit=500").isWatch)
    }

    @Test func mutatingVerbs() {
        for verb in ["POST", "put", "PATCH", "DELETE"] {
            #expect(RequestInfo(identity: nil, method: verb, path: "/x").isMutating, "\(verb)")
        }
        #expect(!RequestInfo(identity: nil, method: "GET", path: "/x").isMutating)
    }
}

@Suite struct FaultSetTests {
    let leaderWatch = RequestInfo(sequence: 3, connection: 2, identity: "op-a", method: "GET", path: "/api/v1/pods", query: "watch=true")
    let leaderWrite = RequestInfo(sequence: 4, connection: 1, identity: "op-a", method: "PUT", path: "/apis/coordination.k8s.io/v1/namespaces/x/leases/l")
    let followerGet = RequestInfo(sequence: 5, connection: 3, identity: "op-b", method: "GET", path: "/apis/coordination.k8s.io/v1/namespaces/x/leases/l")

    @Test func predicatesCombine() {
        let match = .identity("op-a") && .watches
        #expect(match.matches(leaderWatch))
        #expect(!match.matches(leaderWrite))
        #expect(!match.matches(followerGet))
        #expect((!RequestMatch.watches).matches(leaderWrite))
        #expect((RequestMatch.mutating || .identity("op-b")).matches(followerGet))
        #expect(RequestMatch.path(containing: "/leases/").matches(leaderWrite))
        #expect(RequestMatch.method("put").matches(leaderWrite))
    }

    @Test func aBlackholeHoldsOnlyWhatItMatchesUntilRemoved() {
        var set = FaultSet()
        let rule = set.add(.blackhole, layer: .request, match: .identity("op-a"), scope: .all, requestWatermark: 0, connectionWatermark: 0)
        #expect(set.shaping(request: leaderWrite).held)
        #expect(set.shaping(request: leaderWatch).held)
        #expect(!set.shaping(request: followerGet).held)
        let removed = set.remove(rule.id)
        #expect(removed)
        #expect(!set.shaping(request: leaderWrite).held)
        let removedAgain = set.remove(rule.id)
        #expect(!removedAgain)
    }

    @Test func existingScopeSparesLaterRequestsAndConnections() {
        var set = FaultSet()
        _ = set.add(.blackhole, layer: .request, match: .watches, scope: .existing, requestWatermark: 3, connectionWatermark: 2)
        #expect(set.shaping(request: leaderWatch).held)
        var later = leaderWatch
        later.sequence = 9
        #expect(!set.shaping(request: later).held)

        _ = set.add(.blackhole, layer: .connection, match: .watches, scope: .existing, requestWatermark: 3, connectionWatermark: 2)
        #expect(set.shaping(connection: 2, view: leaderWatch).held)
        #expect(!set.shaping(connection: 5, view: leaderWatch).held)
        #expect(!set.shaping(connection: 1, view: leaderWrite).held, "a connection whose first request was no watch")
        #expect(!set.shaping(connection: 1, view: nil).held, "an unclassified connection")
    }

    @Test func latencyIsTheLargestMatching() {
        var set = FaultSet()
        _ = set.add(.latency(.milliseconds(200)), layer: .request, match: .all, scope: .all, requestWatermark: 0, connectionWatermark: 0)
        _ = set.add(.latency(.seconds(1)), layer: .request, match: .identity("op-a"), scope: .all, requestWatermark: 0, connectionWatermark: 0)
        #expect(set.shaping(request: leaderWrite).latency == .seconds(1))
        #expect(set.shaping(request: followerGet).latency == .milliseconds(200))
        #expect(!set.shaping(request: followerGet).held)
        #expect(set.shaping(connection: 1, view: leaderWrite).latency == .zero, "request-layer rules do not shape connections")
    }

    @Test func fractionsAreExact() {
        var set = FaultSet()
        let rule = set.add(.tooManyRequests(fraction: 0.5, retryAfterSeconds: 2), layer: .request, match: .all, scope: .all,
                           requestWatermark: 0, connectionWatermark: 0)
        var refused = 0
        for n in 1...100 {
            var request = followerGet
            request.sequence = n
            switch set.verdict(for: request) {
            case .refuse(let code, let retryAfter, let id):
                #expect(code == 429 && retryAfter == 2 && id == rule.id)
                refused += 1
            case .forward: break
            case .reset: Issue.record("no reset rule was installed")
            }
        }
        #expect(refused == 50)

        var all = FaultSet()
        _ = all.add(.serviceUnavailable(fraction: 1), layer: .request, match: .mutating, scope: .all, requestWatermark: 0, connectionWatermark: 0)
        let write = all.verdict(for: leaderWrite)
        let read = all.verdict(for: followerGet)
        #expect(write == .refuse(code: 503, retryAfterSeconds: nil, rule: FaultID(rawValue: 1)))
        #expect(read == .forward)
    }

    @Test func resetWinsOverRefusal() {
        var set = FaultSet()
        _ = set.add(.serviceUnavailable(fraction: 1), layer: .request, match: .all, scope: .all, requestWatermark: 0, connectionWatermark: 0)
        let reset = set.add(.reset, layer: .request, match: .identity("op-a"), scope: .all, requestWatermark: 0, connectionWatermark: 0)
        let leader = set.verdict(for: leaderWrite)
        let follower = set.verdict(for: followerGet)
        #expect(leader == .reset(rule: reset.id))
        #expect(follower == .refuse(code: 503, retryAfterSeconds: nil, rule: FaultID(rawValue: 1)))
        #expect(set.shaping(connection: 1, view: leaderWrite).reset == nil, "a request-layer reset is decided per request")
        let l4 = set.add(.reset, layer: .connection, match: .identity("op-b"), scope: .all, requestWatermark: 0, connectionWatermark: 0)
        #expect(set.shaping(connection: 3, view: followerGet).reset == l4.id)
    }

    @Test func closingAfterTheHeadConcernsWatchesOnly() {
        var set = FaultSet()
        _ = set.add(.closeWatchAfterHead(abrupt: false), layer: .request, match: .all, scope: .all, requestWatermark: 0, connectionWatermark: 0)
        #expect(set.closesAfterHead(leaderWatch) == (true, false))
        #expect(set.closesAfterHead(leaderWrite) == (false, false))
    }

    @Test func theStatusBodyIsAKubernetesStatus() throws {
        let body = KubeStatus.body(code: 429, message: "slow down", retryAfterSeconds: 3)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        #expect(object["kind"] as? String == "Status")
        #expect(object["reason"] as? String == "TooManyRequests")
        #expect(object["code"] as? Int == 429)
        #expect((object["details"] as? [String: Any])?["retryAfterSeconds"] as? Int == 3)
        let unavailable = try #require(try JSONSerialization.jsonObject(with: Data(KubeStatus.body(code: 503, message: "m", retryAfterSeconds: nil))) as? [String: Any])
        #expect(unavailable["reason"] as? String == "ServiceUnavailable")
        #expect(unavailable["details"] == nil)
    }
}
