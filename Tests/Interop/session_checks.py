#!/usr/bin/env python3
"""Checks a signaling session's life (docs/signaling.md, "Session lifetime" and
"Reconnecting"): it ends when its token expires unless refreshed, a refresh must be for the
same participant, a participant sent elsewhere gets `reconnect`, and `joined` names the
alternates.

Driven by MediaSignalingTests, which issues the tokens and, for --pushed, calls
`SignalingSessions.redirect` once the participant is joined. Exits non-zero if a check
does not hold, printing which.
"""

import argparse
import asyncio
import json
import sys
import time

import websockets


async def join(url, token):
    ws = await websockets.connect(f"{url}?token={token}")
    try:
        await ws.send(json.dumps({"type": "join", "autoSubscribe": False}))
    except websockets.ConnectionClosed:
        pass  # sent away at admission (`reconnect`, then close) before the join went out: read what came
    return ws


async def next_of(ws, kinds, timeout):
    """The next message whose type is in `kinds` (others skipped), or None at timeout or close."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), remaining))
        except (asyncio.TimeoutError, websockets.ConnectionClosed):
            return None
        if message["type"] in kinds:
            return message


async def closed_within(ws, timeout):
    try:
        await asyncio.wait_for(ws.wait_closed(), timeout)
        return True
    except asyncio.TimeoutError:
        return False


async def main():
    parser = argparse.ArgumentParser()
    for name in ["url", "short", "short-refreshed", "long", "other-participant", "moved", "retry", "pushed"]:
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--short-seconds", type=float, required=True, help="how long the short tokens live (exp - now)")
    args = parser.parse_args()
    failures = []

    def check(condition, what):
        print(("ok   " if condition else "FAIL ") + what)
        if not condition:
            failures.append(what)

    # Expiry and refresh: two short-lived sessions; one refreshes with a long token.
    expiring = await join(args.url, args.short)
    refreshed = await join(args.url, args.short_refreshed)
    joined = await next_of(expiring, {"joined"}, 10)
    check(joined is not None and isinstance(joined.get("expiresAt"), int), f"joined carries expiresAt: {joined}")
    check(joined is not None and joined.get("alternates") == [{"node": "fra-2", "signaling": "ws://fra-2.example/v1/rtc"}],
          f"joined names the alternates: {joined and joined.get('alternates')}")
    joined_refreshed = await next_of(refreshed, {"joined"}, 10)
    check(joined_refreshed is not None, "the second short session joined")
    await refreshed.send(json.dumps({"type": "refresh", "token": args.other_participant}))
    wrong = await next_of(refreshed, {"error", "refreshed"}, 10)
    check(wrong is not None and wrong.get("code") == "invalid_token", f"a refresh for another participant is refused: {wrong}")
    await refreshed.send(json.dumps({"type": "refresh", "token": args.long}))
    renewed = await next_of(refreshed, {"refreshed", "error"}, 10)
    check(renewed is not None and renewed["type"] == "refreshed" and renewed.get("expiresAt", 0) > joined_refreshed.get("expiresAt", 0),
          f"a refresh with a later token extends the session: {renewed}")
    expired = await next_of(expiring, {"error"}, args.short_seconds + 10)
    check(expired is not None and expired.get("code") == "token_expired", f"the unrefreshed session is told token_expired: {expired}")
    check(await closed_within(expiring, 20), "the unrefreshed session's socket is closed")
    check(refreshed.state.name == "OPEN", f"the refreshed session is still open after the other expired ({refreshed.state.name})")
    await refreshed.send(json.dumps({"type": "join"}))
    still = await next_of(refreshed, {"error"}, 5)
    check(still is not None and still.get("code") == "unexpected_message", f"the refreshed session still answers requests: {still}")
    await refreshed.close()

    # Admission sends a participant whose edge is elsewhere there (or to retry).
    moved = await join(args.url, args.moved)
    reconnect = await next_of(moved, {"reconnect", "joined", "error"}, 10)
    check(reconnect is not None and reconnect["type"] == "reconnect"
          and reconnect.get("edge", {}).get("signaling") == "ws://zrh-1.example/v1/rtc",
          f"a participant of another edge is told reconnect with that edge: {reconnect}")
    check(await closed_within(moved, 20), "and its socket is closed")
    retry = await join(args.url, args.retry)
    later = await next_of(retry, {"reconnect", "joined", "error"}, 10)
    check(later is not None and later["type"] == "reconnect" and "edge" not in later and later.get("retryAfter") == 300,
          f"a participant whose edge is being re-placed is told to retry: {later}")

    # The node moves a joined participant (drain, re-placement).
    pushed = await join(args.url, args.pushed)
    check(await next_of(pushed, {"joined"}, 10) is not None, "the pushed participant joined")
    moved_on = await next_of(pushed, {"reconnect"}, 30)
    check(moved_on is not None and moved_on.get("edge", {}).get("node") == "dub-1",
          f"a joined participant is told reconnect when the node moves it: {moved_on}")
    check(await closed_within(pushed, 20), "and its socket is closed")

    print(json.dumps({"failures": failures}))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    asyncio.run(main())
