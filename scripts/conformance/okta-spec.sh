#!/usr/bin/env bash
# Run Okta's "Okta SCIM 2.0 SPEC Test" (the Runscope suite Okta asks SCIM integrations to pass,
# kept as tests/fixtures/okta/Okta-SCIM-20-SPEC-Test.json) against a running SCIM server, with
# the project's own replayer (okta_spec.py beside this file; Python standard library only).
#
# Usage: scripts/conformance/okta-spec.sh BASE_URL
#   BASE_URL is the SCIM root (the one /Users hangs off), e.g. http://127.0.0.1:8080/scim/v2.
#   The bearer token is read from SCIM_BEARER_TOKEN.
# Optional environment:
#   OKTA_SPEC_FILE   another Runscope export to replay instead of the fixture
#   OKTA_SPEC_ARGS   extra replayer flags: --pauses (wait 5-10 s between steps as Runscope
#                    does), --keep (leave the users the run created), --timeout SECONDS
#   PYTHON           interpreter (default python3)
# Output: PASS or FAIL per request step (12 steps), failed assertions below each FAIL, then
# "N passed, N failed".
# Exit: 0 when every step passed, 1 when one failed, 2 on usage errors.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ $# -ne 1 ] || [ -z "$1" ]; then
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
  exit 2
fi
suite="${OKTA_SPEC_FILE:-$here/../../tests/fixtures/okta/Okta-SCIM-20-SPEC-Test.json}"
[ -f "$suite" ] || { echo "okta-spec: $suite not found" >&2; exit 2; }
# shellcheck disable=SC2086  # OKTA_SPEC_ARGS is a list of flags
exec "${PYTHON:-python3}" "$here/okta_spec.py" ${OKTA_SPEC_ARGS:-} "$suite" "$1"
