import DemarcTestSupport
import Testing
import Residency
@testable import Transparency

@Suite("Log entry encoding")
struct LogEntryCodecTests {
    @Test func everyEventRoundTripsCanonically() throws {
        for entry in Fixture.entries(meeting: Fixture.commitment(1)) {
            let bytes = try LogEntryCodec.encode(entry)
            #expect(bytes[0] == LogEntryCodec.version)
            let decoded = try LogEntryCodec.decode(bytes)
            #expect(decoded == entry)
            #expect(try LogEntryCodec.encode(decoded) == bytes)
        }
    }

    @Test func encodingIsFixedForAKnownEntry() throws {
        let entry = LogEntry(meeting: Fixture.commitment(0x11), timestamp: LogTimestamp(millisecondsSinceEpoch: 0x0102),
                             event: .mediaProcessed(at: NodeLocation(node: "n1", region: "r", jurisdiction: CountryCode("DE")!), endToEndEncrypted: true))
        let expected: [UInt8] = [1, 5, 0, 0, 0, 0, 0, 0, 1, 2] + [UInt8](repeating: 0x11, count: 32)
            + [2, 0x6E, 0x31, 1, 0x72, 0x44, 0x45, 1]
        #expect(try LogEntryCodec.encode(entry) == expected)
    }

    @Test(arguments: ["alice@example.com", "Alice Smith", "", String(repeating: "x", count: 65), "10.0.0.1 "])
    func identifiersThatCouldCarryPersonalDataAreRefused(_ node: String) {
        let entry = LogEntry(meeting: Fixture.commitment(1), timestamp: Fixture.t0,
                             event: .nodeRefused(at: NodeLocation(node: NodeID(node), region: "r", jurisdiction: CountryCode("DE")!), reason: .noCapacity))
        #expect(throws: LogEntryEncodingError.self) { try LogEntryCodec.encode(entry) }
    }

    @Test func typedErrorsForMalformedInput() throws {
        let good = try LogEntryCodec.encode(Fixture.entries(meeting: Fixture.commitment(1))[0])
        #expect(throws: LogEntryDecodingError.empty) { try LogEntryCodec.decode([]) }
        #expect(throws: LogEntryDecodingError.unsupportedVersion(2)) { try LogEntryCodec.decode([2] + good.dropFirst()) }
        #expect(throws: LogEntryDecodingError.unknownEventKind(99)) { try LogEntryCodec.decode([1, 99] + good.dropFirst(2)) }
        #expect(throws: LogEntryDecodingError.trailingBytes(offset: good.count, count: 1)) { try LogEntryCodec.decode(good + [0]) }
        #expect(throws: LogEntryDecodingError.truncated(field: "timestamp", offset: 2)) { try LogEntryCodec.decode(Array(good.prefix(5))) }
    }

    /// Random bytes, every truncation and every single-byte mutation of valid entries:
    /// the decoder never traps, and whatever it accepts is canonical.
    @Test func fuzzedBytesNeverCrashAndAcceptedBytesAreCanonical() throws {
        var rng = SeededGenerator(seed: 0xD3A4C)
        func check(_ bytes: [UInt8]) {
            do {
                let entry = try LogEntryCodec.decode(bytes)
                #expect((try? LogEntryCodec.encode(entry)) == bytes, "accepted non-canonical bytes")
            } catch {
                // Typed throws: the only error possible is LogEntryDecodingError.
                _ = error.description
            }
        }
        for _ in 0..<3000 {
            let n = Int.random(in: 0..<160, using: &rng)
            var bytes = (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if n > 2, Bool.random(using: &rng) { bytes[0] = 1; bytes[1] = UInt8.random(in: 1...10, using: &rng) }
            check(bytes)
        }
        for entry in Fixture.entries(meeting: Fixture.commitment(7)) {
            let good = try LogEntryCodec.encode(entry)
            for cut in 0..<good.count { check(Array(good.prefix(cut))) }
            for i in good.indices {
                for _ in 0..<6 {
                    var bad = good
                    bad[i] = UInt8.random(in: 0...255, using: &rng)
                    check(bad)
                }
            }
        }
    }

    @Test func flippingAnyByteOfAnEntryChangesItsLeafHash() throws {
        let good = try LogEntryCodec.encode(Fixture.entries(meeting: Fixture.commitment(1))[1])
        let leaf = MerkleHash.leaf(good)
        for i in good.indices {
            var bad = good
            bad[i] ^= 0x01
            #expect(MerkleHash.leaf(bad) != leaf)
        }
    }

    @Test func commitmentsDependOnTenantSecretAndDomain() {
        let a = TenantCommitmentKey.generate(), b = TenantCommitmentKey.generate()
        #expect(a.meeting("m-1") == a.meeting("m-1"))
        #expect(a.meeting("m-1") != b.meeting("m-1"))
        #expect(a.meeting("m-1") != a.artifact("m-1", inMeeting: "m-1"))
        #expect(a.participant("p", inMeeting: "m-1") != a.participant("p", inMeeting: "m-2"))
        #expect(a.participant("ab", inMeeting: "c") != a.participant("b", inMeeting: "ca"))
    }
}
