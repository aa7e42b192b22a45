"""convkit.dask.apply: checks the volume and the stack, then runs it with one halo (_stack.py)."""

import os

import dask.array as da
import numpy as np

from ._layers import Conv
from ._model import layers_from_model
from ._stack import as_layers, run_stack


def apply(model, volume, weights=None, *, threads=1):
    """The stack `model` on `volume`, equal to running it on the whole volume; a lazy float32 dask array.

    model: a list of layers (convkit.dask.Conv, convkit.dask.Activation, an activation name such as
    "relu", or an elementwise callable), or a Keras-like MODEL.json (`convkit summary`'s format: dict, JSON
    text or os.PathLike) with `weights` = one numpy array, or (kernel, bias), per conv layer in Keras's
    shapes (layers_from_model). volume: a dask or numpy array (N, C, spatial...) or (N, spatial..., C)
    as the layers' layout, or the same without N. threads: convkit threads per task.
    """
    if isinstance(model, (dict, str, os.PathLike)):
        layers = layers_from_model(model, weights)
    elif isinstance(model, (list, tuple)):
        if weights is not None:
            raise ValueError("weights= is for a MODEL.json model; layers built in Python carry their own weights")
        layers = as_layers(model)
    else:
        raise ValueError(f"model is a {type(model).__name__}; expected a list of layers or a MODEL.json "
                         "(dict, JSON text or path)")
    convs = [layer for layer in layers if isinstance(layer, Conv)]
    if not convs:
        raise ValueError("model has no convolution layer")
    rank, layout = convs[0].rank, convs[0].spec.layout
    for number, conv in enumerate(convs):
        if conv.rank != rank or conv.spec.layout != layout:
            raise ValueError(f"conv layer {number} is a {conv.rank}D {conv.spec.layout} convolution; the stack's "
                             f"first is {rank}D {layout} (one rank and layout per stack)")
    if not isinstance(threads, int) or threads < 0:
        raise ValueError(f"threads={threads!r} must be an integer >= 0 (0: all cores)")

    if not isinstance(volume, da.Array):
        volume = np.asarray(volume)
        if volume.dtype.kind != "f":
            raise ValueError(f"volume has dtype {volume.dtype}; expected a floating-point array")
        volume = da.from_array(volume, chunks=volume.shape)
    if volume.dtype.kind != "f":
        raise ValueError(f"volume has dtype {volume.dtype}; expected a floating-point array")
    batched = volume.ndim == rank + 2
    if not batched:
        if volume.ndim != rank + 1:
            raise ValueError(f"volume has {volume.ndim} dimensions {volume.shape}; a {rank}D {layout} stack expects "
                             f"{rank + 2} (with a batch axis) or {rank + 1} (without)")
        volume = volume[np.newaxis]
    if any(size == 0 for size in volume.shape):
        raise ValueError(f"volume has shape {volume.shape}; every axis needs at least one cell")
    result = run_stack(volume, layers, threads)
    return result if batched else result[0]
