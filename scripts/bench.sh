#!/usr/bin/env bash
# The SCIM server benchmark of docs/benchmarks.md: a release build of scim-bridge on a fresh
# SQLite file, load-tested on loopback by scripts/bench/measure.sh (wrk): 10,000 creates, then
# GET by id, userName filters, PATCH of the 8x8 number and pages of 100, with p50/p99 latency,
# the server's CPU and its peak RSS.
#
# Usage: scripts/bench.sh [--bin PATH] [--users N] [--duration S] [--concurrency C]
#                         [--threads T] [--work DIR] [--peers LIST]
#   --bin PATH    measure this binary instead of building target/release/scim-bridge
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

bin="" peers="" work="" measure_args=() peer_args=()
while [ $# -gt 0 ]; do
  case "$1" in -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0;; esac
  [ $# -ge 2 ] || { echo "bench.sh: $1 needs a value (try --help)" >&2; exit 2; }
  case "$1" in
    --bin) bin=$(absolute "$2");;
    --peers) peers="$2"; if [ "$peers" = none ]; then peers=""; fi;;
    --work) work=$(absolute "$2");;
    --users|--duration|--concurrency|--threads) measure_args+=("$1" "$2"); peer_args+=("$1" "$2");;
    *) echo "bench.sh: unknown option $1 (try --help)" >&2; exit 2;;
  esac
  shift 2
done
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

[ -n "$work" ] || work=$(mktemp -d "${TMPDIR:-/tmp}/scim-bridge-bench.XXXXXX")
mkdir -p "$work"
port=$(free_port)
SCIM_BEARER_TOKEN="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
export SCIM_BEARER_TOKEN
BRIDGE_PID=""
trap '[ -z "$BRIDGE_PID" ] || stop_pid "$BRIDGE_PID"' EXIT
SCIM_BRIDGE_BOOTSTRAP_TOKEN="$SCIM_BEARER_TOKEN" start_bridge "$bin" "$work/bench.db" "$port" "$work/server.log"
scripts/bench/measure.sh --url "http://127.0.0.1:$port/scim/v2" --name scim-bridge --pid "$BRIDGE_PID" \
  --work "$work/scim-bridge" "${measure_args[@]}"
stop_pid "$BRIDGE_PID"; BRIDGE_PID=""

if [ -n "$peers" ]; then
  echo
  echo "== peers ($peers) with $peers_sh"
  "$peers_sh" --peers "$peers" --work "$work/peers" --out "$work/peers.tsv" "${peer_args[@]}"
  echo
  echo "== scim-bridge beside the peers (separate servers, one after another, same run)"
  python3 scripts/bench/report.py --relative-to scim-bridge "$work/peers.tsv" "$work/scim-bridge/results.tsv"
fi
