"""python3 -m convkit.bench: convkit's Python functions against torch.nn.functional on bench/layers.json.

Each layer of the suite (docs/benchmarks.md, "The suite and its data") runs in both layouts and at each thread
count through the functions a Python user calls, the Python call overhead included on both sides:

    convkit: convkit.conv2d(x, w, b, stride, padding, dilation, groups)  (layout="channels_last": NHWC numpy
             arrays with HWIO weights, as Keras hands them in); the plan is made (weights packed) in every call,
             as a functional call does, and a prepacked convkit.Plan is timed too ("plan_ms").
    torch:   torch.nn.functional.conv2d(x, w, b, ...) on CPU tensors (channels_last: torch's channels_last
             memory format for input and weight), torch.set_num_threads matched; ONNX pads that PyTorch cannot
             express (asymmetric) go through F.pad first, as a PyTorch user writes them.

Timing as `convkit bench`: the implementations take turns in rounds, each makes an untimed run per round, and
the median of all timed runs is reported. Results are JSON rows in `convkit bench --json`'s schema, with
"impl": "convkit" or "torch" ("speedup_vs_torch" on convkit's rows). Also measured: the per-call overhead of
a 1x1x8x8 convolution (3x3 kernel), the median time of one call on each side.
"""

import argparse
import json
import os
import resource
import statistics
import sys
import time

import numpy as np

import convkit


def _time(functions, min_time, rounds=3):
    """Median milliseconds of each function, run in turns (see the module docstring), and its median count of
    minor page faults per run (first touches of freshly mapped memory: ~2.5 us each on the benchmark VM)."""
    samples = [[] for _ in functions]
    faults = [[] for _ in functions]
    per_round = min_time / rounds / len(functions)
    for _ in range(rounds):
        for index, function in enumerate(functions):
            function()  # untimed: caches, lazily made state
            start = time.perf_counter()
            runs = 0
            while True:
                faults_before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                begin = time.perf_counter()
                function()
                samples[index].append((time.perf_counter() - begin) * 1e3)
                faults[index].append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before)
                runs += 1
                if runs >= 2 and time.perf_counter() - start >= per_round:
                    break
    return [dict(median_ms=statistics.median(s), min_ms=min(s), max_ms=max(s), repetitions=len(s),
                 page_faults=statistics.median(f)) for s, f in zip(samples, faults)]


def _layer_arrays(layer, index):
    """The layer's data: uniform in [-1, 1) from seed 20261121 + index, channels-first (docs/benchmarks.md)."""
    rng = np.random.default_rng(20261121 + index)
    rank = len(layer["kernel"])
    groups = layer.get("groups", 1)
    cin = layer["input"][1]
    cout = layer["out_channels"]
    weight = [cin, cout // groups] if layer.get("transposed") else [cout, cin // groups]
    x = rng.uniform(-1, 1, layer["input"]).astype(np.float32)
    w = rng.uniform(-1, 1, weight + list(layer["kernel"])).astype(np.float32)
    b = rng.uniform(-1, 1, cout).astype(np.float32) if layer.get("bias", True) else None
    return rank, x, w, b


def _convkit_call(layer, rank, x, w, b, layout):
    transposed = layer.get("transposed", False)
    pads = layer.get("padding", [0] * 2 * rank)
    args = dict(stride=layer.get("stride", 1), padding=pads, dilation=layer.get("dilation", 1),
                groups=layer.get("groups", 1))
    if transposed:
        args["output_padding"] = layer.get("output_padding", 0)
    if layout == "channels_last":
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1))
        w = np.ascontiguousarray(np.transpose(w, tuple(range(2, rank + 2)) + (1, 0)))
    spec = convkit.ConvSpec.for_arrays(x, w, b, transposed=transposed, layout=layout, **args)
    plan = convkit.Plan(spec, w, b)
    out = np.empty(spec.output_shape_for(x.shape), np.float32)
    function = getattr(convkit, f"conv_transpose{rank}d" if transposed else f"conv{rank}d")
    if transposed:
        call = lambda: function(x, w, b, args["stride"], pads, args["output_padding"], args["groups"],  # noqa: E731
                                args["dilation"], layout=layout)
    else:
        call = lambda: function(x, w, b, args["stride"], pads, args["dilation"], args["groups"],  # noqa: E731
                                layout=layout)
    return call, lambda: plan(x, out=out), plan, spec


def _torch_call(torch, layer, rank, x, w, b, layout):
    F = torch.nn.functional
    transposed = layer.get("transposed", False)
    pads = layer.get("padding", [0] * 2 * rank)
    begin, end = pads[:rank], pads[rank:]
    memory_format = {3: torch.contiguous_format, 4: torch.channels_last, 5: torch.channels_last_3d}[rank + 2]
    xt, wt = torch.from_numpy(x), torch.from_numpy(w)
    if layout == "channels_last" and rank > 1:
        xt, wt = xt.contiguous(memory_format=memory_format), wt.contiguous(memory_format=memory_format)
    bt = None if b is None else torch.from_numpy(b)
    stride, dilation, groups = layer.get("stride", 1), layer.get("dilation", 1), layer.get("groups", 1)
    if transposed:
        op = layer.get("output_padding", 0)
        function = getattr(F, f"conv_transpose{rank}d")
        if begin == end:
            return lambda: function(xt, wt, bt, stride, begin, op, groups, dilation)  # noqa: E731
        # Asymmetric pads: PyTorch pads both sides by the smaller amount, then the user crops the rest.
        both = [min(b_, e_) for b_, e_ in zip(begin, end)]
        crop = (slice(None), slice(None)) + tuple(slice(b_ - p, -(e_ - p) or None) for b_, e_, p in zip(begin, end, both))
        return lambda: function(xt, wt, bt, stride, both, op, groups, dilation)[crop]  # noqa: E731
    function = getattr(F, f"conv{rank}d")
    if begin == end:
        return lambda: function(xt, wt, bt, stride, begin, dilation, groups)  # noqa: E731
    torch_pads = [p for a in reversed(range(rank)) for p in (begin[a], end[a])]
    return lambda: function(F.pad(xt, torch_pads), wt, bt, stride, 0, dilation, groups)  # noqa: E731


def _as_channels_first(y, layout):
    y = np.asarray(y)
    return np.moveaxis(y, -1, 1) if layout == "channels_last" else y


def call_overhead(torch, min_time):
    """Median microseconds of one 1x1x8x8 convolution (3x3 kernel) through each side's Python function, both
    sides on one thread (what a call costs; a thread team only adds its wake-up to so small a convolution)."""
    convkit.set_num_threads(1)
    if torch is not None:
        torch.set_num_threads(1)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 1, 8, 8)).astype(np.float32)
    w = np.random.default_rng(1).uniform(-1, 1, (1, 1, 3, 3)).astype(np.float32)
    functions = [lambda: convkit.conv2d(x, w)]
    plan = convkit.Plan(convkit.ConvSpec(1, 1, (3, 3)), w)
    functions.append(lambda: plan(x))
    if torch is not None:
        xt, wt = torch.from_numpy(x), torch.from_numpy(w)
        functions.append(lambda: torch.nn.functional.conv2d(xt, wt))
    times = [t["median_ms"] * 1e3 for t in _time(functions, min_time)]
    result = {"convkit_us": times[0], "convkit_plan_us": times[1]}
    if torch is not None:
        result["torch_us"] = times[2]
    return result


def markdown_table(document, statistic="median"):
    """The docs/benchmarks.md table of a --json document: one line per layer, layout and thread count, with the
    median times or (statistic="min") the fastest runs, for a machine whose other load disturbs the medians."""
    rows = {}
    for result in document["results"]:
        key = (result["layer"], result["layout"], result["threads"])
        rows.setdefault(key, {})[result["impl"]] = result
    lines = ["| layer | layout | thr | convkit ms | Plan ms | torch ms | vs torch | algorithm |",
             "|---|---|--:|--:|--:|--:|--:|---|"]
    speedups = []
    for (layer, layout, threads), impls in rows.items():
        mine, theirs = impls["convkit"], impls["torch"]
        times = (mine[f"{statistic}_ms"], mine["plan_ms" if statistic == "median" else "plan_min_ms"],
                 theirs[f"{statistic}_ms"])
        speedups.append(times[2] / times[0])
        lines.append(f"| {layer} | {layout[9:]} | {threads} | {times[0]:.3f} | {times[1]:.3f} | {times[2]:.3f} | "
                     f"{speedups[-1]:.2f}x | {mine['detail']} |")
    geomean = float(np.exp(np.mean(np.log(speedups))))
    lines.append("")
    lines.append(f"Geometric mean {geomean:.2f}x; {sum(s >= 1.0 for s in speedups)}/{len(speedups)} rows >= 1.0x.")
    overhead = document.get("call_overhead")
    if overhead:
        lines.append(f"Per-call overhead (1x1x8x8 input, 3x3 kernel): convkit.conv2d {overhead['convkit_us']:.1f} us, "
                     f"convkit.Plan {overhead['convkit_plan_us']:.1f} us, torch F.conv2d {overhead['torch_us']:.1f} us.")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m convkit.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", default="bench/layers.json", help="the layer suite (default %(default)s)")
    parser.add_argument("--threads", default=f"1,{os.cpu_count()}", help="thread counts (default %(default)s)")
    parser.add_argument("--layout", default="channels_first,channels_last", help="layouts (default: both)")
    parser.add_argument("--filter", default="", help="only the layers whose name contains this")
    parser.add_argument("--min-time", type=float, default=0.3, help="seconds per implementation and row")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--table", metavar="JSON", help="print the markdown table of an earlier --json file and exit")
    parser.add_argument("--statistic", choices=("median", "min"), default="median", help="the times --table shows")
    options = parser.parse_args(argv)
    if options.table:
        with open(options.table, encoding="utf-8") as file:
            print(markdown_table(json.load(file), options.statistic))
        return
    try:
        import torch
    except ImportError:
        sys.exit("convkit.bench: error: needs torch (Debian python3-torch)")
    with open(options.suite, encoding="utf-8") as file:
        suite = json.load(file)
    threads = sorted({int(t) for t in options.threads.split(",")})
    layouts = options.layout.split(",")
    results = []
    header = f"{'layer':24} {'layout':6} {'thr':>3} {'convkit ms':>10} {'plan ms':>8} {'torch ms':>9} {'vs torch':>8}  algorithm"
    print(header)
    for index, layer in enumerate(suite["layers"]):
        if options.filter not in layer["name"]:
            continue
        rank, x, w, b = _layer_arrays(layer, index)
        for layout in layouts:
            for count in threads:
                convkit.set_num_threads(count)
                torch.set_num_threads(count)
                call, plan_call, plan, spec = _convkit_call(layer, rank, x, w, b, layout)
                torch_call = _torch_call(torch, layer, rank, x, w, b, layout)
                expected = torch_call().numpy()
                error = float(np.max(np.abs(_as_channels_first(call(), layout) - expected)) /
                              max(1e-30, float(np.max(np.abs(expected)))))
                mine, prepacked, theirs = _time([call, plan_call, torch_call], options.min_time)
                speedup = theirs["median_ms"] / mine["median_ms"]
                row = dict(layer=layer["name"], direction="forward", layout=layout, threads=count)
                macs = convkit.cost(spec, list(np.moveaxis(x, 1, -1).shape if layout == "channels_last"
                                                else x.shape))["macs"]
                results.append(dict(row, impl="convkit", status="ok", detail=plan.algorithm,
                                    gflops=2 * macs / mine["median_ms"] / 1e6, max_rel_error=error, macs=macs,
                                    plan_ms=prepacked["median_ms"], plan_min_ms=prepacked["min_ms"],
                                    speedup_vs_torch=speedup, **mine))
                results.append(dict(row, impl="torch", status="ok", detail=f"torch {torch.__version__}",
                                    gflops=2 * macs / theirs["median_ms"] / 1e6, max_rel_error=error, **theirs))
                print(f"{layer['name']:24} {layout[9:]:6} {count:>3} {mine['median_ms']:>10.3f} "
                      f"{prepacked['median_ms']:>8.3f} {theirs['median_ms']:>9.3f} {speedup:>7.2f}x  {plan.algorithm}",
                      flush=True)
    overhead = call_overhead(torch, options.min_time)
    print(f"call overhead, 1x1x8x8 conv 3x3: convkit.conv2d {overhead['convkit_us']:.2f} us, convkit.Plan "
          f"{overhead['convkit_plan_us']:.2f} us, torch F.conv2d {overhead['torch_us']:.2f} us")
    if options.json:
        document = {"machine": {"cpu": _cpu_name(), "threads": os.cpu_count()}, "suite": options.suite,
                    "min_time_s": options.min_time, "peers": [{"name": "torch", "version": torch.__version__}],
                    "call_overhead": overhead, "results": results}
        temporary = options.json + ".tmp"
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(document, file, indent=1)
        os.replace(temporary, options.json)


def _cpu_name():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
