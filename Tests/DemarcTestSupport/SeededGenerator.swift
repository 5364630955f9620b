/// A deterministic random number generator (SplitMix64) so property tests
/// reproduce exactly from the seed printed on failure.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Byte-level mutations for fuzzing parsers with valid-looking inputs.
public enum Mutations {
    /// Random bytes of a random length up to `maxLength`.
    public static func randomBytes(_ rng: inout SeededGenerator, maxLength: Int) -> [UInt8] {
        (0..<Int.random(in: 0...maxLength, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    /// `bytes` with one of: a byte flipped, a byte deleted, a byte inserted, truncation, or a slice duplicated.
    public static func mutate(_ bytes: [UInt8], _ rng: inout SeededGenerator) -> [UInt8] {
        var b = bytes
        guard !b.isEmpty else { return [UInt8.random(in: 0...255, using: &rng)] }
        let i = Int.random(in: 0..<b.count, using: &rng)
        switch Int.random(in: 0..<5, using: &rng) {
        case 0: b[i] ^= UInt8.random(in: 1...255, using: &rng)
        case 1: b.remove(at: i)
        case 2: b.insert(UInt8.random(in: 0...255, using: &rng), at: i)
        case 3: b = Array(b.prefix(i))
        default:
            let j = Int.random(in: i..<b.count, using: &rng)
            b.insert(contentsOf: b[i...j], at: j)
        }
        return b
    }
}
