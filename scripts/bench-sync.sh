#!/usr/bin/env bash
# `scim-bridge sync` (issue 12, docs/sync.md) timed on a generated directory export
# (scripts/bench/sync_csv.py, deterministic), release build, fresh SQLite database:
#   (a) N users into an empty bridge
#   (b) the same export with 1 % of the rows changed (a new 8x8 number): only those are sent
#   (c) with --peer-scim2-server: (a) and (b) against scim2-server (Python, in memory, from PyPI
#       in a venv), with --peer-users rows (default 5000: it is much slower)
#
# Usage: scripts/bench-sync.sh [--bin PATH] [--users N] [--peer-scim2-server] [--peer-users M]
#                              [--venv DIR]
# Needs curl, python3, and cargo unless --bin is given; the peer needs python3 -m venv and pip.
set -euo pipefail
here_before_cd=$PWD
cd "$(dirname "$0")/.."
. scripts/bench/lib.sh
absolute() { case "$1" in /*) printf '%s\n' "$1";; *) printf '%s\n' "$here_before_cd/$1";; esac; }

bin="" users=50000 peer=0 peer_users=5000 venv=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0;;
    --peer-scim2-server) peer=1; shift; continue;;
  esac
  [ $# -ge 2 ] || { echo "bench-sync.sh: $1 needs a value (try --help)" >&2; exit 2; }
  case "$1" in
    --bin) bin=$(absolute "$2");; --users) users="$2";; --peer-users) peer_users="$2";;
    --venv) venv=$(absolute "$2");;
    *) echo "bench-sync.sh: unknown option $1 (try --help)" >&2; exit 2;;
  esac
  shift 2
done
if [ -z "$bin" ]; then
  cargo build --release --locked
  bin="${CARGO_TARGET_DIR:-target}/release/scim-bridge"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/scim-bridge-bench-sync.XXXXXX")
token="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$token" > "$work/token"
export SCIM_BRIDGE_BOOTSTRAP_TOKEN="$token"
BRIDGE_PID="" PEER_PID=""
cleanup() {
  [ -z "$BRIDGE_PID" ] || stop_pid "$BRIDGE_PID"
  [ -z "$PEER_PID" ] || stop_pid "$PEER_PID"
}
trap cleanup EXIT

measure() { # label url csv -> one line: label, wall seconds, counts
  local label=$1 url=$2 csv=$3 start end rc=0
  start=$(date +%s.%N)
  "$bin" sync --source "$csv" --url "$url" --token-file "$work/token" --json \
    > "$work/$label.json" 2> "$work/$label.err" || rc=$?
  end=$(date +%s.%N)
  python3 - "$label" "$work/$label.json" "$start" "$end" "$rc" <<'PY'
import json, sys
label, path, start, end, rc = sys.argv[1:]
r = json.load(open(path))
keys = ["created", "updated", "unchanged", "failed", "skipped", "groups_created", "groups_updated", "requests", "retries"]
print(f"{label}: exit={rc} wall_s={float(end) - float(start):.2f} " + " ".join(f"{k}={r.get(k)}" for k in keys))
PY
}

python3 scripts/bench/sync_csv.py "$users" > "$work/users.csv"
python3 scripts/bench/sync_csv.py "$users" 1 > "$work/users-1pct.csv"
port=$(free_port)
start_bridge "$bin" "$work/bridge.db" "$port" "$work/bridge.log"
url="http://127.0.0.1:$port/scim/v2"
echo "scim-bridge, $users users ($(nproc) cores):"
measure "a-bridge-empty-$users" "$url" "$work/users.csv"
measure "b-bridge-1pct-$users" "$url" "$work/users-1pct.csv"
measure "b2-bridge-again-$users" "$url" "$work/users-1pct.csv"
stop_pid "$BRIDGE_PID"; BRIDGE_PID=""

if [ "$peer" = 1 ]; then
  if [ -z "$venv" ]; then venv="$work/venv"; fi
  if [ ! -x "$venv/bin/scim2-server" ]; then
    python3 -m venv "$venv" && "$venv/bin/pip" install -q scim2-server \
      || { echo "bench-sync.sh: could not install scim2-server; skipping the peer" >&2; exit 0; }
  fi
  python3 scripts/bench/sync_csv.py "$peer_users" > "$work/peer.csv"
  python3 scripts/bench/sync_csv.py "$peer_users" 1 > "$work/peer-1pct.csv"
  pport=$(free_port)
  "$venv/bin/scim2-server" --hostname 127.0.0.1 --port "$pport" --bearer-token "$token" > "$work/peer.log" 2>&1 &
  PEER_PID=$!
  for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$pport/ServiceProviderConfig" 2>/dev/null && break; sleep 0.2; done
  echo "scim2-server $("$venv/bin/pip" show scim2-server 2>/dev/null | sed -n 's/^Version: //p'), $peer_users users:"
  measure "c-scim2-server-empty-$peer_users" "http://127.0.0.1:$pport" "$work/peer.csv"
  measure "c-scim2-server-1pct-$peer_users" "http://127.0.0.1:$pport" "$work/peer-1pct.csv"
  measure "c-scim2-server-again-$peer_users" "http://127.0.0.1:$pport" "$work/peer-1pct.csv"
fi
echo "(outputs in $work)"
