import Testing
import Foundation
import Gossip
import DemarcTestSupport

/// The keyring file: generated files parse, every malformed line is a typed error naming
/// the line (and never the key bytes), and random input never traps.
@Suite struct KeyringFileTests {
    @Test func aGeneratedKeyringParsesAndTheFirstKeyIsPrimary() throws {
        let first = KeyringFile.generate(id: "k-2026-12")
        let second = KeyringFile.generate(id: "k-2026-11").split(separator: "\n").last.map(String.init) ?? ""
        let ring = try KeyringFile.parse(first + second + "\n\n# old key above\n")
        #expect(ring.primaryID == "k-2026-12")
        #expect(ring.keyIDs == ["k-2026-12", "k-2026-11"])
        #expect(first != KeyringFile.generate(id: "k-2026-12"))   // fresh random bytes each time
    }

    @Test func malformedLinesAreTypedErrorsWithTheirLine() {
        let key = Data(repeating: 7, count: 32).base64EncodedString()
        let cases: [(String, KeyringFile.Error)] = [
            ("", .empty),
            ("# only a comment\n", .empty),
            ("demarc-gossip-key-v1 k1\n", .malformedLine(line: 1, reason: "wrong number of fields")),
            ("\nsomething-else k1 \(key)\n", .malformedLine(line: 2, reason: "unknown tag")),
            ("demarc-gossip-key-v1 k1 \(Data(repeating: 7, count: 16).base64EncodedString())\n",
             .malformedLine(line: 1, reason: "the key is not base64 of 32 bytes")),
            ("demarc-gossip-key-v1 k1 \(key)\ndemarc-gossip-key-v1 k1 \(key)\n", .duplicateID(line: 2, id: "k1")),
        ]
        for (text, expected) in cases {
            #expect(throws: expected) { try KeyringFile.parse(text) }
        }
        // The error text never repeats the key.
        do { _ = try KeyringFile.parse("demarc-gossip-key-v1 k1 \(key) extra\n"); Issue.record("parsed") } catch {
            #expect(!error.description.contains(key))
        }
    }

    @Test func randomAndMutatedInputNeverTraps() {
        var rng = SeededGenerator(seed: 11)
        let good = Array(KeyringFile.generate(id: "k1").utf8)
        for i in 0..<3_000 {
            let bytes = i % 2 == 0 ? Mutations.randomBytes(&rng, maxLength: 200) : Mutations.mutate(good, &rng)
            do { _ = try KeyringFile.parse(String(decoding: bytes, as: UTF8.self)) } catch {
                #expect(!error.description.isEmpty)
            }
        }
    }
}
