#!/usr/bin/env bash
# The forwarding benchmark of docs/benchmarks.md (issue 4): a release build, fresh SQLite files,
# `scim-bridge genesys-sim` in its own process.
#   1. creates, GETs, filters, PATCHes and pages (../shared/bench/peers.sh) while the outbox
#      worker drains every change into an unlimited simulator, beside the same run with the
#      worker held back by a 300/min limit;
#   2. IdP burst: Genesys calls per IdP change once coalesced (scripts/bench_genesys.py burst);
#   3. drain rate against a limit of N requests/min, and the share of 429s (bench_genesys.py drain).
# Usage: scripts/bench-genesys.sh [--limit N] [--users U]   (about 10 minutes; needs wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
bin=$PWD/target/release/scim-bridge
work=$(mktemp -d /tmp/scim-bridge-bench-genesys.XXXXXX)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
token="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
sims=()
trap 'for p in "${sims[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

for limit in 300 1000000; do
  sp=$(port); bp=$(port)
  "$bin" genesys-sim --listen "127.0.0.1:$sp" --client-id bench --client-secret bench-secret \
    --rate-limit-per-minute "$limit" >"$work/sim-$limit.log" 2>&1 &
  sims+=($!)
  echo "== creates while the worker drains into a simulator allowing $limit requests/min"
  ../shared/bench/peers.sh --peers none --name "scim-bridge (Genesys limit $limit/min)" \
    --url "http://127.0.0.1:$bp/scim/v2" --token "$token" \
    --start "SCIM_BRIDGE_BOOTSTRAP_TOKEN=$token SCIM_BRIDGE_GENESYS_API_URL=http://127.0.0.1:$sp SCIM_BRIDGE_GENESYS_LOGIN_URL=http://127.0.0.1:$sp SCIM_BRIDGE_GENESYS_CLIENT_ID=bench SCIM_BRIDGE_GENESYS_CLIENT_SECRET=bench-secret RUST_LOG=warn exec $bin --database $work/creates-$limit.db serve --listen 127.0.0.1:$bp" \
    --patch-type eightbyeight --work "$work"
  python3 - "$sp" <<'PY'
import json, sys, urllib.request
s = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/sim/stats"))
calls = sum(sum(v.values()) for k, v in s["by_route"].items() if "/api/v2" in k)
print(f"   Genesys received {calls} API calls during that run ({len(s['creates_by_user_name'])} users created)")
PY
done
python3 scripts/bench_genesys.py "$bin" "$work" "$@"
