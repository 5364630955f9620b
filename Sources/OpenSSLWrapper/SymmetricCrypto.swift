import COpenSSL

// Reusable symmetric primitives for SRTP (RFC 3711, RFC 7714). Each class owns one keyed
// OpenSSL context created at init, so per-packet calls only reset the IV and never allocate.
// A context is mutable state: use one instance from one task at a time.

/// AES in counter mode (AES-CM, RFC 3711 §4.1.1) over a caller-supplied 16-byte initial counter.
public final class AESCounterMode {
    private let context: OpaquePointer

    /// `key` is 16 (AES-128) or 32 (AES-256) bytes.
    public init(key: [UInt8]) throws(OpenSSLError) {
        guard key.count == 16 || key.count == 32 else { throw OpenSSLError("AES key length \(key.count)") }
        guard let context = EVP_CIPHER_CTX_new() else { throw OpenSSLError("EVP_CIPHER_CTX_new") }
        self.context = context
        let cipher = key.count == 16 ? EVP_aes_128_ctr() : EVP_aes_256_ctr()
        guard EVP_EncryptInit_ex(context, cipher, nil, key, nil) == 1 else { throw OpenSSLError("EVP_EncryptInit_ex") }
    }

    deinit { EVP_CIPHER_CTX_free(context) }  // also cleanses the key schedule

    /// XORs the keystream that starts at counter block `iv` into `buffer`, in place.
    public func apply(iv: UnsafeRawBufferPointer, to buffer: UnsafeMutableRawBufferPointer) throws(OpenSSLError) {
        precondition(iv.count == 16, "AES-CM needs a 16-byte initial counter")
        guard buffer.count > 0 else { return }
        guard EVP_EncryptInit_ex(context, nil, nil, nil, iv.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 1 else {
            throw OpenSSLError("EVP_EncryptInit_ex")
        }
        let pointer = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var written: Int32 = 0
        guard EVP_EncryptUpdate(context, pointer, &written, pointer, Int32(buffer.count)) == 1, Int(written) == buffer.count else {
            throw OpenSSLError("EVP_EncryptUpdate")
        }
    }
}

/// AES-GCM (NIST SP 800-38D) with a 12-byte nonce and 16-byte tag, as AEAD_AES_128_GCM and
/// AEAD_AES_256_GCM use it (RFC 7714 §5).
public final class AESGCM {
    public static let tagLength = 16
    public static let nonceLength = 12
    private let sealContext: OpaquePointer
    private let openContext: OpaquePointer

    public init(key: [UInt8]) throws(OpenSSLError) {
        guard key.count == 16 || key.count == 32 else { throw OpenSSLError("AES key length \(key.count)") }
        guard let seal = EVP_CIPHER_CTX_new() else { throw OpenSSLError("EVP_CIPHER_CTX_new") }
        guard let open = EVP_CIPHER_CTX_new() else { EVP_CIPHER_CTX_free(seal); throw OpenSSLError("EVP_CIPHER_CTX_new") }
        sealContext = seal
        openContext = open
        let cipher = key.count == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm()
        guard EVP_EncryptInit_ex(seal, cipher, nil, key, nil) == 1,
              EVP_DecryptInit_ex(open, cipher, nil, key, nil) == 1 else { throw OpenSSLError("EVP_CipherInit_ex(gcm)") }
    }

    deinit {
        EVP_CIPHER_CTX_free(sealContext)
        EVP_CIPHER_CTX_free(openContext)
    }

    /// Encrypts `buffer` in place, authenticating `aad` then `moreAAD` too, and writes the tag to `tag`.
    public func seal(nonce: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer, moreAAD: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                     buffer: UnsafeMutableRawBufferPointer, tag: UnsafeMutableRawBufferPointer) throws(OpenSSLError) {
        precondition(nonce.count == Self.nonceLength && tag.count == Self.tagLength)
        let c = sealContext
        guard EVP_EncryptInit_ex(c, nil, nil, nil, nonce.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 1 else {
            throw OpenSSLError("EVP_EncryptInit_ex")
        }
        var written: Int32 = 0
        func feed(_ part: UnsafeRawBufferPointer) throws(OpenSSLError) {
            guard part.count > 0 else { return }
            guard EVP_EncryptUpdate(c, nil, &written, part.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(part.count)) == 1 else {
                throw OpenSSLError("EVP_EncryptUpdate(aad)")
            }
        }
        try feed(aad)
        try feed(moreAAD)
        if buffer.count > 0 {
            let p = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
            guard EVP_EncryptUpdate(c, p, &written, p, Int32(buffer.count)) == 1 else { throw OpenSSLError("EVP_EncryptUpdate") }
        }
        var final: (UInt64, UInt64) = (0, 0)  // GCM writes nothing here; room for one block regardless
        let ok = withUnsafeMutableBytes(of: &final) { f in
            EVP_EncryptFinal_ex(c, f.baseAddress!.assumingMemoryBound(to: UInt8.self), &written)
        }
        guard ok == 1 else { throw OpenSSLError("EVP_EncryptFinal_ex") }
        guard EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, Int32(Self.tagLength), tag.baseAddress) == 1 else {
            throw OpenSSLError("EVP_CTRL_GCM_GET_TAG")
        }
    }

    /// Verifies `tag` over `aad`, `moreAAD` and the ciphertext in `buffer`, decrypting in place.
    /// Returns false (leaving `buffer` unspecified) when authentication fails.
    public func open(nonce: UnsafeRawBufferPointer, aad: UnsafeRawBufferPointer, moreAAD: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                     buffer: UnsafeMutableRawBufferPointer, tag: UnsafeRawBufferPointer) throws(OpenSSLError) -> Bool {
        precondition(nonce.count == Self.nonceLength && tag.count == Self.tagLength)
        let c = openContext
        guard EVP_DecryptInit_ex(c, nil, nil, nil, nonce.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 1 else {
            throw OpenSSLError("EVP_DecryptInit_ex")
        }
        var written: Int32 = 0
        func feed(_ part: UnsafeRawBufferPointer) throws(OpenSSLError) {
            guard part.count > 0 else { return }
            guard EVP_DecryptUpdate(c, nil, &written, part.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(part.count)) == 1 else {
                throw OpenSSLError("EVP_DecryptUpdate(aad)")
            }
        }
        try feed(aad)
        try feed(moreAAD)
        if buffer.count > 0 {
            let p = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
            guard EVP_DecryptUpdate(c, p, &written, p, Int32(buffer.count)) == 1 else { throw OpenSSLError("EVP_DecryptUpdate") }
        }
        // OpenSSL only reads the tag; its API takes a mutable pointer.
        guard EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, Int32(Self.tagLength), UnsafeMutableRawPointer(mutating: tag.baseAddress)) == 1 else {
            throw OpenSSLError("EVP_CTRL_GCM_SET_TAG")
        }
        var final: (UInt64, UInt64) = (0, 0)
        let ok = withUnsafeMutableBytes(of: &final) { f in
            EVP_DecryptFinal_ex(c, f.baseAddress!.assumingMemoryBound(to: UInt8.self), &written)
        }
        ERR_clear_error()  // a tag mismatch leaves nothing useful on the queue
        return ok > 0
    }
}

/// A keyed HMAC (RFC 2104) for many messages, so the SRTP authentication tag (RFC 3711
/// §4.2) costs no allocation.
///
/// HMAC-SHA1 keeps the SHA-1 states after absorbing `key ⊕ ipad` and `key ⊕ opad` (RFC 2104
/// §4, "precomputed" variant) and copies them by value for each message: no allocation and
/// no key schedule per packet. (OpenSSL 3.0's EVP_MAC re-initialises by duplicating its
/// digest context, which allocates.) HMAC-SHA256 uses EVP_MAC, reset per message.
public final class HMACContext {
    /// SHA-1 after `key ⊕ ipad` and after `key ⊕ opad` (HMAC-SHA1 only).
    private var inner = SHA_CTX()
    private var outer = SHA_CTX()
    /// EVP_MAC and its context (HMAC-SHA256 only).
    private let mac: OpaquePointer?
    private let context: OpaquePointer?
    public let algorithm: DigestAlgorithm
    private static let sha1BlockLength = 64

    public init(key: [UInt8], algorithm: DigestAlgorithm) throws(OpenSSLError) {
        self.algorithm = algorithm
        switch algorithm {
        case .sha1:
            // RFC 2104 §2: a key longer than the block is hashed first, then zero-padded.
            var block = key.count > Self.sha1BlockLength ? try Digest.hash(key, algorithm: .sha1) : key
            block += [UInt8](repeating: 0, count: Self.sha1BlockLength - block.count)
            var pad = block.map { $0 ^ 0x36 }
            defer {
                secureZero(&block)
                secureZero(&pad)
            }
            mac = nil
            context = nil
            guard demarc_SHA1_Init(&inner) == 1, demarc_SHA1_Update(&inner, pad, pad.count) == 1 else { throw OpenSSLError("SHA1_Init(ipad)") }
            pad = block.map { $0 ^ 0x5C }
            guard demarc_SHA1_Init(&outer) == 1, demarc_SHA1_Update(&outer, pad, pad.count) == 1 else { throw OpenSSLError("SHA1_Init(opad)") }
        case .sha256:
            guard let mac = EVP_MAC_fetch(nil, "HMAC", nil) else { throw OpenSSLError("EVP_MAC_fetch(HMAC)") }
            guard let context = EVP_MAC_CTX_new(mac) else { EVP_MAC_free(mac); throw OpenSSLError("EVP_MAC_CTX_new") }
            self.mac = mac
            self.context = context
            let ok = "digest".withCString { name in
                "SHA256".withCString { value in
                    var params = [
                        OSSL_PARAM_construct_utf8_string(name, UnsafeMutablePointer(mutating: value), 0),
                        OSSL_PARAM_construct_end(),
                    ]
                    return EVP_MAC_init(context, key, key.count, &params)
                }
            }
            guard ok == 1 else { throw OpenSSLError("EVP_MAC_init") }
        }
    }

    deinit {
        withUnsafeMutableBytes(of: &inner) { OPENSSL_cleanse($0.baseAddress, $0.count) }
        withUnsafeMutableBytes(of: &outer) { OPENSSL_cleanse($0.baseAddress, $0.count) }
        EVP_MAC_CTX_free(context)  // cleanses the key; accepts nil
        EVP_MAC_free(mac)
    }

    /// Writes HMAC(key, first || second) into `output`, truncated to `output.count` bytes
    /// (at most the digest length). `second` carries e.g. SRTP's rollover counter.
    public func authenticate(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0),
                             into output: UnsafeMutableRawBufferPointer) throws(OpenSSLError) {
        precondition(output.count <= algorithm.length)
        var full: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // 32 bytes: fits SHA-1 and SHA-256
        if let context {
            guard EVP_MAC_init(context, nil, 0, nil) == 1 else { throw OpenSSLError("EVP_MAC_init") }
            for part in [first, second] where part.count > 0 {
                guard EVP_MAC_update(context, part.baseAddress!.assumingMemoryBound(to: UInt8.self), part.count) == 1 else {
                    throw OpenSSLError("EVP_MAC_update")
                }
            }
            var length = 0
            let ok = withUnsafeMutableBytes(of: &full) { f -> Int32 in
                let r = EVP_MAC_final(context, f.baseAddress!.assumingMemoryBound(to: UInt8.self), &length, f.count)
                if r == 1 { output.copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(f)[0..<output.count])) }
                return r
            }
            guard ok == 1 else { throw OpenSSLError("EVP_MAC_final") }
        } else {
            var work = inner
            let ok = withUnsafeMutableBytes(of: &full) { f -> Bool in
                let digest = f.baseAddress!.assumingMemoryBound(to: UInt8.self)
                guard first.count == 0 || demarc_SHA1_Update(&work, first.baseAddress, first.count) == 1,
                      second.count == 0 || demarc_SHA1_Update(&work, second.baseAddress, second.count) == 1,
                      demarc_SHA1_Final(digest, &work) == 1 else { return false }
                work = self.outer
                guard demarc_SHA1_Update(&work, digest, 20) == 1, demarc_SHA1_Final(digest, &work) == 1 else { return false }
                output.copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(f)[0..<output.count]))
                return true
            }
            withUnsafeMutableBytes(of: &work) { OPENSSL_cleanse($0.baseAddress, $0.count) }
            guard ok else { throw OpenSSLError("SHA1_Update") }
        }
        withUnsafeMutableBytes(of: &full) { OPENSSL_cleanse($0.baseAddress, $0.count) }
    }
}

/// Overwrites secret bytes so they do not linger in memory (OPENSSL_cleanse resists being
/// optimised away).
public func secureZero(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { raw in
        if let base = raw.baseAddress { OPENSSL_cleanse(base, raw.count) }
    }
}

/// Compares two byte strings in time independent of where they differ.
public func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    guard a.count > 0 else { return true }
    return CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0
}
