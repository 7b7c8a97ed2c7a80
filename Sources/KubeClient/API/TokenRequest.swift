import Foundation
import KubeCore

extension KubernetesClient {
    /// A token for ServiceAccount `namespace/name` from the TokenRequest API (what a kubelet
    /// projects into a pod): needs `create` on `serviceaccounts/token`.
    ///
    /// - Parameters:
    ///   - audiences: absent: the API server's own audience.
    ///   - expirationSeconds: the API server's minimum is 600.
    /// - Throws: ``APIError`` (the account does not exist, or the caller may not ask), or
    ///   ``KubeClientError/decoding(method:path:type:underlying:)`` when the answer has no token.
    public func requestToken(namespace: String, serviceAccount name: String, audiences: [String]? = nil,
                             expirationSeconds: Int64 = 3600) async throws -> String {
        var spec: [String: JSONValue] = ["expirationSeconds": .int(expirationSeconds)]
        if let audiences { spec["audiences"] = .array(audiences.map { .string($0) }) }
        let request: JSONValue = ["apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": .object(spec)]
        let path = "/api/v1/namespaces/\(namespace)/serviceaccounts/\(name)/token"
        let response = try await send(method: .POST, path: path, body: Array(try KubeJSON.encode(request)))
        let answer = try KubeJSON.decode(JSONValue.self, from: Data(response.body.readableBytesView))
        guard let token = answer["status"]?["token"]?.stringValue, !token.isEmpty else {
            throw KubeClientError.decoding(method: "POST", path: path, type: "TokenRequest", underlying: "no status.token in the answer")
        }
        return token
    }

    /// A client for the same API server that authenticates with `token` alone (no client
    /// certificate): acts as whoever the token names.
    public func authenticating(withToken token: String) throws -> KubernetesClient {
        var configuration = self.configuration
        configuration.clientCertificatePEM = nil
        configuration.clientKeyPEM = nil
        configuration.credentials = .bearerToken(token)
        return try KubernetesClient(configuration: configuration, logger: logger)
    }
}
