#include "convkit/cost.h"

#include "convkit/checked.h"
#include "convkit/error.h"
#include "convkit/shape.h"

namespace convkit {

LayerCost conv_cost(const ConvSpec& spec, std::span<const int64_t> input_shape) {
  LayerCost cost;
  cost.input_shape.assign(input_shape.begin(), input_shape.end());
  cost.output_shape = output_shape(spec, input_shape);
  const int64_t taps = element_count(per_axis(spec.kernel, spec.rank, 1, "kernel"));
  cost.weights = element_count(weight_shape(spec));
  cost.biases = spec.bias ? spec.out_channels : 0;
  checked_add(cost.weights, cost.biases, describe(spec), ": the parameter count exceeds int64 (2^63 - 1)");
  const Shape in_spatial = input_spatial_of(spec, input_shape);
  const int64_t batch = input_shape[0];
  // Transposed: every input cell scatters into Cout/g outputs through every tap; otherwise every
  // output cell gathers Cin/g channels through every tap.
  const Shape& cells = spec.transposed ? in_spatial : resolve_geometry(spec, in_spatial).output_spatial();
  const int64_t scattered = spec.transposed ? spec.in_channels : spec.out_channels;
  const int64_t per_group = spec.transposed ? spec.out_channels / spec.groups : spec.in_channels / spec.groups;
  Checked c;
  cost.macs = c.mul(c.mul(c.mul(c.mul(batch, element_count(cells)), scattered), per_group), taps);
  if (c.overflowed)
    fail(describe(spec), ": the MAC count for input ", input_shape, " exceeds int64 (2^63 - 1)");
  return cost;
}

CompositeCost composite_cost(const Composite& composite, std::span<const int64_t> input_shape) {
  CompositeCost cost;
  Shape shape(input_shape.begin(), input_shape.end());
  cost.total.input_shape = shape;
  for (const Stage& stage : composite.stages) {
    LayerCost stage_cost;
    if (stage.is_shuffle()) {  // a permutation of channels: no parameters, no arithmetic
      stage_cost.input_shape = stage_cost.output_shape = shape;
    } else {
      stage_cost = conv_cost(stage.conv, shape);
    }
    const auto too_many = [&](const char* count) {
      fail(composite.kind, ": the total ", count, " of its stages exceeds int64 (2^63 - 1)");
    };
    Checked c;
    cost.total.weights = c.add(cost.total.weights, stage_cost.weights);
    cost.total.biases = c.add(cost.total.biases, stage_cost.biases);
    c.add(cost.total.weights, cost.total.biases);  // params()
    if (c.overflowed) too_many("parameter count");
    cost.total.macs = c.add(cost.total.macs, stage_cost.macs);
    if (c.overflowed) too_many("MAC count");
    shape = stage_cost.output_shape;
    cost.stages.push_back(std::move(stage_cost));
  }
  cost.total.output_shape = shape;
  return cost;
}

ReceptiveField receptive_field(std::span<const ConvSpec> stack) {
  ReceptiveField field;
  if (stack.empty()) return field;
  const int rank = stack.front().rank;
  field.size.assign(static_cast<size_t>(rank), 1.0);
  field.jump.assign(static_cast<size_t>(rank), 1.0);
  for (const ConvSpec& spec : stack) {
    validate(spec);
    if (spec.rank != rank) fail("receptive_field: layers of rank ", rank, " and ", spec.rank, " in one stack");
    const auto kernel = per_axis(spec.kernel, rank, 1, "kernel");
    const auto stride = per_axis(spec.stride, rank, 1, "stride");
    const auto dilation = per_axis(spec.dilation, rank, 1, "dilation");
    for (size_t a = 0; a < static_cast<size_t>(rank); ++a) {
      const int64_t reach = (kernel[a] - 1) * dilation[a];  // distance between the outermost taps
      if (spec.transposed) {
        field.size[a] += static_cast<double>(reach / stride[a]) * field.jump[a];
        field.jump[a] /= static_cast<double>(stride[a]);
      } else {
        field.size[a] += static_cast<double>(reach) * field.jump[a];
        field.jump[a] *= static_cast<double>(stride[a]);
      }
    }
  }
  return field;
}

}  // namespace convkit
