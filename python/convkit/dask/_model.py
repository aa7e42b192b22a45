"""A Keras-like MODEL.json (the format of `convkit summary`, src/io/model_json.cc) as convkit.dask layers.

The JSON gives the architecture, `weights` the numbers, in Keras's shapes (keras/src/layers/convolutional):
Conv*D kernel (k..., Cin/groups, filters); Conv*DTranspose kernel (k..., filters, Cin); DepthwiseConv*D
kernel (k..., Cin, depth_multiplier) (a grouped conv with groups = Cin, output channel c*depth_multiplier + m,
as tf.nn.depthwise_conv2d). Keras keeps these kernel shapes for data_format="channels_first" too; the
kernel is then moved to convkit's (O, I, k...) order. A layer's "activation" runs after it, and
{"type": "ReLU"} / {"type": "Activation", "activation": NAME} are activation layers.
"""

import json
import os

import numpy as np

from .._summary import summary
from ._layers import ACTIVATIONS, Activation, Conv

CONV_TYPES = {f"Conv{r}D": (r, "conv") for r in (1, 2, 3)}
CONV_TYPES.update({f"Conv{r}DTranspose": (r, "transposed") for r in (1, 2, 3)})
CONV_TYPES.update({f"DepthwiseConv{r}D": (r, "depthwise") for r in (1, 2)})
ACTIVATION_TYPES = ("ReLU", "Activation")


def _load(model):
    if isinstance(model, dict):
        return model
    if isinstance(model, os.PathLike):
        with open(model, encoding="utf-8") as file:
            model = file.read()
    try:
        loaded = json.loads(model)
    except json.JSONDecodeError as error:
        raise ValueError(f"model is not valid JSON: {error}") from None
    if not isinstance(loaded, dict) or not isinstance(loaded.get("layers"), list):
        raise ValueError("model must be a JSON object with a \"layers\" list")
    return loaded


def _per_axis(value, rank):
    return [int(value)] * rank if isinstance(value, int) else [int(v) for v in value]


def layers_from_model(model, weights):
    """Conv/Activation layers of a MODEL.json `model` (dict, JSON text or path) with `weights`: one kernel
    or (kernel, bias) per conv layer, in order. Unsupported layer types and wrong weights are ValueErrors."""
    model = _load(model)
    entries = model["layers"]
    for number, entry in enumerate(entries):
        kind = entry.get("type") if isinstance(entry, dict) else None
        if kind not in CONV_TYPES and kind not in ACTIVATION_TYPES:
            raise ValueError(f"layers[{number}].type={kind!r} is not supported by convkit.dask.apply; expected one "
                             f"of {sorted(CONV_TYPES) + list(ACTIVATION_TYPES)}")
    convs = [entry for entry in entries if entry["type"] in CONV_TYPES]
    summary(dict(model, layers=convs))  # convkit's own checks of every argument (a ValueError naming it)
    weights = list(weights) if weights is not None else []
    if len(weights) != len(convs):
        raise ValueError(f"weights has {len(weights)} entries; the model has {len(convs)} conv layers (one kernel "
                         "or (kernel, bias) each)")
    layers, conv_number = [], 0
    for number, entry in enumerate(entries):
        if entry["type"] == "ReLU":
            layers.append(Activation("relu"))
            continue
        if entry["type"] == "Activation":
            layers.append(_activation(entry.get("activation"), number))
            continue
        layers.append(_conv(entry, weights[conv_number], conv_number))
        conv_number += 1
        if entry.get("activation") not in (None, "linear"):
            layers.append(_activation(entry["activation"], number))
    return layers


def _activation(name, number):
    if name not in ACTIVATIONS:
        raise ValueError(f"layers[{number}].activation={name!r} is not supported; expected one of {sorted(ACTIVATIONS)}")
    return Activation(name)


def _conv(entry, weight, conv_number):
    rank, kind = CONV_TYPES[entry["type"]]
    use_bias = entry.get("use_bias", True)
    if isinstance(weight, (tuple, list)):
        if len(weight) != 2:
            raise ValueError(f"weights[{conv_number}] has {len(weight)} entries; expected (kernel, bias)")
        kernel, bias = np.asarray(weight[0]), weight[1]
    else:
        kernel, bias = np.asarray(weight), None
    if (bias is not None) != bool(use_bias):
        raise ValueError(f"weights[{conv_number}] {'has' if bias is not None else 'lacks'} a bias but the layer's "
                         f"use_bias is {bool(use_bias)}")
    if kernel.ndim != rank + 2:
        raise ValueError(f"weights[{conv_number}] kernel has shape {list(kernel.shape)}; expected {rank + 2} dimensions "
                         f"for {entry['type']}")
    # The kernel's sizes the JSON fixes (its input channels are checked against the volume when it runs).
    kernel_size = _per_axis(entry["kernel_size"], rank)
    fixed = {"conv": -1, "transposed": -2, "depthwise": -1}[kind]
    expected = entry.get("depth_multiplier", 1) if kind == "depthwise" else entry["filters"]
    if list(kernel.shape[:rank]) != kernel_size or kernel.shape[fixed] != expected:
        raise ValueError(f"weights[{conv_number}] kernel has shape {list(kernel.shape)}; {entry['type']} with "
                         f"kernel_size={kernel_size} expects (*kernel_size, ...) with {expected} at axis {fixed} "
                         "(Keras's kernel shape)")
    dilation = _per_axis(entry.get("dilation_rate", 1), rank)
    padding = entry.get("padding", "valid")
    if padding == "causal":  # keras Conv1D: pad (kernel - 1) * dilation cells at the beginning only
        padding = [(kernel_size[0] - 1) * dilation[0], 0]
    groups = entry.get("groups", 1)
    if kind == "depthwise":
        groups = kernel.shape[-2]
        kernel = kernel.reshape(kernel.shape[:rank] + (1, kernel.shape[-2] * kernel.shape[-1]))
    layout = entry.get("data_format", "channels_last")
    if layout == "channels_first":
        kernel = kernel.transpose([rank + 1, rank] + list(range(rank)))
    options = dict(stride=_per_axis(entry.get("strides", 1), rank), padding=padding, dilation=dilation,
                   groups=groups, layout=layout)
    if kind == "transposed":
        options.update(transposed=True, output_padding=_per_axis(entry.get("output_padding") or 0, rank))
    try:
        return Conv(kernel, bias, **options)
    except ValueError as error:
        raise ValueError(f"weights[{conv_number}] ({entry['type']}): {error}") from None
