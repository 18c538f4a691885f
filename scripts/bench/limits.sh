#!/usr/bin/env bash
# The machine's limits for scim-bridge's benchmark phases, measured with scim-limits
# (crates/limits) on loopback, to be compared with the bridge in the same run
# (scripts/bench.sh --limits; docs/benchmarks.md "Close to the machine's limits"):
#   trivial-get           an actix-web server (one worker per core, as the bridge's default)
#                         answering GET /Users/{id} with a ~600-byte JSON user, driven by wrk with
#                         get.lua exactly as the bridge's get phase (same connections, threads,
#                         duration): the limit of `get` and `filter`
#   sqlite-create         in-process, on a fresh SQLite file with the bridge's migrations and
#                         PRAGMAs: the rows the bridge writes for a create, one transaction per
#                         user (--users of them): the limit of `seed`
#   sqlite-patch          the rows a PATCH of the 8x8 number writes, one transaction each
#                         (--users of them, random users): the limit of `patch`
#   sqlite-create-batch32, sqlite-patch-batch32
#                         the same writes 32 to a transaction, each in its own savepoint: what
#                         the bridge's group commit could reach at best with 32 writes queued
#                         (shown beside the limits, not a target)
#   sqlite-create.<N>, sqlite-patch.<N>   with --grow-to N: the same single-transaction writes
#                         timed after N - --users users were written first (untimed), the floor
#                         beside the bridge's phases at N users (measure.sh --grow-to)
# Writes DIR/limits.tsv (limit, rps, p50_ms, p99_ms, count, seconds) and prints it.
#
# Usage: scripts/bench/limits.sh --bin PATH [options]
#   --bin PATH          the scim-limits binary (cargo build --release -p scim-limits)
#   --users N           transactions of each kind (default 10000)
#   --duration S        seconds of the trivial GET (default 15)
#   --concurrency C     open connections (default 32)
#   --threads T         wrk threads (default 1)
#   --grow-to N         also time the writes in a collection of N users (default: not measured)
#   --work DIR          where the files go (default: a new temporary dir)
# Needs wrk, curl and python3. Compare figures from the same run: the machine is small and shared.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/lib.sh"

bin="" users=10000 duration=15 conc=32 threads=1 work="" grow_to=0
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in -h|--help) usage;; esac
  [ $# -ge 2 ] || usage
  case "$1" in
    --bin) bin="$2";; --users) users="$2";; --duration) duration="$2";; --concurrency) conc="$2";;
    --threads) threads="$2";; --work) work="$2";; --grow-to) grow_to="$2";;
    *) echo "limits.sh: unknown option $1" >&2; usage;;
  esac
  shift 2
done
[ -n "$bin" ] || usage
[ -x "$bin" ] || { echo "limits.sh: $bin is not an executable" >&2; exit 2; }
for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "limits.sh: $tool not found (Debian: apt-get install $tool)" >&2; exit 2; }
done
[ -n "$work" ] || work=$(mktemp -d "${TMPDIR:-/tmp}/scim-limits.XXXXXX")
mkdir -p "$work"
tsv="$work/limits.tsv"
log() { printf '[limits %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
printf 'limit\trps\tp50_ms\tp99_ms\tcount\tseconds\n' > "$tsv"

# ---- in-process SQLite transactions
txn() { # name-of-file args...
  local db="$work/$1.db"; shift
  rm -f "$db" "$db-wal" "$db-shm"
  "$bin" sqlite-txn --database "$db" --users "$users" --patches "$users" "$@" > "$work/txn.out"
  awk '/^LIMIT / { for (i = 2; i <= NF; i++) { split($i, kv, "="); r[kv[1]] = kv[2] }
                   printf "%s\t%s\t-\t-\t%s\t%s\n", r["name"], r["rps"], r["count"], r["seconds"] }' \
    "$work/txn.out" >> "$tsv"
  rm -f "$db" "$db-wal" "$db-shm"
}
log "in-process SQLite: $users creates, then $users PATCHes, one transaction each"
txn single
log "in-process SQLite: the same, 32 writes to a transaction"
txn batch32 --batch 32
if [ "$grow_to" -gt "$users" ]; then
  log "in-process SQLite: the same one at a time, after $((grow_to - users)) users written first"
  txn grown --prefill "$((grow_to - users))"
fi

# ---- the trivial GET
port=$(free_port)
"$bin" trivial-get --listen "127.0.0.1:$port" > "$work/trivial-get.log" 2>&1 &
pid=$!
trap 'stop_pid "$pid"' EXIT
up=""
for _ in $(seq 100); do
  if curl -fsS -o /dev/null "http://127.0.0.1:$port/scim/v2/Users/probe" 2>/dev/null; then up=1; break; fi
  sleep 0.1
done
[ -n "$up" ] || { cat "$work/trivial-get.log" >&2; echo "limits.sh: trivial-get did not start" >&2; exit 1; }
for i in $(seq 1000); do printf 'limits-%06d\n' "$i"; done > "$work/ids"
log "trivial GET for ${duration}s ($conc connections, $threads wrk threads)"
wrk -t"$threads" -c"$conc" -d"${duration}s" --timeout 30s -s "$here/get.lua" "http://127.0.0.1:$port/scim/v2/Users" \
  -- "$work/ids" > "$work/trivial-get.out" 2>&1 || true
stop_pid "$pid"; trap - EXIT
python3 - "$work/trivial-get.out" >> "$tsv" <<'PY'
import re, sys
m = re.search(r"^BENCH (.*)$", open(sys.argv[1]).read(), re.M)
if not m:
    sys.exit(f"limits.sh: wrk reported nothing for the trivial GET (see {sys.argv[1]})")
r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
if r["non2xx"] or r["socket_errors"]:
    sys.exit(f"limits.sh: the trivial GET had {r['non2xx']} non-2xx answers, {r['socket_errors']} socket errors")
secs = r["duration_us"] / 1e6
print(f"trivial-get\t{r['requests'] / secs:.0f}\t{r['p50_us'] / 1000:.2f}\t{r['p99_us'] / 1000:.2f}\t{r['requests']}\t{secs:.3f}")
PY
echo
echo "Limits (cores=$(nproc), $(date -u +%Y-%m-%dT%H:%MZ)):"
column -t -s $'\t' "$tsv" 2>/dev/null || cat "$tsv"
