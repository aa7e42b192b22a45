"""convkit.dask: convolutions and conv stacks over chunked volumes (dask.array), on any Dask cluster.

    import dask.array as da, convkit.dask
    vol = da.from_zarr("scan.zarr")                                   # (N, C, D, H, W) or (C, D, H, W), chunked
    out = convkit.dask.conv3d(vol, w, b, padding="same", padding_mode="reflect")
    seg = convkit.dask.apply([convkit.dask.Conv(w1, b1, padding="same"), "relu",
                              convkit.dask.Conv(w2, b2, padding="same")], vol)
    out.to_zarr("filtered.zarr")                                      # runs on the cluster the user started

The functions take the arguments of convkit.conv1d ... conv_transpose3d (both layouts, every padding form
and mode, stride, dilation, groups, output_padding/output_shape, flip) and equal the single call on the
whole array (float32 rounding aside). An input without a batch axis gets one for the run and loses it after.
`threads` is convkit's threads per task (dask runs tasks in parallel already). How blocks, halos and the
result's chunks are made: _stack.py; docs/scaling.md.
"""

from ._layers import ACTIVATIONS, Activation, Conv
from ._model import layers_from_model
from ._run import apply
from ._volumes import from_nifti, to_nifti


def _checked_rank(conv, rank):
    if conv.rank != rank:
        raise ValueError(f"weight has {conv.weight.ndim} dimensions {list(conv.weight.shape)}; "
                         f"a {rank}D convolution expects {rank + 2}")
    return conv


def _forward(rank):
    def function(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, padding_mode="zeros",
                 flip=False, layout="channels_first", threads=1):
        conv = Conv(weight, bias, stride=stride, padding=padding, dilation=dilation, groups=groups,
                    padding_mode=padding_mode, flip=flip, layout=layout)
        return apply([_checked_rank(conv, rank)], input, threads=threads)

    return _named(function, f"conv{rank}d")


def _transposed(rank):
    def function(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1, *,
                 output_shape=None, padding_mode="zeros", flip=False, layout="channels_first", threads=1):
        conv = Conv(weight, bias, stride=stride, padding=padding, output_padding=output_padding, groups=groups,
                    dilation=dilation, output_shape=output_shape, transposed=True, padding_mode=padding_mode,
                    flip=flip, layout=layout)
        return apply([_checked_rank(conv, rank)], input, threads=threads)

    return _named(function, f"conv_transpose{rank}d")


def _named(function, name):
    function.__name__ = function.__qualname__ = name
    function.__doc__ = (f"convkit.{name} over a chunked dask array (numpy: made one dask array first): the same "
                        "arguments and result, computed block by block with halos (module doc).")
    return function


conv1d, conv2d, conv3d = (_forward(rank) for rank in (1, 2, 3))
conv_transpose1d, conv_transpose2d, conv_transpose3d = (_transposed(rank) for rank in (1, 2, 3))

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "Conv",
    "apply",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "from_nifti",
    "layers_from_model",
    "to_nifti",
]
