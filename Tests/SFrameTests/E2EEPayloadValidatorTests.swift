import DemarcTestSupport
import MediaPackets
import Testing
@testable import SFrame
@testable import SFrameEnforcement

@Suite("E2EE enforcement at the SFU")
struct E2EEPayloadValidatorTests {
    static let slot: UInt32 = 5
    /// A VP8 keyframe as an encoder emits it: frame tag (P=0), start code, 640×480, then data.
    static let keyframe: [UInt8] = [0x50, 0x42, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01] + Array(repeating: 0x33, count: 60)
    static let deltaFrame: [UInt8] = [0x31, 0x02, 0x00] + Array(repeating: 0x44, count: 40)
    /// RFC 7741 descriptor: X=1 S=1 PID=0, I=1 with a 15-bit picture id.
    static let descriptor: [UInt8] = [0x90, 0x80, 0x81, 0x23]

    static func pair() throws -> (SFrameSender, SFrameReceiver) {
        let key = MediaKey.random()
        let kid = E2EEKeyID(senderSlot: slot, generation: 0).rawValue
        let receiver = SFrameReceiver()
        try receiver.addKey(keyID: kid, baseKey: key)
        return (try SFrameSender(keyID: kid, baseKey: key), receiver)
    }

    @Test func protectedVP8FramesPassAndKeepKeyframeDetection() throws {
        let (sender, receiver) = try Self.pair()
        for (frame, isKey) in [(Self.keyframe, true), (Self.deltaFrame, false)] {
            let protected = try E2EEFrameLayout.protect(frame, codec: .vp8, sender: sender)
            #expect(Array(protected.prefix(isKey ? 10 : 3)) == Array(frame.prefix(isKey ? 10 : 3)))
            let packet = Self.descriptor + protected
            #expect(try KeyframeDetector.isVP8Keyframe(packet) == isKey)  // the SFU's detector still works
            let verdict = try E2EEPayloadValidator.validate(rtpPayload: packet, codec: .vp8, senderSlot: Self.slot)
            guard case .frameStart(let header, let keyframe) = verdict else { Issue.record("no frame start"); continue }
            #expect(keyframe == isKey)
            #expect(E2EEKeyID(header.keyID) == E2EEKeyID(senderSlot: Self.slot, generation: 0))
            #expect(try E2EEFrameLayout.unprotect(protected, codec: .vp8, receiver: receiver) == frame)
        }
        // Later packets of a frame (S=0) are opaque.
        #expect(try E2EEPayloadValidator.validate(rtpPayload: [0x80, 0x80, 0x81, 0x23, 0xAB], codec: .vp8, senderSlot: Self.slot) == .continuation)
    }

    @Test func changingTheClearPrefixBreaksDecryption() throws {
        let (sender, receiver) = try Self.pair()
        var protected = try E2EEFrameLayout.protect(Self.keyframe, codec: .vp8, sender: sender)
        protected[7] ^= 0x01  // the SFU "adjusts" the width
        #expect(throws: SFrameError.self) { try E2EEFrameLayout.unprotect(protected, codec: .vp8, receiver: receiver) }
    }

    @Test func plaintextMediaIsRefused() throws {
        // A client that forgot to encrypt: the bytes after the clear prefix are VP8 data.
        // With random data in that place, the KID check refuses (nearly) every frame.
        var rng = SeededGenerator(seed: 0xE2EE)
        var accepted = 0
        for _ in 0..<2000 {
            let data = (0..<40).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let packet = Self.descriptor + Array(Self.keyframe.prefix(10)) + data
            if (try? E2EEPayloadValidator.validate(rtpPayload: packet, codec: .vp8, senderSlot: Self.slot)) != nil { accepted += 1 }
        }
        // A random byte passes with probability 1/16 · 1/256 (X=1, KLEN=2, first KID byte = slot),
        // so a plaintext publisher is caught within its first few frames (docs/e2ee.md).
        #expect(accepted <= 3)
        // The exact keyframe above: its byte after the prefix is 0x33, a KID of 3, not slot 5.
        #expect(throws: E2EEViolation.foreignKeyID(3)) { try E2EEPayloadValidator.validate(rtpPayload: Self.descriptor + Self.keyframe, codec: .vp8, senderSlot: Self.slot) }
        // Another publisher's KID.
        let other = try SFrameSender(keyID: E2EEKeyID(senderSlot: 6, generation: 0).rawValue, baseKey: MediaKey.random())
        let foreign = try E2EEFrameLayout.protect(Self.deltaFrame, codec: .vp8, sender: other)
        #expect(throws: E2EEViolation.foreignKeyID(E2EEKeyID(senderSlot: 6, generation: 0).rawValue)) {
            try E2EEPayloadValidator.validate(rtpPayload: Self.descriptor + foreign, codec: .vp8, senderSlot: Self.slot)
        }
    }

    @Test func announcedKeyIDsTightenTheCheck() throws {
        let (sender, _) = try Self.pair()
        let packet = Self.descriptor + (try E2EEFrameLayout.protect(Self.deltaFrame, codec: .vp8, sender: sender))
        let kid = E2EEKeyID(senderSlot: Self.slot, generation: 0).rawValue
        guard case .frameStart = try E2EEPayloadValidator.validate(rtpPayload: packet, codec: .vp8, senderSlot: Self.slot, announcedKeyIDs: [kid]) else {
            Issue.record("announced KID refused"); return
        }
        #expect(throws: E2EEViolation.unannouncedKeyID(kid)) {
            try E2EEPayloadValidator.validate(rtpPayload: packet, codec: .vp8, senderSlot: Self.slot, announcedKeyIDs: [kid + 1])
        }
        // Plaintext frames essentially never pass: a random header must hit one exact KID.
        var rng = SeededGenerator(seed: 0xE2EF)
        var accepted = 0
        for _ in 0..<2000 {
            let data = (0..<40).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let plaintext = Self.descriptor + Array(Self.keyframe.prefix(10)) + data
            if (try? E2EEPayloadValidator.validate(rtpPayload: plaintext, codec: .vp8, senderSlot: Self.slot, announcedKeyIDs: [kid])) != nil { accepted += 1 }
        }
        #expect(accepted == 0)
    }

    @Test func malformedPacketsGetTypedViolations() throws {
        #expect(throws: E2EEViolation.malformedCodecPayload(.truncated(needed: 2, available: 1))) { try E2EEPayloadValidator.validate(rtpPayload: [0x90], codec: .vp8, senderSlot: nil) }
        // Padding-only probes have no payload, hence no media.
        #expect(try E2EEPayloadValidator.validate(rtpPayload: [UInt8](), codec: .vp8, senderSlot: nil) == .continuation)
        #expect(try E2EEPayloadValidator.validate(rtpPayload: [UInt8](), codec: .opus, senderSlot: nil) == .continuation)
        #expect(throws: E2EEViolation.malformedClearPrefix) { try E2EEPayloadValidator.validate(rtpPayload: Self.descriptor + [0x50, 0x42], codec: .vp8, senderSlot: nil) }
        // A keyframe whose start code is wrong.
        #expect(throws: E2EEViolation.malformedClearPrefix) { try E2EEPayloadValidator.validate(rtpPayload: Self.descriptor + [0x50, 0x42, 0, 1, 2, 3, 4, 5, 6, 7, 0x00], codec: .vp8, senderSlot: nil) }
        #expect(throws: E2EEViolation.missingSFrameHeader(.truncated(needed: 1, available: 0))) { try E2EEPayloadValidator.validate(rtpPayload: Self.descriptor + [0x31, 2, 0], codec: .vp8, senderSlot: nil) }
        #expect(throws: E2EEViolation.truncated) { try E2EEPayloadValidator.validate(rtpPayload: [0x00, 1, 2, 3], codec: .opus, senderSlot: nil) }
    }

    @Test func protectedOpusPasses() throws {
        let (sender, receiver) = try Self.pair()
        let frame: [UInt8] = [0xFC, 0xFF, 0xFE] + Array(repeating: 7, count: 50)
        let protected = try E2EEFrameLayout.protect(frame, codec: .opus, sender: sender)
        guard case .frameStart = try E2EEPayloadValidator.validate(rtpPayload: protected, codec: .opus, senderSlot: Self.slot) else {
            Issue.record("opus frame refused"); return
        }
        #expect(try E2EEFrameLayout.unprotect(protected, codec: .opus, receiver: receiver) == frame)
    }

    @Test func fuzzedPayloadsNeverTrap() {
        var rng = SeededGenerator(seed: 0x7A1D)
        let seed = Self.descriptor + Self.keyframe.prefix(10) + [0xA0, 0x00, 0x05, 0x00] + Array(repeating: 0, count: 16)
        for i in 0..<20_000 {
            let input = i % 2 == 0 ? Mutations.randomBytes(&rng, maxLength: 40) : Mutations.mutate(seed, &rng)
            for codec in E2EECodec.allCases {
                do { _ = try E2EEPayloadValidator.validate(rtpPayload: input, codec: codec, senderSlot: i % 3 == 0 ? nil : Self.slot) } catch {
                    _ = error as E2EEViolation
                }
            }
        }
    }
}
