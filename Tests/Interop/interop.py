#!/usr/bin/env python3
"""Interop test client: real aiortc peers publish and receive through a Demarc SFU.

One publisher sends a generated video track (a moving gradient, 640x480) and a generated
audio track; N subscribers receive both through the SFU's signaling (GET /v1/rtc) and
decode them. Prints one JSON object with what each subscriber decoded and exits non-zero
when media did not flow as expected, so the Swift test (MediaSignalingTests) and
`make test` fail.

Usage: interop.py --url ws://127.0.0.1:PORT/v1/rtc --publisher TOKEN --subscriber TOKEN
                  [--subscriber TOKEN ...] [--seconds 6] [--early-subscribers 1]
"""

import argparse
import asyncio
import fractions
import json
import sys
import time

import numpy
import websockets
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import AudioStreamTrack
from av import VideoFrame


class GradientTrack(VideoStreamTrack):
    """640x480 frames whose content moves every frame, so the encoder has real work."""

    def __init__(self, width=640, height=480):
        super().__init__()
        self.width, self.height = width, height
        self.counter = 0
        x = numpy.linspace(0, 255, width, dtype=numpy.uint8)
        self.base = numpy.tile(x, (height, 1))

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        self.counter += 1
        shifted = numpy.roll(self.base, self.counter * 4, axis=1)
        image = numpy.stack([shifted, numpy.flipud(shifted), numpy.full_like(shifted, self.counter % 256)], axis=2)
        frame = VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class LossyRelay(asyncio.DatagramProtocol):
    """A UDP relay between one client and the SFU that drops a share of the SFU's RTP.

    The client is given the relay's port as the SFU's candidate; the SFU sees the relay's
    upstream socket as the client. STUN, DTLS and RTCP pass untouched, so only media is lost
    and the SFU must recover it (NACK -> RTX) for the client to keep decoding.
    """

    def __init__(self, sfu, loss, seed=1):
        import random
        self.sfu, self.loss, self.random = sfu, loss, random.Random(seed)
        self.client = None
        self.dropped = self.relayed = 0

    async def start(self):
        loop = asyncio.get_running_loop()
        self.downstream, _ = await loop.create_datagram_endpoint(lambda: _Side(self.from_client), local_addr=("127.0.0.1", 0))
        self.upstream, _ = await loop.create_datagram_endpoint(lambda: _Side(self.from_sfu), local_addr=("127.0.0.1", 0))
        return self.downstream.get_extra_info("sockname")[1]

    def from_client(self, data, address):
        self.client = address
        self.upstream.sendto(data, self.sfu)

    def from_sfu(self, data, address):
        if self.client is None:
            return
        is_rtp = len(data) > 1 and 128 <= data[0] <= 191 and not 192 <= data[1] <= 223
        if is_rtp and self.random.random() * 100 < self.loss:
            self.dropped += 1
            return
        self.relayed += 1
        self.downstream.sendto(data, self.client)


class UplinkLossyRelay(LossyRelay):
    """Like `LossyRelay`, but drops a share of the client's RTP to the SFU (a publisher's
    lossy uplink): the SFU must NACK the publisher and forward its RTX."""

    def from_client(self, data, address):
        self.client = address
        is_rtp = len(data) > 1 and 128 <= data[0] <= 191 and not 192 <= data[1] <= 223
        if is_rtp and self.random.random() * 100 < self.loss:
            self.dropped += 1
            return
        self.relayed += 1
        self.upstream.sendto(data, self.sfu)

    def from_sfu(self, data, address):
        if self.client is not None:
            self.downstream.sendto(data, self.client)


def relay_candidates(sdp, port):
    """The SDP with the SFU's host candidate pointed at a local relay port."""
    import re
    match = re.search(r"a=candidate:\S+ 1 udp \d+ (\S+) (\d+) typ host", sdp)
    host, sfu_port = match.group(1), int(match.group(2))
    return (host, sfu_port), sdp.replace(f"{host} {sfu_port} typ host", f"{host} {port} typ host")


class _Side(asyncio.DatagramProtocol):
    def __init__(self, handler):
        self.handler = handler

    def datagram_received(self, data, address):
        self.handler(data, address)


async def signaling(url, token):
    ws = await websockets.connect(f"{url}?token={token}", max_size=2**20)
    await ws.send(json.dumps({"type": "join"}))
    while True:
        message = json.loads(await ws.recv())
        if message["type"] == "joined":
            return ws, message
        if message["type"] == "error":
            raise RuntimeError(f"join refused: {message}")


async def try_signaling(url, token):
    """One attempt: ("joined", ws, joined), ("reconnect", None, message) or ("refused", None, message)."""
    ws = await websockets.connect(f"{url}?token={token}", max_size=2**20, open_timeout=2)
    try:
        await ws.send(json.dumps({"type": "join"}))
    except websockets.ConnectionClosed:
        pass  # a node that sends us on answers `reconnect` and closes, possibly before our join went out
    while True:
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), 3))
        except Exception:
            await ws.close()
            return "refused", None, {}
        if message["type"] == "joined":
            return "joined", ws, message
        if message["type"] in ("reconnect", "error"):
            await ws.close()
            return ("reconnect" if message["type"] == "reconnect" else "refused"), None, message


async def expect(ws, kind, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no {kind} message within {timeout}s")
        message = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        if message["type"] == kind:
            return message
        if message["type"] == "error":
            raise RuntimeError(f"server error while waiting for {kind}: {message}")


async def publish(url, token, uplink_loss=0, relays=None):
    """Publishes generated video and audio; with `uplink_loss`, through an
    `UplinkLossyRelay` (appended to `relays`)."""
    ws, joined = await signaling(url, token)
    pc = RTCPeerConnection()
    pc.addTrack(AudioStreamTrack())
    pc.addTrack(GradientTrack())
    await pc.setLocalDescription(await pc.createOffer())
    await ws.send(json.dumps({"type": "publish", "sdp": pc.localDescription.sdp}))
    answer = await expect(ws, "publishAnswer")
    sdp = answer["sdp"]
    if uplink_loss > 0:
        relay = UplinkLossyRelay(None, uplink_loss, seed=2)
        port = await relay.start()
        relay.sfu, sdp = relay_candidates(sdp, port)
        if relays is not None:
            relays.append(relay)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))
    return ws, pc, joined


class Subscriber:
    def __init__(self, name, loss=0, relay=None):
        self.name = name
        self.loss = loss
        # A relay object (LossyRelay or one like it) to put in front of the SFU; made from
        # `loss` when None and loss > 0.
        self.relay = relay
        self.relay_port = None
        self.pc = RTCPeerConnection()
        self.video_frames = 0
        self.audio_frames = 0
        self.resolutions = set()
        self.frame_times = []
        self.offers = 0
        self.tracks = []
        self.tasks = []
        self.joined = asyncio.Event()
        # Reconnect driven by signaling (issue 7, docs/signaling.md "Reconnecting"): on a
        # `reconnect` message go to the edge it names; when the edge's socket just drops, ask
        # the `alternates` from `joined`, which answer `reconnect` with the new edge.
        self.reconnect = False
        self.alternates = []
        self.dropped_at = None
        self.rejoined_after = None
        self.rejoined_edge = None
        self.reconnects = 0
        self.reconnect_messages = 0
        self.per_track = {}
        self.track_resolutions = {}
        self.pc.on("track", self.on_track)

    def on_track(self, track: MediaStreamTrack):
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
                self.per_track[track.id] = self.per_track.get(track.id, 0) + 1
                self.track_resolutions.setdefault(track.id, set()).add(f"{frame.width}x{frame.height}")
                self.resolutions.add(f"{frame.width}x{frame.height}")
                self.frame_times.append(time.monotonic())
            else:
                self.audio_frames += 1

    async def run(self, url, token, stop):
        ws, joined = await signaling(url, token)
        self.ws = ws
        self.alternates = [a["signaling"] for a in joined.get("alternates", [])]
        self.joined.set()
        while not stop.is_set():
            try:
                message = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
            except asyncio.TimeoutError:
                continue
            except websockets.ConnectionClosed:
                if not self.reconnect or stop.is_set():
                    return
                ws = await self.reconnect_elsewhere(token, stop, lost=url, edge=None)
                if ws is None:
                    return
                continue
            if message["type"] == "subscriberOffer":
                self.offers += 1
                sdp = message["sdp"]
                if self.loss > 0 or self.relay is not None:
                    sdp = await self.through_relay(sdp)
                await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
                await self.pc.setLocalDescription(await self.pc.createAnswer())
                await ws.send(json.dumps({"type": "subscriberAnswer", "sdp": self.pc.localDescription.sdp}))
            elif message["type"] == "reconnect" and self.reconnect:
                self.reconnect_messages += 1
                ws = await self.reconnect_elsewhere(token, stop, lost=url, edge=(message.get("edge") or {}).get("signaling"))
                if ws is None:
                    return
            elif message["type"] == "error":
                print(f"{self.name}: server error {message}", file=sys.stderr)

    async def reconnect_elsewhere(self, token, stop, lost, edge):
        """Asks the named edge, else each alternate, until one serves this participant."""
        self.dropped_at = time.monotonic()
        await self.pc.close()
        self.pc = RTCPeerConnection()
        self.pc.on("track", self.on_track)
        while not stop.is_set():
            wait = 0.2
            for first in ([edge] if edge else []) + [a for a in self.alternates if a != lost]:
                target = first
                for _ in range(3):  # follow at most three reconnect hops
                    try:
                        outcome, ws, message = await try_signaling(target, token)
                    except Exception:
                        break
                    if outcome == "joined":
                        self.ws = ws
                        self.reconnects += 1
                        self.rejoined_edge = (message.get("node") or {}).get("node")
                        self.rejoined_after = round(time.monotonic() - self.dropped_at, 3)
                        self.alternates = [a["signaling"] for a in message.get("alternates", [])] or self.alternates
                        return ws
                    if outcome == "reconnect" and (message.get("edge") or {}).get("signaling"):
                        target = message["edge"]["signaling"]
                        continue
                    if outcome == "reconnect":
                        wait = min(wait, message.get("retryAfter", 200) / 1000)
                    break
            edge = None
            await asyncio.sleep(wait)
        return None

    async def through_relay(self, sdp):
        """Points the SFU's host candidates at a lossy relay in front of it."""
        import re
        match = re.search(r"a=candidate:\S+ 1 udp \d+ (\S+) (\d+) typ host", sdp)
        host, port = match.group(1), int(match.group(2))
        if self.relay is None:
            self.relay = LossyRelay((host, port), self.loss)
        if self.relay_port is None:
            self.relay.sfu = (host, port)
            self.relay_port = await self.relay.start()
        return sdp.replace(f"{host} {port} typ host", f"{host} {self.relay_port} typ host")

    def resumed_after(self, killed_at, interruption=0.5):
        """Seconds from the kill to the first frame after media stopped (0: it never stopped; None: it never came back)."""
        after = [t for t in self.frame_times if t > killed_at]
        if not after:
            return None
        previous = max([t for t in self.frame_times if t <= killed_at], default=killed_at)
        for t in after:
            if t - previous > interruption:
                return round(t - killed_at, 3)
            previous = t
        return 0

    def report(self):
        gaps = [b - a for a, b in zip(self.frame_times, self.frame_times[1:])]
        return {
            "name": self.name,
            "offers": self.offers,
            "tracks": sorted(self.tracks),
            "videoFrames": self.video_frames,
            "audioFrames": self.audio_frames,
            "resolutions": sorted(self.resolutions),
            "maxGapSeconds": round(max(gaps), 3) if gaps else None,
            "firstFrameAfterSeconds": round(self.frame_times[0] - self.started, 3) if self.frame_times else None,
            "lossPercent": self.loss,
            "relayDropped": self.relay.dropped if self.relay else 0,
            "signalingDroppedToRejoinedSeconds": self.rejoined_after,
            "reconnects": self.reconnects,
            "reconnectMessages": self.reconnect_messages,
            "rejoinedAt": self.rejoined_edge,
            "relayRelayed": self.relay.relayed if self.relay else 0,
        }


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--publisher", required=True)
    parser.add_argument("--subscriber", action="append", required=True)
    parser.add_argument("--subscriber-url", action="append", default=[],
                        help="signaling URL of the i-th subscriber's edge (default --url): subscribers on other nodes of a cascaded meeting")
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--early-subscribers", type=int, default=1,
                        help="how many subscribers join before the publisher publishes (renegotiation path)")
    parser.add_argument("--min-frames", type=int, default=40)
    parser.add_argument("--max-gap", type=float, default=1.5)
    parser.add_argument("--loss-percent", type=float, default=0,
                        help="drop this share of the SFU's RTP to the first subscriber (through a relay)")
    parser.add_argument("--uplink-loss-percent", type=float, default=0,
                        help="drop this share of the publisher's RTP to the SFU (through a relay)")
    parser.add_argument("--kill-pid", type=int, default=0,
                        help="SIGKILL this process (a relay node) once media flows, and report when media resumed")
    parser.add_argument("--kill-after", type=float, default=2)
    parser.add_argument("--kill-signal", choices=["KILL", "TERM"], default="KILL",
                        help="TERM: the node drains (its participants are told to reconnect) instead of dying")
    parser.add_argument("--reconnect", action="store_true",
                        help="subscribers follow `reconnect` messages and, when their edge drops, ask joined.alternates")
    args = parser.parse_args()

    stop = asyncio.Event()
    subscribers = [Subscriber(f"subscriber{i + 1}", loss=args.loss_percent if i == 0 else 0) for i in range(len(args.subscriber))]
    urls = {s.name: (args.subscriber_url[i] if i < len(args.subscriber_url) else args.url) for i, s in enumerate(subscribers)}

    for s in subscribers:
        s.reconnect = args.reconnect

    def url_of(subscriber):
        return urls[subscriber.name]
    runs = []
    started = time.monotonic()
    for subscriber, token in list(zip(subscribers, args.subscriber))[: args.early_subscribers]:
        subscriber.started = started
        runs.append(asyncio.ensure_future(subscriber.run(url_of(subscriber), token, stop)))
    early = [s.joined.wait() for s in subscribers[: args.early_subscribers]]
    if early:
        await asyncio.wait_for(asyncio.gather(*early), 20)
    uplink = []
    ws, pc, joined = await publish(args.url, args.publisher, uplink_loss=args.uplink_loss_percent, relays=uplink)
    for subscriber, token in list(zip(subscribers, args.subscriber))[args.early_subscribers:]:
        subscriber.started = time.monotonic()
        runs.append(asyncio.ensure_future(subscriber.run(url_of(subscriber), token, stop)))

    # Wait for the first video frame everywhere (bounded), then measure for --seconds.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(s.video_frames > 0 for s in subscribers):
        await asyncio.sleep(0.1)
    measure_from = time.monotonic()
    killed_at = None
    while time.monotonic() < measure_from + args.seconds:
        if args.kill_pid and killed_at is None and time.monotonic() >= measure_from + args.kill_after:
            import os, signal
            os.kill(args.kill_pid, signal.SIGTERM if args.kill_signal == "TERM" else signal.SIGKILL)
            killed_at = time.monotonic()
        await asyncio.sleep(0.1)
    for subscriber in subscribers:  # gaps only count once media flows
        subscriber.frame_times = [t for t in subscriber.frame_times if t >= measure_from - 0.5] or subscriber.frame_times
    stop.set()
    await asyncio.gather(*runs, return_exceptions=True)

    reports = [s.report() for s in subscribers]
    if killed_at is not None:
        for s, r in zip(subscribers, reports):
            r["resumedAfterKillSeconds"] = s.resumed_after(killed_at)
    result = {"node": joined.get("node"), "seconds": args.seconds, "subscribers": reports,
              "uplinkDropped": uplink[0].dropped if uplink else 0}
    failures = []
    for r in reports:
        if r["videoFrames"] < args.min_frames:
            failures.append(f"{r['name']} decoded {r['videoFrames']} video frames (< {args.min_frames})")
        if r["audioFrames"] == 0:
            failures.append(f"{r['name']} decoded no audio")
        if r["resolutions"] != ["640x480"]:
            failures.append(f"{r['name']} resolutions {r['resolutions']}")
        if r["maxGapSeconds"] is None or r["maxGapSeconds"] > args.max_gap:
            failures.append(f"{r['name']} longest gap between frames {r['maxGapSeconds']} s (> {args.max_gap})")
    result["failures"] = failures
    print(json.dumps(result))

    for s in subscribers:
        await s.pc.close()
        try:
            await s.ws.send(json.dumps({"type": "leave"}))
            await s.ws.close()
        except Exception:
            pass
    await pc.close()
    await ws.close()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
