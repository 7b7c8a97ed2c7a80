import Foundation

/// A server certificate for the proxy (127.0.0.1 and localhost), signed by the cluster CA so
/// that clients configured for the API server trust the proxy unchanged.
public struct ProxyCertificate: Sendable {
    public var certificatePEM: [UInt8]
    public var privateKeyPEM: [UInt8]

    /// Generates a key and a certificate with `openssl` (which `hack/local-cluster.sh` already
    /// needs), signed by the CA at `caCertificateFile` / `caKeyFile` (the cluster's `ca.crt` and
    /// `ca.key`, beside `TANDEM_CA_FILE`).
    ///
    /// - Throws: ``FaultProxyError`` with openssl's output when a step fails.
    public static func make(caCertificateFile: String, caKeyFile: String) throws -> ProxyCertificate {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tandem-faultproxy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let key = folder.appendingPathComponent("proxy.key").path
        let csr = folder.appendingPathComponent("proxy.csr").path
        let ext = folder.appendingPathComponent("proxy.ext").path
        let req = folder.appendingPathComponent("req.cnf").path
        let crt = folder.appendingPathComponent("proxy.crt").path
        // The same profile as the API server's own certificate in hack/local-cluster.sh (RSA 2048,
        // SHA-256: accepted by BoringSSL and Go alike).
        try "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\n".write(toFile: req, atomically: true, encoding: .utf8)
        try """
            [ext]
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature, keyEncipherment
            extendedKeyUsage = serverAuth
            subjectAltName = IP:127.0.0.1, DNS:localhost

            """.write(toFile: ext, atomically: true, encoding: .utf8)
        try openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key])
        try openssl(["req", "-new", "-key", key, "-subj", "/CN=tandem-fault-proxy", "-config", req, "-out", csr])
        try openssl(["x509", "-req", "-in", csr, "-CA", caCertificateFile, "-CAkey", caKeyFile,
                     "-set_serial", "0x\(UInt64.random(in: 1...UInt64.max))", "-days", "2", "-sha256",
                     "-extfile", ext, "-extensions", "ext", "-out", crt])
        guard let certificate = FileManager.default.contents(atPath: crt), let privateKey = FileManager.default.contents(atPath: key) else {
            throw FaultProxyError("openssl wrote no certificate or key in \(folder.path)")
        }
        return ProxyCertificate(certificatePEM: Array(certificate), privateKeyPEM: Array(privateKey))
    }

    private static func openssl(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FaultProxyError("openssl \(arguments.first ?? "") failed (exit \(process.terminationStatus)): \(String(decoding: output, as: UTF8.self))")
        }
    }
}
