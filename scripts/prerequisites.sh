#!/usr/bin/env bash
# Install what the build and the tests need besides cargo, when missing (Debian/Ubuntu): libpq-dev
# (the PostgreSQL client library the binary links), curl, psql and python3-venv for the
# conformance suites, Chromium and chromedriver for the /admin browser test. Idempotent;
# needs root or sudo only when something is missing. Fails loudly.
set -euo pipefail
need=()
command -v curl >/dev/null || need+=(curl)
# libpq links the PostgreSQL backend into the binary; psql creates the conformance databases.
{ [ -e /usr/include/postgresql/libpq-fe.h ] || [ -n "$(pg_config --includedir 2>/dev/null)" ]; } || need+=(libpq-dev)
command -v psql >/dev/null || need+=(postgresql-client)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
[ -x "${CHROMIUM:-/usr/bin/chromium}" ] || need+=(chromium)
[ -x "${CHROMEDRIVER:-/usr/bin/chromedriver}" ] || need+=(chromium-driver)
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${need[@]}"
fi
