// Key management in JavaScript, and interop with Swift through Tests/Fixtures/e2ee-interop.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fromHex, toHex, makeKeyID, ratchetMediaKey, SFrameSender, SFrameReceiver, SFrameError } from '../../Web/e2ee/sframe.js';
import {
  generateIdentity, importIdentity, sealMediaKey, openMediaKey, envelopeKeyID, randomMediaKey, safetyCode, EnvelopeError, ENVELOPE_LENGTH, MediaKeySchedule,
} from '../../Web/e2ee/keys.js';

async function code(promise) {
  try { await promise; return 'ok'; } catch (e) { assert.ok(e instanceof EnvelopeError, String(e)); return e.code; }
}

test('a sealed media key opens only for its recipient, meeting, sender and KID', async () => {
  const alice = await generateIdentity(), bob = await generateIdentity(), mallory = await generateIdentity();
  const baseKey = randomMediaKey();
  const kid = makeKeyID(1, 4);
  const envelope = await sealMediaKey({ baseKey, kid, meetingID: 'm-1', sender: alice, recipientPublic: bob.publicKey });
  assert.equal(envelope.length, ENVELOPE_LENGTH);
  assert.equal(envelopeKeyID(envelope), kid);
  const opened = await openMediaKey({ envelope, meetingID: 'm-1', recipient: bob, senderPublic: alice.publicKey });
  assert.equal(opened.kid, kid);
  assert.equal(toHex(opened.baseKey), toHex(baseKey));
  assert.equal(await code(openMediaKey({ envelope, meetingID: 'm-1', recipient: mallory, senderPublic: alice.publicKey })), 'auth');
  assert.equal(await code(openMediaKey({ envelope, meetingID: 'm-2', recipient: bob, senderPublic: alice.publicKey })), 'auth');
  assert.equal(await code(openMediaKey({ envelope, meetingID: 'm-1', recipient: bob, senderPublic: mallory.publicKey })), 'auth');
  const relabelled = envelope.slice();
  relabelled[8] ^= 1;
  assert.equal(await code(openMediaKey({ envelope: relabelled, meetingID: 'm-1', recipient: bob, senderPublic: alice.publicKey })), 'auth');
  assert.equal(await code(openMediaKey({ envelope: envelope.subarray(0, 10), meetingID: 'm-1', recipient: bob, senderPublic: alice.publicKey })), 'length');
  const v2 = envelope.slice();
  v2[0] = 2;
  assert.equal(await code(openMediaKey({ envelope: v2, meetingID: 'm-1', recipient: bob, senderPublic: alice.publicKey })), 'version');
  const weak = envelope.slice();
  weak.fill(0, 9, 41);
  assert.equal(await code(openMediaKey({ envelope: weak, meetingID: 'm-1', recipient: bob, senderPublic: alice.publicKey })), 'weak-key');
});

test('safety code ignores order and changes with the set of keys', async () => {
  const keys = await Promise.all([0, 1, 2].map(async () => (await generateIdentity()).publicKey));
  const c = await safetyCode(keys);
  assert.match(c, /^\d{5} \d{5} \d{5} \d{5}$/);
  assert.equal(await safetyCode([...keys].reverse()), c);
  assert.notEqual(await safetyCode([...keys, (await generateIdentity()).publicKey]), c);
  assert.notEqual(await safetyCode(keys.slice(1)), c);
});

test('interop: opens what Swift sealed, reproduces its own deterministic seal, same safety code and ratchet', async () => {
  const f = JSON.parse(readFileSync(new URL('../Fixtures/e2ee-interop.json', import.meta.url), 'utf8'));
  const sender = await importIdentity(fromHex(f.sender.privateKey));
  const recipient = await importIdentity(fromHex(f.recipient.privateKey));
  assert.equal(toHex(sender.publicKey), f.sender.publicKey);
  assert.equal(toHex(recipient.publicKey), f.recipient.publicKey);
  assert.ok(f.envelopes.some((e) => e.sealedBy === 'swift'), 'fixture has a Swift-sealed envelope');
  for (const e of f.envelopes) {
    const opened = await openMediaKey({ envelope: fromHex(e.envelope), meetingID: e.meetingID, recipient, senderPublic: sender.publicKey });
    assert.equal(opened.kid, BigInt('0x' + e.keyID), e.sealedBy);
    assert.equal(toHex(opened.baseKey), e.baseKey);
    if (e.ephemeralPrivateKey) {
      const ephemeral = await importIdentity(fromHex(e.ephemeralPrivateKey));
      const again = await sealMediaKey({ baseKey: fromHex(e.baseKey), kid: BigInt('0x' + e.keyID), meetingID: e.meetingID, sender, recipientPublic: recipient.publicKey, ephemeral });
      assert.equal(toHex(again), e.envelope);
    }
  }
  assert.equal(await safetyCode([recipient.publicKey, sender.publicKey]), f.safetyCode);
  assert.equal(toHex(await ratchetMediaKey(fromHex(f.ratchet.baseKey), BigInt('0x' + f.ratchet.nextKeyID))), f.ratchet.nextKey);
});

test('key schedule: a newcomer cannot read earlier media, a leaver cannot read later media', async () => {
  const frameCode = async (p) => { try { await p; return 'ok'; } catch (e) { assert.ok(e instanceof SFrameError, String(e)); return e.code; } };
  const schedule = new MediaKeySchedule(4);
  const sender = await SFrameSender.create(schedule.kid, schedule.baseKey);
  const bob = new SFrameReceiver({ ratchetOnDemand: true });
  await bob.addKey(schedule.kid, schedule.baseKey);
  const beforeJoin = await sender.encrypt(Uint8Array.of(1));
  const joined = await schedule.participantJoined();
  await sender.rotate(joined.kid, joined.baseKey);
  const carol = new SFrameReceiver({ ratchetOnDemand: true });
  await carol.addKey(joined.kid, joined.baseKey);
  const afterJoin = await sender.encrypt(Uint8Array.of(2));
  assert.deepEqual(await bob.decrypt(afterJoin), Uint8Array.of(2));
  assert.deepEqual(await carol.decrypt(afterJoin), Uint8Array.of(2));
  assert.equal(await frameCode(carol.decrypt(beforeJoin)), 'unknown-kid');
  const left = schedule.participantLeft();
  assert.equal(left.kid, makeKeyID(4, 2));
  await sender.rotate(left.kid, left.baseKey);
  await carol.addKey(left.kid, left.baseKey);
  const afterLeave = await sender.encrypt(Uint8Array.of(3));
  assert.deepEqual(await carol.decrypt(afterLeave), Uint8Array.of(3));
  assert.equal(await frameCode(bob.decrypt(afterLeave)), 'auth');
});
