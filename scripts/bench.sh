#!/usr/bin/env bash
# The SCIM server benchmark of docs/benchmarks.md: a release build on a fresh SQLite file,
# measured by ../shared/bench/peers.sh (10,000 users; creates, GET by id, userName filters,
# PATCH of the 8x8 number, pages of 100), optionally beside peer servers in the same run.
# Usage: scripts/bench.sh [--peers none|scim2-server,scim2-waitress,scimmy] [peers.sh options...]
# Needs wrk (apt-get install wrk). Compare ratios within one run: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."
peers=none
if [ "${1:-}" = "--peers" ]; then peers="$2"; shift 2; fi
cargo build --release --locked
work=$(mktemp -d /tmp/scim-bridge-bench.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
token="bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
exec ../shared/bench/peers.sh --peers "$peers" --name scim-bridge \
  --url "http://127.0.0.1:$port/scim/v2" --token "$token" \
  --start "SCIM_BRIDGE_BOOTSTRAP_TOKEN=$token exec $PWD/target/release/scim-bridge --database $work/bench.db serve --listen 127.0.0.1:$port" \
  --patch-type eightbyeight --work "$work" "$@"
