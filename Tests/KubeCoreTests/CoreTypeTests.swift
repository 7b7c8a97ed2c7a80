import Foundation
import Testing

import KubeCore

@Suite struct WatchEventTests {
    @Test func decodesBookmark() throws {
        let json = #"""
            {"type":"BOOKMARK","object":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"12746","creationTimestamp":null}}}
            """#
        let event = try KubeJSON.decode(WatchEvent<ConfigMap>.self, from: Data(json.utf8))
        guard case .bookmark(let version) = event else {
            Issue.record("expected a bookmark, got \(event)")
            return
        }
        #expect(version == "12746")
        #expect(event.type == .bookmark)
        #expect(event.resourceVersion == "12746")
        #expect(event.object == nil)
    }

    @Test func decodesExpiredError() throws {
        let json = #"""
            {"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
             "message":"too old resource version: 1 (12746)","reason":"Expired","code":410}}
            """#
        let event = try KubeJSON.decode(WatchEvent<ConfigMap>.self, from: Data(json.utf8))
        guard case .error(let status) = event else {
            Issue.record("expected an error, got \(event)")
            return
        }
        #expect(status.code == 410)
        #expect(status.reason == "Expired")
        #expect(status.description == "410 Expired: too old resource version: 1 (12746)")
        #expect(event.resourceVersion == nil)
    }

    @Test func decodesObjectEvents() throws {
        let json = #"""
            {"type":"MODIFIED","object":{"kind":"ConfigMap","apiVersion":"v1",
             "metadata":{"name":"cfg","namespace":"llm","resourceVersion":"12800"},"data":{"k":"v"}}}
            """#
        let event = try KubeJSON.decode(WatchEvent<ConfigMap>.self, from: Data(json.utf8))
        #expect(event.type == .modified)
        #expect(event.object?.data == ["k": "v"])
        #expect(event.resourceVersion == "12800")
        let dynamic = try KubeJSON.decode(WatchEvent<DynamicObject>.self, from: Data(json.utf8))
        #expect(dynamic.object?["data"] == ["k": "v"])
    }
}

@Suite struct TimeTests {
    @Test(arguments: [
        ("2026-11-29T10:21:06Z", "2026-11-29T10:21:06Z"),
        ("2026-11-29T12:21:06+02:00", "2026-11-29T10:21:06Z"),
        ("2026-11-29T04:51:06-05:30", "2026-11-29T10:21:06Z"),
        ("2026-11-29T10:21:06.999Z", "2026-11-29T10:21:06Z"),
        ("2024-02-29T23:59:59z", "2024-02-29T23:59:59Z"),
        ("2026-01-01T00:30:00+01:00", "2025-12-31T23:30:00Z"),
        ("1969-12-31T23:59:59Z", "1969-12-31T23:59:59Z"),
        ("2026-11-29 10:21:06Z", "2026-11-29T10:21:06Z"),
    ])
    func kubeTimeNormalisesToUTCSeconds(input: String, output: String) throws {
        let time = try #require(KubeTime(rfc3339: input))
        #expect(time.description == output)
        let decoded = try KubeJSON.decode(KubeTime.self, from: Data("\"\(input)\"".utf8))
        #expect(decoded == time)
        #expect(String(decoding: try KubeJSON.encode(decoded), as: UTF8.self) == "\"\(output)\"")
    }

    @Test(arguments: ["", "2026-11-29", "2026-11-29T10:21:06", "2026-13-01T00:00:00Z", "2026-11-29T10:21:06.Z",
        "2026-11-29T10:21:06+0200", "2026-11-29T10:21:06Zjunk", "not a time"])
    func rejectsMalformedTimes(text: String) {
        #expect(KubeTime(rfc3339: text) == nil)
        #expect(throws: DecodingError.self) { try KubeJSON.decode(KubeTime.self, from: Data("\"\(text)\"".utf8)) }
    }

    @Test(arguments: [
        ("2026-11-29T10:21:06.123456Z", "2026-11-29T10:21:06.123456Z"),
        ("2026-11-29T10:21:06.999999Z", "2026-11-29T10:21:06.999999Z"),
        ("2026-11-29T10:21:06.5+01:00", "2026-11-29T09:21:06.500000Z"),
        ("2026-11-29T10:21:06Z", "2026-11-29T10:21:06.000000Z"),
    ])
    func microTimeRoundTrips(input: String, output: String) throws {
        let time = try KubeJSON.decode(MicroTime.self, from: Data("\"\(input)\"".utf8))
        #expect(time.description == output)
        let again = try KubeJSON.decode(MicroTime.self, from: KubeJSON.encode(time))
        #expect(again == time)
        #expect(again.description == output)
    }

    /// A `Double` near 1.8e9 seconds resolves about 0.24 µs, so truncating instead of rounding
    /// lost a microsecond for half of all values (and drifted on every decode/encode cycle).
    @Test(arguments: ["2026-11-29T10:21:06", "1969-12-31T23:59:59", "2099-12-31T23:59:59"])
    func microTimeKeepsEveryMicrosecond(second: String) throws {
        for micros in Array(stride(from: 1, to: 1_000_000, by: 997)) + [2, 6, 7, 11, 654_321, 999_999] {
            let digits = String(micros)
            let text = "\(second).\(String(repeating: "0", count: 6 - digits.count))\(digits)Z"
            let time = try KubeJSON.decode(MicroTime.self, from: Data("\"\(text)\"".utf8))
            #expect(time.description == text)
            let again = try KubeJSON.decode(MicroTime.self, from: KubeJSON.encode(time))
            #expect(again == time)
        }
    }

    @Test func orderingAndTruncation() throws {
        let date = Date(timeIntervalSince1970: 1_764_411_666.75)
        #expect(KubeTime(date).date.timeIntervalSince1970 == 1_764_411_666)
        #expect(KubeTime(date) < KubeTime(date.addingTimeInterval(1)))
        #expect(MicroTime(date) < MicroTime(date.addingTimeInterval(0.001)))
        #expect(MicroTime(date).description.hasSuffix(".750000Z"))
    }
}

@Suite struct ConditionTests {
    let t0 = KubeTime(rfc3339: "2026-11-29T10:00:00Z")!
    let t1 = KubeTime(rfc3339: "2026-11-29T10:05:00Z")!
    let t2 = KubeTime(rfc3339: "2026-11-29T10:10:00Z")!

    @Test func newConditionGetsNow() {
        var conditions: [Condition] = []
        let changed = conditions.set(Condition(type: "Ready", status: .false, reason: "Starting"), now: t0)
        #expect(changed)
        #expect(conditions[type: "Ready"]?.lastTransitionTime == t0)
        #expect(conditions.count == 1)
    }

    @Test func transitionTimeMovesOnlyOnStatusChange() {
        var conditions: [Condition] = []
        conditions.set(Condition(type: "Ready", status: .false, reason: "Starting"), now: t0)

        let loading = Condition(type: "Ready", status: .false, reason: "Loading", message: "50%")
        var changed = conditions.set(loading, now: t1)
        #expect(changed)
        #expect(conditions[type: "Ready"]?.lastTransitionTime == t0, "same status keeps the transition time")
        #expect(conditions[type: "Ready"]?.reason == "Loading")
        #expect(conditions[type: "Ready"]?.message == "50%")

        changed = conditions.set(loading, now: t2)
        #expect(!changed, "an identical condition changes nothing")
        #expect(conditions[type: "Ready"]?.lastTransitionTime == t0)

        changed = conditions.set(Condition(type: "Ready", status: .true, reason: "Serving"), now: t2)
        #expect(changed)
        #expect(conditions[type: "Ready"]?.lastTransitionTime == t2)
        #expect(conditions.count == 1)
    }

    @Test func conditionsAreIndependentAndEncodeAsAPIExpects() throws {
        var conditions: [Condition] = []
        conditions.set(Condition(type: "Ready", status: .true, reason: "Serving", observedGeneration: 4), now: t0)
        conditions.set(Condition(type: "Degraded", status: .false, reason: "AsExpected"), now: t1)
        #expect(conditions.map(\.type) == ["Ready", "Degraded"])
        #expect(conditions[type: "Missing"] == nil)
        let text = String(decoding: try KubeJSON.encode(conditions[0]), as: UTF8.self)
        let expected = #"{"lastTransitionTime":"2026-11-29T10:00:00Z","message":"","observedGeneration":4,"#
            + #""reason":"Serving","status":"True","type":"Ready"}"#
        #expect(text == expected)
        #expect(try KubeJSON.decode(Condition.self, from: Data(text.utf8)) == conditions[0])
    }
}

@Suite struct DynamicObjectTests {
    let json = #"""
        {"apiVersion": "tandem.dev/v1alpha1", "kind": "InferencePool",
         "metadata": {"name": "llama", "namespace": "llm", "resourceVersion": "7", "labels": {"team": "ml"}},
         "spec": {"model": "meta-llama/Llama-3.1-8B-Instruct", "replicas": 2, "ratio": 0.5, "enabled": true,
                  "targets": [{"port": 8000}, null]},
         "status": {"phase": "Ready"}}
        """#

    @Test func roundTripsEveryField() throws {
        let object = try KubeJSON.decode(DynamicObject.self, from: Data(json.utf8))
        #expect(object.kind == "InferencePool")
        #expect(object.metadata.labels == ["team": "ml"])
        #expect(object["spec"]?["replicas"] == .int(2))
        #expect(object["spec"]?["ratio"] == .double(0.5))
        #expect(object["status"]?["phase"]?.stringValue == "Ready")
        #expect(Set(object.fields.keys) == ["spec", "status"])

        let original = try KubeJSON.decode(JSONValue.self, from: Data(json.utf8))
        let reencoded = try KubeJSON.decode(JSONValue.self, from: KubeJSON.encode(object))
        #expect(reencoded == original)
        let serialized = try #require(JSONSerialization.jsonObject(with: KubeJSON.encode(object)) as? NSDictionary)
        let expected = try #require(JSONSerialization.jsonObject(with: Data(json.utf8)) as? NSDictionary)
        #expect(serialized.isEqual(expected))
    }

    @Test func editsAndConvertsToTypedModels() throws {
        var object = try KubeJSON.decode(DynamicObject.self, from: Data(json.utf8))
        object["spec"]?["replicas"] = 3
        object["status"] = nil
        let encoded = try KubeJSON.decode(JSONValue.self, from: KubeJSON.encode(object))
        #expect(encoded["spec"]?["replicas"] == 3)
        #expect(encoded["status"] == nil)

        let configMap = ConfigMap(metadata: ObjectMeta(name: "cfg"), data: ["k": "v"])
        let dynamic = try JSONValue(encoding: configMap).decode(as: DynamicObject.self)
        #expect(dynamic.kind == "ConfigMap")
        #expect(dynamic["data"] == ["k": "v"])
        #expect(try JSONValue(encoding: dynamic).decode(as: ConfigMap.self) == configMap)
    }
}

@Suite struct IntOrStringTests {
    @Test func codesBothForms() throws {
        let values = try KubeJSON.decode([IntOrString].self, from: Data(#"[8080, "http", "25%"]"#.utf8))
        #expect(values == [.int(8080), .string("http"), "25%"])
        #expect(String(decoding: try KubeJSON.encode(values), as: UTF8.self) == #"[8080,"http","25%"]"#)
        #expect(values.map(\.description) == ["8080", "http", "25%"])
    }

    @Test func scalesPercentages() {
        #expect(IntOrString.string("25%").scaledValue(total: 10, roundUp: true) == 3)
        #expect(IntOrString.string("25%").scaledValue(total: 10, roundUp: false) == 2)
        #expect(IntOrString.string("100%").scaledValue(total: 7, roundUp: false) == 7)
        #expect(IntOrString.int(2).scaledValue(total: 10, roundUp: true) == 2)
        #expect(IntOrString.string("http").scaledValue(total: 10, roundUp: true) == nil)
    }
}
