#!/usr/bin/env python3
"""Headless Chromium joins through the web client (Web/) while aiortc publishes and subscribes.

- an aiortc publisher sends generated video + audio;
- headless Chromium (Debian's chromium + chromedriver, fake camera and microphone) opens
  http://localhost:PORT/index.html?token=..., publishes its fake camera and receives;
- an aiortc subscriber receives both publishers.

Passes when Chromium's subscriber connection reports framesDecoded > 0 (getStats), the
banner names the node's jurisdiction, and the aiortc subscriber decoded frames of two video
tracks (aiortc's and Chromium's). Drives chromedriver over its plain W3C WebDriver HTTP API.
"""

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.request

from interop import Subscriber, publish


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriver:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.session = None

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"{}").get("value")

    def start(self):
        value = self.call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                "--autoplay-policy=no-user-gesture-required",
            ]}}}})
        self.session = value["sessionId"]

    def navigate(self, url):
        self.call("POST", f"/session/{self.session}/url", {"url": url})

    def script(self, source):
        return self.call("POST", f"/session/{self.session}/execute/async", {"script": source, "args": []})

    def quit(self):
        if self.session:
            try:
                self.call("DELETE", f"/session/{self.session}")
            except Exception:
                pass


async def start_chromium():
    """Starts chromedriver on a free port and a headless Chromium session; returns (process, driver)."""
    port = free_port()
    process = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    driver = WebDriver(port)
    for _ in range(100):
        try:
            driver.call("GET", "/status")
            break
        except Exception:
            await asyncio.sleep(0.1)
    await asyncio.to_thread(driver.start)
    return process, driver


STATS = """
const done = arguments[arguments.length - 1];
const d = window.demarc;
if (!d || !d.subscriber) { done({frames: 0, banner: document.getElementById('banner').textContent}); return; }
Promise.all([d.subscriber.getStats(), d.publisher ? d.publisher.getStats() : Promise.resolve(new Map())]).then(([report, sent]) => {
  let frames = 0, width = 0, outgoing = null, framesSent = 0;
  report.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'video') { frames += s.framesDecoded || 0; width = s.frameWidth || width; } });
  sent.forEach((s) => {
    if (s.type === 'candidate-pair' && s.nominated && s.availableOutgoingBitrate) outgoing = s.availableOutgoingBitrate;
    if (s.type === 'outbound-rtp' && s.kind === 'video') framesSent += s.framesSent || 0;
  });
  done({frames, width, availableOutgoingBitrate: outgoing, framesSent, banner: document.getElementById('banner').textContent});
}).catch((e) => done({frames: 0, error: String(e)}));
"""


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", required=True, help="http://localhost:PORT")
    parser.add_argument("--publisher", required=True)
    parser.add_argument("--browser", required=True)
    parser.add_argument("--subscriber", required=True)
    parser.add_argument("--simulcast", action="store_true", help="Chromium publishes three simulcast layers")
    args = parser.parse_args()
    ws_url = args.http.replace("http://", "ws://") + "/v1/rtc"

    ws, pc, _ = await publish(ws_url, args.publisher)
    subscriber = Subscriber("aiortc-subscriber")
    subscriber.started = time.monotonic()
    stop = asyncio.Event()
    run = asyncio.ensure_future(subscriber.run(ws_url, args.subscriber, stop))

    driver_process, driver = await start_chromium()
    result = {"frames": 0}
    failures = []
    try:
        await asyncio.to_thread(driver.navigate, f"{args.http}/index.html?token={args.browser}" + ("&simulcast=1" if args.simulcast else ""))
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            result = await asyncio.to_thread(driver.script, STATS)
            if result.get("frames", 0) > 30 and len(subscriber.per_track) >= 2 and min(subscriber.per_track.values()) > 10:
                break
            await asyncio.sleep(0.5)
    finally:
        await asyncio.to_thread(driver.quit)
        driver_process.kill()
        stop.set()
        await asyncio.gather(run, return_exceptions=True)
        await subscriber.pc.close()
        await pc.close()
        await ws.close()

    if result.get("frames", 0) <= 0:
        failures.append(f"Chromium decoded no frames: {result}")
    if "jurisdiction DE" not in result.get("banner", ""):
        failures.append(f"banner does not name the jurisdiction: {result.get('banner')!r}")
    if len(subscriber.per_track) < 2 or min(subscriber.per_track.values()) == 0:
        failures.append(f"aiortc subscriber video frames per track: {subscriber.per_track}")
    print(json.dumps({"chromium": result, "aiortcSubscriberFramesPerTrack": subscriber.per_track,
                      "aiortcSubscriberResolutions": {k: sorted(v) for k, v in subscriber.track_resolutions.items()},
                      "failures": failures}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
