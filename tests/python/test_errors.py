"""Bad input of every kind is a clear Python exception carrying convkit's message: ValueError for a bad value
or shape, TypeError for a bad type, MemoryError for an output larger than memory. Never a crash, and `out=`
is left untouched when the call fails."""

import numpy as np
import pytest

import convkit

X = np.ones((1, 3, 8, 8), np.float32)
W = np.ones((4, 3, 3, 3), np.float32)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: convkit.conv2d(X, np.ones((4, 2, 3, 3), np.float32)), "channels"),
        (lambda: convkit.conv2d(X, W, np.ones(5, np.float32)), "bias"),
        (lambda: convkit.conv2d(X, W, groups=2), "groups"),
        (lambda: convkit.conv2d(X, W, groups=0), "groups"),
        (lambda: convkit.conv2d(X, W, stride=0), "stride"),
        (lambda: convkit.conv2d(X, W, stride=(1, 2, 3)), "stride"),
        (lambda: convkit.conv2d(X, W, dilation=-1), "dilation"),
        (lambda: convkit.conv2d(X, W, padding=-1), "padding"),
        (lambda: convkit.conv2d(X, W, padding=(1, 2, 3)), "padding"),
        (lambda: convkit.conv2d(X, W, padding="middle"), "padding"),
        (lambda: convkit.conv2d(X, W, padding_mode="mirror"), "padding_mode"),
        (lambda: convkit.conv2d(X, W, padding=8, padding_mode="reflect"), "reflect"),
        (lambda: convkit.conv2d(X, W, layout="nhwc"), "layout"),
        (lambda: convkit.conv2d(X, np.ones((4, 3, 9, 9), np.float32)), "kernel"),
        (lambda: convkit.conv2d(np.ones((3, 8), np.float32), W), "dimensions"),
        (lambda: convkit.conv1d(X, W), "dimensions"),
        (lambda: convkit.conv_transpose2d(X[:, :, :2, :2], np.ones((3, 2, 3, 3), np.float32), output_padding=1), "output_padding"),
        (lambda: convkit.conv_transpose2d(X, np.ones((3, 2, 3, 3), np.float32), padding_mode="reflect"), "zeros"),
        (lambda: convkit.conv_transpose2d(X, np.ones((3, 2, 3, 3), np.float32), output_shape=(100, 100)), "output_shape"),
        (lambda: convkit.conv(X, W, stride=2**70), "64 bits"),
        (lambda: convkit.set_num_threads(-1), "threads"),
        (lambda: convkit.set_num_threads(2**40), "threads"),
        (lambda: convkit.Plan(convkit.ConvSpec(3, 4, (3, 3)), W[:, :, :3, :3], threads=2**32 + 1), "threads"),
        (lambda: convkit.ConvSpec(3, 4, 3), "rank"),
        (lambda: convkit.ConvSpec(3, 4, 3, rank=2**32 + 2), "rank"),
        (lambda: convkit.ConvSpec(3, 4, (3, 3), groups=2), "groups"),
        (lambda: convkit.Plan(convkit.ConvSpec(3, 4, (3, 3)), np.ones((4, 3, 2, 2), np.float32)), "weight"),
    ],
)
def test_value_errors_name_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: convkit.conv2d("x", W), "input"),
        (lambda: convkit.conv2d(X, None), "weight"),
        (lambda: convkit.conv2d(X.astype(np.complex64), W), "real numbers"),
        (lambda: convkit.conv2d(X.astype(object), W), "real numbers"),
        (lambda: convkit.conv2d(X, W, stride=1.5), "stride"),
        (lambda: convkit.conv2d(X, W, stride=True), "stride"),
        (lambda: convkit.conv2d(X, W, groups="1"), "groups"),
        (lambda: convkit.conv2d(X, W, padding_mode=0), "padding_mode"),
        (lambda: convkit.conv2d(X, W, flip=1), "flip"),
        (lambda: convkit.conv2d(X, W, out=[0.0]), "out"),
        (lambda: convkit.conv2d(X, W, out=np.zeros((1, 4, 6, 6), np.float64)), "float32"),
        (lambda: convkit.Plan("spec", W), "spec"),
    ],
)
def test_type_errors(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_out_is_checked_and_untouched_on_failure():
    out = np.full((1, 4, 6, 6), 7.0, np.float32)
    with pytest.raises(ValueError, match="shape"):
        convkit.conv2d(X, W, out=np.zeros((1, 4, 5, 6), np.float32))
    read_only = np.zeros((1, 4, 6, 6), np.float32)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        convkit.conv2d(X, W, out=read_only)
    with pytest.raises(ValueError, match="groups"):
        convkit.conv2d(X, W, groups=3, out=out)
    assert np.all(out == 7.0)
    shared = np.zeros((1, 4, 8, 8), np.float32)
    with pytest.raises(ValueError, match="shares memory"):
        convkit.conv2d(shared[:, :3], W, out=shared[:, :, :6, :6])


def test_out_any_strides():
    big = np.zeros((1, 6, 6, 4), np.float32)
    view = big.transpose(0, 3, 1, 2)  # the channels_first output written into a channels_last buffer
    result = convkit.conv2d(X, W, out=view)
    assert result is view
    np.testing.assert_array_equal(view, convkit.conv2d(X, W))


def test_nan_and_inf_propagate_like_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((1, 2, 6, 6)).astype(np.float32)
    x[0, 0, 2, 3] = np.nan
    x[0, 1, 5, 0] = np.inf
    w = np.random.default_rng(1).standard_normal((3, 2, 3, 3)).astype(np.float32)
    expected = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), padding=1).numpy()
    actual = convkit.conv2d(x, w, padding=1)
    np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
    np.testing.assert_array_equal(np.isinf(actual), np.isinf(expected))


def test_empty_dimensions():
    # An empty batch is a valid (empty) result, as in PyTorch; empty channels or spatial sizes are errors.
    assert convkit.conv2d(np.ones((0, 3, 8, 8), np.float32), W).shape == (0, 4, 6, 6)
    with pytest.raises(ValueError):
        convkit.conv2d(np.ones((1, 3, 0, 8), np.float32), W)
    with pytest.raises(ValueError):
        convkit.conv2d(np.ones((1, 0, 8, 8), np.float32), np.ones((4, 0, 3, 3), np.float32))
    with pytest.raises(ValueError):
        convkit.conv2d(X, np.ones((0, 3, 3, 3), np.float32))


def test_huge_shapes_are_refused_not_allocated():
    x = np.ones((1, 1, 2, 2), np.float32)
    w = np.ones((1, 1, 1, 1), np.float32)
    # An output of 2**33 x 2**33 cells: more bytes than addresses (ValueError) or than memory (MemoryError).
    with pytest.raises((ValueError, MemoryError)):
        convkit.conv_transpose2d(x, w, stride=2**32)
    with pytest.raises(MemoryError, match="memory"):
        convkit.conv_transpose2d(x, w, stride=(2**20, 2**20))
    with pytest.raises((ValueError, MemoryError)):
        convkit.conv_transpose2d(x, w, output_shape=(2**40, 2**40))
    with pytest.raises((ValueError, MemoryError)):
        convkit.conv2d(x, w, padding=2**62)
    with pytest.raises(ValueError):
        convkit.conv_transpose2d(x, np.ones((1, 2**10, 1, 1), np.float32), groups=2**62)
