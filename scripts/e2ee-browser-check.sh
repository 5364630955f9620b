#!/usr/bin/env bash
# Runs the E2EE browser checks in headless Chromium (Debian package `chromium`):
#  1. Tests/js/browser-check.html — the RFC 9605 vector, the Swift/JS interop fixture and the
#     VP8 layout through the browser's own WebCrypto;
#  2. Tests/js/browser-transform.html — Web/e2ee/worker.js as RTCRtpScriptTransform on a
#     loopback call with a fake camera and microphone.
# Each page POSTs "PASS ..." or "FAIL ..." to /result; exits non-zero unless both pass.
set -euo pipefail
cd "$(dirname "$0")/.."
CHROMIUM=${CHROMIUM:-chromium}
PORT=${PORT:-8765}
results=$(mktemp -d)
python3 - "$PORT" "$results" <<'PY' &
import http.server, sys, os, itertools
port, out = int(sys.argv[1]), sys.argv[2]
counter = itertools.count()
class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, '.js': 'text/javascript', '.mjs': 'text/javascript'}
    def log_message(self, *args): pass
    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length'] or 0))
        with open(os.path.join(out, f'{next(counter)}.txt'), 'wb') as f: f.write(body)
        self.send_response(204); self.end_headers()
http.server.ThreadingHTTPServer(('127.0.0.1', port), Handler).serve_forever()
PY
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$results"' EXIT
status=0
for page in browser-check browser-transform; do
  profile=$(mktemp -d)
  rm -f "$results"/*.txt
  "$CHROMIUM" --headless --no-sandbox --disable-gpu --user-data-dir="$profile" \
    --use-fake-device-for-media-stream --use-fake-ui-for-media-stream --autoplay-policy=no-user-gesture-required \
    "http://localhost:$PORT/Tests/js/$page.html" >/dev/null 2>&1 &
  browser=$!
  # Wait for the page to report (the browser has no exit signal of its own), at most 60 s.
  for _ in $(seq 600); do compgen -G "$results/*.txt" >/dev/null && break; sleep 0.1; done
  kill $browser 2>/dev/null || true
  wait $browser 2>/dev/null || true
  rm -rf "$profile"
  result=$(cat "$results"/*.txt 2>/dev/null || echo "FAIL no result from $page")
  echo "$page: $result"
  [[ $result == PASS* ]] || status=1
done
exit $status
