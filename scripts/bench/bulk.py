#!/usr/bin/env python3
"""Time user creates through POST /Bulk: N users in requests of B operations, over C connections.

Usage: bulk.py BASE_URL N B C PREFIX
The bodies are built before the clock starts; each request must answer 200 with every operation
201 (anything else is reported and fails the run). Prints one line of key=value: users, seconds,
users_per_s, requests, p50_ms, p99_ms. The token is read from SCIM_BEARER_TOKEN.
"""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse


def body(prefix, start, count):
    ops = []
    for i in range(start, start + count):
        name = f"{prefix}{i}@bulk.example.com"
        ops.append({
            "method": "POST", "path": "/Users", "bulkId": f"u{i}",
            "data": {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": name, "externalId": f"bulk-{prefix}-{i}",
                "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
                "displayName": f"Given{i} Family{i}", "active": True,
                "emails": [{"type": "work", "primary": True, "value": name}],
                "phoneNumbers": [{"type": "eightbyeight", "value": f"+1415{i % 10_000_000:07d}"},
                                 {"type": "mobile", "value": f"+1650{i % 10_000_000:07d}"}],
            },
        })
    return json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                       "Operations": ops}).encode()


def main():
    base, n, b, c, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    url = urllib.parse.urlsplit(base)
    path = url.path.rstrip("/") + "/Bulk"
    headers = {"Content-Type": "application/scim+json",
               "Authorization": "Bearer " + os.environ.get("SCIM_BEARER_TOKEN", "")}
    bodies = [body(prefix, s, min(b, n - s)) for s in range(0, n, b)]
    latencies, failures, lock = [], [], threading.Lock()
    queue = list(reversed(bodies))

    def worker():
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        while True:
            with lock:
                if not queue:
                    break
                data = queue.pop()
            t = time.perf_counter()
            conn.request("POST", path, body=data, headers=headers)
            resp = conn.getresponse()
            text = resp.read()
            elapsed = time.perf_counter() - t
            # Counting the statuses in the text keeps the client's CPU (which shares the machine
            # with the server) off the measurement; a response that differs in any way fails.
            ok = resp.status == 200 and text.count(b'"status":"201"') == data.count(b'"method": "POST"')
            with lock:
                latencies.append(elapsed)
                if not ok:
                    failures.append(f"{resp.status}: {text[:300]!r}")
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(c)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    if failures:
        print(f"bulk.py: {len(failures)} requests did not create every user, e.g. {failures[0]}", file=sys.stderr)
        sys.exit(1)
    latencies.sort()
    pct = lambda p: latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000
    print(f"users={n} seconds={seconds:.3f} users_per_s={n / seconds:.0f} requests={len(bodies)} "
          f"p50_ms={pct(0.5):.1f} p99_ms={pct(0.99):.1f}")


if __name__ == "__main__":
    main()
