import Foundation
import SodiumWrapper
import Testing
@testable import SFrame

@Suite("E2EE key management")
struct KeyManagementTests {
    @Test func sealedKeyOpensOnlyForItsRecipientMeetingAndSender() throws {
        let alice = X25519.PrivateKey(), bob = X25519.PrivateKey(), mallory = X25519.PrivateKey()
        let key = MediaKey.random()
        let kid = E2EEKeyID(senderSlot: 1, generation: 4).rawValue
        let envelope = try MediaKeyEnvelope.seal(baseKey: key, keyID: kid, meetingID: "m-1", sender: alice, recipient: bob.publicKey)
        #expect(envelope.bytes.count == MediaKeyEnvelope.length)
        #expect(envelope.keyID == kid)
        let opened = try envelope.open(meetingID: "m-1", recipient: bob, sender: alice.publicKey)
        #expect(opened.keyID == kid && opened.baseKey == key)
        // Another recipient, another meeting, or a claimed sender that did not seal it: refused.
        #expect(throws: MediaKeyEnvelopeError.authenticationFailed) { try envelope.open(meetingID: "m-1", recipient: mallory, sender: alice.publicKey) }
        #expect(throws: MediaKeyEnvelopeError.authenticationFailed) { try envelope.open(meetingID: "m-2", recipient: bob, sender: alice.publicKey) }
        #expect(throws: MediaKeyEnvelopeError.authenticationFailed) { try envelope.open(meetingID: "m-1", recipient: bob, sender: mallory.publicKey) }
        // The server rewriting the KID it can read: refused.
        var relabelled = envelope.bytes
        relabelled[8] ^= 1
        #expect(throws: MediaKeyEnvelopeError.authenticationFailed) { try MediaKeyEnvelope(bytes: relabelled).open(meetingID: "m-1", recipient: bob, sender: alice.publicKey) }
        for i in envelope.bytes.indices where i >= 9 {
            var tampered = envelope.bytes
            tampered[i] ^= 0x80
            #expect(throws: MediaKeyEnvelopeError.self) { try MediaKeyEnvelope(bytes: tampered).open(meetingID: "m-1", recipient: bob, sender: alice.publicKey) }
        }
        #expect(throws: MediaKeyEnvelopeError.wrongLength(10)) { try MediaKeyEnvelope(bytes: Array(envelope.bytes.prefix(10))).open(meetingID: "m-1", recipient: bob, sender: alice.publicKey) }
        var v2 = envelope.bytes
        v2[0] = 2
        #expect(throws: MediaKeyEnvelopeError.unsupportedVersion(2)) { try MediaKeyEnvelope(bytes: v2).open(meetingID: "m-1", recipient: bob, sender: alice.publicKey) }
        // A low-order ephemeral key (all zeros) is refused before any decryption.
        var weak = envelope.bytes
        for i in 9..<41 { weak[i] = 0 }
        #expect(throws: MediaKeyEnvelopeError.weakPublicKey) { try MediaKeyEnvelope(bytes: weak).open(meetingID: "m-1", recipient: bob, sender: alice.publicKey) }
    }

    @Test func ratchetIsDeterministicOneWayAndKIDBound() throws {
        let base = MediaKey.random()
        let id = E2EEKeyID(senderSlot: 2, generation: 0)
        let next = try MediaKey.ratchet(base, to: id.next)
        #expect(next.count == MediaKey.length)
        #expect(try MediaKey.ratchet(base, to: id.next) == next)
        #expect(try MediaKey.ratchet(base, to: id.next.next) != next)
        #expect(next != base)
        // Frames under the ratcheted key open for a receiver that ratcheted on its own.
        let sender = try SFrameSender(keyID: id.next.rawValue, baseKey: next)
        let receiver = SFrameReceiver()
        try receiver.addKey(keyID: id.next.rawValue, baseKey: try MediaKey.ratchet(base, to: id.next))
        #expect(try receiver.decrypt(try sender.encrypt([7])) == [7])
    }

    @Test func receiversFollowTheJoinRatchetOnDemand() throws {
        let base = MediaKey.random()
        let id0 = E2EEKeyID(senderSlot: 2, generation: 7), id1 = id0.next
        let sender = try SFrameSender(keyID: id1.rawValue, baseKey: try MediaKey.ratchet(base, to: id1))
        let frame = try sender.encrypt([42])
        let strict = SFrameReceiver()
        try strict.addKey(keyID: id0.rawValue, baseKey: base)
        #expect(throws: SFrameError.unknownKeyID(id1.rawValue)) { try strict.decrypt(frame) }
        let following = SFrameReceiver(ratchetOnDemand: true)
        try following.addKey(keyID: id0.rawValue, baseKey: base)
        #expect(try following.decrypt(frame) == [42])
        #expect(following.hasKey(id1.rawValue))
        // A rotation (random key) under the next KID is not guessed into place.
        let rotated = try SFrameSender(keyID: id1.next.rawValue, baseKey: MediaKey.random())
        #expect(throws: SFrameError.authenticationFailed(keyID: id1.next.rawValue, counter: 0)) { try following.decrypt(try rotated.encrypt([1])) }
        #expect(!following.hasKey(id1.next.rawValue))
    }

    @Test func keyIDLayout() {
        let id = E2EEKeyID(senderSlot: 0x0102_0304, generation: 0xFFFF)
        #expect(id.rawValue == 0x0102_0304_FFFF)
        #expect(E2EEKeyID(id.rawValue) == id)
        #expect(id.next == E2EEKeyID(senderSlot: 0x0102_0304, generation: 0))
    }

    @Test func safetyCodeIgnoresOrderAndChangesWithTheSet() throws {
        let keys = (0..<3).map { _ in X25519.PrivateKey().publicKey }
        let code = SafetyCode.compute(identityKeys: keys)
        #expect(code.split(separator: " ").count == 4)
        #expect(code.allSatisfy { $0 == " " || $0.isNumber } && code.count == 23)
        #expect(SafetyCode.compute(identityKeys: keys.reversed()) == code)
        #expect(SafetyCode.compute(identityKeys: keys + [X25519.PrivateKey().publicKey]) != code)
        #expect(SafetyCode.compute(identityKeys: Array(keys.dropLast())) != code)
    }
}

/// Vectors in Tests/Fixtures/e2ee-interop.json, shared with Tests/js/interop.test.mjs: sealed
/// in JavaScript (WebCrypto) and opened here, sealed here and opened there, and byte-equal
/// deterministic seals from the same inputs.
@Suite("E2EE interop with the browser code")
struct InteropTests {
    struct Fixture: Decodable {
        struct Identity: Decodable { let privateKey: String; let publicKey: String }
        struct Envelope: Decodable {
            let sealedBy: String
            let meetingID: String
            let keyID: String
            let baseKey: String
            let ephemeralPrivateKey: String?
            let envelope: String
        }
        let sender: Identity
        let recipient: Identity
        let envelopes: [Envelope]
        let safetyCode: String
        let ratchet: Ratchet
        struct Ratchet: Decodable { let baseKey: String; let nextKeyID: String; let nextKey: String }
    }

    static func load() throws -> Fixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/e2ee-interop.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    static func privateKey(_ text: String) throws -> X25519.PrivateKey {
        var bytes = hex(text)
        return try X25519.PrivateKey(consuming: &bytes)
    }

    @Test func opensWhatTheOtherLanguageSealed() throws {
        let f = try Self.load()
        let sender = try Self.privateKey(f.sender.privateKey), recipient = try Self.privateKey(f.recipient.privateKey)
        #expect(Hex.encode(sender.publicKey.rawRepresentation) == f.sender.publicKey)
        #expect(Hex.encode(recipient.publicKey.rawRepresentation) == f.recipient.publicKey)
        #expect(f.envelopes.contains { $0.sealedBy == "javascript" } && f.envelopes.contains { $0.sealedBy == "swift" })
        for e in f.envelopes {
            let opened = try MediaKeyEnvelope(bytes: hex(e.envelope)).open(meetingID: e.meetingID, recipient: recipient, sender: sender.publicKey)
            #expect(opened.keyID == UInt64(e.keyID, radix: 16))
            #expect(opened.baseKey == hex(e.baseKey))
            if let eph = e.ephemeralPrivateKey {
                let again = try MediaKeyEnvelope.seal(baseKey: hex(e.baseKey), keyID: UInt64(e.keyID, radix: 16)!, meetingID: e.meetingID,
                                                      sender: sender, recipient: recipient.publicKey, ephemeral: try Self.privateKey(eph))
                #expect(Hex.encode(again.bytes) == e.envelope)
            }
        }
        #expect(SafetyCode.compute(identityKeys: [sender.publicKey, recipient.publicKey]) == f.safetyCode)
        let next = E2EEKeyID(UInt64(f.ratchet.nextKeyID, radix: 16)!)
        #expect(Hex.encode(try MediaKey.ratchet(hex(f.ratchet.baseKey), to: next)) == f.ratchet.nextKey)
    }

    /// Prints a Swift-sealed envelope for the fixture (run with DEMARC_PRINT_INTEROP=1).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["DEMARC_PRINT_INTEROP"] != nil))
    func printSwiftSealedEnvelope() throws {
        let f = try Self.load()
        let sender = try Self.privateKey(f.sender.privateKey), recipient = try Self.privateKey(f.recipient.privateKey)
        let key = MediaKey.random()
        let kid = E2EEKeyID(senderSlot: 7, generation: 2).rawValue
        let e = try MediaKeyEnvelope.seal(baseKey: key, keyID: kid, meetingID: "demarc-interop", sender: sender, recipient: recipient.publicKey)
        print("INTEROP swift baseKey=\(Hex.encode(key)) keyID=\(String(kid, radix: 16)) envelope=\(Hex.encode(e.bytes))")
    }
}

@Suite("Media key schedule: join ratchet, leave rotation")
struct MediaKeyScheduleTests {
    @Test func newcomerCannotReadEarlierMediaAndLeaverCannotReadLaterMedia() throws {
        var schedule = MediaKeySchedule(senderSlot: 4)
        let sender = try SFrameSender(keyID: schedule.keyID.rawValue, baseKey: schedule.baseKey)
        // Bob has been in the meeting from the start; Carol will join, then Bob leaves.
        let bob = SFrameReceiver(ratchetOnDemand: true)
        try bob.addKey(keyID: schedule.keyID.rawValue, baseKey: schedule.baseKey)
        let beforeJoin = try sender.encrypt([1])

        let joined = try schedule.participantJoined()
        try sender.rotate(keyID: joined.keyID.rawValue, baseKey: joined.baseKey)
        let carol = SFrameReceiver(ratchetOnDemand: true)
        try carol.addKey(keyID: joined.keyID.rawValue, baseKey: joined.baseKey)  // only the ratcheted key is sealed to Carol
        let afterJoin = try sender.encrypt([2])
        #expect(try bob.decrypt(afterJoin) == [2])  // Bob followed the ratchet without a message
        #expect(try carol.decrypt(afterJoin) == [2])
        #expect(throws: SFrameError.unknownKeyID(E2EEKeyID(senderSlot: 4, generation: 0).rawValue)) { try carol.decrypt(beforeJoin) }

        let left = schedule.participantLeft()
        #expect(left.keyID == E2EEKeyID(senderSlot: 4, generation: 2))
        try sender.rotate(keyID: left.keyID.rawValue, baseKey: left.baseKey)
        try carol.addKey(keyID: left.keyID.rawValue, baseKey: left.baseKey)  // sealed to the remaining participants only
        let afterLeave = try sender.encrypt([3])
        #expect(try carol.decrypt(afterLeave) == [3])
        #expect(throws: SFrameError.authenticationFailed(keyID: left.keyID.rawValue, counter: 2)) { try bob.decrypt(afterLeave) }
    }
}
