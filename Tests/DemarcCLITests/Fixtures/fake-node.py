#!/usr/bin/env python3
"""A stand-in for `demarc node run --config FILE` in the cluster tests (run as
`cluster up --binary fake-node.py`): it reads the node.yaml that `cluster up` wrote,
answers GET /healthz (200) and GET /v1/cluster (itself only) on http.bind, and echoes
every UDP datagram on gossip.bind, so tests can measure the path between nodes.
It exits on SIGTERM, like a node."""
import http.server, json, re, socket, sys, threading

config = open(sys.argv[sys.argv.index("--config") + 1]).read()

def bind(section):
    m = re.search(r"^" + section + r":\n(?:  .*\n)*?  bind: \"([^\"]+)\"", config, re.M)
    host, port = m.group(1).rsplit(":", 1)
    return host, int(port)

node_id = re.search(r"^  id: (\S+)", config, re.M).group(1)

def echo():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(bind("gossip"))
    while True:
        data, peer = s.recvfrom(65536)
        s.sendto(data, peer)

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = {"/healthz": b"ok\n", "/v1/cluster": json.dumps({"members": [{"id": node_id}]}).encode()}.get(self.path)
        self.send_response(200 if body else 404)
        self.end_headers()
        self.wfile.write(body or b"")
    def log_message(self, *args):
        pass

threading.Thread(target=echo, daemon=True).start()
http.server.HTTPServer(bind("http"), Handler).serve_forever()
