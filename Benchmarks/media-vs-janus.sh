#!/usr/bin/env bash
# Issue 6's side-by-side media benchmark: the same publisher shape and subscriber count
# against our SFU (in-process, its event-loop thread pinned to CPU 0) and against Janus's
# VideoRoom (the whole Janus process pinned to CPU 0), the load generator on CPU 1 both
# times. Prints each run's report and `result {json}` line, then a table.
#
#   Benchmarks/media-vs-janus.sh [SUBSCRIBERS...]     # default: 10 50 100
#   SECONDS_PER_RUN=5 KBPS=2500 Benchmarks/media-vs-janus.sh 10 50
#
# Needs: a release build of demarc-loadtest (built here if missing) and /usr/bin/janus
# (`make bench-janus` installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
subscribers=("${@:-10 50 100}")
read -r -a subscribers <<<"${subscribers[*]}"
seconds="${SECONDS_PER_RUN:-5}"
kbps="${KBPS:-2500}"
tool=.build/release/demarc-loadtest
[ -x "$tool" ] || swift build -c release --product demarc-loadtest
janus_pid="$(Benchmarks/janus/start-janus.sh 0)"
stop_janus() {
  kill "$janus_pid" 2>/dev/null || return 0
  for _ in $(seq 1 30); do kill -0 "$janus_pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$janus_pid" 2>/dev/null || true
}
trap stop_janus EXIT
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); janus pid $janus_pid"
results=()
for n in "${subscribers[@]}"; do
  for target in demarc janus; do
    extra=(); [ "$target" = demarc ] && extra=(--sfu-cpu 0) || extra=(--janus-pid "$janus_pid")
    echo "== $target, $n subscribers, --simulcast-kbps $kbps, $seconds s (load average $(cut -d' ' -f1 /proc/loadavg))"
    out="$(taskset -c 1 "$tool" --target "$target" --subscribers "$n" --simulcast-kbps "$kbps" --seconds "$seconds" "${extra[@]}")"
    echo "$out"
    results+=("$(grep '^result ' <<<"$out")")
  done
done
echo
echo "| target | subscribers | delivered | delivered pkt/s | server CPU (% of a core) | delivered per server-core-second | latency p50 / p99 ms |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for line in "${results[@]}"; do
  python3 - "${line#result }" <<'PY'
import json, sys
r = json.loads(sys.argv[1])
print(f"| {r['target']} | {r['subscribers']} | {r['deliveredPercent']:.1f} % | {r['deliveredPerSecond']:,.0f} | {r['serverCorePercent']:.1f} | {r['deliveredPerServerCoreSecond']:,.0f} | {r['latencyP50Ms']:.2f} / {r['latencyP99Ms']:.1f} |")
PY
done
