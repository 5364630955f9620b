import CSodium

/// Errors from the libsodium wrapper. Each names what was wrong so callers can
/// turn it into a message a user understands.
public enum SodiumError: Error, Equatable, Sendable {
    /// `sodium_init()` failed; libsodium cannot be used in this process.
    case initializationFailed
    /// A key, seed, nonce or signature had the wrong length.
    case invalidLength(what: String, expected: Int, actual: Int)
    /// A sealed box was shorter than its nonce and tag.
    case ciphertextTooShort(minimum: Int, actual: Int)
    /// AEAD authentication failed: wrong key, wrong associated data or tampered bytes.
    case authenticationFailed
    /// A Diffie-Hellman result was all zeros (a low-order public key was supplied).
    case weakPublicKey
    /// Signing failed inside libsodium (should not happen with a valid key).
    case signingFailed
}

/// One-time libsodium initialisation. Every wrapper entry point calls `Sodium.ensureInitialized()`.
public enum Sodium {
    private static let initResult: Int32 = sodium_init()

    /// Initialises libsodium once per process (thread-safe: Swift globals are lazily
    /// initialised exactly once). `sodium_init` returns 0 on first success and 1 if
    /// already initialised; -1 is failure.
    @inline(__always)
    public static func ensureInitialized() {
        precondition(initResult >= 0, "sodium_init() failed: libsodium is unusable")
    }

    /// Overwrites `bytes` with zeros in a way the compiler cannot elide (`sodium_memzero`).
    public static func memzero(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress { sodium_memzero(base, buffer.count) }
        }
    }

    /// Constant-time comparison of two byte strings of equal length (`sodium_memcmp`).
    /// Returns false when the lengths differ.
    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in sodium_memcmp(pa.baseAddress!, pb.baseAddress!, a.count) == 0 }
        }
    }
}

/// Cryptographically secure random bytes (`randombytes_buf`).
public enum RandomBytes {
    public static func generate(count: Int) -> [UInt8] {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { buffer in
            if let base = buffer.baseAddress { randombytes_buf(base, buffer.count) }
        }
        return out
    }

    /// A uniformly random integer in `0..<upperBound` (`randombytes_uniform`).
    public static func uniform(_ upperBound: UInt32) -> UInt32 {
        Sodium.ensureInitialized()
        return randombytes_uniform(upperBound)
    }
}

@inline(__always)
func checkLength(_ bytes: [UInt8], _ expected: Int, _ what: String) throws(SodiumError) {
    guard bytes.count == expected else {
        throw .invalidLength(what: what, expected: expected, actual: bytes.count)
    }
}

/// Calls `body` with a non-null pointer to `bytes` (libsodium declares many
/// input pointers `nonnull` even when the length is zero).
@inline(__always)
func withNonNullPointer<R>(_ bytes: [UInt8], _ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
    if bytes.isEmpty {
        let zero: UInt8 = 0
        return withUnsafePointer(to: zero) { body($0, 0) }
    }
    return bytes.withUnsafeBufferPointer { body($0.baseAddress!, $0.count) }
}
