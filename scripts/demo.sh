#!/usr/bin/env bash
# The `make demo` walk-through: a policy checked, then a real local multi-region cluster
# (five `demarc node run` processes on 127.0.0.1: DE ×2, IE, CH, US) running an EU-only
# meeting, losing a node, refusing a Swiss-only meeting it cannot serve, and proving
# where the meeting's data went. Usage: scripts/demo.sh PATH/TO/demarc
set -euo pipefail
DEMARC=${1:?usage: demo.sh PATH/TO/demarc}
cd "$(dirname "$0")/.."
OUT=demo-out
STATE="$OUT/cluster"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# A cluster left by an interrupted demo is stopped first; ours is stopped on any exit.
[ -f "$STATE/cluster.json" ] && "$DEMARC" cluster down --state-dir "$STATE" >/dev/null 2>&1 || true
rm -rf "$OUT"; mkdir -p "$OUT"
trap '"$DEMARC" cluster down --state-dir "$STATE" --keep-state >/dev/null 2>&1 || true' EXIT

step "1. A tenant's residency policy (Topologies/policies/eu-only.yaml) is validated"
"$DEMARC" policy validate Topologies/policies/eu-only.yaml

step "2. A policy with mistakes: every problem, its line, and a fix (exit code 1 is expected)"
"$DEMARC" policy validate Topologies/policies/broken.yaml || echo "(exit $? — rejected, as it should be)"

step "3. A local cluster from Topologies/local.yaml: keys, operator-signed certificates, one process per node"
"$DEMARC" cluster up Topologies/local.yaml --state-dir "$STATE"

python3 scripts/demo_meeting.py --demarc "$DEMARC" --state "$STATE"

step "The cluster is stopped (SIGTERM: each node drains, leaves the gossip cluster and exits)"
trap - EXIT
"$DEMARC" cluster down --state-dir "$STATE" --keep-state
printf '\nNode logs, keys and configs are in %s/ (the reports too).\n' "$STATE"
