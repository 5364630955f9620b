#!/usr/bin/env python3
"""The web client reconnects when its edge sends it away (docs/signaling.md, "Reconnecting").

Three signaling nodes, driven by MediaSignalingTests: A serves the page and has an aiortc
publisher; B is no edge of this participant and answers `reconnect` with C; C has another
aiortc publisher. Headless Chromium joins at A and decodes A's publisher. The test then has
A send `reconnect` without an edge (retry): the client asks the alternates `joined` listed
(B), follows B's `reconnect` to C, and decodes C's publisher there.

Passes when Chromium decoded video at A, then at C with `demarc.reconnects == 1` and the
banner naming C's jurisdiction. Prints a JSON verdict.
"""

import argparse
import asyncio
import json
import subprocess
import sys
import time

from chromium_check import WebDriver, free_port
from interop import publish

STATE = """
const done = arguments[arguments.length - 1];
const d = window.demarc;
if (!d) { done({}); return; }
const base = {node: d.node && d.node.node, reconnects: d.reconnects, visited: d.visited, errors: d.errors,
              banner: document.getElementById('banner').textContent, log: document.getElementById('log').textContent.slice(-1500)};
if (!d.subscriber) { done(Object.assign(base, {frames: 0})); return; }
d.subscriber.getStats().then((report) => {
  let frames = 0;
  report.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0; });
  done(Object.assign(base, {frames}));
}).catch((e) => done(Object.assign(base, {frames: 0, error: String(e)})));
"""


async def wait_for(driver, condition, seconds):
    deadline = time.monotonic() + seconds
    state = {}
    while time.monotonic() < deadline:
        state = await asyncio.to_thread(driver.script, STATE)
        if condition(state):
            return True, state
        await asyncio.sleep(0.3)
    return False, state


async def main():
    parser = argparse.ArgumentParser()
    for name in ["http-a", "url-c", "publisher-a", "publisher-c", "browser", "ready-file"]:
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()
    url_a = args.http_a.replace("http://", "ws://") + "/v1/rtc"
    publishers = [await publish(url_a, args.publisher_a), await publish(args.url_c, args.publisher_c)]

    port = free_port()
    driver_process = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    driver = WebDriver(port)
    failures = []
    at_a = at_c = {}
    try:
        for _ in range(100):
            try:
                driver.call("GET", "/status")
                break
            except Exception:
                await asyncio.sleep(0.1)
        await asyncio.to_thread(driver.start)
        await asyncio.to_thread(driver.navigate, f"{args.http_a}/index.html?token={args.browser}")
        ok, at_a = await wait_for(driver, lambda s: s.get("node") == "A" and s.get("frames", 0) > 10, 45)
        if not ok:
            failures.append(f"Chromium decoded nothing at A: {at_a}")
        # Tell the test to have A send the browser away.
        open(args.ready_file, "w").write("ready")
        ok, at_c = await wait_for(driver, lambda s: s.get("node") == "C" and s.get("frames", 0) > 10, 45)
        if not ok:
            failures.append(f"Chromium did not decode video at C after the reconnect: {at_c}")
        if at_c.get("reconnects") != 1:
            failures.append(f"expected one reconnect, got {at_c.get('reconnects')}")
        if "jurisdiction CH" not in at_c.get("banner", ""):
            failures.append(f"banner does not name C's jurisdiction: {at_c.get('banner')!r}")
    finally:
        await asyncio.to_thread(driver.quit)
        driver_process.kill()
        for ws, pc, _ in publishers:
            await pc.close()
            await ws.close()
    print(json.dumps({"atA": {k: at_a.get(k) for k in ("node", "frames", "visited")},
                      "atC": {k: at_c.get(k) for k in ("node", "frames", "reconnects", "visited", "banner")},
                      "log": at_c.get("log"), "failures": failures}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
