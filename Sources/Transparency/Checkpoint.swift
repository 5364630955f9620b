import Foundation

/// A tree head in the C2SP checkpoint format (c2sp.org/tlog-checkpoint): the origin
/// line, the tree size in decimal, the base64 root hash, each ending in a newline.
/// Carried as the text of a signed note.
public struct Checkpoint: Hashable, Sendable, CustomStringConvertible {
    /// Identifies the log; by convention a schema-less URL such as `demarc.example/fra-1`.
    public let origin: String
    public let size: UInt64
    public let rootHash: MerkleHash

    public init(origin: String, size: UInt64, rootHash: MerkleHash) {
        self.origin = origin
        self.size = size
        self.rootHash = rootHash
    }

    /// The note text (`origin\nsize\nbase64(root)\n`).
    public var text: String { "\(origin)\n\(size)\n\(Data(rootHash.bytes).base64EncodedString())\n" }

    public var description: String { "\(origin) @ \(size) = \(rootHash.hex.prefix(16))…" }

    /// Parses checkpoint text. Extension lines after the root hash are allowed (and ignored)
    /// as the format says; the size must be decimal without leading zeros.
    public static func parse(text: String) throws(CheckpointError) -> Checkpoint {
        guard text.hasSuffix("\n") else { throw .malformed("the checkpoint text must end with a newline") }
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 3 else { throw .malformed("a checkpoint has an origin, a size and a root hash line") }
        let origin = String(lines[0])
        guard !origin.isEmpty else { throw .malformed("empty origin line") }
        let sizeText = lines[1]
        guard !sizeText.isEmpty, sizeText.allSatisfy({ $0.isASCII && $0.isNumber }),
              sizeText == "0" || !sizeText.hasPrefix("0"), let size = UInt64(sizeText) else {
            throw .malformed("tree size '\(sizeText.prefix(30))' is not a decimal number without leading zeros")
        }
        guard let raw = Data(base64Encoded: String(lines[2])), let root = MerkleHash(Array(raw)),
              Data(raw).base64EncodedString() == lines[2] else {
            throw .malformed("the root hash line is not the base64 of 32 bytes")
        }
        for ext in lines.dropFirst(3) where ext.isEmpty { throw .malformed("empty extension line") }
        return Checkpoint(origin: origin, size: size, rootHash: root)
    }
}

/// A checkpoint together with the signed note that carries it.
public struct SignedCheckpoint: Sendable, Equatable {
    public let checkpoint: Checkpoint
    public let note: SignedNote

    /// Signs `checkpoint` with a node's key. The key name is the checkpoint's origin.
    public init(signing checkpoint: Checkpoint, with signer: NoteSigner) {
        self.checkpoint = checkpoint
        note = signer.sign(checkpoint.text)
    }

    /// Verifies `serialized` with `verifier`, then parses the checkpoint; also checks the
    /// origin matches the expected one when given.
    public init(verifying serialized: String, with verifier: NoteVerifier, expectedOrigin: String? = nil) throws(CheckpointError) {
        let note: SignedNote
        let text: String
        do {
            note = try SignedNote.parse(serialized)
            text = try verifier.open(note)
        } catch { throw .note(error) }
        let cp = try Checkpoint.parse(text: text)
        if let expectedOrigin, cp.origin != expectedOrigin { throw .wrongOrigin(expected: expectedOrigin, found: cp.origin) }
        self.checkpoint = cp
        self.note = note
    }

    public var serialized: String { note.serialized }
}

public enum CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
    case malformed(String)
    case note(NoteError)
    case wrongOrigin(expected: String, found: String)

    public var description: String {
        switch self {
        case let .malformed(why): "malformed checkpoint: \(why)"
        case let .note(e): "checkpoint signature: \(e)"
        case let .wrongOrigin(expected, found): "checkpoint is for log '\(found)', expected '\(expected)'"
        }
    }
}
