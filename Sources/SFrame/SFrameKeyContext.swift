import OpenSSLWrapper

/// One KID's derived key and salt (RFC 9605 §4.4.2) with a keyed AES-GCM context, so sealing
/// and opening a frame cost no allocation. Holds mutable OpenSSL state: one task at a time.
public final class SFrameKeyContext {
    public let keyID: UInt64
    public let suite: SFrameCipherSuite
    private let aead: AESGCM
    /// sframe_salt, 12 bytes.
    private var salt: (UInt64, UInt32)

    /// Derives sframe_key and sframe_salt from `baseKey` for `keyID`.
    public init(keyID: UInt64, baseKey: [UInt8], suite: SFrameCipherSuite = .aes128GCMSHA256_128) throws(SFrameError) {
        guard !baseKey.isEmpty else { throw .invalidKeyLength(0) }
        var (key, saltBytes) = try Self.deriveKeyAndSalt(keyID: keyID, baseKey: baseKey, suite: suite)
        defer { secureZero(&key); secureZero(&saltBytes) }
        do { aead = try AESGCM(key: key) } catch { throw .cryptoFailure(error.description) }
        self.keyID = keyID
        self.suite = suite
        salt = (0, 0)
        withUnsafeMutableBytes(of: &salt) { $0.copyBytes(from: saltBytes) }
    }

    deinit {
        // The AES key schedule is cleansed by EVP_CIPHER_CTX_free in AESGCM's deinit.
        withUnsafeMutableBytes(of: &salt) { _ = $0.initializeMemory(as: UInt8.self, repeating: 0) }
    }

    /// The labels of RFC 9605 §4.4.2: the text, the KID as 8 big-endian bytes, the suite as 2.
    static func label(_ text: String, keyID: UInt64, suite: SFrameCipherSuite) -> [UInt8] {
        var label = Array(text.utf8)
        for i in stride(from: 56, through: 0, by: -8) { label.append(UInt8(truncatingIfNeeded: keyID >> UInt64(i))) }
        label.append(UInt8(suite.rawValue >> 8))
        label.append(UInt8(suite.rawValue & 0xFF))
        return label
    }

    /// derive_key_salt(KID, base_key) of RFC 9605 §4.4.2.
    public static func deriveKeyAndSalt(keyID: UInt64, baseKey: [UInt8], suite: SFrameCipherSuite) throws(SFrameError) -> (key: [UInt8], salt: [UInt8]) {
        var secret = try HKDF.extract(salt: [], inputKeyingMaterial: baseKey)
        defer { secureZero(&secret) }
        let key = try HKDF.expand(pseudorandomKey: secret, info: label("SFrame 1.0 Secret key ", keyID: keyID, suite: suite), length: suite.keyLength)
        let salt = try HKDF.expand(pseudorandomKey: secret, info: label("SFrame 1.0 Secret salt ", keyID: keyID, suite: suite), length: suite.nonceLength)
        return (key, salt)
    }

    /// nonce = sframe_salt XOR CTR, CTR as a 12-byte big-endian integer (RFC 9605 §4.4.3).
    @inline(__always) private func nonce(_ counter: UInt64) -> (UInt64, UInt32) {
        var n = salt
        withUnsafeMutableBytes(of: &n) { raw in
            for i in 0..<8 { raw[4 + i] ^= UInt8(truncatingIfNeeded: counter >> UInt64(8 * (7 - i))) }
        }
        return n
    }

    /// Overhead of one frame at most: longest header + tag.
    public var maximumOverhead: Int { SFrameHeader.maximumLength + suite.tagLength }

    /// encrypt(CTR, KID, metadata, plaintext) of RFC 9605 §4.4.3, written into `output` as
    /// header ‖ ciphertext ‖ tag. `output` may not overlap `plaintext`. Returns the length.
    public func seal(counter: UInt64, metadata: UnsafeRawBufferPointer, plaintext: UnsafeRawBufferPointer,
                     into output: UnsafeMutableRawBufferPointer) throws(SFrameError) -> Int {
        let header = SFrameHeader(keyID: keyID, counter: counter)
        let headerLength = header.encodedLength
        let total = headerLength + plaintext.count + suite.tagLength
        guard output.count >= total else { throw .outputTooSmall(needed: total, available: output.count) }
        header.encode(into: output)
        let body = UnsafeMutableRawBufferPointer(rebasing: output[headerLength..<headerLength + plaintext.count])
        if plaintext.count > 0 { body.copyMemory(from: plaintext) }
        let tag = UnsafeMutableRawBufferPointer(rebasing: output[headerLength + plaintext.count..<total])
        var n = nonce(counter)
        do {
            try withUnsafeBytes(of: &n) { (nonceBytes) throws(OpenSSLError) in
                try aead.seal(nonce: nonceBytes, aad: UnsafeRawBufferPointer(rebasing: output[0..<headerLength]), moreAAD: metadata, buffer: body, tag: tag)
            }
        } catch { throw .cryptoFailure(error.description) }
        return total
    }

    /// decrypt(metadata, sframe_ciphertext) of RFC 9605 §4.4.4 in place: `frame` is
    /// header ‖ ciphertext ‖ tag, already parsed as `header` of `headerLength` bytes. On success
    /// the plaintext is at the returned range of `frame`.
    public func open(header: SFrameHeader, headerLength: Int, metadata: UnsafeRawBufferPointer,
                     frame: UnsafeMutableRawBufferPointer) throws(SFrameError) -> Range<Int> {
        precondition(header.keyID == keyID)
        let bodyEnd = frame.count - suite.tagLength
        guard bodyEnd >= headerLength else { throw .truncatedCiphertext(needed: headerLength + suite.tagLength, available: frame.count) }
        var n = nonce(header.counter)
        let ok: Bool
        do {
            ok = try withUnsafeBytes(of: &n) { (nonceBytes) throws(OpenSSLError) in
                try aead.open(nonce: nonceBytes, aad: UnsafeRawBufferPointer(rebasing: frame[0..<headerLength]), moreAAD: metadata,
                              buffer: UnsafeMutableRawBufferPointer(rebasing: frame[headerLength..<bodyEnd]),
                              tag: UnsafeRawBufferPointer(rebasing: frame[bodyEnd...]))
            }
        } catch { throw .cryptoFailure(error.description) }
        guard ok else { throw .authenticationFailed(keyID: keyID, counter: header.counter) }
        return headerLength..<bodyEnd
    }
}
