import Foundation
import KubeCore
import NIOCore
import NIOHTTP1
import Testing

@testable import KubeClient

@Suite("API error decoding")
struct ErrorDecodingTests {
    let client: KubernetesClient

    init() throws {
        client = try KubernetesClient(configuration: ClientConfiguration(server: "https://127.0.0.1:1"))
    }

    func decode(_ code: Int, _ body: String, method: HTTPMethod = .PUT) -> APIError {
        client.apiError(code: code, headers: [:], body: ByteBuffer(string: body), method: method, path: "/api/v1/x")
    }

    @Test func invalidWithFieldCauses() {
        let error = decode(422, """
            {"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
             "message":"ConfigMap \\"Bad_Name\\" is invalid: metadata.name: Invalid value: \\"Bad_Name\\": a lowercase RFC 1123 subdomain must consist of ...",
             "reason":"Invalid","details":{"name":"Bad_Name","kind":"ConfigMap","causes":[
               {"reason":"FieldValueInvalid","message":"Invalid value: \\"Bad_Name\\": a lowercase RFC 1123 subdomain","field":"metadata.name"}]},
             "code":422}
            """)
        #expect(error.reason == .invalid)
        #expect(error.code == 422)
        #expect(error.causes.map(\.field) == ["metadata.name"])
        #expect(error.causes.first?.reason == "FieldValueInvalid")
        #expect(error.description.contains("metadata.name"))
    }

    @Test func conflictAlreadyExistsNotFoundGoneAreDistinct() {
        let conflict = decode(409, #"{"kind":"Status","status":"Failure","reason":"Conflict","code":409,"message":"the object has been modified"}"#)
        let exists = decode(409, #"{"kind":"Status","status":"Failure","reason":"AlreadyExists","code":409}"#, method: .POST)
        let missing = decode(404, #"{"kind":"Status","status":"Failure","reason":"NotFound","code":404,"details":{"name":"x","kind":"configmaps"}}"#)
        let gone = decode(410, #"{"kind":"Status","status":"Failure","reason":"Expired","code":410,"message":"too old resource version: 1 (5)"}"#)
        #expect(conflict.reason == .conflict)
        #expect(exists.reason == .alreadyExists)
        #expect(missing.reason == .notFound)
        #expect(gone.reason == .gone)
        #expect(Set([conflict.reason, exists.reason, missing.reason, gone.reason]).count == 4)
        #expect(conflict.hint?.contains("read it again") == true)
    }

    @Test func nonStatusBodyKeepsCodeAndText() {
        let error = decode(503, "upstream connect error")
        #expect(error.reason == .serverError)
        #expect(error.code == 503)
        #expect(error.status.message == "upstream connect error")
        #expect(error.status.reason == "ServiceUnavailable")
    }

    @Test func goneFromWatchErrorEvent() throws {
        let line = #"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (20)","reason":"Expired","code":410}}"#
        let event = try KubeJSON.decode(WatchEvent<DynamicObject>.self, from: Data(line.utf8))
        guard case .error(let status) = event else {
            Issue.record("expected an ERROR event, got \(event.type)")
            return
        }
        #expect(APIError(status: status, method: "WATCH", path: "/x").reason == .gone)
    }

    @Test func retryRules() {
        #expect(KubernetesClient.isRetriable(code: 429, method: .POST, contentType: "application/json", hasRetryAfter: false))
        #expect(KubernetesClient.isRetriable(code: 503, method: .GET, contentType: "application/json", hasRetryAfter: false))
        #expect(!KubernetesClient.isRetriable(code: 500, method: .POST, contentType: "application/json", hasRetryAfter: false))
        #expect(KubernetesClient.isRetriable(code: 500, method: .POST, contentType: "application/json", hasRetryAfter: true))
        #expect(KubernetesClient.isRetriable(code: 500, method: .PATCH, contentType: PatchType.apply.contentType, hasRetryAfter: false))
        #expect(!KubernetesClient.isRetriable(code: 409, method: .GET, contentType: "application/json", hasRetryAfter: true))
        let policy = RetryPolicy(maxRetries: 3, initialBackoff: .milliseconds(100), maxBackoff: .seconds(2))
        #expect(policy.delay(attempt: 0, retryAfterSeconds: 1, jitter: 0) == .seconds(1))
        #expect(policy.delay(attempt: 0, retryAfterSeconds: 30, jitter: 0) == .seconds(2))
        #expect(policy.delay(attempt: 2, retryAfterSeconds: nil, jitter: 0) == .milliseconds(400))
        #expect(policy.delay(attempt: 10, retryAfterSeconds: nil, jitter: 1) == .seconds(3))
    }

    @Test func queryEscaping() {
        #expect(KubernetesClient.encode(query: [("labelSelector", "a=b,c in (x,y),!d")])
            == "?labelSelector=a%3Db%2Cc%20in%20%28x%2Cy%29%2C%21d")
        #expect(KubernetesClient.encode(query: []) == "")
    }
}
