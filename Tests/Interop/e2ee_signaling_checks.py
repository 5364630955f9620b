#!/usr/bin/env python3
"""Checks the E2EE additions to GET /v1/rtc (docs/signaling.md) over a live WebSocket.

Driven by MediaSignalingTests, which issues the tokens for one E2EE-required meeting:
identity keys at join (malformed ones refused), sender slots in `joined`, identity keys and
slots in `participantJoined`, `mediaKey` relayed only to its recipient and stamped with the
sender, `unknown_participant`, and `e2ee_required` for a publisher without an identity key.
Exits non-zero if any check fails, printing which.
"""

import argparse
import asyncio
import base64
import json
import os
import sys

import websockets


async def until(ws, accept, timeout=10):
    """The first message for which accept(message) is true (others are skipped)."""
    async def read():
        while True:
            message = json.loads(await ws.recv())
            if accept(message):
                return message
    try:
        return await asyncio.wait_for(read(), timeout)
    except asyncio.TimeoutError:
        return None


def b64(data):
    return base64.b64encode(data).decode()


async def main():
    parser = argparse.ArgumentParser()
    for name in ["url", "alice", "bob", "carol", "node"]:
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()
    url = args.url
    failures = []

    def check(condition, what):
        print(("ok   " if condition else "FAIL ") + what)
        if not condition:
            failures.append(what)

    for label, key in [("not base64", "%%%not base64%%%"), ("31 bytes", b64(os.urandom(31))), ("all zero", b64(bytes(32)))]:
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"type": "join", "token": args.alice, "e2ee": {"identityKey": key}}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
            check(reply.get("code") == "bad_message", f"an identity key that is {label} is bad_message ({reply})")

    alice_key, carol_key = os.urandom(32), os.urandom(32)
    alice = await websockets.connect(f"{url}?token={args.alice}")
    bob = await websockets.connect(f"{url}?token={args.bob}")
    carol = await websockets.connect(f"{url}?token={args.carol}")
    try:
        await alice.send(json.dumps({"type": "join", "e2ee": {"identityKey": b64(alice_key)}}))
        joined = await until(alice, lambda m: m.get("type") == "joined") or {}
        e2ee = joined.get("e2ee", {})
        alice_slot = e2ee.get("slot", 0)
        check(e2ee.get("required") is True, f"joined says the meeting requires E2EE ({joined})")
        check(0 < alice_slot < 2 ** 31, f"joined carries a sender slot in 1..<2^31 ({alice_slot})")
        check(e2ee.get("meeting") == "acme/secure", f"joined names the meeting id sealed keys are bound to ({e2ee})")
        check(joined.get("node", {}).get("jurisdiction") == "DE", "joined still names the node's location")

        await bob.send(json.dumps({"type": "join"}))
        bob_joined = await until(bob, lambda m: m.get("type") == "joined") or {}
        bob_slot = bob_joined.get("e2ee", {}).get("slot", 0)
        check(bob_slot > 0 and bob_slot != alice_slot, f"bob, without E2EE, still gets a slot of his own ({bob_slot})")
        seen = await until(bob, lambda m: m.get("type") == "participantJoined" and m.get("participant") == "alice") or {}
        check(seen.get("identityKey") == b64(alice_key) and seen.get("slot") == alice_slot and seen.get("node") == args.node,
              f"participantJoined for those present carries identityKey, slot and node ({seen})")
        await bob.send(json.dumps({"type": "publish", "sdp": "v=0\r\n"}))
        reply = await until(bob, lambda m: m.get("type") == "error") or {}
        check(reply.get("code") == "e2ee_required", f"publishing without an identity key is refused ({reply})")

        await carol.send(json.dumps({"type": "join", "e2ee": {"identityKey": b64(carol_key)}}))
        carol_joined = await until(carol, lambda m: m.get("type") == "joined") or {}
        carol_slot = carol_joined.get("e2ee", {}).get("slot", 0)
        check(carol_slot not in (0, alice_slot, bob_slot), f"slots are unique in the meeting ({alice_slot}, {bob_slot}, {carol_slot})")
        news = await until(alice, lambda m: m.get("type") == "participantJoined" and m.get("participant") == "carol") or {}
        check(news.get("identityKey") == b64(carol_key) and news.get("slot") == carol_slot,
              f"a newcomer's participantJoined carries its key and slot ({news})")
        plain = await until(carol, lambda m: m.get("type") == "participantJoined" and m.get("participant") == "bob") or {}
        check("identityKey" not in plain and "slot" not in plain, f"a participant without E2EE shows no key or slot ({plain})")

        to_carol, to_bob = b64(b"\x01" + os.urandom(72)), b64(b"\x01" + os.urandom(72))
        await alice.send(json.dumps({"type": "mediaKey", "to": "carol", "envelope": to_carol}))
        await alice.send(json.dumps({"type": "mediaKey", "to": "bob", "envelope": to_bob}))
        got = await until(carol, lambda m: m.get("type") == "mediaKey") or {}
        check(got.get("from") == "alice" and got.get("envelope") == to_carol, f"carol gets alice's envelope, stamped with the sender ({got})")
        got = await until(bob, lambda m: m.get("type") == "mediaKey") or {}
        check(got.get("envelope") == to_bob, f"bob's first envelope is his own, not carol's ({got})")
        # A client cannot pose as someone else: `from` is the server's.
        await carol.send(json.dumps({"type": "mediaKey", "to": "bob", "from": "alice", "envelope": to_bob}))
        got = await until(bob, lambda m: m.get("type") == "mediaKey") or {}
        check(got.get("from") == "carol", f"the server stamps the real sender ({got})")

        for label, message, code in [
            ("to someone absent", {"type": "mediaKey", "to": "nobody", "envelope": to_bob}, "unknown_participant"),
            ("over 512 bytes", {"type": "mediaKey", "to": "bob", "envelope": b64(os.urandom(513))}, "bad_message"),
            ("not base64", {"type": "mediaKey", "to": "bob", "envelope": "@@@"}, "bad_message"),
            ("without a recipient", {"type": "mediaKey", "envelope": to_bob}, "bad_message"),
        ]:
            await alice.send(json.dumps(message))
            reply = await until(alice, lambda m: m.get("type") == "error") or {}
            check(reply.get("code") == code, f"a media key {label} gets {code} ({reply})")
        # Non-fatal: alice's session goes on.
        await alice.send(json.dumps({"type": "mediaKey", "to": "carol", "envelope": to_carol}))
        got = await until(carol, lambda m: m.get("type") == "mediaKey") or {}
        check(got.get("envelope") == to_carol, "the session survives those errors")
    finally:
        for ws in (alice, bob, carol):
            await ws.close()

    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
