#include "convkit/shape.h"

#include <algorithm>

#include "convkit/checked.h"
#include "convkit/error.h"

namespace convkit {
namespace {

// ceil(a / b) for a >= 0 and b >= 1, without forming a + b - 1 (which overflows for a huge stride).
int64_t ceil_div(int64_t a, int64_t b) { return a / b + (a % b != 0 ? 1 : 0); }

const char* operation_name(const ConvSpec& spec) { return spec.transposed ? "conv_transpose" : "conv"; }

// The axis names of a tensor in the spec's layout, e.g. "(N, C, H, W)".
std::string layout_axes(const ConvSpec& spec) {
  std::string spatial;
  for (int axis = 0; axis < spec.rank; ++axis) spatial += std::string(axis_name(spec.rank, axis)) + ", ";
  return spec.layout == Layout::channels_first ? "(N, C, " + spatial.substr(0, spatial.size() - 2) + ")"
                                               : "(N, " + spatial + "C)";
}

void check_positive(const std::vector<int64_t>& values, const char* argument) {
  for (int64_t v : values)
    if (v < 1) fail(argument, "=", values, " must be positive (>= 1) on every axis");
}

void check_non_negative(const std::vector<int64_t>& values, const char* argument) {
  for (int64_t v : values)
    if (v < 0) fail(argument, "=", values, " must be >= 0 on every axis");
}

// The explicit pads of the spec (zeros when empty), checked for count and sign.
AxisPads explicit_pads(const ConvSpec& spec, int axis) {
  const auto begin = per_axis(spec.padding.begin, spec.rank, 0, "padding begin");
  const auto end = per_axis(spec.padding.end, spec.rank, 0, "padding end");
  return {begin[static_cast<size_t>(axis)], end[static_cast<size_t>(axis)]};
}

// The cells a transposed convolution writes before any cropping, the ONNX ConvTranspose output size
// with zero pads: span = stride * (in - 1) + output_padding + ((k - 1) * dilation + 1).
int64_t transposed_span(const AxisGeometry& g, const char* axis) {
  Checked c;
  const int64_t span =
      c.add(c.add(c.mul(g.stride, g.input - 1), g.output_padding), dilated_kernel_size(g.kernel, g.dilation, axis));
  if (c.overflowed)
    fail("stride=", g.stride, " with input size ", g.input, ", kernel ", g.kernel, ", dilation ", g.dilation,
         " and output_padding ", g.output_padding, " on axis ", axis,
         " makes a transposed convolution output of more than 2^63 - 1 cells");
  return span;
}

// The pads that make a transposed convolution output `requested` cells, ONNX ConvTranspose:
//   total_padding = stride * (in - 1) + output_padding + ((k - 1) * dilation + 1) - output_shape
//   SAME_UPPER: begin = total / 2, end = total - begin; otherwise (SAME_LOWER, NOTSET):
//   end = total / 2, begin = total - end. VALID keeps zero pads and crops at the end.
// A negative total (a size beyond the span) is accepted up to stride - 1 cells and gives pads
// {0, total}: the extra cells come at the end and hold what output_padding cells would (the bias
// where no tap reaches). That is what ONNX's own backend test test_convtranspose_output_shape expects
// (3x3 inputs, strides [3, 2], span 9x7, output_shape [10, 8]) and how ONNX Runtime computes it
// (conv_transpose_attributes.h ComputeTotalPad clamps the total at 0 and keeps the requested size);
// the bound is PyTorch's output_size (torch/nn/modules/conv.py _output_padding: min_size <= size <=
// min_size + stride - 1), beyond which the cells would be bias alone for no reason but a typo.
AxisPads transposed_pads_for_output(const ConvSpec& spec, const AxisGeometry& g, int64_t span, int64_t requested,
                                    int axis) {
  const int64_t total = span - requested;  // both >= 1: no overflow
  if (total < 0) {
    if (-total > g.stride - 1)
      fail("output_shape=", spec.output_shape, " is unreachable on axis ", axis_name(spec.rank, axis), ": input ",
           g.input, " with kernel ", g.kernel, ", stride ", g.stride, ", dilation ", g.dilation,
           " and output_padding ", g.output_padding, " reaches ", span, " cells, and output_shape may exceed that by ",
           "at most stride - 1 = ", g.stride - 1, " (as ONNX and PyTorch output_size), so at most ",
           span + g.stride - 1, " (raise output_padding or the stride to get more)");
    return {0, total};
  }
  if (spec.padding.kind == PaddingKind::valid) return {0, total};
  if (spec.padding.kind == PaddingKind::same) return {total / 2, total - total / 2};
  return {total - total / 2, total / 2};
}

// Transposed convolution with padding='same' and no output_shape, ONNX ConvTranspose SAME_*:
//   output_shape = in * stride, then the pads of transposed_pads_for_output. When the kernel is
//   shorter than the stride the total is negative (by at most stride - 1); TF (conv2d_transpose
//   'SAME') then pads nothing and the extra cells come at the end, which is what that gives.
int64_t transposed_same_output(const AxisGeometry& g, const char* axis) {
  return checked_mul(g.input, g.stride, "stride=", g.stride, " with input size ", g.input, " on axis ", axis,
                     " makes a transposed padding='same' output of more than 2^63 - 1 cells (input * stride)");
}

}  // namespace

Shape ConvGeometry::input_spatial() const {
  Shape sizes;
  for (const auto& axis : axes) sizes.push_back(axis.input);
  return sizes;
}

Shape ConvGeometry::output_spatial() const {
  Shape sizes;
  for (const auto& axis : axes) sizes.push_back(axis.output);
  return sizes;
}

int64_t dilated_kernel_size(int64_t kernel, int64_t dilation, std::string_view axis) {
  Checked c;
  const int64_t size = c.add(c.mul(kernel - 1, dilation), 1);
  if (c.overflowed)
    fail("dilation=", dilation, " with kernel=", kernel, " makes a dilated kernel of more than 2^63 - 1 cells",
         axis.empty() ? "" : " on axis ", axis);
  return size;
}

int64_t conv_output_size(int64_t input, int64_t kernel, int64_t stride, int64_t dilation, int64_t pad_begin,
                         int64_t pad_end) {
  Checked c;
  const int64_t padded = c.add(c.add(input, pad_begin), pad_end);
  if (c.overflowed)
    fail("padding ", pad_begin, " + ", pad_end, " around input size ", input,
         " makes a padded input of more than 2^63 - 1 cells");
  return (padded - dilated_kernel_size(kernel, dilation)) / stride + 1;
}

int64_t transposed_output_size(int64_t input, int64_t kernel, int64_t stride, int64_t dilation,
                               int64_t pad_begin, int64_t pad_end, int64_t output_padding) {
  Checked c;
  const int64_t span = c.add(c.add(c.mul(input - 1, stride), dilated_kernel_size(kernel, dilation)), output_padding);
  const int64_t output = c.sub(c.sub(span, pad_begin), pad_end);
  if (c.overflowed)
    fail("transposed convolution output size of input ", input, ", kernel ", kernel, ", stride ", stride,
         ", dilation ", dilation, ", padding ", pad_begin, " + ", pad_end, " and output_padding ", output_padding,
         " does not fit in int64");
  return output;
}

AxisPads same_padding(int64_t input, int64_t kernel, int64_t stride, int64_t dilation, bool lower) {
  const int64_t out = ceil_div(input, stride);
  // (out - 1) * stride - input is in [-stride, -1]: adding the dilated kernel last cannot overflow.
  const int64_t total = std::max<int64_t>(dilated_kernel_size(kernel, dilation) + ((out - 1) * stride - input), 0);
  return lower ? AxisPads{total - total / 2, total / 2} : AxisPads{total / 2, total - total / 2};
}

std::vector<int64_t> per_axis(const std::vector<int64_t>& values, int rank, int64_t fallback,
                              const char* argument) {
  if (values.empty()) return std::vector<int64_t>(static_cast<size_t>(rank), fallback);
  if (values.size() == 1) return std::vector<int64_t>(static_cast<size_t>(rank), values[0]);
  if (values.size() != static_cast<size_t>(rank))
    fail(argument, "=", values, " has ", values.size(), " values; expected 1 or ", rank,
         " (one per spatial axis of a ", rank, "D convolution)");
  return values;
}

const char* axis_name(int rank, int axis) {
  static const char* const names[] = {"D", "H", "W"};
  return names[3 - rank + axis];
}

void validate(const ConvSpec& spec) {
  if (spec.rank < 1 || spec.rank > 3) fail("rank=", spec.rank, " is not supported; expected 1, 2 or 3");
  if (spec.groups < 1) fail("groups=", spec.groups, " must be >= 1");
  if (spec.in_channels < 1) fail("in_channels=", spec.in_channels, " must be >= 1");
  if (spec.out_channels < 1) fail("out_channels=", spec.out_channels, " must be >= 1");
  if (spec.in_channels % spec.groups != 0)
    fail("groups=", spec.groups, " does not divide in_channels=", spec.in_channels);
  if (spec.out_channels % spec.groups != 0)
    fail("groups=", spec.groups, " does not divide out_channels=", spec.out_channels);
  if (spec.kernel.empty()) fail("kernel is empty; expected ", spec.rank, " sizes (one per spatial axis)");
  const auto kernel = per_axis(spec.kernel, spec.rank, 1, "kernel");
  const auto stride = per_axis(spec.stride, spec.rank, 1, "stride");
  const auto dilation = per_axis(spec.dilation, spec.rank, 1, "dilation");
  check_positive(kernel, "kernel");
  check_positive(stride, "stride");
  check_positive(dilation, "dilation");
  for (int axis = 0; axis < spec.rank; ++axis)
    dilated_kernel_size(kernel[static_cast<size_t>(axis)], dilation[static_cast<size_t>(axis)],
                        axis_name(spec.rank, axis));
  check_non_negative(per_axis(spec.padding.begin, spec.rank, 0, "padding begin"), "padding begin");
  check_non_negative(per_axis(spec.padding.end, spec.rank, 0, "padding end"), "padding end");
  if (spec.padding.kind != PaddingKind::explicit_pads && (!spec.padding.begin.empty() || !spec.padding.end.empty()))
    fail("padding=", to_string(spec.padding.kind), " takes no explicit amounts, got begin=", spec.padding.begin,
         " end=", spec.padding.end);

  const auto output_padding = per_axis(spec.output_padding, spec.rank, 0, "output_padding");
  if (!spec.transposed) {
    for (int64_t p : output_padding)
      if (p != 0) fail("output_padding=", spec.output_padding, " is only meaningful for a transposed convolution");
    if (!spec.output_shape.empty())
      fail("output_shape=", spec.output_shape, " is only meaningful for a transposed convolution");
    return;
  }
  if (spec.padding_mode != PaddingMode::zeros)
    fail("padding_mode=", to_string(spec.padding_mode),
         " is not supported by a transposed convolution; expected zeros (as PyTorch ConvTranspose)");
  // PyTorch: "output padding must be smaller than either stride or dilation".
  check_non_negative(output_padding, "output_padding");
  for (size_t i = 0; i < output_padding.size(); ++i)
    if (output_padding[i] >= std::max(stride[i], dilation[i]))
      fail("output_padding=", output_padding[i], " on axis ", axis_name(spec.rank, static_cast<int>(i)),
           " must be smaller than max(stride, dilation)=", std::max(stride[i], dilation[i]));
  if (!spec.output_shape.empty()) {
    if (spec.output_shape.size() != static_cast<size_t>(spec.rank))
      fail("output_shape=", spec.output_shape, " has ", spec.output_shape.size(), " values; expected ", spec.rank,
           " spatial sizes");
    check_positive(spec.output_shape, "output_shape");
    const auto begin = per_axis(spec.padding.begin, spec.rank, 0, "padding begin");
    const auto end = per_axis(spec.padding.end, spec.rank, 0, "padding end");
    const auto nonzero = [](int64_t p) { return p != 0; };
    const bool has_pads =
        std::any_of(begin.begin(), begin.end(), nonzero) || std::any_of(end.begin(), end.end(), nonzero);
    if (has_pads)
      fail("output_shape=", spec.output_shape, " and explicit padding begin=", begin, " end=", end,
           " both given; give one (with output_shape the pads follow the ONNX ConvTranspose rule)");
  }
}

ConvGeometry resolve_geometry(const ConvSpec& spec, std::span<const int64_t> input_spatial) {
  validate(spec);
  if (input_spatial.size() != static_cast<size_t>(spec.rank))
    fail("input has ", input_spatial.size(), " spatial axes; a ", spec.rank, "D convolution expects ", spec.rank);
  const auto kernel = per_axis(spec.kernel, spec.rank, 1, "kernel");
  const auto stride = per_axis(spec.stride, spec.rank, 1, "stride");
  const auto dilation = per_axis(spec.dilation, spec.rank, 1, "dilation");
  const auto output_padding = per_axis(spec.output_padding, spec.rank, 0, "output_padding");

  ConvGeometry geometry;
  for (int axis = 0; axis < spec.rank; ++axis) {
    const auto i = static_cast<size_t>(axis);
    const char* name = axis_name(spec.rank, axis);
    AxisGeometry g{input_spatial[i], kernel[i], stride[i], dilation[i], 0, 0, output_padding[i], 0};
    if (g.input < 1) fail("input size ", g.input, " on axis ", name, " must be >= 1");

    const bool same = spec.padding.kind == PaddingKind::same || spec.padding.kind == PaddingKind::same_lower;
    const bool explicit_padding = spec.padding.kind == PaddingKind::explicit_pads;

    if (spec.transposed) {
      const int64_t span = transposed_span(g, name);
      AxisPads pads;
      if (!spec.output_shape.empty())
        pads = transposed_pads_for_output(spec, g, span, spec.output_shape[i], axis);
      else if (same)
        pads = transposed_pads_for_output(spec, g, span, transposed_same_output(g, name), axis);
      else if (explicit_padding)
        pads = explicit_pads(spec, axis);
      g.pad_begin = pads.begin;
      g.pad_end = pads.end;
      Checked c;  // explicit pads may be as large as int64 allows
      g.output = c.sub(c.sub(span, g.pad_begin), g.pad_end);
      if (c.overflowed || g.output < 1)
        fail("transposed convolution output size ", c.overflowed ? "below -2^63" : std::to_string(g.output),
             " on axis ", name, " must be >= 1: padding ", g.pad_begin, "+", g.pad_end, " crops more than the ",
             span, " cells the input ", g.input, " produces");
    } else {
      const AxisPads pads = same ? same_padding(g.input, g.kernel, g.stride, g.dilation,
                                                spec.padding.kind == PaddingKind::same_lower)
                                 : explicit_padding ? explicit_pads(spec, axis) : AxisPads{};
      g.pad_begin = pads.begin;
      g.pad_end = pads.end;
      Checked c;
      const int64_t padded = c.add(c.add(g.input, g.pad_begin), g.pad_end);
      if (c.overflowed)
        fail("padding begin=", g.pad_begin, " and end=", g.pad_end, " around input size ", g.input, " on axis ", name,
             " make a padded input of more than 2^63 - 1 cells");
      if (g.dilated_kernel() > padded)
        fail("kernel size ", g.kernel, " with dilation ", g.dilation, " spans ", g.dilated_kernel(),
             " cells on axis ", name, ", larger than the padded input (", g.input, " + ", g.pad_begin, " + ",
             g.pad_end, " = ", padded, ")");
      // PyTorch F.pad: reflect needs pad < input, circular needs pad <= input (wraps at most once).
      const int64_t widest = std::max(g.pad_begin, g.pad_end);
      if (spec.padding_mode == PaddingMode::reflect && widest >= g.input)
        fail("reflect padding ", widest, " on axis ", name, " must be smaller than the input size ", g.input);
      if (spec.padding_mode == PaddingMode::circular && widest > g.input)
        fail("circular padding ", widest, " on axis ", name, " must not exceed the input size ", g.input);
      g.output = conv_output_size(g.input, g.kernel, g.stride, g.dilation, g.pad_begin, g.pad_end);
    }
    geometry.axes.push_back(g);
  }
  return geometry;
}

Shape make_activation_shape(const ConvSpec& spec, int64_t batch, int64_t channels, std::span<const int64_t> spatial) {
  Shape shape{batch};
  if (spec.layout == Layout::channels_first) shape.push_back(channels);
  shape.insert(shape.end(), spatial.begin(), spatial.end());
  if (spec.layout == Layout::channels_last) shape.push_back(channels);
  return shape;
}

Shape input_spatial_of(const ConvSpec& spec, std::span<const int64_t> input_shape) {
  validate(spec);
  const size_t expected_rank = static_cast<size_t>(spec.rank) + 2;
  if (input_shape.size() != expected_rank)
    fail(operation_name(spec), ": expected a ", expected_rank, "-dimensional input ", layout_axes(spec), " for a ",
         spec.rank, "D convolution in ", to_string(spec.layout), " layout, got ", input_shape.size(),
         " dimensions ", input_shape);
  const bool first = spec.layout == Layout::channels_first;
  const int64_t channels = first ? input_shape[1] : input_shape.back();
  if (input_shape[0] < 0) fail(operation_name(spec), ": input batch size ", input_shape[0], " is negative");
  if (channels != spec.in_channels) {
    const int64_t other = first ? input_shape.back() : input_shape[1];
    const char* hint = other == spec.in_channels
                           ? (first ? " (looks like channels_last data passed as channels_first)"
                                    : " (looks like channels_first data passed as channels_last)")
                           : "";
    fail(operation_name(spec), ": given groups=", spec.groups, " and in_channels=", spec.in_channels,
         ", expected input", input_shape, " ", layout_axes(spec), " to have ", spec.in_channels,
         " channels, but got ", channels, " channels instead", hint);
  }
  return first ? Shape(input_shape.begin() + 2, input_shape.end())
               : Shape(input_shape.begin() + 1, input_shape.end() - 1);
}

Shape output_shape(const ConvSpec& spec, std::span<const int64_t> input_shape) {
  const Shape spatial = input_spatial_of(spec, input_shape);
  Shape shape =
      make_activation_shape(spec, input_shape[0], spec.out_channels, resolve_geometry(spec, spatial).output_spatial());
  tensor_element_count(shape, std::string(operation_name(spec)) + ": output");  // a tensor that can exist
  return shape;
}

Shape weight_shape(const ConvSpec& spec) {
  validate(spec);
  const auto kernel = per_axis(spec.kernel, spec.rank, 1, "kernel");
  // Conv: (Cout, Cin/g, k...) / (k..., Cin/g, Cout); transposed: (Cin, Cout/g, k...) / (k..., Cout/g, Cin).
  const int64_t outer = spec.transposed ? spec.in_channels : spec.out_channels;
  const int64_t per_group = spec.transposed ? spec.out_channels / spec.groups : spec.in_channels / spec.groups;
  Shape shape;
  if (spec.layout == Layout::channels_first) shape = {outer, per_group};
  shape.insert(shape.end(), kernel.begin(), kernel.end());
  if (spec.layout == Layout::channels_last) shape.insert(shape.end(), {per_group, outer});
  return shape;
}

Shape bias_shape(const ConvSpec& spec) { return {spec.out_channels}; }

void check_weight_shape(const ConvSpec& spec, std::span<const int64_t> shape) {
  const Shape expected = weight_shape(spec);
  if (!std::equal(shape.begin(), shape.end(), expected.begin(), expected.end()))
    fail(operation_name(spec), ": weight of shape ", shape, " does not match the spec (in_channels=", spec.in_channels,
         ", out_channels=", spec.out_channels, ", groups=", spec.groups, ", kernel=", spec.kernel, ", ",
         to_string(spec.layout), "); expected ", expected);
}

void check_bias_shape(const ConvSpec& spec, std::span<const int64_t> shape) {
  if (!spec.bias) fail(operation_name(spec), ": a bias of shape ", shape, " was given but the spec has bias=false");
  if (shape.size() != 1 || shape[0] != spec.out_channels)
    fail(operation_name(spec), ": bias of shape ", shape, " does not match out_channels=", spec.out_channels,
         "; expected [", spec.out_channels, "]");
}

int64_t padded_source_index(int64_t j, int64_t n, PaddingMode mode) {
  if (j >= 0 && j < n) return j;
  switch (mode) {
    case PaddingMode::zeros: return -1;
    case PaddingMode::reflect: return j < 0 ? -j : 2 * (n - 1) - j;
    case PaddingMode::replicate: return std::clamp<int64_t>(j, 0, n - 1);
    case PaddingMode::circular: return ((j % n) + n) % n;
  }
  return -1;
}

}  // namespace convkit
