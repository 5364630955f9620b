import Testing
import Foundation
import SodiumWrapper
@testable import AccessTokens
import DemarcTestSupport


final class TestClock: @unchecked Sendable {
    var now = Date(timeIntervalSince1970: 1_790_000_000)
}

@Suite("EdDSA access tokens")
struct AccessTokenTests {
    let key = Ed25519.PrivateKey()
    let clock = TestClock()

    var verifier: AccessTokenVerifier {
        let clock = self.clock
        return AccessTokenVerifier(keys: [nil: key.publicKey, "k2": key.publicKey], issuers: ["demarc.test"], audience: "demarc", leewaySeconds: 5, now: { clock.now })
    }

    func claims(role: AccessRole = .participant, iss: String = "demarc.test", aud: String = "demarc", exp: Int64 = 1_790_000_600) -> AccessClaims {
        AccessClaims(iss: iss, sub: "user-42", aud: aud, tenant: "acme", meeting: "m1", role: role, grants: ["report:read"],
                     iat: 1_790_000_000, nbf: 1_790_000_000, exp: exp)
    }

    @Test func issueAndVerifyRoundTrip() throws {
        let token = try AccessTokenIssuer(key: key).issue(claims())
        #expect(token.split(separator: ".").count == 3)
        let header = String(decoding: Base64URL.decode(token.split(separator: ".")[0])!, as: UTF8.self)
        #expect(header == #"{"alg":"EdDSA","typ":"JWT"}"#)
        #expect(try verifier.verify(token) == claims())
        let withKid = try AccessTokenIssuer(key: key, keyID: "k2").issue(claims())
        #expect(try verifier.verify(withKid).sub == "user-42")
    }

    @Test func timeIsCheckedAgainstTheInjectedClock() throws {
        let token = try AccessTokenIssuer(key: key).issue(claims())
        clock.now = Date(timeIntervalSince1970: 1_790_000_604)
        _ = try verifier.verify(token)  // within leeway
        clock.now = Date(timeIntervalSince1970: 1_790_000_605)
        #expect(throws: AccessTokenError.expired(exp: 1_790_000_600, now: 1_790_000_605)) { try verifier.verify(token) }
        clock.now = Date(timeIntervalSince1970: 1_789_999_990)
        #expect(throws: AccessTokenError.notYetValid(nbf: 1_790_000_000, now: 1_789_999_990)) { try verifier.verify(token) }
    }

    @Test func issuerAudienceKeyAndRoleAreEnforced() throws {
        #expect(throws: AccessTokenError.wrongIssuer("evil")) { try verifier.verify(try AccessTokenIssuer(key: key).issue(claims(iss: "evil"))) }
        #expect(throws: AccessTokenError.wrongAudience("other")) { try verifier.verify(try AccessTokenIssuer(key: key).issue(claims(aud: "other"))) }
        #expect(throws: AccessTokenError.badSignature) { try verifier.verify(try AccessTokenIssuer(key: Ed25519.PrivateKey()).issue(claims())) }
        #expect(throws: AccessTokenError.unknownKey("k9")) { try verifier.verify(try AccessTokenIssuer(key: key, keyID: "k9").issue(claims())) }
        var c = claims()
        c.meeting = nil
        #expect(throws: AccessTokenError.self) { try verifier.verify(try AccessTokenIssuer(key: key).issue(c)) }
    }

    @Test func algorithmConfusionIsRefused() throws {
        let token = try AccessTokenIssuer(key: key).issue(claims())
        let parts = token.split(separator: ".").map(String.init)
        for alg in ["none", "HS256", "RS256", "ES256", "eddsa"] {
            let header = Base64URL.encode(Array(#"{"alg":"\#(alg)","typ":"JWT"}"#.utf8))
            #expect(throws: AccessTokenError.unsupportedAlgorithm(alg)) { try verifier.verify("\(header).\(parts[1]).\(parts[2])") }
            #expect(throws: AccessTokenError.unsupportedAlgorithm(alg)) { try verifier.verify("\(header).\(parts[1]).") }
        }
        let crit = Base64URL.encode(Array(#"{"alg":"EdDSA","crit":["exp"]}"#.utf8))
        #expect(throws: AccessTokenError.criticalHeader) { try verifier.verify("\(crit).\(parts[1]).\(parts[2])") }
        #expect(throws: AccessTokenError.badBase64URL(part: "header")) { try verifier.verify("eyJ=.\(parts[1]).\(parts[2])") }
        #expect(throws: AccessTokenError.malformed("expected three dot-separated parts, found 2")) { try verifier.verify("a.b") }
    }

    @Test func flippedOrFuzzedTokensAlwaysThrowTypedErrors() throws {
        let token = try AccessTokenIssuer(key: key).issue(claims())
        let bytes = Array(token.utf8)
        var rng = SeededGenerator(seed: 42)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ".utf8)
        for i in bytes.indices {
            var bad = bytes
            bad[i] = alphabet.randomElement(using: &rng)!
            if bad == bytes { continue }
            let text = String(decoding: bad, as: UTF8.self)
            // Any change must be refused. (A flip in the last base64 character's unused
            // bits is refused too: the strict decoder rejects non-canonical encodings.)
            #expect(throws: AccessTokenError.self, "byte \(i)") { try verifier.verify(text) }
        }
        for cut in 0..<bytes.count {
            #expect(throws: AccessTokenError.self) { try verifier.verify(String(decoding: bytes.prefix(cut), as: UTF8.self)) }
        }
        for _ in 0..<2000 {
            let n = Int.random(in: 0..<300, using: &rng)
            let junk = String(decoding: (0..<n).map { _ in alphabet.randomElement(using: &rng)! }, as: UTF8.self)
            #expect(throws: AccessTokenError.self) { try verifier.verify(junk) }
        }
        #expect(throws: AccessTokenError.tooLarge(9000)) { try verifier.verify(String(repeating: "a", count: 9000)) }
    }

    @Test func base64URLIsStrict() {
        for n in 0..<40 {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            #expect(Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
        #expect(Base64URL.decode("QQ") == [0x41])
        #expect(Base64URL.decode("QR") == nil, "non-zero trailing bits")
        #expect(Base64URL.decode("QQ==") == nil, "padding")
        #expect(Base64URL.decode("Q") == nil, "impossible length")
        #expect(Base64URL.decode("a+b/") == nil, "standard alphabet")
    }
}
