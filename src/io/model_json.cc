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
#include "convkit/model_json.h"

namespace convkit {
namespace {

using Json = nlohmann::json;

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
// because they change neither shapes nor costs (activation, initializers, regularizers, constraints).
struct FamilyArguments {
  std::vector<std::string_view> read;
  std::vector<std::string_view> ignored;
};

const FamilyArguments& arguments_of(Family family) {
  static const std::vector<std::string_view> common_ignored{"activation", "activity_regularizer", "trainable", "dtype"};
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
      {Family::shuffle, {{"groups"}, {"trainable", "dtype"}}},
  };
  return table.at(family);
}

// A JSON value for a message: compact, escaped (so a message stays one line), and cut when long.
// Nested lists and objects show as [...] / {...}, which also keeps dump()'s recursion shallow.
std::string shown(const Json& value) {
  const auto structured = [](const Json& item) { return item.is_structured(); };
  const bool flat = !value.is_structured() || std::none_of(value.begin(), value.end(), structured);
  std::string text = flat ? value.dump() : value.is_array() ? "[...]" : "{...}";
  return text.size() <= 60 ? text : text.substr(0, 57) + "...";
}

std::string joined(const std::vector<std::string_view>& names) {
  std::string text;
  for (std::string_view name : names) text += (text.empty() ? "" : ", ") + std::string(name);
  return text;
}

// An integer in [min, kMaxModelSize]; anything else is an Error naming `what`.
int64_t size_value(const Json& value, const std::string& what, int64_t min) {
  if (!value.is_number_integer()) fail(what, "=", shown(value), " must be an integer");
  if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(kMaxModelSize))
    fail(what, "=", shown(value), " exceeds the largest size convkit accepts (", kMaxModelSize, ")");
  const auto number = value.get<int64_t>();
  if (number < min) fail(what, "=", number, " must be ", min == 0 ? ">= 0" : "a positive integer (> 0)");
  if (number > kMaxModelSize)
    fail(what, "=", number, " exceeds the largest size convkit accepts (", kMaxModelSize, ")");
  return number;
}

// One layer's JSON object: typed access to its arguments with Keras's defaults and checks.
class Arguments {
 public:
  Arguments(const Json& object, int rank) : object_(object), rank_(rank) {}

  bool has(const char* key) const { return object_.contains(key) && !object_.at(key).is_null(); }

  // filters, groups, depth_multiplier: a positive integer.
  int64_t integer(const char* key, std::optional<int64_t> fallback) const {
    if (!has(key)) return required(key, fallback);
    return size_value(object_.at(key), key, 1);
  }

  // keras.src.utils.argument_validation.standardize_tuple: an int (every axis) or a list of exactly
  // `rank` ints, each > 0 (>= 0 with allow_zero).
  std::vector<int64_t> tuple(const char* key, std::optional<int64_t> fallback, bool allow_zero = false) const {
    if (!has(key)) return std::vector<int64_t>(static_cast<size_t>(rank_), required(key, fallback));
    const Json& value = object_.at(key);
    const int64_t min = allow_zero ? 0 : 1;
    if (value.is_number_integer()) return std::vector<int64_t>(static_cast<size_t>(rank_), size_value(value, key, min));
    if (!value.is_array() || value.size() != static_cast<size_t>(rank_))
      fail(key, "=", shown(value), " must be an integer or a list of ", rank_, " integers");
    std::vector<int64_t> values;
    try {
      for (const Json& item : value) values.push_back(size_value(item, key, min));
    } catch (const Error& e) {
      fail(key, "=", shown(value), ": ", e.what());
    }
    return values;
  }

  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!object_.at(key).is_boolean()) fail(key, "=", shown(object_.at(key)), " must be true or false");
    return object_.at(key).get<bool>();
  }

  // keras.src.utils.argument_validation.standardize_padding: "valid" or "same" (case-insensitive),
  // plus "causal" for Conv1D.
  std::string padding(bool allow_causal) const {
    if (!has("padding")) return "valid";
    const Json& value = object_.at("padding");
    std::string text = value.is_string() ? value.get<std::string>() : "";
    for (char& c : text) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    if (text == "valid" || text == "same" || (allow_causal && text == "causal")) return text;
    fail("padding=", shown(value), " is not recognised; expected \"valid\" or \"same\"",
         allow_causal ? " or \"causal\"" : "");
  }

 private:
  int64_t required(const char* key, std::optional<int64_t> fallback) const {
    if (!fallback) fail("argument '", key, "' is required");
    return *fallback;
  }

  const Json& object_;
  int rank_;
};

// data_format: Keras's default (image_data_format() = "channels_last") is the only one a model file
// can use, since its input_shape is channels-last.
void check_data_format(const Json& object) {
  if (!object.contains("data_format") || object.at("data_format").is_null()) return;
  const Json& value = object.at("data_format");
  if (value != "channels_last")
    fail("data_format=", shown(value),
         " is not supported; a convkit model is channels_last (input_shape ends with "
         "the channels)");
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
  check_data_format(object);
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

const LayerType& find_type(const Json& value) {
  if (!value.is_string()) fail("\"type\" must be a string naming the layer type, got ", shown(value));
  const std::string type = value.get<std::string>();
  for (const LayerType& known : kLayerTypes)
    if (known.type == type) return known;
  std::vector<std::string_view> names;
  for (const LayerType& known : kLayerTypes) names.push_back(known.type);
  fail("unknown layer type ", shown(value), "; expected one of ", joined(names));
}

void check_argument_names(const LayerType& type, const Json& object) {
  const FamilyArguments& arguments = arguments_of(type.family);
  for (const auto& item : object.items()) {
    const std::string& key = item.key();
    const auto known = [&](const std::vector<std::string_view>& names) {
      return std::find(names.begin(), names.end(), key) != names.end();
    };
    if (key != "type" && key != "name" && !known(arguments.read) && !known(arguments.ignored))
      fail("unknown argument ", Json(key).dump(), "; ", type.type, " takes ", joined(arguments.read), ", name");
  }
}

// Keras names a layer after its type (naming.auto_name: to_snake_case, then uniquify: "conv2d",
// "conv2d_1", ...) unless given one; names must be unique within a model, as in a Keras model.
class LayerNames {
 public:
  std::string next(const LayerType& type, const Json& object) {
    std::string name;
    if (object.contains("name") && !object.at("name").is_null()) {
      const Json& value = object.at("name");
      if (!value.is_string() || value.get<std::string>().empty())
        fail("name=", shown(value), " must be a non-empty string");
      name = value.get<std::string>();
    } else {
      const std::string prefix = keras_snake_case(type.type);
      const int count = uids_[prefix]++;
      name = count == 0 ? prefix : prefix + "_" + std::to_string(count);
    }
    if (!used_.insert(name).second) fail("name ", Json(name).dump(), " is already used by another layer");
    return name;
  }

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

void append_json_layer(Model& model, LayerNames& names, const Json& object, size_t index) {
  std::ostringstream context;
  context << "layers[" << index << "]";
  try {
    if (!object.is_object()) fail("must be an object with a \"type\", got ", shown(object));
    if (!object.contains("type")) fail("has no \"type\"");
    const LayerType& type = find_type(object.at("type"));
    context << " (" << type.type << ")";
    const std::string name = names.next(type, object);
    context.str("");
    context << "layers[" << index << "] " << Json(name).dump() << " (" << type.type << ")";
    check_argument_names(type, object);
    if (type.rank != 0 && type.rank != model.spatial_rank())
      fail("a ", type.rank, "D layer expects an input of ", type.rank + 1,
           " dimensions (spatial axes, then "
           "channels), got ",
           model.output_shape());
    Composite stages = build_layer(type, object, model.spatial_rank(), model.output_shape().back());
    append_layer(model, name, std::string(type.type), std::move(stages));
  } catch (const Error& e) {
    fail(context.str(), ": ", e.what());
  }
}

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
    for (const auto& [key, value] : root.items())
      if (key != "name" && key != "input_shape" && key != "layers")
        fail("unknown key ", Json(key).dump(), "; a model has \"name\", \"input_shape\" and \"layers\"");
    Model model;
    model.layout = Layout::channels_last;
    if (root.contains("name")) {
      if (!root.at("name").is_string()) fail("name=", shown(root.at("name")), " must be a string");
      model.name = root.at("name").get<std::string>();
    }
    model.input_shape = read_input_shape(root);
    if (!root.contains("layers") || !root.at("layers").is_array()) fail("\"layers\" must be a list of layer objects");
    LayerNames names;
    const Json& layers = root.at("layers");
    for (size_t i = 0; i < layers.size(); ++i) append_json_layer(model, names, layers[i], i);
    return model;
  } catch (const Error& e) {
    fail(source, ": ", e.what());
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
