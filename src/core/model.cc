#include "convkit/model.h"

#include <algorithm>
#include <regex>
#include <utility>

#include "convkit/cost.h"
#include "convkit/error.h"
#include "convkit/shape.h"

namespace convkit {
namespace {

int64_t checked_add(int64_t a, int64_t b, const char* what) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) fail(what, " overflows int64");
  return sum;
}

int64_t checked_product(std::initializer_list<int64_t> factors, const char* what) {
  int64_t product = 1;
  for (int64_t f : factors)
    if (__builtin_mul_overflow(product, f, &product)) fail(what, " overflows int64");
  return product;
}

void check_size(int64_t value, const char* what) {
  if (value > kMaxModelSize) fail(what, "=", value, " exceeds the largest size convkit accepts (", kMaxModelSize, ")");
}

void check_sizes(const std::vector<int64_t>& values, const char* what) {
  for (int64_t v : values)
    if (v > kMaxModelSize)
      fail(what, "=", values, " exceeds the largest size convkit accepts (", kMaxModelSize, ") on some axis");
}

// Every number of a stage bounded, so the shape rules (products of two sizes plus a few more) stay
// far below int64 overflow.
void check_limits(const ConvSpec& spec) {
  check_size(spec.in_channels, "in_channels");
  check_size(spec.out_channels, "out_channels");
  check_size(spec.groups, "groups");
  check_sizes(spec.kernel, "kernel");
  check_sizes(spec.stride, "stride");
  check_sizes(spec.dilation, "dilation");
  check_sizes(spec.padding.begin, "padding begin");
  check_sizes(spec.padding.end, "padding end");
  check_sizes(spec.output_padding, "output_padding");
  check_sizes(spec.output_shape, "output_shape");
}

int64_t channels_of(Layout layout, const Shape& shape) {
  return layout == Layout::channels_first ? shape[1] : shape.back();
}

Shape spatial_of(Layout layout, const Shape& shape) {
  return layout == Layout::channels_first ? Shape(shape.begin() + 2, shape.end())
                                          : Shape(shape.begin() + 1, shape.end() - 1);
}

// Checks one stage against the (batched) `input`, returns its output shape and adds to `bound` an upper
// bound of every count the cost model forms for it: batch * max(cells in, cells out) * Cin * Cout *
// taps + Cout bounds the MACs (Cin/g <= Cin, Cout/g <= Cout) and the parameters alike. The cost model
// multiplies in plain int64, so the bound must fit before it runs.
Shape check_stage(const Model& model, const Stage& stage, const Shape& input, int64_t& bound) {
  if (stage.is_shuffle()) {  // ShuffleNet channel shuffle: (N, g, C/g, ...) -> (N, C/g, g, ...)
    const int64_t channels = channels_of(model.layout, input);
    if (channels % stage.shuffle_groups != 0)
      fail("channel shuffle groups=", stage.shuffle_groups, " does not divide the ", channels, " input channels");
    return input;
  }
  const ConvSpec& spec = stage.conv;
  if (spec.rank != model.spatial_rank() || spec.layout != model.layout)
    fail(stage.name, ": a ", spec.rank, "D ", to_string(spec.layout), " stage does not fit a ", model.spatial_rank(),
         "D ", to_string(model.layout), " input of shape ", input);
  check_limits(spec);
  const Shape output = output_shape(spec, input);
  for (int64_t d : output) check_size(d, "output size");
  const int64_t cells =
      std::max(element_count(spatial_of(model.layout, input)), element_count(spatial_of(model.layout, output)));
  const int64_t taps = element_count(per_axis(spec.kernel, spec.rank, 1, "kernel"));
  const int64_t stage_bound =
      checked_add(checked_product({model.batch, cells, spec.in_channels, spec.out_channels, taps}, "the MAC count"),
                  spec.out_channels, "the parameter count");
  bound = checked_add(bound, stage_bound, "the MAC count");
  return output;
}

Shape batched(const Model& model, const Shape& shape) {
  Shape full{model.batch};
  full.insert(full.end(), shape.begin(), shape.end());
  return full;
}

Shape unbatched(const Shape& shape) { return Shape(shape.begin() + 1, shape.end()); }

void check_input(const Model& model) {
  if (model.input_shape.size() < 2 || model.input_shape.size() > 4)
    fail("input_shape=", model.input_shape, " has ", model.input_shape.size(),
         " dimensions; expected 2, 3 or 4 (1-3 spatial axes and the channels, without the batch)");
  for (int64_t d : model.input_shape)
    if (d < 1) fail("input_shape=", model.input_shape, " must be positive (>= 1) on every axis");
  check_sizes(model.input_shape, "input_shape");
  if (model.batch < 1) fail("batch=", model.batch, " must be >= 1");
  check_size(model.batch, "batch");
}

// The receptive field of the model's layers followed by one made of `stages`, from the last layer's
// field and jump (composing stacks: a field s2 after (s1, j1) is s1 + (s2 - 1) * j1, the jumps multiply;
// channel shuffles do not move cells).
ReceptiveField receptive_field_after(const Model& model, const Composite& stages) {
  const auto rank = static_cast<size_t>(model.spatial_rank());
  ReceptiveField field{std::vector<double>(rank, 1.0), std::vector<double>(rank, 1.0)};
  if (!model.layers.empty()) field = {model.layers.back().receptive_field, model.layers.back().receptive_jump};
  const std::vector<ConvSpec> stack = conv_stages(stages);
  if (stack.empty()) return field;
  const ReceptiveField layer = receptive_field(stack);
  for (size_t a = 0; a < rank; ++a) {
    field.size[a] += (layer.size[a] - 1.0) * field.jump[a];
    field.jump[a] *= layer.jump[a];
  }
  return field;
}

}  // namespace

int64_t Model::total_params() const { return layers.empty() ? 0 : layers.back().params_so_far; }

int64_t Model::total_macs() const { return layers.empty() ? 0 : layers.back().macs_so_far; }

void append_layer(Model& model, std::string name, std::string type, Composite stages) {
  check_input(model);
  const Shape input = batched(model, model.output_shape());
  Shape shape = input;
  int64_t bound = 0;
  for (const Stage& stage : stages.stages) shape = check_stage(model, stage, shape, bound);
  const CompositeCost cost = composite_cost(stages, input);
  ModelLayer layer;
  layer.name = std::move(name);
  layer.type = std::move(type);
  layer.input_shape = unbatched(cost.total.input_shape);
  layer.output_shape = unbatched(cost.total.output_shape);
  layer.params = cost.total.params();
  layer.macs = cost.total.macs;
  layer.params_so_far = checked_add(model.total_params(), layer.params, "the model's total parameter count");
  layer.macs_so_far = checked_add(model.total_macs(), layer.macs, "the model's total MAC count");
  ReceptiveField field = receptive_field_after(model, stages);
  layer.receptive_field = std::move(field.size);
  layer.receptive_jump = std::move(field.jump);
  layer.stages = std::move(stages);
  model.layers.push_back(std::move(layer));
}

Composite single_layer(const ConvSpec& layer) {
  return {layer.transposed ? "transposed" : "conv", {{layer.transposed ? "transposed" : "conv", layer}}};
}

Composite shuffle_grouped_layer(const ConvSpec& layer) {
  ConvSpec first = layer;
  first.bias = false;
  const ConvSpec second =
      pointwise_grouped(layer.rank, layer.out_channels, layer.out_channels, layer.groups, layer.layout, layer.bias);
  return shuffled_grouped(first, second);
}

std::string keras_snake_case(std::string_view type) {
  // keras.src.utils.naming.to_snake_case: drop non-word characters, "_" before each capitalised word
  // that follows a character, then between a lower-case letter and a capital; lower-case everything.
  // Built once: building a std::regex took 2 ms, which made loading a 200,000-layer model take minutes.
  static const std::regex non_word("[^A-Za-z0-9_]+"), word("(.)([A-Z][a-z]+)"), camel("([a-z])([A-Z])");
  std::string name = std::regex_replace(std::string(type), non_word, "");
  name = std::regex_replace(name, word, "$1_$2");
  name = std::regex_replace(name, camel, "$1_$2");
  std::transform(name.begin(), name.end(), name.begin(),
                 [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
  return name;
}

}  // namespace convkit
