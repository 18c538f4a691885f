#!/usr/bin/env python3
"""The replicas drain benchmark of docs/benchmarks.md (run it through scripts/bench-replicas.sh).

Three `scim-bridge serve` replicas on one PostgreSQL forward to one `scim-bridge genesys-sim`
that counts every token of the one OAuth client they share together (`--rate-limit-scope
client`): the replicas must share its limit of N requests per 60 s window (--limit), which they do
through the budget kept in their database (`genesys.rate_budget = shared`, the default).
U users (--users) are created through the three in turn, as fast as they answer; the drain is
then measured from the simulator's journal (`GET /sim/requests`, each request with the
millisecond it arrived and the status answered):

  rate used    Genesys API calls answered other than 429 from the first API call to the last,
               per minute, as a share of N (target: at least 95 %)
  429 share    API calls answered 429, as a share of all API calls (target: under 1 %)

Stdlib only. Usage: BENCH_DATABASE_URL=postgres://... bench_replicas.py BIN WORKDIR [--limit N] [--users U]
"""

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from bench_genesys import TOKEN, free_port, http, number, user, wait_up

REPLICAS = 3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("work")
    ap.add_argument("--limit", type=int, default=240, help="Genesys requests per 60 s window (default 240)")
    ap.add_argument("--users", type=int, default=600, help="users created, one Genesys call each (default 600)")
    a = ap.parse_args()
    database = os.environ.get("BENCH_DATABASE_URL") or sys.exit("bench_replicas.py: set BENCH_DATABASE_URL")
    if a.users > 9000:
        sys.exit("bench_replicas.py: at most 9000 users (the simulator's journal keeps the last 10,000 requests)")

    procs = []
    try:
        sim_port = free_port()
        sim = f"http://127.0.0.1:{sim_port}"
        log = open(os.path.join(a.work, "sim.log"), "w")
        procs.append(subprocess.Popen(
            [a.binary, "genesys-sim", "--listen", f"127.0.0.1:{sim_port}", "--client-id", "bench",
             "--client-secret", "bench-secret", "--rate-limit-per-minute", str(a.limit),
             "--window-seconds", "60", "--rate-limit-scope", "client"], stdout=log, stderr=log))
        wait_up(f"{sim}/sim/stats")
        env = dict(os.environ, SCIM_BRIDGE_BOOTSTRAP_TOKEN=TOKEN, SCIM_BRIDGE_DATABASE_URL=database,
                   SCIM_BRIDGE_GENESYS_API_URL=sim, SCIM_BRIDGE_GENESYS_LOGIN_URL=sim,
                   SCIM_BRIDGE_GENESYS_CLIENT_ID="bench", SCIM_BRIDGE_GENESYS_CLIENT_SECRET="bench-secret",
                   RUST_LOG="warn")
        env.pop("SCIM_BRIDGE_GENESYS_REGION", None)
        bases = []
        for r in range(REPLICAS):
            port = free_port()
            rlog = open(os.path.join(a.work, f"replica-{r}.log"), "w")
            procs.append(subprocess.Popen([a.binary, "serve", "--listen", f"127.0.0.1:{port}"], env=env,
                                          stdout=rlog, stderr=rlog))
            bases.append(f"http://127.0.0.1:{port}/scim/v2")
            # The first one migrates the empty database; the others find it done.
            wait_up(f"{bases[-1]}/ServiceProviderConfig", TOKEN)

        def create(i):
            status, _ = http("POST", f"{bases[i % REPLICAS]}/Users", user(i, number(i, 0), "replica"), TOKEN)
            assert status == 201, status

        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(create, range(a.users)))
        accepted = time.monotonic() - started
        print(f"replicas: {a.users} users created through {REPLICAS} replicas in turn in {accepted:.1f} s; "
              f"draining at {a.limit} Genesys requests/min for the one client", flush=True)

        expected = a.users * 60 / (a.limit * 0.97)
        deadline = time.monotonic() + expected * 1.5 + 60
        while True:
            stats = http("GET", f"{sim}/sim/stats")[1]
            created = sum(stats["creates_by_user_name"].values())
            if created >= a.users:
                break
            if time.monotonic() > deadline:
                sys.exit(f"replicas: only {created} of {a.users} users reached the simulator in time")
            time.sleep(1)
        drained = time.monotonic() - started

        journal = http("GET", f"{sim}/sim/requests")[1]
        api = [e for e in journal if e["path"].startswith("/api/v2")]
        refused = [e for e in api if e["status"] == "429"]
        admitted = [e for e in api if e["status"] != "429"]
        first, last = admitted[0]["at_ms"], admitted[-1]["at_ms"]
        minutes = (last - first) / 60000
        rate = (len(admitted) - 1) / minutes if minutes > 0 else 0
        share = 100 * rate / a.limit
        refused_share = 100 * len(refused) / max(len(api), 1)
        by_client = stats.get("requests_by_client", {})
        print(f"replicas: drained in {drained:.1f} s; {len(api)} Genesys API calls "
              f"({json.dumps(by_client)} admitted per client)")
        print(f"replicas: limit {a.limit}/min; {len(admitted)} calls admitted in {minutes * 60:.1f} s from the "
              f"first to the last: {rate:.1f} calls/min = {share:.1f} % of the limit (target >= 95 %); "
              f"429s {len(refused)} of {len(api)} = {refused_share:.2f} % (target < 1 %)")
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait()


if __name__ == "__main__":
    main()
