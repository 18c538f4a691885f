#!/usr/bin/env bash
# The forwarding benchmark of docs/benchmarks.md (issue 4): a release build, fresh SQLite files,
# `scim-bridge genesys-sim` in its own process.
#   1. creates, GETs, filters, PATCHes and pages (scripts/bench/measure.sh) while the outbox
#      worker drains every change into an unlimited simulator, beside the same run with the
#      worker held back by a 300/min limit;
#   2. IdP burst: Genesys calls per IdP change once coalesced (scripts/bench_genesys.py burst);
#   3. drain rate against a limit of N requests/min, and the share of 429s (bench_genesys.py drain).
# Usage: scripts/bench-genesys.sh [--bin PATH] [--limit N] [--users U] [--latency MS] [--only drain|burst]
#   --bin PATH measures that binary instead of building target/release/scim-bridge; the other
#   options go to scripts/bench_genesys.py. About 10 minutes; needs wrk, curl and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench/lib.sh

bin=""
if [ "${1:-}" = "--bin" ]; then
  [ $# -ge 2 ] || { echo "bench-genesys.sh: --bin needs a path" >&2; exit 2; }
  bin="$2"; shift 2
fi
command -v wrk >/dev/null || { echo "bench-genesys.sh: wrk not found (Debian: apt-get install wrk)" >&2; exit 2; }
if [ -z "$bin" ]; then
  cargo build --release --locked
  bin="${CARGO_TARGET_DIR:-target}/release/scim-bridge"
fi
[ -x "$bin" ] || { echo "bench-genesys.sh: $bin is not an executable" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
work=$(mktemp -d "${TMPDIR:-/tmp}/scim-bridge-bench-genesys.XXXXXX")
SCIM_BEARER_TOKEN="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export SCIM_BEARER_TOKEN
SIM_PID=""
trap '[ -z "$SIM_PID" ] || stop_pid "$SIM_PID"' EXIT

for limit in 300 1000000; do
  sim_port=$(free_port); port=$(free_port)
  "$bin" genesys-sim --listen "127.0.0.1:$sim_port" --client-id bench --client-secret bench-secret \
    --rate-limit-per-minute "$limit" > "$work/sim-$limit.log" 2>&1 &
  SIM_PID=$!
  for _ in $(seq 300); do
    curl -fsS -o /dev/null "http://127.0.0.1:$sim_port/sim/stats" 2>/dev/null && break
    sleep 0.1
  done
  curl -fsS -o /dev/null "http://127.0.0.1:$sim_port/sim/stats" \
    || { tail -n 30 "$work/sim-$limit.log" >&2; echo "bench-genesys.sh: genesys-sim did not start" >&2; exit 1; }
  echo "== creates while the worker drains into a simulator allowing $limit requests/min"
  (
    unset SCIM_BRIDGE_GENESYS_REGION
    export SCIM_BRIDGE_BOOTSTRAP_TOKEN="$SCIM_BEARER_TOKEN" RUST_LOG=warn \
      SCIM_BRIDGE_GENESYS_API_URL="http://127.0.0.1:$sim_port" SCIM_BRIDGE_GENESYS_LOGIN_URL="http://127.0.0.1:$sim_port" \
      SCIM_BRIDGE_GENESYS_CLIENT_ID=bench SCIM_BRIDGE_GENESYS_CLIENT_SECRET=bench-secret
    BRIDGE_PID=""
    trap '[ -z "$BRIDGE_PID" ] || stop_pid "$BRIDGE_PID"' EXIT
    start_bridge "$bin" "$work/creates-$limit.db" "$port" "$work/bridge-$limit.log"
    scripts/bench/measure.sh --url "http://127.0.0.1:$port/scim/v2" --pid "$BRIDGE_PID" \
      --name "scim-bridge (Genesys limit $limit/min)" --work "$work/measure-$limit"
  )
  python3 - "$sim_port" <<'PY'
import json, sys, urllib.request
s = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/sim/stats"))
calls = sum(sum(v.values()) for k, v in s["by_route"].items() if "/api/v2" in k)
print(f"   Genesys received {calls} API calls during that run ({len(s['creates_by_user_name'])} users created)")
PY
  stop_pid "$SIM_PID"; SIM_PID=""
done
python3 scripts/bench_genesys.py "$bin" "$work" "$@"
