"""convkit.dask equals the single call / the whole-volume stack, on small randomized arrays and chunkings.

Tolerance: |chunked - whole| <= 1e-4 + 1e-4 * |whole| (float32; a block may run another algorithm than the
whole array, so the sums round differently; values are N(0, 1) with at most ~200 taps per output).
Every case prints its seed (pytest -k) for replay.
"""

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
import dask  # noqa: E402

import convkit  # noqa: E402
import convkit.dask as ckd  # noqa: E402
from convkit.dask import _plans  # noqa: E402

TOLERANCE = dict(rtol=1e-4, atol=1e-4)
MODES = ("zeros", "reflect", "replicate", "circular")


def random_chunks(rng, size):
    """A random split of `size` with odd pieces, often a 1-cell piece at an edge."""
    pieces, left = [], size
    if rng.random() < 0.4 and size > 2:
        pieces.append(1)
        left -= 1
    while left > 0:
        piece = int(min(left, rng.integers(1, 8)))
        pieces.append(piece)
        left -= piece
    if rng.random() < 0.4 and pieces[-1] > 1:
        pieces[-1] -= 1
        pieces.append(1)
    return tuple(pieces)


def random_padding(rng, rank, transposed):
    choice = rng.integers(0, 5)
    if choice == 0:
        return "same"
    if choice == 1:
        return "valid"
    if choice == 2 and not transposed:
        return "same_lower"
    if choice == 3:
        return [int(p) for p in rng.integers(0, 3, size=2 * rank)]  # asymmetric, ONNX order
    return int(rng.integers(0, 3))


def random_case(seed):
    rng = np.random.default_rng(seed)
    rank = int(rng.choice([1, 2, 2, 3]))
    transposed = rng.random() < 0.3
    layout = "channels_last" if rng.random() < 0.4 else "channels_first"
    groups = int(rng.choice([1, 2]))
    cin, cout = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
    kernel = [int(k) for k in rng.integers(1, 5, size=rank)]
    arguments = dict(stride=[int(s) for s in rng.integers(1, 4, size=rank)],
                     dilation=[int(d) for d in rng.integers(1, 3, size=rank)], groups=groups,
                     padding=random_padding(rng, rank, transposed), flip=bool(rng.random() < 0.2), layout=layout)
    if transposed:
        if rng.random() < 0.3 and arguments["padding"] in (0, "valid"):
            arguments["output_padding"] = [int(rng.integers(0, max(s, d))) for s, d in
                                           zip(arguments["stride"], arguments["dilation"])]
        weight_shape = [cin, cout // groups] + kernel
    else:
        arguments["padding_mode"] = str(rng.choice(MODES))
        weight_shape = [cout, cin // groups] + kernel
    if layout == "channels_last":  # (k..., I, O): the two channel sizes reversed after the kernel
        weight_shape = kernel + weight_shape[:2][::-1]
    spatial = [int(s) for s in rng.integers(3 if rank == 3 else 4, 8 if rank == 3 else 14, size=rank)]
    batch = int(rng.integers(1, 3))
    shape = [batch, cin] + spatial if layout == "channels_first" else [batch] + spatial + [cin]
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal(weight_shape).astype(np.float32)
    b = rng.standard_normal(cout).astype(np.float32) if rng.random() < 0.7 else None
    chunks = [random_chunks(rng, s) for s in shape]
    return rank, transposed, x, w, b, arguments, chunks


@pytest.mark.parametrize("seed", range(60))
def test_single_layer_equals_the_single_call(seed):
    rank, transposed, x, w, b, arguments, chunks = random_case(seed)
    name = f"conv_transpose{rank}d" if transposed else f"conv{rank}d"
    try:
        expected = getattr(convkit, name)(x, w, b, **arguments)
    except ValueError:
        with pytest.raises(ValueError):  # the chunked call refuses what the single call refuses
            getattr(ckd, name)(da.from_array(x, chunks=chunks), w, b, **arguments)
        return
    result = getattr(ckd, name)(da.from_array(x, chunks=chunks), w, b, **arguments)
    assert result.shape == expected.shape and result.dtype == np.float32
    np.testing.assert_allclose(result.compute(scheduler="threads"), expected, **TOLERANCE, err_msg=f"{name} {arguments}")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
def test_every_padding_mode_with_chunks_smaller_than_the_halo(mode, layout):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((1, 2, 11, 9)).astype(np.float32)
    w = rng.standard_normal((3, 2, 5, 5)).astype(np.float32)
    expected = convkit.conv2d(x, w, None, padding=(4, 3, 2, 4), padding_mode=mode)
    if layout == "channels_last":
        x, w, expected = x.transpose(0, 2, 3, 1), w.transpose(2, 3, 1, 0), expected.transpose(0, 2, 3, 1)
    volume = da.from_array(x, chunks=(1, 1, 1, 2) if layout == "channels_first" else (1, 1, 2, 1))
    result = ckd.conv2d(volume, w, padding=(4, 3, 2, 4), padding_mode=mode, layout=layout)
    np.testing.assert_allclose(result.compute(), expected, **TOLERANCE)


def random_stack(seed):
    """2-4 conv layers (forward with any mode, transposed, strides) with activations, and their whole-volume run."""
    rng = np.random.default_rng(1000 + seed)
    rank = int(rng.choice([1, 2, 2, 3]))
    channels = int(rng.integers(1, 3))
    x = rng.standard_normal([1, channels] + [int(s) for s in rng.integers(6 if rank == 3 else 9, 8 if rank == 3 else 17,
                                                                            size=rank)]).astype(np.float32)
    layers, expected = [], x
    for _ in range(int(rng.integers(2, 5))):
        out_channels = int(rng.integers(1, 3))
        kernel = [int(k) for k in rng.integers(1, 4, size=rank)]
        stride = [int(s) for s in rng.integers(1, 3, size=rank)]
        if rng.random() < 0.25:
            w = rng.standard_normal([channels, out_channels] + kernel).astype(np.float32)
            arguments = dict(stride=stride, padding=str(rng.choice(["same", "valid"])), transposed=True)
        else:
            w = rng.standard_normal([out_channels, channels] + kernel).astype(np.float32)
            arguments = dict(stride=stride, padding=random_padding(rng, rank, False), padding_mode=str(rng.choice(MODES)),
                             dilation=int(rng.integers(1, 3)))
        b = rng.standard_normal(out_channels).astype(np.float32)
        try:
            expected = convkit.conv(expected, w, b, **arguments)
        except ValueError:
            break  # the volume became too small for this layer: the stack ends before it
        layers.append(ckd.Conv(w, b, **arguments))
        if rng.random() < 0.6:
            name = str(rng.choice(["relu", "tanh", "sigmoid"]))
            layers.append(name)
            expected = ckd.ACTIVATIONS[name](expected.copy())
        channels = out_channels
    chunks = [random_chunks(rng, s) for s in x.shape]
    return x, chunks, layers, expected


@pytest.mark.parametrize("seed", range(30))
def test_stack_equals_the_whole_volume_run(seed):
    x, chunks, layers, expected = random_stack(seed)
    if not any(isinstance(layer, ckd.Conv) for layer in layers):
        pytest.skip("the random volume was too small for the first layer")
    result = ckd.apply(layers, da.from_array(x, chunks=chunks))
    assert result.shape == expected.shape
    np.testing.assert_allclose(result.compute(), expected, rtol=2e-4, atol=2e-4, err_msg=f"{layers}")


def test_plans_are_built_once_per_process_not_per_chunk():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 1, 96, 8, 8)).astype(np.float32)
    layers = [ckd.Conv(rng.standard_normal((4, 1, 3, 3, 3)).astype(np.float32), padding="same"), "relu",
              ckd.Conv(rng.standard_normal((1, 4, 3, 3, 3)).astype(np.float32), padding="same")]
    result = ckd.apply(layers, da.from_array(x, chunks=(1, 1, 4, 8, 8)))  # 24 blocks along D
    before = _plans.built
    with dask.config.set(scheduler="threads", num_workers=2):
        np.testing.assert_allclose(result.compute(), ckd.apply(layers, x), rtol=1e-4, atol=1e-4)
    # Per layer, one plan per edge pattern (zero pads first, none, last along D; both along H and W), at most
    # once per racing thread: 2 x 3 x 2, against 2 x 24 if plans were built per chunk.
    assert _plans.built - before <= 2 * 3 * 2


def test_unbatched_volume_and_numpy_input():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 10, 9)).astype(np.float64)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    expected = convkit.conv2d(x[None].astype(np.float32), w, padding=1, padding_mode="reflect")[0]
    np.testing.assert_allclose(ckd.conv2d(da.from_array(x, chunks=(2, 3, 4)), w, padding=1, padding_mode="reflect"),
                               expected, **TOLERANCE)
    np.testing.assert_allclose(ckd.conv2d(x, w, padding=1, padding_mode="reflect"), expected, **TOLERANCE)
