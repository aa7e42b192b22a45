"""Random convolution cases for the differential tests: rank 1-3, batched or not, plain / grouped /
depthwise with a multiplier, stride, dilation, every padding form (int, per axis, ONNX asymmetric pads,
'valid', 'same', 'same_lower', transposed output_padding and output_shape) and mode, flip, both layouts,
odd and 1-sized dimensions. Each case is drawn from its own seed, so a failure names a reproducible case."""

import numpy as np

from oracle import axis_list, forward_pads, transposed_geometry

PADDING_FORMS = ["int", "per_axis", "onnx", "valid", "same", "same_lower"]


def _per_axis(rng, rank, low, high):
    values = [int(v) for v in rng.integers(low, high + 1, size=rank)]
    return values[0] if len(set(values)) == 1 and rng.random() < 0.7 else tuple(values)


def _channels(rng):
    kind = rng.choice(["plain", "plain", "grouped", "depthwise"])
    if kind == "plain":
        return int(rng.integers(1, 6)), int(rng.integers(1, 6)), 1
    if kind == "grouped":
        groups = int(rng.integers(2, 4))
        return groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3)), groups
    channels = int(rng.integers(1, 5))
    return channels, channels * int(rng.integers(1, 3)), channels  # depthwise, multiplier 1 or 2


def _padding(rng, rank, max_pad):
    form = rng.choice(PADDING_FORMS)
    if form == "int":
        return int(rng.integers(0, max_pad + 1))
    if form == "per_axis":
        return tuple(int(v) for v in rng.integers(0, max_pad + 1, size=rank))
    if form == "onnx":
        return tuple(int(v) for v in rng.integers(0, max_pad + 1, size=2 * rank))
    return str(form)


def _fits(case, spatial):
    rank = case["rank"]
    kernel, dilation = case["kernel"], axis_list(case["dilation"], rank)
    if case["transposed"]:
        return all(size >= 1 for _, size in transposed_geometry(case, spatial))
    for a, (begin, end) in enumerate(forward_pads(case, spatial)):
        span = (kernel[a] - 1) * dilation[a] + 1
        if span > spatial[a] + begin + end:
            return False
        mode = case["padding_mode"]
        if mode == "reflect" and max(begin, end) >= spatial[a]:
            return False
        if mode == "circular" and max(begin, end) > spatial[a]:
            return False
    return True


def random_case(seed, transposed=None):
    """A case dict plus x, w, b (float32, in the case's layout) that convkit and torch both accept."""
    rng = np.random.default_rng(seed)
    while True:
        rank = int(rng.integers(1, 4))
        is_transposed = bool(rng.random() < 0.3) if transposed is None else transposed
        in_channels, out_channels, groups = _channels(rng)
        max_size = (14, 8, 5)[rank - 1]
        kernel = [int(k) for k in rng.integers(1, (6, 4, 3)[rank - 1] + 1, size=rank)]
        stride = _per_axis(rng, rank, 1, 3)
        dilation = _per_axis(rng, rank, 1, 2)
        case = {
            "rank": rank,
            "transposed": is_transposed,
            "kernel": kernel,
            "stride": stride,
            "dilation": dilation,
            "groups": groups,
            "padding": _padding(rng, rank, 2),
            "padding_mode": "zeros",
            "output_padding": 0,
            "output_shape": None,
            "flip": bool(rng.random() < 0.2),
            "layout": "channels_last" if rng.random() < 0.35 else "channels_first",
        }
        spatial = [int(s) for s in rng.integers(1, max_size + 1, size=rank)]
        if is_transposed:
            limit = [max(s, d) for s, d in zip(axis_list(stride, rank), axis_list(dilation, rank))]
            if rng.random() < 0.4:
                case["output_padding"] = tuple(int(rng.integers(0, m)) for m in limit)
            if rng.random() < 0.2:
                case["padding"] = "same" if rng.random() < 0.5 else 0
                full = [
                    (spatial[a] - 1) * axis_list(stride, rank)[a] + (kernel[a] - 1) * axis_list(dilation, rank)[a] + 1
                    for a in range(rank)
                ]
                op = axis_list(case["output_padding"], rank)
                case["output_shape"] = tuple(int(rng.integers(1, f + p + 1)) for f, p in zip(full, op))
        elif rng.random() < 0.5:
            case["padding_mode"] = str(rng.choice(["reflect", "replicate", "circular"]))
        if not _fits(case, spatial):
            continue
        batch = int(rng.choice([1, 1, 2, 3]))
        unbatched = rng.random() < 0.1
        first = case["layout"] == "channels_first"
        x_shape = ([] if unbatched else [batch]) + ([in_channels] + spatial if first else spatial + [in_channels])
        if is_transposed:
            w_shape = [in_channels, out_channels // groups] + kernel if first else kernel + [out_channels // groups, in_channels]
        else:
            w_shape = [out_channels, in_channels // groups] + kernel if first else kernel + [in_channels // groups, out_channels]
        x = rng.standard_normal(x_shape).astype(np.float32)
        w = rng.standard_normal(w_shape).astype(np.float32)
        b = rng.standard_normal(out_channels).astype(np.float32) if rng.random() < 0.5 else None
        return case, x, w, b


def convkit_call(convkit, case, x, w, b, style):
    """Runs the case through convkit: 'torch' style calls convNd / conv_transposeNd with PyTorch's positional
    argument order; 'generic' calls convkit.conv with keywords."""
    keywords = {"padding_mode": case["padding_mode"], "flip": case["flip"], "layout": case["layout"]}
    if style == "generic":
        return convkit.conv(
            x, w, b, stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=case["groups"],
            transposed=case["transposed"], output_padding=case["output_padding"], output_shape=case["output_shape"],
            **keywords,
        )
    rank = case["rank"]
    if case["transposed"]:
        function = getattr(convkit, f"conv_transpose{rank}d")
        return function(x, w, b, case["stride"], case["padding"], case["output_padding"], case["groups"],
                        case["dilation"], output_shape=case["output_shape"], **keywords)
    function = getattr(convkit, f"conv{rank}d")
    return function(x, w, b, case["stride"], case["padding"], case["dilation"], case["groups"], **keywords)
