#!/usr/bin/env python3
"""Native E2EE test client: aiortc peers that SFrame-encrypt their media through a Demarc SFU.

The publisher's VP8 encoder output (each encoded frame, before RTP packetization) and each
Opus packet are SFrame-encrypted with Demarc's payload layout (sframe.py, docs/e2ee.md);
each subscriber's depacketized frame is decrypted before it reaches the decoder. Keys go
through the E2EE signaling of docs/signaling.md: every client declares an X25519 identity key
in `join`, learns its sender slot from `joined`, and the publisher seals its media key to each
participant (`mediaKey`), ratcheting when someone joins later.

With --marker the sender appends a known 16-byte marker to every plaintext frame before
encryption; each receiver counts the frames whose received bytes (what the SFU forwarded)
contain the marker, and the frames that had it after decryption (then strips it). A
--wrong-key-subscriber installs a random key instead of the one it was sent, so it must
decode nothing. With --plain nobody encrypts (the e2ee: off control, where the marker must
show up in forwarded frames); with --expect-refused the publisher expects `publish` to be
refused with e2ee_required.

Prints one JSON object and exits non-zero when an expectation failed.

Usage: e2ee_client.py --url ws://127.0.0.1:PORT/v1/rtc --publisher TOKEN --subscriber TOKEN
                      [--subscriber TOKEN ...] [--wrong-key-subscriber TOKEN] [--marker]
                      [--plain] [--expect-refused] [--seconds 5] [--min-frames 30]
"""

import argparse
import asyncio
import base64
import collections
import contextvars
import json
import sys
import threading
import time

import av
import websockets
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc import rtcrtpreceiver, rtcrtpsender
from aiortc.codecs.opus import OpusDecoder, OpusEncoder
from aiortc.codecs.vpx import Vp8Decoder, Vp8Encoder
from aiortc.mediastreams import AudioStreamTrack

import sframe
from interop import GradientTrack

MARKER = b"DEMARC-PLAINTEXT"  # 16 bytes, appended to each plaintext frame with --marker
assert len(MARKER) == 16


class E2EEState:
    """One client's keys and counters, shared by its encoders and decoders (which run on
    aiortc's worker threads, hence the lock)."""

    def __init__(self, name, encrypt=True, marker=False, wrong_key=False):
        self.name, self.encrypt, self.marker, self.wrong_key = name, encrypt, marker, wrong_key
        self.identity = sframe.Identity()
        self.lock = threading.Lock()
        self.slot = None
        self.meeting = None
        self.required = None
        self.kid = None
        self.base_key = None
        self.sender = None
        self.keys = {}  # KID -> base key, installed in every receiver (one per decoder)
        self.receivers = []
        self.counts = collections.Counter()
        self.failures = collections.Counter()

    # -- keys --

    def start_sending(self, slot):
        self.slot = slot
        self.kid = sframe.make_key_id(slot, 0)
        self.base_key = sframe.random_media_key()
        self.sender = sframe.SFrameSender(self.kid, self.base_key)

    def ratchet(self):
        """Someone joined: the next generation by the join ratchet (docs/e2ee.md)."""
        with self.lock:
            self.kid = sframe.next_key_id(self.kid)
            self.base_key = sframe.ratchet_media_key(self.base_key, self.kid)
            self.sender.rotate(self.kid, self.base_key)

    def install(self, kid, base_key):
        if self.wrong_key:
            base_key = sframe.random_media_key()
        with self.lock:
            self.keys[kid] = base_key
            for receiver in self.receivers:
                receiver.add_key(kid, base_key)
            self.counts["keysInstalled"] += 1

    def new_receiver(self):
        receiver = sframe.SFrameReceiver(ratchet_on_demand=True)
        with self.lock:
            for kid, key in self.keys.items():
                receiver.add_key(kid, key)
            self.receivers.append(receiver)
        return receiver

    # -- frames --

    def protect(self, frame, codec):
        if not frame:
            return frame
        if self.marker:
            frame = bytes(frame) + MARKER
        with self.lock:
            self.counts[f"sent.{codec}"] += 1
            return sframe.protect_frame(frame, codec, self.sender) if self.encrypt else frame

    def unprotect(self, data, codec, receiver):
        """The plaintext frame for the decoder, or raises SFrameError."""
        with self.lock:
            self.counts[f"received.{codec}"] += 1
            if MARKER in data:
                self.counts["markerInForwardedFrames"] += 1
        if self.encrypt and data:
            try:
                data = sframe.unprotect_frame(data, codec, receiver)
            except sframe.SFrameError as error:
                with self.lock:
                    self.failures[error.code] += 1
                raise
            with self.lock:
                self.counts[f"decrypted.{codec}"] += 1
        if self.marker and data.endswith(MARKER):
            data = data[:-len(MARKER)]
            with self.lock:
                self.counts["markerStrippedAfterDecryption"] += 1
        return data


# --- hooks into aiortc's codecs ---
# aiortc creates encoders in RTCRtpSender._next_encoded_frame and decoders in the
# RTCRtpReceiver's decoder thread; neither says which peer connection it serves, so the
# sender is passed in a context variable and the receiver's decoder queue in a thread local.

_current_sender = contextvars.ContextVar("current_sender", default=None)
_decoder_thread = threading.local()
SENDERS = {}  # id(RTCRtpSender) -> E2EEState
DECODER_QUEUES = {}  # id(decoder queue) -> E2EEState


class SFrameVp8Encoder(Vp8Encoder):
    def __init__(self, state):
        super().__init__()
        self.state = state

    def _packetize(self, buffer, picture_id):  # per encoded frame, before packetization
        return Vp8Encoder._packetize(self.state.protect(buffer, "vp8"), picture_id)


class SFrameOpusEncoder(OpusEncoder):
    def __init__(self, state):
        super().__init__()
        self.state = state

    def encode(self, frame, force_keyframe=False):
        payloads, timestamp = super().encode(frame, force_keyframe)
        return [self.state.protect(p, "opus") for p in payloads], timestamp


class SFrameDecoder:
    """Decrypts the depacketized frame, then decodes it. A frame under a KID we have no key
    for yet raises an FFmpeg error, so aiortc asks for a keyframe (PLI) once the key is here;
    a frame that fails to authenticate is dropped quietly (a wrong key stays wrong)."""

    def __init__(self, inner, codec, queue_id):
        self.inner, self.codec, self.queue_id = inner, codec, queue_id
        self.state = None
        self.receiver = None

    def decode(self, encoded_frame):
        if self.state is None:
            self.state = DECODER_QUEUES.get(self.queue_id)
            if self.state is None:
                return self.inner.decode(encoded_frame)
            self.receiver = self.state.new_receiver()
        try:
            encoded_frame.data = self.state.unprotect(encoded_frame.data, self.codec, self.receiver)
        except sframe.SFrameError as error:
            if self.codec == "vp8" and error.code == "unknown-kid":
                raise av.error.InvalidDataError(1094995529, f"SFrame: {error}") from None
            return []
        frames = self.inner.decode(encoded_frame)
        with self.state.lock:
            self.state.counts[f"decoded.{self.codec}"] += len(frames)
        return frames


_original_get_encoder = rtcrtpsender.get_encoder
_original_get_decoder = rtcrtpreceiver.get_decoder
_original_next_encoded_frame = rtcrtpsender.RTCRtpSender._next_encoded_frame
_original_decoder_worker = rtcrtpreceiver.decoder_worker


def _get_encoder(codec):
    state = SENDERS.get(id(_current_sender.get()))
    if state is not None and codec.mimeType.lower() == "video/vp8":
        return SFrameVp8Encoder(state)
    if state is not None and codec.mimeType.lower() == "audio/opus":
        return SFrameOpusEncoder(state)
    return _original_get_encoder(codec)


async def _next_encoded_frame(self, codec):
    token = _current_sender.set(self)
    try:
        return await _original_next_encoded_frame(self, codec)
    finally:
        _current_sender.reset(token)


def _decoder_worker(loop, input_q, output_q, decode_error):
    _decoder_thread.queue_id = id(input_q)
    return _original_decoder_worker(loop, input_q, output_q, decode_error)


def _get_decoder(codec):
    inner = _original_get_decoder(codec)
    name = {"video/vp8": "vp8", "audio/opus": "opus"}.get(codec.mimeType.lower())
    if name is None or not isinstance(inner, (Vp8Decoder, OpusDecoder)):
        return inner
    return SFrameDecoder(inner, name, getattr(_decoder_thread, "queue_id", None))


rtcrtpsender.get_encoder = _get_encoder
rtcrtpsender.RTCRtpSender._next_encoded_frame = _next_encoded_frame
rtcrtpreceiver.get_decoder = _get_decoder
rtcrtpreceiver.decoder_worker = _decoder_worker


def register_receivers(pc, state):
    for receiver in pc.getReceivers():
        DECODER_QUEUES[id(receiver._RTCRtpReceiver__decoder_queue)] = state


# --- signaling (docs/signaling.md, E2EE additions) ---

class Client:
    """One participant: its signaling socket, its peer connection(s) and its E2EE state."""

    def __init__(self, name, url, token, state, declare=True):
        self.name, self.url, self.token, self.state, self.declare = name, url, token, state, declare
        self.ws = None
        self.joined = None
        self.peers = {}  # participant -> (identity key bytes, slot)
        self.pending_keys = collections.defaultdict(list)  # sender -> envelopes before its identity key
        self.errors = []
        self.keys_sent = 0
        self.distributing = False
        self.handlers = {}

    async def join(self):
        self.ws = await websockets.connect(f"{self.url}?token={self.token}", max_size=2**20)
        message = {"type": "join"}
        if self.declare:
            message["e2ee"] = {"identityKey": base64.b64encode(self.state.identity.public_key).decode()}
        await self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(await asyncio.wait_for(self.ws.recv(), 20))
            if reply["type"] == "joined":
                self.joined = reply
                e2ee = reply.get("e2ee") or {}
                self.state.required = e2ee.get("required")
                self.state.meeting = e2ee.get("meeting")
                if self.declare and self.state.encrypt:
                    if not e2ee.get("slot"):
                        raise RuntimeError(f"{self.name}: joined without an E2EE slot: {reply}")
                    self.state.start_sending(int(e2ee["slot"]))
                    self.distributing = True
                return reply
            if reply["type"] == "error":
                raise RuntimeError(f"{self.name}: join refused: {reply}")
            await self.handle(reply)

    async def handle(self, message):
        kind = message["type"]
        if kind == "participantJoined":
            name = message.get("participant")
            if name and message.get("identityKey"):
                self.peers[name] = (base64.b64decode(message["identityKey"]), message.get("slot"))
                if self.distributing:
                    if self.state.counts["sent.vp8"] or self.state.counts["sent.opus"]:
                        self.state.ratchet()  # media flowed: a newcomer gets only the ratcheted key
                    await self.send_key(name)
                for envelope in self.pending_keys.pop(name, []):
                    self.open_key(name, envelope)
        elif kind == "participantLeft":
            self.peers.pop(message.get("participant"), None)
        elif kind == "mediaKey":
            sender, envelope = message.get("from"), base64.b64decode(message.get("envelope", ""))
            if sender in self.peers:
                self.open_key(sender, envelope)
            else:
                self.pending_keys[sender].append(envelope)
        elif kind == "error":
            self.errors.append(message)
        handler = self.handlers.get(kind)
        if handler:
            await handler(message)

    def open_key(self, sender, envelope):
        try:
            kid, base_key = sframe.open_media_key(envelope, self.state.meeting, self.state.identity, self.peers[sender][0])
        except sframe.EnvelopeError as error:
            self.state.failures[f"envelope-{error.code}"] += 1
            return
        slot = self.peers[sender][1]
        if slot is not None and sframe.split_key_id(kid)[0] != slot:
            self.state.failures["envelope-wrong-slot"] += 1
            return
        self.state.install(kid, base_key)

    async def send_key(self, recipient):
        envelope = sframe.seal_media_key(self.state.base_key, self.state.kid, self.state.meeting, self.state.identity,
                                         self.peers[recipient][0])
        await self.ws.send(json.dumps({"type": "mediaKey", "to": recipient, "envelope": base64.b64encode(envelope).decode()}))
        self.keys_sent += 1

    async def pump(self, stop):
        while not stop.is_set():
            try:
                message = json.loads(await asyncio.wait_for(self.ws.recv(), 0.3))
            except asyncio.TimeoutError:
                continue
            except websockets.ConnectionClosed:
                return
            await self.handle(message)

    async def wait_for(self, kind, timeout=20):
        """Reads messages (handling them) until one of `kind` or an error arrives."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{self.name}: no {kind} within {timeout}s")
            message = json.loads(await asyncio.wait_for(self.ws.recv(), remaining))
            await self.handle(message)
            if message["type"] in (kind, "error"):
                return message


class Subscriber(Client):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pc = RTCPeerConnection()
        self.tracks, self.tasks, self.resolutions = [], [], set()
        self.video_frames = self.audio_frames = 0
        self.pc.on("track", self.on_track)
        self.handlers["subscriberOffer"] = self.on_offer

    def on_track(self, track):
        register_receivers(self.pc, self.state)
        self.tracks.append(track.kind)
        self.tasks.append(asyncio.ensure_future(self.consume(track)))

    async def consume(self, track):
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            if track.kind == "video":
                self.video_frames += 1
                self.resolutions.add(f"{frame.width}x{frame.height}")
            else:
                self.audio_frames += 1

    async def on_offer(self, message):
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type="offer"))
        register_receivers(self.pc, self.state)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        await self.ws.send(json.dumps({"type": "subscriberAnswer", "sdp": self.pc.localDescription.sdp}))

    def report(self):
        counts, failures = self.state.counts, self.state.failures
        return {
            "name": self.name, "encrypted": self.state.encrypt, "wrongKey": self.state.wrong_key,
            "tracks": sorted(self.tracks), "videoFrames": self.video_frames, "audioFrames": self.audio_frames,
            "resolutions": sorted(self.resolutions),
            "receivedFrames": {"video": counts["received.vp8"], "audio": counts["received.opus"]},
            "decryptedFrames": {"video": counts["decrypted.vp8"], "audio": counts["decrypted.opus"]},
            "decryptFailures": dict(failures),
            "keysInstalled": counts["keysInstalled"],
            "markerInForwardedFrames": counts["markerInForwardedFrames"],
            "markerStrippedAfterDecryption": counts["markerStrippedAfterDecryption"],
            "errors": self.errors,
        }


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--publisher", required=True)
    parser.add_argument("--subscriber", action="append", default=[])
    parser.add_argument("--wrong-key-subscriber", action="append", default=[])
    parser.add_argument("--subscriber-url", action="append", default=[],
                        help="signaling URL of the i-th --subscriber's edge (default --url): another node of a cascaded meeting")
    parser.add_argument("--wrong-key-subscriber-url", action="append", default=[])
    parser.add_argument("--marker", action="store_true")
    parser.add_argument("--plain", action="store_true", help="nobody declares or uses E2EE (an e2ee: off meeting)")
    parser.add_argument("--expect-refused", action="store_true",
                        help="the publisher does not declare E2EE and expects publish to be refused with e2ee_required")
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--min-frames", type=int, default=30)
    args = parser.parse_args()

    encrypt = not args.plain
    stop = asyncio.Event()
    def url(urls, i):
        return urls[i] if i < len(urls) else args.url

    subscribers = [Subscriber(f"subscriber{i + 1}", url(args.subscriber_url, i), token, E2EEState(f"subscriber{i + 1}", encrypt, args.marker),
                              declare=encrypt)
                   for i, token in enumerate(args.subscriber)]
    subscribers += [Subscriber(f"wrongkey{i + 1}", url(args.wrong_key_subscriber_url, i), token, E2EEState(f"wrongkey{i + 1}", encrypt, args.marker, wrong_key=True),
                               declare=encrypt)
                    for i, token in enumerate(args.wrong_key_subscriber)]
    for s in subscribers:
        await s.join()
    pumps = [asyncio.ensure_future(s.pump(stop)) for s in subscribers]

    publisher_encrypts = encrypt and not args.expect_refused
    state = E2EEState("publisher", publisher_encrypts, args.marker)
    publisher = Client("publisher", args.url, args.publisher, state, declare=publisher_encrypts)
    joined = await publisher.join()
    pc = RTCPeerConnection()
    for track in (AudioStreamTrack(), GradientTrack()):
        SENDERS[id(pc.addTrack(track))] = state
    await pc.setLocalDescription(await pc.createOffer())
    # The participants already present arrive as participantJoined events right after
    # `joined`; the publisher seals its key to each as it reads them (before publishAnswer).
    await publisher.ws.send(json.dumps({"type": "publish", "sdp": pc.localDescription.sdp}))
    answer = await publisher.wait_for("publishAnswer")
    result = {"node": joined.get("node"), "e2ee": joined.get("e2ee"), "seconds": args.seconds, "marker": args.marker,
              "plain": args.plain}
    failures = []
    if answer["type"] == "error":
        result["publishRefused"] = answer.get("code")
        if not args.expect_refused:
            failures.append(f"publish refused: {answer}")
    else:
        result["publishRefused"] = None
        if args.expect_refused:
            failures.append("publish was accepted, expected e2ee_required")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
    publisher_pump = asyncio.ensure_future(publisher.pump(stop))

    if not args.expect_refused:
        good = [s for s in subscribers if not s.state.wrong_key]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(s.video_frames > 0 for s in good):
            await asyncio.sleep(0.1)
        await asyncio.sleep(args.seconds)  # a measuring window, not a wait for an event
    else:
        # Nothing may be forwarded from a refused publisher: watch the subscribers briefly.
        await asyncio.sleep(min(args.seconds, 2))
    stop.set()
    await asyncio.gather(*pumps, publisher_pump, return_exceptions=True)

    reports = [s.report() for s in subscribers]
    result["publisher"] = {"keysSent": publisher.keys_sent, "sentFrames": {"video": state.counts["sent.vp8"], "audio": state.counts["sent.opus"]},
                           "slot": state.slot, "errors": publisher.errors}
    result["subscribers"] = reports
    for r in reports:
        received = r["receivedFrames"]["video"] + r["receivedFrames"]["audio"]
        if args.expect_refused:
            if r["videoFrames"] or received:
                failures.append(f"{r['name']} received media from a refused publisher")
            continue
        if r["wrongKey"]:
            if r["videoFrames"] or r["audioFrames"]:
                failures.append(f"{r['name']} (wrong key) decoded {r['videoFrames']} video and {r['audioFrames']} audio frames")
            if r["receivedFrames"]["video"] == 0:
                failures.append(f"{r['name']} (wrong key) received no video frames at all")
        else:
            if r["videoFrames"] < args.min_frames:
                failures.append(f"{r['name']} decoded {r['videoFrames']} video frames (< {args.min_frames})")
            if r["audioFrames"] == 0:
                failures.append(f"{r['name']} decoded no audio")
            if encrypt and (r["decryptedFrames"]["video"] == 0 or r["decryptedFrames"]["audio"] == 0):
                failures.append(f"{r['name']} decrypted {r['decryptedFrames']}")
        if args.marker and encrypt and r["markerInForwardedFrames"]:
            failures.append(f"{r['name']}: the plaintext marker was in {r['markerInForwardedFrames']} forwarded frames")
        if args.marker and not r["wrongKey"] and r["markerStrippedAfterDecryption"] == 0:
            failures.append(f"{r['name']}: no frame carried the marker after decryption")
        if args.marker and not encrypt and r["markerInForwardedFrames"] == 0:
            failures.append(f"{r['name']}: plain frames were forwarded without the marker (the check would not detect plaintext)")
    result["failures"] = failures
    print(json.dumps(result))

    for s in subscribers:
        await s.pc.close()
        try:
            await s.ws.close()
        except Exception:
            pass
    await pc.close()
    await publisher.ws.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
