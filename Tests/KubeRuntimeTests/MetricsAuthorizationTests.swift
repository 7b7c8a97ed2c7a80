import Foundation
import NIOSSL
import Testing

@testable import KubeRuntime

@Suite("Secure /metrics: pure parts")
struct MetricsAuthorizationTests {
    @Test func bearerTokensAreParsedStrictly() {
        #expect(MetricsAuthorizer.bearerToken(from: "Bearer abc.def") == "abc.def")
        #expect(MetricsAuthorizer.bearerToken(from: "bearer  abc") == "abc")
        #expect(MetricsAuthorizer.bearerToken(from: nil) == nil)
        #expect(MetricsAuthorizer.bearerToken(from: "Basic dXNlcjpwdw==") == nil)
        #expect(MetricsAuthorizer.bearerToken(from: "Bearer ") == nil)
        #expect(MetricsAuthorizer.bearerToken(from: "Bearer") == nil)
    }

    @Test func accessMapsToTheStatusCodes() {
        #expect(MetricsAccess.allowed(user: "u").statusCode == 200)
        #expect(MetricsAccess.unauthenticated(reason: "").statusCode == 401)
        #expect(MetricsAccess.forbidden(user: "u", reason: "").statusCode == 403)
        #expect(MetricsAccess.failed(reason: "").statusCode == 500)
    }

    @Test func cachedAnswersExpireAndTheCacheIsBounded() {
        var cache = ReviewCache<Bool>(capacity: 2)
        cache.store("a", true, ttl: .seconds(30), now: .zero)
        #expect(cache.lookup("a", now: .seconds(29)) == true)
        #expect(cache.lookup("a", now: .seconds(30)) == nil)
        cache.store("b", false, ttl: .seconds(300), now: .seconds(1))
        cache.store("c", true, ttl: .seconds(300), now: .seconds(2))
        // "a" was the oldest: it made room.
        #expect(cache.count == 2)
        #expect(cache.lookup("a", now: .seconds(3)) == nil)
        #expect(cache.lookup("b", now: .seconds(3)) == false)
        #expect(cache.lookup("c", now: .seconds(3)) == true)
        // Controller-runtime's TTLs: denials shorter than grants.
        #expect(MetricsAuthorizer.denyTTL < MetricsAuthorizer.allowTTL)
    }

    @Test func aSelfSignedCertificateLoadsIntoNIOSSL() throws {
        let certificate = try ServingCertificate.selfSigned(hosts: ["localhost", "127.0.0.1"])
        #expect(certificate.certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----"))
        #expect(certificate.privateKeyPEM.contains("PRIVATE KEY"))
        let parsed = try NIOSSLCertificate.fromPEMBytes(Array(certificate.certificatePEM.utf8))
        #expect(parsed.count == 1)
        _ = try certificate.tlsConfiguration()
    }
}
