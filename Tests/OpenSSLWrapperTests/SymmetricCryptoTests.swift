import Testing
@testable import OpenSSLWrapper

@Suite("Reusable symmetric contexts")
struct SymmetricCryptoTests {
    @Test func hmacContextMatchesOneShotHMACAcrossResets() throws {
        let key = Array("key for srtp auth".utf8)
        let context = try HMACContext(key: key, algorithm: .sha1)
        for length in [0, 1, 20, 64, 1500] {
            let message = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let roc: [UInt8] = [0, 0, 0, 7]
            var tag = [UInt8](repeating: 0, count: 20)
            try message.withUnsafeBytes { m in
                try roc.withUnsafeBytes { r in try tag.withUnsafeMutableBytes { try context.authenticate(m, r, into: $0) } }
            }
            #expect(tag == (try HMAC.authenticate(message + roc, key: key, algorithm: .sha1)))
        }
    }

    /// RFC 2202 §3 test case 2 (HMAC-SHA1, key "Jefe").
    @Test func hmacContextRFC2202Vector() throws {
        let context = try HMACContext(key: Array("Jefe".utf8), algorithm: .sha1)
        var tag = [UInt8](repeating: 0, count: 20)
        let message = Array("what do ya want for nothing?".utf8)
        try message.withUnsafeBytes { m in try tag.withUnsafeMutableBytes { try context.authenticate(m, into: $0) } }
        #expect(tag.map { String(format2: $0) }.joined() == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
    }

    /// RFC 2202 §3 test case 6: an 80-byte key, longer than SHA-1's block, is hashed first.
    @Test func hmacContextHashesKeysLongerThanTheBlock() throws {
        let context = try HMACContext(key: [UInt8](repeating: 0xAA, count: 80), algorithm: .sha1)
        var tag = [UInt8](repeating: 0, count: 20)
        let message = Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)
        try message.withUnsafeBytes { m in try tag.withUnsafeMutableBytes { try context.authenticate(m, into: $0) } }
        #expect(tag.map { String(format2: $0) }.joined() == "aa4ae5e15272d00e95705637ce8a3b55ed402112")
    }

    /// The precomputed SHA-1 states and the EVP_MAC path agree with one-shot HMAC for keys
    /// around the block length, message splits, and truncated tags (SRTP's 80 bits).
    @Test func hmacContextMatchesOneShotForKeyLengthsAndBothDigests() throws {
        for algorithm in [DigestAlgorithm.sha1, .sha256] {
            for keyLength in [0, 1, 20, 63, 64, 65, 200] {
                let key = (0..<keyLength).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
                let context = try HMACContext(key: key, algorithm: algorithm)
                let message = (0..<300).map { UInt8(truncatingIfNeeded: $0) }
                let expected = try HMAC.authenticate(message, key: key, algorithm: algorithm)
                for split in [0, 1, 299, 300] {
                    var tag = [UInt8](repeating: 0, count: 10)
                    try message[..<split].withUnsafeBytes { a in
                        try message[split...].withUnsafeBytes { b in try tag.withUnsafeMutableBytes { try context.authenticate(a, b, into: $0) } }
                    }
                    #expect(tag == Array(expected.prefix(10)), "\(algorithm) key \(keyLength) split \(split)")
                }
            }
        }
    }

    @Test func gcmRejectsAnyTamperingAndRoundTrips() throws {
        let gcm = try AESGCM(key: Array(repeating: 9, count: 16))
        let nonce = [UInt8](repeating: 1, count: 12)
        let aad: [UInt8] = [1, 2, 3]
        let plain = Array("media payload".utf8)
        var buffer = plain
        var tag = [UInt8](repeating: 0, count: 16)
        try nonce.withUnsafeBytes { n in
            try aad.withUnsafeBytes { a in
                try buffer.withUnsafeMutableBytes { b in try tag.withUnsafeMutableBytes { try gcm.seal(nonce: n, aad: a, buffer: b, tag: $0) } }
            }
        }
        #expect(buffer != plain)
        func open(_ ciphertext: [UInt8], _ aad: [UInt8], _ tag: [UInt8]) throws -> [UInt8]? {
            var copy = ciphertext
            let ok = try nonce.withUnsafeBytes { n in
                try aad.withUnsafeBytes { a in
                    try copy.withUnsafeMutableBytes { b in try tag.withUnsafeBytes { try gcm.open(nonce: n, aad: a, buffer: b, tag: $0) } }
                }
            }
            return ok ? copy : nil
        }
        #expect(try open(buffer, aad, tag) == plain)
        var badTag = tag
        badTag[0] ^= 1
        #expect(try open(buffer, aad, badTag) == nil)
        #expect(try open(buffer, [1, 2, 4], tag) == nil)
        var badCipher = buffer
        badCipher[3] ^= 0x80
        #expect(try open(badCipher, aad, tag) == nil)
    }

    @Test func secureZeroAndConstantTimeCompare() {
        var secret: [UInt8] = [1, 2, 3]
        secureZero(&secret)
        #expect(secret == [0, 0, 0])
        let a: [UInt8] = [1, 2, 3]
        let b: [UInt8] = [1, 2, 4]
        a.withUnsafeBytes { x in
            b.withUnsafeBytes { y in
                #expect(!constantTimeEqual(x, y))
                #expect(constantTimeEqual(x, x))
            }
        }
    }
}

extension String {
    init(format2 byte: UInt8) {
        let hex = String(byte, radix: 16)
        self = hex.count == 1 ? "0" + hex : hex
    }
}
