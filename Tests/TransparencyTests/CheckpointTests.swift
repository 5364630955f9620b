import Testing
import Foundation
import SodiumWrapper
@testable import Transparency

@Suite("Checkpoints as C2SP signed notes")
struct CheckpointTests {
    let key = Ed25519.PrivateKey()
    let origin = "demarc.example/fra-1"

    func signed() throws -> SignedCheckpoint {
        var tree = InMemoryMerkleTree()
        for i in 0..<5 { tree.append(entry: [UInt8(i)]) }
        return SignedCheckpoint(signing: Checkpoint(origin: origin, size: tree.size, rootHash: tree.rootHash),
                                with: try NoteSigner(keyName: origin, key: key))
    }

    @Test func formatMatchesTheSpec() throws {
        let cp = try signed()
        let text = cp.serialized
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[0] == "demarc.example/fra-1")
        #expect(lines[1] == "5")
        #expect(Data(base64Encoded: String(lines[2]))?.count == 32)
        #expect(lines[3] == "")
        #expect(lines[4].hasPrefix("\u{2014} demarc.example/fra-1 "))
        #expect(lines.last == "")
        let raw = Array(Data(base64Encoded: String(lines[4].split(separator: " ")[2]))!)
        #expect(raw.count == 68)
        // Key ID computed independently: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ pubkey)[:4].
        let expectedID = Array(SHA256.hash(Array(origin.utf8) + [0x0A, 0x01] + key.publicKey.rawRepresentation).prefix(4))
        #expect(Array(raw.prefix(4)) == expectedID)
        #expect(key.publicKey.isValidSignature(Array(raw.dropFirst(4)), for: Array(cp.checkpoint.text.utf8)))
        let verifier = try NoteVerifier(keyName: origin, publicKey: key.publicKey)
        #expect(try SignedCheckpoint(verifying: text, with: verifier, expectedOrigin: origin).checkpoint == cp.checkpoint)
    }

    @Test func flippingAnyByteOfTheNoteIsDetected() throws {
        let cp = try signed()
        let verifier = try NoteVerifier(keyName: origin, publicKey: key.publicKey)
        let bytes = Array(cp.serialized.utf8)
        for i in bytes.indices {
            for flip: UInt8 in [0x01, 0x20] {
                var bad = bytes
                bad[i] ^= flip
                let text = String(decoding: bad, as: UTF8.self)
                if text == cp.serialized { continue }
                #expect(throws: CheckpointError.self, "byte \(i)") { try SignedCheckpoint(verifying: text, with: verifier) }
            }
        }
    }

    @Test func otherKeysAndNamesAreRejected() throws {
        let cp = try signed()
        let other = try NoteVerifier(keyName: origin, publicKey: Ed25519.PrivateKey().publicKey)
        #expect(throws: CheckpointError.note(.noSignatureByKnownKey)) { try SignedCheckpoint(verifying: cp.serialized, with: other) }
        let renamed = try NoteVerifier(keyName: "demarc.example/other", publicKey: key.publicKey)
        #expect(throws: CheckpointError.note(.noSignatureByKnownKey)) { try SignedCheckpoint(verifying: cp.serialized, with: renamed) }
        let verifier = try NoteVerifier(keyName: origin, publicKey: key.publicKey)
        #expect(throws: CheckpointError.wrongOrigin(expected: "x", found: origin)) {
            try SignedCheckpoint(verifying: cp.serialized, with: verifier, expectedOrigin: "x")
        }
        #expect(throws: NoteError.self) { try NoteSigner(keyName: "has space", key: key) }
    }

    @Test(arguments: ["o\n05\nAAAA\n", "o\n-1\n\(String(repeating: "A", count: 43))=\n", "\n1\n\(String(repeating: "A", count: 43))=\n", "o\n1\n"])
    func malformedCheckpointTextIsRejected(_ text: String) {
        #expect(throws: CheckpointError.self) { try Checkpoint.parse(text: text) }
    }
}
