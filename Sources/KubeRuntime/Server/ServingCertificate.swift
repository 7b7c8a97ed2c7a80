import Crypto
import Foundation
import NIOSSL
import SwiftASN1
import X509

/// The certificate and key `/metrics` is served with over TLS: files given by flags, or a
/// self-signed pair generated in-process at start (as controller-runtime does when no
/// certificate is configured; scrapers then skip verification or pin it).
public struct ServingCertificate: Sendable {
    /// PEM of the certificate chain and of the private key.
    public let certificatePEM: String
    public let privateKeyPEM: String

    public init(certificatePEM: String, privateKeyPEM: String) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
    }

    /// Reads a PEM certificate chain and key from files.
    ///
    /// - Throws: ``ServingCertificateError`` naming the file that could not be read.
    public static func load(certificateFile: String, keyFile: String) throws -> ServingCertificate {
        guard let certificate = FileManager.default.contents(atPath: certificateFile),
            let text = String(data: certificate, encoding: .utf8)
        else { throw ServingCertificateError("cannot read the metrics certificate file \(certificateFile)") }
        guard let key = FileManager.default.contents(atPath: keyFile), let keyText = String(data: key, encoding: .utf8) else {
            throw ServingCertificateError("cannot read the metrics key file \(keyFile)")
        }
        return ServingCertificate(certificatePEM: text, privateKeyPEM: keyText)
    }

    /// A new P-256 key and a certificate it signs itself, for `hosts` (DNS names; IP literals
    /// become IP addresses), valid from an hour ago for one year.
    public static func selfSigned(hosts: [String] = ["localhost", "127.0.0.1"], commonName: String = "tandem-metrics",
                                  now: Date = Date()) throws -> ServingCertificate {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName(commonName) }
        let names: [GeneralName] = hosts.map { host in
            if let bytes = ipv4Bytes(host) { return .ipAddress(ASN1OctetString(contentBytes: bytes[...])) }
            return .dnsName(host)
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(365 * 86_400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                // Its own issuer, so a scraper can pin it as a trust root: marked as a CA with
                // keyCertSign, as client-go's GenerateSelfSignedCertKey does (BoringSSL refuses
                // a non-CA certificate as a trust anchor).
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: .init(key))
        return ServingCertificate(certificatePEM: try certificate.serializeAsPEM().pemString,
                                  privateKeyPEM: key.pemRepresentation)
    }

    /// NIOSSL's server configuration for this certificate.
    public func tlsConfiguration() throws -> TLSConfiguration {
        let chain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8)).map { NIOSSLCertificateSource.certificate($0) }
        guard !chain.isEmpty else { throw ServingCertificateError("the metrics certificate holds no PEM certificate") }
        let key = try NIOSSLPrivateKey(bytes: Array(privateKeyPEM.utf8), format: .pem)
        return TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
    }

    private static func ipv4Bytes(_ host: String) -> [UInt8]? {
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        let bytes = parts.compactMap { UInt8($0) }
        return bytes.count == 4 ? bytes : nil
    }
}

/// A serving certificate that could not be read or built.
public struct ServingCertificateError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
