#!/usr/bin/env python3
"""A deterministic directory export for scripts/bench-sync.sh (docs/benchmarks.md, issue 12).

Usage: sync_csv.py N [CHANGED_PERCENT] > users.csv

N users user000000@bench.example ... with the default columns of docs/sync.md: a valid North
American 8x8 number each, a manager (every hundredth user leads the next 99, and is led by user 0),
a department, and two groups (20 departments, 5 sites). With CHANGED_PERCENT (e.g. 1), that share
of the rows (every row whose index modulo 100 is at least 100 minus the percentage) has a new 8x8 number, so a
second sync should send exactly those changes.
"""
import csv
import sys


def main():
    n = int(sys.argv[1])
    changed = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["userName", "externalId", "givenName", "familyName", "displayName", "email",
                  "eightbyeight", "active", "title", "department", "manager", "groups"])
    for i in range(n):
        lead = (i // 100) * 100
        manager = "" if i == 0 else f"E{(0 if lead == i else lead):06d}"
        exchange = 200 + i // 10000
        if (i % 100) >= 100 - changed:
            exchange += 100
        out.writerow([
            f"user{i:06d}@bench.example", f"E{i:06d}", f"Given{i}", f"Family{i % 997}",
            f"Given{i} Family{i % 997}", f"user{i:06d}@bench.example",
            f"+1 415 {exchange} {i % 10000:04d}", "true", "Lead" if lead == i else "Agent",
            f"Dept{i % 20:02d}", manager, f"Dept{i % 20:02d};Site{i % 5}",
        ])


if __name__ == "__main__":
    main()
