"""A 3-layer 3D CNN over a chunked zarr volume on a Dask LocalCluster, against the dask-image-style baseline.

    PYTHONPATH=build/python /usr/bin/python3 examples/dask_volume.py --shape 2048 1024 1024   # 8 GiB (the default)
    PYTHONPATH=build/python /usr/bin/python3 examples/dask_volume.py --shape 64 64 64 --chunks 32 32 32  # seconds

Writes a synthetic float32 volume to DIR/input.zarr, runs Conv3d(1->8) ReLU Conv3d(8->8) ReLU Conv3d(8->1)
(3x3x3, padding "same") with convkit.dask.apply on a LocalCluster (2 worker processes x 1 thread, a
memory limit each), writes DIR/output.zarr, and reports voxels/s, the workers' peak memory, the split of
the workers' busy time (read / compute / write, from Dask's task stream), the baseline (dask's
map_overlap with scipy.ndimage.correlate per channel pair, one overlap per layer, on the first
--baseline-depth slices: its voxels/s is extrapolated to the volume) and convkit single-process on one
in-memory chunk (one thread), whose voxels/s the cluster's compute tasks are compared with. docs/scaling.md
has the measured table.
"""

import argparse
import os
import shutil
import tempfile
import time

import dask.array as da
import numpy as np
import scipy.ndimage
from distributed import Client, LocalCluster, get_task_stream, progress

import convkit
import convkit.dask as ckd

CHANNELS = (1, 8, 8, 1)


def make_stack(seed=0):
    """(layers, [(weight, bias), ...]): the 1->8->8->1 3x3x3 ReLU CNN with He-scaled random weights."""
    rng = np.random.default_rng(seed)
    layers, parameters = [], []
    for number, (cin, cout) in enumerate(zip(CHANNELS, CHANNELS[1:])):
        w = (rng.standard_normal((cout, cin, 3, 3, 3)) * np.sqrt(2 / (27 * cin))).astype(np.float32)
        b = (0.1 * rng.standard_normal(cout)).astype(np.float32)
        layers.append(ckd.Conv(w, b, padding="same"))
        parameters.append((w, b))
        if number < len(CHANNELS) - 2:
            layers.append("relu")
    return layers, parameters


def baseline_layer(block, w, b, relu):
    """dask-image's ndfilters.correlate per (output, input) channel pair on one haloed block (C, D, H, W)."""
    out = np.empty((w.shape[0],) + block.shape[1:], dtype=np.float32)
    for o in range(w.shape[0]):
        total = np.full(block.shape[1:], b[o], dtype=np.float32)
        for i in range(w.shape[1]):
            total += scipy.ndimage.correlate(block[i], w[o, i], mode="constant")
        out[o] = np.maximum(total, 0) if relu else total
    return out


def baseline(volume, parameters):
    """The same stack as map_overlap per layer (depth 1, zeros beyond the volume: padding "same")."""
    for number, (w, b) in enumerate(parameters):
        relu = number < len(parameters) - 1
        # map_overlap's chunks= are the blocks with their halo (it trims after the function).
        haloed = ((w.shape[0],),) + tuple(tuple(c + 2 for c in axis) for axis in volume.chunks[1:])
        volume = volume.map_overlap(baseline_layer, depth=(0, 1, 1, 1), boundary=0, dtype=np.float32,
                                    chunks=haloed, w=w, b=b, relu=relu)
    return volume


def peak_rss():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


def reset_peak_rss():
    with open("/proc/self/clear_refs", "w") as clear:  # Linux: "5" resets VmHWM to the current RSS
        clear.write("5")


def busy_seconds(stream):
    """Worker busy seconds per phase, from the task stream's key names."""
    phases = {"read": 0.0, "compute": 0.0, "write": 0.0, "other": 0.0}
    for task in stream:
        seconds = sum(s["stop"] - s["start"] for s in task["startstops"] if s["action"] == "compute")
        key = str(task["key"])
        phase = ("write" if "store" in key else "compute" if "convkit" in key
                 else "read" if "from-zarr" in key or "original" in key or "array-" in key else "other")
        phases[phase] += seconds
    return phases


def single_process_voxels_per_second(layers, chunk):
    """convkit alone (one thread) on one in-memory chunk with its halo: the stack's plans run back to back,
    the fastest of three runs."""
    convkit.set_num_threads(1)
    x = np.random.default_rng(1).standard_normal((1, 1) + tuple(c + 6 for c in chunk)).astype(np.float32)
    plans = []
    for layer in layers:
        if isinstance(layer, ckd.Conv):
            spec = convkit.ConvSpec(**layer.block_arguments())
            plans.append(convkit.Plan(spec, layer.weight, layer.bias, threads=1))
    best = float("inf")
    for _ in range(3):  # the fastest of 3: the first run also pays for first touches of the plans' buffers
        start, y = time.perf_counter(), x
        for number, plan in enumerate(plans):
            y = plan(y)
            if number < len(plans) - 1:
                np.maximum(y, 0, out=y)
        best = min(best, time.perf_counter() - start)
    return np.prod(chunk) / best


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", type=int, nargs=3, default=[2048, 1024, 1024], metavar=("D", "H", "W"))
    parser.add_argument("--chunks", type=int, nargs=3, default=[64, 256, 256], metavar=("D", "H", "W"))
    parser.add_argument("--memory-limit", default="2GiB", help="per worker (default 2GiB)")
    parser.add_argument("--baseline-depth", type=int, default=64, help="D slices the baseline runs on (0: none)")
    parser.add_argument("--dir", default=None, help="where the zarr volumes go (default: a temporary directory)")
    args = parser.parse_args()

    shape, chunks = tuple(args.shape), tuple(min(c, s) for c, s in zip(args.chunks, args.shape))
    voxels = int(np.prod(shape))
    directory = args.dir or tempfile.mkdtemp(prefix="convkit-dask-")
    layers, parameters = make_stack()
    print(f"volume {shape} float32 = {voxels * 4 / 2**30:.2f} GiB, chunks {chunks}, in {directory}")

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit=args.memory_limit,
                      host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as client:
        start = time.perf_counter()
        synthetic = da.random.RandomState(0).standard_normal((1, 1) + shape, chunks=(1, 1) + chunks).astype(np.float32)
        progress(synthetic.to_zarr(os.path.join(directory, "input.zarr"), overwrite=True, compute=False).persist())
        print(f"\nsynthetic volume written in {time.perf_counter() - start:.1f} s")

        client.run(reset_peak_rss)
        volume = da.from_zarr(os.path.join(directory, "input.zarr"))
        result = ckd.apply(layers, volume)
        with get_task_stream() as stream:
            start = time.perf_counter()
            future = client.compute(result.to_zarr(os.path.join(directory, "output.zarr"), overwrite=True,
                                                   compute=False))
            progress(future)
            future.result()
            seconds = time.perf_counter() - start
        peaks = client.run(peak_rss)
        phases = busy_seconds(stream.data)

        depth = min(args.baseline_depth, shape[0])
        baseline_rate = None
        if depth:
            part = volume[:, :, :depth].rechunk({1: -1})[0]  # (C, D, H, W): the baseline works per channel
            start = time.perf_counter()
            expected = baseline(part, parameters).compute()
            baseline_rate = expected.size / (time.perf_counter() - start)
            # The same cells from the convkit run (the sub-volume's last slice sees a zero beyond it in the baseline,
            # the real next slice in convkit: compare the inner slices only).
            inner = slice(0, depth - 3) if depth < shape[0] else slice(None)
            got = da.from_zarr(os.path.join(directory, "output.zarr"))[0, :, :depth].compute()
            difference = float(np.abs(got[:, inner] - expected[:, inner]).max()) if got[:, inner].size else 0.0

    single = single_process_voxels_per_second(layers, chunks)
    rate = voxels / seconds
    compute_per_worker = voxels / phases["compute"] if phases["compute"] else float("nan")
    busy = sum(phases.values())
    print("\n| measure | value |\n|---|---|")
    print(f"| volume | {shape[0]}x{shape[1]}x{shape[2]} float32, {voxels * 4 / 2**30:.2f} GiB, chunks "
          f"{'x'.join(map(str, chunks))} |")
    print(f"| convkit.dask wall time (read + compute + write) | {seconds:.1f} s |")
    print(f"| convkit.dask throughput | {rate / 1e6:.2f} Mvoxel/s |")
    print(f"| peak worker memory (VmHWM; limit {args.memory_limit}) | "
          f"{', '.join(f'{p / 2**20:.0f} MiB' for p in peaks.values())} |")
    print("| worker busy time: read / compute / write / other | " + " / ".join(
        f"{phases[k]:.1f} s ({100 * phases[k] / busy:.0f}%)" for k in ("read", "compute", "write", "other")) + " |")
    print(f"| compute tasks, per worker thread | {compute_per_worker / 1e6:.2f} Mvoxel/s |")
    print(f"| convkit single process, one thread, one in-memory chunk | {single / 1e6:.2f} Mvoxel/s |")
    print(f"| compute tasks vs single process | {100 * compute_per_worker / single:.0f}% |")
    if baseline_rate:
        print(f"| baseline (map_overlap + scipy.ndimage, first {depth} slices, extrapolated) | "
              f"{baseline_rate / 1e6:.3f} Mvoxel/s, {voxels / baseline_rate:.0f} s for the volume |")
        print(f"| convkit.dask vs baseline | {rate / baseline_rate:.1f}x |")
        print(f"| max difference to the baseline (inner slices) | {difference:.2e} |")
    if args.dir is None:
        shutil.rmtree(directory)


if __name__ == "__main__":
    main()
