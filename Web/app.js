// Demarc web client: join with a participant token, publish camera and microphone,
// show everyone else, and say which edge node (region, jurisdiction) carries the media.
// With end-to-end encryption (docs/e2ee.md) it SFrame-encrypts what it sends and decrypts
// what it receives in Web/e2ee/worker.js, and exchanges media keys sealed to each
// participant's identity key, which the server relays but cannot open.
// Protocol: docs/signaling.md. No build step; plain browser APIs.
"use strict";

const params = new URLSearchParams(location.search);
const demarc = { ws: null, publisher: null, subscriber: null, participant: null, node: null, tracks: {}, roster: {}, errors: [], e2ee: null,
                 token: null, meeting: null, relayTree: [],
                 // Reconnecting (docs/signaling.md): where to go next, and how often we moved.
                 url: null, joinedHere: false, alternates: [], redirect: null, retryAfter: null, candidates: [], lost: null,
                 attempt: 0, reconnects: 0, stopped: false, localMedia: null, visited: [] };
window.demarc = demarc;  // for tests: getStats() on demarc.subscriber

// Counters for tests and the curious: frames through the worker (per KID sender slot) and keys.
const e2eeStats = {
  enabled: false, framesEncrypted: 0, framesDecrypted: 0, decryptFailures: 0, encryptDrops: 0,
  decryptedBySlot: {}, failuresBySlot: {}, keysSent: 0, keysOpened: 0, keyFailures: 0, safetyCode: null, workerErrors: [],
};
window.demarcE2EEStats = e2eeStats;

// ?e2ee=1: always encrypt; ?e2ee=0: never (a plain client, as an old or broken one would be);
// otherwise: encrypt when the meeting requires it (joined.e2ee.required).
const e2eeChoice = params.get("e2ee");
// Test only: seal to the others a random key, not the one this client encrypts with, so
// nobody can decrypt its media (the Chromium test's "wrong key" participant).
const e2eeTestWrongKey = params.get("e2eeTestWrongKey") === "1";
// Test only: declare an identity key but send plaintext, as a broken client would; the SFU
// must refuse its media in an E2EE-required meeting.
const e2eeTestPlaintext = params.get("e2eeTestPlaintext") === "1";
const scriptTransform = "RTCRtpScriptTransform" in window;
const encodedStreams = !scriptTransform && "createEncodedStreams" in (window.RTCRtpSender?.prototype ?? {});

const $ = (id) => document.getElementById(id);
function log(text) { $("log").textContent += text + "\n"; }
function send(message) { demarc.ws.send(JSON.stringify(message)); }
function toBase64(bytes) { let s = ""; for (const b of bytes) s += String.fromCharCode(b); return btoa(s); }
function fromBase64(text) { return Uint8Array.from(atob(text), (c) => c.charCodeAt(0)); }

function showNode(node) {
  const banner = $("banner");
  if (!node || !node.region) {
    banner.textContent = "Connected to a node that did not say where it is.";
    return;
  }
  banner.classList.remove("unknown");
  banner.textContent = `Your media is processed in ${node.region} (jurisdiction ${node.jurisdiction || "?"}).`;
}

function tile(streamID) {
  let figure = document.getElementById("p-" + streamID);
  if (!figure) {
    figure = document.createElement("figure");
    figure.id = "p-" + streamID;
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    const caption = document.createElement("figcaption");
    caption.textContent = streamID;
    figure.append(video, caption);
    $("grid").append(figure);
  }
  return figure;
}

/** The roster: each participant, the node it is connected to, and whether it encrypts. */
function showRoster() {
  const list = $("roster");
  list.replaceChildren();
  for (const [name, p] of Object.entries(demarc.roster).sort()) {
    const item = document.createElement("li");
    item.dataset.participant = name;
    const here = demarc.node?.node;
    const path = p.node && here && p.node !== here ? demarcRelayPath(demarc.relayTree, p.node, here) : null;
    item.textContent = `${name}${p.node ? ` · node ${p.node}` : ""}${path ? ` · relayed ${path.join(" → ")}` : ""}` +
      `${p.identityKey ? ` · E2EE (slot ${p.slot})` : " · no E2EE"}`;
    list.append(item);
  }
}

/** The meeting's relay tree, from the edge's copy of the meeting record (GET /v1/meetings/{id},
 *  which a participant token of this meeting may read): which nodes relay whose media. */
async function loadRelayTree() {
  if (!demarc.meeting || !demarc.token) return;
  try {
    const reply = await fetch(`/v1/meetings/${encodeURIComponent(demarc.meeting)}`, { headers: { Authorization: `Bearer ${demarc.token}` } });
    if (!reply.ok) return;
    const record = await reply.json();
    demarc.relayTree = record.relay_tree || [];
    $("relay").textContent = demarc.relayTree.length
      ? `Relay links of this meeting: ${demarc.relayTree.map((l) => `${l.parent} ↔ ${l.child}`).join(", ")} (only between nodes its policy allows).`
      : `This meeting runs on one node${record.nodes?.length ? ` (${record.nodes[0]})` : ""}: nothing is relayed.`;
    showRoster();
  } catch (error) {
    log("relay tree not loaded: " + error);
  }
}

// --- End-to-end encryption (docs/e2ee.md) ---

/** Loads the key code and makes this session's identity, unless E2EE is off or impossible here. */
async function prepareIdentity() {
  if (e2eeChoice === "0") return null;
  if (!scriptTransform && !encodedStreams) {
    log("this browser has no encoded transforms: it cannot encrypt end to end");
    return null;
  }
  const [keys, sframe] = await Promise.all([import("./e2ee/keys.js"), import("./e2ee/sframe.js")]);
  return { keys, sframe, identity: await keys.generateIdentity() };
}

/** After `joined`: encrypt if the meeting requires it or the user chose it. */
function startEndToEndEncryption(prepared, joined) {
  const required = !!joined.e2ee?.required;
  if (!(required || e2eeChoice === "1") || e2eeTestPlaintext) return;
  if (!prepared || !joined.e2ee) {
    $("e2ee").textContent = required
      ? "This meeting requires end-to-end encryption, which this client is not doing: the node will refuse its media."
      : "End-to-end encryption was asked for but the node did not offer it.";
    return;
  }
  const { keys, sframe, identity } = prepared;
  const worker = new Worker("e2ee/worker.js", { type: "module" });
  const e = {
    keys, sframe, identity, worker, required,
    meeting: joined.e2ee.meeting,
    slot: joined.e2ee.slot,
    schedule: new keys.MediaKeySchedule(joined.e2ee.slot),
    peers: new Map(),  // name → { name, identityKey: Uint8Array, slot, lastKid }
  };
  demarc.e2ee = e;
  e2eeStats.enabled = true;
  worker.onmessage = (event) => {
    const m = event.data;
    if (m.type === "stats") Object.assign(e2eeStats, m.stats);
    if (m.type === "error" && e2eeStats.workerErrors.length < 50) e2eeStats.workerErrors.push(`${m.operation} ${m.code}: ${m.message}`);
  };
  e.statsTimer = setInterval(() => worker.postMessage({ type: "getStats" }), 250);
  setSendKey(e.schedule);
  $("e2ee").textContent = `End-to-end encrypted${required ? " (required by the meeting's policy)" : ""}: the node forwards media it cannot read. ` +
    "Compare the safety code with everyone out of band; if they differ, someone is listening in.";
  showSafetyCode();
}

function setSendKey({ kid, baseKey }) {
  demarc.e2ee.worker.postMessage({ type: "setSendKey", kid: kid.toString(16), baseKey: baseKey.slice() });
}

async function sealTo(peer, { kid, baseKey }) {
  const e = demarc.e2ee;
  const sealed = e2eeTestWrongKey ? e.keys.randomMediaKey() : baseKey;
  const envelope = await e.keys.sealMediaKey({ baseKey: sealed, kid, meetingID: e.meeting, sender: e.identity, recipientPublic: peer.identityKey });
  send({ type: "mediaKey", to: peer.name, envelope: toBase64(envelope) });
  e2eeStats.keysSent++;
}

async function showSafetyCode() {
  const e = demarc.e2ee;
  const code = await e.keys.safetyCode([e.identity.publicKey, ...[...e.peers.values()].map((p) => p.identityKey)]);
  e2eeStats.safetyCode = code;
  $("safety").textContent = `Safety code: ${code}`;
}

/** A participant with an identity key joined (or was there): it gets our key, ratcheted if
 * anyone else already holds the current one, so it cannot read what was sent before. */
async function endToEndPeerJoined(message) {
  const e = demarc.e2ee;
  if (!e || !message.identityKey || message.participant === demarc.participant) return;
  const peer = { name: message.participant, identityKey: fromBase64(message.identityKey), slot: message.slot, lastKid: null };
  const ratchet = e.peers.size > 0;
  const current = ratchet ? await e.schedule.participantJoined() : { kid: e.schedule.kid, baseKey: e.schedule.baseKey };
  e.peers.set(peer.name, peer);
  await sealTo(peer, current);
  if (ratchet) setSendKey(current);
  await showSafetyCode();
}

/** Someone left: a fresh random key for everyone remaining, so the leaver reads nothing more. */
async function endToEndPeerLeft(name) {
  const e = demarc.e2ee;
  const peer = e?.peers.get(name);
  if (!peer) return;
  e.peers.delete(name);
  if (peer.lastKid !== null) retireKey(peer.lastKid);
  const next = e.schedule.participantLeft();
  for (const other of e.peers.values()) await sealTo(other, next);
  setSendKey(next);
  await showSafetyCode();
}

/** Keeps an old receive key a while, for frames still in flight. */
function retireKey(kid) {
  setTimeout(() => demarc.e2ee.worker.postMessage({ type: "removeKey", kid: kid.toString(16) }), 10_000);
}

async function endToEndKeyReceived(message) {
  const e = demarc.e2ee;
  const peer = e?.peers.get(message.from);
  try {
    if (!peer) throw new Error(`a media key from ${message.from}, who declared no identity key`);
    const { kid, baseKey } = await e.keys.openMediaKey({
      envelope: fromBase64(message.envelope), meetingID: e.meeting, recipient: e.identity, senderPublic: peer.identityKey,
    });
    // A sender may only use its own slot (the SFU checks the same on its frames).
    if (e.sframe.splitKeyID(kid).slot !== peer.slot) throw new Error(`${peer.name} sent a key for another sender's slot`);
    e.worker.postMessage({ type: "addReceiveKey", kid: kid.toString(16), baseKey });
    if (peer.lastKid !== null && peer.lastKid !== kid) retireKey(peer.lastKid);
    peer.lastKid = kid;
    e2eeStats.keysOpened++;
  } catch (error) {
    e2eeStats.keyFailures++;
    log(`media key refused: ${error.message ?? error}`);
  }
}

function encodedTransform(target, operation, kind) {
  const codec = kind === "audio" ? "opus" : "vp8";
  if (scriptTransform) {
    target.transform = new RTCRtpScriptTransform(demarc.e2ee.worker, { operation, codec });
  } else {
    const { readable, writable } = target.createEncodedStreams();
    demarc.e2ee.worker.postMessage({ type: "streams", operation, readable, writable, codec }, [readable, writable]);
  }
}

function peerConnection() {
  // createEncodedStreams() needs the connection made for it (Chromium's older API).
  return new RTCPeerConnection({ bundlePolicy: "max-bundle", rtcpMuxPolicy: "require", encodedInsertableStreams: !!demarc.e2ee && encodedStreams });
}

// --- Media ---

async function startPublishing() {
  const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
  demarc.localMedia = media;
  $("localVideo").srcObject = media;
  demarc.publisher = peerConnection();
  // ?simulcast=1 sends three layers (RFC 8853), quarter, half and full resolution.
  const simulcast = params.get("simulcast") === "1";
  for (const track of media.getTracks()) {
    const init = { direction: "sendonly", streams: [media] };
    if (simulcast && track.kind === "video") {
      init.sendEncodings = [{ rid: "q", scaleResolutionDownBy: 4 }, { rid: "h", scaleResolutionDownBy: 2 }, { rid: "f" }];
    }
    const transceiver = demarc.publisher.addTransceiver(track, init);
    if (demarc.e2ee) {
      // Only VP8 and Opus have a Demarc E2EE layout (docs/e2ee.md, "Payload layout").
      const codecs = RTCRtpSender.getCapabilities(track.kind).codecs.filter((c) => /\/(vp8|opus|rtx)$/i.test(c.mimeType));
      transceiver.setCodecPreferences(codecs);
      encodedTransform(transceiver.sender, "encrypt", track.kind);
    }
  }
  await demarc.publisher.setLocalDescription(await demarc.publisher.createOffer());
  send({ type: "publish", sdp: demarc.publisher.localDescription.sdp });
}

function subscriberConnection() {
  if (demarc.subscriber) return demarc.subscriber;
  demarc.subscriber = peerConnection();
  demarc.subscriber.ontrack = (event) => {
    if (demarc.e2ee) encodedTransform(event.receiver, "decrypt", event.track.kind);
    // The SFU's msid names the publisher as the stream (docs/signaling.md).
    const stream = event.streams[0] || new MediaStream([event.track]);
    const video = tile(stream.id).querySelector("video");
    if (video.srcObject !== stream) video.srcObject = stream;
  };
  return demarc.subscriber;
}

async function onMessage(message, prepared) {
  switch (message.type) {
    case "joined":
      if (demarc.lost) { demarc.reconnects += 1; log(`reconnected at node ${message.node?.node ?? "?"}`); }
      demarc.joinedHere = true;
      demarc.lost = null;
      demarc.attempt = 0;
      demarc.candidates = [];
      demarc.alternates = message.alternates || demarc.alternates;
      demarc.visited.push(message.node?.node ?? "?");
      demarc.participant = message.participant;
      demarc.node = message.node;
      demarc.meeting = message.meeting;
      showNode(message.node);
      loadRelayTree();
      log(`joined ${message.meeting} as ${message.participant}`);
      startEndToEndEncryption(prepared, message);
      if (message.e2ee?.required && !demarc.e2ee && e2eeChoice !== "0" && !e2eeTestPlaintext) { log("not publishing: end-to-end encryption is required"); break; }
      try { await startPublishing(); } catch (error) { log("not publishing: " + error); }
      break;
    case "publishAnswer":
      await demarc.publisher.setRemoteDescription({ type: "answer", sdp: message.sdp });
      break;
    case "subscriberOffer": {
      const pc = subscriberConnection();
      await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      send({ type: "subscriberAnswer", sdp: pc.localDescription.sdp });
      break;
    }
    case "participantJoined":
      log(`${message.participant} joined${message.node ? ` via node ${message.node}` : ""}`);
      demarc.roster[message.participant] = { node: message.node, identityKey: message.identityKey, slot: message.slot };
      showRoster();
      if (message.node && message.node !== demarc.node?.node) loadRelayTree();   // the tree may have grown
      await endToEndPeerJoined(message);
      break;
    case "participantLeft": {
      log(`${message.participant} left`);
      delete demarc.roster[message.participant];
      showRoster();
      for (const figure of document.querySelectorAll("#grid figure")) {
        if (figure.querySelector("figcaption").textContent === message.participant) figure.remove();
      }
      await endToEndPeerLeft(message.participant);
      break;
    }
    case "mediaKey": await endToEndKeyReceived(message); break;
    case "trackPublished": demarc.tracks[message.track.id] = message.track; break;
    case "trackUnpublished": delete demarc.tracks[message.trackID]; break;
    case "activeSpeaker":
      for (const figure of document.querySelectorAll("figure")) {
        figure.classList.toggle("speaking", !!message.participant && figure.id === "p-" + message.participant);
      }
      break;
    case "connectionState": log(`${message.peerConnection} ${message.state}`); break;
    case "reconnect":
      // The node moves us (a drain, a re-placement) or is not our edge: go where it says,
      // or, without an edge, ask the alternates again after `retryAfter` ms.
      demarc.redirect = message.edge?.signaling || null;
      demarc.retryAfter = message.retryAfter ?? null;
      log(`asked to reconnect${message.edge ? ` at node ${message.edge.node}` : ""}: ${message.message || ""}`);
      break;
    case "error":
      // These end the session for good: reconnecting elsewhere would be refused the same way.
      if (["token_expired", "invalid_token", "unauthenticated", "forbidden"].includes(message.code)) demarc.stopped = true;
      demarc.errors.push(message.code);
      log(`error ${message.code}: ${message.message}`);
      break;
  }
}

// --- Signaling, and reconnecting when the edge goes away (docs/signaling.md, "Reconnecting") ---

let prepared = null;  // this session's E2EE identity, kept across reconnects

function connect(url) {
  const ws = new WebSocket(`${url}?token=${encodeURIComponent(demarc.token)}`);
  demarc.ws = ws;
  demarc.url = url;
  demarc.joinedHere = false;
  ws.onopen = () => send(prepared ? { type: "join", e2ee: { identityKey: toBase64(prepared.identity.publicKey) } } : { type: "join" });
  // One message at a time: key handling must see participantJoined before that sender's mediaKey.
  let queue = Promise.resolve();
  ws.onmessage = (event) => {
    if (demarc.ws !== ws) return;
    queue = queue.then(() => onMessage(JSON.parse(event.data), prepared)).catch((error) => log("error: " + error));
  };
  ws.onclose = () => { if (demarc.ws === ws) queue.then(signalingClosed); };
}

/** The edge's socket closed: unless we left or were refused for good, rebuild the session at
 *  the edge a `reconnect` named, else at the alternates `joined` listed (backing off). */
function signalingClosed() {
  if (demarc.stopped) { log("signaling closed"); return; }
  if (demarc.joinedHere) {
    log(`signaling with node ${demarc.node?.node ?? "?"} closed: reconnecting`);
    tearDown();
    demarc.lost = demarc.url;
    demarc.candidates = demarcReconnectCandidates({ redirect: demarc.redirect, alternates: demarc.alternates, lost: demarc.lost });
  } else if (demarc.redirect) {
    demarc.candidates.unshift(demarc.redirect);
  }
  demarc.redirect = null;
  if (!demarc.lost) { log("signaling closed"); return; }   // never joined: nothing to resume
  if (demarc.candidates.length) { connect(demarc.candidates.shift()); return; }
  // A round over every candidate failed: wait, then ask them all again.
  if (demarc.attempt >= 12) { log("gave up reconnecting"); $("banner").textContent = "Disconnected: no node took this participant back."; return; }
  const wait = demarcReconnectDelay(demarc.attempt++, demarc.retryAfter);
  demarc.retryAfter = null;
  demarc.candidates = demarcReconnectCandidates({ alternates: demarc.alternates, lost: demarc.lost });
  if (!demarc.candidates.length) { log("no other node to reconnect through"); return; }
  setTimeout(() => connect(demarc.candidates.shift()), wait);
}

/** Drops everything tied to the old edge: peer connections, remote tiles, roster, keys. */
function tearDown() {
  for (const pc of [demarc.publisher, demarc.subscriber]) { try { pc?.close(); } catch (_) { /* already closed */ } }
  demarc.publisher = demarc.subscriber = null;
  for (const track of demarc.localMedia?.getTracks() || []) track.stop();
  demarc.localMedia = null;
  for (const figure of document.querySelectorAll("#grid figure:not(#local)")) figure.remove();
  demarc.roster = {};
  demarc.tracks = {};
  if (demarc.e2ee) {
    clearInterval(demarc.e2ee.statsTimer);
    demarc.e2ee.worker.terminate();
    demarc.e2ee = null;
  }
  showRoster();
  $("banner").classList.add("unknown");
  $("banner").textContent = "Reconnecting: media is not flowing through any node right now.";
}

async function join(token) {
  demarc.token = token;
  prepared = await prepareIdentity().catch((error) => { log("no end-to-end encryption: " + error); return null; });
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  connect(`${scheme}://${location.host}/v1/rtc`);
}

$("join").onsubmit = (event) => {
  event.preventDefault();
  join($("token").value.trim());
};
const fromURL = params.get("token");
if (fromURL) join(fromURL);
