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
  const auto input_rank = static_cast<int>(input.size()) - 2;
  if (spec.rank != input_rank || spec.layout != model.layout)
    fail(stage.name, ": a ", spec.rank, "D ", to_string(spec.layout), " stage does not fit a ", input_rank, "D ",
         to_string(model.layout), " input of shape ", input);
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

// The receptive field of a tensor (field and jump per spatial axis of the model input).
ReceptiveField field_of(const Model& model, TensorIndex tensor) {
  if (tensor == 0) {
    const auto rank = static_cast<size_t>(model.spatial_rank());
    return {std::vector<double>(rank, 1.0), std::vector<double>(rank, 1.0)};
  }
  const ModelLayer& layer = model.layers[tensor - 1];
  return {layer.receptive_field, layer.receptive_jump};
}

// The field entering a layer: one input's, or for a merge the widest of its inputs' on each axis (an
// output cell of Add/Concatenate depends on what every input's cell depends on).
ReceptiveField field_entering(const Model& model, const std::vector<TensorIndex>& inputs) {
  ReceptiveField field = field_of(model, inputs.front());
  for (TensorIndex tensor : inputs) {
    const ReceptiveField other = field_of(model, tensor);
    for (size_t a = 0; a < field.size.size(); ++a) {
      field.size[a] = std::max(field.size[a], other.size[a]);
      field.jump[a] = std::max(field.jump[a], other.jump[a]);
    }
  }
  return field;
}

// A layer spanning `span` cells every `stride` cells after `field` (composing stacks: a field s2 after
// (s1, j1) is s1 + (s2 - 1) * j1, the jumps multiply). Only while the tensor keeps the model input's
// spatial axes: after a Flatten or Reshape the field is already the whole input.
void compose(ReceptiveField& field, const std::vector<double>& span, const std::vector<double>& stride) {
  if (span.size() != field.size.size()) return;
  for (size_t a = 0; a < span.size(); ++a) {
    field.size[a] += (span[a] - 1.0) * field.jump[a];
    field.jump[a] *= stride[a];
  }
}

// Checks a layer's input tensors: they exist, are earlier layers' outputs or the model input.
void check_inputs(const Model& model, const std::vector<TensorIndex>& inputs) {
  if (inputs.empty()) fail("a layer needs at least one input");
  for (TensorIndex tensor : inputs)
    if (tensor > model.layers.size())
      fail("input tensor ", tensor, " is not the model input (0) or an earlier layer's output (1-",
           model.layers.size(), ")");
}

// Adds `layer` (its own params and MACs set) to `model`, with the running totals.
void push_layer(Model& model, ModelLayer layer) {
  layer.params_so_far = checked_add(model.total_params(), layer.params, "the model's total parameter count");
  layer.macs_so_far = checked_add(model.total_macs(), layer.macs, "the model's total MAC count");
  model.layers.push_back(std::move(layer));
}

}  // namespace

const Shape& Model::tensor_shape(TensorIndex tensor) const {
  return tensor == 0 ? input_shape : layers.at(tensor - 1).output_shape;
}

int64_t Model::total_params() const { return layers.empty() ? 0 : layers.back().params_so_far; }

int64_t Model::total_non_trainable_params() const {
  int64_t total = 0;
  for (const ModelLayer& layer : layers) total += layer.non_trainable_params;  // <= total_params: no overflow
  return total;
}

int64_t Model::total_macs() const { return layers.empty() ? 0 : layers.back().macs_so_far; }

void append_layer(Model& model, std::string name, std::string type, Composite stages) {
  append_layer(model, std::move(name), std::move(type), {model.last_tensor()}, std::move(stages));
}

void append_layer(Model& model, std::string name, std::string type, std::vector<TensorIndex> inputs, Composite stages,
                  bool trainable) {
  check_input(model);
  check_inputs(model, inputs);
  if (inputs.size() != 1) fail("a convolution reads one input, got ", inputs.size());
  const Shape input = batched(model, model.tensor_shape(inputs.front()));
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
  layer.non_trainable_params = trainable ? 0 : layer.params;
  layer.macs = cost.total.macs;
  ReceptiveField field = field_entering(model, inputs);
  const std::vector<ConvSpec> stack = conv_stages(stages);
  if (!stack.empty()) {
    const ReceptiveField own = receptive_field(stack);
    compose(field, own.size, own.jump);
  }
  layer.receptive_field = std::move(field.size);
  layer.receptive_jump = std::move(field.jump);
  layer.inputs = std::move(inputs);
  layer.stages = std::move(stages);
  push_layer(model, std::move(layer));
}

void append_layer(Model& model, std::string name, std::string type, std::vector<TensorIndex> inputs,
                  const LayerEffect& effect, bool trainable) {
  check_input(model);
  check_inputs(model, inputs);
  if (effect.output_shape.empty() || effect.params < 0 || effect.non_trainable_params < 0 ||
      effect.non_trainable_params > effect.params || effect.macs_per_sample < 0)
    fail("a layer needs an output shape and non-negative counts (non-trainable <= params)");
  for (int64_t d : effect.output_shape) {
    if (d < 1) fail("output shape ", effect.output_shape, " must be positive on every axis");
    check_size(d, "output size");
  }
  ModelLayer layer;
  layer.name = std::move(name);
  layer.type = std::move(type);
  layer.input_shape = model.tensor_shape(inputs.front());
  layer.output_shape = effect.output_shape;
  layer.params = effect.params;
  layer.non_trainable_params = trainable ? effect.non_trainable_params : effect.params;
  layer.macs = checked_product({model.batch, effect.macs_per_sample}, "the MAC count");
  ReceptiveField field = field_entering(model, inputs);
  if (effect.cells == LayerEffect::Cells::window) compose(field, effect.window, effect.stride);
  if (effect.cells == LayerEffect::Cells::global) {
    // Every output cell sees the whole input: the field of the input's first cell widened by the
    // input's extent (in cells of the model input: (extent - 1) * jump more).
    const Shape extent = spatial_of(model.layout, batched(model, layer.input_shape));
    if (extent.size() == field.size.size())
      for (size_t a = 0; a < extent.size(); ++a) field.size[a] += static_cast<double>(extent[a] - 1) * field.jump[a];
  }
  layer.receptive_field = std::move(field.size);
  layer.receptive_jump = std::move(field.jump);
  layer.inputs = std::move(inputs);
  push_layer(model, std::move(layer));
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
