import DemarcTestSupport
import SodiumWrapper
import Testing
@testable import SFrame

@Suite("SFrame encryption (RFC 9605 §4.4)")
struct SFrameCryptoTests {
    /// RFC 9605 Appendix C.3, the cipher_suite 0x0004 (AES_128_GCM_SHA256_128) case, copied verbatim.
    enum RFCVector {
        static let kid: UInt64 = 0x0000000000000123
        static let ctr: UInt64 = 0x0000000000004567
        static let baseKey = hex("000102030405060708090a0b0c0d0e0f")
        static let keyLabel = hex("534672616d6520312e30205365637265 74206b65792000000000000001230004")
        static let saltLabel = hex("534672616d6520312e30205365637265 742073616c7420000000000000012300 04")
        static let secret = hex("d926952ca8b7ec4a95941d1ada3a5203 ceff8cceee34f574d23909eb314c40c0")
        static let key = hex("d34f547f4ca4f9a7447006fe7fcbf768")
        static let salt = hex("75234edefe07819026751816")
        static let metadata = hex("4945544620534672616d65205747")
        static let plaintext = hex("64726166742d696574662d736672616d 652d656e63")
        static let ciphertext = hex("9901234567b7412c2513a1b66dbb4884 1bbaf17f598751176ad847681a69c6d0 b091c07018ce4adb34eb")
    }

    @Test func hkdfMatchesRFC5869() throws {
        // RFC 5869 Appendix A.1 (test case 1) and A.3 (test case 3, empty salt and info).
        let ikm = [UInt8](repeating: 0x0B, count: 22)
        let prk = try HKDF.extract(salt: Array(0...12), inputKeyingMaterial: ikm)
        #expect(Hex.encode(prk) == "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
        #expect(try HKDF.expand(pseudorandomKey: prk, info: Array(0xF0...0xF9), length: 42)
            == hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"))
        #expect(try HKDF.derive(inputKeyingMaterial: ikm, salt: [], info: [], length: 42)
            == hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"))
    }

    @Test func derivesTheRFCKeyAndSalt() throws {
        let suite = SFrameCipherSuite.aes128GCMSHA256_128
        #expect(SFrameKeyContext.label("SFrame 1.0 Secret key ", keyID: RFCVector.kid, suite: suite) == RFCVector.keyLabel)
        #expect(SFrameKeyContext.label("SFrame 1.0 Secret salt ", keyID: RFCVector.kid, suite: suite) == RFCVector.saltLabel)
        #expect(try HKDF.extract(salt: [], inputKeyingMaterial: RFCVector.baseKey) == RFCVector.secret)
        let derived = try SFrameKeyContext.deriveKeyAndSalt(keyID: RFCVector.kid, baseKey: RFCVector.baseKey, suite: suite)
        #expect(derived.key == RFCVector.key)
        #expect(derived.salt == RFCVector.salt)
    }

    @Test func encryptsAndDecryptsTheRFCVector() throws {
        let sender = try SFrameSender(keyID: RFCVector.kid, baseKey: RFCVector.baseKey, firstCounter: RFCVector.ctr)
        #expect(try sender.encrypt(RFCVector.plaintext, metadata: RFCVector.metadata) == RFCVector.ciphertext)
        #expect(sender.nextCounter == RFCVector.ctr + 1)
        let receiver = SFrameReceiver()
        try receiver.addKey(keyID: RFCVector.kid, baseKey: RFCVector.baseKey)
        #expect(try receiver.decrypt(RFCVector.ciphertext, metadata: RFCVector.metadata) == RFCVector.plaintext)
    }

    @Test func roundTripsFramesOfManySizes() throws {
        var rng = SeededGenerator(seed: 7)
        let key = MediaKey.random()
        let sender = try SFrameSender(keyID: 0x1_0000, baseKey: key)
        let receiver = SFrameReceiver()
        try receiver.addKey(keyID: 0x1_0000, baseKey: key)
        for size in [0, 1, 15, 16, 17, 1200, 65_000] {
            let frame = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let sealed = try sender.encrypt(frame, metadata: [1, 2, 3])
            #expect(sealed.count == frame.count + SFrameHeader(keyID: 0x1_0000, counter: sender.nextCounter - 1).encodedLength + 16)
            #expect(try receiver.decrypt(sealed, metadata: [1, 2, 3]) == frame)
        }
    }

    @Test func everyTamperedByteFailsAuthentication() throws {
        let receiver = SFrameReceiver()
        try receiver.addKey(keyID: RFCVector.kid, baseKey: RFCVector.baseKey)
        for i in RFCVector.ciphertext.indices {
            var tampered = RFCVector.ciphertext
            tampered[i] ^= 0x01
            #expect(throws: SFrameError.self) { try receiver.decrypt(tampered, metadata: RFCVector.metadata) }
        }
        // The metadata (the VP8 clear prefix, in Demarc) is authenticated too.
        #expect(throws: SFrameError.authenticationFailed(keyID: RFCVector.kid, counter: RFCVector.ctr)) {
            try receiver.decrypt(RFCVector.ciphertext, metadata: RFCVector.metadata + [0])
        }
        // None of the failures consumed the counter: the genuine frame still opens.
        #expect(try receiver.decrypt(RFCVector.ciphertext, metadata: RFCVector.metadata) == RFCVector.plaintext)
    }

    @Test func wrongKeyUnknownKIDAndTruncationAreTypedErrors() throws {
        let receiver = SFrameReceiver()
        try receiver.addKey(keyID: RFCVector.kid, baseKey: [UInt8](repeating: 9, count: 16))
        #expect(throws: SFrameError.authenticationFailed(keyID: RFCVector.kid, counter: RFCVector.ctr)) {
            try receiver.decrypt(RFCVector.ciphertext, metadata: RFCVector.metadata)
        }
        let other = SFrameReceiver()
        #expect(throws: SFrameError.unknownKeyID(RFCVector.kid)) { try other.decrypt(RFCVector.ciphertext, metadata: RFCVector.metadata) }
        try other.addKey(keyID: RFCVector.kid, baseKey: RFCVector.baseKey)
        #expect(throws: SFrameError.truncatedCiphertext(needed: 21, available: 20)) { try other.decrypt(Array(RFCVector.ciphertext.prefix(20))) }
        #expect(throws: SFrameError.malformedHeader(.truncated(needed: 5, available: 3))) { try other.decrypt(Array(RFCVector.ciphertext.prefix(3))) }
        #expect(throws: SFrameError.malformedHeader(.truncated(needed: 1, available: 0))) { try other.decrypt([]) }
        #expect(throws: SFrameError.invalidKeyLength(0)) { try SFrameReceiver().addKey(keyID: 1, baseKey: []) }
    }

    @Test func reorderedFramesOpenButReplaysAndAncientFramesDoNot() throws {
        let key = MediaKey.random()
        let sender = try SFrameSender(keyID: 5, baseKey: key)
        let receiver = SFrameReceiver()
        try receiver.addKey(keyID: 5, baseKey: key)
        let frames = try (0..<300).map { i in try sender.encrypt([UInt8(i & 0xFF)]) }
        #expect(try receiver.decrypt(frames[10]) == [10])
        #expect(try receiver.decrypt(frames[3]) == [3])  // late, within the window
        #expect(throws: SFrameError.replayed(keyID: 5, counter: 10)) { try receiver.decrypt(frames[10]) }
        #expect(throws: SFrameError.replayed(keyID: 5, counter: 3)) { try receiver.decrypt(frames[3]) }
        #expect(try receiver.decrypt(frames[299]) == [UInt8(299 & 0xFF)])
        #expect(throws: SFrameError.outsideReplayWindow(keyID: 5, counter: 11)) { try receiver.decrypt(frames[11]) }
        #expect(try receiver.decrypt(frames[299 - 127]) == [UInt8((299 - 127) & 0xFF)])
    }

    @Test func counterNeverRepeatsAcrossRotationAndStopsAtExhaustion() throws {
        let sender = try SFrameSender(keyID: E2EEKeyID(senderSlot: 3, generation: 0).rawValue, baseKey: MediaKey.random(), firstCounter: .max - 2)
        let a = try SFrameHeader.parse(try sender.encrypt([1])).header
        try sender.rotate(keyID: E2EEKeyID(senderSlot: 3, generation: 1).rawValue, baseKey: MediaKey.random())
        let b = try SFrameHeader.parse(try sender.encrypt([1])).header
        #expect(a.counter == .max - 2 && b.counter == .max - 1)
        #expect(b.keyID == E2EEKeyID(senderSlot: 3, generation: 1).rawValue)
        #expect(throws: SFrameError.counterExhausted(keyID: b.keyID)) { try sender.encrypt([1]) }
    }

    @Test func keyRotationByKID() throws {
        let old = MediaKey.random(), new = MediaKey.random()
        let id0 = E2EEKeyID(senderSlot: 9, generation: 0), id1 = id0.next
        let sender = try SFrameSender(keyID: id0.rawValue, baseKey: old)
        let receiver = SFrameReceiver()
        try receiver.addKey(keyID: id0.rawValue, baseKey: old)
        let before = try sender.encrypt([1])
        try sender.rotate(keyID: id1.rawValue, baseKey: new)
        let after = try sender.encrypt([2])
        #expect(throws: SFrameError.unknownKeyID(id1.rawValue)) { try receiver.decrypt(after) }
        try receiver.addKey(keyID: id1.rawValue, baseKey: new)
        #expect(try receiver.decrypt(after) == [2])
        #expect(try receiver.decrypt(before) == [1])  // a late frame under the old key, during the grace period
        receiver.removeKey(keyID: id0.rawValue)
        #expect(receiver.keyIDs == [id1.rawValue])
    }

    @Test func inPlaceDecryptionNeedsNoCopies() throws {
        let key = MediaKey.random()
        let sender = try SFrameSender(keyID: 77, baseKey: key)
        let receiver = SFrameReceiver()
        try receiver.addKey(keyID: 77, baseKey: key)
        let plaintext: [UInt8] = Array(repeating: 0x42, count: 100)
        var buffer = [UInt8](repeating: 0, count: 100 + sender.current.maximumOverhead)
        let written = try buffer.withUnsafeMutableBytes { out in
            try plaintext.withUnsafeBytes { p in try sender.encrypt(metadata: UnsafeRawBufferPointer(start: nil, count: 0), plaintext: p, into: out) }
        }
        buffer.removeLast(buffer.count - written)
        let result = try buffer.withUnsafeMutableBytes { f in try receiver.decrypt(metadata: UnsafeRawBufferPointer(start: nil, count: 0), frame: f) }
        #expect(result.header == SFrameHeader(keyID: 77, counter: 0))
        #expect(Array(buffer[result.plaintext]) == plaintext)
        var small = [UInt8](repeating: 0, count: 10)
        #expect(throws: SFrameError.outputTooSmall(needed: 118, available: 10)) {
            try small.withUnsafeMutableBytes { out in
                try plaintext.withUnsafeBytes { p in try sender.encrypt(metadata: UnsafeRawBufferPointer(start: nil, count: 0), plaintext: p, into: out) }
            }
        }
    }

    @Test func fuzzedCiphertextsNeverOpenOrTrap() throws {
        var rng = SeededGenerator(seed: 0xC1F3)
        let receiver = SFrameReceiver()
        try receiver.addKey(keyID: RFCVector.kid, baseKey: RFCVector.baseKey)
        for _ in 0..<3000 {
            let input = Mutations.mutate(RFCVector.ciphertext, &rng)
            guard input != RFCVector.ciphertext else { continue }
            #expect(throws: SFrameError.self) { try receiver.decrypt(input, metadata: RFCVector.metadata) }
        }
    }
}

@Suite("Replay window")
struct ReplayWindowTests {
    /// Property: the window agrees with a model that remembers every counter, for counters
    /// within `size` of the highest; older ones are refused.
    @Test func agreesWithAnExactModel() {
        var rng = SeededGenerator(seed: 0xAB)
        for _ in 0..<50 {
            var window = ReplayWindow()
            var accepted = Set<UInt64>()
            var highest: UInt64?
            var base: UInt64 = UInt64.random(in: 0...1_000, using: &rng)
            for _ in 0..<400 {
                base += UInt64.random(in: 0...3, using: &rng)
                let jitter = UInt64.random(in: 0...200, using: &rng)
                let counter = base >= jitter ? base - jitter : 0
                let expected: ReplayWindow.Verdict
                if let h = highest, counter <= h, h - counter >= ReplayWindow.size { expected = .tooOld }
                else if accepted.contains(counter) { expected = .replayed }
                else { expected = .fresh }
                #expect(window.check(counter) == expected)
                if expected == .fresh {
                    window.accept(counter)
                    accepted.insert(counter)
                    highest = max(highest ?? 0, counter)
                }
            }
        }
    }
}
