"""flip=True is the true convolution: scipy.signal.convolve; flip=False is scipy.signal.correlate."""

import numpy as np
import pytest

import convkit

signal = pytest.importorskip("scipy.signal", reason="needs python3-scipy")


@pytest.mark.parametrize("seed", range(60))
def test_matches_scipy(seed):
    rng = np.random.default_rng(1000 + seed)
    rank = seed % 3 + 1
    spatial = [int(s) for s in rng.integers(3, (20, 9, 6)[rank - 1], size=rank)]
    kernel = [int(rng.integers(1, s + 1)) for s in spatial]
    x = rng.standard_normal(spatial).astype(np.float32)
    k = rng.standard_normal(kernel).astype(np.float32)
    mode = ["valid", "full", "same"][seed // 3 % 3]
    flip = seed // 9 % 2 == 0
    scipy_function = signal.convolve if flip else signal.correlate
    expected = scipy_function(x.astype(np.float64), k.astype(np.float64), mode=mode, method="direct")
    if mode == "valid":
        padding = 0
    elif mode == "full":
        padding = [s - 1 for s in kernel]
    else:
        # scipy 'same' is the full result from cell (k - 1) // 2 on (both functions): pads k // 2, (k - 1) // 2.
        padding = tuple(s // 2 for s in kernel) + tuple((s - 1) // 2 for s in kernel)
    actual = convkit.conv(x[None, None], k[None, None], padding=padding, flip=flip)[0, 0]
    bound = 8 * 2.0**-24 * (k.size + 2) * scipy_function(np.abs(x), np.abs(k), mode=mode, method="direct")
    assert actual.shape == expected.shape
    assert np.all(np.abs(actual - expected) <= bound + 1e-30)
