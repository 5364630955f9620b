#!/usr/bin/env python3
"""The meeting half of `make demo`: drives a running local cluster over HTTP as an
operator, a tenant admin and participants would, and prints where the meeting went.

Usage: demo_meeting.py --demarc BIN --state DIR
DIR is a `demarc cluster up` state directory: its cluster.json names the nodes (id, region,
jurisdiction, HTTP endpoint, pid), the operator token file and the operator key. The script
asserts what it shows (exit status 1 when the cluster does not behave), so the tests run it too.
"""
import argparse, json, os, signal, subprocess, sys, time, urllib.request, urllib.error

BOLD, DIM, END = "\033[1m", "\033[2m", "\033[0m"
# Report enums are encoded by their stable wire values (Sources/Transparency/LogEntry.swift).
CATEGORIES = {1: "media", 2: "signaling", 3: "relay", 4: "logs", 5: "recordings", 6: "transparency"}
REFUSALS = {1: "jurisdiction not allowed", 2: "e2ee unavailable", 3: "no capacity", 4: "draining", 5: "certificate invalid", 6: "policy unknown"}

def step(text):
    print(f"\n{BOLD}== {text}{END}", flush=True)

def call(method, base, path, token=None, body=None, raw=None):
    data = raw.encode() if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(base + path, data=data, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            text = r.read().decode()
            return r.status, (json.loads(text) if text.strip().startswith(("{", "[")) else text)
    except urllib.error.HTTPError as e:
        text = e.read().decode()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text

def eventually(what, timeout, fn):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    sys.exit(f"timed out waiting for {what}")

def show_placement(m, nodes_by_id):
    print(f"  meeting {m['id']}: {m['status']}, shape {m['shape']}, home {m['home']}, generation {m['generation']}")
    for a in m["assignments"]:
        print(f"    {a['participant']:<28} -> {a['edge']:<6} ({a['region']}, {a['jurisdiction']})")
    for link in m.get("relay_tree", []):
        print(f"    relay {link['parent']} <-> {link['child']} (~{link['rtt_ms']:.0f} ms)")
    used = set(m["nodes"])
    for e in m.get("exclusions", []):
        if e["node"] not in used:
            print(f"    {DIM}not used: {e['node']} ({e['jurisdiction']}): {'; '.join(e['reasons'])}{END}")

def tree_path(links, a, b):
    """The nodes a relayed packet crosses from a to b in the relay tree."""
    adjacent = {}
    for l in links:
        adjacent.setdefault(l["parent"], []).append(l["child"])
        adjacent.setdefault(l["child"], []).append(l["parent"])
    paths, seen = [[a]], {a}
    while paths:
        path = paths.pop(0)
        if path[-1] == b:
            return path
        for n in adjacent.get(path[-1], []):
            if n not in seen:
                seen.add(n)
                paths.append(path + [n])
    return [a, b]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--demarc", required=True)
    ap.add_argument("--state", required=True)
    args = ap.parse_args()
    cluster = json.load(open(os.path.join(args.state, "cluster.json")))
    nodes = [{"id": n["id"], "region": n["region"], "jurisdiction": n["jurisdiction"],
              "http": f"http://{n['http']['host']}:{n['http']['port']}", "pid": n["process"]["pid"]} for n in cluster["nodes"]]
    by_id = {n["id"]: n for n in nodes}
    us = next(n for n in nodes if n["jurisdiction"] == "US")
    op = open(cluster["operatorToken"]).read().strip()
    args.operator_key = cluster["operatorKey"] + (".pub" if not cluster["operatorKey"].endswith(".pub") else "")

    step("A tenant with an EU-only policy (created at the US node, policy put at another; both reach every node)")
    status, t = call("POST", us["http"], "/v1/tenants", op, {"id": "acme-health"})
    assert status == 201, (status, t)
    admin = t["admin_token"]
    policy = open("Topologies/policies/eu-only.yaml").read()
    eu_node = next(n for n in nodes if n["jurisdiction"] == "IE")
    eventually("the tenant to replicate", 15, lambda: call("PUT", eu_node["http"], "/v1/tenants/acme-health/policy", admin, raw=policy)[0] == 200)
    for n in nodes:
        eventually(f"the policy to reach {n['id']}", 15,
                   lambda n=n: (lambda r: r[0] == 200 and r[1].get("version") == 1)(call("GET", n["http"], "/v1/tenants/acme-health/policy", admin)))
    print("  tenant acme-health, policy v1 (media, signaling, relay, logs, transparency only in the EU; E2EE required), now on every node")

    step("A meeting with people in Germany, Ireland, France and the US, created at the US node")
    participants = [
        {"id": "ana@acme-health.example", "country": "DE"},
        {"id": "ben@acme-health.example", "country": "IE"},
        {"id": "chloe@acme-health.example", "country": "FR"},
        {"id": "dan@acme-health.example", "country": "US"},
    ]
    status, m = call("POST", us["http"], "/v1/meetings", admin, {"id": "consult-1", "participants": participants})
    assert status == 201, (status, m)
    show_placement(m, by_id)
    assert all(by_id[n]["jurisdiction"] in ("DE", "IE") for n in m["nodes"]), "placed outside the EU"

    step("Dan joins at the US node and is sent to a compliant edge")
    status, tok = call("POST", us["http"], "/v1/tenants/acme-health/tokens", admin, {"identity": "dan@acme-health.example", "meeting": "consult-1"})
    assert status == 201, (status, tok)
    status, j = call("POST", us["http"], "/v1/meetings/consult-1/join", tok["token"], {"country": "US"})
    assert status == 200, (status, j)
    print(f"  edge {j['edge']['node']} ({j['edge']['region']}, {j['edge']['jurisdiction']}), API {j['edge'].get('api')}")

    step("A cascaded meeting: two people each in Ireland, Germany and Switzerland, one node each, media relayed between them")
    _, tt = call("POST", us["http"], "/v1/tenants", op, {"id": "tri-clinic"})
    tri_admin = tt["admin_token"]
    tri_policy = "tenant: tri-clinic\nversion: 1\njurisdictions: [DE, IE, CH]\ne2ee: off\nparticipants: { domains: [tri.example] }\n"
    eventually("tri-clinic's policy", 15, lambda: call("PUT", us["http"], "/v1/tenants/tri-clinic/policy", tri_admin, raw=tri_policy)[0] == 200)
    people = [("ida", "IE"), ("ivo", "IE"), ("dora", "DE"), ("dirk", "DE"), ("chiara", "CH"), ("cyril", "CH")]
    status, rounds = call("POST", us["http"], "/v1/meetings", tri_admin, {"id": "rounds", "participants": [{"id": f"{p}@tri.example", "country": c} for p, c in people]})
    assert status == 201, (status, rounds)
    show_placement(rounds, by_id)
    tri_tokens, tri_edges = {}, {}
    for p, _ in people:
        _, t = call("POST", us["http"], "/v1/tenants/tri-clinic/tokens", tri_admin, {"identity": f"{p}@tri.example", "meeting": "rounds"})
        _, j = call("POST", us["http"], "/v1/meetings/rounds/join", t["token"])
        tri_tokens[p], tri_edges[p] = t["token"], j["edge"]
    first = {}
    for p, _ in people:
        first.setdefault(tri_edges[p]["node"], p)
    hubs = list(first.values())
    if rounds["shape"] == "cascaded" and len(hubs) >= 2:
        def links_open():
            total = 0
            for n in rounds["nodes"]:
                s_, page = call("GET", by_id[n]["http"], "/metrics")
                total += sum(float(l.split()[-1]) for l in str(page).splitlines() if l.startswith("demarc_relay_links_open "))
            return total >= 2 * len(rounds["relay_tree"])
        eventually("the relay links to open at both ends", 20, links_open)
        publisher, subs = hubs[0], hubs[1:]
        url = lambda p: tri_edges[p]["api"].replace("http://", "ws://") + "/v1/rtc"
        cmd = [sys.executable, "Tests/Interop/interop.py", "--url", url(publisher), "--publisher", tri_tokens[publisher], "--seconds", "4", "--min-frames", "20"]
        for p in subs:
            cmd += ["--subscriber", tri_tokens[p], "--subscriber-url", url(p)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        result = json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else {}
        print(f"  {publisher} publishes at {tri_edges[publisher]['node']}:")
        for p, sub in zip(subs, result.get("subscribers", [])):
            print(f"    {p} at {tri_edges[p]['node']} ({tri_edges[p]['jurisdiction']}): {sub['videoFrames']} video frames, {sub['audioFrames']} audio frames, "
                  f"longest gap {sub['maxGapSeconds'] or 0:.2f} s — relayed {' -> '.join(tree_path(rounds['relay_tree'], tri_edges[publisher]['node'], tri_edges[p]['node']))}")
        assert r.returncode == 0, r.stderr[-2000:]
        _, agg = call("GET", us["http"], "/v1/meetings/rounds/transparency", tri_admin)
        for entry in agg.get("reports", []):
            rel = (entry.get("report") or {}).get("summary", {}).get("relays", [])
            if rel:
                print(f"    {entry['node']}'s log: " + "; ".join(f"relay link {x['from']['node']} -> {x['to']['node']} opened" for x in rel))
    else:
        print("  (placement chose a single node for this meeting; nothing to relay)")

    home = m["home"]
    step(f"The home node {home} is killed (SIGKILL): the meeting moves, only to EU nodes")
    os.kill(by_id[home]["pid"], signal.SIGKILL)
    killed_at = time.monotonic()
    watcher = next(n for n in nodes if n["jurisdiction"] in ("DE", "IE") and n["id"] != home)
    def moved():
        s, r = call("GET", watcher["http"], "/v1/meetings/consult-1", admin)
        return r if s == 200 and r["status"] == "active" and home not in r["nodes"] else None
    m2 = eventually("failover", 30, moved)
    print(f"  re-placed {time.monotonic() - killed_at:.1f} s after the kill (failure detection, then the coordinator's re-placement)")
    show_placement(m2, by_id)
    assert all(by_id[n]["jurisdiction"] in ("DE", "IE") for n in m2["nodes"])

    step("Real media: an aiortc publisher and two subscribers through their edge node (a tenant with e2ee: off)")
    s_, ot = call("POST", watcher["http"], "/v1/tenants", op, {"id": "open-clinic"})
    open_admin = ot["admin_token"]
    open_policy = "tenant: open-clinic\nversion: 1\njurisdictions: [EU]\ne2ee: off\nparticipants: { domains: [open.example] }\n"
    eventually("open-clinic's policy", 15, lambda: call("PUT", watcher["http"], "/v1/tenants/open-clinic/policy", open_admin, raw=open_policy)[0] == 200)
    people = ["pia", "quinn", "ravi"]
    status, h = call("POST", watcher["http"], "/v1/meetings", open_admin, {"id": "huddle", "participants": [{"id": f"{p}@open.example", "country": "DE"} for p in people]})
    assert status == 201, (status, h)
    tokens, edge = [], None
    for p in people:
        _, t = call("POST", watcher["http"], "/v1/tenants/open-clinic/tokens", open_admin, {"identity": f"{p}@open.example", "meeting": "huddle"})
        _, j = call("POST", watcher["http"], "/v1/meetings/huddle/join", t["token"])
        edge = j["edge"]
        tokens.append(t["token"])
    ws = edge["api"].replace("http://", "ws://") + "/v1/rtc"
    r = subprocess.run([sys.executable, "Tests/Interop/interop.py", "--url", ws, "--publisher", tokens[0], "--subscriber", tokens[1],
                        "--subscriber", tokens[2], "--seconds", "4", "--min-frames", "20"], capture_output=True, text=True)
    result = json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else {}
    for sub in result.get("subscribers", []):
        print(f"  {sub['name']}: {sub['videoFrames']} video frames {'/'.join(sub['resolutions'])}, {sub['audioFrames']} audio frames, "
              f"longest gap {sub['maxGapSeconds']:.2f} s — via {edge['node']} ({edge['region']}, {edge['jurisdiction']})")
    assert r.returncode == 0, r.stderr[-2000:]
    print("  (in an e2ee: required meeting the SFU forwards only SFrame-encrypted frames: these unencrypted clients would be dropped)")

    step("A Swiss-only tenant after its only Swiss node is lost: refused with a typed error, never moved abroad")
    ch = next((n for n in nodes if n["jurisdiction"] == "CH"), None)
    status, t2 = call("POST", watcher["http"], "/v1/tenants", op, {"id": "helvetia-bank"})
    admin2 = t2["admin_token"]
    eventually("the Swiss tenant to be usable", 15,
               lambda: call("PUT", watcher["http"], "/v1/tenants/helvetia-bank/policy", admin2, raw=open("Topologies/policies/swiss-only.json").read())[0] == 200)
    if ch:
        os.kill(ch["pid"], signal.SIGKILL)
        def gone():
            s, c = call("GET", watcher["http"], "/v1/cluster")
            return s == 200 and any(x["node"] == ch["id"] and x["status"] != "alive" for x in c["members"])
        eventually("the Swiss node to be declared dead", 30, gone)
    status, r = call("POST", watcher["http"], "/v1/meetings", admin2, {"id": "board", "participants": [{"id": "urs@helvetia.example", "country": "CH"}]})
    print(f"  HTTP {status} {r.get('code')}: {r.get('message')}")
    assert status == 422 and r.get("code") == "no_compliant_node"

    step("Where consult-1's data went: one signed report per node, each verified offline")
    status, agg = call("GET", watcher["http"], "/v1/meetings/consult-1/transparency", admin)
    assert status == 200, (status, agg)
    failed = 0
    for i, entry in enumerate(agg["reports"]):
        if entry.get("report") is None:
            print(f"  {entry['node']}: {entry.get('error')}")
            continue
        path = os.path.join(args.state, f"report-{entry['node']}.json")
        json.dump(entry["report"], open(path, "w"))
        s = entry["report"]["summary"]
        where = sorted({f"{w['location']['node']} ({w['location']['jurisdiction']}): {', '.join(CATEGORIES.get(c, str(c)) for c in w['categories'])}" for w in s["processing"]})
        refusals = [f"{x['location']['node']} refused ({REFUSALS.get(x['reason'], x['reason'])})" for x in s.get("refusals", [])]
        print(f"  {BOLD}{entry['node']}{END}'s log: " + ("; ".join(where + refusals) or "nothing"))
        v = subprocess.run([args.demarc, "transparency", "verify", path, "--key", args.operator_key], capture_output=True, text=True)
        verdict = (v.stdout.strip().splitlines() or [""])[0]
        print(f"    verify: exit {v.returncode} — {verdict}")
        failed += v.returncode != 0
    if failed:
        sys.exit(f"{failed} report(s) did not verify")
    print(f"\nReports are in {args.state}/report-*.json; verify one yourself: {args.demarc} transparency verify FILE --key {args.operator_key}")

if __name__ == "__main__":
    main()
