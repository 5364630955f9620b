public import SodiumWrapper
import OpenSSLWrapper

/// Why a sealed media key could not be opened.
public enum MediaKeyEnvelopeError: Error, Equatable, Sendable {
    case wrongLength(Int)
    case unsupportedVersion(UInt8)
    /// A peer key was a low-order point (the X25519 result was all zeros).
    case weakPublicKey
    /// Not sealed by this sender to this recipient for this meeting and KID, or altered.
    case authenticationFailed
    case cryptoFailure(String)
}

/// A sender's media key sealed to one recipient, which the server relays as opaque bytes
/// (docs/e2ee.md, "Key distribution"). An HPKE-like construction (RFC 9180 Auth mode in
/// spirit, not its exact encoding) built only from what both libsodium/OpenSSL and WebCrypto
/// have: X25519, HKDF-SHA-256, AES-128-GCM.
///
///     envelope = 0x01 ‖ KID (8, big-endian) ‖ ephemeral public key (32) ‖ AES-GCM(base_key) ‖ tag
///     context  = "Demarc E2EE 1 media key" ‖ len(meeting) (2) ‖ meeting (UTF-8)
///                ‖ sender identity key (32) ‖ recipient identity key (32) ‖ KID (8)
///     IKM      = X25519(ephemeral, recipient) ‖ X25519(sender identity, recipient)
///     key ‖ nonce = HKDF-SHA256(IKM, salt = ephemeral public key, info = context, 28)
///     AAD      = the first 41 bytes of the envelope ‖ context
///
/// The second DH authenticates the sender: only the holder of the sender's identity key (or
/// of the recipient's) can produce an envelope that opens. The context binds meeting, both
/// identities and the KID, so the server cannot replay an envelope to another recipient,
/// meeting or KID.
public struct MediaKeyEnvelope: Sendable, Equatable {
    public static let version: UInt8 = 1
    static let headerLength = 1 + 8 + 32
    public static let length = headerLength + MediaKey.length + AESGCM.tagLength

    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    static func context(meetingID: String, sender: X25519.PublicKey, recipient: X25519.PublicKey, keyID: UInt64) -> [UInt8] {
        var context = Array("Demarc E2EE 1 media key".utf8)
        let meeting = Array(meetingID.utf8)
        precondition(meeting.count <= Int(UInt16.max), "meeting id too long")
        context.append(UInt8(meeting.count >> 8))
        context.append(UInt8(meeting.count & 0xFF))
        context += meeting
        context += sender.rawRepresentation
        context += recipient.rawRepresentation
        context.appendBigEndian(keyID)
        return context
    }

    static func keyAndNonce(_ dh1: SecretBytes, _ dh2: SecretBytes, ephemeral: X25519.PublicKey, context: [UInt8]) throws(MediaKeyEnvelopeError) -> [UInt8] {
        var ikm = dh1.withUnsafeBytes { Array($0) } + dh2.withUnsafeBytes { Array($0) }
        defer { secureZero(&ikm) }
        do { return try HKDF.derive(inputKeyingMaterial: ikm, salt: ephemeral.rawRepresentation, info: context, length: 16 + AESGCM.nonceLength) } catch {
            throw .cryptoFailure("\(error)")
        }
    }

    /// Seals `baseKey` (the media key for `keyID`) from `sender` to `recipient`. `ephemeral`
    /// is for test vectors only; leave it nil.
    public static func seal(baseKey: [UInt8], keyID: UInt64, meetingID: String, sender: X25519.PrivateKey,
                            recipient: X25519.PublicKey, ephemeral: X25519.PrivateKey? = nil) throws(MediaKeyEnvelopeError) -> MediaKeyEnvelope {
        precondition(baseKey.count == MediaKey.length, "media keys are \(MediaKey.length) bytes")
        let eph = ephemeral ?? X25519.PrivateKey()
        let context = context(meetingID: meetingID, sender: sender.publicKey, recipient: recipient, keyID: keyID)
        let dh1: SecretBytes, dh2: SecretBytes
        do { dh1 = try eph.sharedSecret(with: recipient); dh2 = try sender.sharedSecret(with: recipient) } catch { throw .weakPublicKey }
        var okm = try keyAndNonce(dh1, dh2, ephemeral: eph.publicKey, context: context)
        defer { secureZero(&okm) }
        var out: [UInt8] = [version]
        out.appendBigEndian(keyID)
        out += eph.publicKey.rawRepresentation
        let aad = out + context
        var body = baseKey
        var tag = [UInt8](repeating: 0, count: AESGCM.tagLength)
        do {
            let aead = try AESGCM(key: Array(okm[0..<16]))
            let nonce = Array(okm[16...])
            try nonce.withUnsafeBytes { n in
                try aad.withUnsafeBytes { a in
                    try body.withUnsafeMutableBytes { b in
                        try tag.withUnsafeMutableBytes { t in try aead.seal(nonce: n, aad: a, buffer: b, tag: t) }
                    }
                }
            }
        } catch { throw .cryptoFailure("\(error)") }
        return MediaKeyEnvelope(bytes: out + body + tag)
    }

    /// The KID the envelope claims, readable without keys (the server may route on it).
    public var keyID: UInt64? {
        guard bytes.count == Self.length else { return nil }
        return bytes[1..<9].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// Opens an envelope addressed to `recipient` from the participant whose identity key is
    /// `sender`; returns the KID and the media key.
    public func open(meetingID: String, recipient: X25519.PrivateKey, sender: X25519.PublicKey) throws(MediaKeyEnvelopeError) -> (keyID: UInt64, baseKey: [UInt8]) {
        guard bytes.count == Self.length else { throw .wrongLength(bytes.count) }
        guard bytes[0] == Self.version else { throw .unsupportedVersion(bytes[0]) }
        let keyID = self.keyID!
        let ephemeral: X25519.PublicKey
        do { ephemeral = try X25519.PublicKey(rawRepresentation: Array(bytes[9..<41])) } catch { throw .weakPublicKey }
        let context = Self.context(meetingID: meetingID, sender: sender, recipient: recipient.publicKey, keyID: keyID)
        let dh1: SecretBytes, dh2: SecretBytes
        do { dh1 = try recipient.sharedSecret(with: ephemeral); dh2 = try recipient.sharedSecret(with: sender) } catch { throw .weakPublicKey }
        var okm = try Self.keyAndNonce(dh1, dh2, ephemeral: ephemeral, context: context)
        defer { secureZero(&okm) }
        let aad = Array(bytes[0..<Self.headerLength]) + context
        var body = Array(bytes[Self.headerLength..<Self.headerLength + MediaKey.length])
        let tag = Array(bytes[(Self.headerLength + MediaKey.length)...])
        let ok: Bool
        do {
            let aead = try AESGCM(key: Array(okm[0..<16]))
            let nonce = Array(okm[16...])
            ok = try nonce.withUnsafeBytes { n in
                try aad.withUnsafeBytes { a in
                    try body.withUnsafeMutableBytes { b in
                        try tag.withUnsafeBytes { t in try aead.open(nonce: n, aad: a, buffer: b, tag: t) }
                    }
                }
            }
        } catch { throw .cryptoFailure("\(error)") }
        guard ok else { secureZero(&body); throw .authenticationFailed }
        return (keyID, body)
    }
}
