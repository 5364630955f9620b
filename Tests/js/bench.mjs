// Per-frame cost of SFrame protect/unprotect in JavaScript (WebCrypto in node).
// Run: node Tests/js/bench.mjs   (not part of `node --test`)
// Prints a human line and a machine-readable one (`sframe-bench {json}`) per frame size.
import { SFrameSender, SFrameReceiver, protectFrame, unprotectFrame, makeKeyID } from '../../Web/e2ee/sframe.js';

const key = crypto.getRandomValues(new Uint8Array(16));
const kid = makeKeyID(1, 0);
const sender = await SFrameSender.create(kid, key);
const receiver = new SFrameReceiver();
await receiver.addKey(kid, key);

for (const [label, size, n] of [['audio 160 B', 160, 20000], ['video 1200 B', 1200, 20000], ['video 30 kB', 30000, 3000]]) {
  const frame = crypto.getRandomValues(new Uint8Array(size));
  frame[0] |= 1; // VP8 interframe
  const codec = label.startsWith('audio') ? 'opus' : 'vp8';
  for (let i = 0; i < 500; i++) await unprotectFrame(await protectFrame(frame, codec, sender), codec, receiver); // warm-up
  const sealed = [];
  let t = performance.now();
  for (let i = 0; i < n; i++) sealed.push(await protectFrame(frame, codec, sender));
  const enc = ((performance.now() - t) * 1000) / n;
  t = performance.now();
  for (const s of sealed) await unprotectFrame(s, codec, receiver);
  const dec = ((performance.now() - t) * 1000) / n;
  console.log(`${label}: protect ${enc.toFixed(1)} µs/frame, unprotect ${dec.toFixed(1)} µs/frame (n=${n})`);
  console.log('sframe-bench ' + JSON.stringify({ implementation: 'javascript-webcrypto', runtime: `node ${process.version}`, codec, bytes: size, frames: n, protectMicros: +enc.toFixed(1), unprotectMicros: +dec.toFixed(1) }));
}
