"""The functional calls' plan cache (python/src/plan_cache.h): repeated calls on the same small weights reuse
a plan, and any change to the weight or bias values, the spec or accuracy gives the right result."""

import threading

import numpy as np
import torch

import convkit


def _torch(x, w, b=None, **kw):
    return torch.nn.functional.conv2d(torch.from_numpy(x).double(), torch.from_numpy(w).double(),
                                      None if b is None else torch.from_numpy(b).double(), **kw).numpy()


def test_changed_weights_bias_and_specs_are_never_served_an_old_plan():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2, 3, 9, 9)).astype(np.float32)
    w = rng.uniform(-1, 1, (4, 3, 3, 3)).astype(np.float32)
    b = rng.uniform(-1, 1, 4).astype(np.float32)
    for _ in range(3):
        assert np.allclose(convkit.conv2d(x, w, b, padding=1), _torch(x, w, b, padding=1), atol=1e-5)
    w[1, 2, 0, 0] += 0.5  # in place: same array object, new values
    assert np.allclose(convkit.conv2d(x, w, b, padding=1), _torch(x, w, b, padding=1), atol=1e-5)
    b[3] = -7.0
    assert np.allclose(convkit.conv2d(x, w, b, padding=1), _torch(x, w, b, padding=1), atol=1e-5)
    assert np.allclose(convkit.conv2d(x, w, padding=1), _torch(x, w, padding=1), atol=1e-5)  # no bias now
    assert np.allclose(convkit.conv2d(x, w, b, stride=2), _torch(x, w, b, stride=2), atol=1e-5)
    w[0, 0, 0, 0] = -0.0 if w[0, 0, 0, 0] == 0.0 else 0.0  # a sign-of-zero change is a change of bytes
    assert np.allclose(convkit.conv2d(x, w, b), _torch(x, w, b), atol=1e-5)
    # Many distinct weights (more than the cache keeps), then the first again.
    weights = [rng.uniform(-1, 1, (4, 3, 3, 3)).astype(np.float32) for _ in range(40)]
    for v in weights + weights[:1]:
        assert np.allclose(convkit.conv2d(x, v), _torch(x, v), atol=1e-5)


def test_cached_plans_are_shared_safely_between_threads():
    rng = np.random.default_rng(1)
    w = rng.uniform(-1, 1, (8, 8, 3, 3)).astype(np.float32)
    inputs = [rng.uniform(-1, 1, (1, 8, 16, 16)).astype(np.float32) for _ in range(8)]
    expected = [convkit.conv2d(x, w, padding="same") for x in inputs]
    failures = []

    def work():
        for _ in range(20):
            for x, y in zip(inputs, expected):
                if not np.array_equal(convkit.conv2d(x, w, padding="same"), y):
                    failures.append(1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
