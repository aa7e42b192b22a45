"""The float64 PyTorch oracle of the differential tests, and the random cases they run.

The oracle never uses convkit's shape code: padding rules are re-derived here from their specifications
(TensorFlow 'SAME', ONNX SAME_UPPER/SAME_LOWER, ONNX ConvTranspose output_shape) and applied with
torch.nn.functional.pad, torch's convolutions run with padding 0 in float64, and a transposed convolution
is torch's full (unpadded) transposed convolution, cropped or zero-extended to the requested cells.

Tolerance (see `tolerance`): convkit computes in float32. Every output is a sum of K = C_in/groups * prod(kernel)
products (plus the bias); a float32 sum of them in any order is within K * u * S of the exact value, where u =
2**-24 and S is the same sum of absolute values (Higham, Accuracy and Stability of Numerical Algorithms, 3.1).
Winograd and FFT algorithms add the rounding of their transforms, a small constant factor on the same
bound, so the tests allow 8 * u * (K + 2) * S: tight enough that one wrong tap (an error of the size of one
product, ~S/K) fails, loose enough for every algorithm's legitimate rounding.
"""

import numpy as np
import torch
import torch.nn.functional as F

U = 2.0**-24
TORCH_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate", "circular": "circular"}


def same_pads(size, kernel, stride, dilation, lower):
    """TF 'SAME' / ONNX SAME_UPPER (lower=False) and SAME_LOWER: out = ceil(in / stride),
    total = max((out - 1) * stride + (k - 1) * dilation + 1 - in, 0), the odd cell at the end (upper) or start."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    small = total // 2
    return (total - small, small) if lower else (small, total - small)


def axis_list(value, rank):
    if value is None:
        return None
    if isinstance(value, (int, np.integer)):
        return [int(value)] * rank
    return [int(v) for v in value]


def forward_pads(case, spatial):
    """Per-axis (begin, end) pads of a (non-transposed) convolution."""
    rank, padding = case["rank"], case["padding"]
    kernel, stride, dilation = case["kernel"], axis_list(case["stride"], rank), axis_list(case["dilation"], rank)
    if padding == "valid":
        return [(0, 0)] * rank
    if padding in ("same", "same_lower"):
        return [same_pads(spatial[a], kernel[a], stride[a], dilation[a], padding == "same_lower") for a in range(rank)]
    pads = axis_list(padding, rank) if isinstance(padding, int) else list(padding)
    if len(pads) == rank:
        return [(p, p) for p in pads]
    return [(pads[a], pads[rank + a]) for a in range(rank)]  # ONNX: all begins, then all ends


def transposed_geometry(case, spatial):
    """Per-axis (begin pad, output size) of a transposed convolution; the output is the full transposed
    convolution ((in - 1) * stride + (k - 1) * dilation + 1 cells) read from cell `begin` on, zeros past its end.
    PyTorch/ONNX: out = (in - 1) * stride - begin - end + (k - 1) * dilation + 1 + output_padding."""
    rank, padding = case["rank"], case["padding"]
    kernel, stride = case["kernel"], axis_list(case["stride"], rank)
    dilation, output_padding = axis_list(case["dilation"], rank), axis_list(case["output_padding"], rank)
    result = []
    for a in range(rank):
        span = (kernel[a] - 1) * dilation[a] + 1
        full = (spatial[a] - 1) * stride[a] + span + output_padding[a]
        if case.get("output_shape") is not None:
            # ONNX ConvTranspose: total = stride * (in - 1) + output_padding + span - output_shape; SAME_UPPER puts
            # total // 2 at the start, otherwise (NOTSET) total - total // 2.
            requested = axis_list(case["output_shape"], rank)[a]
            total = full - requested
            begin = total // 2 if padding == "same" else total - total // 2
        elif padding in ("same", "same_lower"):
            # ONNX SAME_*: out = in * stride; with a negative total (kernel shorter than the stride) nothing is
            # cropped and the extra cells come at the end (TF conv2d_transpose 'SAME').
            total = full - spatial[a] * stride[a]
            begin = 0 if total < 0 else (total - total // 2 if padding == "same_lower" else total // 2)
            requested = spatial[a] * stride[a]
        elif padding == "valid":
            begin, requested = 0, full
        else:
            begin, end = forward_pads(dict(case, padding=padding), spatial)[a]
            requested = full - begin - end
        result.append((begin, requested))
    return result


def weight_to_torch(w, layout, rank):
    """channels_last weights (k..., A, B) -> PyTorch's (B, A, k...) (conv: A = C_in/g, B = C_out;
    transposed: A = C_out/g, B = C_in)."""
    if layout == "channels_last":
        return np.transpose(w, (rank + 1, rank) + tuple(range(rank)))
    return w


def torch_reference(case, xt, wt, bt):
    """`case` on float64 torch tensors in the case's layout (batched x), differentiable (autograd gives the
    gradient oracle)."""
    rank, layout = case["rank"], case["layout"]
    if layout == "channels_last":
        xt = xt.movedim(-1, 1)
        wt = wt.permute((rank + 1, rank) + tuple(range(rank)))
    if case.get("flip"):
        wt = wt.flip(dims=tuple(range(2, rank + 2)))
    spatial = list(xt.shape[2:])
    stride, dilation = axis_list(case["stride"], rank), axis_list(case["dilation"], rank)
    groups = case["groups"]
    if not case["transposed"]:
        pads = forward_pads(case, spatial)
        torch_pads = [p for a in reversed(range(rank)) for p in pads[a]]  # F.pad: last axis first
        if any(torch_pads):
            xt = F.pad(xt, torch_pads, mode=TORCH_MODE[case["padding_mode"]])
        conv = (F.conv1d, F.conv2d, F.conv3d)[rank - 1]
        y = conv(xt, wt, None, stride, 0, dilation, groups)
    else:
        conv = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[rank - 1]
        full = conv(xt, wt, None, stride, 0, 0, groups, dilation)
        # Crop (negative pads) or zero-extend (positive) the full result to [begin, begin + size) per axis.
        geometry = transposed_geometry(case, spatial)
        crops = []
        for a in reversed(range(rank)):
            begin, size = geometry[a]
            crops += [-begin, begin + size - full.shape[2 + a]]
        y = F.pad(full, crops)
    if bt is not None:
        y = y + bt.reshape([1, -1] + [1] * rank)
    return y.movedim(1, -1) if layout == "channels_last" else y


def reference(case, x, w, b):
    """The float64 result of `case` on x, w, b (numpy arrays in the case's layout); unbatched x allowed."""
    unbatched = x.ndim == case["rank"] + 1
    as_tensor = lambda a: torch.from_numpy(np.array(a, dtype=np.float64))  # noqa: E731
    xt = as_tensor(x[None] if unbatched else x)
    y = torch_reference(case, xt, as_tensor(w), None if b is None else as_tensor(b)).numpy()
    return y[0] if unbatched else y


def tolerance(case, x, w, b):
    """8 * u * (K + 2) * S per output (see the module docstring)."""
    rank = case["rank"]
    magnitude = reference(case, np.abs(x), np.abs(w), None if b is None else np.abs(b))
    wt = weight_to_torch(w, case["layout"], rank)
    if case["transposed"]:
        terms = wt.shape[0] // case["groups"] * int(np.prod(wt.shape[2:]))
    else:
        terms = wt.shape[1] * int(np.prod(wt.shape[2:]))
    return 8 * U * (terms + 2) * magnitude + 1e-30


def assert_close(case, actual, x, w, b):
    expected = reference(case, x, w, b)
    assert actual.shape == expected.shape, f"shape {actual.shape} != torch's {expected.shape} for {case}"
    assert actual.dtype == np.float32
    error = np.abs(actual.astype(np.float64) - expected)
    bound = tolerance(case, x, w, b)
    worst = np.argmax(error - bound) if error.size else 0
    assert np.all(error <= bound), (
        f"{case}: |convkit - torch| = {error.flat[worst]:.3g} > {bound.flat[worst]:.3g} at flat index {worst}"
    )
