import Foundation
import NIOConcurrencyHelpers

/// Supplies the `Authorization` header, re-reading a token file when it may have rotated.
final class TokenSource: Sendable {
    private struct Cached {
        var token: String?
        var readAt: ContinuousClock.Instant?
    }

    private let credentials: ClientConfiguration.Credentials
    private let cache = NIOLockedValueBox(Cached())

    init(_ credentials: ClientConfiguration.Credentials) {
        self.credentials = credentials
    }

    /// Whether a 401 may be cured by reading the credentials again.
    var canRefresh: Bool {
        if case .tokenFile = credentials { return true }
        return false
    }

    /// The header value, or `nil` when requests carry no credentials beyond a client certificate.
    ///
    /// - Parameter forceReload: re-read a token file even if the cached copy is fresh (after a 401).
    func authorization(forceReload: Bool = false) throws -> String? {
        switch credentials {
        case .none:
            return nil
        case .bearerToken(let token):
            return "Bearer \(token)"
        case .basic(let username, let password):
            return "Basic \(Data("\(username):\(password)".utf8).base64EncodedString())"
        case .tokenFile(let path, let refreshInterval):
            let now = ContinuousClock.now
            return try cache.withLockedValue { cached in
                if !forceReload, let token = cached.token, let readAt = cached.readAt, now - readAt < refreshInterval {
                    return "Bearer \(token)"
                }
                guard let data = FileManager.default.contents(atPath: path),
                    let text = String(data: data, encoding: .utf8)
                else {
                    // Keep serving the last good token while a rotation is half-written.
                    if let token = cached.token { return "Bearer \(token)" }
                    throw KubeClientError.configuration("cannot read the token file \(path)")
                }
                let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !token.isEmpty else {
                    if let old = cached.token { return "Bearer \(old)" }
                    throw KubeClientError.configuration("the token file \(path) is empty")
                }
                cached = Cached(token: token, readAt: now)
                return "Bearer \(token)"
            }
        }
    }
}
