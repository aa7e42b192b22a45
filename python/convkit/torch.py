"""PyTorch interop: convkit's convolutions on CPU torch.Tensors, with autograd through convkit's own backward
plans, usable in a normal PyTorch training loop.

    import convkit.torch as ct
    y = ct.conv2d(x, w, b, stride=2, padding="same")    # torch.nn.functional.conv2d's signature
    layer = ct.Conv2d(3, 16, 3, padding=1)               # a torch.nn.Conv2d whose forward runs convkit

Tensors are shared with numpy without copies (a contiguous float32 CPU tensor is read in place; the result is a
float32 tensor over convkit's output array). convkit computes in float32: other dtypes are converted and the
result is float32. Only CPU tensors are accepted. Gradients: dL/dx by convkit.conv_backward_data (the adjoint
convolution), dL/dw by convkit.conv_backward_weights, dL/db by convkit.conv_backward_bias (first order only).
"""

import torch

from . import _convkit

__all__ = [
    "conv", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
]


def _array(tensor, name):
    """The tensor's data as a numpy array without a copy where numpy can view it."""
    if tensor is None:
        return None
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.device.type != "cpu":
        raise ValueError(f"{name} is on {tensor.device}; convkit runs on the CPU (move it with .cpu())")
    tensor = tensor.detach()
    if tensor.dtype in (torch.bfloat16, torch.float16, torch.complex64, torch.complex128):
        if tensor.is_complex():
            raise TypeError(f"{name} has dtype {tensor.dtype}; convkit takes real numbers")
        tensor = tensor.float()
    return tensor.numpy()


class _PlanCache:
    """A module's convkit.Plan, kept while its spec, weight and bias stay the same: torch bumps a tensor's
    _version on every in-place write (optimizer steps, `with torch.no_grad(): w.add_(...)`), and replacing
    `.data` changes its data_ptr, so either makes a new plan (weights packed again). Copies and pickles of the
    module start with an empty cache."""

    _SPEC_FIELDS = ("rank", "in_channels", "out_channels", "kernel", "stride", "dilation", "padding", "padding_mode",
                    "groups", "bias", "transposed", "output_padding", "output_shape", "flip", "layout")

    def __init__(self):
        self.entry = None  # (key, plan), replaced as one object so concurrent forwards never mix two

    def __reduce__(self):
        return (_PlanCache, ())

    def plan_for(self, spec, accuracy, w, b, w_array, b_array):
        key = (tuple(str(getattr(spec, field)) for field in self._SPEC_FIELDS), accuracy, w._version, w.data_ptr(),
               None if b is None else (b._version, b.data_ptr()))
        entry = self.entry
        if entry is None or entry[0] != key:
            entry = (key, _convkit.Plan(spec, w_array, b_array, accuracy=accuracy))
            self.entry = entry
        return entry[1]


class _Convolution(torch.autograd.Function):
    """y = conv(x, w, b) with `spec`; gradients from convkit's backward plans."""

    @staticmethod
    def forward(ctx, x, w, b, keywords, accuracy, cache):
        x_array, w_array, b_array = _array(x, "input"), _array(w, "weight"), _array(b, "bias")
        spec = _convkit.ConvSpec.for_arrays(x_array, w_array, b_array, **keywords)
        plan = (cache.plan_for(spec, accuracy, w, b, w_array, b_array) if cache
                else _convkit.Plan(spec, w_array, b_array, accuracy=accuracy))
        y = plan(x_array)
        ctx.spec = spec
        ctx.accuracy = accuracy
        ctx.has_bias = b is not None
        ctx.save_for_backward(x, w)
        return torch.from_numpy(y)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output):
        x, w = ctx.saved_tensors
        dy = _array(grad_output, "grad_output")
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = torch.from_numpy(_convkit.conv_backward_data(dy, _array(w, "weight"), list(x.shape), ctx.spec,
                                                                  accuracy=ctx.accuracy))
        if ctx.needs_input_grad[1]:
            grad_w = torch.from_numpy(_convkit.conv_backward_weights(_array(x, "input"), dy, ctx.spec))
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = torch.from_numpy(_convkit.conv_backward_bias(dy, ctx.spec))
        return grad_x, grad_w, grad_b, None, None, None


def conv(input, weight, bias=None, *, stride=1, padding=0, dilation=1, groups=1, transposed=False,
         output_padding=0, output_shape=None, padding_mode="zeros", flip=False, layout="channels_first",
         accuracy="fast", _plan_cache=None):
    """convkit.conv on torch.Tensors (see help(convkit.conv)), differentiable in input, weight and bias;
    accuracy="strict" keeps the forward and input-gradient plans to direct algorithms."""
    keywords = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, transposed=transposed,
                    output_padding=output_padding, output_shape=output_shape, padding_mode=padding_mode, flip=flip,
                    layout=layout)
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"weight must be a torch.Tensor, got {type(weight).__name__}")
    unbatched = isinstance(input, torch.Tensor) and input.dim() == weight.dim() - 1
    if unbatched:
        input = input.unsqueeze(0)
    y = _Convolution.apply(input, weight, bias, keywords, accuracy, _plan_cache)
    return y.squeeze(0) if unbatched else y


def _functional(rank, transposed):
    name = f"conv_transpose{rank}d" if transposed else f"conv{rank}d"
    if transposed:
        def function(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *,
                     output_shape=None, padding_mode="zeros", flip=False, layout="channels_first", accuracy="fast"):
            _check_rank(weight, rank, name)
            return conv(input, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups,
                        transposed=True, output_padding=output_padding, output_shape=output_shape,
                        padding_mode=padding_mode, flip=flip, layout=layout, accuracy=accuracy)
    else:
        def function(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, padding_mode="zeros",
                     flip=False, layout="channels_first", accuracy="fast"):
            _check_rank(weight, rank, name)
            return conv(input, weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups,
                        padding_mode=padding_mode, flip=flip, layout=layout, accuracy=accuracy)
    function.__name__ = function.__qualname__ = name
    function.__doc__ = (f"torch.nn.functional.{name} computed by convkit, differentiable (see "
                        f"help(convkit.{name}) for the arguments).")
    return function


def _check_rank(weight, rank, name):
    if isinstance(weight, torch.Tensor) and weight.dim() != rank + 2:
        raise ValueError(f"{name}: weight of shape {list(weight.shape)} has {weight.dim()} dimensions; expected {rank + 2}")


conv1d, conv2d, conv3d = (_functional(rank, False) for rank in (1, 2, 3))
conv_transpose1d, conv_transpose2d, conv_transpose3d = (_functional(rank, True) for rank in (1, 2, 3))


def _padding_argument(module):
    # torch.nn.ConvNd keeps padding as a tuple per axis or the strings 'same' / 'valid'.
    return module.padding if isinstance(module.padding, str) else tuple(module.padding)


def _forward_module(base):
    class Module(base):
        __doc__ = (f"torch.nn.{base.__name__} whose forward runs convkit (same parameters, state_dict and defaults); "
                   "the packed weights are kept until the parameters change. Set `module.accuracy = 'strict'` for "
                   "direct algorithms only (see help(convkit.conv)).")
        accuracy = "fast"

        def forward(self, input):
            return conv(input, self.weight, self.bias, stride=tuple(self.stride), padding=_padding_argument(self),
                        dilation=tuple(self.dilation), groups=self.groups, padding_mode=self.padding_mode,
                        accuracy=self.accuracy, _plan_cache=self.__dict__.setdefault("_convkit_plans", _PlanCache()))

    Module.__name__ = Module.__qualname__ = base.__name__
    return Module


def _transposed_module(base, rank):
    class Module(base):
        __doc__ = (f"torch.nn.{base.__name__} whose forward runs convkit (same parameters, state_dict and defaults; "
                   "output_size as PyTorch's). Set `module.accuracy = 'strict'` for direct algorithms only.")
        accuracy = "fast"

        def forward(self, input, output_size=None):
            output_padding = tuple(self.output_padding)
            if output_size is not None:
                # PyTorch's rule: the output_padding that reaches output_size (torch.nn.ConvTransposeNd._output_padding).
                output_padding = tuple(self._output_padding(input, output_size, self.stride, self.padding,
                                                            self.kernel_size, rank, self.dilation))
            return conv(input, self.weight, self.bias, stride=tuple(self.stride), padding=tuple(self.padding),
                        dilation=tuple(self.dilation), groups=self.groups, transposed=True,
                        output_padding=output_padding, accuracy=self.accuracy,
                        _plan_cache=self.__dict__.setdefault("_convkit_plans", _PlanCache()))

    Module.__name__ = Module.__qualname__ = base.__name__
    return Module


Conv1d, Conv2d, Conv3d = (_forward_module(base) for base in (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d))
ConvTranspose1d, ConvTranspose2d, ConvTranspose3d = (
    _transposed_module(base, rank)
    for rank, base in ((1, torch.nn.ConvTranspose1d), (2, torch.nn.ConvTranspose2d), (3, torch.nn.ConvTranspose3d))
)
