#!/usr/bin/env bash
# The replicas drain benchmark of docs/benchmarks.md (issue 11): three bridge replicas on one
# throwaway PostgreSQL (scripts/postgres.sh, stopped and deleted at the end) forward to one
# `scim-bridge genesys-sim` whose rate limit counts their OAuth client's tokens together. U users
# are created through the replicas in turn; reported: the share of the allowed Genesys rate the
# drain used (target >= 95 %) and the share of Genesys answers that were 429 (target < 1 %).
#
# Usage: scripts/bench-replicas.sh [--bin PATH] [--pg-port PORT] [--limit N] [--users U]
#   --bin PATH     measure this binary instead of building target/release/scim-bridge
#   --pg-port PORT the throwaway PostgreSQL's port (default: a free one)
#   --limit N      Genesys requests allowed per 60 s window (default 240)
#   --users U      users created, one Genesys call each (default 600: about 2.5 minutes)
# Needs curl and python3, and cargo unless --bin is given.
set -euo pipefail
here_before_cd=$PWD
cd "$(dirname "$0")/.."
. scripts/bench/lib.sh
absolute() { case "$1" in /*) printf '%s\n' "$1";; *) printf '%s\n' "$here_before_cd/$1";; esac; }

bin="" pg_port="" args=()
while [ $# -gt 0 ]; do
  case "$1" in -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0;; esac
  [ $# -ge 2 ] || { echo "bench-replicas.sh: $1 needs a value (try --help)" >&2; exit 2; }
  case "$1" in
    --bin) bin=$(absolute "$2");;
    --pg-port) pg_port="$2";;
    --limit|--users) args+=("$1" "$2");;
    *) echo "bench-replicas.sh: unknown option $1 (try --help)" >&2; exit 2;;
  esac
  shift 2
done
if [ -z "$bin" ]; then
  cargo build --release --locked
  bin="${CARGO_TARGET_DIR:-target}/release/scim-bridge"
fi
[ -x "$bin" ] || { echo "bench-replicas.sh: $bin is not an executable" >&2; exit 2; }
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")

work=$(mktemp -d "${TMPDIR:-/tmp}/scim-bridge-bench-replicas.XXXXXX")
PG_PORT=${pg_port:-$(free_port)}
trap 'scripts/postgres.sh stop "$PG_PORT"' EXIT
url=$(scripts/postgres.sh start "$PG_PORT")
BENCH_DATABASE_URL="$url" python3 scripts/bench_replicas.py "$bin" "$work" "${args[@]}"
echo "logs: $work"
