"""What one task does: cut a piece of an input chunk, assemble a block's padded window, run the stack on it.

Indices along an axis are either a slice (a contiguous run, the common case) or an int64 array whose
ZERO entries are zero cells (padding_mode="zeros", or transposed outputs no tap reaches).
"""

import numpy as np

from . import _plans
from ._geometry import ZERO
from ._layers import ACTIVATIONS


def compact(index):
    """A slice when `index` is a contiguous increasing run without zero cells (a view instead of a copy)."""
    index = np.asarray(index, dtype=np.int64)
    if index.size and index[0] != ZERO and np.array_equal(index, np.arange(index[0], index[0] + index.size)):
        return slice(int(index[0]), int(index[0]) + int(index.size))
    return index


def take(block, axis, index):
    """block's cells `index` along `axis` (see compact); ZERO entries give zeros."""
    if isinstance(index, slice):
        return block[(slice(None),) * axis + (index,)]
    if (index == ZERO).any():
        widths = [(0, 0)] * block.ndim
        widths[axis] = (1, 0)
        return np.take(np.pad(block, widths), index + 1, axis=axis)  # cell 0 of the padded block is the zero
    return np.take(block, index, axis=axis)


def piece(chunk, indices):
    """The cells `indices` (one per axis) of an input chunk: one small task per neighbour a block reads."""
    for axis, index in enumerate(indices):
        chunk = take(chunk, axis, index)
    return np.ascontiguousarray(chunk)


def run_block(weights, program, shape, positions, *pieces):
    """Assemble a block's window from its pieces, then run the stack's steps on it (a float32 numpy array).

    weights: (token, [(weight, bias), ...]) from the stack's single weights key. program: the steps (see
    _stack.block_program), each ("conv", number, arguments, pre, post, layout_axes) or ("activation", name).
    """
    window = np.zeros(shape, dtype=np.float32)
    for position, part in zip(positions, pieces):
        if all(isinstance(p, slice) for p in position):
            window[position] = part
        else:
            grid = [np.arange(shape[a])[p] if isinstance(p, slice) else p for a, p in enumerate(position)]
            window[np.ix_(*grid)] = part
    token, parameters = weights
    block = window
    for step in program:
        if step[0] == "activation":
            function = step[1]
            block = (ACTIVATIONS[function] if isinstance(function, str) else function)(block)
            continue
        _, number, arguments, pre, post, spatial_axes, channel_axis, threads = step
        for axis, index in zip(spatial_axes, pre):
            block = take(block, axis, index)
        weight, bias = parameters[number]
        run_bias = bias if arguments["bias"] else None
        plan = _plans.plan_for(token, number, arguments, weight, run_bias, threads)
        block = plan(np.ascontiguousarray(block))
        for axis, index in zip(spatial_axes, post):
            block = take(block, axis, index)
        if bias is not None and run_bias is None:  # transposed: the bias after the crop
            view = [1] * block.ndim
            view[channel_axis] = bias.size
            block = block + bias.reshape(view)
    return np.ascontiguousarray(block, dtype=np.float32)
