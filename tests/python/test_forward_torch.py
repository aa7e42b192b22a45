"""Randomized differential tests of every forward convolution against PyTorch (float64 oracle, oracle.py)."""

import numpy as np
import pytest

import convkit

torch = pytest.importorskip("torch", reason="the differential tests need python3-torch")
import cases  # noqa: E402
import oracle  # noqa: E402

FORWARD_CASES = 1200


@pytest.mark.parametrize("seed", range(FORWARD_CASES))
def test_matches_torch(seed):
    case, x, w, b = cases.random_case(seed)
    style = "generic" if seed % 3 == 0 else "torch"
    oracle.assert_close(case, cases.convkit_call(convkit, case, x, w, b, style), x, w, b)


def test_cases_cover_every_form():
    """The random cases above reach every option they claim to (so the count means something)."""
    seen = set()
    for seed in range(FORWARD_CASES):
        case, x, w, b = cases.random_case(seed)
        padding = case["padding"]
        form = padding if isinstance(padding, str) else "int" if isinstance(padding, int) else (
            "per_axis" if len(padding) == case["rank"] else "onnx")
        seen |= {("rank", case["rank"]), ("transposed", case["transposed"]), ("padding", form),
                 ("mode", case["padding_mode"]), ("layout", case["layout"]), ("flip", case["flip"]),
                 ("unbatched", x.ndim == case["rank"] + 1), ("bias", b is not None)}
        if case["groups"] > 1:
            seen.add(("grouped", True))
        if case["transposed"] and case["output_shape"] is not None:
            seen.add(("output_shape", True))
        if case["transposed"] and oracle.axis_list(case["output_padding"], case["rank"]) != [0] * case["rank"]:
            seen.add(("output_padding", True))
        if 1 in x.shape:
            seen.add(("one_sized", True))
    expected = {("rank", r) for r in (1, 2, 3)} | {("transposed", t) for t in (False, True)}
    expected |= {("padding", f) for f in cases.PADDING_FORMS} | {("mode", m) for m in oracle.TORCH_MODE}
    expected |= {("layout", "channels_first"), ("layout", "channels_last"), ("flip", True), ("unbatched", True),
                 ("bias", True), ("grouped", True), ("output_shape", True), ("output_padding", True),
                 ("one_sized", True)}
    assert expected <= seen, f"never generated: {expected - seen}"


def test_same_padding_stride_1_matches_torch_same():
    """convkit's 'same' with stride 1 is PyTorch's own padding='same' (not only the oracle's formula)."""
    rng = np.random.default_rng(7)
    for rank, kernel in [(1, 4), (2, 3), (2, 2), (3, 2)]:
        x = rng.standard_normal([2, 3] + [6] * rank).astype(np.float32)
        w = rng.standard_normal([4, 3] + [kernel] * rank).astype(np.float32)
        conv = getattr(torch.nn.functional, f"conv{rank}d")
        expected = conv(torch.from_numpy(x).double(), torch.from_numpy(w).double(), padding="same", dilation=2)
        actual = getattr(convkit, f"conv{rank}d")(x, w, padding="same", dilation=2)
        np.testing.assert_allclose(actual, expected.numpy(), rtol=1e-5, atol=1e-5)


def test_modules_padding_mode_matches_torch_modules():
    """padding_mode as torch.nn.Conv2d applies it (the module pads, then convolves)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 3, 7, 9)).astype(np.float32)
    for mode in ("reflect", "replicate", "circular"):
        layer = torch.nn.Conv2d(3, 5, (3, 2), stride=2, padding=(2, 1), padding_mode=mode).double()
        expected = layer(torch.from_numpy(x).double()).detach().numpy()
        w = layer.weight.detach().float().numpy()
        b = layer.bias.detach().float().numpy()
        actual = convkit.conv2d(x, w, b, stride=2, padding=(2, 1), padding_mode=mode)
        np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-5)
