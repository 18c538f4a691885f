#!/usr/bin/env bash
# Creates through POST /Bulk against single POST /Users, on the same machine in the same run
# (docs/benchmarks.md, issue 12): a release build on a fresh database per measurement.
#   single  N users by POST /Users, 32 connections (scripts/bench/seed.lua under wrk)
#   bulk    N users by POST /Bulk in requests of B creates, over C connections (scripts/bench/bulk.py)
#
# Usage: scripts/bench-bulk.sh [--bin PATH] [--database sqlite|postgres|both] [--users N]
#                              [--batch B] [--connections C]
#   defaults: sqlite, 50000 users, batches of 1000, 2 connections. PostgreSQL is a throwaway
#   server of scripts/postgres.sh, stopped at the end.
# Needs wrk, curl, python3, and cargo unless --bin is given.
set -euo pipefail
here_before_cd=$PWD
cd "$(dirname "$0")/.."
. scripts/bench/lib.sh
absolute() { case "$1" in /*) printf '%s\n' "$1";; *) printf '%s\n' "$here_before_cd/$1";; esac; }

bin="" database=sqlite users=50000 batch=1000 connections=2
while [ $# -gt 0 ]; do
  case "$1" in -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0;; esac
  [ $# -ge 2 ] || { echo "bench-bulk.sh: $1 needs a value (try --help)" >&2; exit 2; }
  case "$1" in
    --bin) bin=$(absolute "$2");; --database) database="$2";; --users) users="$2";;
    --batch) batch="$2";; --connections) connections="$2";;
    *) echo "bench-bulk.sh: unknown option $1 (try --help)" >&2; exit 2;;
  esac
  shift 2
done
case "$database" in sqlite) dbs=(sqlite);; postgres) dbs=(postgres);; both) dbs=(sqlite postgres);;
  *) echo "bench-bulk.sh: --database is sqlite, postgres or both" >&2; exit 2;; esac
command -v wrk >/dev/null || { echo "bench-bulk.sh: wrk not found (Debian: apt-get install wrk)" >&2; exit 2; }
if [ -z "$bin" ]; then
  cargo build --release --locked
  bin="${CARGO_TARGET_DIR:-target}/release/scim-bridge"
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/scim-bridge-bench-bulk.XXXXXX")
SCIM_BEARER_TOKEN="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export SCIM_BEARER_TOKEN SCIM_BRIDGE_BOOTSTRAP_TOKEN="$SCIM_BEARER_TOKEN"
BRIDGE_PID="" pg_port=""
cleanup() {
  [ -z "$BRIDGE_PID" ] || stop_pid "$BRIDGE_PID"
  [ -z "$pg_port" ] || scripts/postgres.sh stop "$pg_port" >/dev/null 2>&1 || true
}
trap cleanup EXIT

case " ${dbs[*]} " in *" postgres "*) pg_port=$(free_port); pg_url=$(scripts/postgres.sh start "$pg_port");; esac

fresh_db() { # kind name -> a database URL or path
  if [ "$1" = sqlite ]; then echo "$work/$2.db"; return; fi
  local db="bench_$2"
  PGPASSWORD="$(python3 -c 'import sys,urllib.parse as u; print(u.urlsplit(sys.argv[1]).password)' "$pg_url")" \
    psql -q -h 127.0.0.1 -p "$pg_port" -U scim -d scim -c "CREATE DATABASE $db" >/dev/null
  echo "${pg_url%/*}/$db"
}

results=()
for db in "${dbs[@]}"; do
  for mode in single bulk; do
    port=$(free_port)
    start_bridge "$bin" "$(fresh_db "$db" "$mode")" "$port" "$work/$db-$mode.log"
    url="http://127.0.0.1:$port/scim/v2"
    if [ "$mode" = single ]; then
      mkdir -p "$work/$db-single"
      wrk -t1 -c32 -d3600s --timeout 30s -s scripts/bench/seed.lua "$url/Users" -- \
        "$users" "s" "$work/$db-single" eightbyeight > "$work/$db-single/seed.out" 2>&1 || true
      line=$(python3 - "$work/$db-single/seed.result" <<'PY'
import sys
r = dict(kv.split("=") for kv in open(sys.argv[1]).read().split())
n, secs = int(r["created"]), float(r["seconds"])
print(f"users={n} seconds={secs:.3f} users_per_s={n / secs:.0f} refused={r['refused']}")
PY
)
    else
      line=$(python3 scripts/bench/bulk.py "$url" "$users" "$batch" "$connections" b)
    fi
    echo "$db $mode: $line"
    results+=("$db $mode $line")
    stop_pid "$BRIDGE_PID"; BRIDGE_PID=""
  done
done
echo
echo "| database | single POST /Users users/s | POST /Bulk ($batch a request, $connections connections) users/s | ratio |"
echo "|---|---|---|---|"
for db in "${dbs[@]}"; do
  s=$(printf '%s\n' "${results[@]}" | awk -v d="$db" '$1==d && $2=="single" {for(i=3;i<=NF;i++) if ($i ~ /^users_per_s=/) {sub("users_per_s=","",$i); print $i}}')
  b=$(printf '%s\n' "${results[@]}" | awk -v d="$db" '$1==d && $2=="bulk" {for(i=3;i<=NF;i++) if ($i ~ /^users_per_s=/) {sub("users_per_s=","",$i); print $i}}')
  echo "| $db | $s | $b | $(python3 -c "print(f'{$b/$s:.1f}x')") |"
done
