"""What one task does: cut a piece of an input chunk, assemble a block's padded window, run the stack on it.

Indices along an axis are a slice (a contiguous run, the common case), a Padded run (zero cells around a
run) or an int64 array whose ZERO entries are zero cells (padding_mode="zeros", or transposed outputs no
tap reaches); `compact` picks the cheapest form.
"""

import numpy as np

from . import _plans
from ._geometry import ZERO
from ._layers import ACTIVATIONS


class Padded:
    """A contiguous run with zero cells before and after it (padding_mode="zeros" at the volume's edge)."""

    def __init__(self, before, run, after):
        self.before, self.run, self.after = before, run, after


def compact(index):
    """A slice (a view instead of a copy) or a Padded run when `index` is contiguous increasing between
    zero cells at its ends; otherwise the int64 array itself."""
    index = np.asarray(index, dtype=np.int64)
    inside = np.nonzero(index != ZERO)[0]
    if inside.size == 0:
        return index
    first, last = int(inside[0]), int(inside[-1]) + 1
    run = index[first:last]
    if last - first != inside.size or not np.array_equal(run, np.arange(run[0], run[0] + run.size)):
        return index
    cells = slice(int(run[0]), int(run[0]) + int(run.size))
    return cells if first == 0 and last == index.size else Padded(first, cells, index.size - last)


def take(block, axis, index):
    """block's cells `index` (an int64 array) along `axis`; ZERO entries give zeros."""
    zeros = index == ZERO
    result = np.take(block, np.where(zeros, 0, index), axis=axis)  # one copy; then the zero cells
    if zeros.any():
        result[(slice(None),) * axis + (zeros,)] = 0
    return result


def select(block, indices):
    """block's cells `indices` (one per axis: slice, Padded or array): the slices and runs first (a view),
    then one zero pad for all Padded axes, then the arrays (reflected or wrapped cells) on what is left."""
    runs = tuple(i if isinstance(i, slice) else i.run if isinstance(i, Padded) else slice(None) for i in indices)
    block = block[runs]
    pads = [(i.before, i.after) if isinstance(i, Padded) else (0, 0) for i in indices]
    if any(pad != (0, 0) for pad in pads):  # (np.pad is several times slower than this copy)
        padded = np.zeros([n + before + after for n, (before, after) in zip(block.shape, pads)], dtype=block.dtype)
        padded[tuple(slice(before, before + n) for n, (before, _) in zip(block.shape, pads))] = block
        block = padded
    for axis, index in enumerate(indices):
        if isinstance(index, np.ndarray):
            block = take(block, axis, index)
    return block


def piece(chunk, indices):
    """The cells `indices` (one per axis) of an input chunk: one small task per neighbour a block reads."""
    return np.ascontiguousarray(select(chunk, indices))


def run_block(weights, program, shape, positions, *pieces):
    """Assemble a block's window from its pieces, then run the stack's steps on it (a float32 numpy array).

    weights: (token, [(weight, bias), ...]) from the stack's single weights key. program: the steps (see
    _stack.run_segment), each ("conv", number, arguments, pre, post, spatial axes, channel axis, threads) or
    ("activation", name or callable).
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
        pre, pads = zero_pads(pre, arguments["transposed"])
        block = select(block, full_axes(block.ndim, spatial_axes, pre))
        weight, bias = parameters[number]
        run_bias = bias if arguments["bias"] else None
        plan = _plans.plan_for(token, number, arguments if pads is None else dict(arguments, padding=pads),
                               weight, run_bias, threads)
        block = plan(np.ascontiguousarray(block))
        block = select(block, full_axes(block.ndim, spatial_axes, post))
        if bias is not None and run_bias is None:  # transposed: the bias after the crop
            view = [1] * block.ndim
            view[channel_axis] = bias.size
            block = block + bias.reshape(view)
    return np.ascontiguousarray(block, dtype=np.float32)


def zero_pads(pre, transposed):
    """A forward convolution's zero cells at the volume's edges (its Padded axes) as the convolution's own
    ONNX-style pads (all begins, then all ends) instead of a zero-padded copy of the block: (pre with each
    Padded axis replaced by its run, pads), or (pre, None) when there are none. The copy of an 8-channel
    block cost more than its convolution (page faults of a fresh array of the block's size); a plan per
    (layer, edge pattern) costs a weight packing once per worker."""
    if transposed or not any(isinstance(index, Padded) for index in pre):
        return pre, None
    begins = [index.before if isinstance(index, Padded) else 0 for index in pre]
    ends = [index.after if isinstance(index, Padded) else 0 for index in pre]
    return tuple(index.run if isinstance(index, Padded) else index for index in pre), tuple(begins + ends)


def full_axes(ndim, spatial_axes, indices):
    """Per-axis indices of a whole block from the spatial axes' ones (all cells of the other axes)."""
    result = [slice(None)] * ndim
    for axis, index in zip(spatial_axes, indices):
        result[axis] = index
    return result
