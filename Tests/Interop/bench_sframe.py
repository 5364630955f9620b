#!/usr/bin/env python3
"""Per-frame cost of the native client's SFrame protect/unprotect (Demarc layout), like
Tests/js/bench.mjs. Prints a human line and `sframe-bench {json}` per frame size.

Run: python3 Tests/Interop/bench_sframe.py
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sframe  # noqa: E402

key = sframe.random_media_key()
kid = sframe.make_key_id(1, 0)
sender = sframe.SFrameSender(kid, key)
receiver = sframe.SFrameReceiver()
receiver.add_key(kid, key)

for label, size, n in [("audio 160 B", 160, 20000), ("video 1200 B", 1200, 20000), ("video 30 kB", 30000, 5000)]:
    frame = bytearray(os.urandom(size))
    frame[0] |= 1  # VP8 interframe
    frame = bytes(frame)
    codec = "opus" if label.startswith("audio") else "vp8"
    for _ in range(500):  # warm-up
        sframe.unprotect_frame(sframe.protect_frame(frame, codec, sender), codec, receiver)
    t = time.perf_counter()
    sealed = [sframe.protect_frame(frame, codec, sender) for _ in range(n)]
    enc = (time.perf_counter() - t) * 1e6 / n
    t = time.perf_counter()
    for s in sealed:
        sframe.unprotect_frame(s, codec, receiver)
    dec = (time.perf_counter() - t) * 1e6 / n
    print(f"{label}: protect {enc:.1f} µs/frame, unprotect {dec:.1f} µs/frame (n={n})")
    print("sframe-bench " + json.dumps({"implementation": "python-cryptography", "runtime": f"python {sys.version.split()[0]}",
                                        "codec": codec, "bytes": size, "frames": n,
                                        "protectMicros": round(enc, 1), "unprotectMicros": round(dec, 1)}))
