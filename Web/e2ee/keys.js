// Key management the server cannot read (docs/e2ee.md): X25519 identity keys, media keys
// sealed to each recipient, and the safety code. Byte-for-byte the construction of
// Sources/SFrame/MediaKeyEnvelope.swift and SafetyCode.swift; WebCrypto only.

import { concat, hkdf, uint64, makeKeyID, nextKeyID, ratchetMediaKey } from './sframe.js';

const subtle = globalThis.crypto.subtle;
const encoder = new TextEncoder();

export const ENVELOPE_VERSION = 1;
export const MEDIA_KEY_LENGTH = 16;
const HEADER_LENGTH = 1 + 8 + 32;
export const ENVELOPE_LENGTH = HEADER_LENGTH + MEDIA_KEY_LENGTH + 16;
// PKCS#8 wrapping of a raw X25519 private key (RFC 8410 §7), to import fixed test keys.
const PKCS8_X25519_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20]);

/** Why an envelope did not open. `code`: 'length', 'version', 'weak-key', 'auth'. */
export class EnvelopeError extends Error {
  constructor(code, detail) {
    super(`media key envelope ${code}: ${detail}`);
    this.name = 'EnvelopeError';
    this.code = code;
  }
}

function base64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64url(text) {
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** A fresh identity for this session: { privateKey: CryptoKey, publicKey: Uint8Array(32) }. */
export async function generateIdentity() {
  const pair = await subtle.generateKey({ name: 'X25519' }, false, ['deriveBits']);
  return { privateKey: pair.privateKey, publicKey: new Uint8Array(await subtle.exportKey('raw', pair.publicKey)) };
}

/** An identity from a raw 32-byte private key (test vectors; Swift's X25519.PrivateKey(consuming:)). */
export async function importIdentity(rawPrivateKey) {
  const extractable = await subtle.importKey('pkcs8', concat(PKCS8_X25519_PREFIX, rawPrivateKey), { name: 'X25519' }, true, ['deriveBits']);
  const jwk = await subtle.exportKey('jwk', extractable);
  const privateKey = await subtle.importKey('pkcs8', concat(PKCS8_X25519_PREFIX, rawPrivateKey), { name: 'X25519' }, false, ['deriveBits']);
  return { privateKey, publicKey: fromBase64url(jwk.x) };
}

async function dh(privateKey, publicKeyBytes) {
  let bits;
  try {
    const peer = await subtle.importKey('raw', publicKeyBytes, { name: 'X25519' }, false, []);
    bits = new Uint8Array(await subtle.deriveBits({ name: 'X25519', public: peer }, privateKey, 256));
  } catch (e) {
    throw new EnvelopeError('weak-key', e.message);
  }
  if (bits.every((b) => b === 0)) throw new EnvelopeError('weak-key', 'all-zero X25519 output');
  return bits;
}

/** "Demarc E2EE 1 media key" ‖ len(meeting)(2) ‖ meeting ‖ sender pub ‖ recipient pub ‖ KID(8). */
function context(meetingID, senderPublic, recipientPublic, kid) {
  const meeting = encoder.encode(meetingID);
  if (meeting.length > 0xffff) throw new RangeError('meeting id too long');
  return concat(encoder.encode('Demarc E2EE 1 media key'), new Uint8Array([meeting.length >> 8, meeting.length & 0xff]), meeting, senderPublic, recipientPublic, uint64(kid));
}

/**
 * Seals `baseKey` for `kid` from `sender` (an identity) to the recipient's public key.
 * `ephemeral` (an identity) is for test vectors only.
 */
export async function sealMediaKey({ baseKey, kid, meetingID, sender, recipientPublic, ephemeral }) {
  if (baseKey.length !== MEDIA_KEY_LENGTH) throw new RangeError(`media keys are ${MEDIA_KEY_LENGTH} bytes`);
  const eph = ephemeral ?? (await generateIdentity());
  const ctx = context(meetingID, sender.publicKey, recipientPublic, kid);
  const ikm = concat(await dh(eph.privateKey, recipientPublic), await dh(sender.privateKey, recipientPublic));
  const okm = await hkdf(ikm, eph.publicKey, ctx, 28);
  ikm.fill(0);
  const header = concat(new Uint8Array([ENVELOPE_VERSION]), uint64(kid), eph.publicKey);
  const key = await subtle.importKey('raw', okm.subarray(0, 16), 'AES-GCM', false, ['encrypt']);
  const sealed = await subtle.encrypt({ name: 'AES-GCM', iv: okm.slice(16, 28), additionalData: concat(header, ctx), tagLength: 128 }, key, baseKey);
  okm.fill(0);
  return concat(header, new Uint8Array(sealed));
}

/** The KID an envelope claims (readable without keys). */
export function envelopeKeyID(envelope) {
  if (envelope.length !== ENVELOPE_LENGTH) return null;
  return new DataView(envelope.buffer, envelope.byteOffset + 1, 8).getBigUint64(0);
}

/** Opens an envelope from `senderPublic` to `recipient` (an identity): { kid, baseKey }. */
export async function openMediaKey({ envelope, meetingID, recipient, senderPublic }) {
  if (envelope.length !== ENVELOPE_LENGTH) throw new EnvelopeError('length', `${envelope.length} bytes`);
  if (envelope[0] !== ENVELOPE_VERSION) throw new EnvelopeError('version', `${envelope[0]}`);
  const kid = envelopeKeyID(envelope);
  const ephPublic = envelope.slice(9, 41);
  const ctx = context(meetingID, senderPublic, recipient.publicKey, kid);
  const ikm = concat(await dh(recipient.privateKey, ephPublic), await dh(recipient.privateKey, senderPublic));
  const okm = await hkdf(ikm, ephPublic, ctx, 28);
  ikm.fill(0);
  const key = await subtle.importKey('raw', okm.subarray(0, 16), 'AES-GCM', false, ['decrypt']);
  try {
    const baseKey = await subtle.decrypt({ name: 'AES-GCM', iv: okm.slice(16, 28), additionalData: concat(envelope.subarray(0, HEADER_LENGTH), ctx), tagLength: 128 }, key, envelope.subarray(HEADER_LENGTH));
    return { kid, baseKey: new Uint8Array(baseKey) };
  } catch {
    throw new EnvelopeError('auth', 'not sealed by this sender to this recipient for this meeting and KID');
  } finally {
    okm.fill(0);
  }
}

/** A fresh random media key (SFrame base_key). */
export function randomMediaKey() {
  return globalThis.crypto.getRandomValues(new Uint8Array(MEDIA_KEY_LENGTH));
}

/**
 * The code everyone compares: SHA-256("Demarc E2EE 1 safety code" ‖ sorted identity keys),
 * 4 groups of 5 digits, group i = big-endian digest[5i..5i+5) mod 100000.
 */
export async function safetyCode(identityPublicKeys) {
  const sorted = [...identityPublicKeys].sort((a, b) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
    return a.length - b.length;
  });
  const digest = new Uint8Array(await subtle.digest('SHA-256', concat(encoder.encode('Demarc E2EE 1 safety code'), ...sorted)));
  const groups = [];
  for (let g = 0; g < 4; g++) {
    let v = 0n;
    for (let i = 5 * g; i < 5 * g + 5; i++) v = (v << 8n) | BigInt(digest[i]);
    groups.push((v % 100000n).toString().padStart(5, '0'));
  }
  return groups.join(' ');
}

/**
 * One sender's media-key timeline (docs/e2ee.md, "Rotation and ratchet"), as
 * Sources/SFrame/MediaKeySchedule.swift. The caller installs { kid, baseKey } in its
 * SFrameSender and seals it to the right recipients.
 */
export class MediaKeySchedule {
  constructor(senderSlot, { kid = makeKeyID(senderSlot, 0), baseKey = randomMediaKey() } = {}) {
    this.kid = BigInt(kid);
    this.baseKey = baseKey;
  }

  /** Someone joined: ratchet; seal the result to the newcomer only. */
  async participantJoined() {
    const kid = nextKeyID(this.kid);
    const baseKey = await ratchetMediaKey(this.baseKey, kid);
    this.baseKey.fill(0);
    this.kid = kid;
    this.baseKey = baseKey;
    return { kid, baseKey };
  }

  /** Someone left: a new random key under the next generation; seal it to everyone remaining. */
  participantLeft() {
    this.baseKey.fill(0);
    this.kid = nextKeyID(this.kid);
    this.baseKey = randomMediaKey();
    return { kid: this.kid, baseKey: this.baseKey };
  }
}
