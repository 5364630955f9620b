#!/usr/bin/env python3
"""Checks GET /v1/rtc refuses what it must: bad tokens, missing grants, unadmitted meetings.

Driven by MediaSignalingTests, which issues the tokens. Exits non-zero on the first check
that does not hold, printing which.
"""

import argparse
import asyncio
import json
import sys

import websockets


async def first_reply(url, first_message, timeout=10):
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps(first_message))
        return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def rejected_upgrade(url):
    try:
        async with websockets.connect(url):
            return None
    except websockets.InvalidStatus as error:
        return error.response.status_code


async def main():
    parser = argparse.ArgumentParser()
    for name in ["url", "subscribe-only", "other-meeting", "admin", "expired", "good"]:
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args()
    url = args.url
    failures = []

    def check(condition, what):
        print(("ok   " if condition else "FAIL ") + what)
        if not condition:
            failures.append(what)

    status = await rejected_upgrade(f"{url}?token={args.expired}")
    # hummingbird-websocket answers every refused upgrade with 400, whatever shouldUpgrade threw.
    check(status in (400, 401), f"an expired token in the URL is refused before the upgrade (got {status})")

    reply = await first_reply(url, {"type": "publish", "sdp": "v=0"})
    check(reply.get("code") == "unauthenticated", f"a first message other than join is unauthenticated ({reply})")

    reply = await first_reply(url, {"type": "join", "token": "not.a.token"})
    check(reply.get("code") == "invalid_token", f"a forged token is refused ({reply})")

    reply = await first_reply(url, {"type": "join", "token": args.admin})
    check(reply.get("code") == "forbidden", f"a tenant-admin token cannot join ({reply})")

    reply = await first_reply(url, {"type": "join", "token": args.other_meeting})
    check(reply.get("code") == "not_admitted" and "another node" in reply.get("message", ""),
          f"the node's admission hook refuses a meeting placed elsewhere ({reply})")

    async with websockets.connect(f"{url}?token={args.subscribe_only}") as ws:
        await ws.send(json.dumps({"type": "join"}))
        joined = json.loads(await ws.recv())
        check(joined.get("type") == "joined" and joined.get("participant") == "sam", f"a subscribe-only token joins ({joined})")
        check(joined.get("node", {}).get("jurisdiction") == "DE", "joined names the node's jurisdiction")
        await ws.send(json.dumps({"type": "publish", "sdp": "v=0\r\n"}))
        reply = json.loads(await ws.recv())
        check(reply.get("code") == "missing_grant", f"publishing without the publish grant is refused ({reply})")

    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"type": "join", "token": args.good}))
        joined = json.loads(await ws.recv())
        check(joined.get("type") == "joined", f"a token in the first message joins ({joined})")
        await ws.send(json.dumps({"type": "publish", "sdp": "this is not sdp"}))
        reply = json.loads(await ws.recv())
        check(reply.get("code") == "negotiation_failed", f"an offer that is not SDP gets negotiation_failed ({reply})")
        await ws.send("{not json")
        reply = json.loads(await ws.recv())
        check(reply.get("code") == "bad_message", f"malformed JSON gets bad_message ({reply})")
        await ws.send(json.dumps({"type": "mute", "track": "T99", "muted": True}))
        reply = json.loads(await ws.recv())
        check(reply.get("code") == "media_error", f"muting an unknown track is refused ({reply})")
        # The same identity cannot join the meeting twice at once.
        async with websockets.connect(url) as twin:
            await twin.send(json.dumps({"type": "join", "token": args.good}))
            reply = json.loads(await twin.recv())
            check(reply.get("code") == "media_error" and "already" in reply.get("message", ""), f"a second join is refused ({reply})")

    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
