"""Run scim-sanity's probe through its Python API against one SCIM base URL (run by
scim-sanity.sh, inside the venv that script prepares). Prints a line per probe step and a final
"N passed, N failed, N skipped" line; exits 1 when a step failed or errored."""

import os
import sys
import time

from scim_sanity.probe.runner import run_probe_api

# scim-sanity's step statuses, and how they count here.
VERDICT = {"pass": "passed", "warn": "passed", "skip": "skipped", "fail": "failed", "error": "failed"}


def main():
    base_url = sys.argv[1].rstrip("/")
    mode = os.environ.get("SCIM_SANITY_MODE", "strict")
    print(f"scim-sanity ({mode}) against {base_url}", flush=True)
    started = time.monotonic()
    try:
        report = run_probe_api(
            base_url,
            token=os.environ.get("SCIM_BEARER_TOKEN") or None,
            strict=(mode == "strict"),
            resource_filter=os.environ.get("SCIM_SANITY_RESOURCE") or None,
            timeout=30,
        )
    except Exception as exc:  # the probe itself broke, e.g. the server is not there
        print(f"ERROR scim-sanity raised {type(exc).__name__}: {exc}")
        print("0 passed, 1 failed, 0 skipped")
        return 1

    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for step in report.get("results", []):
        status = step.get("status", "error")
        counts[VERDICT.get(status, "failed")] += 1
        message = " ".join((step.get("message") or "").split())
        print(f"{status.upper():<5} {step.get('phase', '')} / {step.get('name', '')}  {message}".rstrip())
    for issue in report.get("issues", []):
        print(f"fix ({issue.get('priority')}): {issue.get('title')}: {issue.get('fix')}")

    tool_failed = report.get("exit_code", 1) != 0
    if tool_failed and not counts["failed"]:
        counts["failed"] += 1  # the tool saw a failure that no step line shows: count it anyway
        print(f"FAIL  scim-sanity reported exit code {report.get('exit_code')}")
    print(f"scim-sanity {report.get('version', '?')}: {len(report.get('results', []))} steps "
          f"in {time.monotonic() - started:.1f}s")
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
