"""numpy in, numpy out: float32 C-contiguous arrays are read in place, others converted; unbatched inputs."""

import numpy as np
import pytest

import convkit

RNG = np.random.default_rng(11)
X = RNG.standard_normal((2, 3, 9, 8)).astype(np.float32)
W = RNG.standard_normal((5, 3, 3, 2)).astype(np.float32)
B = RNG.standard_normal(5).astype(np.float32)


def test_other_dtypes_and_strides_are_converted():
    expected = convkit.conv2d(X, W, B)
    np.testing.assert_array_equal(convkit.conv2d(X.astype(np.float64), W.astype(np.float64), B.tolist()), expected)
    np.testing.assert_array_equal(convkit.conv2d(np.asfortranarray(X), W[::1], B), expected)
    big = np.zeros((2, 6, 18, 8), np.float32)
    big[:, ::2, ::2] = X
    view = big[:, ::2, ::2]
    assert not view.flags.c_contiguous
    np.testing.assert_array_equal(convkit.conv2d(view, W, B), expected)
    np.testing.assert_array_equal(convkit.conv2d(X.astype(">f4"), W, B), expected)
    ints = np.arange(2 * 3 * 9 * 8).reshape(2, 3, 9, 8) % 7
    np.testing.assert_array_equal(convkit.conv2d(ints, W), convkit.conv2d(ints.astype(np.float32), W))
    assert convkit.conv2d(X, W, B).dtype == np.float32


def test_float32_input_is_not_copied():
    # numpy reports its allocations to tracemalloc: a C-contiguous float32 input allocates only the output
    # (256 KiB here), a float64 one also its 4 MiB float32 conversion.
    import tracemalloc

    x = np.ones((1, 16, 256, 256), np.float32)
    w = np.ones((1, 16, 1, 1), np.float32)

    def peak_bytes(array):
        tracemalloc.start()
        convkit.conv2d(array, w)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    x64 = x.astype(np.float64)
    assert peak_bytes(x) < x.nbytes // 4
    assert peak_bytes(x64) >= x.nbytes
    assert peak_bytes(x[:, :, :, ::-1]) >= x.nbytes  # a non-contiguous view is copied too


def test_unbatched_inputs_as_pytorch():
    np.testing.assert_array_equal(convkit.conv2d(X[0], W, B), convkit.conv2d(X[:1], W, B)[0])
    out = np.empty((5, 7, 7), np.float32)
    assert convkit.conv2d(X[0], W, B, out=out) is out
    np.testing.assert_array_equal(out, convkit.conv2d(X[:1], W, B)[0])
    x1 = X[0, :, 0]  # (C, W)
    w1 = W[:, :, 0]
    np.testing.assert_array_equal(convkit.conv1d(x1, w1), convkit.conv1d(x1[None], w1)[0])


def test_channels_last_is_the_transposed_channels_first():
    x_nhwc = np.ascontiguousarray(X.transpose(0, 2, 3, 1))
    w_hwio = np.ascontiguousarray(W.transpose(2, 3, 1, 0))
    y = convkit.conv2d(x_nhwc, w_hwio, B, padding="same", layout="channels_last")
    np.testing.assert_allclose(y, convkit.conv2d(X, W, B, padding="same").transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-5)


def test_help_shows_the_signature():
    doc = convkit.conv2d.__doc__
    assert doc.startswith("conv2d(input")
    for argument in ("weight", "bias", "stride", "padding", "dilation", "groups", "padding_mode", "layout", "out"):
        assert argument in doc.splitlines()[0]
    assert "output_padding" in convkit.conv_transpose2d.__doc__.splitlines()[0]
    first = convkit.conv_transpose2d.__doc__.splitlines()[0]
    assert first.index("output_padding") < first.index("groups") < first.index("dilation")
