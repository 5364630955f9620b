public import SodiumWrapper

/// The keys of one relay link between two nodes of a meeting (issue 7).
///
/// The link is agreed over a signed node-to-node request (`POST …/relay`, signed with the
/// initiator's operator-certified key) and its signed response (signed with the
/// responder's), each carrying a fresh X25519 key. Both sides then derive, from the
/// X25519 shared secret and the hash of everything both signed (`transcript`), one key per
/// direction:
///
///     k(initiator→responder) = HMAC-SHA-256(key: shared, "demarc relay v1 i->r" ‖ transcript)
///     k(responder→initiator) = HMAC-SHA-256(key: shared, "demarc relay v1 r->i" ‖ transcript)
///
/// Ephemeral keys give forward secrecy: a node key stolen later cannot decrypt recorded
/// relay traffic. The transcript binds the keys to the meeting, the link id and both node
/// identities, so a key agreed for one link never opens another. docs/relay.md argues this
/// design against DTLS-SRTP per link.
public struct RelayKeySchedule: Sendable {
    public enum Role: Sendable { case initiator, responder }

    public let sending: XChaCha20Poly1305.Key
    public let receiving: XChaCha20Poly1305.Key

    public init(role: Role, local: X25519.PrivateKey, remote: X25519.PublicKey, transcript: [UInt8]) throws(RelayError) {
        let shared: SecretBytes
        do { shared = try local.sharedSecret(with: remote) } catch { throw .keyAgreementFailed }
        // An all-zero shared secret means a low-order remote key (RFC 7748 §6.1).
        guard shared.withUnsafeBytes({ $0.contains { $0 != 0 } }) else { throw .keyAgreementFailed }
        func derive(_ label: String) throws(RelayError) -> XChaCha20Poly1305.Key {
            var bytes = HMACSHA256.authenticate(Array(label.utf8) + transcript, key: shared)
            do { return try XChaCha20Poly1305.Key(consuming: &bytes) } catch { throw .keyAgreementFailed }
        }
        let ir = try derive("demarc relay v1 i->r"), ri = try derive("demarc relay v1 r->i")
        (sending, receiving) = role == .initiator ? (ir, ri) : (ri, ir)
    }

    /// What both sides hash into the keys: the request and response bodies exactly as signed.
    public static func transcript(request: [UInt8], response: [UInt8]) -> [UInt8] {
        var h = SHA256()
        h.update(Array("demarc relay transcript v1".utf8))
        h.update(withLength: request)
        h.update(withLength: response)
        return h.finalize()
    }
}

extension SHA256 {
    mutating func update(withLength bytes: [UInt8]) {
        var n = UInt64(bytes.count).bigEndian
        withUnsafeBytes(of: &n) { update($0) }
        update(bytes)
    }
}
