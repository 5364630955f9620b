// The encoded-frame worker in node: the worker global and the encoded-frame streams are
// emulated; frames go through the same fallback path ('streams' message) the page uses with
// createEncodedStreams(), and RTCRtpScriptTransform hands the worker the same streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHeader, splitKeyID, toHex, SFrameSender, protectFrame } from '../../Web/e2ee/sframe.js';

const posted = [];
globalThis.self = globalThis;
self.postMessage = (m) => posted.push(m);
await import('../../Web/e2ee/worker.js');

function run(operation, frames, codec) {
  return new Promise((resolve) => {
    const out = [];
    const readable = new ReadableStream({ start(c) { for (const f of frames) c.enqueue(f); c.close(); } });
    const writable = new WritableStream({ write(f) { out.push(f); }, close() { resolve(out); } });
    self.onmessage({ data: { type: 'streams', operation, readable, writable, codec } });
  });
}

const keyframe = () => ({ type: 'key', data: Uint8Array.from([0x50, 0x42, 0, 0x9d, 1, 0x2a, 0x80, 2, 0xe0, 1, 9, 9, 9, 9]).buffer });

test('without a send key, outgoing frames are dropped, never sent in the clear', async () => {
  const out = await run('encrypt', [keyframe()], 'video/VP8');
  assert.equal(out.length, 0);
  assert.equal(posted.at(-1).code, 'no-key');
});

test('a key sent just before a frame is in place for that frame', async () => {
  const key = crypto.getRandomValues(new Uint8Array(16));
  const sealed = await protectFrame(new Uint8Array(keyframe().data), 'vp8', await SFrameSender.create(0x90000n, key));
  // No await between the key message and the frame: the decrypt must still find the key.
  self.onmessage({ data: { type: 'addReceiveKey', kid: '90000', baseKey: key } });
  const out = await run('decrypt', [{ type: 'key', data: sealed.buffer }], 'video/VP8');
  assert.equal(out.length, 1);
});

test('frames are encrypted in the VP8 layout and decrypted back; unknown codecs are dropped', async () => {
  const key = crypto.getRandomValues(new Uint8Array(16));
  self.onmessage({ data: { type: 'setSendKey', kid: '50000', baseKey: key } });
  self.onmessage({ data: { type: 'addReceiveKey', kid: '50000', baseKey: key } });
  const [enc] = await run('encrypt', [keyframe()], 'video/VP8');
  const bytes = new Uint8Array(enc.data);
  assert.equal(toHex(bytes.subarray(0, 10)), toHex(new Uint8Array(keyframe().data).subarray(0, 10)));
  assert.deepEqual(splitKeyID(parseHeader(bytes.subarray(10)).kid), { slot: 5, generation: 0 });
  const [dec] = await run('decrypt', [{ type: 'key', data: enc.data }], 'video/VP8');
  assert.equal(toHex(new Uint8Array(dec.data)), toHex(new Uint8Array(keyframe().data)));
  // A replayed frame is dropped.
  assert.equal((await run('decrypt', [{ type: 'key', data: enc.data }], 'video/VP8')).length, 0);
  assert.equal((await run('encrypt', [keyframe()], 'video/H264')).length, 0);
  // Empty frames carry no media and pass unchanged both ways.
  assert.equal((await run('decrypt', [{ type: 'delta', data: new ArrayBuffer(0) }], 'video/VP8'))[0].data.byteLength, 0);
  assert.equal(posted.at(-1).code, 'codec');
});

test('the worker counts frames per sender slot and answers getStats', async () => {
  const key = crypto.getRandomValues(new Uint8Array(16));
  const wrong = crypto.getRandomValues(new Uint8Array(16));
  self.onmessage({ data: { type: 'addReceiveKey', kid: '70000', baseKey: key } });
  self.onmessage({ data: { type: 'addReceiveKey', kid: '80000', baseKey: wrong } });
  const good = await protectFrame(new Uint8Array(keyframe().data), 'vp8', await SFrameSender.create(0x70000n, key));
  const bad = await protectFrame(new Uint8Array(keyframe().data), 'vp8', await SFrameSender.create(0x80000n, key));
  const before = await stats();
  assert.equal((await run('decrypt', [{ type: 'key', data: good.buffer }, { type: 'key', data: bad.buffer }], 'video/VP8')).length, 1);
  const after = await stats();
  assert.equal(after.framesDecrypted - before.framesDecrypted, 1);
  assert.equal(after.decryptFailures - before.decryptFailures, 1);
  assert.equal(after.decryptedBySlot['7'], 1);
  assert.equal(after.failuresBySlot['8'], 1);
  assert.equal(after.decryptedBySlot['8'], undefined);
});

async function stats() {
  self.onmessage({ data: { type: 'getStats' } });
  return posted.filter((m) => m.type === 'stats').at(-1).stats;
}
