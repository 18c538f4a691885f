# shellcheck shell=bash
# Sourced by scripts/bench.sh and scripts/bench-genesys.sh (not run on its own).
#
# free_port                     prints a free TCP port on 127.0.0.1
# start_bridge BIN DB PORT LOG  starts `BIN serve --listen 127.0.0.1:PORT` on database DB (a
#                               SQLite path or a postgres:// URL, given in SCIM_BRIDGE_DATABASE_URL
#                               so a password stays off the command line) in the background with
#                               the environment of the caller (the caller sets
#                               SCIM_BRIDGE_BOOTSTRAP_TOKEN and any SCIM_BRIDGE_* it needs), waits
#                               up to 30 s for /healthz, and sets BRIDGE_PID. Exits the script
#                               with the log's tail when the server does not come up.
# stop_pid PID                  SIGTERM, up to 10 s to exit, then SIGKILL; only that PID.

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_bridge() {
  local bin=$1 db=$2 port=$3 log=$4
  SCIM_BRIDGE_DATABASE_URL="$db" "$bin" serve --listen "127.0.0.1:$port" > "$log" 2>&1 &
  BRIDGE_PID=$!
  local _
  for _ in $(seq 300); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && return 0
    kill -0 "$BRIDGE_PID" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 30 "$log" >&2
  echo "bench: scim-bridge did not start on 127.0.0.1:$port (log above: $log)" >&2
  exit 1
}

stop_pid() {
  local pid=$1 _
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
