import Testing
import SodiumWrapper
@testable import Transparency

/// Independent, deliberately naive RFC 9162 §2.1 definitions, written from the RFC text
/// (recursion over leaf arrays), to check the store-friendly implementation against.
enum Naive {
    static func mth(_ leaves: ArraySlice<MerkleHash>) -> MerkleHash {
        if leaves.isEmpty { return MerkleHash(SHA256.hash([]))! }
        if leaves.count == 1 { return leaves.first! }
        var k = 1
        while k * 2 < leaves.count { k *= 2 }
        let mid = leaves.startIndex + k
        return node(mth(leaves[leaves.startIndex..<mid]), mth(leaves[mid...]))
    }

    static func node(_ l: MerkleHash, _ r: MerkleHash) -> MerkleHash {
        MerkleHash(SHA256.hash([0x01] + l.bytes + r.bytes))!
    }

    static func path(_ m: Int, _ d: ArraySlice<MerkleHash>) -> [MerkleHash] {
        if d.count <= 1 { return [] }
        var k = 1
        while k * 2 < d.count { k *= 2 }
        let mid = d.startIndex + k
        if m < k { return path(m, d[d.startIndex..<mid]) + [mth(d[mid...])] }
        return path(m - k, d[mid...]) + [mth(d[d.startIndex..<mid])]
    }

    static func proof(_ m: Int, _ d: ArraySlice<MerkleHash>) -> [MerkleHash] { subproof(m, d, true) }

    static func subproof(_ m: Int, _ d: ArraySlice<MerkleHash>, _ b: Bool) -> [MerkleHash] {
        if m == d.count { return b ? [] : [mth(d)] }
        var k = 1
        while k * 2 < d.count { k *= 2 }
        let mid = d.startIndex + k
        if m <= k { return subproof(m, d[d.startIndex..<mid], b) + [mth(d[mid...])] }
        return subproof(m - k, d[mid...], false) + [mth(d[d.startIndex..<mid])]
    }
}

func h(_ hex: String) -> MerkleHash { MerkleHash(Hex.decode(hex)!)! }

@Suite("Merkle tree (RFC 9162 §2.1)")
struct MerkleTests {
    // RFC 6962 / Certificate Transparency reference leaves and roots (sizes 1…8).
    static let referenceLeaves: [[UInt8]] = [
        [], [0x00], [0x10], [0x20, 0x21], [0x30, 0x31], [0x40, 0x41, 0x42, 0x43],
        [0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        Array(0x60...0x6f),
    ]
    static let referenceRoots = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]

    func referenceTree() -> InMemoryMerkleTree {
        var t = InMemoryMerkleTree()
        for l in Self.referenceLeaves { t.append(entry: l) }
        return t
    }

    @Test func emptyTreeRootIsSHA256OfNothing() {
        #expect(MerkleAccumulator().rootHash.hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func rootsMatchReferenceValues() throws {
        var acc = MerkleAccumulator()
        let tree = referenceTree()
        for (i, leaf) in Self.referenceLeaves.enumerated() {
            acc.append(.leaf(leaf))
            #expect(acc.rootHash.hex == Self.referenceRoots[i], "size \(i + 1)")
            #expect(try tree.rootHash(treeSize: UInt64(i + 1)).hex == Self.referenceRoots[i])
        }
    }

    @Test func proofsMatchReferenceValues() throws {
        let tree = referenceTree()
        #expect(try tree.inclusionProof(index: 0, treeSize: 8) == [
            h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ])
        #expect(try tree.inclusionProof(index: 5, treeSize: 8) == [
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
            h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
        ])
        #expect(try tree.consistencyProof(oldSize: 2, newSize: 8) == [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
        ])
        #expect(try tree.consistencyProof(oldSize: 2, newSize: 5) == [
            h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
            h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
        ])
    }

    @Test func everyProofMatchesTheNaiveDefinitionAndVerifies() throws {
        var tree = InMemoryMerkleTree()
        var leaves: [MerkleHash] = []
        for i in 0..<70 {
            let leaf = MerkleHash.leaf([UInt8(i), UInt8(truncatingIfNeeded: i &* 7)])
            leaves.append(leaf)
            tree.append(leafHash: leaf)
        }
        for n in 1...leaves.count {
            let root = Naive.mth(leaves[0..<n])
            #expect(try tree.rootHash(treeSize: UInt64(n)) == root)
            for m in 0..<n {
                let proof = try tree.inclusionProof(index: UInt64(m), treeSize: UInt64(n))
                #expect(proof == Naive.path(m, leaves[0..<n]), "inclusion \(m) in \(n)")
                try MerkleProofVerifier.verifyInclusion(leafHash: leaves[m], index: UInt64(m), treeSize: UInt64(n), proof: proof, rootHash: root)
            }
            for m in 1...n {
                let proof = try tree.consistencyProof(oldSize: UInt64(m), newSize: UInt64(n))
                #expect(proof == Naive.proof(m, leaves[0..<n]), "consistency \(m) → \(n)")
                try MerkleProofVerifier.verifyConsistency(oldSize: UInt64(m), newSize: UInt64(n),
                                                          oldRoot: Naive.mth(leaves[0..<m]), newRoot: root, proof: proof)
            }
        }
    }

    @Test func flippingAnyByteOfAProofIsDetected() throws {
        var tree = InMemoryMerkleTree()
        for i in 0..<37 { tree.append(entry: [UInt8(i)]) }
        let n: UInt64 = 37
        let root = tree.rootHash
        for m: UInt64 in [0, 13, 32, 36] {
            let leaf = MerkleHash.leaf([UInt8(m)])
            let proof = try tree.inclusionProof(index: m, treeSize: n)
            for e in proof.indices {
                for b in 0..<32 {
                    var bad = proof
                    var bytes = bad[e].bytes
                    bytes[b] ^= 0x01
                    bad[e] = MerkleHash(bytes)!
                    #expect(throws: MerkleError.self) {
                        try MerkleProofVerifier.verifyInclusion(leafHash: leaf, index: m, treeSize: n, proof: bad, rootHash: root)
                    }
                }
            }
            // Wrong index, truncated or extended path, wrong leaf.
            #expect(throws: MerkleError.self) { try MerkleProofVerifier.verifyInclusion(leafHash: leaf, index: m ^ 1, treeSize: n, proof: proof, rootHash: root) }
            #expect(throws: MerkleError.self) { try MerkleProofVerifier.verifyInclusion(leafHash: leaf, index: m, treeSize: n, proof: Array(proof.dropLast()), rootHash: root) }
            #expect(throws: MerkleError.self) { try MerkleProofVerifier.verifyInclusion(leafHash: leaf, index: m, treeSize: n, proof: proof + [root], rootHash: root) }
            #expect(throws: MerkleError.self) { try MerkleProofVerifier.verifyInclusion(leafHash: .leaf([0xff]), index: m, treeSize: n, proof: proof, rootHash: root) }
        }
        for m: UInt64 in [1, 7, 8, 20] {
            let old = try tree.rootHash(treeSize: m)
            let proof = try tree.consistencyProof(oldSize: m, newSize: n)
            for e in proof.indices {
                for b in stride(from: 0, to: 32, by: 3) {
                    var bad = proof
                    var bytes = bad[e].bytes
                    bytes[b] ^= 0x80
                    bad[e] = MerkleHash(bytes)!
                    #expect(throws: MerkleError.self) {
                        try MerkleProofVerifier.verifyConsistency(oldSize: m, newSize: n, oldRoot: old, newRoot: root, proof: bad)
                    }
                }
            }
            #expect(throws: MerkleError.self) {
                try MerkleProofVerifier.verifyConsistency(oldSize: m, newSize: n, oldRoot: root, newRoot: root, proof: proof)
            }
            #expect(throws: MerkleError.self) {
                try MerkleProofVerifier.verifyConsistency(oldSize: m, newSize: n, oldRoot: old, newRoot: root, proof: Array(proof.dropLast()))
            }
        }
    }

    @Test func accumulatorResumesFromStoredPeaks() throws {
        var tree = InMemoryMerkleTree()
        for i in 0..<1000 { tree.append(entry: [UInt8(i & 0xff), UInt8(i >> 8)]) }
        for size: UInt64 in [1, 2, 3, 511, 512, 513, 999] {
            var partial = InMemoryMerkleTree()
            for i in 0..<Int(size) { partial.append(entry: [UInt8(i & 0xff), UInt8(i >> 8)]) }
            var resumed = try MerkleAccumulator(size: size, peaks: partial.accumulator.peaks)
            for i in Int(size)..<1000 { resumed.append(.leaf([UInt8(i & 0xff), UInt8(i >> 8)])) }
            #expect(resumed == tree.accumulator)
        }
        #expect(throws: MerkleError.invalidCompactRange(size: 3, peaks: 1)) { try MerkleAccumulator(size: 3, peaks: [.empty]) }
    }

    @Test func completedSubtreesAreExactlyThePerfectOnes() {
        var acc = MerkleAccumulator()
        var seen: [SubtreeCoordinate] = []
        for i in 0..<16 { acc.append(.leaf([UInt8(i)])) { c, _ in seen.append(c) } }
        // 16 leaves: 8 + 4 + 2 + 1 interior perfect subtrees.
        #expect(seen.count == 15)
        #expect(seen.last == SubtreeCoordinate(level: 4, index: 0))
        #expect(SubtreeCoordinate.decompose(0, 13) == [.init(level: 3, index: 0), .init(level: 2, index: 2), .init(level: 0, index: 12)])
        #expect(SubtreeCoordinate.decompose(6, 13) == [.init(level: 1, index: 3), .init(level: 2, index: 2), .init(level: 0, index: 12)])
    }

    @Test func proofsOfLargeTreesAreShort() throws {
        let plan = try MerkleProofPlan.inclusion(index: 123_456, treeSize: 1_000_000)
        #expect(plan.elements.count == 20)
        #expect(plan.coordinates.count <= 40)
        let c = try MerkleProofPlan.consistency(oldSize: 999_999, newSize: 1_000_000)
        #expect(c.elements.count <= 2 * 20)
        #expect(throws: MerkleError.self) { try MerkleProofPlan.inclusion(index: 5, treeSize: 5) }
        #expect(throws: MerkleError.self) { try MerkleProofPlan.consistency(oldSize: 6, newSize: 5) }
    }
}
