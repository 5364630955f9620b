// Encoded-frame worker: SFrame-encrypts outgoing frames and decrypts incoming ones in the
// Demarc payload layout (docs/e2ee.md). Works with RTCRtpScriptTransform (the standard) and
// with Chromium's older createEncodedStreams(), whose streams the page transfers here.
//
// Page → worker messages:
//   { type: 'setSendKey', kid: string(hex), baseKey: Uint8Array }          start or rotate sending
//   { type: 'addReceiveKey', kid: string(hex), baseKey: Uint8Array }       a peer's key (from an envelope)
//   { type: 'removeKey', kid: string(hex) }                                after a rotation's grace period
//   { type: 'streams', operation: 'encrypt'|'decrypt', readable, writable, codec? }   fallback path
//   { type: 'getStats' }                                                    answered with 'stats'
// Worker → page: { type: 'error', operation, code, message } for dropped frames (rate-limited);
//   { type: 'stats', stats: { framesEncrypted, framesDecrypted, decryptFailures, encryptDrops,
//     decryptedBySlot: {slot: n}, failuresBySlot: {slot: n} } } (slot: the KID's sender slot).
//
// A frame is never forwarded unencrypted: with no send key, or a codec without a defined
// layout, outgoing frames are dropped, which is what `e2ee: required` asks for.

import { SFrameSender, SFrameReceiver, protectFrame, unprotectFrame, clearPrefixLength, parseHeader, splitKeyID } from './sframe.js';

let sender = null;
// Key messages are applied in order, and a frame waits for those that arrived before it, so a
// key set just before a frame is always in place for it.
let keyUpdates = Promise.resolve();
function updateKeys(operation, change) {
  keyUpdates = keyUpdates.then(change).catch((e) => report(operation, e));
}
const receiver = new SFrameReceiver({ ratchetOnDemand: true });
const lastReport = new Map();
const stats = { framesEncrypted: 0, framesDecrypted: 0, decryptFailures: 0, encryptDrops: 0, decryptedBySlot: {}, failuresBySlot: {} };

/** The sender slot in a protected frame's SFrame header, or 'unparsable'. */
function senderSlotOf(data, codec) {
  try {
    return String(splitKeyID(parseHeader(data.subarray(clearPrefixLength(codec, data))).kid).slot);
  } catch {
    return 'unparsable';
  }
}

function count(table, slot) { table[slot] = (table[slot] ?? 0) + 1; }

function report(operation, error, frame) {
  const code = error.code ?? error.name;
  const now = Date.now();
  if ((lastReport.get(code) ?? 0) + 1000 > now) return;
  lastReport.set(code, now);
  const detail = frame ? ` (${'type' in frame ? `video ${frame.type}` : 'audio'} frame, ${frame.data.byteLength} bytes)` : '';
  self.postMessage({ type: 'error', operation, code, message: String(error.message ?? error) + detail });
}

/** 'vp8' or 'opus' from the frame's metadata, null for a codec without a Demarc layout. */
function codecOf(frame, hint) {
  const mime = (frame.getMetadata?.().mimeType ?? hint ?? '').toLowerCase();
  if (mime.endsWith('/vp8') || mime === 'vp8') return 'vp8';
  if (mime.endsWith('/opus') || mime === 'opus') return 'opus';
  // Audio frames in older Chromium carry no mimeType; video frames have a `type`.
  if (!mime && !('type' in frame)) return 'opus';
  return null;
}

function transformer(operation, hint) {
  return new TransformStream({
    async transform(frame, controller) {
      const codec = codecOf(frame, hint);
      try {
        if (codec === null) throw Object.assign(new Error('codec has no E2EE layout; frame dropped'), { code: 'codec' });
        const data = new Uint8Array(frame.data);
        // An empty frame carries no media (Chromium's receiver emits some for audio); pass it on.
        if (data.length === 0) { controller.enqueue(frame); return; }
        await keyUpdates;
        if (operation === 'encrypt') {
          if (!sender) throw Object.assign(new Error('no send key yet; frame dropped'), { code: 'no-key' });
          frame.data = (await protectFrame(data, codec, sender)).buffer;
          stats.framesEncrypted++;
        } else {
          const slot = senderSlotOf(data, codec);
          try {
            frame.data = (await unprotectFrame(data, codec, receiver)).buffer;
          } catch (error) {
            stats.decryptFailures++;
            count(stats.failuresBySlot, slot);
            throw error;
          }
          stats.framesDecrypted++;
          count(stats.decryptedBySlot, slot);
        }
        controller.enqueue(frame);
      } catch (error) {
        if (operation === 'encrypt') stats.encryptDrops++;
        report(operation, error, frame); // drop: never forward plaintext, never render garbage
      }
    },
  });
}

function attach(operation, readable, writable, hint) {
  readable.pipeThrough(transformer(operation, hint)).pipeTo(writable).catch((e) => report(operation, e));
}

self.onmessage = (event) => {
  const m = event.data;
  switch (m.type) {
    case 'setSendKey':
      updateKeys('encrypt', async () => {
        const kid = BigInt('0x' + m.kid);
        if (sender) await sender.rotate(kid, m.baseKey);
        else sender = await SFrameSender.create(kid, m.baseKey);
      });
      break;
    case 'addReceiveKey':
      updateKeys('decrypt', () => receiver.addKey(BigInt('0x' + m.kid), m.baseKey));
      break;
    case 'removeKey':
      updateKeys('decrypt', () => receiver.removeKey(BigInt('0x' + m.kid)));
      break;
    case 'streams':
      attach(m.operation, m.readable, m.writable, m.codec);
      break;
    case 'getStats':
      self.postMessage({ type: 'stats', stats: structuredClone(stats) });
      break;
  }
};

// RTCRtpScriptTransform: new RTCRtpScriptTransform(worker, { operation: 'encrypt'|'decrypt' }).
self.onrtctransform = (event) => {
  const t = event.transformer;
  attach(t.options.operation, t.readable, t.writable, t.options.codec);
};
