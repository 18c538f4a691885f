#!/usr/bin/env bash
# The bounded soak of docs/soak.md: builds the release bridge and crates/soak (scim-soak), which
# starts `scim-bridge genesys-sim` injecting faults (a moderate mix throughout, plus a short
# outage, 429 storm, latency beyond the Genesys timeout or burst of 5xx about once a minute) and
# `scim-bridge serve` forwarding to it, both on loopback, and drives the bridge from many
# connections with creates, PATCHes (the 8x8 number among them), reads, filters, pages, Bulk and
# deletes. It stops by itself, prints the report (requests, answers by kind, failures, the
# bridge's RSS at start, end and peak, drain time, Genesys against the bridge's store) and exits
# non-zero when a check fails.
#
# Usage: scripts/soak.sh [--minutes N] [--database sqlite|postgres://USER:PASS@HOST:PORT/DB]
#                        [--connections C] [--rate R] [--work-dir DIR]
#   --minutes N      how long the load runs (default 10; fractions allowed, 0.5 is 30 s)
#   --database D     sqlite (default: a fresh file in the work directory) or an EMPTY PostgreSQL
#                    database (scripts/postgres.sh start PORT gives one)
#   --connections C  concurrent IdP connections (default 32)
#   --rate R         requests per second over all connections (default 150; 0: flat out)
#   --work-dir DIR   where the database file and the logs go (default: a new temporary directory)
# Needs cargo. Bounds and more: `scim-soak --help`.
set -euo pipefail
cd "$(dirname "$0")/.."
args=()
while [ $# -gt 0 ]; do
  case "$1" in -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0;; esac
  [ $# -ge 2 ] || { echo "soak.sh: $1 needs a value (try --help)" >&2; exit 2; }
  case "$1" in
    --minutes|--database|--connections|--rate|--work-dir) args+=("$1" "$2");;
    *) echo "soak.sh: unknown option $1 (try --help)" >&2; exit 2;;
  esac
  shift 2
done
cargo build --release --locked -p scim-bridge -p scim-soak
target="${CARGO_TARGET_DIR:-target}/release"
exec "$target/scim-soak" --bin "$target/scim-bridge" "${args[@]}"
