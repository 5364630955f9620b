import Testing
import SodiumWrapper

@Suite struct SodiumWrapperTests {
    @Test func sha256KnownAnswers() {
        // FIPS 180-2 Appendix B.1 ("abc") and the empty string.
        #expect(Hex.encode(SHA256.hash(Array("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Hex.encode(SHA256.hash([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var h = SHA256()
        h.update(Array("a".utf8)); h.update(byte: UInt8(ascii: "b")); h.update(Array("c".utf8))
        #expect(h.finalize() == SHA256.hash(Array("abc".utf8)))
    }

    @Test func ed25519MatchesRFC8032Test1() throws {
        // RFC 8032 §7.1, TEST 1 (empty message).
        var seed = Hex.decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")!
        let key = try Ed25519.PrivateKey(seed: &seed)
        #expect(seed.allSatisfy { $0 == 0 }, "the caller's seed is zeroed")
        #expect(Hex.encode(key.publicKey.rawRepresentation) == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        let sig = key.signature(for: [])
        #expect(Hex.encode(sig) == "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
        #expect(key.publicKey.isValidSignature(sig, for: []))
        #expect(!key.publicKey.isValidSignature(sig, for: [0]))
        #expect(!key.publicKey.isValidSignature(Array(sig.prefix(63)), for: []))
    }

    @Test func xchachaSealsOpensAndDetectsTampering() throws {
        let key = XChaCha20Poly1305.Key()
        let box = XChaCha20Poly1305.seal(Array("hello".utf8), key: key, associatedData: [1, 2])
        #expect(box.count == 5 + XChaCha20Poly1305.overhead)
        #expect(try XChaCha20Poly1305.open(box, key: key, associatedData: [1, 2]) == Array("hello".utf8))
        #expect(throws: SodiumError.authenticationFailed) { _ = try XChaCha20Poly1305.open(box, key: key, associatedData: [1, 3]) }
        #expect(throws: SodiumError.authenticationFailed) { _ = try XChaCha20Poly1305.open(box, key: XChaCha20Poly1305.Key(), associatedData: [1, 2]) }
        for i in box.indices {
            var t = box
            t[i] ^= 0x40
            #expect(throws: SodiumError.authenticationFailed) { _ = try XChaCha20Poly1305.open(t, key: key, associatedData: [1, 2]) }
        }
        #expect(throws: SodiumError.ciphertextTooShort(minimum: 40, actual: 39)) { _ = try XChaCha20Poly1305.open([UInt8](repeating: 0, count: 39), key: key) }
        #expect(XChaCha20Poly1305.seal([], key: key) != XChaCha20Poly1305.seal([], key: key), "random nonces")
    }

    @Test func hmacSha256MatchesRFC4231Case2() {
        var keyBytes = Array("Jefe".utf8)
        let mac = HMACSHA256.authenticate(Array("what do ya want for nothing?".utf8), key: SecretBytes(consuming: &keyBytes))
        #expect(Hex.encode(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }

    @Test func x25519MatchesRFC7748() throws {
        // RFC 7748 §6.1.
        var a = Hex.decode("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")!
        var b = Hex.decode("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")!
        let alice = try X25519.PrivateKey(consuming: &a), bob = try X25519.PrivateKey(consuming: &b)
        #expect(Hex.encode(alice.publicKey.rawRepresentation) == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
        let s1 = try alice.sharedSecret(with: bob.publicKey).withUnsafeBytes { Array($0) }
        let s2 = try bob.sharedSecret(with: alice.publicKey).withUnsafeBytes { Array($0) }
        #expect(s1 == s2)
        #expect(Hex.encode(s1) == "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742")
        #expect(throws: SodiumError.weakPublicKey) { _ = try alice.sharedSecret(with: try X25519.PublicKey(rawRepresentation: [UInt8](repeating: 0, count: 32))) }
    }

    @Test func secretsAreRedactedAndHexIsStrict() {
        #expect(Ed25519.PrivateKey().description.contains("redacted"))
        #expect(SecretBytes(randomCount: 8).description == "<redacted 8 bytes>")
        #expect(Hex.decode("abc") == nil && Hex.decode("zz") == nil && Hex.decode("0aFF") == [0x0a, 0xff])
        #expect(Sodium.constantTimeEquals([1, 2], [1, 2]) && !Sodium.constantTimeEquals([1, 2], [1, 3]) && !Sodium.constantTimeEquals([1], [1, 2]))
    }

    @Test func wrongLengthsAreTypedErrors() {
        var short = [UInt8](repeating: 1, count: 31)
        #expect(throws: SodiumError.invalidLength(what: "Ed25519 seed", expected: 32, actual: 31)) { _ = try Ed25519.PrivateKey(seed: &short) }
        #expect(throws: SodiumError.self) { _ = try Ed25519.PublicKey(rawRepresentation: [1]) }
    }
}
