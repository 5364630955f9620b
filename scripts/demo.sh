#!/usr/bin/env bash
# The `make demo` walk-through: a tenant's policy checked, an operator's node
# certificate issued and verified, and a meeting placed on the local topology,
# then re-placed after a node is lost. Usage: scripts/demo.sh PATH/TO/demarc
set -euo pipefail
DEMARC=${1:?usage: demo.sh PATH/TO/demarc}
cd "$(dirname "$0")/.."
OUT=demo-out
rm -rf "$OUT"; mkdir -p "$OUT"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. A tenant's residency policy (Topologies/policies/eu-only.yaml) is validated"
"$DEMARC" policy validate Topologies/policies/eu-only.yaml

step "2. A policy with mistakes: every problem, its line, and a fix (exit code 1 is expected)"
"$DEMARC" policy validate Topologies/policies/broken.yaml || echo "(exit $? — rejected, as it should be)"

step "3. The operator pins node fra-1 to eu-de-fra (DE) with a signed certificate"
"$DEMARC" operator keygen --out "$OUT/operator.key"
"$DEMARC" node keygen --out "$OUT/fra-1.key"
"$DEMARC" node cert issue --operator-key "$OUT/operator.key" --node-key "$OUT/fra-1.key.pub" \
    --node-id fra-1 --region eu-de-fra --jurisdiction DE --days 90 --out "$OUT/fra-1.cert"
"$DEMARC" node cert verify "$OUT/fra-1.cert" --operator-key "$OUT/operator.key.pub"
"$DEMARC" operator keygen --out "$OUT/impostor.key" > /dev/null
echo "-- the same certificate checked against a key that did not sign it:"
"$DEMARC" node cert verify "$OUT/fra-1.cert" --operator-key "$OUT/impostor.key.pub" || echo "(exit $? — not trusted)"

step "4. Where would an EU-only meeting with people in DE, IE, CH and the US run on the local cluster?"
echo "   (then fra-1 is lost, and the meeting is re-placed on compliant nodes only)"
"$DEMARC" placement explain --topology Topologies/local.yaml --policy Topologies/policies/eu-only.yaml \
    --participants Topologies/participants/demo-meeting.yaml --fail fra-1

step "5. A Swiss-only tenant on the same cluster, after its only Swiss node is lost: refused, never moved abroad"
"$DEMARC" placement explain --topology Topologies/local.yaml --policy Topologies/policies/swiss-only.json \
    --participants Topologies/participants/demo-meeting.yaml --fail zrh-1 || echo "(exit $? — refused: no compliant node)"

step "6. The gossip control plane, simulated: 30 nodes, 5 % packet loss, one node crashes"
"$DEMARC" simulate gossip --nodes 30 --loss 5% --seed 1 --crash 1 2>/dev/null

step "7. Access tokens: the operator mints one offline with the cluster token key, and checks it"
"$DEMARC" node keygen --out "$OUT/tokens.key" > /dev/null
TOKEN=$("$DEMARC" token issue --key "$OUT/tokens.key" --role operator --subject ops@example.org --ttl 600)
"$DEMARC" token inspect "$TOKEN" --key "$OUT/tokens.key.pub"

printf '\nKeys and the certificate are in %s/. JSON output: add --json to any explain command.\n' "$OUT"
