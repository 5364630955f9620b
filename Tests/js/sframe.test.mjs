// SFrame in JavaScript against RFC 9605 Appendix C and the behaviour of Sources/SFrame.
// Run: node --test Tests/js/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeHeader, parseHeader, SFrameHeaderError, SFrameError, deriveKeyAndSalt, hkdf, SFrameSender, SFrameReceiver,
  ReplayWindow, REPLAY_WINDOW, fromHex, toHex, makeKeyID, splitKeyID, nextKeyID, ratchetMediaKey, clearPrefixLength,
  protectFrame, unprotectFrame,
} from '../../Web/e2ee/sframe.js';

// RFC 9605 Appendix C.1 (Header Encoding/Decoding), the same selection as
// Tests/SFrameTests/SFrameHeaderTests.swift: [kid, ctr, header].
const HEADER_VECTORS = [
  [0x0000000000000000n, 0x0000000000000000n, "00"],
  [0x0000000000000000n, 0x0000000000000001n, "01"],
  [0x0000000000000000n, 0x00000000000000ffn, "08ff"],
  [0x0000000000000000n, 0x0000000000000100n, "090100"],
  [0x0000000000000000n, 0x000000000000ffffn, "09ffff"],
  [0x0000000000000000n, 0x0000000000010000n, "0a010000"],
  [0x0000000000000000n, 0x0000000000ffffffn, "0affffff"],
  [0x0000000000000000n, 0x0000000001000000n, "0b01000000"],
  [0x0000000000000000n, 0x00000000ffffffffn, "0bffffffff"],
  [0x0000000000000000n, 0x0000000100000000n, "0c0100000000"],
  [0x0000000000000000n, 0x000000ffffffffffn, "0cffffffffff"],
  [0x0000000000000000n, 0x0000010000000000n, "0d010000000000"],
  [0x0000000000000000n, 0x0000ffffffffffffn, "0dffffffffffff"],
  [0x0000000000000000n, 0x0001000000000000n, "0e01000000000000"],
  [0x0000000000000000n, 0x00ffffffffffffffn, "0effffffffffffff"],
  [0x0000000000000000n, 0x0100000000000000n, "0f0100000000000000"],
  [0x0000000000000000n, 0xffffffffffffffffn, "0fffffffffffffffff"],
  [0x0000000000000001n, 0x0000000000000000n, "10"],
  [0x0000000000000001n, 0x0000000000000001n, "11"],
  [0x0000000000000001n, 0x00000000000000ffn, "18ff"],
  [0x0000000000000001n, 0xffffffffffffffffn, "1fffffffffffffffff"],
  [0x00000000000000ffn, 0x0000000000000000n, "80ff"],
  [0x00000000000000ffn, 0x0000000000000001n, "81ff"],
  [0x00000000000000ffn, 0x00000000000000ffn, "88ffff"],
  [0x00000000000000ffn, 0x0000000000000100n, "89ff0100"],
  [0x00000000000000ffn, 0xffffffffffffffffn, "8fffffffffffffffffff"],
  [0x0000000000000100n, 0x0000000000000000n, "900100"],
  [0x0000000000000100n, 0x00000000000000ffn, "980100ff"],
  [0x0000000000000100n, 0x0000000000000100n, "9901000100"],
  [0x000000000000ffffn, 0x0000000000010000n, "9affff010000"],
  [0x0000000000010000n, 0x0000000000000000n, "a0010000"],
  [0x0000000000010000n, 0x0000010000000000n, "ad010000010000000000"],
  [0x0000000000ffffffn, 0x00000000000000ffn, "a8ffffffff"],
  [0x0000000001000000n, 0x0000000000000100n, "b9010000000100"],
  [0x00000000ffffffffn, 0x0000ffffffffffffn, "bdffffffffffffffffffff"],
  [0x0000000100000000n, 0x0000000000000000n, "c00100000000"],
  [0x0000000100000000n, 0x0100000000000000n, "cf01000000000100000000000000"],
  [0x000000ffffffffffn, 0x000000000000ffffn, "c9ffffffffffffff"],
  [0x0000010000000000n, 0x0000000000000000n, "d0010000000000"],
  [0x0000ffffffffffffn, 0x0000000001000000n, "dbffffffffffff01000000"],
  [0x0001000000000000n, 0x00000000000000ffn, "e801000000000000ff"],
  [0x00ffffffffffffffn, 0xffffffffffffffffn, "efffffffffffffffffffffffffffffff"],
  [0x0100000000000000n, 0x0000000000000000n, "f00100000000000000"],
  [0x0100000000000000n, 0x0100000000000000n, "ff010000000000000001000000000000" + "00"],
  [0xffffffffffffffffn, 0x0000000000000000n, "f0ffffffffffffffff"],
  [0xffffffffffffffffn, 0xffffffffffffffffn, "ffffffffffffffffffffffffffffffff" + "ff"],
];

// RFC 9605 Appendix C.3, cipher_suite 0x0004 (AES_128_GCM_SHA256_128).
const RFC = {
  kid: 0x0000000000000123n,
  ctr: 0x0000000000004567n,
  baseKey: fromHex('000102030405060708090a0b0c0d0e0f'),
  key: 'd34f547f4ca4f9a7447006fe7fcbf768',
  salt: '75234edefe07819026751816',
  metadata: fromHex('4945544620534672616d65205747'),
  pt: fromHex('64726166742d696574662d736672616d 652d656e63'),
  ct: fromHex('9901234567b7412c2513a1b66dbb4884 1bbaf17f598751176ad847681a69c6d0 b091c07018ce4adb34eb'),
};

/** SplitMix64, as Tests/DemarcTestSupport/SeededGenerator.swift, for reproducible fuzzing. */
function seeded(seed) {
  let state = BigInt(seed);
  const mask = (1n << 64n) - 1n;
  return () => {
    state = (state + 0x9e3779b97f4a7c15n) & mask;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & mask;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & mask;
    return z ^ (z >> 31n);
  };
}

test('header: RFC 9605 C.1 vectors encode and decode', () => {
  for (const [kid, ctr, hex] of HEADER_VECTORS) {
    assert.equal(toHex(encodeHeader(kid, ctr)), hex, `kid ${kid} ctr ${ctr}`);
    const parsed = parseHeader(fromHex(hex + 'aabb'));
    assert.deepEqual(parsed, { kid, ctr, length: hex.length / 2 });
  }
});

test('header: truncated and non-minimal encodings are typed errors', () => {
  const code = (bytes) => { try { parseHeader(Uint8Array.from(bytes)); return 'ok'; } catch (e) { assert.ok(e instanceof SFrameHeaderError); return e.code; } };
  assert.equal(code([]), 'truncated');
  assert.equal(code([0x09, 0x01]), 'truncated');
  assert.equal(code([0xff, ...new Array(15).fill(1)]), 'truncated');
  assert.equal(code([0x08, 0x05]), 'non-minimal');
  assert.equal(code([0x90, 0x00, 0x01]), 'non-minimal');
});

test('header: fuzzed bytes parse canonically or fail typed', () => {
  const next = seeded(0xf022ed);
  for (let i = 0; i < 20000; i++) {
    const length = Number(next() % 21n);
    const bytes = Uint8Array.from({ length }, () => Number(next() & 0xffn));
    try {
      const { kid, ctr, length: n } = parseHeader(bytes);
      assert.equal(toHex(encodeHeader(kid, ctr)), toHex(bytes.subarray(0, n)));
    } catch (e) {
      assert.ok(e instanceof SFrameHeaderError, String(e));
    }
  }
});

test('HKDF matches RFC 5869 A.1', async () => {
  const okm = await hkdf(new Uint8Array(22).fill(0x0b), Uint8Array.from({ length: 13 }, (_, i) => i), Uint8Array.from({ length: 10 }, (_, i) => 0xf0 + i), 42);
  assert.equal(toHex(okm), '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
});

test('RFC 9605 C.3 suite 0x0004: key, salt, encryption and decryption', async () => {
  const { key, salt } = await deriveKeyAndSalt(RFC.kid, RFC.baseKey);
  assert.equal(toHex(key), RFC.key);
  assert.equal(toHex(salt), RFC.salt);
  const sender = await SFrameSender.create(RFC.kid, RFC.baseKey, { firstCounter: RFC.ctr });
  assert.equal(toHex(await sender.encrypt(RFC.pt, RFC.metadata)), toHex(RFC.ct));
  assert.equal(sender.nextCounter, RFC.ctr + 1n);
  const receiver = new SFrameReceiver();
  await receiver.addKey(RFC.kid, RFC.baseKey);
  assert.equal(toHex(await receiver.decrypt(RFC.ct, RFC.metadata)), toHex(RFC.pt));
});

async function code(promise) {
  try { await promise; return 'ok'; } catch (e) { assert.ok(e instanceof SFrameError, String(e)); return e.code; }
}

test('tampering, wrong key, wrong metadata, unknown KID and truncation are refused', async () => {
  const receiver = new SFrameReceiver();
  await receiver.addKey(RFC.kid, RFC.baseKey);
  for (let i = 0; i < RFC.ct.length; i++) {
    const t = RFC.ct.slice();
    t[i] ^= 1;
    assert.notEqual(await code(receiver.decrypt(t, RFC.metadata)), 'ok', `byte ${i}`);
  }
  assert.equal(await code(receiver.decrypt(RFC.ct, new Uint8Array(0))), 'auth');
  assert.equal(await code(receiver.decrypt(RFC.ct.subarray(0, 20), RFC.metadata)), 'truncated');
  assert.equal(await code(receiver.decrypt(RFC.ct.subarray(0, 3), RFC.metadata)), 'header');
  assert.equal(await code(new SFrameReceiver().decrypt(RFC.ct, RFC.metadata)), 'unknown-kid');
  const wrong = new SFrameReceiver();
  await wrong.addKey(RFC.kid, new Uint8Array(16).fill(9));
  assert.equal(await code(wrong.decrypt(RFC.ct, RFC.metadata)), 'auth');
  assert.equal(await code(receiver.decrypt(RFC.ct, RFC.metadata)), 'ok'); // failures did not burn the CTR
});

test('reordering within the window is accepted, replays and ancient frames are not', async () => {
  const key = crypto.getRandomValues(new Uint8Array(16));
  const sender = await SFrameSender.create(5n, key);
  const receiver = new SFrameReceiver();
  await receiver.addKey(5n, key);
  const frames = [];
  for (let i = 0; i < 300; i++) frames.push(await sender.encrypt(Uint8Array.of(i & 0xff)));
  assert.deepEqual(await receiver.decrypt(frames[10]), Uint8Array.of(10));
  assert.deepEqual(await receiver.decrypt(frames[3]), Uint8Array.of(3));
  assert.equal(await code(receiver.decrypt(frames[10])), 'replayed');
  assert.equal(await code(receiver.decrypt(frames[3])), 'replayed');
  await receiver.decrypt(frames[299]);
  assert.equal(await code(receiver.decrypt(frames[11])), 'too-old');
  assert.deepEqual(await receiver.decrypt(frames[299 - 127]), Uint8Array.of((299 - 127) & 0xff));
});

test('replay window agrees with an exact model', () => {
  const next = seeded(0xab);
  for (let round = 0; round < 30; round++) {
    const w = new ReplayWindow();
    const accepted = new Set();
    let highest = null;
    let base = next() % 1000n;
    for (let i = 0; i < 400; i++) {
      base += next() % 4n;
      const jitter = next() % 201n;
      const ctr = base >= jitter ? base - jitter : 0n;
      let expected = 'fresh';
      if (highest !== null && ctr <= highest && highest - ctr >= REPLAY_WINDOW) expected = 'too-old';
      else if (accepted.has(ctr)) expected = 'replayed';
      assert.equal(w.check(ctr), expected);
      if (expected === 'fresh') { w.accept(ctr); accepted.add(ctr); highest = highest === null || ctr > highest ? ctr : highest; }
    }
  }
});

test('CTR carries over rotation and never repeats; concurrent encrypts take distinct CTRs', async () => {
  const sender = await SFrameSender.create(makeKeyID(3, 0), crypto.getRandomValues(new Uint8Array(16)), { firstCounter: 0xfffffffffffffffdn });
  const a = parseHeader(await sender.encrypt(Uint8Array.of(1)));
  await sender.rotate(makeKeyID(3, 1), crypto.getRandomValues(new Uint8Array(16)));
  const b = parseHeader(await sender.encrypt(Uint8Array.of(1)));
  assert.equal(a.ctr, 0xfffffffffffffffdn);
  assert.equal(b.ctr, 0xfffffffffffffffen);
  assert.equal(b.kid, makeKeyID(3, 1));
  assert.equal(await code(sender.encrypt(Uint8Array.of(1))), 'exhausted');
  const s2 = await SFrameSender.create(1n, crypto.getRandomValues(new Uint8Array(16)));
  const out = await Promise.all([0, 1, 2, 3].map(() => s2.encrypt(Uint8Array.of(0))));
  assert.deepEqual(out.map((f) => parseHeader(f).ctr).sort(), [0n, 1n, 2n, 3n]);
});

test('join ratchet: receivers follow the next generation on demand', async () => {
  const base = crypto.getRandomValues(new Uint8Array(16));
  const id0 = makeKeyID(2, 7);
  const id1 = nextKeyID(id0);
  assert.deepEqual(splitKeyID(id1), { slot: 2, generation: 8 });
  const next = await ratchetMediaKey(base, id1);
  assert.notEqual(toHex(next), toHex(base));
  const sender = await SFrameSender.create(id1, next);
  const strict = new SFrameReceiver();
  await strict.addKey(id0, base);
  const frame = await sender.encrypt(Uint8Array.of(42));
  assert.equal(await code(strict.decrypt(frame)), 'unknown-kid');
  const following = new SFrameReceiver({ ratchetOnDemand: true });
  await following.addKey(id0, base);
  assert.deepEqual(await following.decrypt(frame), Uint8Array.of(42));
  assert.ok(following.hasKey(id1));
  // A random (rotated) key under the next KID does not ratchet in.
  const rotated = await SFrameSender.create(makeKeyID(2, 9), crypto.getRandomValues(new Uint8Array(16)));
  assert.equal(await code(following.decrypt(await rotated.encrypt(Uint8Array.of(1)))), 'auth');
  assert.ok(!following.hasKey(makeKeyID(2, 9)));
});

test('VP8 layout keeps the frame tag (and keyframe header) clear and authenticated', async () => {
  const key = crypto.getRandomValues(new Uint8Array(16));
  const sender = await SFrameSender.create(makeKeyID(5, 0), key);
  const receiver = new SFrameReceiver();
  await receiver.addKey(makeKeyID(5, 0), key);
  const keyframe = Uint8Array.from([0x50, 0x42, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, ...new Array(60).fill(0x33)]);
  const delta = Uint8Array.from([0x31, 0x02, 0x00, ...new Array(40).fill(0x44)]);
  assert.equal(clearPrefixLength('vp8', keyframe), 10);
  assert.equal(clearPrefixLength('vp8', delta), 3);
  assert.equal(clearPrefixLength('opus', delta), 0);
  for (const frame of [keyframe, delta]) {
    const p = await protectFrame(frame, 'vp8', sender);
    const n = clearPrefixLength('vp8', frame);
    assert.equal(toHex(p.subarray(0, n)), toHex(frame.subarray(0, n)));
    assert.equal(splitKeyID(parseHeader(p.subarray(n)).kid).slot, 5);
    assert.equal(toHex(await unprotectFrame(p, 'vp8', receiver)), toHex(frame));
  }
  const p = await protectFrame(keyframe, 'vp8', sender);
  p[7] ^= 1;
  assert.equal(await code(unprotectFrame(p, 'vp8', receiver)), 'auth');
});
