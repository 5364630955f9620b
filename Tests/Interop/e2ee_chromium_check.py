#!/usr/bin/env python3
"""End-to-end encryption through the SFU, with the web client in headless Chromium.

Driven by MediaSignalingTests (which runs the node in-process and issues the tokens). One
Chromium (Debian's chromium + chromedriver, fake camera and microphone), one window per
participant, all through the node's SFU:

1. E2EE-required meeting: alice and bob publish; each decodes the other's video
   (getStats framesDecoded) and its worker decrypted frames of the other's sender slot; both
   show the same safety code, and the roster names the node each is connected to.
2. mallory joins with ?e2eeTestWrongKey=1 (it seals to the others a key it does not encrypt
   with): alice and bob fail to decrypt frames of mallory's slot and decrypt none of them,
   while mallory, given ratcheted keys on joining, decrypts alice. All three codes agree.
3. mallory leaves: alice and bob rotate to a fresh key and keep decrypting each other.
4. A plain client (?e2ee=0, no identity key) is refused with e2ee_required when it publishes;
   one that declares a key but sends plaintext (?e2eeTestPlaintext=1) has its media refused
   by the SFU (the Swift test checks the violation counter).
5. e2ee: off meeting: a plain publisher's video is decoded by a plain viewer.

Prints one JSON report; exits non-zero with the failed checks listed.
"""

import argparse
import json
import subprocess
import sys
import time

from chromium_check import WebDriver, free_port

STATE = """
const done = arguments[arguments.length - 1];
const d = window.demarc, s = window.demarcE2EEStats;
const out = {frames: 0, e2ee: s ? JSON.parse(JSON.stringify(s)) : null, errors: d ? d.errors : [],
             slot: d && d.e2ee ? d.e2ee.slot : null,
             kid: d && d.e2ee ? d.e2ee.schedule.kid.toString(16) : null,
             roster: (document.getElementById('roster') || {}).textContent || '',
             safety: (document.getElementById('safety') || {}).textContent || ''};
out.sent = 0;
Promise.all([d && d.subscriber ? d.subscriber.getStats() : Promise.resolve(new Map()),
             d && d.publisher ? d.publisher.getStats() : Promise.resolve(new Map())]).then(([received, sent]) => {
  received.forEach((r) => { if (r.type === 'inbound-rtp' && r.kind === 'video') out.frames += r.framesDecoded || 0; });
  sent.forEach((r) => { if (r.type === 'outbound-rtp' && r.kind === 'video') out.sent += r.framesSent || 0; });
  done(out);
}).catch((e) => { out.error = String(e); done(out); });
"""


class Browser(WebDriver):
    def start(self):
        value = self.call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
                "--autoplay-policy=no-user-gesture-required", "--disable-background-timer-throttling",
                "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
            ]}}}})
        self.session = value["sessionId"]
        self.windows = {}
        self.current = None

    def open(self, name, url):
        if self.windows:
            handle = self.call("POST", f"/session/{self.session}/window/new", {"type": "window"})["handle"]
            self.switch(handle)
        else:
            handle = self.call("GET", f"/session/{self.session}/window")
            self.current = handle
        self.windows[name] = handle
        self.navigate(url)

    def switch(self, handle):
        if self.current != handle:
            self.call("POST", f"/session/{self.session}/window", {"handle": handle})
            self.current = handle

    def state(self, name):
        self.switch(self.windows[name])
        return self.script(STATE)

    def close(self, name):
        """Leaves the meeting: the page is unloaded, so its WebSocket and peer connections close
        (the window itself stays, blank, which is simpler for chromedriver than closing it)."""
        self.switch(self.windows.pop(name))
        self.navigate("about:blank")


def summary(report):
    """The numbers worth reading in a passing run."""
    def pick(state, *path):
        for key in path:
            state = (state or {}).get(key) if isinstance(state, dict) else None
        return state
    out = {}
    for phase in ("pair", "wrongKey"):
        for name, state in (report.get(phase) or {}).items():
            out[f"{phase}.{name}"] = {"slot": state.get("slot"), "videoFramesDecoded": state.get("frames"),
                                      "decryptedBySlot": pick(state, "e2ee", "decryptedBySlot"),
                                      "failuresBySlot": pick(state, "e2ee", "failuresBySlot"),
                                      "safetyCode": pick(state, "e2ee", "safetyCode")}
    for name, state in (report.get("afterLeave") or {}).items():
        out[f"afterLeave.{name}"] = {"kid": state.get("kid"), "decryptedBySlot": pick(state, "e2ee", "decryptedBySlot")}
    out["plain.errors"] = pick(report, "plain", "errors")
    out["pretender.framesSent"] = pick(report, "pretender", "sent")
    out["open.viewerFramesDecoded"] = pick(report, "open", "openViewer", "frames")
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--http", required=True, help="http://localhost:PORT")
    for name in ["alice", "bob", "mallory", "plain", "pretender", "open-publisher", "open-viewer", "node"]:
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--timeout", type=float, default=40)
    args = parser.parse_args()
    page = f"{args.http}/index.html?token="
    failures, report = [], {}

    def check(condition, what):
        if not condition:
            failures.append(what)
        return condition

    def wait(what, names, accept, timeout=args.timeout):
        """Polls the windows' state until accept(states) holds; returns the last states."""
        deadline = time.monotonic() + timeout
        while True:
            states = {n: browser.state(n) for n in names}
            if accept(states):
                return states, True
            if time.monotonic() > deadline:
                failures.append(f"timed out waiting for {what}: {json.dumps(states)[:3000]}")
                return states, False
            time.sleep(0.5)

    port = free_port()
    driver = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    browser = Browser(port)
    try:
        for _ in range(100):
            try:
                browser.call("GET", "/status")
                break
            except Exception:
                time.sleep(0.1)
        browser.start()

        # 1. Two E2EE participants see each other.
        browser.open("alice", page + args.alice)
        browser.open("bob", page + args.bob)

        def both_decrypt(s):
            a, b = s["alice"], s["bob"]
            return (a["slot"] and b["slot"] and a["frames"] > 10 and b["frames"] > 10
                    and a["e2ee"]["decryptedBySlot"].get(str(b["slot"]), 0) > 10
                    and b["e2ee"]["decryptedBySlot"].get(str(a["slot"]), 0) > 10
                    and a["e2ee"]["safetyCode"] and a["e2ee"]["safetyCode"] == b["e2ee"]["safetyCode"])
        states, ok = wait("alice and bob to decode each other's encrypted video", ["alice", "bob"], both_decrypt)
        report["pair"] = states
        a, b = states["alice"], states["bob"]
        if ok:
            check(a["e2ee"]["framesEncrypted"] > 0 and b["e2ee"]["framesEncrypted"] > 0, "both encrypt")
            check(a["e2ee"]["decryptFailures"] == 0 and b["e2ee"]["decryptFailures"] == 0, f"no decrypt failures between keyed peers")
            check(f"node {args.node}" in a["roster"], f"the roster names the node ({a['roster']!r})")
            check(len(a["e2ee"]["safetyCode"]) == 23, f"the safety code is 4 groups of 5 digits ({a['e2ee']['safetyCode']!r})")
        alice_slot, bob_slot = str(a["slot"]), str(b["slot"])

        # 2. Mallory's media is sealed under a key nobody got.
        browser.open("mallory", page + args.mallory + "&e2eeTestWrongKey=1")

        def mallory_unreadable(s):
            m = s["mallory"]
            if not m["slot"]:
                return False
            slot = str(m["slot"])
            return (all(s[n]["e2ee"]["failuresBySlot"].get(slot, 0) > 5 for n in ("alice", "bob"))
                    and m["e2ee"]["decryptedBySlot"].get(alice_slot, 0) > 5
                    and len({s[n]["e2ee"]["safetyCode"] for n in s}) == 1)
        states, ok = wait("mallory's frames to fail for alice and bob", ["alice", "bob", "mallory"], mallory_unreadable)
        report["wrongKey"] = states
        mallory_slot = str(states["mallory"]["slot"])
        for n in ("alice", "bob"):
            check(states[n]["e2ee"]["decryptedBySlot"].get(mallory_slot, 0) == 0, f"{n} decrypted none of mallory's frames")
        check(states["alice"]["e2ee"]["safetyCode"] != a["e2ee"]["safetyCode"], "the safety code changed when mallory joined")

        # 3. Mallory leaves: a fresh key, and alice and bob still read each other.
        before = states["alice"]["e2ee"]["decryptedBySlot"].get(bob_slot, 0)
        browser.close("mallory")

        def rotated(s):
            a, b = s["alice"], s["bob"]
            return (int(a["kid"], 16) & 0xFFFF) >= 2 and (int(b["kid"], 16) & 0xFFFF) >= 1 \
                and a["e2ee"]["decryptedBySlot"].get(bob_slot, 0) > before + 30 \
                and a["e2ee"]["safetyCode"] == b["e2ee"]["safetyCode"]
        states, ok = wait("alice and bob to rotate and keep decrypting", ["alice", "bob"], rotated)
        report["afterLeave"] = {n: {"kid": st["kid"], "e2ee": st["e2ee"]} for n, st in states.items()}
        check(states["alice"]["e2ee"]["safetyCode"] == a["e2ee"]["safetyCode"], "the code is back to the pair's once mallory left")
        browser.close("bob")
        browser.close("alice")

        # 4. Clients that do not encrypt, in the required meeting.
        browser.open("plain", page + args.plain + "&e2ee=0")
        states, _ = wait("the plain publisher to be refused", ["plain"], lambda s: "e2ee_required" in s["plain"]["errors"])
        report["plain"] = states["plain"]
        browser.open("pretender", page + args.pretender + "&e2eeTestPlaintext=1")
        states, _ = wait("the plaintext pretender to send video", ["pretender"], lambda s: s["pretender"]["sent"] > 10)
        report["pretender"] = states["pretender"]
        check(not states["pretender"]["errors"], f"the pretender declared a key, so its publish was accepted ({states['pretender']['errors']})")
        browser.close("plain")

        # 5. e2ee: off — plain media flows.
        browser.open("openPublisher", page + args.open_publisher)
        browser.open("openViewer", page + args.open_viewer)
        states, _ = wait("the viewer to decode the plain publisher", ["openPublisher", "openViewer"],
                         lambda s: s["openViewer"]["frames"] > 10)
        report["open"] = states
        check(not states["openViewer"]["e2ee"]["enabled"], "no E2EE in an e2ee: off meeting by default")
    except Exception as error:  # a driver failure is a failed check, with the report so far
        failures.append(f"{type(error).__name__}: {error}")
    finally:
        browser.quit()
        driver.kill()
    print(json.dumps({"failures": failures, "summary": summary(report), "report": report}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
