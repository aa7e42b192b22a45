#!/usr/bin/env python3
"""Turns `convkit bench --peers --json OUT` into the Results table of docs/benchmarks.md.

One row per layer (and direction when not forward): the algorithm per layout, then convkit's speed over
the faster correct peer and convkit's median time for each layout and thread count; then the geometric
mean of those ratios and the rows below 1.0x. Usage: scripts/bench_table.py bench.json
"""
import json
import math
import sys


def main(path):
    with open(path) as f:
        document = json.load(f)
    cells = {}   # (layer, direction) -> {(layout, threads): (ratio, ms, algorithm)}
    order = []
    for r in document["results"]:
        if r["impl"] != "convkit":
            continue
        key = (r["layer"], r.get("direction", "forward"))
        if key not in cells:
            cells[key] = {}
            order.append(key)
        cells[key][(r["layout"], r["threads"])] = (r.get("speedup_vs_best_peer"), r.get("median_ms"), r["detail"])
    columns = sorted({c for row in cells.values() for c in row}, key=lambda c: (c[0] != "channels_first", c[1]))
    print("| layer | algorithm (first / last) | " + " | ".join(f"{l.split('_')[1]} {t}t" for l, t in columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    ratios, misses = [], []
    for key in order:
        row = cells[key]
        algorithms = " / ".join(dict.fromkeys(row[c][2] for c in columns if c in row))
        shown = []
        for c in columns:
            ratio, ms, _ = row.get(c, (None, None, ""))
            time = "-" if ms is None else (f"{ms:.3g} ms")
            shown.append(f"{ratio:.2f}x ({time})" if ratio else f"- ({time})")
            if ratio:
                ratios.append((c, ratio))
                if ratio < 1.0:
                    misses.append((key, c, ratio))
        name = key[0] if key[1] == "forward" else f"{key[0]} ({key[1]})"
        print(f"| {name} | {algorithms} | " + " | ".join(shown) + " |")

    def geomean(values):
        return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")

    print()
    print(f"geometric mean over {len(ratios)} cells: {geomean([r for _, r in ratios]):.2f}x; "
          + ", ".join(f"{t} thread(s) {geomean([r for c, r in ratios if c[1] == t]):.2f}x"
                      for t in sorted({c[1] for c, _ in ratios}))
          + f"; {len(ratios) - len(misses)} of {len(ratios)} cells >= 1.0x")
    print("below 1.0x: " + "; ".join(f"{k[0]} {c[0].split('_')[1]} {c[1]}t {r:.2f}x" for k, c, r in sorted(misses, key=lambda m: m[2])))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: scripts/bench_table.py BENCH_JSON")
    main(sys.argv[1])
