#!/usr/bin/env python3
"""Simulcast under a bandwidth cap: headless Chromium publishes three layers, an aiortc
subscriber receives them through a rate-limiting relay.

- Chromium (the web client in Web/, fake camera at 640x480) publishes with rids q, h, f;
- an aiortc subscriber's downlink from the SFU goes through `RateLimitedRelay`, a
  bottleneck that paces the SFU's RTP at a configurable rate and drops what would wait
  longer than its queue allows (a drop-tail queue, like a congested access link);
- phase "open": no cap; the subscriber settles on the layer the SFU gives it;
- phase "capped": the cap is switched on (--cap-kbps); the subscriber must get a lower
  resolution (the SFU's estimate from the subscriber's receiver-report loss falls);
- phase "lifted": the cap is off again; the resolution must come back up.

Prints one JSON object (phases, resolutions over time, relay counters, failures) and exits
non-zero on failure. Drives chromedriver over its plain W3C WebDriver HTTP API.
"""

import argparse
import asyncio
import json
import sys
import time

from chromium_check import STATS, start_chromium
from interop import LossyRelay, Subscriber


class RateLimitedRelay(LossyRelay):
    """A UDP relay whose SFU → client RTP leaves at `rate` bit/s at most.

    Packets queue behind each other (the departure time of each is the previous one's plus
    its serialisation time); a packet that would wait longer than `max_queue` seconds is
    dropped. STUN, DTLS and RTCP pass at once, as in `LossyRelay`. `rate` None: no cap.
    """

    def __init__(self, sfu=None, max_queue=0.25):
        super().__init__(sfu, 0)
        self.rate = None
        self.max_queue = max_queue
        self.next_free = 0.0
        self.bytes_by_second = {}

    def from_sfu(self, data, address):
        if self.client is None:
            return
        is_rtp = len(data) > 1 and 128 <= data[0] <= 191 and not 192 <= data[1] <= 223
        if not is_rtp or self.rate is None:
            self._deliver(data)
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        start = max(now, self.next_free)
        if start - now > self.max_queue:
            self.dropped += 1
            return
        self.next_free = start + len(data) * 8 / self.rate
        if start <= now:
            self._deliver(data)
        else:
            loop.call_at(start, self._deliver, data)

    def _deliver(self, data):
        self.relayed += 1
        second = int(time.monotonic())
        self.bytes_by_second[second] = self.bytes_by_second.get(second, 0) + len(data)
        self.downstream.sendto(data, self.client)


class TimedSubscriber(Subscriber):
    """Records each decoded video frame's time and resolution."""

    def __init__(self, name, relay):
        super().__init__(name, relay=relay)
        self.frames = []  # (monotonic time, width, height)

    async def consume(self, track):
        while True:
            try:
                frame = await track.recv()
            except Exception:
                return
            if track.kind == "video":
                self.video_frames += 1
                self.frames.append((time.monotonic(), frame.width, frame.height))
            else:
                self.audio_frames += 1

    def widths_between(self, start, end):
        return [w for t, w, _ in self.frames if start <= t < end]


async def wait_for(condition, timeout, step=0.25):
    """Polls `condition` until true or `timeout` seconds; returns whether it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(step)
    return condition()


def summary(widths):
    counts = {}
    for w in widths:
        counts[w] = counts.get(w, 0) + 1
    return {str(k): v for k, v in sorted(counts.items())}


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", required=True, help="http://localhost:PORT")
    parser.add_argument("--browser", required=True, help="token of the Chromium publisher")
    parser.add_argument("--subscriber", required=True, help="token of the aiortc subscriber")
    parser.add_argument("--cap-kbps", type=float, default=300)
    parser.add_argument("--open-seconds", type=float, default=8, help="uncapped time before the cap")
    parser.add_argument("--drop-within", type=float, default=45, help="the resolution must drop within this many seconds of the cap")
    parser.add_argument("--capped-seconds", type=float, default=6, help="time kept capped after the drop")
    parser.add_argument("--recover-within", type=float, default=45, help="the resolution must recover within this many seconds of lifting")
    args = parser.parse_args()
    ws_url = args.http.replace("http://", "ws://") + "/v1/rtc"

    relay = RateLimitedRelay()
    subscriber = TimedSubscriber("capped-subscriber", relay)
    subscriber.started = time.monotonic()
    stop = asyncio.Event()
    run = asyncio.ensure_future(subscriber.run(ws_url, args.subscriber, stop))

    driver_process, driver = await start_chromium()
    failures = []
    phases = {}
    chromium = {}
    capped_at = None
    try:
        await asyncio.to_thread(driver.navigate, f"{args.http}/index.html?token={args.browser}&simulcast=1")

        # Open: wait for video, then let Chromium's estimator ramp up its layers.
        if not await wait_for(lambda: len(subscriber.frames) > 10, 45):
            failures.append("no video reached the subscriber")
            raise RuntimeError("no video")
        opened = time.monotonic()
        await asyncio.sleep(args.open_seconds)
        chromium = await asyncio.to_thread(driver.script, STATS)
        capped_at = time.monotonic()
        open_widths = subscriber.widths_between(capped_at - 3, capped_at)
        top = max(open_widths or [0])
        phases["open"] = {"seconds": round(capped_at - opened, 2), "widthsLast3s": summary(open_widths)}

        # Capped: the subscriber must be moved to a lower resolution.
        relay.rate = args.cap_kbps * 1000
        dropped = await wait_for(lambda: any(w < top for w in subscriber.widths_between(capped_at, time.monotonic())), args.drop_within)
        dropped_at = time.monotonic()
        if not dropped:
            failures.append(f"the resolution did not drop below {top} within {args.drop_within}s of a {args.cap_kbps} kbit/s cap")
        await asyncio.sleep(args.capped_seconds)
        lifted_at = time.monotonic()
        phases["capped"] = {"capKbps": args.cap_kbps, "dropAfterSeconds": round(dropped_at - capped_at, 2) if dropped else None,
                            "widths": summary(subscriber.widths_between(capped_at, lifted_at)),
                            "relayDropped": relay.dropped}

        # Lifted: back up to the open phase's resolution.
        relay.rate = None
        recovered = await wait_for(lambda: any(w >= top for w in subscriber.widths_between(lifted_at, time.monotonic())), args.recover_within)
        recovered_at = time.monotonic()
        if not recovered:
            failures.append(f"the resolution did not return to {top} within {args.recover_within}s of lifting the cap")
        await asyncio.sleep(1)
        phases["lifted"] = {"sinceCapSeconds": round(lifted_at - capped_at, 2),
                            "recoverAfterSeconds": round(recovered_at - lifted_at, 2) if recovered else None,
                            "widths": summary(subscriber.widths_between(lifted_at, time.monotonic()))}
    except RuntimeError:
        pass
    finally:
        await asyncio.to_thread(driver.quit)
        driver_process.kill()
        stop.set()
        await asyncio.gather(run, return_exceptions=True)
        await subscriber.pc.close()

    # Width changes of the decoded video, in seconds since the cap (for diagnosis).
    transitions = []
    reference = capped_at
    for t, w, _ in subscriber.frames:
        if reference is not None and t < reference - 3:
            continue
        if not transitions or transitions[-1][1] != w:
            transitions.append((round(t - reference, 2) if reference else round(t, 2), w))
    base = min(relay.bytes_by_second) if relay.bytes_by_second else 0
    print(json.dumps({"phases": phases, "chromium": chromium,
                      "relayKbpsBySecond": {k - base: round(v * 8 / 1000) for k, v in sorted(relay.bytes_by_second.items())},
                      "relayDropped": relay.dropped, "framesDecoded": len(subscriber.frames),
                      "widthChangesSinceCap": transitions[:40], "failures": failures}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
