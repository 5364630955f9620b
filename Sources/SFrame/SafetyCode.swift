public import SodiumWrapper

/// The code participants compare out of band (read aloud, or shown side by side) to detect a
/// server that added a participant or swapped an identity key (docs/e2ee.md, threat model).
/// Every participant computes it over the same set of identity keys, so equal codes mean
/// everyone encrypts to the same set of keys.
///
///     digest = SHA-256("Demarc E2EE 1 safety code" ‖ identity keys sorted bytewise, concatenated)
///     code   = 4 groups of 5 digits; group i = big-endian digest[5i ..< 5i+5] mod 100 000
public enum SafetyCode {
    public static let groups = 4

    public static func compute(identityKeys: [X25519.PublicKey]) -> String {
        let sorted = identityKeys.map(\.rawRepresentation).sorted { $0.lexicographicallyPrecedes($1) }
        var hash = SHA256()
        hash.update(Array("Demarc E2EE 1 safety code".utf8))
        for key in sorted { hash.update(key) }
        let digest = hash.finalize()
        return (0..<groups).map { i in
            let value = digest[5 * i..<5 * i + 5].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } % 100_000
            let digits = String(value)
            return String(repeating: "0", count: 5 - digits.count) + digits
        }.joined(separator: " ")
    }
}
