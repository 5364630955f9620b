import Testing
import NodeTrust
import SodiumWrapper

@Suite struct NodeCertificateTests {
    let operatorKey = Ed25519.PrivateKey()
    let nodeKey = Ed25519.PrivateKey()
    let start: Int64 = 1_800_000_000

    func issue(signer: Ed25519.PrivateKey? = nil, jurisdiction: String = "DE", nodeID: String = "fra-1") throws -> NodeCertificate {
        try NodeCertificate.issue(nodeID: nodeID, nodePublicKey: nodeKey.publicKey, region: "eu-de-fra", jurisdiction: jurisdiction,
                                  notBeforeUnix: start, notAfterUnix: start + 86_400, serial: 7, signer: signer ?? operatorKey)
    }

    @Test func aFreshCertificateVerifiesAndSaysWhatItBinds() throws {
        let id = try issue().verify(trustedOperators: [operatorKey.publicKey], nowUnix: start + 10)
        #expect(id.nodeID == "fra-1" && id.region == "eu-de-fra" && id.jurisdiction == "DE")
        #expect(id.nodePublicKey == nodeKey.publicKey && id.operatorKey == operatorKey.publicKey && id.serial == 7)
    }

    @Test func pemRoundTrips() throws {
        let cert = try issue()
        let back = try NodeCertificate(pem: "junk before\n" + cert.pem + "junk after\n")
        #expect(back == cert)
        _ = try back.verify(trustedOperators: [operatorKey.publicKey], nowUnix: start)
    }

    @Test func expired() throws {
        #expect(throws: CertificateError.expired(notAfterUnix: start + 86_400, nowUnix: start + 86_400)) {
            _ = try issue().verify(trustedOperators: [operatorKey.publicKey], nowUnix: start + 86_400)
        }
    }

    @Test func notYetValid() throws {
        #expect(throws: CertificateError.notYetValid(notBeforeUnix: start, nowUnix: start - 1)) {
            _ = try issue().verify(trustedOperators: [operatorKey.publicKey], nowUnix: start - 1)
        }
    }

    @Test func wrongSigner() throws {
        let other = Ed25519.PrivateKey()
        #expect {
            _ = try issue(signer: other).verify(trustedOperators: [operatorKey.publicKey], nowUnix: start)
        } throws: { error in
            guard case CertificateError.wrongSigner(let claimed, let trusted) = error else { return false }
            return claimed == NodeCertificate.fingerprint(other.publicKey) && trusted == [NodeCertificate.fingerprint(operatorKey.publicKey)]
        }
    }

    @Test func tamperingWithAnyBodyByteIsDetected() throws {
        let cert = try issue()
        var detected = 0
        for i in cert.message.body.indices {
            var body = cert.message.body
            body[i] ^= 0x01
            guard let tampered = try? NodeCertificate(message: .init(body: body, signature: cert.message.signature)) else {
                detected += 1  // no longer even parses
                continue
            }
            do {
                _ = try tampered.verify(trustedOperators: [operatorKey.publicKey], nowUnix: start + 1)
                Issue.record("flipping body byte \(i) was not detected")
            } catch {
                detected += 1
            }
        }
        #expect(detected == cert.message.body.count)
    }

    @Test func tamperedSignatureIsBadSignature() throws {
        let cert = try issue()
        var sig = cert.message.signature
        sig[5] ^= 0x80
        let bad = try NodeCertificate(message: .init(body: cert.message.body, signature: sig))
        #expect(throws: CertificateError.badSignature) { _ = try bad.verify(trustedOperators: [operatorKey.publicKey], nowUnix: start + 1) }
        let short = try NodeCertificate(message: .init(body: cert.message.body, signature: Array(sig.prefix(10))))
        #expect(throws: CertificateError.badSignature) { _ = try short.verify(trustedOperators: [operatorKey.publicKey], nowUnix: start + 1) }
    }

    @Test func invalidFieldsAreRefusedAtIssue() {
        #expect(throws: CertificateError.self) { _ = try issue(jurisdiction: "Germany") }
        #expect(throws: CertificateError.self) { _ = try issue(nodeID: "Bad Node!") }
    }

    @Test func garbageIsMalformedNotACrash() {
        #expect(throws: CertificateError.self) { _ = try NodeCertificate(pem: "hello") }
        #expect(throws: CertificateError.self) { _ = try NodeCertificate(pem: "-----BEGIN DEMARC NODE CERTIFICATE-----\n!!!\n-----END DEMARC NODE CERTIFICATE-----") }
        #expect(throws: CertificateError.self) { _ = try NodeCertificate(pem: "-----BEGIN DEMARC NODE CERTIFICATE-----\nAAAA\n-----END DEMARC NODE CERTIFICATE-----") }
    }

    @Test func keyFilesRoundTripAndRejectTheWrongKind() throws {
        let secret = KeyFile.encodeSecret(operatorKey)
        #expect(try KeyFile.decodeSecret(secret).publicKey == operatorKey.publicKey)
        #expect(try KeyFile.decodePublic(KeyFile.encodePublic(operatorKey.publicKey)) == operatorKey.publicKey)
        #expect(try KeyFile.decodePublic(secret) == operatorKey.publicKey)
        #expect(throws: KeyFile.Error.self) { _ = try KeyFile.decodeSecret(KeyFile.encodePublic(operatorKey.publicKey)) }
        #expect(throws: KeyFile.Error.notBase64) { _ = try KeyFile.decodeSecret("demarc-ed25519-secret-v1 %%%") }
        #expect(throws: KeyFile.Error.wrongLength(expected: 32, actual: 3)) { _ = try KeyFile.decodePublic("demarc-ed25519-public-v1 AAAA") }
    }
}
