import Foundation
import KubeClient
import KubeCore

/// What the API server serves, asked through discovery and remembered for a while: the server
/// version (which decides native sidecars) and whether a group/version is served (the Gateway
/// API Inference Extension may be installed after the operator starts, or removed).
public actor APIDiscovery {
    let client: KubernetesClient
    /// How long a "not served" answer stands before discovery is asked again: the pool is also
    /// requeued after this long, so installing the CRDs is noticed without a restart.
    public let absentTTL: Duration
    /// How long a "served" answer stands (a removed CRD is noticed within this).
    public let presentTTL: Duration
    private var answers: [String: (served: Bool, at: ContinuousClock.Instant)] = [:]
    private var version: (major: Int, minor: Int)?

    public init(client: KubernetesClient, absentTTL: Duration = .seconds(30), presentTTL: Duration = .seconds(300)) {
        self.client = client
        self.absentTTL = absentTTL
        self.presentTTL = presentTTL
    }

    /// Whether the server serves `groupVersion` (`inference.networking.k8s.io/v1`).
    ///
    /// - Throws: when discovery itself fails (not for a plain 404).
    public func serves(_ groupVersion: String) async throws -> Bool {
        let now = ContinuousClock.now
        if let known = answers[groupVersion], now - known.at < (known.served ? presentTTL : absentTTL) {
            return known.served
        }
        let served: Bool
        do {
            _ = try await client.send(method: .GET, path: "/apis/\(groupVersion)")
            served = true
        } catch let error as APIError where error.code == 404 {
            served = false
        }
        answers[groupVersion] = (served, now)
        return served
    }

    /// Forgets what was learned of `groupVersion` (an apply answered 404: the CRD went away).
    public func forget(_ groupVersion: String) {
        answers[groupVersion] = nil
    }

    /// The API server's major and minor version (`/version`), asked once.
    public func serverVersion() async throws -> (major: Int, minor: Int) {
        if let version { return version }
        let response = try await client.send(method: .GET, path: "/version")
        let info = try JSONDecoder().decode(JSONValue.self, from: Data(response.body.readableBytesView))
        // Minor versions of some distributions carry a suffix ("29+").
        func number(_ key: String) -> Int? {
            info[key]?.stringValue.flatMap { Int($0.prefix { $0.isNumber }) }
        }
        guard let major = number("major"), let minor = number("minor") else {
            throw KubeClientError.decoding(method: "GET", path: "/version", type: "version.Info", underlying: "no major/minor in \(info)")
        }
        version = (major, minor)
        return (major, minor)
    }
}
