#include "summary_plot.h"

#include <cstdio>

#include "convkit/cost.h"
#include "draw/bar_chart.h"
#include "draw/model_diagram.h"
#include "draw/scene.h"

namespace convkit::cli {

void write_model_plot(const Model& model, const std::string& title, const std::string& path) {
  draw::write(draw::model_figure(model, title), path);
}

void write_compare_plot(const std::string& layer_text, const std::vector<std::pair<std::string, Model>>& versions,
                        const std::string& path) {
  std::vector<draw::Bar> bars;
  const int64_t standard = versions.front().second.total_macs();
  for (const auto& [label, model] : versions) {
    Shape input{model.batch};
    input.insert(input.end(), model.input_shape.begin(), model.input_shape.end());
    const Composite& stages = model.layers.front().stages;
    const CompositeCost cost = composite_cost(stages, input);
    draw::Bar bar{label, {}, {}};
    for (size_t s = 0; s < stages.stages.size(); ++s)
      if (!stages.stages[s].is_shuffle()) bar.segments.push_back({stages.stages[s].name, cost.stages[s].macs});
    if (model.total_macs() != standard && model.total_macs() > 0) {
      char note[48];
      std::snprintf(note, sizeof note, "(%.1fx fewer)", static_cast<double>(standard) / static_cast<double>(model.total_macs()));
      bar.note = note;
    }
    bars.push_back(std::move(bar));
  }
  draw::write(draw::bar_figure("Multiplications: standard vs separable", layer_text, bars,
                               "multiply-accumulates (MACs) per forward pass"),
              path);
}

}  // namespace convkit::cli
