#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests and benchmarks, on 127.0.0.1 only, in a temp directory.
#
#   url=$(scripts/postgres.sh start [PORT])   # prints one line: postgres://scim:PASS@127.0.0.1:PORT/scim
#   scripts/postgres.sh stop [PORT]           # stops it and deletes its directory
#   scripts/postgres.sh pause [PORT]          # stops it, keeping its data (tests of a lost database);
#                                             # `start` then starts it again with the same data
#
# The server binaries come from Debian's `postgresql` package, installed when missing (needs root
# or sudo). PostgreSQL refuses to run as root: as root the cluster runs as the `postgres` user.
# The cluster trades durability for speed (fsync off): it holds test data only.
# Exit: 0 done, 1 failure, 2 usage.
set -euo pipefail

cmd="${1:-}"
port="${2:-${PG_TEST_PORT:-55432}}"
case "$cmd" in start|stop|pause) ;; *) echo "usage: $0 start|stop|pause [PORT]" >&2; exit 2 ;; esac
case "$port" in ''|*[!0-9]*) echo "$0: PORT must be a number" >&2; exit 2 ;; esac
dir="${TMPDIR:-/tmp}/scim-bridge-pg-$port"
say() { echo "postgres.sh: $*" >&2; }

bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4,4 -rn); do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

run_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

if [ "$cmd" = stop ] || [ "$cmd" = pause ]; then
  if bin=$(bindir) && [ -f "$dir/data/PG_VERSION" ]; then
    run_as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  [ "$cmd" = stop ] && rm -rf "$dir"
  exit 0
fi

if ! bin=$(bindir); then
  say "installing Debian's postgresql package"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -q --no-install-recommends postgresql >&2 ||
    { $sudo apt-get update -q >&2 && $sudo apt-get install -y -q --no-install-recommends postgresql >&2; }
  bin=$(bindir) || { say "no PostgreSQL server binaries after installing"; exit 1; }
fi
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin postgres
fi

url() { echo "postgres://scim:$(cat "$dir/password")@127.0.0.1:$port/scim"; }

if [ -f "$dir/data/postmaster.pid" ] && "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
  url; exit 0
fi
if [ -f "$dir/data/PG_VERSION" ] && [ -f "$dir/password" ] && [ ! -f "$dir/data/postmaster.pid" ]; then
  # Paused: start it again with its data.
  run_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
    { tail -n 30 "$dir/server.log" >&2; say "the server did not start again"; exit 1; }
  url; exit 0
fi
rm -rf "$dir"
mkdir -p "$dir/data"
od -An -N12 -tx1 /dev/urandom | tr -d ' \n' > "$dir/password"
chmod 700 "$dir/data"
[ "$(id -u)" -eq 0 ] && chown -R postgres "$dir"
run_as_owner "$bin/initdb" -D "$dir/data" -U scim --pwfile="$dir/password" -E UTF8 --locale=C.UTF-8 \
  --auth=scram-sha-256 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; say "initdb failed"; exit 1; }
cat >> "$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
shared_buffers = 128MB
EOF
run_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
  { tail -n 30 "$dir/server.log" >&2; say "the server did not start"; exit 1; }
PGPASSWORD=$(cat "$dir/password") "$bin/createdb" -h 127.0.0.1 -p "$port" -U scim scim
say "up on 127.0.0.1:$port ($("$bin/postgres" --version)); data in $dir"
url
