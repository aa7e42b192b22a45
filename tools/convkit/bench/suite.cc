#include "suite.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "convkit/error.h"
#include "convkit/shape.h"

namespace convkit::cli {
namespace {

using nlohmann::json;

// Reads the fields of one JSON object; every message starts with `where` (file and layer).
class FieldReader {
 public:
  FieldReader(const json& object, std::string where) : object_(object), where_(std::move(where)) {}

  const std::string& where() const { return where_; }

  std::string text(const char* key, std::optional<std::string> fallback = std::nullopt) const {
    const json* value = find(key, fallback.has_value());
    if (!value) return *fallback;
    if (!value->is_string()) fail(where_, ": field \"", key, "\" must be a string, got ", value->dump());
    return value->get<std::string>();
  }

  int64_t integer(const char* key, std::optional<int64_t> fallback = std::nullopt) const {
    const json* value = find(key, fallback.has_value());
    if (!value) return *fallback;
    if (!value->is_number_integer()) fail(where_, ": field \"", key, "\" must be an integer, got ", value->dump());
    return value->get<int64_t>();
  }

  bool boolean(const char* key, bool fallback) const {
    const json* value = find(key, true);
    if (!value) return fallback;
    if (!value->is_boolean()) fail(where_, ": field \"", key, "\" must be true or false, got ", value->dump());
    return value->get<bool>();
  }

  // A list of `count` integers (any length when count is 0); when absent and `fallback` is given,
  // `count` copies of it.
  std::vector<int64_t> integers(const char* key, size_t count, std::optional<int64_t> fallback = std::nullopt) const {
    const json* value = find(key, fallback.has_value());
    if (!value) return std::vector<int64_t>(count, *fallback);
    const bool ok = value->is_array() && (count == 0 || value->size() == count) &&
                    std::all_of(value->begin(), value->end(), [](const json& v) { return v.is_number_integer(); });
    if (!ok)
      fail(where_, ": field \"", key, "\" must be a list of ", count ? std::to_string(count) + " " : std::string(),
           "integers", count ? " (see the suite's note for the order)" : "", ", got ", value->dump());
    return value->get<std::vector<int64_t>>();
  }

 private:
  const json* find(const char* key, bool optional) const {
    const auto it = object_.find(key);
    if (it != object_.end()) return &*it;
    if (!optional) fail(where_, ": the required field \"", key, "\" is missing");
    return nullptr;
  }

  const json& object_;
  std::string where_;
};

BenchLayer read_layer(const json& object, const std::string& where) {
  if (!object.is_object()) fail(where, ": expected an object with the layer's fields, got ", object.dump());
  const FieldReader fields(object, where);
  BenchLayer layer;
  layer.name = fields.text("name");
  const FieldReader named(object, where + " (\"" + layer.name + "\")");
  layer.source = named.text("source", "");
  layer.input = named.integers("input", 0);
  if (layer.input.size() < 3 || layer.input.size() > 5)
    fail(named.where(), ": field \"input\" ", layer.input, " has ", layer.input.size(),
         " axes; expected 3, 4 or 5: (N, C, spatial...) with 1-3 spatial axes, channels first");
  for (int64_t size : layer.input)
    if (size < 1) fail(named.where(), ": field \"input\" ", layer.input, " must have sizes >= 1");
  const auto rank = static_cast<size_t>(layer.rank());
  layer.out_channels = named.integer("out_channels");
  layer.kernel = named.integers("kernel", rank);
  layer.stride = named.integers("stride", rank, 1);
  layer.dilation = named.integers("dilation", rank, 1);
  layer.padding = named.integers("padding", 2 * rank, 0);
  layer.groups = named.integer("groups", 1);
  layer.transposed = named.boolean("transposed", false);
  layer.output_padding = named.integers("output_padding", rank, 0);
  layer.bias = named.boolean("bias", true);
  try {  // every shape rule at once: channels, groups, kernel vs padded input, output_padding, ...
    const ConvSpec spec = layer.spec(Layout::channels_first);
    resolve_geometry(spec, std::span(layer.input).subspan(2));
  } catch (const Error& e) {
    fail(named.where(), ": ", e.what());
  }
  return layer;
}

}  // namespace

ConvSpec BenchLayer::spec(Layout layout) const {
  ConvSpec spec;
  spec.rank = rank();
  spec.in_channels = input[1];
  spec.out_channels = out_channels;
  spec.kernel = kernel;
  spec.stride = stride;
  spec.dilation = dilation;
  spec.padding = Padding::onnx(padding);
  spec.groups = groups;
  spec.bias = bias;
  spec.transposed = transposed;
  spec.output_padding = output_padding;
  spec.layout = layout;
  return spec;
}

Shape BenchLayer::input_shape(Layout layout) const {
  return make_activation_shape(spec(layout), input[0], input[1], std::span(input).subspan(2));
}

BenchSuite parse_suite(const std::string& text, const std::string& origin) {
  const std::string where = "suite " + origin;
  json document;
  try {
    document = json::parse(text);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers beyond a double
    fail(where, ": not valid JSON: ", e.what());
  }
  if (!document.is_object()) fail(where, ": expected a JSON object with \"layers\", got ", document.type_name());
  const FieldReader top(document, where);
  if (const int64_t version = top.integer("version", 1); version != 1)
    fail(where, ": \"version\"=", version, " is not supported; expected 1");
  if (const std::string dtype = top.text("dtype", "float32"); dtype != "float32")
    fail(where, ": \"dtype\"=\"", dtype, "\" is not supported; expected \"float32\"");
  BenchSuite suite;
  suite.note = top.text("note", "");
  const auto layers = document.find("layers");
  if (layers == document.end() || !layers->is_array() || layers->empty())
    fail(where, ": expected \"layers\": a non-empty list of layers");
  std::set<std::string> names;
  for (size_t i = 0; i < layers->size(); ++i) {
    suite.layers.push_back(read_layer((*layers)[i], where + ": layer " + std::to_string(i)));
    if (!names.insert(suite.layers.back().name).second)
      fail(where, ": layer ", i, ": the name \"", suite.layers.back().name, "\" is used twice; names must be unique");
  }
  return suite;
}

BenchSuite read_suite(const std::string& path) {
  std::ifstream file(path);
  if (!file) fail("--suite: cannot open '", path, "'");
  std::ostringstream text;
  text << file.rdbuf();
  return parse_suite(text.str(), path);
}

}  // namespace convkit::cli
