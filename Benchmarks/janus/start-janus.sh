#!/usr/bin/env bash
# Starts Debian's Janus (1.1.2) for `demarc loadtest --target janus`, configured by this
# folder (janus.jcfg: one media event loop, HTTP API on 127.0.0.1:8088, VideoRoom only,
# warnings-only logging) and pinned to one CPU like our SFU's thread (`--sfu-cpu`).
# Prints Janus's PID on stdout once its HTTP API answers; its log goes to $JANUS_LOG.
#
#   Benchmarks/janus/start-janus.sh [CPU]      # CPU defaults to 0
#   kill <printed pid>                          # to stop it
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cpu="${1:-0}"
log="${JANUS_LOG:-/tmp/demarc-janus.log}"
janus="${JANUS:-/usr/bin/janus}"
[ -x "$janus" ] || { echo "no $janus: apt-get install janus (or make bench-janus)" >&2; exit 1; }
if curl -s -o /dev/null --max-time 1 http://127.0.0.1:8088/janus/info; then
  echo "something already answers on 127.0.0.1:8088 (another Janus?): stop it first" >&2; exit 1
fi
taskset -c "$cpu" "$janus" -F "$here" --disable-colors >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if curl -s -o /dev/null --max-time 1 http://127.0.0.1:8088/janus/info; then echo "$pid"; exit 0; fi
  kill -0 "$pid" 2>/dev/null || { echo "janus exited; see $log" >&2; exit 1; }
  sleep 0.1  # polling a process we just started, not a test waiting for an event
done
echo "janus did not answer on :8088 within 10 s; see $log" >&2
kill "$pid"; exit 1
