import Foundation
import KubeCore
import Yams

/// A kubeconfig file (`kind: Config`), as kubectl reads it.
///
/// Only the fields Tandem's client acts on are modelled; others are ignored when reading.
/// Relative file paths (`certificate-authority`, `client-certificate`, `client-key`,
/// `tokenFile`) are resolved against the directory of the file they came from, as kubectl does.
public struct Kubeconfig: Codable, Sendable, Equatable {
    public var clusters: [NamedCluster]
    public var users: [NamedUser]
    public var contexts: [NamedContext]
    public var currentContext: String?

    public init(clusters: [NamedCluster] = [], users: [NamedUser] = [], contexts: [NamedContext] = [],
                currentContext: String? = nil) {
        self.clusters = clusters
        self.users = users
        self.contexts = contexts
        self.currentContext = currentContext
    }

    enum CodingKeys: String, CodingKey {
        case clusters, users, contexts
        case currentContext = "current-context"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        clusters = try container.decodeIfPresent([NamedCluster].self, forKey: .clusters) ?? []
        users = try container.decodeIfPresent([NamedUser].self, forKey: .users) ?? []
        contexts = try container.decodeIfPresent([NamedContext].self, forKey: .contexts) ?? []
        currentContext = try container.decodeIfPresent(String.self, forKey: .currentContext)
    }

    public struct NamedCluster: Codable, Sendable, Equatable {
        public var name: String
        public var cluster: Cluster
        public init(name: String, cluster: Cluster) {
            self.name = name
            self.cluster = cluster
        }
    }

    public struct Cluster: Codable, Sendable, Equatable {
        public var server: String?
        public var certificateAuthority: String?
        /// Base64 of PEM.
        public var certificateAuthorityData: String?
        public var insecureSkipTLSVerify: Bool?
        public var tlsServerName: String?

        public init(server: String? = nil, certificateAuthority: String? = nil, certificateAuthorityData: String? = nil,
                    insecureSkipTLSVerify: Bool? = nil) {
            self.server = server
            self.certificateAuthority = certificateAuthority
            self.certificateAuthorityData = certificateAuthorityData
            self.insecureSkipTLSVerify = insecureSkipTLSVerify
        }

        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
            case tlsServerName = "tls-server-name"
        }
    }

    public struct NamedUser: Codable, Sendable, Equatable {
        public var name: String
        public var user: User
        public init(name: String, user: User) {
            self.name = name
            self.user = user
        }
    }

    public struct User: Codable, Sendable, Equatable {
        public var token: String?
        public var tokenFile: String?
        public var clientCertificate: String?
        /// Base64 of PEM.
        public var clientCertificateData: String?
        public var clientKey: String?
        /// Base64 of PEM.
        public var clientKeyData: String?
        public var username: String?
        public var password: String?
        /// Present when the user authenticates through an exec plugin (not supported: reported).
        public var exec: JSONValue?
        /// Present for legacy auth-provider plugins (not supported: reported).
        public var authProvider: JSONValue?

        public init(token: String? = nil, tokenFile: String? = nil, clientCertificate: String? = nil,
                    clientCertificateData: String? = nil, clientKey: String? = nil, clientKeyData: String? = nil) {
            self.token = token
            self.tokenFile = tokenFile
            self.clientCertificate = clientCertificate
            self.clientCertificateData = clientCertificateData
            self.clientKey = clientKey
            self.clientKeyData = clientKeyData
        }

        enum CodingKeys: String, CodingKey {
            case token, tokenFile, username, password, exec
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
            case authProvider = "auth-provider"
        }
    }

    public struct NamedContext: Codable, Sendable, Equatable {
        public var name: String
        public var context: Context
        public init(name: String, context: Context) {
            self.name = name
            self.context = context
        }
    }

    public struct Context: Codable, Sendable, Equatable {
        public var cluster: String
        public var user: String?
        public var namespace: String?
        public init(cluster: String, user: String? = nil, namespace: String? = nil) {
            self.cluster = cluster
            self.user = user
            self.namespace = namespace
        }
    }

    /// Parses one kubeconfig document.
    ///
    /// - Parameter baseDirectory: where relative file paths in it point from.
    public static func parse(_ text: String, baseDirectory: String? = nil) throws -> Kubeconfig {
        var config: Kubeconfig
        do {
            config = try YAMLDecoder().decode(Kubeconfig.self, from: text)
        } catch {
            throw KubeClientError.configuration("the kubeconfig is not valid YAML of kind Config: \(error)")
        }
        if let baseDirectory { config.resolvePaths(relativeTo: baseDirectory) }
        return config
    }

    /// Reads one kubeconfig file, resolving its relative paths against its directory.
    public static func load(path: String) throws -> Kubeconfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw KubeClientError.configuration("cannot read kubeconfig \(path): \(error.localizedDescription)")
        }
        do {
            return try parse(text, baseDirectory: (path as NSString).deletingLastPathComponent)
        } catch let KubeClientError.configuration(message) {
            throw KubeClientError.configuration("\(path): \(message)")
        }
    }

    /// Reads the files named by a `KUBECONFIG`-style list (`:`-separated) and merges them the way
    /// kubectl does: the first file to set a value or a named entry wins; missing files are
    /// skipped; empty entries are ignored.
    public static func load(pathList: String) throws -> Kubeconfig {
        let paths = pathList.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        var merged = Kubeconfig()
        var readAny = false
        for path in paths where FileManager.default.fileExists(atPath: path) {
            merged.merge(try load(path: path))
            readAny = true
        }
        guard readAny else {
            throw KubeClientError.configuration("none of the kubeconfig files exist: \(paths.joined(separator: ", "))")
        }
        return merged
    }

    /// Merges `other` under `self`: entries and values already set here win (kubectl's rule).
    public mutating func merge(_ other: Kubeconfig) {
        for entry in other.clusters where !clusters.contains(where: { $0.name == entry.name }) {
            clusters.append(entry)
        }
        for entry in other.users where !users.contains(where: { $0.name == entry.name }) {
            users.append(entry)
        }
        for entry in other.contexts where !contexts.contains(where: { $0.name == entry.name }) {
            contexts.append(entry)
        }
        if currentContext?.isEmpty ?? true { currentContext = other.currentContext }
    }

    mutating func resolvePaths(relativeTo base: String) {
        func resolve(_ path: String?) -> String? {
            guard let path, !path.isEmpty, !path.hasPrefix("/") else { return path }
            return (base as NSString).appendingPathComponent(path)
        }
        for index in clusters.indices {
            clusters[index].cluster.certificateAuthority = resolve(clusters[index].cluster.certificateAuthority)
        }
        for index in users.indices {
            users[index].user.clientCertificate = resolve(users[index].user.clientCertificate)
            users[index].user.clientKey = resolve(users[index].user.clientKey)
            users[index].user.tokenFile = resolve(users[index].user.tokenFile)
        }
    }
}
