// `convkit summary --plot FILE`: the model (or one layer) as boxes like Keras's plot_model; with
// --compare, the standard and separable versions of the layer as a bar chart of their MACs per stage.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "convkit/model.h"

namespace convkit::cli {

void write_model_plot(const Model& model, const std::string& title, const std::string& path);

// `versions`: (label, one-layer model) pairs, the standard version first.
void write_compare_plot(const std::string& layer_text, const std::vector<std::pair<std::string, Model>>& versions,
                        const std::string& path);

}  // namespace convkit::cli
