import Testing
import SodiumWrapper
import DemarcTestSupport
@testable import RelayLinks

/// Relay links: both ends derive the same keys, packets round-trip, and every tampered,
/// replayed, stale, misdirected or random datagram is a typed refusal.
@Suite struct RelayPacketTests {
    struct Pair { var a: RelaySealer; var aIn: RelayOpener; var b: RelaySealer; var bIn: RelayOpener }

    func link(_ transcript: [UInt8] = SHA256.hash([1, 2, 3]), id: UInt64 = 0x0123_4567_89AB_CDEF) throws -> Pair {
        let i = X25519.PrivateKey(), r = X25519.PrivateKey()
        let ki = try RelayKeySchedule(role: .initiator, local: i, remote: r.publicKey, transcript: transcript)
        let kr = try RelayKeySchedule(role: .responder, local: r, remote: i.publicKey, transcript: transcript)
        return Pair(a: RelaySealer(linkID: id, key: ki.sending), aIn: RelayOpener(linkID: id, key: ki.receiving),
                    b: RelaySealer(linkID: id, key: kr.sending), bIn: RelayOpener(linkID: id, key: kr.receiving))
    }

    @Test func bothDirectionsRoundTripAndAreIndependent() throws {
        var p = try link()
        let rtp: [UInt8] = [0x80, 96] + (0..<200).map { UInt8($0 & 0xFF) }
        let d1 = try p.a.seal(rtp, kind: .rtp)
        #expect(d1.count == rtp.count + RelayPacket.overhead)
        #expect(RelayPacket.isRelay(d1[0]))
        let got = try p.bIn.open(d1)
        #expect(got.kind == .rtp && got.packet == rtp)
        let rtcp: [UInt8] = [0x81, 201, 0, 1, 1, 2, 3, 4]
        let d2 = try p.b.seal(rtcp, kind: .rtcp)
        #expect(try p.aIn.open(d2).packet == rtcp)
        // A direction's key does not open the other direction.
        let d3 = try p.a.seal(rtp, kind: .rtp)
        #expect(throws: RelayError.authenticationFailed) { try p.aIn.open(d3) }
        // The payload is not visible on the wire.
        #expect(!d1.windowContains(Array(rtp[10..<40])))
    }

    @Test func everyFlippedByteIsRefusedAndDoesNotMoveTheWindow() throws {
        var p = try link()
        let d = try p.a.seal([0x80, 0x60, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], kind: .rtp)
        for i in d.indices {
            var t = d
            t[i] ^= 0x01
            #expect(throws: RelayError.self) { try p.bIn.open(t) }
        }
        #expect(try p.bIn.open(d).packet.count == 12)   // the genuine one still opens afterwards
    }

    @Test func replaysOldPacketsAndOtherLinksAreRefused() throws {
        var p = try link()
        var sent: [[UInt8]] = []
        for n in 0..<1_100 { sent.append(try p.a.seal([UInt8(n & 0xFF)], kind: .rtp)) }
        // Out of order within the window is fine; each only once.
        #expect(try p.bIn.open(sent[1_050]).packet == [UInt8(1_050 & 0xFF)])
        #expect(try p.bIn.open(sent[1_000]).packet == [UInt8(1_000 & 0xFF)])
        #expect(throws: RelayError.replayed(sequence: 1_000)) { try p.bIn.open(sent[1_000]) }
        #expect(try p.bIn.open(sent[1_099]).packet.count == 1)
        #expect(throws: RelayError.tooOld(sequence: 10)) { try p.bIn.open(sent[10]) }
        // A datagram of another link, and one under another key with the same link id.
        var other = try link(id: 42)
        #expect(throws: RelayError.wrongLink) { try p.bIn.open(try other.a.seal([1], kind: .rtp)) }
        var sameID = try link()
        var fresh = RelayOpener(linkID: p.bIn.linkID, key: p.bIn.key)
        #expect(throws: RelayError.authenticationFailed) { try fresh.open(try sameID.a.seal([1], kind: .rtp)) }
    }

    @Test func keysDependOnTheTranscriptAndLowOrderKeysAreRefused() throws {
        let i = X25519.PrivateKey(), r = X25519.PrivateKey()
        let k1 = try RelayKeySchedule(role: .initiator, local: i, remote: r.publicKey, transcript: RelayKeySchedule.transcript(request: [1], response: [2]))
        let k2 = try RelayKeySchedule(role: .responder, local: r, remote: i.publicKey, transcript: RelayKeySchedule.transcript(request: [1], response: [3]))
        var s = RelaySealer(linkID: 1, key: k1.sending)
        var o = RelayOpener(linkID: 1, key: k2.receiving)
        #expect(throws: RelayError.authenticationFailed) { try o.open(try s.seal([9], kind: .rtp)) }
        // Length-prefixed transcript: moving a byte between request and response changes it.
        #expect(RelayKeySchedule.transcript(request: [1, 2], response: [3]) != RelayKeySchedule.transcript(request: [1], response: [2, 3]))
        let zero = try X25519.PublicKey(rawRepresentation: [UInt8](repeating: 0, count: 32))
        #expect(throws: RelayError.keyAgreementFailed) { try RelayKeySchedule(role: .initiator, local: i, remote: zero, transcript: []) }
        var big = RelaySealer(linkID: 1, key: k1.sending)
        #expect(throws: RelayError.tooLarge(1_501)) { try big.seal([UInt8](repeating: 0, count: 1_501), kind: .rtp) }
    }

    @Test func randomAndTruncatedDatagramsNeverTrap() throws {
        var p = try link()
        var rng = SeededGenerator(seed: 3)
        let good = try p.a.seal([UInt8](repeating: 7, count: 100), kind: .rtp)
        for n in 0..<good.count { #expect(throws: RelayError.self) { try p.bIn.open(Array(good.prefix(n))) } }
        for i in 0..<5_000 {
            let d = i % 2 == 0 ? Mutations.randomBytes(&rng, maxLength: 300) : Mutations.mutate(good, &rng)
            if d == good { continue }
            #expect(throws: RelayError.self) { try p.bIn.open(d) }
        }
    }
}

extension Array where Element == UInt8 {
    func windowContains(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<($0 + needle.count)]) == needle }
    }
}
