"""The GIL is released while convkit computes (two Python threads are inside convkit at the same time), and
results are bit-identical for 1 and 2 convkit threads."""

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


def test_two_python_threads_are_inside_convkit_at_once(one_thread_each):
    # With a switch interval far longer than the test, a thread holding the GIL is never preempted between
    # recording its entry time and entering convkit, nor inside convkit unless convkit releases the GIL. So
    # the two [entry, exit] intervals can only overlap when convkit releases the GIL while it computes.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((1, 32, 96, 96)).astype(np.float32)
    w = rng.standard_normal((32, 32, 3, 3)).astype(np.float32)
    plan = convkit.Plan(convkit.ConvSpec(32, 32, (3, 3), padding=1), w)
    barrier = threading.Barrier(2)
    intervals = [None, None]

    def worker(index):
        barrier.wait()
        entry = time.perf_counter()
        for _ in range(3):
            plan(x)
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
    (a_entry, a_exit), (b_entry, b_exit) = intervals
    assert max(a_entry, b_entry) < min(a_exit, b_exit), f"no overlap: {intervals}"


def test_functional_calls_release_the_gil_too(one_thread_each):
    x = np.random.default_rng(1).standard_normal((1, 16, 128, 128)).astype(np.float32)
    w = np.random.default_rng(2).standard_normal((16, 16, 5, 5)).astype(np.float32)
    barrier = threading.Barrier(2)
    intervals = [None, None]

    def worker(index):
        barrier.wait()
        entry = time.perf_counter()
        convkit.conv2d(x, w, padding="same")
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
    (a_entry, a_exit), (b_entry, b_exit) = intervals
    assert max(a_entry, b_entry) < min(a_exit, b_exit), f"no overlap: {intervals}"


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
