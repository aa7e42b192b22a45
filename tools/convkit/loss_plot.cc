#include "loss_plot.h"

#include <algorithm>
#include <cmath>

#include "convkit/error.h"
#include "draw/chart.h"

namespace convkit::cli {

draw::Scene loss_figure(std::span<const double> values, const LossPlot& labels) {
  if (values.empty()) fail("plot: no loss values to plot for '", labels.title, "'");
  const bool log = std::all_of(values.begin(), values.end(), [](double v) { return v > 0.0 && std::isfinite(v); });
  draw::Series loss{.label = "training loss", .color = draw::palette(0)};
  for (size_t i = 0; i < values.size(); ++i) {
    loss.x.push_back(static_cast<double>(labels.first_index) + static_cast<double>(i));
    loss.y.push_back(values[i]);
  }
  draw::Chart chart{.title = log ? labels.y_label + " (log scale)" : labels.y_label,
                    .x = {.label = labels.x_label},
                    .y = {.label = labels.y_label, .log = log},
                    .series = {loss}};
  return draw::chart_figure(labels.title, {chart}, 720, 420);
}

}  // namespace convkit::cli
