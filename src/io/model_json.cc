// The MODEL.json reader: Keras's layer types, argument names, defaults and checks (keras/src/layers/
// convolutional/base_conv.py, base_conv_transpose.py, base_depthwise_conv.py, base_separable_conv.py),
// turned into convkit stages and appended to a Model (model.cc does shapes and costs).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "convkit/error.h"
#include "convkit/model.h"
#include "convkit/model_json.h"
#include "keras_format.h"
#include "keras_layers.h"
#include "layer_arguments.h"

namespace convkit {
namespace {

using model_io::Arguments;
using model_io::Json;
using model_io::joined;
using model_io::KerasLayerType;
using model_io::shown;
using model_io::size_value;

// How a layer type becomes stages: `grouped` layers take filters and groups like Conv2D and split by
// their type's builder; the others have arguments of their own.
enum class Family { grouped, transposed, depthwise, separable, shuffle };

struct LayerType {
  std::string_view type;
  int rank;  // 0: any rank
  Family family;
  Composite (*build)(const ConvSpec& layer) = nullptr;  // grouped layers only
};

Composite spatial_separable_layer(const ConvSpec& layer) { return spatial_separable(layer); }
Composite flattened_layer(const ConvSpec& layer) { return flattened(layer); }

constexpr LayerType kLayerTypes[] = {
    {"Conv1D", 1, Family::grouped, single_layer},
    {"Conv2D", 2, Family::grouped, single_layer},
    {"Conv3D", 3, Family::grouped, single_layer},
    {"Conv1DTranspose", 1, Family::transposed},
    {"Conv2DTranspose", 2, Family::transposed},
    {"Conv3DTranspose", 3, Family::transposed},
    {"DepthwiseConv1D", 1, Family::depthwise},
    {"DepthwiseConv2D", 2, Family::depthwise},
    {"SeparableConv1D", 1, Family::separable},
    {"SeparableConv2D", 2, Family::separable},
    {"SpatialSeparableConv2D", 2, Family::grouped, spatial_separable_layer},
    {"FlattenedConv2D", 2, Family::grouped, flattened_layer},
    {"ChannelShuffle", 0, Family::shuffle},
    {"ShuffleGroupedConv2D", 2, Family::grouped, shuffle_grouped_layer},
};

// The arguments each family reads (Keras's names), and the Keras arguments it accepts without reading
// because they change neither shapes nor costs (activation, initializers, regularizers, constraints;
// name, trainable and dtype are every layer's).
struct FamilyArguments {
  std::vector<std::string_view> read;
  std::vector<std::string_view> ignored;
};

const FamilyArguments& arguments_of(Family family) {
  static const std::vector<std::string_view> common_ignored{"activation", "activity_regularizer"};
  static const auto with = [](std::vector<std::string_view> names) {
    names.insert(names.end(), common_ignored.begin(), common_ignored.end());
    return names;
  };
  static const std::vector<std::string_view> kernel_ignored =
      with({"kernel_initializer", "bias_initializer", "kernel_regularizer", "bias_regularizer", "kernel_constraint",
            "bias_constraint"});
  static const std::vector<std::string_view> depthwise_ignored =
      with({"depthwise_initializer", "bias_initializer", "depthwise_regularizer", "bias_regularizer",
            "depthwise_constraint", "bias_constraint"});
  static const std::vector<std::string_view> separable_ignored = with(
      {"depthwise_initializer", "pointwise_initializer", "bias_initializer", "depthwise_regularizer",
       "pointwise_regularizer", "bias_regularizer", "depthwise_constraint", "pointwise_constraint", "bias_constraint"});
  static const std::map<Family, FamilyArguments> table{
      {Family::grouped,
       {{"filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "groups", "use_bias"},
        kernel_ignored}},
      {Family::transposed,
       {{"filters", "kernel_size", "strides", "padding", "output_padding", "data_format", "dilation_rate", "use_bias"},
        kernel_ignored}},
      {Family::depthwise,
       {{"kernel_size", "strides", "padding", "depth_multiplier", "data_format", "dilation_rate", "use_bias"},
        depthwise_ignored}},
      {Family::separable,
       {{"filters", "kernel_size", "strides", "padding", "depth_multiplier", "data_format", "dilation_rate",
         "use_bias"},
        separable_ignored}},
      {Family::shuffle, {{"groups"}, {}}},
  };
  return table.at(family);
}

// The convolution the layer describes, in channels_last, with Keras's argument defaults (strides=1,
// padding="valid", dilation_rate=1, groups=1, use_bias=True).
ConvSpec base_spec(const Arguments& args, int rank, int64_t in_channels, const std::string& padding) {
  ConvSpec spec;
  spec.rank = rank;
  spec.layout = Layout::channels_last;
  spec.in_channels = in_channels;
  spec.kernel = args.tuple("kernel_size", std::nullopt);
  spec.stride = args.tuple("strides", 1);
  spec.dilation = args.tuple("dilation_rate", 1);
  spec.bias = args.boolean("use_bias", true);
  // keras base_conv.py: "`strides > 1` not supported in conjunction with `dilation_rate > 1`".
  const auto above_one = [](const std::vector<int64_t>& v) { return *std::max_element(v.begin(), v.end()) > 1; };
  if (above_one(spec.stride) && above_one(spec.dilation))
    fail("strides=", spec.stride, " > 1 is not supported in conjunction with dilation_rate=", spec.dilation,
         " > 1 (as in Keras)");
  if (padding == "same") {
    spec.padding = Padding::same();  // TF 'SAME': out = ceil(in / stride)
  } else if (padding == "causal") {
    // keras Conv1D._compute_causal_padding: left_pad = dilation_rate * (kernel_size - 1), then 'valid'.
    spec.padding = Padding::explicit_pads({spec.dilation[0] * (spec.kernel[0] - 1)}, {0});
  } else {
    spec.padding = Padding::valid();
  }
  return spec;
}

// Conv*Transpose: Keras's output size (keras/src/backend/common/backend_utils.py
// _get_output_shape_given_tf_padding, with k' = (k - 1) * dilation + 1):
//   valid:                  out = (in - 1) * stride + k' + (output_padding or max(k', stride) - k')
//   same, no output_padding: out = in * stride
//   same with output_padding: out = (in - 1) * stride + k' % 2 + output_padding
// expressed as convkit pads and output_padding, which give the same sizes through
//   out = (in - 1) * stride - pad_begin - pad_end + k' + output_padding.
void set_transposed_padding(ConvSpec& spec, const Arguments& args, const std::string& padding) {
  const bool has_output_padding = args.has("output_padding");
  const std::vector<int64_t> output_padding =
      has_output_padding ? args.tuple("output_padding", 0, true) : std::vector<int64_t>{};
  // keras base_conv_transpose.py: "`output_padding` must be < `strides`".
  for (size_t a = 0; a < output_padding.size(); ++a)
    if (output_padding[a] >= spec.stride[a])
      fail("output_padding=", output_padding, " must be smaller than strides=", spec.stride, " on every axis");
  spec.transposed = true;
  if (padding == "same" && !has_output_padding) return;  // convkit's transposed 'same' gives in * stride
  std::vector<int64_t> pads(static_cast<size_t>(spec.rank), 0), extra(static_cast<size_t>(spec.rank), 0);
  for (size_t a = 0; a < pads.size(); ++a) {
    const int64_t dilated = (spec.kernel[a] - 1) * spec.dilation[a] + 1;
    if (padding == "same") {  // 2 * floor(k'/2) = k' - k' % 2
      pads[a] = dilated / 2;
      extra[a] = output_padding[a];
    } else {
      extra[a] = has_output_padding ? output_padding[a] : std::max(dilated, spec.stride[a]) - dilated;
    }
  }
  spec.padding = Padding::symmetric(pads);
  spec.output_padding = extra;
}

// The stages of one layer on an input of `in_channels` channels.
Composite build_layer(const LayerType& type, const Json& object, int rank, int64_t in_channels) {
  const Arguments args(object, rank);
  args.check_data_format();
  if (type.family == Family::shuffle)
    return {"channel_shuffle", {{"shuffle", {}, args.integer("groups", std::nullopt)}}};

  // Keras allows "causal" for Conv1D only (base_conv.py: allow_causal=rank == 1).
  const std::string padding = args.padding(type.family == Family::grouped && type.build == single_layer && rank == 1);
  ConvSpec spec = base_spec(args, rank, in_channels, padding);
  switch (type.family) {
    case Family::grouped: {
      spec.out_channels = args.integer("filters", std::nullopt);
      spec.groups = args.integer("groups", 1);
      // keras base_conv.py: "The number of filters must be evenly divisible by the number of groups".
      if (spec.out_channels % spec.groups != 0)
        fail("filters=", spec.out_channels, " is not divisible by groups=", spec.groups);
      return type.build(spec);
    }
    case Family::transposed:  // Keras's transposed layers have no groups
      spec.out_channels = args.integer("filters", std::nullopt);
      set_transposed_padding(spec, args, padding);
      return single_layer(spec);
    case Family::depthwise:  // groups = Cin, Cin * depth_multiplier outputs (channel c * m + j)
      spec.out_channels = in_channels * args.integer("depth_multiplier", 1);
      spec.groups = in_channels;
      return single_layer(spec);
    case Family::separable:  // depthwise (no bias), then pointwise 1x1 to `filters` with the bias
      spec.out_channels = args.integer("filters", std::nullopt);
      return depthwise_separable(spec, args.integer("depth_multiplier", 1));
    case Family::shuffle:
      break;  // handled above: no convolution
  }
  fail("layer family not handled");
}

// A layer type: a convolution (kLayerTypes) or another Keras layer (keras_layers.cc).
struct FoundType {
  std::string_view name;
  const LayerType* convolution = nullptr;
  const KerasLayerType* other = nullptr;
};

FoundType find_type(const Json& value) {
  if (!value.is_string()) fail("\"type\" must be a string naming the layer type, got ", shown(value));
  const std::string type = value.get<std::string>();
  for (const LayerType& known : kLayerTypes)
    if (known.type == type) return {known.type, &known, nullptr};
  if (const KerasLayerType* other = model_io::find_keras_layer(type)) return {other->type, nullptr, other};
  std::vector<std::string_view> names;
  for (const LayerType& known : kLayerTypes) names.push_back(known.type);
  for (std::string_view name : model_io::keras_layer_names()) names.push_back(name);
  fail("unknown layer type ", shown(value), "; expected one of ", joined(names));
}

// Every key is an argument the type takes; null values are Keras's "left at its default" and pass.
void check_argument_names(const FoundType& type, const Json& object) {
  static const std::vector<std::string_view> every_layer{"type", "name", "inputs", "trainable", "dtype"};
  std::vector<std::string_view> read, ignored;
  if (type.convolution) {
    read = arguments_of(type.convolution->family).read;
    ignored = arguments_of(type.convolution->family).ignored;
  } else {
    read = type.other->arguments;
  }
  for (const auto& item : object.items()) {
    const std::string& key = item.key();
    const auto known = [&](const std::vector<std::string_view>& names) {
      return std::find(names.begin(), names.end(), key) != names.end();
    };
    if (!item.value().is_null() && !known(every_layer) && !known(read) && !known(ignored))
      fail("unknown argument ", Json(key).dump(), "; ", type.name, " takes ", joined(read), ", name, inputs");
  }
}

// Keras names a layer after its type (naming.auto_name: to_snake_case, then uniquify: "conv2d",
// "conv2d_1", ...) unless given one; names must be unique within a model, as in a Keras model.
class LayerNames {
 public:
  std::string next(std::string_view type, const Json& object) {
    std::string name;
    if (object.contains("name") && !object.at("name").is_null()) {
      const Json& value = object.at("name");
      if (!value.is_string() || value.get<std::string>().empty())
        fail("name=", shown(value), " must be a non-empty string");
      name = value.get<std::string>();
    } else {
      const std::string prefix = keras_snake_case(type);
      const int count = uids_[prefix]++;
      name = count == 0 ? prefix : prefix + "_" + std::to_string(count);
    }
    if (!used_.insert(name).second) fail("name ", Json(name).dump(), " is already used by another layer");
    return name;
  }

  // A name no layer may take (the model input's).
  void reserve(const std::string& name) { used_.insert(name); }

 private:
  std::map<std::string, int> uids_;
  std::set<std::string> used_;
};

Shape read_input_shape(const Json& model) {
  if (!model.contains("input_shape")) fail("\"input_shape\" is required (channels-last, without the batch)");
  const Json& value = model.at("input_shape");
  if (!value.is_array() || value.size() < 2 || value.size() > 4)
    fail("input_shape=", shown(value),
         " must be a list of 2 to 4 sizes (1-3 spatial axes, then the channels; no "
         "batch)");
  Shape shape;
  for (const Json& item : value) {
    if (item.is_null())
      fail("input_shape=", shown(value), " has an unknown size (null); every size is needed to count MACs");
    shape.push_back(size_value(item, "input_shape", 1));
  }
  return shape;
}

// The tensors a layer reads: its "inputs" (names of earlier layers, or the model input's name), by
// default the previous layer's output.
std::vector<TensorIndex> input_tensors(const Model& model, const std::map<std::string, TensorIndex>& tensors,
                                       const Json& object) {
  if (!object.contains("inputs") || object.at("inputs").is_null()) return {model.last_tensor()};
  const Json& value = object.at("inputs");
  if (!value.is_array() || value.empty())
    fail("inputs=", shown(value), " must be a non-empty list of earlier layers' names");
  std::vector<TensorIndex> inputs;
  for (const Json& item : value) {
    const auto found = item.is_string() ? tensors.find(item.get<std::string>()) : tensors.end();
    if (found == tensors.end())
      fail("inputs=", shown(value), ": ", shown(item), " is not the model input (", Json(model.input_name).dump(),
           ") or an earlier layer's name");
    inputs.push_back(found->second);
  }
  return inputs;
}

// Reads layers in order: each one's names are known to the layers after it.
class LayerReader {
 public:
  explicit LayerReader(Model& model) : model_(model) {
    tensors_[model.input_name] = 0;
    names_.reserve(model.input_name);
  }

  void append(const Json& object, size_t index) {
    std::ostringstream context;
    context << "layers[" << index << "]";
    try {
      if (!object.is_object()) fail("must be an object with a \"type\", got ", shown(object));
      if (!object.contains("type")) fail("has no \"type\"");
      const FoundType type = find_type(object.at("type"));
      context << " (" << type.name << ")";
      const std::string name = names_.next(type.name, object);
      context.str("");
      context << "layers[" << index << "] " << Json(name).dump() << " (" << type.name << ")";
      check_argument_names(type, object);
      std::vector<TensorIndex> inputs = input_tensors(model_, tensors_, object);
      const bool trainable = Arguments(object, 0).boolean("trainable", true);
      const bool merge = type.other && type.other->merge;
      if (merge && inputs.size() < 2) fail("a merge layer needs two or more inputs, got ", inputs.size());
      if (!merge && inputs.size() != 1)
        fail("reads one input, got ", inputs.size(), " (inputs=", shown(object.at("inputs")), ")");
      const Shape& input = model_.tensor_shape(inputs.front());
      const int rank = type.convolution ? type.convolution->rank : type.other->rank;
      if (rank != 0 && static_cast<size_t>(rank) + 1 != input.size())
        fail("a ", rank, "D layer expects an input of ", rank + 1, " dimensions (spatial axes, then channels), got ",
             input);
      const auto input_rank = static_cast<int>(input.size()) - 1;
      if (type.convolution) {
        if (input_rank < 1) fail("a convolution needs spatial axes, got an input of shape ", input);
        Composite stages = build_layer(*type.convolution, object, input_rank, input.back());
        append_layer(model_, name, std::string(type.name), std::move(inputs), std::move(stages), trainable);
      } else {
        std::vector<Shape> shapes;
        for (TensorIndex tensor : inputs) shapes.push_back(model_.tensor_shape(tensor));
        const LayerEffect effect = type.other->effect(Arguments(object, input_rank), shapes);
        append_layer(model_, name, std::string(type.name), std::move(inputs), effect, trainable);
      }
      tensors_[name] = model_.last_tensor();
    } catch (const Error& e) {
      fail(context.str(), ": ", e.what());
    }
  }

 private:
  Model& model_;
  LayerNames names_;
  std::map<std::string, TensorIndex> tensors_;
};

}  // namespace

Model parse_model(std::string_view json_text, std::string_view source) {
  try {
    Json root;
    try {
      root = Json::parse(json_text.begin(), json_text.end());
    } catch (const Json::exception& e) {
      fail("invalid JSON: ", e.what());
    }
    if (!root.is_object()) fail("a model must be a JSON object with \"input_shape\" and \"layers\", got ", shown(root));
    if (model_io::is_keras_model(root)) root = model_io::from_keras_model(root);
    for (const auto& [key, value] : root.items())
      if (key != "name" && key != "input_shape" && key != "input_name" && key != "layers")
        fail("unknown key ", Json(key).dump(), "; a model has \"name\", \"input_shape\", \"input_name\" and \"layers\"");
    Model model;
    model.layout = Layout::channels_last;
    if (root.contains("name")) {
      if (!root.at("name").is_string()) fail("name=", shown(root.at("name")), " must be a string");
      model.name = root.at("name").get<std::string>();
    }
    if (root.contains("input_name")) {
      if (!root.at("input_name").is_string()) fail("input_name=", shown(root.at("input_name")), " must be a string");
      model.input_name = root.at("input_name").get<std::string>();
    }
    model.input_shape = read_input_shape(root);
    if (!root.contains("layers") || !root.at("layers").is_array()) fail("\"layers\" must be a list of layer objects");
    LayerReader reader(model);
    const Json& layers = root.at("layers");
    for (size_t i = 0; i < layers.size(); ++i) reader.append(layers[i], i);
    return model;
  } catch (const Error& e) {
    fail(source, ": ", e.what());
  } catch (const Json::exception& e) {  // a value of a type no check above expected
    fail(source, ": unexpected JSON value: ", e.what());
  }
}

Model read_model(const std::string& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) fail(path, ": cannot read: it is a directory");
  std::ifstream file(path, std::ios::binary);
  if (!file) fail(path, ": cannot open for reading: ", std::generic_category().message(errno));
  std::ostringstream text;
  text << file.rdbuf();
  if (file.bad()) fail(path, ": cannot read: ", std::generic_category().message(errno));
  return parse_model(text.str(), path);
}

}  // namespace convkit

namespace convkit {

std::string summary_json(const Model& model) {
  using OrderedJson = nlohmann::ordered_json;
  const auto tensor_name = [&](TensorIndex tensor) {
    return tensor == 0 ? model.input_name : model.layers.at(tensor - 1).name;
  };
  OrderedJson layers = OrderedJson::array();
  for (const ModelLayer& layer : model.layers) {
    OrderedJson inputs = OrderedJson::array();
    for (TensorIndex tensor : layer.inputs) inputs.push_back(tensor_name(tensor));
    layers.push_back({{"name", layer.name},
                      {"type", layer.type},
                      {"inputs", inputs},
                      {"input_shape", layer.input_shape},
                      {"output_shape", layer.output_shape},
                      {"params", layer.params},
                      {"non_trainable_params", layer.non_trainable_params},
                      {"macs", layer.macs}});
  }
  const OrderedJson summary{{"layers", layers},
                            {"total",
                             {{"params", model.total_params()},
                              {"trainable_params", model.total_trainable_params()},
                              {"non_trainable_params", model.total_non_trainable_params()},
                              {"macs", model.total_macs()}}}};
  return summary.dump(2);
}

}  // namespace convkit
