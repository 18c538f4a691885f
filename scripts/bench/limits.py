#!/usr/bin/env python3
"""Print each benchmark phase of scim-bridge as a share of the machine's limit for it, measured
in the same run (scripts/bench.sh --limits): results.tsv of scripts/bench/measure.sh and
limits.tsv of scripts/bench/limits.sh. Targets of issue 14:
  get    >= 40 % of the trivial actix JSON GET
  filter >= 35 % of the trivial actix JSON GET
  seed   >= 80 % of the in-process SQLite create transaction
  patch  >= 65 % of the in-process SQLite PATCH transaction
  peak RSS <= 100 MiB
The same writes 32 to a transaction (the best the bridge's group commit could do with 32 writes
queued) are shown beside them, without a target. When both files hold figures at a grown
size N (measure.sh and limits.sh --grow-to N: get.N ..., sqlite-create.N ...), a second table
puts each phase at N beside its limit at N, and the bridge's fall from the first size beside
the floor's. Standard library only.
Usage: limits.py results.tsv limits.tsv"""

import csv
import sys

# phase -> (limit, target share, batched limit shown beside it)
LIMITS = {
    "seed": ("sqlite-create", 0.80, "sqlite-create-batch32"),
    "get": ("trivial-get", 0.40, None),
    "filter": ("trivial-get", 0.35, None),
    "patch": ("sqlite-patch", 0.65, "sqlite-patch-batch32"),
    "page": (None, None, None),
}
RSS_LIMIT_MIB = 100


def main(results_path, limits_path):
    with open(limits_path, newline="") as fh:
        limits = {r["limit"]: r for r in csv.DictReader(fh, delimiter="\t")}
    with open(results_path, newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    target = rows[0]["target"] if rows else "scim-bridge"
    phases = {r["phase"]: r for r in rows if r["target"] == target}

    print(f"| phase | {target} req/s | limit | limit req/s | share | target share | "
          "met | share of the limit 32 to a transaction |")
    print("|---|---:|---|---:|---:|---:|---|---:|")
    for phase, (limit, share_target, batched) in LIMITS.items():
        r = phases.get(phase)
        if r is None or r["rps"] == "-":
            continue
        rps = float(r["rps"])
        clean = r["non2xx"] in ("0", "-") and r["socket_errors"] in ("0", "-")
        if limit is None:
            print(f"| {phase} | {rps:.0f} | (none measured) | - | - | - | - | - |")
            continue
        lim = float(limits[limit]["rps"]) if limit in limits else None
        share = rps / lim if lim else None
        verdict = "-" if share is None else ("met" if share >= share_target and clean else "not met")
        if not clean:
            verdict += f" ({r['non2xx']} non-2xx, {r['socket_errors']} socket errors)"
        extra = "-"
        if batched and batched in limits and float(limits[batched]["rps"]) > 0:
            extra = f"{100 * rps / float(limits[batched]['rps']):.0f} % of {float(limits[batched]['rps']):.0f}"
        print(f"| {phase} | {rps:.0f} | {limit} | {lim:.0f} | {100 * share:.0f} % | "
              f">= {100 * share_target:.0f} % | {verdict} | {extra} |"
              if lim else f"| {phase} | {rps:.0f} | {limit} | - | - | - | - | - |")
    peaks = [int(r["peak_rss_mib"]) for p, r in phases.items()
             if p in LIMITS and r["peak_rss_mib"] not in ("-", "")]
    if peaks:
        peak = max(peaks)
        print(f"| peak RSS (MiB) | {peak} | - | - | - | <= {RSS_LIMIT_MIB} MiB | "
              f"{'met' if peak <= RSS_LIMIT_MIB else 'not met'} | - |")
    grown(phases, limits)


def grown(phases, limits):
    sizes = sorted({int(p.split(".")[1]) for p in phases
                    if p.count(".") == 1 and p.split(".")[0] in LIMITS and p.split(".")[1].isdigit()})
    for size in sizes:
        print()
        print(f"At {size} users (the limit of seed and patch measured in a collection of {size} users too): "
              "each phase's share of its limit there, and how far the bridge and the floor each fell from "
              "the first size (at N / at first size)")
        print(f"| phase | req/s at {size} | limit | limit req/s at {size} | share | bridge at N / first | "
              "limit at N / first |")
        print("|---|---:|---|---:|---:|---:|---:|")
        for phase, (limit, _, _) in LIMITS.items():
            r, first = phases.get(f"{phase}.{size}"), phases.get(phase)
            if r is None or r["rps"] == "-" or limit is None:
                continue
            rps = float(r["rps"])
            lim_n = limits.get(f"{limit}.{size}") or (limits.get(limit) if limit == "trivial-get" else None)
            lim_1 = limits.get(limit)
            share = f"{100 * rps / float(lim_n['rps']):.0f} %" if lim_n else "-"
            fell = f"{rps / float(first['rps']):.2f}" if first and first["rps"] not in ("-", "0") else "-"
            floor = (f"{float(lim_n['rps']) / float(lim_1['rps']):.2f}"
                     if lim_n and lim_1 and lim_n is not lim_1 else "(same)")
            print(f"| {phase} | {rps:.0f} | {limit} | {float(lim_n['rps']):.0f} | {share} | {fell} | {floor} |"
                  if lim_n else f"| {phase} | {rps:.0f} | {limit} | - | - | {fell} | - |")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
