import Foundation
import KubeCore
import Logging

/// Everything needed to talk to one API server: where, how to trust it, who we are.
///
/// Build one from a kubeconfig (``fromKubeconfig(path:context:environment:)``), from inside a
/// pod (``inCluster(root:environment:)``), or by hand for tests.
public struct ClientConfiguration: Sendable {
    /// The API server's base URL, `https://127.0.0.1:6443`.
    public var server: String
    /// PEM bytes of the certificate authorities to trust; `nil` uses the system's trust store.
    public var certificateAuthorityPEM: [UInt8]?
    /// Skips verifying the server's certificate. Only for throw-away clusters.
    public var insecureSkipTLSVerify: Bool
    /// PEM bytes of a client certificate chain and its key, for certificate authentication.
    public var clientCertificatePEM: [UInt8]?
    public var clientKeyPEM: [UInt8]?
    /// How requests authenticate beyond the client certificate.
    public var credentials: Credentials
    /// The namespace of the context (or of the pod, in-cluster); `default` when none is set.
    public var namespace: String
    /// Sent as `User-Agent`. The operator sends `tandem/<identity>` (its leader-election
    /// identity), so an audit log tells two operator processes apart (``userAgent(identity:)``).
    public var userAgent: String
    /// Consulted before every request that may change state (any method but GET and HEAD) is
    /// sent, and before each of its retries; throwing stops the request unsent and is what the
    /// request throws. Leader election installs one so that no write leaves a process after its
    /// term ended (KubeRuntime's `LeadershipFence`). `nil`: every write is sent.
    public var writeGate: (@Sendable (_ method: String, _ path: String) throws -> Void)?
    /// Retries of 429 and 5xx answers.
    public var retry: RetryPolicy
    /// Time allowed for a non-watch request to get its response head.
    public var requestTimeout: Duration
    /// A watch that receives no bytes for this long is closed with
    /// ``KubeClientError/watchIdle(resource:after:)``. Keep it above the watch's server timeout.
    public var watchIdleTimeout: Duration

    public init(
        server: String, certificateAuthorityPEM: [UInt8]? = nil, insecureSkipTLSVerify: Bool = false,
        clientCertificatePEM: [UInt8]? = nil, clientKeyPEM: [UInt8]? = nil, credentials: Credentials = .none,
        namespace: String = "default", userAgent: String = "tandem", retry: RetryPolicy = RetryPolicy(),
        // client-go's default request timeout is unbounded; one minute bounds a stuck connection.
        requestTimeout: Duration = .seconds(60),
        // Above the 290 s server-side watch timeout Tandem asks for, so only a dead stream trips it.
        watchIdleTimeout: Duration = .seconds(330)
    ) {
        self.server = server
        self.certificateAuthorityPEM = certificateAuthorityPEM
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.clientCertificatePEM = clientCertificatePEM
        self.clientKeyPEM = clientKeyPEM
        self.credentials = credentials
        self.namespace = namespace
        self.userAgent = userAgent
        self.retry = retry
        self.requestTimeout = requestTimeout
        self.watchIdleTimeout = watchIdleTimeout
        self.writeGate = nil
    }

    /// `tandem/<identity>`: the User-Agent of an operator process with this identity.
    public static func userAgent(identity: String) -> String {
        "tandem/\(identity)"
    }

    /// The warning logged for a kubeconfig cluster with `insecure-skip-tls-verify: true`.
    public static func insecureSkipTLSVerifyWarning(cluster: String, server: String, source: String) -> String {
        "cluster \"\(cluster)\" (\(server)) in \(source) sets insecure-skip-tls-verify: the API server's certificate is not verified, so anyone on the path can impersonate it and read every token sent; set certificate-authority(-data) instead"
    }

    /// How a request proves who it is, besides a client certificate.
    public enum Credentials: Sendable {
        case none
        /// A fixed bearer token.
        case bearerToken(String)
        /// A bearer token read from a file, re-read every `refreshInterval` and after a 401, so a
        /// rotated token (a projected service-account token, a refreshed kubeconfig token) is
        /// picked up without a restart.
        case tokenFile(path: String, refreshInterval: Duration)
        case basic(username: String, password: String)
    }

    /// client-go's cachingTokenSource re-reads a token file once a minute.
    public static let defaultTokenRefreshInterval: Duration = .seconds(60)

    /// Loads a configuration from kubeconfig files.
    ///
    /// - Parameters:
    ///   - path: a file or a `:`-separated list; `nil` reads `$KUBECONFIG`, then `~/.kube/config`.
    ///   - context: a named context; `nil` uses `current-context`.
    ///   - environment: the process environment (injectable for tests).
    /// - Throws: ``KubeClientError/configuration(_:)`` naming the file, context or field at fault.
    public static func fromKubeconfig(
        path: String? = nil, context: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        logger: Logger = Logger(label: "kube.client.config")
    ) throws -> ClientConfiguration {
        let pathList = path ?? environment["KUBECONFIG"].flatMap { $0.isEmpty ? nil : $0 }
            ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.kube/config")
        return try fromKubeconfig(try Kubeconfig.load(pathList: pathList), context: context, source: pathList, logger: logger)
    }

    /// Builds a configuration from an already-loaded (possibly merged) kubeconfig.
    ///
    /// - Parameter logger: receives a warning when the cluster sets `insecure-skip-tls-verify`.
    public static func fromKubeconfig(_ config: Kubeconfig, context: String? = nil, source: String = "kubeconfig",
                                      logger: Logger = Logger(label: "kube.client.config"))
        throws -> ClientConfiguration
    {
        guard let contextName = context ?? config.currentContext, !contextName.isEmpty else {
            throw KubeClientError.configuration(
                "\(source) sets no current-context and none was given: pass a context name or run `kubectl config use-context NAME`")
        }
        guard let namedContext = config.contexts.first(where: { $0.name == contextName }) else {
            throw KubeClientError.configuration(
                "\(source) has no context \"\(contextName)\" (it has: \(config.contexts.map(\.name).joined(separator: ", ")))")
        }
        let ctx = namedContext.context
        guard let cluster = config.clusters.first(where: { $0.name == ctx.cluster })?.cluster else {
            throw KubeClientError.configuration("context \"\(contextName)\" names cluster \"\(ctx.cluster)\", which \(source) does not define")
        }
        guard let server = cluster.server, !server.isEmpty else {
            throw KubeClientError.configuration("cluster \"\(ctx.cluster)\" in \(source) has no server URL")
        }
        var user = Kubeconfig.User()
        if let userName = ctx.user, !userName.isEmpty {
            guard let found = config.users.first(where: { $0.name == userName })?.user else {
                throw KubeClientError.configuration("context \"\(contextName)\" names user \"\(userName)\", which \(source) does not define")
            }
            user = found
        }
        if user.exec != nil || user.authProvider != nil {
            throw KubeClientError.configuration(
                "user \"\(ctx.user ?? "")\" in \(source) authenticates with an exec or auth-provider plugin, which Tandem does not run: use a token, tokenFile or client certificate")
        }

        var configuration = ClientConfiguration(server: server)
        configuration.insecureSkipTLSVerify = cluster.insecureSkipTLSVerify ?? false
        if configuration.insecureSkipTLSVerify {
            logger.warning("\(insecureSkipTLSVerifyWarning(cluster: ctx.cluster, server: server, source: source))")
        }
        configuration.certificateAuthorityPEM = try pem(
            data: cluster.certificateAuthorityData, file: cluster.certificateAuthority, what: "certificate-authority")
        configuration.clientCertificatePEM = try pem(
            data: user.clientCertificateData, file: user.clientCertificate, what: "client-certificate")
        configuration.clientKeyPEM = try pem(data: user.clientKeyData, file: user.clientKey, what: "client-key")
        if (configuration.clientCertificatePEM == nil) != (configuration.clientKeyPEM == nil) {
            throw KubeClientError.configuration(
                "user \"\(ctx.user ?? "")\" in \(source) has a client certificate without a key or a key without a certificate")
        }
        if let token = user.token, !token.isEmpty {
            configuration.credentials = .bearerToken(token)
        } else if let tokenFile = user.tokenFile, !tokenFile.isEmpty {
            configuration.credentials = .tokenFile(path: tokenFile, refreshInterval: defaultTokenRefreshInterval)
        } else if let username = user.username, let password = user.password {
            configuration.credentials = .basic(username: username, password: password)
        }
        if let namespace = ctx.namespace, !namespace.isEmpty { configuration.namespace = namespace }
        return configuration
    }

    /// The service-account folder every pod gets.
    public static let serviceAccountRoot = "/var/run/secrets/kubernetes.io/serviceaccount"

    /// Loads the configuration a pod gets: `KUBERNETES_SERVICE_HOST`/`_PORT` and the mounted
    /// service-account token (re-read as it rotates), CA and namespace.
    ///
    /// - Parameters:
    ///   - root: the folder holding `token`, `ca.crt` and `namespace`.
    ///   - environment: the process environment (injectable for tests).
    public static func inCluster(
        root: String = serviceAccountRoot, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> ClientConfiguration {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty,
            let port = environment["KUBERNETES_SERVICE_PORT"], !port.isEmpty
        else {
            throw KubeClientError.configuration(
                "not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set (use a kubeconfig instead)")
        }
        let tokenPath = root + "/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw KubeClientError.configuration("in-cluster: no service-account token at \(tokenPath); is automountServiceAccountToken off?")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host  // IPv6 literals need brackets.
        var configuration = ClientConfiguration(server: "https://\(hostPart):\(port)")
        configuration.credentials = .tokenFile(path: tokenPath, refreshInterval: defaultTokenRefreshInterval)
        configuration.certificateAuthorityPEM = try pem(data: nil, file: root + "/ca.crt", what: "in-cluster ca.crt")
        if let namespace = try? String(contentsOfFile: root + "/namespace", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines), !namespace.isEmpty
        {
            configuration.namespace = namespace
        }
        return configuration
    }

    /// In-cluster when `KUBERNETES_SERVICE_HOST` is set, else the kubeconfig (kube-rs' `infer`).
    public static func infer(environment: [String: String] = ProcessInfo.processInfo.environment) throws
        -> ClientConfiguration
    {
        if environment["KUBECONFIG"] == nil, environment["KUBERNETES_SERVICE_HOST"] != nil {
            return try inCluster(environment: environment)
        }
        return try fromKubeconfig(environment: environment)
    }

    private static func pem(data: String?, file: String?, what: String) throws -> [UInt8]? {
        if let data, !data.isEmpty {
            guard let decoded = Data(base64Encoded: data, options: .ignoreUnknownCharacters) else {
                throw KubeClientError.configuration("\(what)-data is not valid base64")
            }
            return Array(decoded)
        }
        if let file, !file.isEmpty {
            guard let contents = FileManager.default.contents(atPath: file) else {
                throw KubeClientError.configuration("cannot read \(what) file \(file)")
            }
            return Array(contents)
        }
        return nil
    }
}

/// How failed requests are retried.
///
/// 429 (Too Many Requests) is retried for every verb: the server refused before doing anything.
/// 5xx answers are retried for reads, for PUT (guarded by resourceVersion) and for apply
/// (idempotent); a POST, DELETE or non-apply PATCH is retried on 5xx only when the server sent
/// `Retry-After`. The delay is `Retry-After` when given, else exponential with jitter.
public struct RetryPolicy: Sendable {
    /// Attempts after the first. client-go retries at most 10 times when Retry-After is sent.
    public var maxRetries: Int
    public var initialBackoff: Duration
    public var maxBackoff: Duration

    public init(maxRetries: Int = 5, initialBackoff: Duration = .milliseconds(200), maxBackoff: Duration = .seconds(10)) {
        self.maxRetries = maxRetries
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    /// No retries at all.
    public static let none = RetryPolicy(maxRetries: 0)

    /// The delay before retry number `attempt` (0-based), honouring a `Retry-After` in seconds.
    public func delay(attempt: Int, retryAfterSeconds: Int?, jitter: Double = Double.random(in: 0..<1)) -> Duration {
        if let retryAfterSeconds, retryAfterSeconds > 0 {
            return min(.seconds(retryAfterSeconds), maxBackoff)
        }
        let base = initialBackoff * (1 << min(attempt, 20))
        let capped = min(base, maxBackoff)
        return capped + capped * (jitter * 0.5)  // up to +50% jitter, as client-go's wait.Jitter(…, 0.5)
    }
}
