/// Which stored subtree hashes a proof needs, computed without touching storage.
///
/// RFC 9162 defines inclusion paths (§2.1.3.1) and consistency proofs (§2.1.4.1) as
/// lists of `MTH(D[a:b])` over sub-ranges. Each such range splits into at most
/// log₂(n) aligned perfect subtrees, and a store persists every perfect subtree as
/// it completes, so a proof costs O(log² n) hash reads in the worst case and a
/// handful of hash computations — never a pass over the leaves. The plan is pure so
/// the same code serves the synchronous SQLite store and the async PostgreSQL one:
/// read `coordinates` in one batch, then `assemble`.
public struct MerkleProofPlan: Sendable, Equatable {
    /// One proof element per range, in RFC 9162 order, each as its decomposition.
    public let elements: [[SubtreeCoordinate]]

    /// Every distinct subtree the proof needs.
    public var coordinates: Set<SubtreeCoordinate> {
        var set = Set<SubtreeCoordinate>()
        for e in elements { set.formUnion(e) }
        return set
    }

    init(ranges: [(UInt64, UInt64)]) {
        elements = ranges.map { SubtreeCoordinate.decompose($0.0, $0.1) }
    }

    /// The audit path for leaf `index` in a tree of `treeSize` leaves (RFC 9162 §2.1.3.1).
    public static func inclusion(index: UInt64, treeSize: UInt64) throws(MerkleError) -> MerkleProofPlan {
        guard index < treeSize else { throw .indexOutOfRange(index: index, treeSize: treeSize) }
        // PATH(m, D[lo:hi]) recurses into the side holding m and appends the other side's
        // MTH *after* the deeper path, so collect top-down then reverse.
        var ranges: [(UInt64, UInt64)] = []
        var lo: UInt64 = 0, hi = treeSize, m = index
        while hi - lo > 1 {
            let k = largestPowerOfTwo(below: hi - lo)
            if m < k {
                ranges.append((lo + k, hi))
                hi = lo + k
            } else {
                ranges.append((lo, lo + k))
                lo += k
                m -= k
            }
        }
        return MerkleProofPlan(ranges: ranges.reversed())
    }

    /// The consistency proof from `oldSize` to `newSize` (RFC 9162 §2.1.4.1). Empty when
    /// `oldSize` is 0 or equal to `newSize`: nothing needs proving then.
    public static func consistency(oldSize: UInt64, newSize: UInt64) throws(MerkleError) -> MerkleProofPlan {
        guard oldSize <= newSize else { throw .invalidTreeSizes(old: oldSize, new: newSize) }
        if oldSize == 0 || oldSize == newSize { return MerkleProofPlan(ranges: []) }
        // SUBPROOF(m, D[lo:hi], b), unrolled; elements appended after recursion → reverse.
        var ranges: [(UInt64, UInt64)] = []
        var lo: UInt64 = 0, hi = newSize, m = oldSize
        var startFromOldRoot = true
        while true {
            let n = hi - lo
            if m == n {
                if !startFromOldRoot { ranges.append((lo, hi)) }
                break
            }
            let k = largestPowerOfTwo(below: n)
            if m <= k {
                ranges.append((lo + k, hi))
                hi = lo + k
            } else {
                ranges.append((lo, lo + k))
                lo += k
                m -= k
                startFromOldRoot = false
            }
        }
        return MerkleProofPlan(ranges: ranges.reversed())
    }

    /// Builds the proof from subtree hashes read from a store.
    public func assemble(_ lookup: (SubtreeCoordinate) -> MerkleHash?) throws(MerkleError) -> [MerkleHash] {
        var proof: [MerkleHash] = []
        proof.reserveCapacity(elements.count)
        for element in elements {
            var hashes: [MerkleHash] = []
            hashes.reserveCapacity(element.count)
            for c in element {
                guard let h = lookup(c) else { throw .missingSubtree(c) }
                hashes.append(h)
            }
            proof.append(MerkleRangeHash.fold(hashes))
        }
        return proof
    }
}

/// The largest power of two strictly less than `n` (n ≥ 2), the split point `k` of RFC 9162 §2.1.1.
@inline(__always)
func largestPowerOfTwo(below n: UInt64) -> UInt64 {
    precondition(n >= 2)
    return UInt64(1) << UInt64(63 - (n - 1).leadingZeroBitCount)
}
