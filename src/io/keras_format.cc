// Keras's model JSON (keras/src/models/functional.py get_config, Sequential.get_config; Keras 2's
// keras/engine/functional.py): {"class_name": "Functional" | "Sequential" | "Model", "config": {"name",
// "layers": [{"class_name", "config": {...}, "name", "inbound_nodes"}], "input_layers", "output_layers"}}.
// A layer's inbound_nodes are, per call, the tensors it read:
//   Keras 2: [[["conv1", 0, 0, {}], ["conv2", 0, 0, {}]]]
//   Keras 3: [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["conv1", 0, 0]}}],
//              "kwargs": {}}]   (a merge's tensors are a list inside args)
// Sequential models have no inbound_nodes: each layer reads the one before.
#include "keras_format.h"

#include <string>
#include <vector>

#include "convkit/error.h"

namespace convkit::model_io {
namespace {

// Keras 3: every tensor's producing layer (keras_history[0]) in a node's args, depth first. Keras nests
// them at most as args -> list of a merge's tensors -> tensor; deeper is not a Keras file.
void collect_keras3_tensors(const Json& value, std::vector<std::string>& names, int depth = 0) {
  if (depth > 4) fail("inbound node arguments nested deeper than Keras writes them");
  if (value.is_object() && value.contains("class_name") && value.at("class_name") == "__keras_tensor__") {
    const Json* history = nullptr;
    if (value.contains("config") && value.at("config").is_object() && value.at("config").contains("keras_history"))
      history = &value.at("config").at("keras_history");
    if (history == nullptr || !history->is_array() || history->empty() || !(*history)[0].is_string())
      fail("a __keras_tensor__ needs config.keras_history starting with the producing layer's name, got ",
           shown(value));
    names.push_back((*history)[0].get<std::string>());
    return;
  }
  if (value.is_structured())
    for (const Json& item : value) collect_keras3_tensors(item, names, depth + 1);
}

std::vector<std::string> inbound_names(const Json& layer) {
  std::vector<std::string> names;
  if (!layer.contains("inbound_nodes") || layer.at("inbound_nodes").empty()) return names;
  const Json& nodes = layer.at("inbound_nodes");
  if (!nodes.is_array()) fail("inbound_nodes=", shown(nodes), " must be a list");
  if (nodes.size() > 1) fail("the layer is called ", nodes.size(), " times (shared); convkit summarises each call once");
  const Json& node = nodes[0];
  if (node.is_object()) {  // Keras 3
    if (node.contains("args")) collect_keras3_tensors(node.at("args"), names);
  } else if (node.is_array()) {  // Keras 2: [name, node index, tensor index, kwargs] per tensor
    for (const Json& tensor : node) {
      if (!tensor.is_array() || tensor.empty() || !tensor[0].is_string())
        fail("inbound node ", shown(tensor), " must start with the producing layer's name");
      names.push_back(tensor[0].get<std::string>());
    }
  } else {
    fail("inbound node ", shown(node), " is neither Keras 2's list nor Keras 3's {\"args\", \"kwargs\"}");
  }
  return names;
}

// The InputLayer's shape without the batch: Keras 3 "batch_shape", Keras 2 "batch_input_shape".
Json input_shape_of(const Json& config, const std::string& layer) {
  for (const char* key : {"batch_shape", "batch_input_shape"}) {
    if (!config.contains(key)) continue;
    const Json& shape = config.at(key);
    if (!shape.is_array() || shape.size() < 2) fail(layer, ": ", key, "=", shown(shape), " must be (batch, sizes...)");
    return Json(shape.begin() + 1, shape.end());
  }
  fail(layer, ": no batch_shape or batch_input_shape to read the input shape from");
}

}  // namespace

bool is_keras_model(const Json& root) { return root.is_object() && root.contains("class_name") && root.contains("config"); }

Json from_keras_model(const Json& root) {
  const Json& config = root.at("config");
  // Keras before 2.2.3 wrote a Sequential model's config as the bare list of layers.
  const Json& layers = config.is_array() ? config : config.contains("layers") ? config.at("layers") : Json();
  if (!layers.is_array()) fail("a Keras model's config must hold \"layers\", a list");
  Json model{{"layers", Json::array()}};
  if (config.is_object() && config.contains("name") && config.at("name").is_string()) model["name"] = config.at("name");
  for (size_t i = 0; i < layers.size(); ++i) {
    const Json& layer = layers[i];
    const std::string where = "config.layers[" + std::to_string(i) + "]";
    if (!layer.is_object() || !layer.contains("class_name") || !layer.at("class_name").is_string() ||
        !layer.contains("config") || !layer.at("config").is_object())
      fail(where, " must be an object with \"class_name\" and \"config\", got ", shown(layer));
    Json converted = layer.at("config");
    const std::string type = layer.at("class_name").get<std::string>();
    if (layer.contains("name")) converted["name"] = layer.at("name");
    if (type == "InputLayer") {
      if (model.contains("input_shape")) fail(where, ": a second InputLayer; convkit summarises models of one input");
      model["input_shape"] = input_shape_of(converted, where);
      if (converted.contains("name")) model["input_name"] = converted.at("name");
      continue;
    }
    // Keras 2's Sequential without an InputLayer: the first layer carries the input shape.
    if (converted.contains("batch_input_shape")) {
      if (!model.contains("input_shape")) model["input_shape"] = input_shape_of(converted, where);
      converted.erase("batch_input_shape");
    }
    try {
      const std::vector<std::string> inputs = inbound_names(layer);
      if (!inputs.empty()) converted["inputs"] = inputs;
    } catch (const Error& e) {
      fail(where, " (", type, "): ", e.what());
    }
    converted["type"] = type;
    model["layers"].push_back(std::move(converted));
  }
  if (!model.contains("input_shape")) fail("the Keras model has no InputLayer (or batch_input_shape) giving its input shape");
  return model;
}

}  // namespace convkit::model_io
