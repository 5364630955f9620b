/// SFrame cipher suites (RFC 9605 §4.5, IANA registry §8.1). Demarc implements the one
/// both OpenSSL and WebCrypto offer natively, so browsers and native clients interoperate.
public enum SFrameCipherSuite: UInt16, Sendable, CaseIterable {
    /// AES-128-GCM with a full 16-byte tag; HKDF over SHA-256.
    case aes128GCMSHA256_128 = 0x0004

    /// AEAD.Nk: key length in bytes.
    public var keyLength: Int { 16 }
    /// AEAD.Nn: nonce (and salt) length in bytes.
    public var nonceLength: Int { 12 }
    /// AEAD.Nt: tag length in bytes.
    public var tagLength: Int { 16 }
}
