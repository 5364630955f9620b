"""Unit tests of the native client's SFrame (Tests/Interop/sframe.py).

RFC 9605 Appendix C.1 (header vectors, the same 46 as Tests/SFrameTests and Tests/js) and
C.3 (suite 0x0004), RFC 5869 A.1, the interop fixture sealed by JavaScript and Swift, and
seeded property/fuzz tests: parsers reject garbage with typed errors only.

Run: cd Tests/Interop && python3 -m unittest -v test_sframe
"""

import json
import os
import random
import unittest

import sframe
from sframe import (EnvelopeError, Identity, SFrameError, SFrameHeaderError, SFrameReceiver, SFrameSender,
                    encode_header, parse_header)

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "e2ee-interop.json")

# RFC 9605 Appendix C.1: (KID, CTR, header).
HEADER_VECTORS = [
    (0x0000000000000000, 0x0000000000000000, "00"),
    (0x0000000000000000, 0x0000000000000001, "01"),
    (0x0000000000000000, 0x00000000000000ff, "08ff"),
    (0x0000000000000000, 0x0000000000000100, "090100"),
    (0x0000000000000000, 0x000000000000ffff, "09ffff"),
    (0x0000000000000000, 0x0000000000010000, "0a010000"),
    (0x0000000000000000, 0x0000000000ffffff, "0affffff"),
    (0x0000000000000000, 0x0000000001000000, "0b01000000"),
    (0x0000000000000000, 0x00000000ffffffff, "0bffffffff"),
    (0x0000000000000000, 0x0000000100000000, "0c0100000000"),
    (0x0000000000000000, 0x000000ffffffffff, "0cffffffffff"),
    (0x0000000000000000, 0x0000010000000000, "0d010000000000"),
    (0x0000000000000000, 0x0000ffffffffffff, "0dffffffffffff"),
    (0x0000000000000000, 0x0001000000000000, "0e01000000000000"),
    (0x0000000000000000, 0x00ffffffffffffff, "0effffffffffffff"),
    (0x0000000000000000, 0x0100000000000000, "0f0100000000000000"),
    (0x0000000000000000, 0xffffffffffffffff, "0fffffffffffffffff"),
    (0x0000000000000001, 0x0000000000000000, "10"),
    (0x0000000000000001, 0x0000000000000001, "11"),
    (0x0000000000000001, 0x00000000000000ff, "18ff"),
    (0x0000000000000001, 0xffffffffffffffff, "1fffffffffffffffff"),
    (0x00000000000000ff, 0x0000000000000000, "80ff"),
    (0x00000000000000ff, 0x0000000000000001, "81ff"),
    (0x00000000000000ff, 0x00000000000000ff, "88ffff"),
    (0x00000000000000ff, 0x0000000000000100, "89ff0100"),
    (0x00000000000000ff, 0xffffffffffffffff, "8fffffffffffffffffff"),
    (0x0000000000000100, 0x0000000000000000, "900100"),
    (0x0000000000000100, 0x00000000000000ff, "980100ff"),
    (0x0000000000000100, 0x0000000000000100, "9901000100"),
    (0x000000000000ffff, 0x0000000000010000, "9affff010000"),
    (0x0000000000010000, 0x0000000000000000, "a0010000"),
    (0x0000000000010000, 0x0000010000000000, "ad010000010000000000"),
    (0x0000000000ffffff, 0x00000000000000ff, "a8ffffffff"),
    (0x0000000001000000, 0x0000000000000100, "b9010000000100"),
    (0x00000000ffffffff, 0x0000ffffffffffff, "bdffffffffffffffffffff"),
    (0x0000000100000000, 0x0000000000000000, "c00100000000"),
    (0x0000000100000000, 0x0100000000000000, "cf01000000000100000000000000"),
    (0x000000ffffffffff, 0x000000000000ffff, "c9ffffffffffffff"),
    (0x0000010000000000, 0x0000000000000000, "d0010000000000"),
    (0x0000ffffffffffff, 0x0000000001000000, "dbffffffffffff01000000"),
    (0x0001000000000000, 0x00000000000000ff, "e801000000000000ff"),
    (0x00ffffffffffffff, 0xffffffffffffffff, "efffffffffffffffffffffffffffffff"),
    (0x0100000000000000, 0x0000000000000000, "f00100000000000000"),
    (0x0100000000000000, 0x0100000000000000, "ff01000000000000000100000000000000"),
    (0xffffffffffffffff, 0x0000000000000000, "f0ffffffffffffffff"),
    (0xffffffffffffffff, 0xffffffffffffffff, "ffffffffffffffffffffffffffffffffff"),
]

# RFC 9605 Appendix C.3, cipher_suite 0x0004 (AES_128_GCM_SHA256_128).
RFC_KID = 0x123
RFC_CTR = 0x4567
RFC_BASE_KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
RFC_KEY = "d34f547f4ca4f9a7447006fe7fcbf768"
RFC_SALT = "75234edefe07819026751816"
RFC_METADATA = bytes.fromhex("4945544620534672616d65205747")
RFC_PLAINTEXT = bytes.fromhex("64726166742d696574662d736672616d652d656e63")
RFC_CIPHERTEXT = bytes.fromhex("9901234567b7412c2513a1b66dbb48841bbaf17f598751176ad847681a69c6d0b091c07018ce4adb34eb")


class HeaderTests(unittest.TestCase):
    def test_rfc9605_c1_vectors_encode_and_parse(self):
        self.assertEqual(len(HEADER_VECTORS), 46)
        for kid, ctr, header in HEADER_VECTORS:
            self.assertEqual(encode_header(kid, ctr).hex(), header, (kid, ctr))
            self.assertEqual(parse_header(bytes.fromhex(header + "aabb")), (kid, ctr, len(header) // 2))

    def test_non_minimal_and_truncated_headers_are_refused(self):
        for data, code in [(b"", "truncated"), (bytes.fromhex("80"), "truncated"), (bytes.fromhex("8f00"), "truncated"),
                           (bytes.fromhex("8005"), "non-minimal"), (bytes.fromhex("900001"), "non-minimal"),
                           (bytes.fromhex("0803"), "non-minimal"), (bytes.fromhex("090001"), "non-minimal")]:
            with self.assertRaises(SFrameHeaderError) as caught:
                parse_header(data)
            self.assertEqual(caught.exception.code, code, data.hex())

    def test_round_trip_property_and_fuzz(self):
        rng = random.Random(9605)
        for _ in range(3000):
            kid = rng.getrandbits(rng.choice([3, 8, 16, 32, 64]))
            ctr = rng.getrandbits(rng.choice([3, 8, 24, 48, 64]))
            encoded = encode_header(kid, ctr)
            self.assertLessEqual(len(encoded), sframe.MAX_HEADER_LENGTH)
            self.assertEqual(parse_header(encoded + b"\x00"), (kid, ctr, len(encoded)))
        for _ in range(5000):  # garbage: a typed error or a header that re-encodes to itself
            data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 20)))
            try:
                kid, ctr, length = parse_header(data)
            except SFrameHeaderError:
                continue
            self.assertEqual(encode_header(kid, ctr), data[:length])


class CryptoTests(unittest.TestCase):
    def test_rfc5869_a1_hkdf(self):
        okm = sframe.hkdf(bytes.fromhex("0b" * 22), bytes.fromhex("000102030405060708090a0b0c"),
                          bytes.fromhex("f0f1f2f3f4f5f6f7f8f9"), 42)
        self.assertEqual(okm.hex(), "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")

    def test_rfc9605_c3_suite_0004(self):
        key, salt = sframe.derive_key_and_salt(RFC_KID, RFC_BASE_KEY)
        self.assertEqual((key.hex(), salt.hex()), (RFC_KEY, RFC_SALT))
        sender = SFrameSender(RFC_KID, RFC_BASE_KEY, first_counter=RFC_CTR)
        self.assertEqual(sender.encrypt(RFC_PLAINTEXT, RFC_METADATA).hex(), RFC_CIPHERTEXT.hex())
        self.assertEqual(sender.next_counter, RFC_CTR + 1)
        receiver = SFrameReceiver()
        receiver.add_key(RFC_KID, RFC_BASE_KEY)
        self.assertEqual(receiver.decrypt(RFC_CIPHERTEXT, RFC_METADATA), RFC_PLAINTEXT)

    def code(self, call):
        try:
            call()
            return "ok"
        except SFrameError as error:
            return error.code

    def test_tampering_wrong_key_metadata_unknown_kid_truncation(self):
        receiver = SFrameReceiver()
        receiver.add_key(RFC_KID, RFC_BASE_KEY)
        for i in range(len(RFC_CIPHERTEXT)):
            tampered = bytearray(RFC_CIPHERTEXT)
            tampered[i] ^= 1
            self.assertNotEqual(self.code(lambda: receiver.decrypt(bytes(tampered), RFC_METADATA)), "ok", i)
        self.assertEqual(self.code(lambda: receiver.decrypt(RFC_CIPHERTEXT, b"")), "auth")
        self.assertEqual(self.code(lambda: receiver.decrypt(RFC_CIPHERTEXT[:20], RFC_METADATA)), "truncated")
        self.assertEqual(self.code(lambda: receiver.decrypt(RFC_CIPHERTEXT[:3], RFC_METADATA)), "header")
        self.assertEqual(self.code(lambda: SFrameReceiver().decrypt(RFC_CIPHERTEXT, RFC_METADATA)), "unknown-kid")
        wrong = SFrameReceiver()
        wrong.add_key(RFC_KID, b"\x09" * 16)
        self.assertEqual(self.code(lambda: wrong.decrypt(RFC_CIPHERTEXT, RFC_METADATA)), "auth")
        self.assertEqual(self.code(lambda: receiver.decrypt(RFC_CIPHERTEXT, RFC_METADATA)), "ok")  # failures burn no CTR

    def test_replay_window(self):
        key = sframe.random_media_key()
        sender, receiver = SFrameSender(5, key), SFrameReceiver()
        receiver.add_key(5, key)
        frames = [sender.encrypt(i.to_bytes(2, "big")) for i in range(300)]
        self.assertEqual(receiver.decrypt(frames[10]), b"\x00\x0a")
        self.assertEqual(receiver.decrypt(frames[3]), b"\x00\x03")  # reordered within the window
        self.assertEqual(self.code(lambda: receiver.decrypt(frames[3])), "replayed")
        self.assertEqual(self.code(lambda: receiver.decrypt(frames[10])), "replayed")
        self.assertEqual(receiver.decrypt(frames[200]), (200).to_bytes(2, "big"))
        self.assertEqual(self.code(lambda: receiver.decrypt(frames[50])), "too-old")
        self.assertEqual(receiver.decrypt(frames[73]), (73).to_bytes(2, "big"))  # age 127: still inside

    def test_decrypt_fuzz_gives_typed_errors_only(self):
        rng = random.Random(8)
        receiver = SFrameReceiver(ratchet_on_demand=True)
        receiver.add_key(make_kid := sframe.make_key_id(3, 1), b"\x01" * 16)
        for _ in range(3000):
            data = bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 60)))
            if rng.random() < 0.5:
                data = encode_header(rng.choice([make_kid, sframe.next_key_id(make_kid), 7]), rng.getrandbits(16)) + data
            self.assertNotEqual(self.code(lambda: receiver.decrypt(data)), "ok")


class LayoutTests(unittest.TestCase):
    def test_vp8_keyframe_and_interframe_prefixes_and_opus(self):
        key = sframe.random_media_key()
        kid = sframe.make_key_id(7, 0)
        sender, receiver = SFrameSender(kid, key), SFrameReceiver()
        receiver.add_key(kid, key)
        keyframe = bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01]) + os.urandom(500)
        interframe = bytes([0x31, 0x05, 0x00]) + os.urandom(200)
        opus = os.urandom(120)
        for frame, codec, clear in [(keyframe, "vp8", 10), (interframe, "vp8", 3), (opus, "opus", 0)]:
            protected = sframe.protect_frame(frame, codec, sender)
            self.assertEqual(protected[:clear], frame[:clear])
            kid_seen, _, _ = parse_header(protected[clear:])
            self.assertEqual(sframe.split_key_id(kid_seen), (7, 0))
            self.assertEqual(len(protected), len(frame) + len(encode_header(kid, sender.next_counter - 1)) + 16)
            self.assertEqual(sframe.unprotect_frame(protected, codec, receiver), frame)
        self.assertEqual(sframe.protect_frame(b"", "opus", sender), b"")
        tampered = bytearray(sframe.protect_frame(keyframe, "vp8", sender))
        tampered[7] ^= 0x01  # the dimensions are authenticated metadata
        with self.assertRaises(SFrameError):
            sframe.unprotect_frame(bytes(tampered), "vp8", receiver)

    def test_ratchet_on_demand_follows_a_join(self):
        key = sframe.random_media_key()
        kid = sframe.make_key_id(4, 9)
        receiver = SFrameReceiver(ratchet_on_demand=True)
        receiver.add_key(kid, key)
        nxt = sframe.next_key_id(kid)
        sender = SFrameSender(nxt, sframe.ratchet_media_key(key, nxt))
        self.assertEqual(receiver.decrypt(sender.encrypt(b"after join")), b"after join")
        stranger = SFrameSender(nxt, sframe.random_media_key())
        with self.assertRaises(SFrameError):
            receiver.decrypt(stranger.encrypt(b"rotation"))


class EnvelopeTests(unittest.TestCase):
    def setUp(self):
        with open(FIXTURE) as f:
            self.fixture = json.load(f)
        self.sender = Identity.from_private_bytes(bytes.fromhex(self.fixture["sender"]["privateKey"]))
        self.recipient = Identity.from_private_bytes(bytes.fromhex(self.fixture["recipient"]["privateKey"]))

    def test_fixture_keys_opens_every_envelope_and_reproduces_the_deterministic_one(self):
        self.assertEqual(self.sender.public_key.hex(), self.fixture["sender"]["publicKey"])
        self.assertEqual(self.recipient.public_key.hex(), self.fixture["recipient"]["publicKey"])
        self.assertEqual({e["sealedBy"] for e in self.fixture["envelopes"]}, {"javascript", "swift"})
        deterministic = 0
        for entry in self.fixture["envelopes"]:
            envelope = bytes.fromhex(entry["envelope"])
            kid, base_key = sframe.open_media_key(envelope, entry["meetingID"], self.recipient, self.sender.public_key)
            self.assertEqual((kid, base_key.hex()), (int(entry["keyID"], 16), entry["baseKey"]), entry["sealedBy"])
            if "ephemeralPrivateKey" in entry:
                ephemeral = Identity.from_private_bytes(bytes.fromhex(entry["ephemeralPrivateKey"]))
                resealed = sframe.seal_media_key(bytes.fromhex(entry["baseKey"]), kid, entry["meetingID"], self.sender,
                                                 self.recipient.public_key, ephemeral=ephemeral)
                self.assertEqual(resealed.hex(), entry["envelope"])
                deterministic += 1
        self.assertGreaterEqual(deterministic, 1)

    def test_fixture_safety_code_and_ratchet(self):
        self.assertEqual(sframe.safety_code([self.recipient.public_key, self.sender.public_key]), self.fixture["safetyCode"])
        self.assertEqual(sframe.safety_code([self.sender.public_key, self.recipient.public_key]), self.fixture["safetyCode"])
        r = self.fixture["ratchet"]
        self.assertEqual(sframe.ratchet_media_key(bytes.fromhex(r["baseKey"]), int(r["nextKeyID"], 16)).hex(), r["nextKey"])

    def test_envelope_binds_meeting_recipient_sender_and_kid(self):
        other = Identity()
        envelope = sframe.seal_media_key(b"\x05" * 16, 0x30001, "m1", self.sender, self.recipient.public_key)
        self.assertEqual(len(envelope), sframe.ENVELOPE_LENGTH)
        self.assertEqual(sframe.envelope_key_id(envelope), 0x30001)
        self.assertEqual(sframe.open_media_key(envelope, "m1", self.recipient, self.sender.public_key), (0x30001, b"\x05" * 16))
        for call in [lambda: sframe.open_media_key(envelope, "m2", self.recipient, self.sender.public_key),
                     lambda: sframe.open_media_key(envelope, "m1", other, self.sender.public_key),
                     lambda: sframe.open_media_key(envelope, "m1", self.recipient, other.public_key),
                     lambda: sframe.open_media_key(envelope[:1] + (0x30002).to_bytes(8, "big") + envelope[9:], "m1",
                                                   self.recipient, self.sender.public_key)]:
            with self.assertRaises(EnvelopeError) as caught:
                call()
            self.assertEqual(caught.exception.code, "auth")
        with self.assertRaises(EnvelopeError) as caught:
            sframe.open_media_key(envelope[:-1], "m1", self.recipient, self.sender.public_key)
        self.assertEqual(caught.exception.code, "length")
        with self.assertRaises(EnvelopeError) as caught:
            sframe.open_media_key(b"\x02" + envelope[1:], "m1", self.recipient, self.sender.public_key)
        self.assertEqual(caught.exception.code, "version")
        with self.assertRaises(EnvelopeError) as caught:
            sframe.seal_media_key(b"\x05" * 16, 1, "m1", self.sender, b"\x00" * 32)  # low-order point
        self.assertEqual(caught.exception.code, "weak-key")

    def test_envelope_fuzz_gives_typed_errors_only(self):
        rng = random.Random(73)
        good = sframe.seal_media_key(b"\x05" * 16, 0x30001, "m1", self.sender, self.recipient.public_key)
        for _ in range(1500):
            data = bytearray(good) if rng.random() < 0.7 else bytearray(rng.getrandbits(8) for _ in range(rng.randrange(0, 90)))
            for _ in range(rng.randrange(1, 4)):
                if data:
                    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            with self.assertRaises(EnvelopeError):
                sframe.open_media_key(bytes(data), "m1", self.recipient, self.sender.public_key)


if __name__ == "__main__":
    unittest.main()
