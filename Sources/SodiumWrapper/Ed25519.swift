import CSodium

/// Ed25519 signatures (RFC 8032) via libsodium's `crypto_sign_*`.
public enum Ed25519 {
    public static let publicKeyLength = 32
    public static let seedLength = 32
    public static let signatureLength = 64

    /// An Ed25519 public key (32 bytes). Value type; safe to share and log.
    public struct PublicKey: Hashable, Sendable, CustomStringConvertible {
        public let rawRepresentation: [UInt8]

        public init(rawRepresentation bytes: [UInt8]) throws(SodiumError) {
            try checkLength(bytes, Ed25519.publicKeyLength, "Ed25519 public key")
            rawRepresentation = bytes
        }

        /// True when `signature` is a valid signature of `message` by this key.
        /// Never throws: a malformed signature is simply not valid.
        public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
            Sodium.ensureInitialized()
            guard signature.count == Ed25519.signatureLength else { return false }
            return signature.withUnsafeBufferPointer { sig in
                message.withUnsafeBufferPointer { msg in
                    rawRepresentation.withUnsafeBufferPointer { pk in
                        crypto_sign_verify_detached(sig.baseAddress!, msg.baseAddress, UInt64(msg.count), pk.baseAddress!) == 0
                    }
                }
            }
        }

        public var description: String { "ed25519:" + Hex.encode(rawRepresentation) }
    }

    /// An Ed25519 private key. Holds the 32-byte seed and libsodium's 64-byte
    /// expanded secret key, both zeroed when the key is released.
    public struct PrivateKey: Sendable, CustomStringConvertible {
        private let seed: SecretBytes
        private let expanded: SecretBytes
        public let publicKey: PublicKey

        /// A fresh random key.
        public init() {
            var seed = RandomBytes.generate(count: Ed25519.seedLength)
            // A random 32-byte seed is always a valid Ed25519 seed.
            try! self.init(seed: &seed)
        }

        /// Derives the key from a 32-byte seed; the caller's array is zeroed.
        public init(seed bytes: inout [UInt8]) throws(SodiumError) {
            Sodium.ensureInitialized()
            try checkLength(bytes, Ed25519.seedLength, "Ed25519 seed")
            var pk = [UInt8](repeating: 0, count: Int(crypto_sign_PUBLICKEYBYTES))
            var sk = [UInt8](repeating: 0, count: Int(crypto_sign_SECRETKEYBYTES))
            let rc = bytes.withUnsafeBufferPointer { s in
                crypto_sign_seed_keypair(&pk, &sk, s.baseAddress!)
            }
            guard rc == 0 else { Sodium.memzero(&sk); throw .signingFailed }
            seed = SecretBytes(consuming: &bytes)
            expanded = SecretBytes(consuming: &sk)
            publicKey = try PublicKey(rawRepresentation: pk)
        }

        /// Signs `message`, returning the 64-byte detached signature.
        public func signature(for message: [UInt8]) -> [UInt8] {
            var sig = [UInt8](repeating: 0, count: Ed25519.signatureLength)
            let rc = expanded.withUnsafeBytes { sk in
                message.withUnsafeBufferPointer { msg in
                    crypto_sign_detached(&sig, nil, msg.baseAddress, UInt64(msg.count),
                                         sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
            precondition(rc == 0, "crypto_sign_detached failed with a valid key")
            return sig
        }

        /// Exposes the seed, for writing the key to a file the operator protects.
        public func withSeed<R>(_ body: ([UInt8]) throws -> R) rethrows -> R {
            var copy = seed.withUnsafeBytes { Array($0) }
            defer { Sodium.memzero(&copy) }
            return try body(copy)
        }

        public var description: String { "Ed25519.PrivateKey(public: \(publicKey), secret: <redacted>)" }
    }
}
