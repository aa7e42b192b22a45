// Reading a model description (the Keras-style MODEL.json of `convkit summary`) into a Model (model.h).
#pragma once

#include <string>
#include <string_view>

#include "convkit/model.h"

namespace convkit {

// Reads a MODEL.json text; `source` names it in error messages. Every error names the layer (index,
// name, type) and the argument.
Model parse_model(std::string_view json_text, std::string_view source = "model");
// parse_model on the contents of a file.
Model read_model(const std::string& path);

// The rows `convkit summary MODEL.json --json` prints and Python's convkit.summary returns:
// {"layers": [{"name", "type", "inputs" (layer names; "input" is the model input), "input_shape",
// "output_shape", "params", "non_trainable_params", "macs"}], "total": {"params", "trainable_params",
// "non_trainable_params", "macs"}}.
std::string summary_json(const Model& model);

}  // namespace convkit
