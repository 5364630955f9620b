import Testing
import OpenSSLWrapper
import MediaPackets
@testable import MediaCrypto

func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace }.utf8)
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
}

@Suite("SRTP key derivation and vectors")
struct SRTPVectorTests {
    static let masterKey = hex("E1F97A0D3E018BE0D64FA32C06DE4139")
    static let masterSalt = hex("0EC675AD498AFEEBB6960B3AABE6")

    /// RFC 3711 Appendix B.3.
    @Test func rfc3711KeyDerivation() throws {
        let master = SRTPMasterKeys(key: Self.masterKey, salt: Self.masterSalt)
        #expect(try SRTPKeyDerivation.derive(masterKey: master.key, masterSalt: master.salt, label: .rtpEncryption, length: 16)
            == hex("C61E7A93744F39EE10734AFE3FF7A087"))
        #expect(try SRTPKeyDerivation.derive(masterKey: master.key, masterSalt: master.salt, label: .rtpSalt, length: 14)
            == hex("30CBBC08863D8C85D49DB34A9AE1"))
        #expect(try SRTPKeyDerivation.derive(masterKey: master.key, masterSalt: master.salt, label: .rtpAuthentication, length: 94)
            == hex("""
                CEBE321F6FF7716B6FD4AB49AF256A156D38BAA48F0A0ACF3C34E2359E6CDBCE
                E049646C43D9327AD175578EF72270986371C10C9A369AC2F94A8C5FBCDDDC25
                6D6E919A48B610EF17C2041E474035766B68642C59BBFC2F34DB60DBDFB2
                """))
        let keys = try SRTPKeyDerivation.sessionKeys(profile: .aes128CMHMACSHA1_80, master: master, rtcp: false)
        #expect(keys.authenticationKey == hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"))
    }

    /// RFC 3711 Appendix B.2: with SSRC and index 0, a zero payload encrypts to the keystream.
    @Test func rfc3711CounterModeKeystream() throws {
        let keys = SRTPSessionKeys(encryptionKey: hex("2B7E151628AED2A6ABF7158809CF4F3C"), authenticationKey: [UInt8](repeating: 0, count: 20),
                                   salt: hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"))
        let context = try SRTPContext(profile: .aes128CMHMACSHA1_80, rtpKeys: keys, rtcpKeys: keys)
        var packet: [UInt8] = [0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 48)
        try context.protectRTP(&packet)
        #expect(Array(packet[12..<60]) == hex("""
            E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB 41E95B3BB0A2E8DD477901E4FCA894C0
            """))
        // The segment's end (blocks 0xFEFF...0xFF01), straight from the cipher.
        let cipher = try AESCounterMode(key: keys.encryptionKey)
        var stream = [UInt8](repeating: 0, count: 0xFF02 * 16)
        let iv = hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000")
        try iv.withUnsafeBytes { i in try stream.withUnsafeMutableBytes { try cipher.apply(iv: i, to: $0) } }
        #expect(Array(stream[(0xFEFF * 16)...]) == hex("EC8CDF7398607CB0F2D21675EA9EA1E4 362B7C3C6773516318A077D7FC5073AE 6A2CC3787889374FBEB4C81B17BA6C44"))
    }

    /// libsrtp's reference packet (test/srtp_driver.c) under the RFC 3711 B.3 master key.
    @Test func libsrtpReferencePacketsForAESCM() throws {
        let master = SRTPMasterKeys(key: Self.masterKey, salt: Self.masterSalt)
        let sender = try SRTPContext(profile: .aes128CMHMACSHA1_80, master: master)
        let receiver = try SRTPContext(profile: .aes128CMHMACSHA1_80, master: master)
        let plainRTP = hex("800f1234decafbadcafebabe") + [UInt8](repeating: 0xAB, count: 16)
        var rtp = plainRTP
        try sender.protectRTP(&rtp)
        #expect(rtp == hex("800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb"))
        try receiver.unprotectRTP(&rtp)
        #expect(rtp == plainRTP)

        let plainRTCP = hex("81c8000bcafebabe") + [UInt8](repeating: 0xAB, count: 16)
        var rtcp = plainRTCP
        try sender.protectRTCP(&rtcp)
        #expect(rtcp == hex("81c8000bcafebabe7128035be487b9bdbef89041f977a5a880000001993e08cd54d6c1230798"))
        try receiver.unprotectRTCP(&rtcp)
        #expect(rtcp == plainRTCP)
    }

    static let gcmKeys = SRTPSessionKeys(encryptionKey: hex("000102030405060708090a0b0c0d0e0f"), authenticationKey: [],
                                         salt: hex("517569642070726f2071756f"))
    static let gcmPlainRTP = hex("8040f17b8041f8d35501a0b2") + Array("Gallia est omnis divisa in partes tres".utf8)
    static let gcmPlainRTCP = hex("81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef")

    /// RFC 7714 §16.1.1 and §16.1.2.
    @Test func rfc7714RTPEncryptionAndDecryption() throws {
        let sender = try SRTPContext(profile: .aeadAES128GCM, rtpKeys: Self.gcmKeys, rtcpKeys: Self.gcmKeys)
        var packet = Self.gcmPlainRTP
        try sender.protectRTP(&packet)
        #expect(packet == hex("""
            8040f17b8041f8d35501a0b2f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833899d7f27beb16a9152cf765ee4390cce
            """))
        let receiver = try SRTPContext(profile: .aeadAES128GCM, rtpKeys: Self.gcmKeys, rtcpKeys: Self.gcmKeys)
        try receiver.unprotectRTP(&packet)
        #expect(packet == Self.gcmPlainRTP)
    }

    /// RFC 7714 §17.1 (SRTCP, index 0x5d4) and §17.3 (E flag clear: authenticated only).
    @Test func rfc7714RTCPVectors() throws {
        let protected = hex("""
            81c8000d4d61727363e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32dc676a5f1730d6fda4ce09b4686303ded0bb9275bc84aa45896cf4d2fc5abf87245d9eade800005d4
            """)
        let receiver = try SRTPContext(profile: .aeadAES128GCM, rtpKeys: Self.gcmKeys, rtcpKeys: Self.gcmKeys)
        var packet = protected
        try receiver.unprotectRTCP(&packet)
        #expect(packet == Self.gcmPlainRTCP)

        let sender = try SRTPContext(profile: .aeadAES128GCM, rtpKeys: Self.gcmKeys, rtcpKeys: Self.gcmKeys)
        for _ in 1..<0x5D4 {
            var scratch = Self.gcmPlainRTCP
            try sender.protectRTCP(&scratch)
        }
        var out = Self.gcmPlainRTCP
        try sender.protectRTCP(&out)
        #expect(out == protected)

        var tagOnly = hex("""
            81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef841dd9683dd78ec92ae58790125f62b3000005d4
            """)
        let other = try SRTPContext(profile: .aeadAES128GCM, rtpKeys: Self.gcmKeys, rtcpKeys: Self.gcmKeys)
        try other.unprotectRTCP(&tagOnly)
        #expect(tagOnly == Self.gcmPlainRTCP)
    }
}

@Suite("SRTP sessions")
struct SRTPSessionTests {
    static func pair(_ profile: SRTPProtectionProfile, replay: Bool = true) throws -> (SRTPContext, SRTPContext) {
        let master = SRTPMasterKeys(key: Array(0..<16), salt: Array(100..<UInt8(100 + profile.saltLength)))
        return (try SRTPContext(profile: profile, master: master), try SRTPContext(profile: profile, master: master, replayProtection: replay))
    }

    static func rtp(sequence: UInt16, ssrc: UInt32 = 0x1111, payload: [UInt8] = Array(repeating: 7, count: 100)) throws -> [UInt8] {
        var builder = RTPPacketBuilder(payloadType: 96, sequenceNumber: sequence, timestamp: UInt32(sequence) * 3000, ssrc: ssrc, payload: payload)
        builder.extensions = [(1, Array("0".utf8)), (3, [0, 1])]
        return try builder.build()
    }

    @Test(arguments: SRTPProtectionProfile.allCases)
    func roundTripsAcrossASequenceNumberWrap(profile: SRTPProtectionProfile) throws {
        let (sender, receiver) = try Self.pair(profile)
        for sequence in (65500...65535).map(UInt16.init) + (0...100).map(UInt16.init) {
            let plain = try Self.rtp(sequence: sequence)
            var packet = plain
            try sender.protectRTP(&packet)
            #expect(packet.count == plain.count + profile.rtpTagLength)
            #expect(Array(packet[0..<12]) == Array(plain[0..<12]))  // header stays clear
            try receiver.unprotectRTP(&packet)
            #expect(packet == plain)
        }
    }

    @Test(arguments: SRTPProtectionProfile.allCases)
    func rejectsReplaysTamperingAndOldPackets(profile: SRTPProtectionProfile) throws {
        let (sender, receiver) = try Self.pair(profile)
        var packets: [[UInt8]] = []
        for sequence in UInt16(1)...UInt16(100) {
            var packet = try Self.rtp(sequence: sequence)
            try sender.protectRTP(&packet)
            packets.append(packet)
        }
        var first = packets[99]
        try receiver.unprotectRTP(&first)
        var again = packets[99]
        #expect(throws: SRTPError.replayed) { try receiver.unprotectRTP(&again) }
        var old = packets[0]  // index 1 is 99 behind: outside the 64-packet window
        #expect(throws: SRTPError.tooOld) { try receiver.unprotectRTP(&old) }
        var reordered = packets[80]  // inside the window: accepted once
        try receiver.unprotectRTP(&reordered)
        for position in [0, 5, 12, 40, packets[50].count - 1] {
            var tampered = packets[50]
            tampered[position] ^= 0x04
            #expect(throws: SRTPError.self) { try receiver.unprotectRTP(&tampered) }
        }
        var intact = packets[50]  // a failed attempt must not have burnt the index
        try receiver.unprotectRTP(&intact)
    }

    @Test(arguments: SRTPProtectionProfile.allCases)
    func rtcpRoundTripsAndRejectsReplay(profile: SRTPProtectionProfile) throws {
        let (sender, receiver) = try Self.pair(profile)
        let plain = try RTCPCompound.serialize([
            .receiverReport(ReceiverReport(ssrc: 0xABCD, reports: [ReceptionReport(ssrc: 1)])),
            .pictureLossIndication(PictureLossIndication(senderSSRC: 0xABCD, mediaSSRC: 1)),
        ])
        var packet = plain
        try sender.protectRTCP(&packet)
        #expect(packet.count == plain.count + profile.rtcpTrailerLength)
        let copy = packet
        try receiver.unprotectRTCP(&packet)
        #expect(packet == plain)
        var replay = copy
        #expect(throws: SRTPError.replayed) { try receiver.unprotectRTCP(&replay) }
        var tampered = copy
        tampered[10] ^= 1
        let fresh = try Self.pair(profile).1
        #expect(throws: SRTPError.authenticationFailed) { try fresh.unprotectRTCP(&tampered) }
    }

    @Test func splitsDTLSKeyingMaterialPerRFC5764() throws {
        let material = Array(UInt8(0)..<UInt8(60))
        let (client, server) = try SRTPProtectionProfile.aes128CMHMACSHA1_80.splitKeyingMaterial(material)
        #expect(client.key == Array(0..<16) && server.key == Array(16..<32))
        #expect(client.salt == Array(32..<46) && server.salt == Array(46..<60))
        #expect(throws: SRTPError.invalidKeyLength(expected: 56, actual: 60)) { try SRTPProtectionProfile.aeadAES128GCM.splitKeyingMaterial(material) }
    }

    @Test func bufferAPIProtectsInPlaceWithoutAllocating() throws {
        let (sender, receiver) = try Self.pair(.aes128CMHMACSHA1_80)
        let plain = try Self.rtp(sequence: 9)
        var buffer = plain + [UInt8](repeating: 0, count: 10)
        let base = buffer.withUnsafeBytes { $0.baseAddress }
        let length = try buffer.withUnsafeMutableBytes { try sender.protectRTP($0, length: plain.count) }
        #expect(length == plain.count + 10)
        let restored = try buffer.withUnsafeMutableBytes { try receiver.unprotectRTP($0, length: length) }
        #expect(restored == plain.count)
        #expect(Array(buffer[0..<restored]) == plain)
        #expect(buffer.withUnsafeBytes { $0.baseAddress } == base)
        #expect(throws: SRTPError.bufferTooSmall(needed: plain.count + 10, available: plain.count)) {
            var small = plain
            _ = try small.withUnsafeMutableBytes { try sender.protectRTP($0, length: plain.count) }
        }
    }

    @Test(arguments: SRTPProtectionProfile.allCases)
    func fuzzedCiphertextsAreRejectedWithTypedErrors(profile: SRTPProtectionProfile) throws {
        let (sender, _) = try Self.pair(profile)
        var valid = try Self.rtp(sequence: 500)
        try sender.protectRTP(&valid)
        var state: UInt64 = 0x5EED
        func next() -> UInt64 { state = state &* 6364136223846793005 &+ 1442695040888963407; return state >> 33 }
        for round in 0..<600 {
            let receiver = try Self.pair(profile).1
            var input = valid
            switch round % 3 {
            case 0: input = Array(input.prefix(Int(next() % UInt64(input.count))))
            case 1: input[Int(next() % UInt64(input.count))] ^= UInt8(1 + next() % 255)
            default: input = (0..<Int(next() % 80)).map { _ in UInt8(truncatingIfNeeded: next()) }
            }
            var rtpCopy = input
            #expect(throws: SRTPError.self) { try receiver.unprotectRTP(&rtpCopy) }
            var rtcpCopy = input
            #expect(throws: SRTPError.self) { try receiver.unprotectRTCP(&rtcpCopy) }
        }
    }
}
