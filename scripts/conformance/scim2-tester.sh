#!/usr/bin/env bash
# Run scim2-tester (python-scim's SCIM 2.0 checker, PyPI package scim2-tester) against a running
# SCIM server: discovery endpoints, create/read/replace/delete of every resource type the server
# publishes, attribute selection, and PATCH add/remove/replace of each attribute in /Schemas.
#
# Usage: scripts/conformance/scim2-tester.sh BASE_URL
#   BASE_URL is the SCIM root (the one /Users hangs off), e.g. http://127.0.0.1:8080/scim/v2.
#   The bearer token is read from SCIM_BEARER_TOKEN (not from argv, which other users can see).
# Optional environment:
#   SCIM2_TESTER_TAGS, SCIM2_TESTER_EXCLUDE   comma-separated check tags to run or to leave out
#   SCIM2_TESTER_RESOURCES                    comma-separated resource types, e.g. User
#   SCIM2_TESTER_VERBOSE=1                    print the tool's data for each failed check
#   SCIM_BRIDGE_CONFORMANCE_CACHE, PYTHON     see venv.sh
# Output: one line per check, then "N passed, N failed, N skipped". SUCCESS, COMPLIANT and
# ACCEPTABLE count as passed; SKIPPED as skipped; DEVIATION, ERROR and CRITICAL as failed.
# Exit: 0 when nothing failed, 1 when a check failed, 2 on usage or installation errors.
# The checks create, change and delete Users and Groups: point it at a throwaway server.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ $# -ne 1 ] || [ -z "$1" ]; then
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
  exit 2
fi

# scim2-tester needs Python >= 3.11. Every package of its dependency closure is pinned, so a
# release on PyPI cannot change what this suite checks; bump them together.
"${PYTHON:-python3}" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "scim2-tester: needs Python >= 3.11 (${PYTHON:-python3} is $("${PYTHON:-python3}" -V 2>&1))" >&2; exit 2; }
# shellcheck source=scripts/conformance/venv.sh
. "$here/venv.sh"
conformance_venv scim2-tester \
  scim2-tester==0.5.2 scim2-client==0.13.2 scim2-models==0.12.3 httpx2==2.16.2 httpcore2==2.16.2 \
  pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
  typing_extensions==4.16.0 anyio==4.16.0 h11==0.16.0 idna==3.20 lark==1.3.1 \
  email-validator==2.4.0 dnspython==2.9.2 truststore==0.10.5

exec "$VENV_PYTHON" "$here/run_scim2_tester.py" "$1"
