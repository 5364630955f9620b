import MediaLoadTest
import MediaPackets
import SFrame
import Testing
@testable import MediaNIO

/// The media service's share of E2EE signaling (docs/signaling.md, docs/e2ee.md): sender
/// slots, identity keys in the roster, the media-key relay, refusing publishers without E2EE
/// in a required meeting, the KID-slot binding, and what the SFU observed.
@Suite("End-to-end encryption in the media shell", .serialized)
struct EndToEndEncryptionTests {
    static let aliceKey = "ZGVtYXJjLWFsaWNlLWlkZW50aXR5LWtleS0zMmJ5dGU="
    static let carolKey = "ZGVtYXJjLWNhcm9sLWlkZW50aXR5LWtleS0zMmJ5dGU="

    /// A VP8 keyframe's first packet in the Demarc layout: descriptor (S=1), the 10-byte clear
    /// prefix (frame tag with P=0, start code, 640×480), an SFrame header under `keyID`, then
    /// "ciphertext" and tag. (A keyframe: the SFU starts a new subscription at one.)
    static func encryptedVP8(keyID: UInt64, counter: UInt64) -> [UInt8] {
        [0x10, 0x50, 0x42, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01] + SFrameHeader(keyID: keyID, counter: counter).encoded
            + Array(repeating: 0x5A, count: 120)
    }

    @Test func slotsIdentityKeysAndTheMediaKeyRelay() async throws {
        try await withMediaServer { server, _ in
            let aliceEvents = try await server.join(meeting: "m", participant: "alice", identityKey: Self.aliceKey, node: "node-fra-1")
            let bobEvents = try await server.join(meeting: "m", participant: "bob")
            let carolEvents = try await server.join(meeting: "m", participant: "carol", identityKey: Self.carolKey)
            let slots = [await server.senderSlot(meeting: "m", participant: "alice"), await server.senderSlot(meeting: "m", participant: "bob"),
                         await server.senderSlot(meeting: "m", participant: "carol")].compactMap { $0 }
            #expect(slots.count == 3)
            #expect(Set(slots).count == 3)
            #expect(slots.allSatisfy { $0 > 0 && $0 < 1 << 31 })
            #expect(await server.senderSlot(meeting: "m", participant: "zed") == nil)

            // The roster carries the key and slot of those that declared E2EE, and their node.
            let alice = MediaParticipantInfo(name: "alice", node: "node-fra-1", identityKey: Self.aliceKey, slot: slots[0])
            let carol = MediaParticipantInfo(name: "carol", identityKey: Self.carolKey, slot: slots[2])
            _ = try await nextEvent(bobEvents, "alice in bob's roster") { $0 == .participantJoined(alice) ? true : nil }
            _ = try await nextEvent(bobEvents, "carol joining") { $0 == .participantJoined(carol) ? true : nil }
            _ = try await nextEvent(carolEvents, "alice in carol's roster") { $0 == .participantJoined(alice) ? true : nil }
            _ = try await nextEvent(carolEvents, "bob, without key or slot") { $0 == .participantJoined(MediaParticipantInfo(name: "bob")) ? true : nil }
            _ = try await nextEvent(aliceEvents, "carol joining") { $0 == .participantJoined(carol) ? true : nil }

            // Envelopes reach only their recipient, stamped with the sender.
            let envelope: [UInt8] = [1] + Array(repeating: 7, count: 72)
            try await server.relayMediaKey(meeting: "m", from: "alice", to: "carol", envelope: envelope)
            _ = try await nextEvent(carolEvents, "alice's envelope") { $0 == .mediaKey(from: "alice", envelope: envelope) ? true : nil }
            await #expect(throws: MediaSessionError.unknownParticipant("zed")) {
                try await server.relayMediaKey(meeting: "m", from: "alice", to: "zed", envelope: envelope)
            }
            await #expect(throws: MediaSessionError.notJoined(meeting: "m", participant: "zed")) {
                try await server.relayMediaKey(meeting: "m", from: "zed", to: "carol", envelope: envelope)
            }
            await #expect(throws: MediaSessionError.mediaKeyTooLarge(513)) {
                try await server.relayMediaKey(meeting: "m", from: "alice", to: "carol", envelope: Array(repeating: 0, count: 513))
            }

            // E2EE required: publishing without an identity key is refused before any SDP work.
            #expect(await server.endToEndEncryptionRequired(meeting: "m") == false)
            await server.requireEndToEndEncryption(meeting: "m")
            #expect(await server.endToEndEncryptionRequired(meeting: "m"))
            await #expect(throws: MediaSessionError.endToEndEncryptionRequired) {
                try await server.publish(meeting: "m", participant: "bob", offer: "v=0")
            }
            await #expect(throws: MediaSessionError.negotiation(.noMedia)) {
                try await server.publish(meeting: "m", participant: "carol", offer: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n")
            }
        }
    }

    /// In a required meeting, a frame under the publisher's own slot is forwarded; one under
    /// another slot refuses the publisher from then on. The observation says "all encrypted".
    @Test func keyIDMustCarryThePublishersSlot() async throws {
        try await withMediaServer { server, port in
            await server.requireEndToEndEncryption(meeting: "m")
            let alicePeer = try await SyntheticPeer.make()
            let bobPeer = try await SyntheticPeer.make()
            let aliceEvents = try await server.join(meeting: "m", participant: "alice", identityKey: Self.aliceKey)
            let bobEvents = try await server.join(meeting: "m", participant: "bob", identityKey: Self.carolKey)
            let slot = try #require(await server.senderSlot(meeting: "m", participant: "alice"))
            let bobSlot = try #require(await server.senderSlot(meeting: "m", participant: "bob"))
            #expect(await server.endToEndEncryptionObserved(meeting: "m") == nil)

            let answer = try SessionDescription.parse(try await server.publish(meeting: "m", participant: "alice",
                                                                              offer: alicePeer.publisherOffer(ssrc: 5000, rtxSSRC: 5001)))
            try await alicePeer.connect(port: port, remote: answer)
            _ = try await nextEvent(aliceEvents, "alice's publisher connection") { $0 == .connectionState(.publisher, .connected) ? true : nil }
            try await subscribe(bobPeer, as: "bob", events: bobEvents, server: server, port: port)
            _ = try await alicePeer.receiveRTCP("a PLI at the publisher") { packets -> Bool? in
                for case .pictureLossIndication in packets { return true }
                return nil
            }
            let srtp = try #require(alicePeer.srtp)
            func send(_ payload: [UInt8], sequence: UInt16) async throws {
                var builder = RTPPacketBuilder(payloadType: 96, sequenceNumber: sequence, timestamp: UInt32(sequence) * 3000, ssrc: 5000, payload: payload)
                builder.marker = true
                var packet = try builder.build()
                try srtp.outbound.protectRTP(&packet)
                try await alicePeer.send(packet)
            }

            let good = Self.encryptedVP8(keyID: E2EEKeyID(senderSlot: slot, generation: 0).rawValue, counter: 1)
            try await send(good, sequence: 1)
            let received = try await bobPeer.receiveRTP("alice's encrypted frame")
            #expect(Array(received[try RTPHeader.parse(received).payloadRange]) == good)
            #expect(await server.endToEndEncryptionObserved(meeting: "m") == true)

            // Bob's slot in alice's frame: refused, and so is everything alice sends after it.
            try await send(Self.encryptedVP8(keyID: E2EEKeyID(senderSlot: bobSlot, generation: 0).rawValue, counter: 2), sequence: 2)
            try await send(Self.encryptedVP8(keyID: E2EEKeyID(senderSlot: slot, generation: 0).rawValue, counter: 3), sequence: 3)
            try await within(.seconds(10), "both frames refused") {
                while await server.statistics().e2eeViolations < 2 { await Task.yield() }
            }
            #expect(await server.statistics().rtpForwarded == 1)
            #expect(await server.endToEndEncryptionObserved(meeting: "m") == true)
            await alicePeer.close()
            await bobPeer.close()
        }
    }

    /// Where nothing is refused (`e2ee: preferred`/`off`), plaintext is forwarded and the
    /// observation says so; it outlives the meeting's state until forgotten.
    @Test func plaintextForwardedWhereNotRequiredIsObserved() async throws {
        try await withMediaServer { server, port in
            let alicePeer = try await SyntheticPeer.make()
            let bobPeer = try await SyntheticPeer.make()
            let aliceEvents = try await server.join(meeting: "m", participant: "alice")
            let bobEvents = try await server.join(meeting: "m", participant: "bob")
            let answer = try SessionDescription.parse(try await server.publish(meeting: "m", participant: "alice",
                                                                              offer: alicePeer.publisherOffer(ssrc: 5000, rtxSSRC: 5001)))
            try await alicePeer.connect(port: port, remote: answer)
            _ = try await nextEvent(aliceEvents, "alice's publisher connection") { $0 == .connectionState(.publisher, .connected) ? true : nil }
            try await subscribe(bobPeer, as: "bob", events: bobEvents, server: server, port: port)
            let srtp = try #require(alicePeer.srtp)
            var builder = RTPPacketBuilder(payloadType: 96, sequenceNumber: 1, timestamp: 3000, ssrc: 5000, payload: MediaServerTests.vp8Keyframe)
            builder.marker = true
            var packet = try builder.build()
            try srtp.outbound.protectRTP(&packet)
            try await alicePeer.send(packet)
            _ = try await bobPeer.receiveRTP("alice's plaintext keyframe")
            #expect(await server.endToEndEncryptionObserved(meeting: "m") == false)
            #expect(await server.statistics().e2eeViolations == 0)

            await server.leave(meeting: "m", participant: "alice")
            await server.leave(meeting: "m", participant: "bob")
            #expect(await server.endToEndEncryptionObserved(meeting: "m") == false)
            await server.forgetEndToEndEncryptionObservation(meeting: "m")
            #expect(await server.endToEndEncryptionObserved(meeting: "m") == nil)
            await alicePeer.close()
            await bobPeer.close()
        }
    }
}
