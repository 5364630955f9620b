import COpenSSL

/// Message digests and HMAC from libcrypto's EVP interface.
///
/// Demarc uses libsodium for its own cryptography; OpenSSL is here for the
/// WebRTC protocols that mandate SHA-1 (STUN MESSAGE-INTEGRITY, RFC 8489 §14.5;
/// SRTP's HMAC-SHA1, RFC 3711) and for DTLS certificate fingerprints (RFC 8122).
public enum DigestAlgorithm: Sendable {
    case sha1, sha256

    var evp: OpaquePointer { self == .sha1 ? EVP_sha1() : EVP_sha256() }

    public var length: Int { self == .sha1 ? 20 : 32 }

    /// The name used in SDP `a=fingerprint` lines (RFC 8122 §5).
    public var sdpName: String { self == .sha1 ? "sha-1" : "sha-256" }
}

public enum Digest {
    /// One-shot digest of `bytes`.
    public static func hash(_ bytes: [UInt8], algorithm: DigestAlgorithm) throws(OpenSSLError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = bytes.withUnsafeBufferPointer { b in
            EVP_Digest(b.baseAddress, b.count, &out, &length, algorithm.evp, nil)
        }
        guard ok == 1 else { throw OpenSSLError("EVP_Digest") }
        return Array(out.prefix(Int(length)))
    }
}

public enum HMAC {
    /// HMAC (RFC 2104) of `message` under `key`.
    public static func authenticate(_ message: [UInt8], key: [UInt8], algorithm: DigestAlgorithm) throws(OpenSSLError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let result = key.withUnsafeBufferPointer { k in
            message.withUnsafeBufferPointer { m in
                COpenSSL.HMAC(algorithm.evp, k.baseAddress, Int32(k.count), m.baseAddress, m.count, &out, &length)
            }
        }
        guard result != nil else { throw OpenSSLError("HMAC") }
        return Array(out.prefix(Int(length)))
    }
}
