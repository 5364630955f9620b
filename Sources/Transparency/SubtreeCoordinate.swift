/// A perfect, aligned subtree of the log: leaves `index << level ..< (index + 1) << level`.
///
/// Level 0 is a single leaf. Every perfect subtree is final once its last leaf is
/// appended, so stores persist them as they complete and proofs read them back
/// instead of rehashing leaves.
public struct SubtreeCoordinate: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let level: Int
    public let index: UInt64

    public init(level: Int, index: UInt64) {
        precondition(level >= 0 && level < 64, "subtree level out of range")
        self.level = level
        self.index = index
    }

    /// First leaf covered.
    public var start: UInt64 { index << UInt64(level) }
    /// One past the last leaf covered.
    public var end: UInt64 { (index + 1) << UInt64(level) }

    public static func < (a: Self, b: Self) -> Bool { (a.level, a.index) < (b.level, b.index) }
    public var description: String { "L\(level)#\(index)" }

    /// Splits the leaf range `lower..<upper` into maximal aligned perfect subtrees, left
    /// to right. For any subtree of the RFC 9162 tree (`MTH(D[lower:upper])` with `lower`
    /// aligned to the split points) the sizes come out in strictly decreasing order, and
    /// the range hash is the right fold `node(s0, node(s1, … sN))` (see `MerkleRangeHash`).
    public static func decompose(_ lower: UInt64, _ upper: UInt64) -> [SubtreeCoordinate] {
        precondition(lower <= upper, "invalid leaf range")
        var out: [SubtreeCoordinate] = []
        var start = lower
        while start < upper {
            var level = start == 0 ? 63 : start.trailingZeroBitCount
            while level > 0 && (level >= 64 || start + (UInt64(1) << UInt64(level)) > upper) { level -= 1 }
            out.append(SubtreeCoordinate(level: level, index: start >> UInt64(level)))
            start += UInt64(1) << UInt64(level)
        }
        return out
    }
}

/// Combines the perfect subtrees of one range into the range's Merkle tree hash.
public enum MerkleRangeHash {
    /// Right fold over the decomposition: `node(h0, node(h1, … hN))`.
    /// `hashes` must be in left-to-right order and non-empty.
    public static func fold(_ hashes: [MerkleHash]) -> MerkleHash {
        precondition(!hashes.isEmpty, "cannot fold an empty range")
        var acc = hashes[hashes.count - 1]
        var i = hashes.count - 2
        while i >= 0 {
            acc = MerkleHash.node(hashes[i], acc)
            i -= 1
        }
        return acc
    }
}
