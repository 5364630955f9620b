// SFrame (RFC 9605) for browsers and node: header codec, key derivation and per-frame
// AES-128-GCM (cipher suite 0x0004) over WebCrypto, plus Demarc's payload layout
// (docs/e2ee.md). The same behaviour as Sources/SFrame, checked by the same RFC vectors.
// KIDs and CTRs are BigInts (they are 64-bit).

const subtle = globalThis.crypto.subtle;
const encoder = new TextEncoder();

export const CIPHER_SUITE = 0x0004; // AES_128_GCM_SHA256_128
export const KEY_LENGTH = 16; // AEAD.Nk
export const NONCE_LENGTH = 12; // AEAD.Nn
export const TAG_LENGTH = 16; // AEAD.Nt
export const MAX_HEADER_LENGTH = 17;
export const REPLAY_WINDOW = 128n;

/** A malformed SFrame header (RFC 9605 §4.3). `code` is 'truncated' or 'non-minimal'. */
export class SFrameHeaderError extends Error {
  constructor(code, detail) {
    super(`SFrame header ${code}: ${detail}`);
    this.name = 'SFrameHeaderError';
    this.code = code;
  }
}

/** Why a frame did not decrypt. `code`: 'header', 'truncated', 'unknown-kid', 'auth', 'replayed', 'too-old', 'exhausted'. */
export class SFrameError extends Error {
  constructor(code, detail) {
    super(`SFrame ${code}: ${detail}`);
    this.name = 'SFrameError';
    this.code = code;
  }
}

function extendedLength(value) {
  if (value < 8n) return 0;
  let n = 0;
  for (let v = value; v > 0n; v >>= 8n) n++;
  return n;
}

/** encode_sframe_header(CTR, KID): config byte |X|KKK|Y|CCC|, then KID and CTR, minimal big-endian. */
export function encodeHeader(kid, ctr) {
  kid = BigInt(kid);
  ctr = BigInt(ctr);
  if (kid < 0n || kid > 0xffffffffffffffffn || ctr < 0n || ctr > 0xffffffffffffffffn) throw new RangeError('KID and CTR are 64-bit unsigned');
  const kl = extendedLength(kid);
  const cl = extendedLength(ctr);
  const out = new Uint8Array(1 + kl + cl);
  out[0] = (kl === 0 ? Number(kid) << 4 : 0x80 | ((kl - 1) << 4)) | (cl === 0 ? Number(ctr) : 0x08 | (cl - 1));
  for (let i = 0; i < kl; i++) out[1 + i] = Number((kid >> BigInt(8 * (kl - 1 - i))) & 0xffn);
  for (let i = 0; i < cl; i++) out[1 + kl + i] = Number((ctr >> BigInt(8 * (cl - 1 - i))) & 0xffn);
  return out;
}

/** Parses the header at the start of `bytes` (no copy); returns { kid, ctr, length }. */
export function parseHeader(bytes) {
  if (bytes.length < 1) throw new SFrameHeaderError('truncated', 'needed 1 byte, have 0');
  const config = bytes[0];
  const kl = config & 0x80 ? ((config >> 4) & 0x07) + 1 : 0;
  const cl = config & 0x08 ? (config & 0x07) + 1 : 0;
  const length = 1 + kl + cl;
  if (bytes.length < length) throw new SFrameHeaderError('truncated', `needed ${length} bytes, have ${bytes.length}`);
  const read = (offset, count) => {
    let v = 0n;
    for (let i = offset; i < offset + count; i++) v = (v << 8n) | BigInt(bytes[i]);
    return v;
  };
  const kid = kl === 0 ? BigInt((config >> 4) & 0x07) : read(1, kl);
  const ctr = cl === 0 ? BigInt(config & 0x07) : read(1 + kl, cl);
  if (kl !== 0 && extendedLength(kid) !== kl) throw new SFrameHeaderError('non-minimal', 'KID');
  if (cl !== 0 && extendedLength(ctr) !== cl) throw new SFrameHeaderError('non-minimal', 'CTR');
  return { kid, ctr, length };
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function uint64(value) {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value));
  return out;
}

/** HKDF-SHA256(IKM, salt, info) → `length` bytes (RFC 5869), via WebCrypto. */
export async function hkdf(ikm, salt, info, length) {
  const key = await subtle.importKey('raw', ikm, 'HKDF', false, ['deriveBits']);
  return new Uint8Array(await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt, info }, key, 8 * length));
}

function label(text, kid) {
  return concat(encoder.encode(text), uint64(kid), new Uint8Array([CIPHER_SUITE >> 8, CIPHER_SUITE & 0xff]));
}

/** derive_key_salt(KID, base_key) of RFC 9605 §4.4.2, as raw bytes. */
export async function deriveKeyAndSalt(kid, baseKey) {
  const empty = new Uint8Array(0);
  return {
    key: await hkdf(baseKey, empty, label('SFrame 1.0 Secret key ', kid), KEY_LENGTH),
    salt: await hkdf(baseKey, empty, label('SFrame 1.0 Secret salt ', kid), NONCE_LENGTH),
  };
}

/** One KID's AES-GCM key and salt. The raw key is dropped once imported (non-extractable). */
export class SFrameKeyContext {
  static async create(kid, baseKey) {
    if (!baseKey || baseKey.length === 0) throw new SFrameError('key', 'empty base key');
    const { key, salt } = await deriveKeyAndSalt(BigInt(kid), baseKey);
    const aead = await subtle.importKey('raw', key, 'AES-GCM', false, ['encrypt', 'decrypt']);
    key.fill(0);
    return new SFrameKeyContext(BigInt(kid), aead, salt);
  }

  constructor(kid, aead, salt) {
    this.kid = kid;
    this.aead = aead;
    this.salt = salt;
  }

  /** nonce = sframe_salt XOR CTR as a 12-byte big-endian integer (RFC 9605 §4.4.3). */
  nonce(ctr) {
    const n = this.salt.slice();
    const c = uint64(ctr);
    for (let i = 0; i < 8; i++) n[4 + i] ^= c[i];
    return n;
  }

  /** header ‖ AES-GCM(plaintext, aad = header ‖ metadata) ‖ tag. */
  async seal(ctr, metadata, plaintext) {
    const header = encodeHeader(this.kid, ctr);
    const ct = await subtle.encrypt({ name: 'AES-GCM', iv: this.nonce(ctr), additionalData: concat(header, metadata), tagLength: 128 }, this.aead, plaintext);
    return concat(header, new Uint8Array(ct));
  }

  async open(ctr, header, metadata, body) {
    try {
      return new Uint8Array(await subtle.decrypt({ name: 'AES-GCM', iv: this.nonce(ctr), additionalData: concat(header, metadata), tagLength: 128 }, this.aead, body));
    } catch {
      throw new SFrameError('auth', `KID ${this.kid} CTR ${ctr}`);
    }
  }
}

/** A sender's current key and a CTR that only grows, across rotations too (RFC 9605 §9.1). */
export class SFrameSender {
  static async create(kid, baseKey, { firstCounter = 0n } = {}) {
    return new SFrameSender(await SFrameKeyContext.create(kid, baseKey), BigInt(firstCounter));
  }

  constructor(context, nextCounter) {
    this.current = context;
    this.nextCounter = nextCounter;
  }

  async rotate(kid, baseKey) {
    this.current = await SFrameKeyContext.create(kid, baseKey);
  }

  /** Encrypts one frame. The CTR is taken before any await, so concurrent calls never share one. */
  encrypt(plaintext, metadata = new Uint8Array(0)) {
    if (this.nextCounter === 0xffffffffffffffffn) return Promise.reject(new SFrameError('exhausted', `KID ${this.current.kid}`));
    const ctr = this.nextCounter++;
    return this.current.seal(ctr, metadata, plaintext);
  }
}

/** Sliding-window replay check over CTR (RFC 3711 §3.3.2 adapted, RFC 9605 §9.3). */
export class ReplayWindow {
  constructor() {
    this.highest = null;
    this.seen = 0n; // bit i: highest - i accepted
  }

  check(ctr) {
    if (this.highest === null || ctr > this.highest) return 'fresh';
    const age = this.highest - ctr;
    if (age >= REPLAY_WINDOW) return 'too-old';
    return (this.seen >> age) & 1n ? 'replayed' : 'fresh';
  }

  accept(ctr) {
    if (this.highest === null) { this.highest = ctr; this.seen = 1n; return; }
    if (ctr > this.highest) {
      const shift = ctr - this.highest;
      this.seen = shift >= REPLAY_WINDOW ? 1n : ((this.seen << shift) | 1n) & ((1n << REPLAY_WINDOW) - 1n);
      this.highest = ctr;
    } else {
      const age = this.highest - ctr;
      if (age < REPLAY_WINDOW) this.seen |= 1n << age;
    }
  }
}

/**
 * Decryption keys by KID, each with its replay window. With `ratchetOnDemand`, a frame under
 * the next generation of a known sender key (Demarc KID layout) is tried with the ratcheted
 * key, so receivers follow a join-ratchet without waiting for signaling.
 */
export class SFrameReceiver {
  constructor({ ratchetOnDemand = false } = {}) {
    this.keys = new Map();
    this.ratchetOnDemand = ratchetOnDemand;
  }

  async addKey(kid, baseKey) {
    kid = BigInt(kid);
    this.keys.set(kid, { context: await SFrameKeyContext.create(kid, baseKey), baseKey: baseKey.slice(), window: new ReplayWindow() });
  }

  removeKey(kid) {
    const entry = this.keys.get(BigInt(kid));
    if (entry) entry.baseKey.fill(0);
    this.keys.delete(BigInt(kid));
  }

  hasKey(kid) { return this.keys.has(BigInt(kid)); }

  async decrypt(frame, metadata = new Uint8Array(0)) {
    let parsed;
    try { parsed = parseHeader(frame); } catch (e) { throw new SFrameError('header', e.message); }
    const { kid, ctr, length } = parsed;
    if (frame.length < length + TAG_LENGTH) throw new SFrameError('truncated', `needed ${length + TAG_LENGTH} bytes, have ${frame.length}`);
    let entry = this.keys.get(kid);
    let candidate = null;
    if (!entry && this.ratchetOnDemand) {
      const previous = this.keys.get(previousKeyID(kid));
      if (previous) {
        const baseKey = await ratchetMediaKey(previous.baseKey, kid);
        candidate = { context: await SFrameKeyContext.create(kid, baseKey), baseKey, window: new ReplayWindow() };
        entry = candidate;
      }
    }
    if (!entry) throw new SFrameError('unknown-kid', `KID ${kid}`);
    const verdict = entry.window.check(ctr);
    if (verdict === 'replayed') throw new SFrameError('replayed', `KID ${kid} CTR ${ctr}`);
    if (verdict === 'too-old') throw new SFrameError('too-old', `KID ${kid} CTR ${ctr}`);
    const plaintext = await entry.context.open(ctr, frame.subarray(0, length), metadata, frame.subarray(length));
    if (entry.window.check(ctr) !== 'fresh') throw new SFrameError('replayed', `KID ${kid} CTR ${ctr}`); // a concurrent call won
    entry.window.accept(ctr);
    if (candidate && !this.keys.has(kid)) this.keys.set(kid, candidate);
    return plaintext;
  }
}

// --- Demarc KID layout and join ratchet (docs/e2ee.md) ---

/** KID = sender slot << 16 | generation (16 bits). */
export function makeKeyID(slot, generation) {
  return (BigInt(slot) << 16n) | (BigInt(generation) & 0xffffn);
}

export function splitKeyID(kid) {
  return { slot: Number(BigInt(kid) >> 16n), generation: Number(BigInt(kid) & 0xffffn) };
}

export function nextKeyID(kid) {
  const { slot, generation } = splitKeyID(kid);
  return makeKeyID(slot, (generation + 1) & 0xffff);
}

function previousKeyID(kid) {
  const { slot, generation } = splitKeyID(kid);
  return makeKeyID(slot, (generation + 0xffff) & 0xffff);
}

/** base' = HKDF-SHA256(IKM = base, salt = "", info = "Demarc E2EE 1 ratchet" ‖ KID'(8), 16). */
export function ratchetMediaKey(baseKey, nextKid) {
  return hkdf(baseKey, new Uint8Array(0), concat(encoder.encode('Demarc E2EE 1 ratchet'), uint64(nextKid)), 16);
}

// --- Payload layout: which bytes stay clear (docs/e2ee.md, "Payload layout") ---

export const VP8_DELTA_PREFIX = 3;
export const VP8_KEYFRAME_PREFIX = 10;

/** 'vp8': 3-byte frame tag, 10 bytes for keyframes (P bit 0); 'opus' and others: 0. */
export function clearPrefixLength(codec, frame) {
  if (codec !== 'vp8' || frame.length === 0) return 0;
  return Math.min(frame.length, (frame[0] & 0x01) === 0 ? VP8_KEYFRAME_PREFIX : VP8_DELTA_PREFIX);
}

/** clear prefix ‖ SFrame(rest, metadata = clear prefix). */
export async function protectFrame(frame, codec, sender) {
  const n = clearPrefixLength(codec, frame);
  const clear = frame.subarray(0, n);
  return concat(clear, await sender.encrypt(frame.subarray(n), clear));
}

export async function unprotectFrame(frame, codec, receiver) {
  const n = clearPrefixLength(codec, frame);
  const clear = frame.subarray(0, n);
  return concat(clear, await receiver.decrypt(frame.subarray(n), clear));
}

export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function fromHex(text) {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error('bad hex');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}
