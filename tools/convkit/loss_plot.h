// The loss curve of a training run as a labelled chart (draw/chart.h): on a log axis with decade ticks
// when every value is positive (losses fall through decades), linear otherwise.
#pragma once

#include <span>
#include <string>

#include "draw/scene.h"

namespace convkit::cli {

struct LossPlot {
  std::string title;    // what was trained
  std::string x_label;  // "step" or "epoch"
  std::string y_label;  // the loss, e.g. "mean squared error"
  int first_index = 0;  // the x of values[0]
};

// The labels of `learn kernel`'s curve (also drawn by the demo).
inline const LossPlot kKernelRecoveryPlot{"Kernel recovery (seed 002): fitting a conv layer to y = x * g",
                                          "gradient descent step", "mean squared error"};

draw::Scene loss_figure(std::span<const double> values, const LossPlot& labels);

}  // namespace convkit::cli
