#!/usr/bin/env bash
# Instructions per request under callgrind, for the request mix of scripts/bench.sh: a figure
# that repeats to within about 1 % on this shared, noisy machine, where wall-time throughput
# moves by +-5 %. Use it to compare two builds (before/after a change); docs/benchmarks.md has
# the method and the figures ("Instruction counts (callgrind)").
#
# Usage: scripts/bench-instructions.sh [--out DIR] [options] BINARY [BINARY2]
#   BINARY, BINARY2  release builds of scim-bridge (nothing is built here)
#   --out DIR        where to keep the raw output (default: a new /tmp/scim-bridge-callgrind.*):
#                    DIR/1-<name>/ (and DIR/2-<name>/) each hold result.json, the callgrind dump of
#                    every phase (callgrind.out.N, readable with callgrind_annotate) and server.log
#   other options go to scripts/bench_instructions.py run: --seed-users N (1000), --creates N
#   (500), --gets N (2000), --filters N (2000), --patches N (500), --pages N (100),
#   --pipeline N (10), --mode parked|dry-run (parked)
# Needs valgrind (callgrind, callgrind_control) and python3 (standard library only). About 1-2
# minutes per binary here; the binaries run one after the other, never at the same time.
#
# What it does, for each binary:
#   * `BINARY serve` under `valgrind --tool=callgrind`, on a fresh SQLite file in DIR, a bootstrap
#     token (SCIM_BRIDGE_BOOTSTRAP_TOKEN), a free loopback port, `--workers 1`, RUST_LOG=info, and
#     no other SCIM_BRIDGE_* variable from the caller's environment.
#   * One callgrind dump per phase: instrumentation is on from exec until the server logs that it
#     listens (`startup`), then switched off; for each phase `callgrind_control -i on`, the
#     requests, `-i off`, `--dump=<phase>`. Instructions per request = the dump's total Ir / the
#     phase's requests.
#   * Phases (the shapes of scripts/bench/measure.sh): `seed` creates 1,000 users (an 8x8 and a
#     mobile number each), then uncounted warm-up, `idle` (5 s with no request), `create` 500 more
#     users, `get` 2,000 GET /Users/{id}, `filter` 2,000 `userName eq "..."`, `patch` 500 PATCH
#     `phoneNumbers[type eq "eightbyeight"].value` (each user at most once), `page` 100 GET
#     /Users?startIndex=..&count=100. Users, numbers and picks are fixed (a seeded PRNG).
#
# Why the counts repeat (each point below fixed a difference seen between runs):
#   * The outbox worker is parked. Left as it is, it forwards every change to the built-in Genesys
#     simulator at 300 calls/min, so how much forwarding falls inside a window depends on wall
#     time. SCIM_BRIDGE_DRY_RUN does not help enough: the worker still previews each change while
#     requests run and polls the outbox every 200 ms, and a preview scans the whole dry-run journal
#     (no index on resource_id): with it a create counts ~3x its request path at this table size.
#     Instead Genesys is configured (SCIM_BRIDGE_GENESYS_API_URL, _LOGIN_URL, _CLIENT_ID,
#     _CLIENT_SECRET) at a loopback port that accepts connections and never answers: the worker's
#     first delivery waits for an OAuth token (30 s client timeout, then retries) for the whole
#     run, so it neither polls nor delivers, and the writes' outbox rows simply queue. What is
#     counted is the request path, as in scripts/bench.sh, where the simulator's limit keeps the
#     worker nearly idle. (`--mode dry-run` counts the dry-run previews too, waiting in each write
#     phase until the outbox is empty.)
#   * Two timer-driven functions are not counted (`--toggle-collect`: callgrind stops counting on
#     entry and resumes on return): the worker's poll for due rows (`*outbox_due*`, every 200 ms
#     in dry-run mode) and SQLite's WAL checkpoint (`sqlite3WalCheckpoint`: the store's
#     checkpointer runs every 500 ms, and how many pages each pass copies depends on how many
#     writes fell between two passes).
#   * One connection, requests pipelined 10 at a time (HTTP/1.1; actix still handles them one after
#     the other, so each write commits alone): one request at a time left the number of wake-ups
#     and empty parse attempts per request to the timing of the client (GET moved by up to 1.8 %).
#   * Before counting: concurrent pages on 8 connections, so the reader pool has grown to the size
#     it keeps (r2d2 opens a connection, and the connection prepares its statements, whenever fewer
#     than 2 are idle), and each request shape a few times on users of its own. Each phase opens
#     a fresh connection and sends 8 GETs before counting starts, and closes it before counting
#     ends, so that actix's keep-alive timer never closes a connection inside a window.
#   * What still runs by the clock (the 1 s token-hash refresh, runtime timers) is measured by the
#     `idle` phase: ~40,000 instructions per second, about 0.1 % of a phase.
# Remaining spread between runs of the same binary: up to 0.7 % per phase in four runs (the
# startup total 1.4 %), mostly glibc malloc's state (in-place or copying reallocs, tcache hits),
# which follows thread timing.
set -euo pipefail
here_before_cd=$PWD
absolute() { case "$1" in /*) printf '%s\n' "$1";; *) printf '%s\n' "$here_before_cd/$1";; esac; }
cd "$(dirname "$0")/.."

out=""
pass=()
bins=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0;;
    --*) [ $# -ge 2 ] || { echo "$1 needs a value (try --help)" >&2; exit 2; }
         if [ "$1" = --out ]; then out=$(absolute "$2"); else pass+=("$1" "$2"); fi
         shift 2;;
    *) bins+=("$(absolute "$1")"); shift;;
  esac
done
if [ ${#bins[@]} -lt 1 ] || [ ${#bins[@]} -gt 2 ]; then
  echo "usage: $0 [--out DIR] [options] BINARY [BINARY2]  (--help for more)" >&2
  exit 2
fi
for tool in valgrind callgrind_control python3; do
  command -v "$tool" >/dev/null || { echo "$tool is needed (apt-get install valgrind python3)" >&2; exit 2; }
done
for b in "${bins[@]}"; do
  [ -x "$b" ] || { echo "$b: not an executable" >&2; exit 2; }
done
[ -n "$out" ] || out=$(mktemp -d /tmp/scim-bridge-callgrind.XXXXXX)
mkdir -p "$out"

labels=()
for i in "${!bins[@]}"; do labels+=("$(basename "${bins[$i]}")"); done
if [ ${#bins[@]} -eq 2 ] && [ "${labels[0]}" = "${labels[1]}" ]; then
  labels=("${labels[0]} (1)" "${labels[1]} (2)")
fi

results=()
for i in "${!bins[@]}"; do
  dir="$out/$((i + 1))-$(basename "${bins[$i]}")"
  echo "== ${labels[$i]}: ${bins[$i]} -> $dir" >&2
  python3 scripts/bench_instructions.py run "${bins[$i]}" "$dir" --label "${labels[$i]}" "${pass[@]}" >/dev/null
  results+=("$dir/result.json")
done

echo
echo "Instructions per request (callgrind Ir; startup: total; idle: per second). Raw output: $out"
python3 scripts/bench_instructions.py table "${results[@]}" | tee "$out/table.md"
