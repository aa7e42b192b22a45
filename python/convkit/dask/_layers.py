"""The layers a chunked stack is made of: a convolution (any kind convkit runs) and an elementwise activation.

A Conv keeps the arguments of convkit.conv (torch.nn.functional's names) and its numpy weights; its
`spec` is the convkit.ConvSpec the single call would build, so shapes, checks and messages are convkit's.
"""

import numpy as np

from .. import _convkit

# Elementwise activations by name (PyTorch's definitions; Keras's "linear" is the identity).
ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0, out=x),
    "sigmoid": lambda x: np.divide(1, 1 + np.exp(-x), out=x),
    "tanh": lambda x: np.tanh(x, out=x),
    "linear": lambda x: x,
}


class Activation:
    """An elementwise activation: a name of ACTIVATIONS or a function of a float32 numpy array (same shape)."""

    def __init__(self, function):
        if isinstance(function, str):
            if function not in ACTIVATIONS:
                raise ValueError(f"activation={function!r} is unknown; expected one of {sorted(ACTIVATIONS)} or a callable")
            self.name, self.function = function, ACTIVATIONS[function]
            self.task_function = function  # tasks carry the name, the worker looks it up
        elif callable(function):
            self.name, self.function = getattr(function, "__name__", "callable"), function
            self.task_function = function
        else:
            raise ValueError(f"activation={function!r} must be a name ({sorted(ACTIVATIONS)}) or a callable")

    def __call__(self, block):
        result = self.function(block)
        if result.shape != block.shape:
            raise ValueError(f"activation {self.name!r} changed the block shape {block.shape} to {result.shape}; "
                             "it must be elementwise")
        return result

    def __repr__(self):
        return f"Activation({self.name!r})"


class Conv:
    """One convolution layer: weight (and bias) as numpy arrays, the arguments of convkit.conv.

    The rank is weight.ndim - 2. Shapes (design.md "Layouts"): channels_first weight (Cout, Cin/g, k...),
    transposed (Cin, Cout/g, k...); channels_last (k..., Cin/g, Cout), transposed (k..., Cout/g, Cin).
    """

    def __init__(self, weight, bias=None, *, stride=1, padding=0, dilation=1, groups=1, transposed=False,
                 output_padding=0, output_shape=None, padding_mode="zeros", flip=False, layout="channels_first"):
        weight = np.asarray(weight)
        if weight.dtype.kind != "f":
            raise ValueError(f"weight has dtype {weight.dtype}; expected a floating-point array")
        if weight.ndim not in (3, 4, 5):
            raise ValueError(f"weight has {weight.ndim} dimensions {weight.shape}; expected 3 to 5 (a 1D to 3D convolution)")
        self.weight = np.ascontiguousarray(weight, dtype=np.float32)
        self.bias = None if bias is None else np.ascontiguousarray(np.asarray(bias), dtype=np.float32)
        self.arguments = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, transposed=transposed,
                              output_padding=output_padding, output_shape=output_shape, padding_mode=padding_mode,
                              flip=flip, layout=layout)
        rank = weight.ndim - 2
        first = layout == "channels_first"
        kernel = list(weight.shape[2:] if first else weight.shape[:rank])
        per_group, other = (weight.shape[1], weight.shape[0]) if first else (weight.shape[-2], weight.shape[-1])
        if not isinstance(groups, (int, np.integer)) or groups < 1:
            raise ValueError(f"groups={groups!r} must be a positive integer")
        # Forward: other = Cout, per_group = Cin/g; transposed: other = Cin, per_group = Cout/g (first)
        # and the reverse roles in channels_last ((k..., Cout/g, Cin)): both give in/out the same way.
        if transposed:
            in_channels, out_channels = (other, per_group * groups)
        else:
            in_channels, out_channels = (per_group * groups, other)
        self.spec = _convkit.ConvSpec(in_channels, out_channels, kernel, bias=self.bias is not None, rank=rank,
                                      **self.arguments)
        if list(self.weight.shape) != list(self.spec.weight_shape):
            raise ValueError(f"weight has shape {list(self.weight.shape)}; expected {self.spec.weight_shape} for {self.spec}")
        if self.bias is not None and list(self.bias.shape) != list(self.spec.bias_shape):
            raise ValueError(f"bias has shape {list(self.bias.shape)}; expected {self.spec.bias_shape}")

    @property
    def rank(self):
        return self.spec.rank

    def block_arguments(self):
        """ConvSpec arguments of one block's run: no padding (the block holds its padded window), no output size rule.

        A transposed block runs without bias: the bias is added after the block's crop (cells no tap reaches
        hold only the bias, as output_padding cells do).
        """
        return dict(self.arguments, padding=0, padding_mode="zeros", output_padding=0, output_shape=None,
                    in_channels=self.spec.in_channels, out_channels=self.spec.out_channels, kernel=self.spec.kernel,
                    rank=self.rank, bias=self.bias is not None and not self.spec.transposed)

    def __repr__(self):
        return f"Conv({self.spec})"
