#!/usr/bin/env bash
# The SCIM server benchmark of docs/benchmarks.md: a release build of scim-bridge on a fresh
# SQLite file or a fresh PostgreSQL (or each in turn, in the same run), load-tested on loopback
# by scripts/bench/measure.sh (wrk): 10,000 creates, then GET by id, userName filters, PATCH of
# the 8x8 number and pages of 100, with p50/p99 latency, the server's CPU and its peak RSS.
#
# Usage: scripts/bench.sh [--bin PATH] [--database sqlite|postgres|both] [--deep-users N]
#                         [--grow-to N] [--limits] [--limits-bin PATH]
#                         [--pg-port PORT] [--users N] [--duration S] [--concurrency C]
#                         [--threads T] [--work DIR] [--peers LIST]
#   --bin PATH    measure this binary instead of building target/release/scim-bridge
#   --database    sqlite (default): a fresh SQLite file; postgres: a throwaway PostgreSQL on this
#                 machine (scripts/postgres.sh, stopped and deleted at the end); both: SQLite, then
#                 PostgreSQL, in the same run, with each phase's PostgreSQL/SQLite ratio
#   --deep-users N  after the phases, grow the collection to N users and time the page of 100 at
#                 startIndex 1, N/2 and N-99 (each against the first page; default: not measured)
#   --grow-to N   after the phases, grow the collection to N users through the API and run every
#                 phase again (creates: the last --users of the growth), each as a ratio to its
#                 figure at --users, with the peak RSS and the outbox backlog (/readyz)
#   --limits      first measure the machine's limits in the same run (scripts/bench/limits.sh:
#                 a trivial actix-web JSON GET under the same wrk load, the bridge's create and
#                 PATCH writes in-process on SQLite, one transaction each), then print each
#                 phase as a share of its limit against issue 14's targets
#   --limits-bin PATH  the scim-limits binary (default: cargo build --release -p scim-limits)
#   --pg-port PORT  the throwaway PostgreSQL's port (default: a free one)
#   --peers LIST  also measure other SCIM servers in the same run (comma list, e.g.
#                 scim2-server,scim2-waitress,scimmy) with a peer tool that is NOT part of this
#                 repository: the environment variable PEERS_SH must name it (a script that
#                 takes --peers and the options below). Without --peers nothing outside the
#                 repository is used.
#   the other options go to scripts/bench/measure.sh (defaults 10000 users, 15 s, 32, 1).
# Needs wrk (Debian: apt-get install wrk), curl, python3, and cargo unless --bin is given.
# Compare figures within one run: the machine is small and shared.
set -euo pipefail
here_before_cd=$PWD
cd "$(dirname "$0")/.."
. scripts/bench/lib.sh
absolute() { case "$1" in /*) printf '%s\n' "$1";; *) printf '%s\n' "$here_before_cd/$1";; esac; }

bin="" peers="" work="" database=sqlite pg_port="" measure_args=() peer_args=()
limits="" limits_bin="" limit_args=()
while [ $# -gt 0 ]; do
  case "$1" in -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0;; esac
  if [ "$1" = --limits ]; then limits=1; shift; continue; fi
  [ $# -ge 2 ] || { echo "bench.sh: $1 needs a value (try --help)" >&2; exit 2; }
  case "$1" in
    --bin) bin=$(absolute "$2");;
    --peers) peers="$2"; if [ "$peers" = none ]; then peers=""; fi;;
    --work) work=$(absolute "$2");;
    --database) database="$2";;
    --pg-port) pg_port="$2";;
    --deep-users) measure_args+=("$1" "$2");;
    --grow-to) measure_args+=("$1" "$2"); limit_args+=("$1" "$2");;
    --limits-bin) limits_bin=$(absolute "$2");;
    --users|--duration|--concurrency|--threads)
      measure_args+=("$1" "$2"); peer_args+=("$1" "$2"); limit_args+=("$1" "$2");;
    *) echo "bench.sh: unknown option $1 (try --help)" >&2; exit 2;;
  esac
  shift 2
done
case "$database" in sqlite|postgres|both) ;; *) echo "bench.sh: --database takes sqlite, postgres or both" >&2; exit 2;; esac
peers_sh=""
if [ -n "$peers" ]; then
  [ -n "${PEERS_SH:-}" ] || { echo "bench.sh: --peers needs PEERS_SH=/path/to/the/peer/tool" >&2; exit 2; }
  peers_sh=$(absolute "$PEERS_SH")
  [ -x "$peers_sh" ] || { echo "bench.sh: the peer tool $peers_sh is not there (PEERS_SH)" >&2; exit 2; }
fi
command -v wrk >/dev/null || { echo "bench.sh: wrk not found (Debian: apt-get install wrk)" >&2; exit 2; }
if [ -z "$bin" ]; then
  cargo build --release --locked
  bin="${CARGO_TARGET_DIR:-target}/release/scim-bridge"
fi
[ -x "$bin" ] || { echo "bench.sh: $bin is not an executable" >&2; exit 2; }
if [ -n "$limits" ] && [ -z "$limits_bin" ]; then
  cargo build --release --locked -p scim-limits
  limits_bin="${CARGO_TARGET_DIR:-target}/release/scim-limits"
fi

[ -n "$work" ] || work=$(mktemp -d "${TMPDIR:-/tmp}/scim-bridge-bench.XXXXXX")
mkdir -p "$work"
SCIM_BEARER_TOKEN="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export SCIM_BEARER_TOKEN
BRIDGE_PID="" PG_PORT=""
cleanup() {
  [ -z "$BRIDGE_PID" ] || stop_pid "$BRIDGE_PID"
  [ -z "$PG_PORT" ] || scripts/postgres.sh stop "$PG_PORT"
}
trap cleanup EXIT

measure() { # name database-url-or-path
  local name=$1 db=$2 port
  port=$(free_port)
  SCIM_BRIDGE_BOOTSTRAP_TOKEN="$SCIM_BEARER_TOKEN" start_bridge "$bin" "$db" "$port" "$work/$name.log"
  scripts/bench/measure.sh --url "http://127.0.0.1:$port/scim/v2" --name "$name" --pid "$BRIDGE_PID" \
    --readyz "http://127.0.0.1:$port/readyz" --work "$work/$name" "${measure_args[@]}"
  stop_pid "$BRIDGE_PID"; BRIDGE_PID=""
}

if [ -n "$limits" ]; then
  echo "== the machine's limits (scripts/bench/limits.sh), before the bridge in the same run"
  scripts/bench/limits.sh --bin "$limits_bin" --work "$work/limits" "${limit_args[@]}"
fi

case "$database" in
  sqlite) measure scim-bridge "$work/bench.db"; results=("$work/scim-bridge/results.tsv");;
  *)
    if [ "$database" = both ]; then
      echo "== scim-bridge on SQLite"
      measure SQLite "$work/bench.db"
    fi
    PG_PORT=${pg_port:-$(free_port)}
    echo "== scim-bridge on PostgreSQL (scripts/postgres.sh, port $PG_PORT)"
    pg_url=$(scripts/postgres.sh start "$PG_PORT")
    measure PostgreSQL "$pg_url"
    scripts/postgres.sh stop "$PG_PORT"; PG_PORT=""
    results=("$work/PostgreSQL/results.tsv")
    if [ "$database" = both ]; then
      results=("$work/SQLite/results.tsv" "${results[@]}")
      echo
      echo "== SQLite and PostgreSQL (this machine, one after the other, same run)"
      python3 scripts/bench/report.py --relative-to SQLite "${results[@]}"
    fi
    ;;
esac

if [ -n "$limits" ]; then
  for r in "${results[@]}"; do
    echo
    echo "== $(awk -F'\t' 'NR == 2 { print $1 }' "$r") against the machine's limits (same run; issue 14's targets)"
    python3 scripts/bench/limits.py "$r" "$work/limits/limits.tsv"
  done
fi

if [ -n "$peers" ]; then
  echo
  echo "== peers ($peers) with $peers_sh"
  "$peers_sh" --peers "$peers" --work "$work/peers" --out "$work/peers.tsv" "${peer_args[@]}"
  echo
  echo "== scim-bridge beside the peers (separate servers, one after another, same run)"
  python3 scripts/bench/report.py --relative-to "$(awk -F'\t' 'NR == 2 { print $1 }' "${results[0]}")" \
    "$work/peers.tsv" "${results[@]}"
fi
