#!/usr/bin/env bash
# Run the scim-sanity live probe (PyPI package scim-sanity) against a running SCIM server: its
# phases cover discovery, the User and Group lifecycles (POST, GET, PUT, PATCH, DELETE), search
# and paging, and error responses (RFC 7643, RFC 7644).
#
# Usage: scripts/conformance/scim-sanity.sh BASE_URL
#   BASE_URL is the SCIM root (the one /Users hangs off), e.g. http://127.0.0.1:8080/scim/v2.
#   The bearer token is read from SCIM_BEARER_TOKEN. The probe is called through its Python API,
#   so the token never appears on a command line.
# Optional environment:
#   SCIM_SANITY_MODE=compat              the tool's lenient mode (default: strict)
#   SCIM_SANITY_RESOURCE=User            probe one resource type only
#   SCIM_BRIDGE_CONFORMANCE_CACHE, PYTHON   see venv.sh
# Output: one line per probe step, the tool's suggested fixes if any, then
# "N passed, N failed, N skipped" (a WARN counts as passed and an ERROR as failed, as the
# tool's own exit code does).
# Exit: 0 when nothing failed, 1 when a step failed, 2 on usage or installation errors.
# The probe creates, changes and deletes Users and Groups: point it at a throwaway server.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ $# -ne 1 ] || [ -z "$1" ]; then
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
  exit 2
fi
case "${SCIM_SANITY_MODE:-strict}" in
  strict|compat) ;;
  *) echo "scim-sanity: SCIM_SANITY_MODE must be strict or compat" >&2; exit 2;;
esac

# shellcheck source=scripts/conformance/venv.sh
. "$here/venv.sh"
conformance_venv scim-sanity scim-sanity==0.7.4 click==8.5.1

exec "$VENV_PYTHON" "$here/run_scim_sanity.py" "$1"
