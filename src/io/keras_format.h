// Keras's own model.to_json() (Keras 2 and 3, Sequential and Functional) rewritten in convkit's MODEL.json
// form, so that one reader handles both.
#pragma once

#include "layer_arguments.h"

namespace convkit::model_io {

// A Keras model JSON has "class_name" and "config" at the top.
bool is_keras_model(const Json& root);

// {"name", "input_shape" (from the InputLayer's batch shape, without the batch), "input_name",
//  "layers": [{"type": class_name, ...config, "name", "inputs": [names]}]}. Throws convkit::Error for what
// convkit cannot summarise (several inputs, a layer called more than once, unknown sizes).
Json from_keras_model(const Json& root);

}  // namespace convkit::model_io
