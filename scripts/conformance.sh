#!/usr/bin/env bash
# Run the external SCIM conformance suites (runners in scripts/conformance/) against the built
# binary on loopback with a fresh database, and hold them to the project's bar:
#   scim2-tester: 0 failed and at least 130 checks run; scim-sanity: 0 failed but the one probe that
#   adds a made-up group member (see below); Okta SPEC: 12 of 12.
# Usage: scripts/conformance.sh [path/to/scim-bridge [postgres://…]]   (default target/release/scim-bridge)
# With a PostgreSQL URL (a server the user may create databases on), the bridge serves from a
# new database there instead of a SQLite file.
# Needs python3 (>= 3.11, with venv) and curl; the first run installs scim2-tester and scim-sanity
# from PyPI into a cache (scripts/conformance/venv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/release/scim-bridge}"
[ -x "$bin" ] || { echo "conformance: $bin not built" >&2; exit 2; }

work=$(mktemp -d)
database="$work/conformance.db"
if [ -n "${2:-}" ]; then
  name="conformance_$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
  psql "$2" -qc "CREATE DATABASE $name" >/dev/null
  database=$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$2" "$name")
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export SCIM_BEARER_TOKEN="conformance-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
SCIM_BRIDGE_BOOTSTRAP_TOKEN="$SCIM_BEARER_TOKEN" "$bin" --database "$database" serve --listen "127.0.0.1:$port" \
  >"$work/server.out" 2>"$work/server.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { cat "$work/server.log" >&2; echo "conformance: server did not start" >&2; exit 1; }
url="http://127.0.0.1:$port/scim/v2"

fail=0
summary() { grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1 || true; }

echo "== scim2-tester"
scripts/conformance/scim2-tester.sh "$url" | tee "$work/scim2-tester.out" || true
line=$(summary "$work/scim2-tester.out"); echo "scim2-tester: $line"
passed=$(echo "$line" | awk '{print $1}'); failed=$(echo "$line" | awk '{print $3}'); skipped=$(echo "$line" | awk '{print $5}')
total=$(( ${passed:-0} + ${failed:-1} + ${skipped:-0} ))
if [ "${failed:-1}" != 0 ] || [ "$total" -lt 130 ]; then echo "FAIL scim2-tester: $line (need 0 failed, >= 130 checks; ran $total)"; fail=1; fi

echo "== scim-sanity"
scripts/conformance/scim-sanity.sh "$url" | tee "$work/scim-sanity.out" || true
line=$(summary "$work/scim-sanity.out"); echo "scim-sanity: $line"
# One probe disagrees with the bridge on purpose: it adds a group member with the made-up id
# "fake-member-id" and expects 200; the bridge answers 400 invalidValue, because member values are
# ids it assigned and one naming nothing cannot come from an identity provider (issue 13;
# docs/scim-behaviour.md "Groups and members"). That probe, and only it, may fail.
expected_fail='PATCH /Groups/{id} add member'
unexpected=$(grep -E '^(FAIL|ERROR) ' "$work/scim-sanity.out" | grep -vF "$expected_fail" || true)
known=$(grep -E '^FAIL ' "$work/scim-sanity.out" | grep -cF "$expected_fail" || true)
failed=$(echo "$line" | awk '{print $3}')
if [ -n "$unexpected" ] || [ "${failed:-1}" -gt "$known" ]; then
  echo "FAIL scim-sanity: $line"; echo "$unexpected"; fail=1
elif [ "$known" != 0 ]; then
  echo "scim-sanity: the one failure is the known disagreement ($expected_fail with a made-up member id: 400 by design)"
fi

echo "== Okta SPEC test"
scripts/conformance/okta-spec.sh "$url" | tee "$work/okta.out" || true
line=$(summary "$work/okta.out"); echo "okta: $line"
case "$line" in "12 passed, 0 failed"*) ;; *) echo "FAIL Okta SPEC: $line (need 12 of 12)"; fail=1;; esac

if [ "$fail" != 0 ]; then
  echo "--- server log (last 50 lines)"; tail -n 50 "$work/server.log"
  exit 1
fi
echo "conformance: all suites passed"
