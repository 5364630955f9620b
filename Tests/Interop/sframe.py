"""SFrame (RFC 9605) and Demarc's E2EE key envelopes for the native (aiortc) test client.

The third implementation of docs/e2ee.md, next to Sources/SFrame (Swift) and Web/e2ee (JS),
written from the RFC and the doc, and checked against the same vectors (RFC 9605 Appendix C)
and the interop fixture Tests/Fixtures/e2ee-interop.json (test_sframe.py):

- cipher suite AES_128_GCM_SHA256_128 (0x0004, RFC 9605 §4.5), header |X|KKK|Y|CCC| with
  minimal KID/CTR encodings (§4.3; non-minimal ones are refused), key/salt derivation
  (§4.4.2), encryption (§4.4.3-4.4.4), a 128-counter replay window per KID (§9.3);
- KID = sender slot << 16 | generation, and the join ratchet;
- the payload layout: VP8 keeps 10 (keyframe) or 3 (interframe) bytes clear as SFrame
  metadata, Opus is all SFrame;
- the sealed media-key envelope (X25519 + HKDF-SHA256 + AES-128-GCM, 73 bytes).

Only `cryptography` (an aiortc dependency) is used. Every parser raises a typed error
(SFrameHeaderError, SFrameError, EnvelopeError) on garbage; nothing here does I/O.
"""

import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives import serialization

CIPHER_SUITE = 0x0004
KEY_LENGTH = 16
NONCE_LENGTH = 12
TAG_LENGTH = 16
MAX_HEADER_LENGTH = 17
REPLAY_WINDOW = 128
UINT64_MAX = (1 << 64) - 1


class SFrameHeaderError(ValueError):
    """A malformed SFrame header (RFC 9605 §4.3). `code`: 'truncated' or 'non-minimal'."""

    def __init__(self, code, detail):
        super().__init__(f"SFrame header {code}: {detail}")
        self.code = code


class SFrameError(ValueError):
    """Why a frame did not decrypt. `code`: 'header', 'truncated', 'unknown-kid', 'auth',
    'replayed', 'too-old', 'exhausted', 'key'."""

    def __init__(self, code, detail):
        super().__init__(f"SFrame {code}: {detail}")
        self.code = code


class EnvelopeError(ValueError):
    """Why a media-key envelope did not open. `code`: 'length', 'version', 'weak-key', 'auth'."""

    def __init__(self, code, detail):
        super().__init__(f"media key envelope {code}: {detail}")
        self.code = code


# --- Header (RFC 9605 §4.3) ---

def _extended_length(value):
    """0 when the value fits the 3-bit field, else its minimal byte count."""
    return 0 if value < 8 else (value.bit_length() + 7) // 8


def encode_header(kid, ctr):
    """encode_sframe_header(CTR, KID): config byte, then KID and CTR, minimal big-endian."""
    if not (0 <= kid <= UINT64_MAX and 0 <= ctr <= UINT64_MAX):
        raise ValueError("KID and CTR are 64-bit unsigned")
    kl, cl = _extended_length(kid), _extended_length(ctr)
    config = (kid << 4 if kl == 0 else 0x80 | (kl - 1) << 4) | (ctr if cl == 0 else 0x08 | (cl - 1))
    return bytes([config]) + (kid.to_bytes(kl, "big") if kl else b"") + (ctr.to_bytes(cl, "big") if cl else b"")


def parse_header(data):
    """Parses the header at the start of `data`: (kid, ctr, header length)."""
    if len(data) < 1:
        raise SFrameHeaderError("truncated", "needed 1 byte, have 0")
    config = data[0]
    kl = ((config >> 4) & 0x07) + 1 if config & 0x80 else 0
    cl = (config & 0x07) + 1 if config & 0x08 else 0
    length = 1 + kl + cl
    if len(data) < length:
        raise SFrameHeaderError("truncated", f"needed {length} bytes, have {len(data)}")
    kid = int.from_bytes(data[1:1 + kl], "big") if kl else (config >> 4) & 0x07
    ctr = int.from_bytes(data[1 + kl:length], "big") if cl else config & 0x07
    if kl and _extended_length(kid) != kl:
        raise SFrameHeaderError("non-minimal", "KID")
    if cl and _extended_length(ctr) != cl:
        raise SFrameHeaderError("non-minimal", "CTR")
    return kid, ctr, length


# --- HKDF-SHA256 (RFC 5869) ---

def _hmac(key, data):
    h = hmac.HMAC(key, hashes.SHA256())
    h.update(data)
    return h.finalize()


def hkdf_extract(salt, ikm):
    return _hmac(salt if salt else b"\x00" * 32, ikm)


def hkdf_expand(prk, info, length):
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = _hmac(prk, block + info + bytes([counter]))
        out += block
        counter += 1
    return out[:length]


def hkdf(ikm, salt, info, length):
    return hkdf_expand(hkdf_extract(salt, ikm), info, length)


def _label(text, kid):
    return text.encode() + struct.pack(">QH", kid, CIPHER_SUITE)


def derive_key_and_salt(kid, base_key):
    """derive_key_salt(KID, base_key) of RFC 9605 §4.4.2: (sframe_key, sframe_salt)."""
    secret = hkdf_extract(b"", base_key)
    return (hkdf_expand(secret, _label("SFrame 1.0 Secret key ", kid), KEY_LENGTH),
            hkdf_expand(secret, _label("SFrame 1.0 Secret salt ", kid), NONCE_LENGTH))


# --- Per-frame encryption (§4.4.3-4.4.4) ---

class SFrameKeyContext:
    """One KID's AES-GCM key and salt."""

    def __init__(self, kid, base_key):
        if not base_key:
            raise SFrameError("key", "empty base key")
        self.kid = kid
        key, self.salt = derive_key_and_salt(kid, bytes(base_key))
        self.aead = AESGCM(key)

    def nonce(self, ctr):
        """sframe_salt XOR CTR as a 12-byte big-endian integer."""
        return (int.from_bytes(self.salt, "big") ^ ctr).to_bytes(NONCE_LENGTH, "big")

    def seal(self, ctr, metadata, plaintext):
        header = encode_header(self.kid, ctr)
        return header + self.aead.encrypt(self.nonce(ctr), bytes(plaintext), header + bytes(metadata))

    def open(self, ctr, header, metadata, body):
        try:
            return self.aead.decrypt(self.nonce(ctr), bytes(body), bytes(header) + bytes(metadata))
        except InvalidTag:
            raise SFrameError("auth", f"KID {self.kid} CTR {ctr}") from None


class SFrameSender:
    """A sender's current key and one CTR that only grows, across rotations (RFC 9605 §9.1)."""

    def __init__(self, kid, base_key, first_counter=0):
        self.current = SFrameKeyContext(kid, base_key)
        self.next_counter = first_counter

    def rotate(self, kid, base_key):
        self.current = SFrameKeyContext(kid, base_key)

    def encrypt(self, plaintext, metadata=b""):
        if self.next_counter >= UINT64_MAX:
            raise SFrameError("exhausted", f"KID {self.current.kid}")
        ctr = self.next_counter
        self.next_counter += 1
        return self.current.seal(ctr, metadata, plaintext)


class ReplayWindow:
    """Sliding window over CTR (RFC 3711 §3.3.2 adapted; RFC 9605 §9.3)."""

    def __init__(self):
        self.highest = None
        self.seen = 0  # bit i: highest - i accepted

    def check(self, ctr):
        if self.highest is None or ctr > self.highest:
            return "fresh"
        age = self.highest - ctr
        if age >= REPLAY_WINDOW:
            return "too-old"
        return "replayed" if (self.seen >> age) & 1 else "fresh"

    def accept(self, ctr):
        if self.highest is None:
            self.highest, self.seen = ctr, 1
        elif ctr > self.highest:
            shift = ctr - self.highest
            self.seen = 1 if shift >= REPLAY_WINDOW else ((self.seen << shift) | 1) & ((1 << REPLAY_WINDOW) - 1)
            self.highest = ctr
        else:
            self.seen |= 1 << (self.highest - ctr)


class SFrameReceiver:
    """Decryption keys by KID, each with its own replay window. With `ratchet_on_demand`, a
    frame under the next generation of a known sender key is tried with the ratcheted key."""

    def __init__(self, ratchet_on_demand=False):
        self.keys = {}
        self.ratchet_on_demand = ratchet_on_demand

    def add_key(self, kid, base_key):
        self.keys[kid] = (SFrameKeyContext(kid, base_key), bytes(base_key), ReplayWindow())

    def remove_key(self, kid):
        self.keys.pop(kid, None)

    def decrypt(self, frame, metadata=b""):
        try:
            kid, ctr, length = parse_header(frame)
        except SFrameHeaderError as error:
            raise SFrameError("header", str(error)) from None
        if len(frame) < length + TAG_LENGTH:
            raise SFrameError("truncated", f"needed {length + TAG_LENGTH} bytes, have {len(frame)}")
        entry, candidate = self.keys.get(kid), None
        if entry is None and self.ratchet_on_demand:
            previous = self.keys.get(previous_key_id(kid))
            if previous is not None:
                base = ratchet_media_key(previous[1], kid)
                entry = candidate = (SFrameKeyContext(kid, base), base, ReplayWindow())
        if entry is None:
            raise SFrameError("unknown-kid", f"KID {kid}")
        context, _, window = entry
        verdict = window.check(ctr)
        if verdict != "fresh":
            raise SFrameError(verdict, f"KID {kid} CTR {ctr}")
        plaintext = context.open(ctr, frame[:length], metadata, frame[length:])
        window.accept(ctr)
        if candidate is not None:
            self.keys[kid] = candidate
        return plaintext


# --- Demarc KID layout and join ratchet (docs/e2ee.md) ---

def make_key_id(slot, generation):
    return (slot << 16) | (generation & 0xFFFF)


def split_key_id(kid):
    return kid >> 16, kid & 0xFFFF


def next_key_id(kid):
    slot, generation = split_key_id(kid)
    return make_key_id(slot, (generation + 1) & 0xFFFF)


def previous_key_id(kid):
    slot, generation = split_key_id(kid)
    return make_key_id(slot, (generation + 0xFFFF) & 0xFFFF)


def ratchet_media_key(base_key, next_kid):
    """base' = HKDF-SHA256(IKM = base, salt = "", info = "Demarc E2EE 1 ratchet" ‖ KID'(8), 16)."""
    return hkdf(bytes(base_key), b"", b"Demarc E2EE 1 ratchet" + struct.pack(">Q", next_kid), 16)


# --- Payload layout (docs/e2ee.md, "Payload layout") ---

VP8_DELTA_PREFIX = 3
VP8_KEYFRAME_PREFIX = 10


def clear_prefix_length(codec, frame):
    """'vp8': the 3-byte frame tag, 10 bytes for keyframes (P bit 0); 'opus': 0."""
    if codec != "vp8" or not frame:
        return 0
    return min(len(frame), VP8_KEYFRAME_PREFIX if frame[0] & 0x01 == 0 else VP8_DELTA_PREFIX)


def protect_frame(frame, codec, sender):
    """clear prefix ‖ SFrame(rest, metadata = clear prefix). Empty frames pass unchanged."""
    if not frame:
        return b""
    n = clear_prefix_length(codec, frame)
    clear = bytes(frame[:n])
    return clear + sender.encrypt(frame[n:], clear)


def unprotect_frame(frame, codec, receiver):
    if not frame:
        return b""
    n = clear_prefix_length(codec, frame)
    clear = bytes(frame[:n])
    return clear + receiver.decrypt(frame[n:], clear)


# --- Sealed media keys (docs/e2ee.md, "Key distribution the server cannot read") ---

ENVELOPE_VERSION = 1
MEDIA_KEY_LENGTH = 16
ENVELOPE_HEADER_LENGTH = 1 + 8 + 32
ENVELOPE_LENGTH = ENVELOPE_HEADER_LENGTH + MEDIA_KEY_LENGTH + TAG_LENGTH


class Identity:
    """An X25519 identity key pair (fresh per session; `from_private_bytes` for test vectors)."""

    def __init__(self, private_key=None):
        self.private_key = private_key or X25519PrivateKey.generate()
        self.public_key = self.private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @classmethod
    def from_private_bytes(cls, raw):
        return cls(X25519PrivateKey.from_private_bytes(bytes(raw)))

    def dh(self, peer_public):
        if len(peer_public) != 32:
            raise EnvelopeError("weak-key", f"public key of {len(peer_public)} bytes")
        try:
            shared = self.private_key.exchange(X25519PublicKey.from_public_bytes(bytes(peer_public)))
        except ValueError as error:  # cryptography refuses an all-zero output itself
            raise EnvelopeError("weak-key", str(error)) from None
        if shared == b"\x00" * 32:
            raise EnvelopeError("weak-key", "all-zero X25519 output")
        return shared


def _context(meeting_id, sender_public, recipient_public, kid):
    meeting = meeting_id.encode()
    if len(meeting) > 0xFFFF:
        raise ValueError("meeting id too long")
    return (b"Demarc E2EE 1 media key" + struct.pack(">H", len(meeting)) + meeting
            + bytes(sender_public) + bytes(recipient_public) + struct.pack(">Q", kid))


def seal_media_key(base_key, kid, meeting_id, sender, recipient_public, ephemeral=None):
    """Seals `base_key` for `kid` from `sender` (an Identity) to a recipient's public key.
    `ephemeral` (an Identity) is for test vectors only."""
    if len(base_key) != MEDIA_KEY_LENGTH:
        raise ValueError(f"media keys are {MEDIA_KEY_LENGTH} bytes")
    ephemeral = ephemeral or Identity()
    context = _context(meeting_id, sender.public_key, recipient_public, kid)
    ikm = ephemeral.dh(recipient_public) + sender.dh(recipient_public)
    okm = hkdf(ikm, ephemeral.public_key, context, 28)
    header = bytes([ENVELOPE_VERSION]) + struct.pack(">Q", kid) + ephemeral.public_key
    return header + AESGCM(okm[:16]).encrypt(okm[16:28], bytes(base_key), header + context)


def envelope_key_id(envelope):
    """The KID an envelope claims (readable without keys), or None if it is not one."""
    return struct.unpack(">Q", envelope[1:9])[0] if len(envelope) == ENVELOPE_LENGTH else None


def open_media_key(envelope, meeting_id, recipient, sender_public):
    """Opens an envelope from `sender_public` to `recipient` (an Identity): (kid, base_key)."""
    envelope = bytes(envelope)
    if len(envelope) != ENVELOPE_LENGTH:
        raise EnvelopeError("length", f"{len(envelope)} bytes")
    if envelope[0] != ENVELOPE_VERSION:
        raise EnvelopeError("version", str(envelope[0]))
    kid = envelope_key_id(envelope)
    ephemeral_public = envelope[9:ENVELOPE_HEADER_LENGTH]
    context = _context(meeting_id, sender_public, recipient.public_key, kid)
    ikm = recipient.dh(ephemeral_public) + recipient.dh(sender_public)
    okm = hkdf(ikm, ephemeral_public, context, 28)
    try:
        base_key = AESGCM(okm[:16]).decrypt(okm[16:28], envelope[ENVELOPE_HEADER_LENGTH:],
                                            envelope[:ENVELOPE_HEADER_LENGTH] + context)
    except InvalidTag:
        raise EnvelopeError("auth", "not sealed by this sender to this recipient for this meeting and KID") from None
    return kid, base_key


def random_media_key():
    return os.urandom(MEDIA_KEY_LENGTH)


def safety_code(identity_public_keys):
    """SHA-256("Demarc E2EE 1 safety code" ‖ sorted identity keys) as 4 groups of 5 digits."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(b"Demarc E2EE 1 safety code" + b"".join(sorted(bytes(k) for k in identity_public_keys)))
    d = digest.finalize()
    return " ".join(f"{int.from_bytes(d[5 * g:5 * g + 5], 'big') % 100000:05d}" for g in range(4))
