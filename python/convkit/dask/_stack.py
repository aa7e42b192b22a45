"""A sequential stack over a chunked dask array, one halo per stack (the stack's receptive field).

Every output block is computed by one task from one window of the input: the cells its receptive field
reads, assembled from small pieces of the neighbouring chunks (one piece task per neighbour, as
dask's map_overlap does), with the first layer's padding mode applied where the window crosses the
volume's edge. Inside the task the layers run with no padding of their own: before each later layer
the task maps its window exactly as that layer's padding would at the volume's edge (_geometry), so
the result equals the stack run on the whole volume. A later layer with padding_mode="circular" needs
the far side of an intermediate volume: the stack is cut there into segments, each with its own halo.

Chunks of the result: batch as the input's; channels one chunk; each spatial axis uniform chunks of
round(input chunk * output size / input size) cells (the input's first chunk; at least 1), the last
chunk the remainder. A block's window may span any number of input chunks, so chunks smaller than the
halo and 1-cell chunks need no rechunk.
"""

import itertools

import dask.array as da
import numpy as np
from dask.base import tokenize
from dask.delayed import Delayed, delayed
from dask.highlevelgraph import HighLevelGraph

from ._blocks import compact, piece, run_block
from ._geometry import ZERO, resolve_axes
from ._layers import Activation, Conv


def as_layers(layers):
    """Conv and Activation objects from a list of Conv, Activation, activation names or callables."""
    result = []
    for number, layer in enumerate(layers):
        if isinstance(layer, (Conv, Activation)):
            result.append(layer)
        elif isinstance(layer, str) or callable(layer):
            try:
                result.append(Activation(layer))
            except ValueError as error:
                raise ValueError(f"layers[{number}]: {error}") from None
        else:
            raise ValueError(f"layers[{number}] is a {type(layer).__name__}; expected a convkit.dask.Conv, "
                             "a convkit.dask.Activation, an activation name or an elementwise callable")
    return result


def layer_axes(layout, rank):
    """(spatial axes, channel axis) of a (N, C, spatial...) or (N, spatial..., C) array."""
    if layout == "channels_first":
        return tuple(range(2, 2 + rank)), 1
    return tuple(range(1, 1 + rank)), 1 + rank


def output_chunks(input_chunks, input_size, output_size):
    size = max(1, round(input_chunks[0] * output_size / input_size))
    return (size,) * (output_size // size) + ((output_size % size,) if output_size % size else ())


def bounds_of(chunks):
    return np.cumsum((0,) + tuple(chunks))


def block_program(axes_of_layers, request):
    """For output cells `request` (start, stop) of the segment's last conv on one axis: the window of the
    segment's input the block needs (source indices, ZERO for zero cells) and, per conv layer, the cells
    of its block to keep before (`pre`) and after (`post`) its run."""
    steps = []
    for axis in reversed(axes_of_layers):
        if axis.transposed:
            first, last = axis.transposed_inputs(*request)
            if first >= last:  # no tap reaches these outputs: run on any one cell, the crop keeps none of it
                first, last = 0, 1
            full = np.arange(request[0] + axis.pad_begin, request[1] + axis.pad_begin) - first * axis.stride
            produced = (last - first - 1) * axis.stride + axis.extent
            post = np.where((full >= 0) & (full < produced), full, ZERO)
            source, needed = np.arange(first, last), (first, last)
            steps.append((None, post))
        else:
            source = axis.source_indices(*request)
            inside = source[source != ZERO]
            needed = (int(inside.min()), int(inside.max()) + 1) if inside.size else (0, 1)
            steps.append((source, None))
        request = needed
    steps.reverse()
    window = steps[0][0] if steps[0][0] is not None else np.arange(*request)
    # Later layers index their block (which starts at the cell the previous layer computed first).
    programs = [(None, None if steps[0][1] is None else compact(steps[0][1]))]
    for source, post in steps[1:]:
        programs.append((None, compact(post)) if source is None else (compact_local(source), None))
    return window, programs


def compact_local(source):
    start = int(source[source != ZERO].min()) if (source != ZERO).any() else 0
    return compact(np.where(source == ZERO, ZERO, source - start))


def split_segments(layers):
    """Cut the stack before every conv after the first whose padding_mode is circular (see the module doc)."""
    segments, current, has_conv = [], [], False
    for layer in layers:
        if isinstance(layer, Conv) and has_conv and layer.spec.padding_mode == "circular":
            segments.append(current)
            current, has_conv = [], False
        current.append(layer)
        has_conv = has_conv or isinstance(layer, Conv)
    segments.append(current)
    return segments


def run_stack(volume, layers, threads):
    """The stack `layers` (Conv/Activation) on the dask array `volume` (N, C, spatial...) or (N, spatial..., C)."""
    convs = [layer for layer in layers if isinstance(layer, Conv)]
    weights_token = tokenize([(c.weight, c.bias, repr(c.spec)) for c in convs])
    weights = delayed((weights_token, [(c.weight, c.bias) for c in convs]), name="convkit-weights-" + weights_token,
                      traverse=False)
    number = 0
    for segment in split_segments(layers):
        numbers = []
        for layer in segment:
            numbers.append(number if isinstance(layer, Conv) else None)
            number += isinstance(layer, Conv)
        volume = run_segment(volume, segment, numbers, weights, threads)
    return volume


def run_segment(volume, segment, numbers, weights: Delayed, threads):
    leading = 0
    while leading < len(segment) and isinstance(segment[leading], Activation):
        # Before the first conv: elementwise on the input (the first conv's padding cells stay zeros).
        volume = volume.map_blocks(lambda block, a=segment[leading]: a(np.array(block, dtype=np.float32)),
                                   dtype=np.float32)
        leading += 1
    segment, numbers = segment[leading:], numbers[leading:]
    if not segment:
        return volume
    first = segment[0]
    spatial_axes, channel_axis = layer_axes(first.spec.layout, first.rank)
    volume = volume.rechunk({channel_axis: -1})
    shape = list(volume.shape)
    axes_per_layer, steps = [], []
    for layer, number in zip(segment, numbers):
        if isinstance(layer, Activation):
            steps.append(("activation", layer.task_function))
            continue
        output = layer.spec.output_shape_for(shape)  # convkit's checks and messages (channels, sizes, padding)
        axes = resolve_axes(layer.spec, [shape[a] for a in spatial_axes])
        if [a.output for a in axes] != [output[a] for a in spatial_axes]:
            raise RuntimeError(f"convkit.dask resolved {[a.output for a in axes]} output cells for {layer.spec} "
                               f"on input {shape}, convkit {output}")
        axes_per_layer.append(axes)
        steps.append(["conv", number, layer.block_arguments(), None, None, spatial_axes, channel_axis, threads])
        shape = output
    chunks = list(volume.chunks)
    chunks[channel_axis] = (shape[channel_axis],)
    for a, axis in enumerate(spatial_axes):
        chunks[axis] = output_chunks(volume.chunks[axis], volume.shape[axis], shape[axis])

    name = "convkit-stack-" + tokenize(volume.name, weights.key, [repr(s) for s in steps], chunks)
    piece_name = name + "-piece"
    input_bounds = [bounds_of(volume.chunks[axis]) for axis in spatial_axes]
    graph = {}
    # Per spatial axis and output block: the window's pieces (input chunk, where in the window, which cells).
    per_axis = []
    for a, axis in enumerate(spatial_axes):
        blocks = []
        out_bounds = bounds_of(chunks[axis])
        for j in range(len(chunks[axis])):
            window, programs = block_program([axes[a] for axes in axes_per_layer], (out_bounds[j], out_bounds[j + 1]))
            owner = np.searchsorted(input_bounds[a], window, side="right") - 1
            parts = []
            for c in np.unique(owner[window != ZERO]):
                where = np.nonzero((owner == c) & (window != ZERO))[0]
                cells = compact(window[where] - input_bounds[a][c])
                whole = isinstance(cells, slice) and cells == slice(0, volume.chunks[axis][c])
                parts.append((int(c), compact(where), cells, whole))
            blocks.append((len(window), parts, programs))
        per_axis.append(blocks)

    batch_blocks = range(len(volume.chunks[0]))
    for batch in batch_blocks:
        for spatial_block in itertools.product(*[range(len(chunks[axis])) for axis in spatial_axes]):
            window_shape = [volume.chunks[0][batch], 0, 0, 0, 0][: volume.ndim]
            window_shape[channel_axis] = volume.shape[channel_axis]
            program = [list(s) if s[0] == "conv" else s for s in steps]
            part_lists = []
            for a, j in enumerate(spatial_block):
                length, parts, programs = per_axis[a][j]
                window_shape[spatial_axes[a]] = length
                part_lists.append(parts)
                conv_number = 0
                for step in program:
                    if step[0] == "conv":
                        pre, post = programs[conv_number]
                        step[3] = (step[3] or ()) + (pre if pre is not None else slice(None),)
                        step[4] = (step[4] or ()) + (post if post is not None else slice(None),)
                        conv_number += 1
            out_index = [batch, 0, 0, 0, 0][: volume.ndim]
            for a, j in enumerate(spatial_block):
                out_index[spatial_axes[a]] = j
            positions, piece_keys = [], []
            for combination in itertools.product(*part_lists):
                in_index = [batch, 0, 0, 0, 0][: volume.ndim]
                position = [slice(None)] * volume.ndim
                cells = [slice(None)] * volume.ndim
                whole = True
                for a, (c, where, cell, is_whole) in enumerate(combination):
                    in_index[spatial_axes[a]] = c
                    position[spatial_axes[a]] = where
                    cells[spatial_axes[a]] = cell
                    whole = whole and is_whole
                source_key = (volume.name, *in_index)
                if whole:
                    piece_keys.append(source_key)
                else:
                    key = (piece_name, *out_index, len(piece_keys))
                    graph[key] = (piece, source_key, tuple(cells))
                    piece_keys.append(key)
                positions.append(tuple(position))
            graph[(name, *out_index)] = (run_block, weights.key, [tuple(s) for s in program], tuple(window_shape),
                                         positions, *piece_keys)
    layer_graph = HighLevelGraph.from_collections(name, graph, dependencies=[volume, weights])
    return da.Array(layer_graph, name, chunks=tuple(chunks), dtype=np.float32)
