/// Checks inclusion and consistency proofs exactly as RFC 9162 §2.1.3.2 and §2.1.4.2
/// describe. Pure functions over hashes; used by the offline verifier and the CLI.
public enum MerkleProofVerifier {
    /// Verifies that `leafHash` is leaf `index` of the tree with `rootHash` and `treeSize`
    /// (RFC 9162 §2.1.3.2).
    public static func verifyInclusion(
        leafHash: MerkleHash, index: UInt64, treeSize: UInt64, proof: [MerkleHash], rootHash: MerkleHash
    ) throws(MerkleError) {
        guard index < treeSize else { throw .indexOutOfRange(index: index, treeSize: treeSize) }
        var fn = index, sn = treeSize - 1
        var r = leafHash
        for p in proof {
            guard sn != 0 else { throw .malformedProof("the inclusion path is longer than the tree is deep") }
            if fn & 1 == 1 || fn == sn {
                r = MerkleHash.node(p, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = MerkleHash.node(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw .malformedProof("the inclusion path is shorter than the tree is deep") }
        guard r == rootHash else { throw .inclusionProofMismatch }
    }

    /// Verifies that the tree (`newSize`, `newRoot`) extends (`oldSize`, `oldRoot`)
    /// (RFC 9162 §2.1.4.2). Equal sizes need an empty proof and equal roots; every tree
    /// extends the empty tree.
    public static func verifyConsistency(
        oldSize: UInt64, newSize: UInt64, oldRoot: MerkleHash, newRoot: MerkleHash, proof: [MerkleHash]
    ) throws(MerkleError) {
        guard oldSize <= newSize else { throw .invalidTreeSizes(old: oldSize, new: newSize) }
        if oldSize == newSize {
            guard proof.isEmpty else { throw .malformedProof("a proof between equal sizes must be empty") }
            guard oldRoot == newRoot else { throw .consistencyProofMismatch }
            return
        }
        if oldSize == 0 {
            guard proof.isEmpty else { throw .malformedProof("a proof from the empty tree must be empty") }
            return
        }
        guard !proof.isEmpty else { throw .malformedProof("the consistency proof is empty") }
        var path = proof
        if oldSize.nonzeroBitCount == 1 { path.insert(oldRoot, at: 0) }
        var fn = oldSize - 1, sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0], sr = path[0]
        for c in path.dropFirst() {
            guard sn != 0 else { throw .malformedProof("the consistency proof is too long") }
            if fn & 1 == 1 || fn == sn {
                fr = MerkleHash.node(c, fr)
                sr = MerkleHash.node(c, sr)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                sr = MerkleHash.node(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw .malformedProof("the consistency proof is too short") }
        guard fr == oldRoot, sr == newRoot else { throw .consistencyProofMismatch }
    }
}

/// An in-memory Merkle tree that keeps every perfect subtree hash, for verifiers,
/// tests and small logs. Production stores persist the same hashes on disk.
public struct InMemoryMerkleTree: Sendable {
    public private(set) var accumulator = MerkleAccumulator()
    private var subtrees: [SubtreeCoordinate: MerkleHash] = [:]

    public init() {}

    public var size: UInt64 { accumulator.size }
    public var rootHash: MerkleHash { accumulator.rootHash }

    public mutating func append(leafHash: MerkleHash) {
        subtrees[SubtreeCoordinate(level: 0, index: accumulator.size)] = leafHash
        accumulator.append(leafHash) { c, h in subtrees[c] = h }
    }

    public mutating func append(entry: [UInt8]) { append(leafHash: .leaf(entry)) }

    /// The root of the first `treeSize` leaves.
    public func rootHash(treeSize: UInt64) throws(MerkleError) -> MerkleHash {
        guard treeSize <= size else { throw .invalidTreeSizes(old: treeSize, new: size) }
        if treeSize == 0 { return .empty }
        let parts = SubtreeCoordinate.decompose(0, treeSize)
        var hashes: [MerkleHash] = []
        for c in parts {
            guard let h = subtrees[c] else { throw .missingSubtree(c) }
            hashes.append(h)
        }
        return MerkleRangeHash.fold(hashes)
    }

    public func inclusionProof(index: UInt64, treeSize: UInt64) throws(MerkleError) -> [MerkleHash] {
        guard treeSize <= size else { throw .indexOutOfRange(index: index, treeSize: size) }
        return try MerkleProofPlan.inclusion(index: index, treeSize: treeSize).assemble { subtrees[$0] }
    }

    public func consistencyProof(oldSize: UInt64, newSize: UInt64) throws(MerkleError) -> [MerkleHash] {
        guard newSize <= size else { throw .invalidTreeSizes(old: newSize, new: size) }
        return try MerkleProofPlan.consistency(oldSize: oldSize, newSize: newSize).assemble { subtrees[$0] }
    }
}
