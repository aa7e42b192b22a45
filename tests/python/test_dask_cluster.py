"""A real dask.distributed LocalCluster (2 worker processes on loopback, 192 MiB memory limit each) runs a
conv stack over a zarr volume 3x larger than a worker's limit and matches the whole-volume run; each worker
builds the stack's plans once and never holds more than its limit.

The volume is long along D and one chunk across H and W: a 3D halo sweep holds about three slabs of chunks,
so the slab must be small next to the limit (an idle worker process is already ~100 MiB)."""

import logging

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")

import convkit  # noqa: E402
import convkit.dask as ckd  # noqa: E402

MEMORY_LIMIT = 192 * 2**20


def peak_rss():
    """This process's peak resident memory (VmHWM), bytes."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


def plans_built():
    from convkit.dask import _plans

    return _plans.built


def test_stack_on_a_local_cluster_over_a_zarr_volume_larger_than_a_worker(tmp_path):
    rng = np.random.default_rng(21)
    shape = (1, 1, 2304, 256, 256)  # 576 MiB of float32: 3x a worker's memory limit
    x = rng.standard_normal(shape, dtype=np.float32)
    zarr.array(x, chunks=(1, 1, 16, 256, 256), compressor=None, store=str(tmp_path / "in.zarr"))
    w1, b1 = rng.standard_normal((1, 1, 3, 3, 3)).astype(np.float32), rng.standard_normal(1).astype(np.float32)
    w2, b2 = rng.standard_normal((1, 1, 3, 3, 3)).astype(np.float32), rng.standard_normal(1).astype(np.float32)
    layers = [ckd.Conv(w1, b1, padding="same", padding_mode="reflect"), "relu", ckd.Conv(w2, b2, padding="same")]

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit=MEMORY_LIMIT,
                                  host="127.0.0.1", dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as client:
        volume = da.from_zarr(str(tmp_path / "in.zarr"))
        ckd.apply(layers, volume).to_zarr(str(tmp_path / "out.zarr"), compressor=None)
        peaks = client.run(peak_rss)
        plans = client.run(plans_built)
        assert len(client.scheduler_info()["workers"]) == 2  # no worker was killed and replaced
    assert all(peak < MEMORY_LIMIT for peak in peaks.values()), peaks
    # Built once per worker, not per chunk (144 blocks): the reflect layer once; the zeros layer once per edge
    # pattern along D (first, inner, last block), its zero pads being the plan's own.
    assert all(count <= 1 + 3 for count in plans.values()), plans

    convkit.set_num_threads(2)
    expected = convkit.conv3d(np.maximum(convkit.conv3d(x, w1, b1, padding="same", padding_mode="reflect"), 0),
                              w2, b2, padding="same")
    del x
    result = zarr.open(str(tmp_path / "out.zarr"), mode="r")[...]
    np.testing.assert_allclose(result, expected, rtol=1e-4, atol=1e-4)
