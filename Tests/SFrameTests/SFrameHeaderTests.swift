import DemarcTestSupport
import SodiumWrapper
import Testing
@testable import SFrame

@Suite("SFrame header (RFC 9605 §4.3)")
struct SFrameHeaderTests {
    /// Copied from RFC 9605 Appendix C.1 (Header Encoding/Decoding): a selection covering every
    /// KID and CTR length 0–8 and both boundaries of each. Source text:
    /// https://www.rfc-editor.org/rfc/rfc9605 (also sframe-wg/sframe test-vectors.json).
    static let rfcVectors: [(kid: UInt64, ctr: UInt64, header: String)] = [
        (0x0000000000000000, 0x0000000000000000, "00"),
        (0x0000000000000000, 0x0000000000000001, "01"),
        (0x0000000000000000, 0x00000000000000ff, "08ff"),
        (0x0000000000000000, 0x0000000000000100, "090100"),
        (0x0000000000000000, 0x000000000000ffff, "09ffff"),
        (0x0000000000000000, 0x0000000000010000, "0a010000"),
        (0x0000000000000000, 0x0000000000ffffff, "0affffff"),
        (0x0000000000000000, 0x0000000001000000, "0b01000000"),
        (0x0000000000000000, 0x00000000ffffffff, "0bffffffff"),
        (0x0000000000000000, 0x0000000100000000, "0c0100000000"),
        (0x0000000000000000, 0x000000ffffffffff, "0cffffffffff"),
        (0x0000000000000000, 0x0000010000000000, "0d010000000000"),
        (0x0000000000000000, 0x0000ffffffffffff, "0dffffffffffff"),
        (0x0000000000000000, 0x0001000000000000, "0e01000000000000"),
        (0x0000000000000000, 0x00ffffffffffffff, "0effffffffffffff"),
        (0x0000000000000000, 0x0100000000000000, "0f0100000000000000"),
        (0x0000000000000000, 0xffffffffffffffff, "0fffffffffffffffff"),
        (0x0000000000000001, 0x0000000000000000, "10"),
        (0x0000000000000001, 0x0000000000000001, "11"),
        (0x0000000000000001, 0x00000000000000ff, "18ff"),
        (0x0000000000000001, 0xffffffffffffffff, "1fffffffffffffffff"),
        (0x00000000000000ff, 0x0000000000000000, "80ff"),
        (0x00000000000000ff, 0x0000000000000001, "81ff"),
        (0x00000000000000ff, 0x00000000000000ff, "88ffff"),
        (0x00000000000000ff, 0x0000000000000100, "89ff0100"),
        (0x00000000000000ff, 0xffffffffffffffff, "8fffffffffffffffffff"),
        (0x0000000000000100, 0x0000000000000000, "900100"),
        (0x0000000000000100, 0x00000000000000ff, "980100ff"),
        (0x0000000000000100, 0x0000000000000100, "9901000100"),
        (0x000000000000ffff, 0x0000000000010000, "9affff010000"),
        (0x0000000000010000, 0x0000000000000000, "a0010000"),
        (0x0000000000010000, 0x0000010000000000, "ad010000010000000000"),
        (0x0000000000ffffff, 0x00000000000000ff, "a8ffffffff"),
        (0x0000000001000000, 0x0000000000000100, "b9010000000100"),
        (0x00000000ffffffff, 0x0000ffffffffffff, "bdffffffffffffffffffff"),
        (0x0000000100000000, 0x0000000000000000, "c00100000000"),
        (0x0000000100000000, 0x0100000000000000, "cf01000000000100000000000000"),
        (0x000000ffffffffff, 0x000000000000ffff, "c9ffffffffffffff"),
        (0x0000010000000000, 0x0000000000000000, "d0010000000000"),
        (0x0000ffffffffffff, 0x0000000001000000, "dbffffffffffff01000000"),
        (0x0001000000000000, 0x00000000000000ff, "e801000000000000ff"),
        (0x00ffffffffffffff, 0xffffffffffffffff, "efffffffffffffffffffffffffffffff"),
        (0x0100000000000000, 0x0000000000000000, "f00100000000000000"),
        (0x0100000000000000, 0x0100000000000000, "ff010000000000000001000000000000" + "00"),
        (0xffffffffffffffff, 0x0000000000000000, "f0ffffffffffffffff"),
        (0xffffffffffffffff, 0xffffffffffffffff, "ffffffffffffffffffffffffffffffff" + "ff"),
    ]

    @Test func encodesAndDecodesTheRFCVectors() throws {
        for v in Self.rfcVectors {
            let header = SFrameHeader(keyID: v.kid, counter: v.ctr)
            #expect(Hex.encode(header.encoded) == v.header, "kid \(v.kid) ctr \(v.ctr)")
            #expect(header.encodedLength == v.header.count / 2)
            let bytes = try #require(Hex.decode(v.header))
            let parsed = try SFrameHeader.parse(bytes + [0xAA, 0xBB])  // trailing ciphertext is not read
            #expect(parsed.header == header)
            #expect(parsed.length == bytes.count)
        }
    }

    @Test func rejectsTruncatedHeaders() {
        #expect(throws: SFrameHeaderError.truncated(needed: 1, available: 0)) { try SFrameHeader.parse([]) }
        #expect(throws: SFrameHeaderError.truncated(needed: 3, available: 2)) { try SFrameHeader.parse([0x09, 0x01]) }
        #expect(throws: SFrameHeaderError.truncated(needed: 17, available: 16)) { try SFrameHeader.parse([0xFF] + [UInt8](repeating: 1, count: 15)) }
    }

    @Test func rejectsNonMinimalEncodings() {
        // CTR 5 in an extended one-byte field; KID 0x0001 in two bytes.
        #expect(throws: SFrameHeaderError.nonMinimalEncoding(field: .counter)) { try SFrameHeader.parse([0x08, 0x05]) }
        #expect(throws: SFrameHeaderError.nonMinimalEncoding(field: .keyID)) { try SFrameHeader.parse([0x90, 0x00, 0x01]) }
        #expect(throws: SFrameHeaderError.nonMinimalEncoding(field: .counter)) { try SFrameHeader.parse([0x09, 0x00, 0xFF]) }
    }

    @Test func randomValuesRoundTrip() throws {
        var rng = SeededGenerator(seed: 0x5F4A_3E)
        for _ in 0..<5000 {
            // Spread over all lengths: a random value shifted right by a random amount.
            let kid = UInt64.random(in: .min ... .max, using: &rng) >> UInt64.random(in: 0...63, using: &rng)
            let ctr = UInt64.random(in: .min ... .max, using: &rng) >> UInt64.random(in: 0...63, using: &rng)
            let header = SFrameHeader(keyID: kid, counter: ctr)
            let parsed = try SFrameHeader.parse(header.encoded)
            #expect(parsed.header == header && parsed.length == header.encodedLength)
        }
    }

    /// Fuzz: arbitrary and mutated bytes only ever produce a header or a typed error, and every
    /// accepted header re-encodes to exactly the bytes it was parsed from (one encoding per value).
    @Test func fuzzedBytesParseCanonicallyOrFailTyped() {
        var rng = SeededGenerator(seed: 0xF0_22ED)
        let seeds = Self.rfcVectors.compactMap { Hex.decode($0.header) }
        for i in 0..<20_000 {
            let input = i % 2 == 0 ? Mutations.randomBytes(&rng, maxLength: 20) : Mutations.mutate(seeds[i % seeds.count], &rng)
            do {
                let parsed = try SFrameHeader.parse(input)
                #expect(parsed.header.encoded == Array(input.prefix(parsed.length)), "input \(Hex.encode(input))")
            } catch {
                switch error {
                case .truncated(let needed, let available): #expect(needed > available && available == input.count)
                case .nonMinimalEncoding: break
                }
            }
        }
    }
}
