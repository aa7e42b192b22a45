// Keras's layers other than convolutions, with the rules of keras/src/layers (Keras 3; Keras 2 agrees on
// every number here). MACs count multiply-accumulates with weights only, as the convolution cost model
// does (cost.h) and as the published model costs do (VGG16's 15.5 G, ResNet-50's 3.9 G, MobileNet's 569
// M): Dense is one per input feature per unit per position; pooling, BatchNormalization (a per-channel
// scale and shift that inference folds into the convolution before it), activations, padding, reshaping
// and merges have none (docs/summary.md).
#include "keras_layers.h"

#include <algorithm>
#include <functional>
#include <numeric>

#include "convkit/checked.h"
#include "convkit/error.h"

namespace convkit::model_io {
namespace {

int64_t product(const Shape& shape, size_t first, size_t last) {
  int64_t result = 1;
  for (size_t i = first; i < last; ++i)
    result = checked_mul(result, shape[i], "the size ", shape, " overflows int64");
  return result;
}

Shape spatial(const Shape& x) { return Shape(x.begin(), x.end() - 1); }

// keras/src/ops/operation_utils.py compute_pooling_output_shape:
//   valid: out = floor((in - pool) / strides) + 1   (the window must fit: in >= pool)
//   same:  out = floor((in - 1) / strides) + 1 = ceil(in / strides)
// strides default to pool_size (Pooling(strides=None)); pool_size defaults to 2 on every axis.
LayerEffect pooling(const Arguments& args, const std::vector<Shape>& inputs) {
  args.check_data_format();
  const Shape& x = inputs.front();
  const std::vector<int64_t> pool = args.tuple("pool_size", 2);
  const std::vector<int64_t> strides = args.tuple("strides", pool);
  const std::string padding = args.padding(false);
  LayerEffect effect;
  for (size_t a = 0; a < pool.size(); ++a) {
    if (padding == "valid" && x[a] < pool[a])
      fail("pool_size=", pool, " is larger than the input's spatial size ", spatial(x), " (padding \"valid\")");
    effect.output_shape.push_back(padding == "valid" ? (x[a] - pool[a]) / strides[a] + 1 : (x[a] - 1) / strides[a] + 1);
    effect.window.push_back(static_cast<double>(pool[a]));
    effect.stride.push_back(static_cast<double>(strides[a]));
  }
  effect.output_shape.push_back(x.back());
  effect.cells = LayerEffect::Cells::window;
  return effect;
}

// GlobalMax/AveragePooling: (spatial..., C) -> (C), or (1, ..., 1, C) with keepdims=True.
LayerEffect global_pooling(const Arguments& args, const std::vector<Shape>& inputs) {
  args.check_data_format();
  const Shape& x = inputs.front();
  LayerEffect effect;
  if (args.boolean("keepdims", false)) effect.output_shape.assign(x.size() - 1, 1);
  effect.output_shape.push_back(x.back());
  effect.cells = LayerEffect::Cells::global;
  return effect;
}

// BatchNormalization (keras/src/layers/normalization/batch_normalization.py build): gamma (scale=True)
// and beta (center=True) are trainable, moving_mean and moving_variance are not; each has the size of
// the normalised axes. `axis` counts the batch as axis 0 (-1: the channels).
LayerEffect batch_normalization(const Arguments& args, const std::vector<Shape>& inputs) {
  const Shape& x = inputs.front();
  const auto batched_rank = static_cast<int64_t>(x.size()) + 1;
  std::vector<int64_t> axes{-1};
  if (args.has("axis")) {
    const Json& value = args.at("axis");
    axes.clear();
    for (const Json& item : value.is_array() ? value : Json::array({value})) {
      if (!item.is_number_integer()) fail("axis=", shown(value), " must be an integer or a list of integers");
      axes.push_back(item.get<int64_t>());
    }
  }
  int64_t size = 1;
  for (int64_t axis : axes) {
    const int64_t resolved = axis < 0 ? axis + batched_rank : axis;
    if (resolved < 1 || resolved >= batched_rank)
      fail("axis=", axis, " is not a feature axis of an input of shape (None, ", x, "); expected 1 to ",
           batched_rank - 1, " or -1 to ", 1 - batched_rank);
    size = checked_mul(size, x[static_cast<size_t>(resolved - 1)], "the normalised size overflows int64");
  }
  if (args.boolean("renorm", false)) fail("renorm=true is not supported (its extra statistics are not counted)");
  const int64_t trained = (args.boolean("center", true) ? 1 : 0) + (args.boolean("scale", true) ? 1 : 0);
  LayerEffect effect;
  effect.output_shape = x;
  effect.non_trainable_params = checked_mul(size, 2, "the parameter count overflows int64");
  effect.params = checked_mul(size, 2 + trained, "the parameter count overflows int64");
  return effect;
}

// Activations, Dropout: the input shape, no parameters.
LayerEffect same_shape(const Arguments&, const std::vector<Shape>& inputs) {
  LayerEffect effect;
  effect.output_shape = inputs.front();
  return effect;
}

LayerEffect flatten(const Arguments& args, const std::vector<Shape>& inputs) {
  args.check_data_format();
  const Shape& x = inputs.front();
  LayerEffect effect;
  effect.output_shape = {product(x, 0, x.size())};
  effect.cells = LayerEffect::Cells::global;
  return effect;
}

// Dense acts on the last axis (keras/src/layers/core/dense.py): (..., in) -> (..., units); kernel
// (in, units) and a bias of `units`; one MAC per input feature per unit per position.
LayerEffect dense(const Arguments& args, const std::vector<Shape>& inputs) {
  const Shape& x = inputs.front();
  const int64_t units = args.integer("units", std::nullopt);
  const int64_t in = x.back();
  LayerEffect effect;
  effect.output_shape = x;
  effect.output_shape.back() = units;
  const int64_t weights = checked_mul(in, units, "Dense weights ", in, " x ", units, " overflow int64");
  effect.params = weights + (args.boolean("use_bias", true) ? units : 0);
  effect.macs_per_sample = checked_mul(product(x, 0, x.size() - 1), weights, "the Dense MAC count overflows int64");
  return effect;
}

// ZeroPadding1D/2D/3D `padding`: an int (both sides of every axis), a list of one int per axis (both
// sides of it), or a list of (begin, end) pairs per axis; 1D takes an int or one (begin, end) pair.
// Defaults: 1 on both sides of every axis.
LayerEffect zero_padding(const Arguments& args, const std::vector<Shape>& inputs) {
  args.check_data_format();
  const Shape& x = inputs.front();
  const auto rank = static_cast<size_t>(args.rank());
  std::vector<int64_t> begin(rank, 1), end(rank, 1);
  if (args.has("padding")) {
    const Json& value = args.at("padding");
    const auto pair = [&](const Json& item, size_t a) {
      if (!item.is_array() || item.size() != 2) fail("padding=", shown(value), " must hold pairs (begin, end)");
      begin[a] = size_value(item[0], "padding", 0);
      end[a] = size_value(item[1], "padding", 0);
    };
    if (value.is_number_integer()) {
      std::fill(begin.begin(), begin.end(), size_value(value, "padding", 0));
      end = begin;
    } else if (rank == 1 && value.is_array() && value.size() == 2 && value[0].is_number_integer()) {
      pair(value, 0);
    } else if (value.is_array() && value.size() == rank) {
      for (size_t a = 0; a < rank; ++a) {
        if (value[a].is_number_integer()) {
          begin[a] = end[a] = size_value(value[a], "padding", 0);
        } else {
          pair(value[a], a);
        }
      }
    } else {
      fail("padding=", shown(value), " must be an integer, ", rank, " integers or ", rank, " (begin, end) pairs");
    }
  }
  LayerEffect effect;
  for (size_t a = 0; a < rank; ++a) effect.output_shape.push_back(x[a] + begin[a] + end[a]);
  effect.output_shape.push_back(x.back());
  return effect;
}

// UpSampling1D/2D/3D: every cell repeated `size` times along each axis (default 2). Nearest
// neighbour: an output cell sees one input cell; bilinear (2D): two per axis.
LayerEffect upsampling(const Arguments& args, const std::vector<Shape>& inputs) {
  args.check_data_format();
  const Shape& x = inputs.front();
  const std::vector<int64_t> size = args.tuple("size", 2);
  std::string interpolation = "nearest";
  if (args.has("interpolation")) {
    if (!args.at("interpolation").is_string()) fail("interpolation=", shown(args.at("interpolation")), " must be a string");
    interpolation = args.at("interpolation").get<std::string>();
  }
  LayerEffect effect;
  for (size_t a = 0; a < size.size(); ++a) {
    effect.output_shape.push_back(checked_mul(x[a], size[a], "the upsampled size overflows int64"));
    effect.window.push_back(interpolation == "nearest" ? 1.0 : 2.0);
    effect.stride.push_back(1.0 / static_cast<double>(size[a]));
  }
  effect.output_shape.push_back(x.back());
  effect.cells = LayerEffect::Cells::window;
  return effect;
}

// Reshape(target_shape): the same number of values; one size may be -1 (inferred), as in Keras.
LayerEffect reshape(const Arguments& args, const std::vector<Shape>& inputs) {
  const Shape& x = inputs.front();
  if (!args.has("target_shape") || !args.at("target_shape").is_array() || args.at("target_shape").empty())
    fail("target_shape must be a list of sizes");
  const Json& value = args.at("target_shape");
  const int64_t total = product(x, 0, x.size());
  Shape target;
  int64_t known = 1;
  size_t unknown = value.size();
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] == -1 && unknown == value.size()) {
      unknown = i;
      target.push_back(1);
      continue;
    }
    target.push_back(size_value(value[i], "target_shape", 1));
    known = checked_mul(known, target.back(), "target_shape overflows int64");
  }
  if (unknown != value.size() && total % known == 0) target[unknown] = total / known;
  if (product(target, 0, target.size()) != total)
    fail("target_shape=", shown(value), " does not hold the ", total, " values of an input of shape ", x);
  LayerEffect effect;
  effect.output_shape = target;
  effect.cells = LayerEffect::Cells::global;
  return effect;
}

std::string shapes_text(const std::vector<Shape>& inputs) {
  std::string text;
  for (const Shape& shape : inputs) text += (text.empty() ? "" : ", ") + to_string(shape);
  return text;
}

// Add, Subtract, Multiply, Average, Maximum, Minimum: element-wise over inputs of one shape.
LayerEffect elementwise(const Arguments&, const std::vector<Shape>& inputs) {
  for (const Shape& shape : inputs)
    if (shape != inputs.front()) fail("inputs of shapes ", shapes_text(inputs), " must all have the same shape");
  LayerEffect effect;
  effect.output_shape = inputs.front();
  return effect;
}

// Concatenate(axis=-1): shapes equal except on `axis` (counting the batch as axis 0), which adds up.
LayerEffect concatenate(const Arguments& args, const std::vector<Shape>& inputs) {
  const auto batched_rank = static_cast<int64_t>(inputs.front().size()) + 1;
  int64_t axis = -1;
  if (args.has("axis")) {
    if (!args.at("axis").is_number_integer()) fail("axis=", shown(args.at("axis")), " must be an integer");
    axis = args.at("axis").get<int64_t>();
  }
  const int64_t resolved = axis < 0 ? axis + batched_rank : axis;
  if (resolved < 1 || resolved >= batched_rank)
    fail("axis=", axis, " is not a feature axis of inputs of shapes ", shapes_text(inputs));
  const auto joined_axis = static_cast<size_t>(resolved - 1);
  LayerEffect effect;
  effect.output_shape = inputs.front();
  effect.output_shape[joined_axis] = 0;
  for (const Shape& shape : inputs) {
    Shape other = shape, first = inputs.front();
    if (other.size() == first.size()) other[joined_axis] = first[joined_axis] = 0;
    if (other != first)
      fail("inputs of shapes ", shapes_text(inputs), " must have the same shape except on axis ", axis);
    effect.output_shape[joined_axis] += shape[joined_axis];
  }
  return effect;
}

const std::vector<KerasLayerType>& layer_types() {
  static const std::vector<std::string_view> pool_args{"pool_size", "strides", "padding", "data_format"};
  static const std::vector<std::string_view> global_args{"data_format", "keepdims"};
  static const std::vector<std::string_view> initialised{
      "units", "activation", "use_bias", "kernel_initializer", "bias_initializer",
      "kernel_regularizer", "bias_regularizer", "activity_regularizer", "kernel_constraint", "bias_constraint"};
  static const std::vector<KerasLayerType> types = [] {
    std::vector<KerasLayerType> t;
    // The 1D, 2D and 3D versions of a layer.
    const auto ranked = [&](const char* const names[3], const std::vector<std::string_view>& args,
                            LayerEffect (*effect)(const Arguments&, const std::vector<Shape>&)) {
      for (int rank = 1; rank <= 3; ++rank) t.push_back({names[rank - 1], rank, false, args, effect});
    };
    static const char* const max_pool[] = {"MaxPooling1D", "MaxPooling2D", "MaxPooling3D"};
    static const char* const avg_pool[] = {"AveragePooling1D", "AveragePooling2D", "AveragePooling3D"};
    static const char* const global_max[] = {"GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D"};
    static const char* const global_avg[] = {"GlobalAveragePooling1D", "GlobalAveragePooling2D",
                                             "GlobalAveragePooling3D"};
    static const char* const zero_pad[] = {"ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"};
    static const char* const upsample[] = {"UpSampling1D", "UpSampling2D", "UpSampling3D"};
    static const char* const spatial_dropout[] = {"SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"};
    ranked(max_pool, pool_args, pooling);
    ranked(avg_pool, pool_args, pooling);
    ranked(global_max, global_args, global_pooling);
    ranked(global_avg, global_args, global_pooling);
    ranked(zero_pad, {"padding", "data_format"}, zero_padding);
    ranked(upsample, {"size", "data_format", "interpolation"}, upsampling);
    ranked(spatial_dropout, {"rate", "seed", "data_format"}, same_shape);
    t.push_back({"BatchNormalization", 0, false,
                 {"axis", "momentum", "epsilon", "center", "scale", "beta_initializer",
                  "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer", "beta_regularizer",
                  "gamma_regularizer", "beta_constraint", "gamma_constraint", "synchronized", "renorm", "fused"},
                 batch_normalization});
    t.push_back({"Activation", 0, false, {"activation"}, same_shape});
    t.push_back({"ReLU", 0, false, {"max_value", "negative_slope", "threshold"}, same_shape});
    t.push_back({"LeakyReLU", 0, false, {"negative_slope", "alpha"}, same_shape});
    t.push_back({"Softmax", 0, false, {"axis"}, same_shape});
    t.push_back({"Dropout", 0, false, {"rate", "noise_shape", "seed"}, same_shape});
    t.push_back({"Flatten", 0, false, {"data_format"}, flatten});
    t.push_back({"Dense", 0, false, initialised, dense});
    t.push_back({"Reshape", 0, false, {"target_shape"}, reshape});
    for (std::string_view merge : {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"})
      t.push_back({merge, 0, true, {}, elementwise});
    t.push_back({"Concatenate", 0, true, {"axis"}, concatenate});
    return t;
  }();
  return types;
}

}  // namespace

const KerasLayerType* find_keras_layer(std::string_view type) {
  for (const KerasLayerType& known : layer_types())
    if (known.type == type) return &known;
  return nullptr;
}

std::vector<std::string_view> keras_layer_names() {
  std::vector<std::string_view> names;
  for (const KerasLayerType& known : layer_types()) names.push_back(known.type);
  return names;
}

}  // namespace convkit::model_io
