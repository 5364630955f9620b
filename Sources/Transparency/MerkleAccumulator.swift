/// The compact range of the log: the hashes of the perfect subtrees that make up
/// leaves `0..<size`, one per set bit of `size`. Appending a leaf merges equal-sized
/// subtrees, yielding each newly completed perfect subtree so a store can persist it.
///
/// Value type, no I/O. Memory is O(log size). Amortised cost per append is one
/// interior hash.
public struct MerkleAccumulator: Sendable, Equatable {
    /// Current number of leaves.
    public private(set) var size: UInt64
    /// Perfect subtree hashes from the largest (leftmost) to the smallest.
    public private(set) var peaks: [MerkleHash]

    /// An empty log.
    public init() {
        size = 0
        peaks = []
    }

    /// Resumes from a stored log: `peaks` are the hashes of
    /// `SubtreeCoordinate.decompose(0, size)` in order.
    public init(size: UInt64, peaks: [MerkleHash]) throws(MerkleError) {
        guard peaks.count == size.nonzeroBitCount else {
            throw .invalidCompactRange(size: size, peaks: peaks.count)
        }
        self.size = size
        self.peaks = peaks
    }

    /// The subtrees whose hashes `init(size:peaks:)` needs.
    public static func peakCoordinates(size: UInt64) -> [SubtreeCoordinate] {
        SubtreeCoordinate.decompose(0, size)
    }

    /// Appends one leaf hash. Calls `completed` for every perfect subtree of level ≥ 1
    /// finished by this leaf, lowest level first.
    public mutating func append(_ leaf: MerkleHash, completed: (SubtreeCoordinate, MerkleHash) -> Void) {
        var hash = leaf
        var level = 0
        var index = size
        // Each trailing one bit of the old size is a peak of the same level to merge with.
        while (size >> UInt64(level)) & 1 == 1 {
            hash = MerkleHash.node(peaks.removeLast(), hash)
            level += 1
            index >>= 1
            completed(SubtreeCoordinate(level: level, index: index), hash)
        }
        peaks.append(hash)
        size += 1
    }

    /// Appends one leaf hash, discarding completed subtrees.
    public mutating func append(_ leaf: MerkleHash) {
        append(leaf) { _, _ in }
    }

    /// The tree head `MTH(D[0:size])` (RFC 9162 §2.1.1).
    public var rootHash: MerkleHash {
        peaks.isEmpty ? .empty : MerkleRangeHash.fold(peaks)
    }
}

/// Errors from Merkle tree computations and proof checks.
public enum MerkleError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidCompactRange(size: UInt64, peaks: Int)
    case indexOutOfRange(index: UInt64, treeSize: UInt64)
    case invalidTreeSizes(old: UInt64, new: UInt64)
    case missingSubtree(SubtreeCoordinate)
    case inclusionProofMismatch
    case consistencyProofMismatch
    case malformedProof(String)

    public var description: String {
        switch self {
        case let .invalidCompactRange(size, peaks):
            "a log of \(size) entries has \(size.nonzeroBitCount) subtree peaks, not \(peaks); the store is damaged"
        case let .indexOutOfRange(index, treeSize): "entry \(index) is not in a tree of size \(treeSize)"
        case let .invalidTreeSizes(old, new): "no consistency proof from size \(old) to size \(new): the old size must not exceed the new"
        case let .missingSubtree(c): "the store has no hash for subtree \(c); the store is damaged or behind"
        case .inclusionProofMismatch: "the inclusion proof does not lead to the tree head's root hash"
        case .consistencyProofMismatch: "the consistency proof does not connect the two tree heads"
        case let .malformedProof(why): "malformed proof: \(why)"
        }
    }
}
