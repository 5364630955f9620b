public import SodiumWrapper
public import ControlPlaneWire
import Foundation

/// An operator-signed binding of a node's identity key to its region and
/// jurisdiction (DESIGN.md: a region claim is trusted only through this).
///
/// The signature covers `NodeCertificate.domain || body` where `body` is the
/// serialized `demarc.v1.NodeCertificateBody` carried verbatim, so verification
/// never depends on re-encoding.
public struct NodeCertificate: Equatable, Sendable {
    /// Domain separation so a certificate signature can never be replayed as
    /// any other Demarc signature (checkpoints, tokens).
    public static let domain = Array("demarc node certificate v1\n".utf8)

    public let message: NodeCertificateMessage
    public let body: NodeCertificateBodyMessage

    /// Parses a certificate. Checks structure only; call `verify` before trusting it.
    public init(message: NodeCertificateMessage) throws(CertificateError) {
        self.message = message
        do { body = try NodeCertificateBodyMessage(serialized: message.body) } catch { throw .malformed(error.description) }
    }

    /// Signs a new certificate with the operator's key.
    public static func issue(nodeID: String, nodePublicKey: Ed25519.PublicKey, region: String, jurisdiction: String,
                             notBeforeUnix: Int64, notAfterUnix: Int64, serial: UInt64,
                             signer: Ed25519.PrivateKey) throws(CertificateError) -> NodeCertificate {
        let body = NodeCertificateBodyMessage(
            nodeID: nodeID, nodePublicKey: nodePublicKey.rawRepresentation, region: region,
            jurisdiction: jurisdiction, notBeforeUnix: notBeforeUnix, notAfterUnix: notAfterUnix,
            operatorPublicKey: signer.publicKey.rawRepresentation, serial: serial)
        try Self.validateFields(body)
        let bytes: [UInt8]
        do { bytes = try body.serialized() } catch { throw .invalidField(field: "body", reason: error.description) }
        let signature = signer.signature(for: domain + bytes)
        return try NodeCertificate(message: NodeCertificateMessage(body: bytes, signature: signature))
    }

    /// Verifies the signature against the trusted operator keys and the validity
    /// window at `nowUnix`. Order of checks: structure, signer trusted, signature,
    /// validity window — so each failure gets its own precise error.
    public func verify(trustedOperators: [Ed25519.PublicKey], nowUnix: Int64) throws(CertificateError) -> VerifiedNodeIdentity {
        guard body.formatVersion == 1 else { throw .unsupportedVersion(body.formatVersion) }
        try Self.validateFields(body)
        guard let operatorKey = try? Ed25519.PublicKey(rawRepresentation: body.operatorPublicKey),
              let nodeKey = try? Ed25519.PublicKey(rawRepresentation: body.nodePublicKey) else {
            throw .invalidField(field: "public key", reason: "not a 32-byte Ed25519 key")
        }
        guard trustedOperators.contains(operatorKey) else {
            throw .wrongSigner(claimed: Self.fingerprint(operatorKey), trusted: trustedOperators.map(Self.fingerprint))
        }
        guard message.signature.count == Ed25519.signatureLength,
              operatorKey.isValidSignature(message.signature, for: Self.domain + message.body) else {
            throw .badSignature
        }
        guard nowUnix >= body.notBeforeUnix else { throw .notYetValid(notBeforeUnix: body.notBeforeUnix, nowUnix: nowUnix) }
        guard nowUnix < body.notAfterUnix else { throw .expired(notAfterUnix: body.notAfterUnix, nowUnix: nowUnix) }
        return VerifiedNodeIdentity(nodeID: body.nodeID, nodePublicKey: nodeKey, region: body.region,
                                    jurisdiction: body.jurisdiction, notBeforeUnix: body.notBeforeUnix,
                                    notAfterUnix: body.notAfterUnix, operatorKey: operatorKey, serial: body.serial)
    }

    static func validateFields(_ body: NodeCertificateBodyMessage) throws(CertificateError) {
        guard !body.nodeID.isEmpty, body.nodeID.utf8.count <= 64,
              body.nodeID.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
                  || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            throw .invalidField(field: "node id", reason: "'\(body.nodeID.prefix(64))' must be 1-64 characters of a-z, 0-9, '-', '_', '.'")
        }
        guard !body.region.isEmpty, body.region.utf8.count <= 64 else {
            throw .invalidField(field: "region", reason: "must be 1-64 characters")
        }
        guard body.jurisdiction.utf8.count == 2, body.jurisdiction.utf8.allSatisfy({ (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) else {
            throw .invalidField(field: "jurisdiction", reason: "'\(body.jurisdiction.prefix(8))' is not an ISO 3166-1 alpha-2 code (two capital letters)")
        }
        guard body.notAfterUnix > body.notBeforeUnix else {
            throw .invalidField(field: "validity", reason: "not-after must be later than not-before")
        }
    }

    /// A short, stable name for a key: the first 8 bytes of SHA-256 of it, hex.
    public static func fingerprint(_ key: Ed25519.PublicKey) -> String {
        Hex.encode(Array(SHA256.hash(key.rawRepresentation).prefix(8)))
    }

    // MARK: PEM-style text form

    static let pemHeader = "-----BEGIN DEMARC NODE CERTIFICATE-----"
    static let pemFooter = "-----END DEMARC NODE CERTIFICATE-----"

    /// The certificate as armored text (base64 of the `NodeCertificate` message, 64 columns).
    public var pem: String {
        let b64 = Data(message.serialized()).base64EncodedString()
        var lines = [Self.pemHeader]
        var index = b64.startIndex
        while index < b64.endIndex {
            let end = b64.index(index, offsetBy: 64, limitedBy: b64.endIndex) ?? b64.endIndex
            lines.append(String(b64[index..<end]))
            index = end
        }
        lines.append(Self.pemFooter)
        return lines.joined(separator: "\n") + "\n"
    }

    public init(pem text: String) throws(CertificateError) {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let start = lines.firstIndex(of: Self.pemHeader), let end = lines.firstIndex(of: Self.pemFooter), start < end else {
            throw .malformed("no '\(Self.pemHeader)' ... '\(Self.pemFooter)' block found")
        }
        guard let data = Data(base64Encoded: lines[(start + 1)..<end].joined()) else {
            throw .malformed("the certificate block is not valid base64")
        }
        let message: NodeCertificateMessage
        do { message = try NodeCertificateMessage(serialized: Array(data)) } catch { throw .malformed(error.description) }
        try self.init(message: message)
    }
}

/// What a verified certificate lets the cluster believe about a node.
public struct VerifiedNodeIdentity: Equatable, Sendable {
    public let nodeID: String
    public let nodePublicKey: Ed25519.PublicKey
    public let region: String
    public let jurisdiction: String
    public let notBeforeUnix: Int64
    public let notAfterUnix: Int64
    public let operatorKey: Ed25519.PublicKey
    public let serial: UInt64
}

/// Why a node certificate is not trusted. Messages say what to do.
public enum CertificateError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    case unsupportedVersion(UInt32)
    case invalidField(field: String, reason: String)
    case wrongSigner(claimed: String, trusted: [String])
    case badSignature
    case notYetValid(notBeforeUnix: Int64, nowUnix: Int64)
    case expired(notAfterUnix: Int64, nowUnix: Int64)

    public var description: String {
        switch self {
        case let .malformed(why): "certificate is malformed: \(why)"
        case let .unsupportedVersion(v): "certificate format version \(v) is not supported (this build reads version 1)"
        case let .invalidField(field, reason): "certificate \(field) is invalid: \(reason)"
        case let .wrongSigner(claimed, trusted):
            "certificate was signed by operator key \(claimed), which is not trusted (trusted: \(trusted.isEmpty ? "none" : trusted.joined(separator: ", "))); pass the operator's public key with --operator-key"
        case .badSignature: "certificate signature does not verify: the certificate was altered after signing"
        case let .notYetValid(nb, now): "certificate is not valid until \(Self.iso(nb)) (now \(Self.iso(now))); check the node's clock or reissue"
        case let .expired(na, now): "certificate expired at \(Self.iso(na)) (now \(Self.iso(now))); issue a new one with `demarc node cert issue`"
        }
    }

    static func iso(_ unix: Int64) -> String {
        Date(timeIntervalSince1970: TimeInterval(unix)).formatted(.iso8601)
    }
}
