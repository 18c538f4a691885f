"""Drive scim2-tester's check_server against one SCIM base URL (run by scim2-tester.sh, inside
the venv that script prepares). Prints a line per check and a final "N passed, N failed,
N skipped" line; exits 1 when a check failed."""

import os
import sys
import time

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

VERDICT = {
    Status.SUCCESS: "passed",
    Status.COMPLIANT: "passed",
    Status.ACCEPTABLE: "passed",
    Status.SKIPPED: "skipped",
    # A DEVIATION departs from a SHOULD of the RFCs: the project holds itself to those too.
    Status.DEVIATION: "failed",
    Status.ERROR: "failed",
    Status.CRITICAL: "failed",
}


def csv_env(name):
    items = {part.strip() for part in os.environ.get(name, "").split(",") if part.strip()}
    return items or None


def main():
    base_url = sys.argv[1].rstrip("/") + "/"
    token = os.environ.get("SCIM_BEARER_TOKEN", "")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resources = csv_env("SCIM2_TESTER_RESOURCES")
    verbose = os.environ.get("SCIM2_TESTER_VERBOSE") == "1"

    print(f"scim2-tester against {base_url}", flush=True)
    started = time.monotonic()
    with Client(base_url=base_url, headers=headers, timeout=30.0) as http:
        try:
            results = check_server(
                SyncSCIMClient(http),
                raise_exceptions=False,
                include_tags=csv_env("SCIM2_TESTER_TAGS"),
                exclude_tags=csv_env("SCIM2_TESTER_EXCLUDE"),
                resource_types=sorted(resources) if resources else None,
            )
        except Exception as exc:  # the checker itself gave up, e.g. the server is not there
            print(f"ABORTED    scim2-tester raised {type(exc).__name__}: {exc}")
            print("0 passed, 1 failed, 0 skipped")
            return 1

    counts = {"passed": 0, "failed": 0, "skipped": 0}
    for result in results:
        verdict = VERDICT.get(result.status, "failed")
        counts[verdict] += 1
        where = f" [{result.resource_type}]" if result.resource_type else ""
        reason = " ".join((result.reason or "").split())
        print(f"{result.status.name:<10} {result.title}{where}: {reason}")
        if verbose and verdict == "failed" and result.data is not None:
            print(f"{'':<11}data: {result.data!r}"[:2000])

    print(f"scim2-tester: {len(results)} checks in {time.monotonic() - started:.1f}s")
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
    return 1 if counts["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
