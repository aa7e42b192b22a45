"""One convolution layer's geometry on one spatial axis, and which input cells an output range reads.

Everything here is index arithmetic on one axis (the axes of a convolution are independent): the
padding each side resolved from the spec as convkit resolves it (src/core/shape.cc), and for an output
range [start, stop) the input indices it reads, with the padding mode mapping the cells outside the
input back inside (or to a zero). The chunked runner (_blocks.py) builds every block from these.
"""

from dataclasses import dataclass

import numpy as np

ZERO = -1  # a source index meaning "a zero cell" (padding_mode="zeros" outside the input)


@dataclass(frozen=True)
class AxisLayer:
    """A convolution on one axis: input cells, resolved pads, stride and dilated kernel extent."""

    input: int
    output: int
    extent: int  # (kernel - 1) * dilation + 1
    stride: int
    pad_begin: int
    pad_end: int  # transposed: may be negative (output_shape beyond the span: extra cells at the end)
    transposed: bool
    mode: str  # padding_mode (forward only; transposed convolutions pad with zeros)

    def source_indices(self, start, stop):
        """Forward: the input index every cell of the padded window of outputs [start, stop) reads.

        PyTorch/ONNX: output o reads padded cells [o*stride, o*stride + extent), i.e. input cells
        o*stride - pad_begin + t. Cells outside [0, input) come from the padding mode, as torch.nn.functional.pad:
        reflect (mirror without the edge: -i -> i, n-1+i -> n-1-i), replicate (the edge cell), circular
        (wrap: i mod n), zeros (ZERO).
        """
        cells = np.arange(start * self.stride, (stop - 1) * self.stride + self.extent, dtype=np.int64) - self.pad_begin
        n = self.input
        outside = (cells < 0) | (cells >= n)
        if not outside.any():
            return cells
        if self.mode == "zeros":
            return np.where(outside, ZERO, cells)
        if self.mode == "reflect":
            return np.where(cells < 0, -cells, np.where(cells >= n, 2 * (n - 1) - cells, cells))
        if self.mode == "replicate":
            return np.clip(cells, 0, n - 1)
        if self.mode == "circular":
            return np.mod(cells, n)
        raise ValueError(f"padding_mode={self.mode!r}: expected zeros, reflect, replicate or circular")

    def transposed_inputs(self, start, stop):
        """Transposed: the input range [first, last) whose taps reach outputs [start, stop).

        Input i adds to full-output cells [i*stride, i*stride + extent); output o is full cell o + pad_begin
        (the ONNX ConvTranspose crop). So o reads inputs ceil((o + pad_begin - extent + 1) / stride) ..
        floor((o + pad_begin) / stride), clipped to [0, input).
        """
        first = max(0, -(-(start + self.pad_begin - self.extent + 1) // self.stride))
        last = min(self.input, (stop - 1 + self.pad_begin) // self.stride + 1)
        return first, last


def resolve_axes(spec, input_spatial):
    """The AxisLayer of every spatial axis of `spec` (a convkit.ConvSpec) for an input of `input_spatial`.

    The pads follow convkit's own rules (docs: /work/shared/design.md "Padding"): explicit begin/end;
    'valid' none; forward 'same'/'same_lower' (TF SAME, ONNX SAME_UPPER/SAME_LOWER): out = ceil(in/stride),
    total = max((out-1)*stride + extent - in, 0), begin = total//2 (same) or total - total//2 (same_lower);
    transposed with output_shape or 'same' (ONNX ConvTranspose): span = stride*(in-1) + output_padding +
    extent, total = span - output_shape (output_shape = in*stride for 'same'); total < 0 gives pads
    (0, total); 'same' begin = total//2, 'same_lower'/explicit output_shape: end = total//2 (ONNX NOTSET/SAME_LOWER).
    The result is checked against spec.output_shape_for so the two never disagree silently.
    """
    rank = spec.rank
    padding = spec.padding
    axes = []
    for axis in range(rank):
        n = int(input_spatial[axis])
        extent = (spec.kernel[axis] - 1) * spec.dilation[axis] + 1
        stride = spec.stride[axis]
        if spec.transposed:
            output_padding = spec.output_padding[axis] if len(spec.output_padding) == rank else spec.output_padding[0]
            span = stride * (n - 1) + output_padding + extent
            requested = spec.output_shape[axis] if spec.output_shape else (n * stride if padding in ("same", "same_lower") else None)
            if requested is None:
                begin, end = (0, 0) if padding == "valid" else (padding[axis], padding[rank + axis])
            elif span - requested < 0:
                begin, end = 0, span - requested
            else:
                total = span - requested
                if padding == "valid":
                    begin, end = 0, total
                elif padding == "same":
                    begin, end = total // 2, total - total // 2
                else:
                    begin, end = total - total // 2, total // 2
            output = span - begin - end
        else:
            if padding in ("same", "same_lower"):
                out = -(-n // stride)
                total = max((out - 1) * stride + extent - n, 0)
                begin = total // 2 if padding == "same" else total - total // 2
                end = total - begin
            elif padding == "valid":
                begin, end = 0, 0
            else:
                begin, end = padding[axis], padding[rank + axis]
            output = (n + begin + end - extent) // stride + 1
        axes.append(AxisLayer(n, output, extent, stride, begin, end, spec.transposed, spec.padding_mode))
    return axes
