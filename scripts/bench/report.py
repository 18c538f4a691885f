#!/usr/bin/env python3
"""Print the tables of docs/benchmarks.md from one or more results.tsv files written by
scripts/bench/measure.sh: throughput with p50/p99 latency and peak RSS per target, then the
server's CPU efficiency, and with --relative-to TARGET each target's throughput as a multiple
of TARGET's. When the results hold fixed pages over a large collection (measure.sh
--deep-users: phases page@S), a table of those with each one's throughput as a share of the
first page's. When the results hold the phases again over a grown collection (measure.sh
--grow-to N: phases seed.N, get.N, ...), a table of each phase at N as a ratio to its figure at
the first size, with the peak RSS at each size. Standard library only.
Usage: report.py [--relative-to TARGET] results.tsv [more.tsv ...]"""

import csv
import sys

PHASES = ["seed", "get", "filter", "patch", "page"]
# Other column names for the same figures (the optional peer tool's TSV uses these).
ALIASES = {"sock_err": "socket_errors", "srv_cpu_s": "cpu_s"}


def load(paths):
    rows = {}
    targets = []
    for path in paths:
        with open(path, newline="") as fh:
            for raw in csv.DictReader(fh, delimiter="\t"):
                row = {ALIASES.get(k, k): v for k, v in raw.items()}
                if row["target"] not in targets:
                    targets.append(row["target"])
                rows[(row["target"], row["phase"])] = row
    return targets, rows


def throughput_cell(row):
    if row is None or row["rps"] == "-":
        return "-"
    cell = f"{row['rps']} ({row['p50_ms']}/{row['p99_ms']})"
    if row["non2xx"] not in ("0", "-"):
        cell += f" [{row['non2xx']} non-2xx]"
    if row["socket_errors"] not in ("0", "-"):
        cell += f" [{row['socket_errors']} socket errors]"
    return cell


def efficiency_cell(row):
    if row is None or row["cpu_s"] == "-" or row["requests"] == "-" or float(row["cpu_s"]) <= 0:
        return "-"
    cpu, wall = float(row["cpu_s"]), float(row["wall_s"])
    return f"{int(row['requests']) / cpu:.0f} ({100 * cpu / wall:.0f}% CPU)"


def main(args):
    reference = None
    if args[:1] == ["--relative-to"] and len(args) > 2:
        reference, args = args[1], args[2:]
    targets, rows = load(args)
    header = ["target"] + [f"{p} req/s (p50/p99 ms)" for p in PHASES] + ["peak RSS MiB"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for t in targets:
        peaks = [int(r["peak_rss_mib"]) for p in PHASES
                 if (r := rows.get((t, p))) and r["peak_rss_mib"] not in ("-", "")]
        cells = [throughput_cell(rows.get((t, p))) for p in PHASES]
        print("| " + " | ".join([t] + cells + [str(max(peaks)) if peaks else "-"]) + " |")

    if any(efficiency_cell(rows.get((t, p))) != "-" for t in targets for p in PHASES):
        print()
        print("Server CPU efficiency (requests per server CPU-second) and the server's CPU share of wall time:")
        print("| target | " + " | ".join(PHASES) + " |")
        print("|" + "---|" * (len(PHASES) + 1))
        for t in targets:
            print("| " + " | ".join([t] + [efficiency_cell(rows.get((t, p))) for p in PHASES]) + " |")

    deep = sorted({p for (_, p) in rows if p.startswith("page@")}, key=lambda p: int(p[5:]))
    seeded = {t: rows[(t, "seed")]["requests"] for t in targets if (t, "seed") in rows}
    if deep:
        for t in targets:
            # Every create phase before the deep pages: the growth of --grow-to, then seed-deep.
            for (tt, p), r in rows.items():
                if tt == t and (p in ("grow", "seed-deep") or (p.startswith("seed.") and p[5:].isdigit())):
                    seeded[t] = int(seeded.get(t, 0)) + int(r["requests"])
        print()
        print("Pages of 100 at a fixed startIndex in a large collection (req/s, p50/p99 ms), and each "
              f"as a share of the first page's req/s (the cost should not grow with startIndex):")
        header = ["target", "users", "seeding req/s"] + [f"startIndex={p[5:]}" for p in deep] \
            + [f"{p[5:]} / 1" for p in deep[1:]]
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for t in targets:
            cells = [throughput_cell(rows.get((t, p))) for p in deep]
            first = rows.get((t, deep[0]))
            ratios = []
            for p in deep[1:]:
                r = rows.get((t, p))
                ok = r and first and r["rps"] != "-" and first["rps"] not in ("-", "0")
                ratios.append(f"{float(r['rps']) / float(first['rps']):.2f}" if ok else "-")
            seed_deep = rows.get((t, "seed-deep"))
            print("| " + " | ".join([t, str(seeded.get(t, "-")), seed_deep["rps"] if seed_deep else "-"]
                                    + cells + ratios) + " |")

    grown = sorted({int(p.split(".")[1]) for (_, p) in rows
                    if p.split(".")[0] in PHASES and p.count(".") == 1 and p.split(".")[1].isdigit()})
    for size in grown:
        print()
        print(f"Flat as it grows: each phase at {size} users against its figure at the first size "
              "(req/s, p50/p99 ms; ratio = at N / at first size; target within 15 %, i.e. >= 0.85):")
        header = ["target", "phase", "first size", f"at {size}", "ratio", "within 15 %"]
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for t in targets:
            for p in PHASES:
                a, b = rows.get((t, p)), rows.get((t, f"{p}.{size}"))
                if not a or not b:
                    continue
                ok = a["rps"] not in ("-", "0") and b["rps"] != "-"
                ratio = float(b["rps"]) / float(a["rps"]) if ok else None
                print("| " + " | ".join([t, p, throughput_cell(a), throughput_cell(b),
                                         f"{ratio:.2f}" if ratio is not None else "-",
                                         ("met" if ratio >= 0.85 else "not met") if ratio is not None else "-"])
                      + " |")
            first = [int(r["peak_rss_mib"]) for p in PHASES
                     if (r := rows.get((t, p))) and r["peak_rss_mib"] not in ("-", "")]
            at = [int(r["peak_rss_mib"]) for (tt, p), r in rows.items()
                  if tt == t and p.endswith(f".{size}") and r["peak_rss_mib"] not in ("-", "")]
            if first and at:
                print(f"| {t} | peak RSS MiB | {max(first)} | {max(at)} | {max(at) / max(first):.2f} | "
                      f"{'met' if max(at) <= 150 else 'not met'} (target <= 150 MiB at {size}) |")

    if reference in targets and len(targets) > 1:
        phases = PHASES + deep
        print()
        print(f"Throughput relative to {reference} (the figures to compare; only phases without errors):")
        print("| target | " + " | ".join(phases) + " |")
        print("|" + "---|" * (len(phases) + 1))
        for t in targets:
            cells = []
            for p in phases:
                r, q = rows.get((t, p)), rows.get((reference, p))
                clean = r and q and r["rps"] != "-" and q["rps"] not in ("-", "0") \
                    and r["non2xx"] == "0" and q["non2xx"] == "0"
                cells.append(f"{float(r['rps']) / float(q['rps']):.2f}x" if clean else "-")
            print("| " + " | ".join([t] + cells) + " |")
        print()
        print(f"{reference} as a multiple of each target (the inverse: {reference} / target):")
        print("| target | " + " | ".join(phases) + " |")
        print("|" + "---|" * (len(phases) + 1))
        for t in targets:
            if t == reference:
                continue
            cells = []
            for p in phases:
                r, q = rows.get((t, p)), rows.get((reference, p))
                clean = r and q and r["rps"] not in ("-", "0") and q["rps"] != "-" \
                    and r["non2xx"] == "0" and q["non2xx"] == "0"
                cells.append(f"{float(q['rps']) / float(r['rps']):.2f}x" if clean else "-")
            print("| " + " | ".join([t] + cells) + " |")

    notes = [(t, p, r["note"]) for (t, p), r in rows.items() if r.get("note")]
    if notes:
        print()
        for t, p, note in notes:
            print(f"note: {t} {p}: {note}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
