#!/usr/bin/env bash
# Load-test one running SCIM server on loopback with wrk and print a table of the results.
# Phases, in order:
#   seed    POST /Users, N users (each with a phone of --patch-type and a mobile number)
#   get     GET /Users/{id} of random seeded users
#   filter  GET /Users?filter=userName eq "<random seeded userName>"
#   patch   PATCH /Users/{id}, replace phoneNumbers[type eq "<patch-type>"].value
#   page    GET /Users?startIndex=<random>&count=100
# with --grow-to N, after those, the collection grown to N users through POST /Users
# (seed.lua again; the last --users creates timed on their own) and every phase again at N:
#   seed.<N>    the last --users creates of the growth (into N-users .. N users)
#   get.<N>, filter.<N>, patch.<N>, page.<N>   as above, over all N users
# each also as a ratio to its figure at --users users (report.py), and with --readyz URL the
# server's outbox backlog (`checks.outbox.pending` of /readyz) after each set of phases;
# and with --deep-users N, after seeding up to N users in all (seed.lua again):
#   page@1, page@<N/2>, page@<N-99>   GET /Users?startIndex=<S>&count=100, the same page each time
# For each: requests/s, p50 and p99 latency, non-2xx answers, socket errors, and, when the
# server's PID is given, its CPU seconds during the phase and its peak RSS (VmHWM) so far.
#
# Usage: scripts/bench/measure.sh --url BASE [options]
#   --url BASE          SCIM root, e.g. http://127.0.0.1:8080/scim/v2 (loopback only)
#   --name NAME         label in the table (default: scim-bridge)
#   --pid PID           the server's process, for CPU and peak RSS (default: not measured)
#   --users N           users to create (default 10000)
#   --duration S        seconds for each of get, filter, patch, page (default 15)
#   --concurrency C     open connections (default 32)
#   --threads T         wrk threads for get, filter, patch, page (default 1; seed always 1)
#   --patch-type TYPE   phone type seeded and patched (default eightbyeight)
#   --grow-to N         then grow the collection to N users and run every phase again (default:
#                       not measured)
#   --readyz URL        the server's /readyz, to report its outbox backlog (scim-bridge's
#                       `checks.outbox.pending`; default: not reported)
#   --deep-users N      then grow the collection to N users and time the first, middle and last
#                       page of 100 (default: not measured)
#   --work DIR          where wrk's output and results.tsv go (default: a new temporary dir)
# The bearer token is read from SCIM_BEARER_TOKEN. Needs wrk (Debian: apt-get install wrk),
# curl and python3. The machine is small and shared: compare figures from the same run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

url="" name="scim-bridge" pid="" users=10000 duration=15 conc=32 threads=1
patch_type=eightbyeight work="" deep_users=0 grow_to=0 readyz=""
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2; }
while [ $# -gt 0 ]; do
  [ $# -ge 2 ] || usage
  case "$1" in
    --url) url="${2%/}";; --name) name="$2";; --pid) pid="$2";; --users) users="$2";;
    --duration) duration="$2";; --concurrency) conc="$2";; --threads) threads="$2";;
    --patch-type) patch_type="$2";; --work) work="$2";; --deep-users) deep_users="$2";;
    --grow-to) grow_to="$2";; --readyz) readyz="$2";;
    *) echo "measure.sh: unknown option $1" >&2; usage;;
  esac
  shift 2
done
[ -n "$url" ] || usage
case "$url" in
  http://127.*|http://localhost[:/]*|http://\[::1\]*) ;;
  *) echo "measure.sh: $url is not a loopback address; refusing to load-test it" >&2; exit 2;;
esac
for tool in wrk curl python3; do
  command -v "$tool" >/dev/null || { echo "measure.sh: $tool not found (Debian: apt-get install $tool)" >&2; exit 2; }
done
[ -n "$work" ] || work=$(mktemp -d "${TMPDIR:-/tmp}/scim-bench.XXXXXX")
mkdir -p "$work"
tsv="$work/results.tsv"
log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

auth=()
[ -n "${SCIM_BEARER_TOKEN:-}" ] && auth=(-H "Authorization: Bearer $SCIM_BEARER_TOKEN")
code=$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$url/ServiceProviderConfig" || true)
[ "$code" = 200 ] || { echo "measure.sh: GET $url/ServiceProviderConfig answered ${code:-nothing}, not 200" >&2; exit 1; }

tick=$(getconf CLK_TCK)
cpu_ticks() { if [ -n "$pid" ]; then awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat"; else echo 0; fi; }
peak_rss_mib() { if [ -n "$pid" ]; then awk '/^VmHWM:/ { printf "%d", $2 / 1024 }' "/proc/$pid/status"; else echo -; fi; }
cpu_seconds() { if [ -n "$pid" ]; then awk -v a="$1" -v b="$2" -v t="$tick" 'BEGIN { printf "%.2f", (b - a) / t }'; else echo -; fi; }

printf 'target\tphase\trps\tp50_ms\tp99_ms\tnon2xx\tsocket_errors\trequests\tcpu_s\twall_s\tpeak_rss_mib\tnote\n' > "$tsv"

# ---- seed: exactly N creates, timed by seed.lua itself
seed() { # phase count prefix dir [first]
  local phase=$1 count=$2 prefix=$3 dir=$4 first=${5:-0} c0 c1 t0 t1
  mkdir -p "$dir"
  log "$name: creating $count users ($conc connections)"
  c0=$(cpu_ticks); t0=$(date +%s.%N)
  wrk -t1 -c"$conc" -d3600s --timeout 30s -s "$here/seed.lua" "$url/Users" -- \
    "$count" "$prefix" "$dir" "$patch_type" "$first" > "$dir/seed.out" 2>&1 || true
  t1=$(date +%s.%N); c1=$(cpu_ticks)
  [ -f "$dir/seed.result" ] || { cat "$dir/seed.out" >&2; echo "measure.sh: the $phase phase did not finish (see above)" >&2; exit 1; }
  python3 - "$dir/seed.result" "$name" "$phase" "$(cpu_seconds "$c0" "$c1")" "$t0" "$t1" "$(peak_rss_mib)" >> "$tsv" <<'PY'
import sys
path, name, phase, cpu, t0, t1, rss = sys.argv[1:]
r = dict(kv.split("=") for kv in open(path).read().split())
created, refused, lost, secs = int(r["created"]), int(r["refused"]), int(r["unanswered"]), float(r["seconds"])
note = f"{created} created" + (f", {lost} unanswered" if lost else "")
rps = created / secs if secs > 0 else 0
print(f"{name}\t{phase}\t{rps:.0f}\t{float(r['p50_ms']):.2f}\t{float(r['p99_ms']):.2f}\t{refused}\t{lost}\t"
      f"{created + refused}\t{cpu}\t{float(t1) - float(t0):.2f}\t{rss}\t{note}")
PY
  if [ ! -s "$dir/ids" ] || [ "$(grep -c . "$dir/ids")" -eq 0 ]; then
    cat "$dir/seed.out" >&2
    echo "measure.sh: no user was created (wrong token?); see $tsv" >&2
    exit 1
  fi
}
prefix="bench$(date +%s)u"
seed seed "$users" "$prefix" "$work"

# ---- the timed phases
phase() { # name script args...
  local phase=$1 script=$2; shift 2
  log "$name: $phase for ${duration}s"
  local c0 c1 t0 t1
  c0=$(cpu_ticks); t0=$(date +%s.%N)
  wrk -t"$threads" -c"$conc" -d"${duration}s" --timeout 30s -s "$here/$script" "$url/Users" -- "$@" \
    > "$work/$phase.out" 2>&1 || true
  t1=$(date +%s.%N); c1=$(cpu_ticks)
  python3 - "$work/$phase.out" "$name" "$phase" "$(cpu_seconds "$c0" "$c1")" "$t0" "$t1" "$(peak_rss_mib)" >> "$tsv" <<'PY'
import re, sys
path, name, phase, cpu, t0, t1, rss = sys.argv[1:]
m = re.search(r"^BENCH (.*)$", open(path).read(), re.M)
wall = float(t1) - float(t0)
if not m:
    print(f"{name}\t{phase}\t-\t-\t-\t-\t-\t-\t{cpu}\t{wall:.2f}\t{rss}\twrk reported nothing (see {path})")
    sys.exit()
r = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
rps = r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0
print(f"{name}\t{phase}\t{rps:.0f}\t{r['p50_us'] / 1000:.2f}\t{r['p99_us'] / 1000:.2f}\t{r['non2xx']}\t"
      f"{r['socket_errors']}\t{r['requests']}\t{cpu}\t{wall:.2f}\t{rss}\t")
PY
}
phase get get.lua "$work/ids"
phase filter filter.lua "$users" "$prefix"
phase patch patch.lua "$work/ids" "$patch_type"
phase page page.lua "$users"

# ---- the outbox backlog, from the server's /readyz
backlog() { # label
  [ -n "$readyz" ] || return 0
  local pending
  pending=$(curl -s "$readyz" | python3 -c 'import json, sys; print(json.load(sys.stdin)["checks"]["outbox"]["pending"])' 2>/dev/null) \
    || pending="? (no checks.outbox.pending in $readyz)"
  printf '%s\t%s\n' "$1" "$pending" >> "$work/outbox.tsv"
  log "$name: outbox backlog $1: $pending"
}
printf 'when\tpending\n' > "$work/outbox.tsv"
backlog "after the phases at $users users"
seeded=$users

# ---- flat as it grows: grow to N users (the last --users creates timed apart), phases again
if [ "$grow_to" -gt "$users" ]; then
  last=$(( grow_to - users < users ? grow_to - users : users ))
  if [ $(( grow_to - users - last )) -gt 0 ]; then
    seed grow "$(( grow_to - users - last ))" "$prefix" "$work/grow" "$users"
  fi
  seed "seed.$grow_to" "$last" "$prefix" "$work/grown" "$(( grow_to - last ))"
  cat "$work/ids" "$work"/grow/ids "$work/grown/ids" 2>/dev/null | grep . > "$work/ids.all"
  seeded=$grow_to
  backlog "after growing to $grow_to users"
  phase "get.$grow_to" get.lua "$work/ids.all"
  phase "filter.$grow_to" filter.lua "$grow_to" "$prefix"
  phase "patch.$grow_to" patch.lua "$work/ids.all" "$patch_type"
  phase "page.$grow_to" page.lua "$grow_to"
  backlog "after the phases at $grow_to users"
fi

# ---- deep pages: the same page of 100 again and again, near the start, middle and end
if [ "$deep_users" -gt "$seeded" ]; then
  seed seed-deep "$((deep_users - seeded))" "${prefix}d" "$work/deep"
  for start in 1 $((deep_users / 2)) $((deep_users - 99)); do
    phase "page@$start" page_at.lua "$start"
  done
fi

echo
echo "users=$users grow-to=$grow_to deep-users=$deep_users duration=${duration}s concurrency=$conc wrk-threads=$threads cores=$(nproc) $(date -u +%Y-%m-%dT%H:%MZ)"
python3 "$here/report.py" "$tsv"
if [ -n "$readyz" ]; then
  echo
  echo "Outbox backlog (changes waiting for delivery to Genesys, from /readyz):"
  awk -F'\t' 'NR > 1 { printf "  %s: %s\n", $1, $2 }' "$work/outbox.tsv"
fi
echo
echo "raw results: $tsv (wrk output beside it)"
