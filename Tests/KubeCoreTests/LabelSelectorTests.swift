import Foundation
import Testing

import KubeCore

@Suite struct LabelSelectorTests {
    let labels = ["app": "vllm", "tier": "serving", "gpu": "h100"]

    @Test func emptySelectorMatchesEverything() {
        #expect(LabelSelector().matches([:]))
        #expect(LabelSelector().matches(labels))
        #expect(LabelSelector(matchLabels: [:], matchExpressions: []).isEmpty)
        #expect(LabelSelector().selectorString == "")
    }

    @Test func matchLabelsMustAllMatch() {
        #expect(LabelSelector(matchLabels: ["app": "vllm"]).matches(labels))
        #expect(LabelSelector(matchLabels: ["app": "vllm", "tier": "serving"]).matches(labels))
        #expect(!LabelSelector(matchLabels: ["app": "vllm", "tier": "batch"]).matches(labels))
        #expect(!LabelSelector(matchLabels: ["missing": ""]).matches(labels))
    }

    @Test func expressionOperators() {
        func matches(_ op: LabelSelectorOperator, _ key: String, _ values: [String]? = nil) -> Bool {
            LabelSelector(matchExpressions: [.init(key: key, operator: op, values: values)]).matches(labels)
        }
        #expect(matches(.in, "gpu", ["a100", "h100"]))
        #expect(!matches(.in, "gpu", ["a100"]))
        #expect(!matches(.in, "missing", ["x"]))
        #expect(matches(.notIn, "gpu", ["a100"]))
        #expect(!matches(.notIn, "gpu", ["h100"]))
        #expect(matches(.notIn, "missing", ["x"]), "NotIn matches when the key is absent")
        #expect(matches(.exists, "app"))
        #expect(!matches(.exists, "missing"))
        #expect(matches(.doesNotExist, "missing"))
        #expect(!matches(.doesNotExist, "app"))
    }

    @Test func selectorStringIsSortedByKey() {
        let selector = LabelSelector(
            matchLabels: ["a": "b"],
            matchExpressions: [
                .init(key: "f", operator: .doesNotExist),
                .init(key: "c", operator: .in, values: ["y", "x"]),
                .init(key: "e", operator: .exists),
                .init(key: "d", operator: .notIn, values: ["z"]),
            ])
        #expect(selector.selectorString == "a=b,c in (x,y),d notin (z),e,!f")
    }

    @Test func parsesEveryOperator() throws {
        let selector = try LabelSelector(parsing: "a=b, c!=d, e in (x, y), !f, g, h==i, j notin (k)")
        #expect(selector.matchLabels == ["a": "b", "h": "i"])
        #expect(
            selector.matchExpressions == [
                .init(key: "c", operator: .notIn, values: ["d"]),
                .init(key: "e", operator: .in, values: ["x", "y"]),
                .init(key: "f", operator: .doesNotExist),
                .init(key: "g", operator: .exists),
                .init(key: "j", operator: .notIn, values: ["k"]),
            ])
        #expect(selector.selectorString == "a=b,c notin (d),e in (x,y),!f,g,h=i,j notin (k)")
        #expect(selector.matches(["a": "b", "h": "i", "e": "y", "g": ""]))
        #expect(!selector.matches(["a": "b", "h": "i", "e": "y", "g": "", "c": "d"]))
    }

    @Test(arguments: [
        "a=b,c in (x,y),d notin (z),e,!f",
        "app.kubernetes.io/name=vllm,tandem.dev/pool in (a,b)",
        "x=",
        "",
        "!example.com/gone",
    ])
    func roundTrips(text: String) throws {
        let selector = try LabelSelector(parsing: text)
        #expect(selector.selectorString == text)
        #expect(try LabelSelector(parsing: selector.selectorString) == selector)
        let decoded = try KubeJSON.decode(LabelSelector.self, from: KubeJSON.encode(selector))
        #expect(decoded == selector)
    }

    @Test func emptyValueAndRepeatedKeys() throws {
        let empty = try LabelSelector(parsing: "a=")
        #expect(empty.matchLabels == ["a": ""])
        #expect(empty.matches(["a": ""]))
        #expect(!empty.matches([:]))

        let repeated = try LabelSelector(parsing: "a=b,a=c")
        #expect(repeated.matchLabels == ["a": "b"])
        #expect(repeated.matchExpressions == [.init(key: "a", operator: .in, values: ["c"])])
        #expect(!repeated.matches(["a": "b"]))
        #expect(!repeated.matches(["a": "c"]))
    }

    @Test(arguments: [
        ("a in ()", 5, "at least one value"),
        ("a in (x", 7, "expected \",\" or \")\""),
        ("a in x", 5, "expected \"(\""),
        ("a=b,", 4, "expected a requirement"),
        ("!", 1, "expected a label key"),
        ("a b", 2, "after key \"a\""),
        ("a<3", 1, "cannot be expressed"),
        ("=b", 0, "expected a label key"),
        ("a=b c", 4, "expected \",\" or the end"),
        ("-bad=x", 0, "invalid key \"-bad\""),
        ("Upper.Case/x=y", 0, "prefix must be a lower-case DNS subdomain"),
        ("a=b@c", 2, "invalid value \"b@c\""),
    ])
    func rejectsMalformedSelectors(text: String, offset: Int, reason: String) {
        do {
            let selector = try LabelSelector(parsing: text)
            Issue.record("parsed \(text) as \(selector)")
        } catch {
            #expect(error.text == text)
            #expect(error.offset == offset)
            #expect(error.reason.contains(reason), "\(error)")
            #expect(error.description.contains(text))
        }
    }

    @Test func decodesFromAPIJSON() throws {
        let json = #"""
            {"matchLabels": {"app": "vllm"},
             "matchExpressions": [{"key": "gpu", "operator": "NotIn", "values": ["t4"]},
                                  {"key": "zone", "operator": "Exists"}]}
            """#
        let selector = try KubeJSON.decode(LabelSelector.self, from: Data(json.utf8))
        #expect(selector.matchExpressions?.first?.operator == .notIn)
        #expect(selector.matchExpressions?.last?.values == nil)
        #expect(selector.selectorString == "app=vllm,gpu notin (t4),zone")
        let encoded = String(decoding: try KubeJSON.encode(selector.matchExpressions![1]), as: UTF8.self)
        #expect(encoded == #"{"key":"zone","operator":"Exists"}"#)
    }
}
