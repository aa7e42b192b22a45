"""convkit: every CNN convolution exactly as PyTorch, TensorFlow and ONNX define them, on numpy arrays.

    import numpy as np, convkit
    y = convkit.conv2d(x, w, b, stride=2, padding="same")                        # torch.nn.functional signature
    y = convkit.conv2d(x_nhwc, w_hwio, padding="same", layout="channels_last")  # TF/Keras shapes
    plan = convkit.Plan(spec, w, b); y = plan(x)                                 # pack once, run many times

Functions: conv1d/2d/3d, conv_transpose1d/2d/3d (torch.nn.functional's names, argument order and defaults),
the generic conv, ConvSpec and Plan, gradients (conv_backward_data/weights/bias), composites and the cost
model. convkit.torch (when torch imports) wraps them for torch.Tensors with autograd.
"""

from ._convkit import (
    Composite,
    CompositePlan,
    ConvSpec,
    Plan,
    conv,
    conv1d,
    conv2d,
    conv3d,
    conv_backward_bias,
    conv_backward_data,
    conv_backward_weights,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    cost,
    depthwise_separable,
    factor_separable,
    flattened,
    get_num_threads,
    receptive_field,
    set_num_threads,
    shuffled_grouped,
    spatial_separable,
)
from ._summary import summary

__all__ = [
    "Composite",
    "CompositePlan",
    "ConvSpec",
    "Plan",
    "conv",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_backward_bias",
    "conv_backward_data",
    "conv_backward_weights",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "cost",
    "depthwise_separable",
    "factor_separable",
    "flattened",
    "get_num_threads",
    "receptive_field",
    "set_num_threads",
    "shuffled_grouped",
    "spatial_separable",
    "summary",
]


def __getattr__(name):
    # convkit.torch imports torch (slow, optional): loaded on first use, not with convkit.
    if name == "torch":
        import importlib

        return importlib.import_module(".torch", __name__)
    raise AttributeError(f"module 'convkit' has no attribute {name!r}")
