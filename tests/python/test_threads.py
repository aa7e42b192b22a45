"""The GIL is released while convkit computes (two Python threads are inside convkit at the same time), and
results are bit-identical for 1 and 2 convkit threads."""

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import convkit


@pytest.fixture
def one_thread_each():
    previous = convkit.get_num_threads()
    convkit.set_num_threads(1)
    yield
    convkit.set_num_threads(previous)


def inside_at_once(call, max_calls=200):
    """Two threads each record their entry time, then call `call` until they have seen the other thread enter
    (at most max_calls times), then their exit time; returns both [entry, exit] intervals.

    With a switch interval far longer than the test, a thread holding the GIL is never preempted: it runs
    Python only when the other blocks or releases the GIL. If convkit kept the GIL, the first thread past
    the barrier would make all its calls before the other recorded anything (no overlap). If convkit
    releases it, the other thread enters during a call and each exits after the other entered (overlap)."""
    barrier = threading.Barrier(2)
    entered = [False, False]
    intervals = [None, None]

    def worker(index):
        barrier.wait()
        entry = time.perf_counter()
        entered[index] = True
        for _ in range(max_calls):
            call()
            if entered[1 - index]:
                break
        intervals[index] = (entry, time.perf_counter())

    previous = sys.getswitchinterval()
    sys.setswitchinterval(100.0)
    try:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    return intervals


def test_two_python_threads_are_inside_a_plan_at_once(one_thread_each):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 16, 64, 64)).astype(np.float32)
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    plan = convkit.Plan(convkit.ConvSpec(16, 16, (3, 3), padding=1), w)
    (a_entry, a_exit), (b_entry, b_exit) = inside_at_once(lambda: plan(x))
    assert max(a_entry, b_entry) < min(a_exit, b_exit), "convkit.Plan held the GIL: the threads never overlapped"


def test_functional_calls_release_the_gil_too(one_thread_each):
    x = np.random.default_rng(1).standard_normal((1, 8, 64, 64)).astype(np.float32)
    w = np.random.default_rng(2).standard_normal((8, 8, 5, 5)).astype(np.float32)
    (a_entry, a_exit), (b_entry, b_exit) = inside_at_once(lambda: convkit.conv2d(x, w, padding="same"))
    assert max(a_entry, b_entry) < min(a_exit, b_exit), "convkit.conv2d held the GIL: the threads never overlapped"


@pytest.mark.parametrize(
    "shape, weight, keywords",
    [
        ((2, 16, 33, 31), (24, 16, 3, 3), {"padding": 1}),
        ((2, 17, 29, 30), (17, 1, 5, 5), {"groups": 17, "padding": "same"}),
        ((1, 9, 40), (12, 9, 31), {"padding": 15}),
        ((2, 8, 9, 10, 11), (8, 8, 3, 3, 3), {"stride": 2}),
        ((2, 12, 20, 20), (12, 4, 3, 3), {"stride": 2, "transposed": True, "output_padding": 1}),
    ],
)
def test_bit_identical_for_one_and_two_threads(shape, weight, keywords):
    rng = np.random.default_rng(5)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(weight).astype(np.float32)
    previous = convkit.get_num_threads()
    try:
        convkit.set_num_threads(1)
        one = convkit.conv(x, w, **keywords)
        convkit.set_num_threads(2)
        two = convkit.conv(x, w, **keywords)
    finally:
        convkit.set_num_threads(previous)
    assert convkit.get_num_threads() == previous
    np.testing.assert_array_equal(one, two)


def test_omp_num_threads_sets_the_default_thread_count():
    """As PyTorch does, the default is OMP_NUM_THREADS when set (dask.distributed sets it to 1 in workers)."""
    env = dict(os.environ, OMP_NUM_THREADS="3")
    code = "import convkit; print(convkit.get_num_threads())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3"
    env["OMP_NUM_THREADS"] = "not-a-number"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout.strip()) >= 1
