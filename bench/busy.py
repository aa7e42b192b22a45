#!/usr/bin/env python3
"""convkit's threads on a busy machine (docs/benchmarks.md, "Busy machine"): the suite at N threads idle, then
while another process keeps one core busy, then as two copies of itself at once, against ideal sharing.

    python3 bench/busy.py --convkit build/convkit --json busy.json [--filter ...] [--threads 2]

Ideal sharing on C cores: a thread of an N-thread team gets share(N) = min(1, C / N) of a core when idle,
share(N + 1) next to a spinning process and share(2N) when two copies run, so a layer ideally takes
share(N) / share(N + 1) (N = C = 2: 1.5x) or share(N) / share(2N) (2x) times its idle time. A row's "vs ideal" is its measured factor over that
ideal; the issue's target is <= 1.3 for every row (and no 10x outliers). Wall clock (CPU time would hide the
waiting), medians of convkit bench's own rounds. Needs only the Python standard library.
"""

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile


def run_suite(convkit, arguments, json_path):
    """Starts `convkit bench` writing `json_path`; returns the process."""
    return subprocess.Popen([convkit, "bench", "--json", json_path, *arguments], stdout=subprocess.DEVNULL)


def medians(json_path):
    """{(layer, layout, threads): median ms} of convkit's rows in a `convkit bench --json` file."""
    with open(json_path, encoding="utf-8") as file:
        document = json.load(file)
    return {(r["layer"], r["layout"], r["threads"]): r["median_ms"] for r in document["results"]
            if r["impl"] == "convkit" and r["status"] == "ok"}


def wait_ok(*processes):
    for process in processes:
        if process.wait() != 0:
            sys.exit(f"busy.py: convkit bench exited with {process.returncode}")


def compare(idle, loaded, ideal):
    """Rows (key, idle ms, loaded ms, factor, factor / ideal) for the rows both runs have."""
    return [(key, idle[key], loaded[key], loaded[key] / idle[key], loaded[key] / idle[key] / ideal)
            for key in sorted(idle) if key in loaded]


def summary(rows):
    vs_ideal = [row[4] for row in rows]
    return dict(rows=len(rows), geomean_vs_ideal=math.exp(sum(map(math.log, vs_ideal)) / len(vs_ideal)),
                worst_vs_ideal=max(vs_ideal), rows_over_1_3=sum(v > 1.3 for v in vs_ideal),
                rows_over_10x_idle=sum(row[3] > 10 for row in rows))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--convkit", default="build/convkit", help="the convkit binary (default %(default)s)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="convkit threads (default: every core)")
    parser.add_argument("--filter", default="", help="only the layers whose name contains this")
    parser.add_argument("--layout", default="channels_first,channels_last")
    parser.add_argument("--min-time", default="0.3", help="convkit bench --min-time")
    parser.add_argument("--json", help="also write every row and the summaries here")
    options = parser.parse_args()
    cores = os.cpu_count()
    arguments = ["--threads", str(options.threads), "--layout", options.layout, "--min-time", options.min_time,
                 "--clock", "wall"] + (["--filter", options.filter] if options.filter else [])
    def share(threads):  # of a core, per thread, when `threads` threads want to run
        return min(1.0, cores / threads)

    ideal = {"one core busy": share(options.threads) / share(options.threads + 1),
             "two copies": share(options.threads) / share(2 * options.threads)}
    with tempfile.TemporaryDirectory() as directory:
        paths = {name: os.path.join(directory, name + ".json") for name in ("idle", "busy", "copy_a", "copy_b")}
        wait_ok(run_suite(options.convkit, arguments, paths["idle"]))
        spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            wait_ok(run_suite(options.convkit, arguments, paths["busy"]))
        finally:
            spinner.kill()
            spinner.wait()
        wait_ok(run_suite(options.convkit, arguments, paths["copy_a"]),
                run_suite(options.convkit, arguments, paths["copy_b"]))
        idle = medians(paths["idle"])
        runs = {"one core busy": [compare(idle, medians(paths["busy"]), ideal["one core busy"])],
                "two copies": [compare(idle, medians(paths[p]), ideal["two copies"]) for p in ("copy_a", "copy_b")]}
    document = {"cores": cores, "threads": options.threads, "ideal": ideal, "runs": {}}
    for name, tables in runs.items():
        rows = [row for table in tables for row in table]
        document["runs"][name] = dict(summary(rows), rows_detail=[
            dict(layer=k[0], layout=k[1], threads=k[2], idle_ms=i, loaded_ms=l, factor=f, vs_ideal=v)
            for k, i, l, f, v in rows])
        s = document["runs"][name]
        print(f"{name}: ideal {ideal[name]:.2f}x idle; {s['rows']} rows, geometric mean {s['geomean_vs_ideal']:.2f}x "
              f"ideal, worst {s['worst_vs_ideal']:.2f}x, {s['rows_over_1_3']} rows over 1.3x ideal, "
              f"{s['rows_over_10x_idle']} over 10x idle")
        for row in sorted(rows, key=lambda r: -r[4])[:5]:
            (layer, layout, _), idle_ms, loaded_ms, factor, vs_ideal = row
            print(f"  {layer:24} {layout[9:]:6} idle {idle_ms:8.3f} ms  loaded {loaded_ms:8.3f} ms  "
                  f"{factor:5.2f}x idle  {vs_ideal:5.2f}x ideal")
    if options.json:
        with open(options.json, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=1)


if __name__ == "__main__":
    main()
