import SodiumWrapper

/// A 32-byte SHA-256 node or leaf hash of the transparency log's Merkle tree.
///
/// Hashing follows RFC 9162 §2.1.1: a leaf is `SHA-256(0x00 ‖ entry)` and an interior
/// node is `SHA-256(0x01 ‖ left ‖ right)`; the domain-separation bytes stop a leaf
/// from being passed off as an interior node (second-preimage defence).
public struct MerkleHash: Hashable, Sendable, CustomStringConvertible {
    public static let length = 32
    public let bytes: [UInt8]

    /// nil unless `bytes` is exactly 32 bytes long.
    public init?(_ bytes: [UInt8]) {
        guard bytes.count == MerkleHash.length else { return nil }
        self.bytes = bytes
    }

    init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    /// The leaf hash of one log entry's canonical bytes (RFC 9162 §2.1.1).
    public static func leaf(_ entry: [UInt8]) -> MerkleHash {
        var h = SHA256()
        h.update(byte: 0x00)
        h.update(entry)
        return MerkleHash(unchecked: h.finalize())
    }

    /// The interior node hash over two children (RFC 9162 §2.1.1).
    public static func node(_ left: MerkleHash, _ right: MerkleHash) -> MerkleHash {
        var h = SHA256()
        h.update(byte: 0x01)
        h.update(left.bytes)
        h.update(right.bytes)
        return MerkleHash(unchecked: h.finalize())
    }

    /// The root of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1).
    public static let empty = MerkleHash(unchecked: SHA256.hash([]))

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
}
