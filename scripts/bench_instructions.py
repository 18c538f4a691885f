#!/usr/bin/env python3
"""Instruction counts per request under callgrind (run it through scripts/bench-instructions.sh,
whose header explains the method and why each setting is there).

  bench_instructions.py run BINARY OUTDIR [--label L] [--mode parked|dry-run] [--pipeline N]
      [--seed-users N] [--creates N] [--gets N] [--filters N] [--patches N] [--pages N]
  bench_instructions.py table RESULT.json [RESULT2.json]

`run` starts `BINARY serve` under `valgrind --tool=callgrind` on a fresh SQLite file in OUTDIR,
sends a fixed request mix, and has callgrind count each phase separately
(`callgrind_control -i on`, the requests, `-i off`, `--dump=<phase>`). It writes
OUTDIR/result.json, the dumps (OUTDIR/callgrind.out.N, one per phase, in the order below;
`callgrind_annotate OUTDIR/callgrind.out.N` shows where the instructions went) and
OUTDIR/server.log. `table` prints instructions per request, and for two results their ratio
(second / first).

Phases (the request shapes of scripts/bench.sh and scripts/bench/measure.sh):
  startup  from exec until the server logs that it listens (a total, not per request)
  seed     POST /Users, users 0..N-1, each with an 8x8 and a mobile number; then an uncounted
           warm-up (see warm_up)
  idle     no request for IDLE_SECONDS: what runs by the clock, per second (a diagnostic)
  create   POST /Users, the next --creates users
  get      GET /Users/{id}, picked by a seeded PRNG among the seeded users
  filter   GET /Users?filter=userName eq "...", picked the same way
  patch    PATCH replace phoneNumbers[type eq "eightbyeight"].value, distinct seeded users
  page     GET /Users?startIndex=<seeded PRNG>&count=100

Modes: `parked` (default) points Genesys at a port that never answers, so the outbox worker
waits on its first token request for the whole run and only the request path is counted;
`dry-run` sets SCIM_BRIDGE_DRY_RUN=true and keeps each window open until the outbox is empty
(polled read-only through sqlite3, not over HTTP), so write phases also count the worker's
preview of every change they caused. Standard library only.
"""


import argparse
import json
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time

TOKEN = "bench-instructions-token-0123456789"
PREFIX = "cg"
IDLE_SECONDS = 5.0
WARMUP_GETS = 8
WARMUP_USERS = 16
PHASES = ["create", "get", "filter", "patch", "page"]
# Functions whose calls are not counted (callgrind stops collecting on entry and resumes on
# return, per thread), because how often they run depends on wall time: the outbox worker's
# query for due rows (every 200 ms while nothing is due, once per pass while it drains) and the
# WAL checkpoint (the store's checkpointer thread, every 500 ms; the pages it copies per pass
# depend on how many writes fell between two passes).
EXCLUDED = ["*outbox_due*", "sqlite3WalCheckpoint"]
EXCLUDE_ARGS = [f"--toggle-collect={f}" for f in EXCLUDED]


def log(msg):
    print(f"[bench-instructions] {msg}", file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def user_name(i, prefix=PREFIX):
    return f"{prefix}{i:07d}@example.com"


def user_body(i, prefix=PREFIX):
    u = user_name(i, prefix)
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": u,
        "externalId": f"ext-{prefix}{i:07d}",
        "name": {"givenName": f"Given{i}", "familyName": f"Family{i}"},
        "displayName": f"Given{i} Family{i}",
        "active": True,
        "emails": [{"value": u, "type": "work", "primary": True}],
        "phoneNumbers": [
            {"value": f"+1 555 {i:07d}", "type": "eightbyeight"},
            {"value": f"+1 556 {i:07d}", "type": "mobile"},
        ],
    }


def patch_body(i):
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "replace", "path": 'phoneNumbers[type eq "eightbyeight"].value', "value": f"+1 557 {i:07d}"}
        ],
    }


class Client:
    """One keep-alive HTTP/1.1 connection (a plain socket, so that requests can be pipelined);
    every response is checked for its expected status."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=600)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    @staticmethod
    def encode(method, path, body):
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n" \
               "Accept: application/scim+json\r\n"
        data = b""
        if body is not None:
            data = json.dumps(body, separators=(",", ":")).encode()
            head += f"Content-Type: application/scim+json\r\nContent-Length: {len(data)}\r\n"
        return (head + "\r\n").encode() + data

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            sys.exit("the server closed the connection")
        self.buf += chunk

    def _response(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                while b"\r\n" not in self.buf:
                    self._fill()
                size_line, self.buf = self.buf.split(b"\r\n", 1)
                size = int(size_line.split(b";")[0], 16)
                while len(self.buf) < size + 2:
                    self._fill()
                body, self.buf = body + self.buf[:size], self.buf[size + 2:]
                if size == 0:
                    return status, body
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, body

    def batch(self, reqs):
        """Send every request of `reqs` ((method, path, body, expected status)) at once
        (HTTP/1.1 pipelining: the server still handles them one after the other), then read
        the responses; returns their bodies."""
        self.sock.sendall(b"".join(self.encode(m, p, b) for m, p, b, _ in reqs))
        out = []
        for m, p, _, expect in reqs:
            status, payload = self._response()
            if status != expect:
                sys.exit(f"{m} {p}: expected {expect}, got {status}: {payload[:300]!r}")
            out.append(payload)
        return out

    def request(self, method, path, body=None, expect=200):
        return self.batch([(method, path, body, expect)])[0]

    def run(self, reqs, depth):
        """All of `reqs`, `depth` at a time; returns the response bodies in order."""
        out = []
        for k in range(0, len(reqs), depth):
            out += self.batch(reqs[k:k + depth])
        return out

    def close(self):
        self.sock.close()


class Bridge:
    """BINARY serve under callgrind, with instrumentation switched per phase."""

    def __init__(self, binary, out, mode):
        self.out = out
        self.db = os.path.join(out, "bench.db")
        self.port = free_port()
        self.mode = mode
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCIM_BRIDGE_")}
        env.update(SCIM_BRIDGE_BOOTSTRAP_TOKEN=TOKEN, RUST_LOG="info", SCIM_BRIDGE_LOG_FORMAT="text")
        self.black_hole = None
        if mode == "dry-run":
            env["SCIM_BRIDGE_DRY_RUN"] = "true"
        else:
            # Genesys at a loopback port that completes TCP handshakes (the kernel's accept
            # queue) and never answers: the worker's first token request waits out the client's
            # 30 s timeout, again and again, and the worker's pass never ends.
            self.black_hole = socket.socket()
            self.black_hole.bind(("127.0.0.1", 0))
            self.black_hole.listen(1024)
            genesys = f"http://127.0.0.1:{self.black_hole.getsockname()[1]}"
            env.update(
                SCIM_BRIDGE_GENESYS_API_URL=genesys,
                SCIM_BRIDGE_GENESYS_LOGIN_URL=genesys,
                SCIM_BRIDGE_GENESYS_CLIENT_ID="bench-instructions",
                SCIM_BRIDGE_GENESYS_CLIENT_SECRET="bench-instructions-secret",
            )
        self.log_path = os.path.join(out, "server.log")
        self.log = open(self.log_path, "w")
        cmd = [
            "valgrind", "--tool=callgrind", "--instr-atstart=yes", *EXCLUDE_ARGS,
            # after --toggle-collect, which otherwise switches collection off at start
            "--collect-atstart=yes",
            f"--callgrind-out-file={os.path.join(out, 'callgrind.out')}",
            binary, "--database", self.db, "serve", "--listen", f"127.0.0.1:{self.port}", "--workers", "1",
        ]
        log("starting: " + " ".join(cmd))
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log, env=env, start_new_session=True)
        self.outbox = None

    def wait_listening(self, timeout=300):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"the server exited early (status {self.proc.returncode}); see {self.log_path}")
            with open(self.log_path, errors="replace") as f:
                if "scim-bridge listening" in f.read():
                    return
            time.sleep(0.05)
        sys.exit(f"the server never logged that it listens; see {self.log_path}")

    def control(self, *args):
        r = subprocess.run(["callgrind_control", *args, str(self.proc.pid)], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"callgrind_control {' '.join(args)} failed: {r.stdout}{r.stderr}")

    def instr(self, on):
        self.control("-i", "on" if on else "off")

    def dump(self, name):
        self.control(f"--dump={name}")

    def pending(self):
        if self.outbox is None:
            self.outbox = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        return self.outbox.execute("SELECT count(*) FROM outbox").fetchone()[0]

    def settle(self, timeout=600):
        """End of a window. Dry run: until the worker has previewed every change (the outbox is
        empty). Then a fixed settle time (the worker's bookkeeping after its last commit, the
        server's handling of the closed connection)."""
        deadline = time.monotonic() + timeout
        while self.mode == "dry-run" and self.pending() > 0:
            if time.monotonic() > deadline:
                sys.exit("the outbox did not drain")
            time.sleep(0.1)
        time.sleep(0.5)

    def stop(self):
        if self.outbox is not None:
            self.outbox.close()
        if self.proc.poll() is None:
            # Every phase is dumped already; a graceful stop would wait for the parked worker's
            # token request to time out.
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        if self.black_hole is not None:
            self.black_hole.close()


def filter_path(name):
    return "/scim/v2/Users?filter=userName%20eq%20%22" + name.replace("@", "%40") + "%22"


def warm_up(bridge, ids):
    """Not counted (instrumentation is off). First concurrent pages on several connections, so
    the reader pool grows to the size it keeps (r2d2 opens a connection whenever fewer than 2
    are idle: opening one, and preparing its statements, inside a window would be counted);
    then each request shape a few times on the connection sequential requests reuse, on users
    of their own (prefix "warm") that no phase touches."""
    failures = []

    def pages(k):
        try:
            c = Client(bridge.port)
            for j in range(4):
                c.request("GET", f"/scim/v2/Users?startIndex={1 + 50 * ((k + j) % 8)}&count=100")
            c.close()
        except BaseException as e:  # sys.exit in a thread ends only the thread
            failures.append(e)

    threads = [threading.Thread(target=pages, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        sys.exit(f"warm-up failed: {failures[0]}")
    c = Client(bridge.port)
    base = "/scim/v2/Users"
    for i in range(WARMUP_USERS):
        wid = json.loads(c.request("POST", base, user_body(i, "warm"), expect=201))["id"]
        c.request("GET", f"{base}/{wid}")
        c.request("GET", filter_path(user_name(i, "warm")))
        c.request("PATCH", f"{base}/{wid}", patch_body(i))
        c.request("GET", f"{base}/{ids[i]}")
        c.request("GET", filter_path(user_name(i)))
        c.request("GET", f"{base}?startIndex={1 + 37 * i}&count=100")
    c.close()
    bridge.settle()


def parse_dumps(out):
    """{dump name: Ir} from the callgrind dump files of one run."""
    totals = {}
    for name in sorted(os.listdir(out)):
        if not name.startswith("callgrind.out"):
            continue
        desc, total, summary = None, None, None
        with open(os.path.join(out, name), errors="replace") as f:
            for line in f:
                if line.startswith("desc: Trigger:"):
                    desc = line.split(":", 2)[2].strip()
                elif line.startswith("totals:"):
                    total = int(line.split()[1])
                elif line.startswith("summary:"):
                    summary = int(line.split()[1])
        ir = total if total is not None else summary
        m = re.search(r"--dump=(\S+)|Client Request: (\S+)|(\S+)$", desc or "")
        key = next((g for g in (m.groups() if m else ()) if g), name)
        if ir is not None:
            totals[key] = ir
    return totals


def run(args):
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        if name.startswith("callgrind.out") or name.startswith("bench.db"):
            os.remove(os.path.join(out, name))
    rng = random.Random(20261204)
    n_seed = args.seed_users
    if args.patches > n_seed:
        sys.exit("--patches cannot exceed --seed-users (each seeded user is patched at most once)")
    requests = {}
    walls = {}
    bridge = Bridge(os.path.abspath(args.binary), out, args.mode)
    try:
        t0 = time.monotonic()
        bridge.wait_listening()
        bridge.instr(False)
        bridge.dump("startup")
        walls["startup"] = time.monotonic() - t0
        requests["startup"] = 1

        ids = []
        base = "/scim/v2/Users"
        depth = args.pipeline

        def measured(phase, reqs, check=None):
            """Send `reqs` ((method, path, body, expected status)) `depth` at a time on a fresh
            connection, counted from the first request until the server has settled."""
            c = Client(bridge.port)
            for k in range(WARMUP_GETS):
                c.request("GET", f"{base}/{ids[k % len(ids)]}" if ids else "/scim/v2/ServiceProviderConfig")
            bridge.instr(True)
            t = time.monotonic()
            if reqs:
                bodies = c.run(reqs, depth)
            else:
                time.sleep(IDLE_SECONDS)
            c.close()
            bridge.settle()
            bridge.instr(False)
            walls[phase] = time.monotonic() - t
            bridge.dump(phase)
            requests[phase] = len(reqs)
            log(f"{phase}: {len(reqs)} requests in {walls[phase]:.1f} s under callgrind")
            if reqs and check:
                for r, body in zip(reqs, bodies):
                    check(r, body)

        def created(r, body):
            ids.append(json.loads(body)["id"])

        def creates(first, count):
            return [("POST", base, user_body(i), 201) for i in range(first, first + count)]

        measured("seed", creates(0, n_seed), created)
        warm_up(bridge, ids)
        measured("idle", [])
        measured("create", creates(n_seed, args.creates), created)

        get_picks = [rng.randrange(n_seed) for _ in range(args.gets)]
        measured("get", [("GET", f"{base}/{ids[i]}", None, 200) for i in get_picks])

        filter_picks = [rng.randrange(n_seed) for _ in range(args.filters)]

        def one_found(r, body):
            if b'"totalResults":1' not in body:
                sys.exit(f"{r[1]} did not find exactly one user")

        measured("filter", [("GET", filter_path(user_name(i)), None, 200) for i in filter_picks], one_found)

        patch_picks = rng.sample(range(n_seed), args.patches)
        measured("patch", [("PATCH", f"{base}/{ids[i]}", patch_body(i), 200) for i in patch_picks])

        total_users = n_seed + WARMUP_USERS + args.creates
        page_picks = [rng.randint(1, max(1, total_users - 99)) for _ in range(args.pages)]

        def full_page(r, body):
            if body.count(b'"userName"') != 100:
                sys.exit(f"{r[1]} did not hold 100 users")

        measured("page", [("GET", f"{base}?startIndex={s}&count=100", None, 200) for s in page_picks], full_page)
        pending = bridge.pending()
    finally:
        bridge.stop()
    written = n_seed + WARMUP_USERS + args.creates
    if args.mode == "parked" and pending != written:
        log(f"WARNING: {pending} outbox rows at the end instead of {written}: the worker was not parked, "
            "so its forwarding is in the counts")
    with open(bridge.log_path, errors="replace") as f:
        warnings = [ln.rstrip() for ln in f if re.search(r"\b(WARN|ERROR)\b", ln) and "dry run" not in ln]
    for ln in warnings[:10]:
        plain = re.sub(r"\x1b\[[0-9;]*m", "", ln)
        log(f"server: {plain[:300]}")

    totals = parse_dumps(out)
    phases = {}
    for phase, n in requests.items():
        if phase not in totals:
            sys.exit(f"no callgrind dump for {phase} in {out} (found {sorted(totals)})")
        phases[phase] = {
            "requests": n,
            "ir": totals[phase],
            "ir_per_request": totals[phase] / n if n else None,
            "wall_s": round(walls[phase], 2),
        }
    phases["idle"]["ir_per_second"] = totals["idle"] / walls["idle"]
    result = {
        "label": args.label or os.path.basename(args.binary),
        "binary": os.path.abspath(args.binary),
        "sha256": sha256(args.binary),
        "config": {
            "seed_users": n_seed, "creates": args.creates, "gets": args.gets, "filters": args.filters,
            "patches": args.patches, "pages": args.pages, "workers": 1, "mode": args.mode, "pipeline": args.pipeline,
            "excluded_functions": EXCLUDED,
        },
        "outbox_rows_at_end": pending,
        "phases": phases,
    }
    with open(os.path.join(out, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    print_table([result])


def sha256(path):
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def print_table(results):
    labels = [r["label"] for r in results]
    rows = [("phase", "requests") + tuple(f"Ir/request {lab}" for lab in labels)]
    if len(results) == 2:
        rows[0] += ("ratio (2nd/1st)",)
    order = ["startup", "seed"] + PHASES + ["idle"]
    for phase in order:
        cells = [phase]
        ph = [r["phases"].get(phase) for r in results]
        if any(p is None for p in ph):
            continue
        if phase == "startup":
            cells.append("(total)")
            vals = [p["ir"] for p in ph]
        elif phase == "idle":
            cells.append("(per second)")
            vals = [p["ir_per_second"] for p in ph]
        else:
            cells.append(str(ph[0]["requests"]))
            vals = [p["ir_per_request"] for p in ph]
        cells += [f"{v:,.0f}" for v in vals]
        if len(results) == 2:
            cells.append(f"{vals[1] / vals[0]:.3f}")
        rows.append(tuple(cells))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for k, r in enumerate(rows):
        print("| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) + " |")
        if k == 0:
            print("|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("binary")
    r.add_argument("out")
    r.add_argument("--label")
    r.add_argument("--mode", choices=["parked", "dry-run"], default="parked")
    r.add_argument("--seed-users", type=int, default=1000)
    r.add_argument("--creates", type=int, default=500)
    r.add_argument("--gets", type=int, default=2000)
    r.add_argument("--filters", type=int, default=2000)
    r.add_argument("--patches", type=int, default=500)
    r.add_argument("--pages", type=int, default=100)
    r.add_argument("--pipeline", type=int, default=10)
    t = sub.add_parser("table")
    t.add_argument("results", nargs="+")
    args = p.parse_args()
    if args.cmd == "run":
        run(args)
    else:
        results = []
        for path in args.results:
            with open(path) as f:
                results.append(json.load(f))
        print_table(results)


if __name__ == "__main__":
    main()
