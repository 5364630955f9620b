import CSodium

/// XChaCha20-Poly1305 AEAD (IETF variant, libsodium `crypto_aead_xchacha20poly1305_ietf_*`).
///
/// A sealed box is `nonce (24) || ciphertext || tag (16)`. The 192-bit nonce is
/// random per message, which is safe for any practical number of messages per key.
public enum XChaCha20Poly1305 {
    public static let keyLength = 32
    public static let nonceLength = 24
    public static let tagLength = 16
    /// Bytes a sealed box adds to its plaintext.
    public static let overhead = nonceLength + tagLength

    /// A 256-bit symmetric key, zeroed when released.
    public struct Key: Sendable, CustomStringConvertible {
        let secret: SecretBytes

        public init() { secret = SecretBytes(randomCount: XChaCha20Poly1305.keyLength) }

        /// Takes `bytes` (which is zeroed) as the key.
        public init(consuming bytes: inout [UInt8]) throws(SodiumError) {
            try checkLength(bytes, XChaCha20Poly1305.keyLength, "XChaCha20-Poly1305 key")
            secret = SecretBytes(consuming: &bytes)
        }

        public var description: String { "XChaCha20Poly1305.Key(<redacted>)" }
    }

    /// Encrypts and authenticates `plaintext` and `associatedData` under `key` with a random nonce.
    public static func seal(_ plaintext: [UInt8], key: Key, associatedData: [UInt8] = []) -> [UInt8] {
        seal(plaintext, key: key, nonce: RandomBytes.generate(count: nonceLength), associatedData: associatedData)
    }

    /// Deterministic variant for tests and known-answer vectors. Never reuse a nonce with a key.
    public static func seal(_ plaintext: [UInt8], key: Key, nonce: [UInt8], associatedData: [UInt8] = []) -> [UInt8] {
        Sodium.ensureInitialized()
        precondition(nonce.count == nonceLength, "XChaCha20-Poly1305 nonce must be 24 bytes")
        var out = [UInt8](repeating: 0, count: nonceLength + plaintext.count + tagLength)
        out.replaceSubrange(0..<nonceLength, with: nonce)
        var written: UInt64 = 0
        let rc = out.withUnsafeMutableBufferPointer { o in
            plaintext.withUnsafeBufferPointer { p in
                associatedData.withUnsafeBufferPointer { ad in
                    key.secret.withUnsafeBytes { k in
                        crypto_aead_xchacha20poly1305_ietf_encrypt(
                            o.baseAddress! + nonceLength, &written,
                            p.baseAddress, UInt64(p.count),
                            ad.baseAddress, UInt64(ad.count),
                            nil, o.baseAddress!, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
        }
        precondition(rc == 0 && Int(written) == plaintext.count + tagLength, "XChaCha20-Poly1305 encryption failed")
        return out
    }

    /// Verifies and decrypts a sealed box. Throws `.authenticationFailed` on any tampering.
    public static func open(_ box: [UInt8], key: Key, associatedData: [UInt8] = []) throws(SodiumError) -> [UInt8] {
        Sodium.ensureInitialized()
        guard box.count >= overhead else { throw .ciphertextTooShort(minimum: overhead, actual: box.count) }
        var out = [UInt8](repeating: 0, count: box.count - overhead)
        var written: UInt64 = 0
        let rc = out.withUnsafeMutableBufferPointer { o in
            box.withUnsafeBufferPointer { b in
                associatedData.withUnsafeBufferPointer { ad in
                    key.secret.withUnsafeBytes { k in
                        crypto_aead_xchacha20poly1305_ietf_decrypt(
                            o.baseAddress, &written, nil,
                            b.baseAddress! + nonceLength, UInt64(b.count - nonceLength),
                            ad.baseAddress, UInt64(ad.count),
                            b.baseAddress!, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
        }
        guard rc == 0 else { throw .authenticationFailed }
        return out
    }
}
