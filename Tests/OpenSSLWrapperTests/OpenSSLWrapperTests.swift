import Foundation
import Testing
import OpenSSLWrapper

@Suite struct OpenSSLWrapperTests {
    static func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

    @Test func hmacSha1MatchesRFC2202() throws {
        // RFC 2202 §3, test case 2.
        let mac = try HMAC.authenticate(Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8), algorithm: .sha1)
        #expect(Self.hex(mac) == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79")
    }

    @Test func digests() throws {
        #expect(Self.hex(try Digest.hash(Array("abc".utf8), algorithm: .sha1)) == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(Self.hex(try Digest.hash(Array("abc".utf8), algorithm: .sha256)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func selfSignedCertificateHasAnSDPFingerprint() throws {
        let cert = try ECDSACertificate()
        let fp = try cert.fingerprint()
        let parts = fp.split(separator: ":")
        #expect(parts.count == 32)
        #expect(parts.allSatisfy { $0.count == 2 && $0.allSatisfy { $0.isHexDigit && !$0.isLowercase } })
        #expect(try cert.fingerprint() == fp)
        #expect(try ECDSACertificate().fingerprint() != fp, "a new key, a new certificate")
        #expect(!OpenSSLLibrary.version.isEmpty)
    }
}
