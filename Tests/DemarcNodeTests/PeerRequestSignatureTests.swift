import Testing
import SodiumWrapper
import DemarcTestSupport
@testable import DemarcNode

/// The node-to-node request signature: every part of the request is covered, the clock
/// window holds, unknown nodes are refused, and each signature counts once.
@Suite struct PeerRequestSignatureTests {
    let key = Ed25519.PrivateKey()
    let now: Int64 = 1_800_000_000_000

    func verify(method: String = "POST", path: String = "/internal/v1/x", node: String? = "fra-1", time: Int64? = nil,
                signature: String?, body: [UInt8] = Array("{}".utf8), at: Int64? = nil) throws(PeerRequestSignature.Failure) -> String {
        let publicKey = key.publicKey
        return try PeerRequestSignature.verify(method: method, path: path, headers: (node, String(time ?? now), signature), body: body,
                                               nowUnixMilliseconds: at ?? now) { $0 == "fra-1" ? publicKey : nil }
    }

    @Test func aSignedRequestVerifiesAndAnyChangedPartIsRefused() throws {
        let body = Array("{}".utf8)
        let sig = PeerRequestSignature.sign(method: "POST", path: "/internal/v1/x", unixMilliseconds: now, body: body, key: key)
        #expect(try verify(signature: sig) == "fra-1")
        #expect(throws: PeerRequestSignature.Failure.badSignature) { try verify(method: "PUT", signature: sig) }
        #expect(throws: PeerRequestSignature.Failure.badSignature) { try verify(path: "/internal/v1/y", signature: sig) }
        #expect(throws: PeerRequestSignature.Failure.badSignature) { try verify(signature: sig, body: Array("{ }".utf8)) }
        #expect(throws: PeerRequestSignature.Failure.badSignature) { try verify(time: now + 1, signature: sig, at: now) }
        #expect(throws: PeerRequestSignature.Failure.unknownNode("iad-1")) { try verify(node: "iad-1", signature: sig) }
        #expect(throws: PeerRequestSignature.Failure.missingHeaders) { try verify(signature: nil) }
        #expect(throws: PeerRequestSignature.Failure.missingHeaders) { try verify(signature: "not base64!") }
        // Another key's signature over the same request.
        let other = PeerRequestSignature.sign(method: "POST", path: "/internal/v1/x", unixMilliseconds: now, body: body, key: Ed25519.PrivateKey())
        #expect(throws: PeerRequestSignature.Failure.badSignature) { try verify(signature: other) }
    }

    @Test func theClockWindowIsSixtySecondsEitherWay() throws {
        let body = Array("{}".utf8)
        for skew: Int64 in [-60_000, 0, 60_000] {
            let t = now + skew
            let sig = PeerRequestSignature.sign(method: "POST", path: "/internal/v1/x", unixMilliseconds: t, body: body, key: key)
            #expect(try verify(time: t, signature: sig) == "fra-1")
        }
        for skew: Int64 in [-60_001, 60_001, 3_600_000] {
            let t = now + skew
            let sig = PeerRequestSignature.sign(method: "POST", path: "/internal/v1/x", unixMilliseconds: t, body: body, key: key)
            #expect(throws: PeerRequestSignature.Failure.stale(skewMilliseconds: -skew)) { try verify(time: t, signature: sig) }
        }
    }

    @Test func eachSignatureIsAcceptedOnceAndTheGuardForgetsOldOnes() {
        var guardian = PeerReplayGuard()
        let first = guardian.accept("a", at: now)
        let again = guardian.accept("a", at: now + 1)
        let other = guardian.accept("b", at: now + 1)
        #expect(first && !again && other)
        // Two minutes later the old entries have expired: memory stays bounded.
        let later = guardian.accept("a", at: now + 120_001)
        #expect(later)
        // At capacity, new signatures are refused rather than old ones forgotten.
        var small = PeerReplayGuard(capacity: 3)
        let filled = (0..<3).map { small.accept("s\($0)", at: now) }
        let overflow = small.accept("s3", at: now)
        let afterExpiry = small.accept("s3", at: now + 120_001)
        #expect(filled == [true, true, true] && !overflow && afterExpiry)
    }

    @Test func randomHeadersNeverTrapAndAreRefused() {
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<2_000 {
            let bytes = Mutations.randomBytes(&rng, maxLength: 120)
            let text = String(decoding: bytes, as: UTF8.self)
            let pick = Bool.random(using: &rng)
            #expect(throws: PeerRequestSignature.Failure.self) {
                try verify(node: pick ? "fra-1" : text, signature: text, body: bytes)
            }
        }
    }
}
