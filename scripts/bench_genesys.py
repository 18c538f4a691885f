#!/usr/bin/env python3
"""The forwarding benchmark of docs/benchmarks.md (run it through scripts/bench-genesys.sh).

Three measurements, each on a release build, a fresh SQLite file and `scim-bridge genesys-sim`
in its own process:

  drain     The simulator allows N requests per token per 60 s window (--limit, default 600).
            A backlog larger than three windows' quota is queued at once; the sustained drain
            rate is the calls made in whole limiter cycles divided by those cycles' length (a
            cycle runs from one window's first call to the next window's first call, so the wait
            for the reset counts against the rate). Reported: calls/min, % of N, % answered 429.
  burst     An IdP burst: U users created, then each one's 8x8 number replaced 5 times, against
            a simulator answering in --latency ms (default 100, like a real region) at 300/min.
            Reported: Genesys API calls per IdP change once everything is delivered, and
            whether every profile holds the last number.
  creates   (scripts/bench-genesys.sh, not here) scripts/bench/measure.sh against the bridge
            while its worker drains into an unlimited simulator.
Stdlib only. Usage: bench_genesys.py BIN WORKDIR [--limit N] [--users U] [--latency MS]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

TOKEN = "bench-genesys-token"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(method, url, body=None, token=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/scim+json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as r:
        text = r.read()
        return r.status, (json.loads(text) if text else None)


def wait_up(url, token=None):
    for _ in range(200):
        try:
            http("GET", url, token=token)
            return
        except Exception:
            time.sleep(0.05)
    sys.exit(f"{url} never answered")


class Stack:
    """genesys-sim and serve, started fresh; stopped on exit."""

    def __init__(self, binary, work, name, sim_args):
        self.procs = []
        sim_port, port = free_port(), free_port()
        self.sim = f"http://127.0.0.1:{sim_port}"
        self.base = f"http://127.0.0.1:{port}/scim/v2"
        log = open(os.path.join(work, f"{name}.log"), "w")
        self.procs.append(
            subprocess.Popen(
                [binary, "genesys-sim", "--listen", f"127.0.0.1:{sim_port}", "--client-id", "bench",
                 "--client-secret", "bench-secret", *sim_args],
                stdout=log, stderr=log))
        wait_up(f"{self.sim}/sim/stats")
        env = dict(os.environ, SCIM_BRIDGE_BOOTSTRAP_TOKEN=TOKEN, SCIM_BRIDGE_GENESYS_API_URL=self.sim,
                   SCIM_BRIDGE_GENESYS_LOGIN_URL=self.sim, SCIM_BRIDGE_GENESYS_CLIENT_ID="bench",
                   SCIM_BRIDGE_GENESYS_CLIENT_SECRET="bench-secret", RUST_LOG="warn")
        env.pop("SCIM_BRIDGE_GENESYS_REGION", None)
        self.procs.append(
            subprocess.Popen([binary, "--database", os.path.join(work, f"{name}.db"), "serve", "--listen",
                              f"127.0.0.1:{port}"], env=env, stdout=log, stderr=log))
        wait_up(f"{self.base}/ServiceProviderConfig", TOKEN)

    def stats(self):
        return http("GET", f"{self.sim}/sim/stats")[1]

    def stop(self):
        for p in reversed(self.procs):
            p.terminate()
            p.wait()


def api_calls(stats):
    """Calls to the Genesys API (the OAuth token endpoint excluded) and how many were 429s."""
    calls = sum(sum(v.values()) for k, v in stats["by_route"].items() if "/api/v2" in k)
    r429 = sum(v.get("429", 0) for k, v in stats["by_route"].items() if "/api/v2" in k)
    return calls, r429


def user(i, number, prefix):
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": f"{prefix}{i:05d}@example.com",
        "name": {"givenName": "Bench", "familyName": f"User{i}"},
        "displayName": f"Bench User {i}",
        "emails": [{"value": f"{prefix}{i:05d}@example.com", "type": "work", "primary": True}],
        "phoneNumbers": [{"type": "eightbyeight", "value": number}],
        "active": True,
    }


def number(i, round_):
    return f"+1415{5_000_000 + round_ * 20_000 + i:07d}"


def create_all(base, count, prefix):
    def one(i):
        status, body = http("POST", f"{base}/Users", user(i, number(i, 0), prefix), TOKEN)
        assert status == 201, status
        return body["id"]

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(count)))


def drain(binary, work, limit):
    stack = Stack(binary, work, "drain", ["--rate-limit-per-minute", str(limit), "--window-seconds", "60"])
    try:
        samples = []
        done = threading.Event()

        def sample():
            while not done.is_set():
                samples.append((time.monotonic(), api_calls(stack.stats())))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        users = 3 * limit + limit // 2
        create_all(stack.base, users, "drain")
        # Wait for the fourth window's first call: three whole cycles are then behind us.
        starts = []
        deadline = time.monotonic() + 4 * 60 + 60
        while len(starts) < 4 and time.monotonic() < deadline:
            time.sleep(1)
            starts = cycle_starts(list(samples))
        done.set()
        sampler.join()
        if len(starts) < 4:
            sys.exit(f"drain: saw only {len(starts)} limiter cycles")
        (t1, c1), (t4, c4) = starts[0], starts[3]
        calls = c4 - c1
        minutes = (t4 - t1) / 60
        total, r429 = api_calls(stack.stats())
        rate = calls / minutes
        print(f"drain: limit {limit}/min; {calls} calls in 3 limiter cycles of {minutes * 60:.1f} s: "
              f"{rate:.0f} calls/min = {100 * rate / limit:.1f} % of the limit; "
              f"429s {r429} of {total} calls = {100 * r429 / max(total, 1):.2f} %")
    finally:
        stack.stop()


def cycle_starts(samples):
    """(time, calls before it) of each burst that follows at least 2 s without a call."""
    starts, last_change = [], None
    prev_calls = 0
    for t, (calls, _) in samples:
        if calls > prev_calls:
            if last_change is None or t - last_change >= 2.0:
                starts.append((t, prev_calls))
            last_change = t
        prev_calls = calls
    return starts


def burst(binary, work, users, latency):
    stack = Stack(binary, work, "burst", ["--rate-limit-per-minute", "300", "--latency-ms", str(latency)])
    try:
        started = time.monotonic()
        ids = create_all(stack.base, users, "burst")
        changes = users

        def patch(args):
            i, uid, r = args
            ops = [{"op": "replace", "path": 'phoneNumbers[type eq "eightbyeight"].value', "value": number(i, r)}]
            body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}
            assert http("PATCH", f"{stack.base}/Users/{uid}", body, TOKEN)[0] == 200

        for r in range(1, 6):
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(patch, [(i, uid, r) for i, uid in enumerate(ids)]))
            changes += users
        accepted = time.monotonic() - started
        # Delivered when every profile shows the last number.
        pending = set(range(users))
        while pending:
            time.sleep(1)
            for i in sorted(pending):
                try:
                    _, p = http("GET", f"{stack.sim}/sim/profiles/burst{i:05d}@example.com")
                except Exception:
                    continue
                phone = (p.get("contactInfo") or [{}])[0].get("phone_other") or [{}]
                if phone[0].get("value", {}).get("number") == number(i, 5):
                    pending.discard(i)
            if time.monotonic() - started > 900:
                sys.exit(f"burst: {len(pending)} users never reached their last number")
        delivered = time.monotonic() - started
        calls, r429 = api_calls(stack.stats())
        creates = sum(stack.stats()["creates_by_user_name"].values())
        print(f"burst: {changes} IdP changes ({users} creates + 5 PATCHes each) accepted in {accepted:.1f} s, "
              f"all delivered after {delivered:.1f} s (Genesys at {latency} ms, 300/min); "
              f"{calls} Genesys API calls = {calls / changes:.3f} per IdP change, {calls / users:.2f} per user; "
              f"{creates} creates; {r429} answered 429")
    finally:
        stack.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("work")
    ap.add_argument("--limit", type=int, default=600)
    ap.add_argument("--users", type=int, default=200)
    ap.add_argument("--latency", type=int, default=100)
    ap.add_argument("--only", choices=["drain", "burst"])
    a = ap.parse_args()
    if a.only in (None, "burst"):
        burst(a.binary, a.work, a.users, a.latency)
    if a.only in (None, "drain"):
        drain(a.binary, a.work, a.limit)


if __name__ == "__main__":
    main()
