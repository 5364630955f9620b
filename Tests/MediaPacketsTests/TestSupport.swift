import DemarcTestSupport

extension SeededGenerator {
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) } }
}

func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace }.utf8)
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
}

/// Truncations and single-byte mutations of a valid input, plus random garbage: the inputs
/// every parser must survive (return or throw its typed error, never trap).
func mutations(of valid: [UInt8], seed: UInt64, randomCount: Int = 500) -> [[UInt8]] {
    var generator = SeededGenerator(seed: seed)
    var out: [[UInt8]] = []
    for length in 0..<valid.count { out.append(Array(valid.prefix(length))) }
    for index in valid.indices {
        for _ in 0..<3 {
            var copy = valid
            copy[index] = UInt8.random(in: 0...255, using: &generator)
            out.append(copy)
        }
    }
    for _ in 0..<randomCount {
        out.append(generator.bytes(Int.random(in: 0...200, using: &generator)))
    }
    for _ in 0..<randomCount {
        // Random bytes that keep a plausible first byte, to reach deeper into the parser.
        var copy = generator.bytes(Int.random(in: 0...valid.count + 16, using: &generator))
        if !copy.isEmpty, !valid.isEmpty { copy[0] = valid[0] }
        if copy.count > 1, valid.count > 1 { copy[1] = valid[1] }
        out.append(copy)
    }
    return out
}
