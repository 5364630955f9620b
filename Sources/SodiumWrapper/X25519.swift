import CSodium

/// X25519 Diffie-Hellman (RFC 7748) via libsodium's `crypto_scalarmult`.
public enum X25519 {
    public static let keyLength = 32

    public struct PublicKey: Hashable, Sendable {
        public let rawRepresentation: [UInt8]
        public init(rawRepresentation bytes: [UInt8]) throws(SodiumError) {
            try checkLength(bytes, X25519.keyLength, "X25519 public key")
            rawRepresentation = bytes
        }
    }

    public struct PrivateKey: Sendable, CustomStringConvertible {
        private let scalar: SecretBytes
        public let publicKey: PublicKey

        public init() {
            var bytes = RandomBytes.generate(count: X25519.keyLength)
            try! self.init(consuming: &bytes)
        }

        public init(consuming bytes: inout [UInt8]) throws(SodiumError) {
            Sodium.ensureInitialized()
            try checkLength(bytes, X25519.keyLength, "X25519 private key")
            var pk = [UInt8](repeating: 0, count: X25519.keyLength)
            _ = bytes.withUnsafeBufferPointer { crypto_scalarmult_base(&pk, $0.baseAddress!) }
            scalar = SecretBytes(consuming: &bytes)
            publicKey = try PublicKey(rawRepresentation: pk)
        }

        /// The raw shared secret with `peer`. Hash it (with both public keys) before use as a key.
        public func sharedSecret(with peer: PublicKey) throws(SodiumError) -> SecretBytes {
            var out = [UInt8](repeating: 0, count: X25519.keyLength)
            let rc = scalar.withUnsafeBytes { s in
                peer.rawRepresentation.withUnsafeBufferPointer { p in
                    crypto_scalarmult(&out, s.baseAddress!.assumingMemoryBound(to: UInt8.self), p.baseAddress!)
                }
            }
            guard rc == 0 else { Sodium.memzero(&out); throw .weakPublicKey }
            return SecretBytes(consuming: &out)
        }

        public var description: String { "X25519.PrivateKey(<redacted>)" }
    }
}
