#include "convkit/composite.h"

#include "convkit/checked.h"
#include "convkit/error.h"
#include "convkit/shape.h"

namespace convkit {
namespace {

void check_layer(const ConvSpec& layer, const char* composite) {
  validate(layer);
  if (layer.transposed) fail(composite, ": the layer to split must not be transposed");
  if (layer.flip) fail(composite, ": flip=true is not supported; factor the flipped kernel instead");
  if (!layer.output_shape.empty()) fail(composite, ": output_shape is only meaningful for a transposed convolution");
}

std::vector<int64_t> ones(int rank) { return std::vector<int64_t>(static_cast<size_t>(rank), 1); }

// `value` on `axis`, `fill` on every other spatial axis.
std::vector<int64_t> only_on_axis(int rank, int axis, int64_t value, int64_t fill) {
  std::vector<int64_t> values(static_cast<size_t>(rank), fill);
  values[static_cast<size_t>(axis)] = value;
  return values;
}

// The layer's padding restricted to one axis (zero elsewhere); valid/same rules apply per axis.
Padding padding_on_axis(const ConvSpec& layer, int axis) {
  if (layer.padding.kind != PaddingKind::explicit_pads) return layer.padding;
  const auto begin = per_axis(layer.padding.begin, layer.rank, 0, "padding begin");
  const auto end = per_axis(layer.padding.end, layer.rank, 0, "padding end");
  const auto i = static_cast<size_t>(axis);
  return Padding::explicit_pads(only_on_axis(layer.rank, axis, begin[i], 0), only_on_axis(layer.rank, axis, end[i], 0));
}

// A 1x1 convolution from `in` to `out` channels.
ConvSpec pointwise(const ConvSpec& layer, int64_t in, int64_t out, int64_t groups) {
  ConvSpec spec;
  spec.rank = layer.rank;
  spec.in_channels = in;
  spec.out_channels = out;
  spec.kernel = ones(layer.rank);
  spec.groups = groups;
  spec.layout = layer.layout;
  return spec;
}

// The layer's kernel, stride, dilation and padding on `axis` only, from `in` to `out` channels.
ConvSpec along_axis(const ConvSpec& layer, int axis, int64_t in, int64_t out, int64_t groups) {
  const auto i = static_cast<size_t>(axis);
  ConvSpec spec = pointwise(layer, in, out, groups);
  spec.kernel = only_on_axis(layer.rank, axis, per_axis(layer.kernel, layer.rank, 1, "kernel")[i], 1);
  spec.stride = only_on_axis(layer.rank, axis, per_axis(layer.stride, layer.rank, 1, "stride")[i], 1);
  spec.dilation = only_on_axis(layer.rank, axis, per_axis(layer.dilation, layer.rank, 1, "dilation")[i], 1);
  spec.padding = padding_on_axis(layer, axis);
  spec.padding_mode = layer.padding_mode;
  return spec;
}

// Depthwise stages along axes [first_axis, rank) on `channels` channels.
void add_depthwise_axes(Composite& composite, const ConvSpec& layer, int first_axis, int64_t channels) {
  static const char* const names[] = {"depth", "vertical", "horizontal"};
  for (int axis = first_axis; axis < layer.rank; ++axis)
    composite.stages.push_back({names[3 - layer.rank + axis], along_axis(layer, axis, channels, channels, channels)});
}

}  // namespace

Composite depthwise_separable(const ConvSpec& layer, int64_t depth_multiplier) {
  check_layer(layer, "depthwise_separable");
  if (depth_multiplier < 1) fail("depthwise_separable: depth_multiplier=", depth_multiplier, " must be >= 1");
  const int64_t mid = checked_mul(layer.in_channels, depth_multiplier, "depthwise_separable: depth_multiplier=",
                                  depth_multiplier, " times in_channels=", layer.in_channels,
                                  " makes more than 2^63 - 1 channels");
  ConvSpec depthwise = layer;
  depthwise.out_channels = mid;
  depthwise.groups = layer.in_channels;
  depthwise.bias = false;
  ConvSpec point = pointwise(layer, mid, layer.out_channels, 1);
  point.bias = layer.bias;
  return {"depthwise_separable", {{"depthwise", depthwise}, {"pointwise", point}}};
}

Composite spatial_separable(const ConvSpec& layer) {
  check_layer(layer, "spatial_separable");
  Composite composite{"spatial_separable", {}};
  composite.stages.push_back(
      {layer.rank == 1 ? "horizontal" : layer.rank == 2 ? "vertical" : "depth",
       along_axis(layer, 0, layer.in_channels, layer.out_channels, layer.groups)});
  add_depthwise_axes(composite, layer, 1, layer.out_channels);
  composite.stages.back().conv.bias = layer.bias;
  return composite;
}

Composite flattened(const ConvSpec& layer) {
  check_layer(layer, "flattened");
  Composite composite{"flattened", {{"lateral", pointwise(layer, layer.in_channels, layer.out_channels, layer.groups)}}};
  add_depthwise_axes(composite, layer, 0, layer.out_channels);
  composite.stages.back().conv.bias = layer.bias;
  return composite;
}

Composite shuffled_grouped(const ConvSpec& first, const ConvSpec& second) {
  check_layer(first, "shuffled_grouped (first)");
  check_layer(second, "shuffled_grouped (second)");
  if (second.in_channels != first.out_channels)
    fail("shuffled_grouped: second.in_channels=", second.in_channels, " must equal first.out_channels=",
         first.out_channels);
  if (second.rank != first.rank || second.layout != first.layout)
    fail("shuffled_grouped: the two convolutions must have the same rank and layout");
  return {"shuffled_grouped",
          {{"grouped", first}, {"shuffle", {}, first.groups}, {"grouped", second}}};
}

ConvSpec pointwise_grouped(int rank, int64_t in_channels, int64_t out_channels, int64_t groups, Layout layout,
                           bool bias) {
  ConvSpec spec;
  spec.rank = rank;
  spec.in_channels = in_channels;
  spec.out_channels = out_channels;
  spec.kernel = {1};
  spec.groups = groups;
  spec.layout = layout;
  spec.bias = bias;
  validate(spec);
  return spec;
}

std::vector<ConvSpec> conv_stages(const Composite& composite) {
  std::vector<ConvSpec> specs;
  for (const Stage& stage : composite.stages)
    if (!stage.is_shuffle()) specs.push_back(stage.conv);
  return specs;
}

}  // namespace convkit
