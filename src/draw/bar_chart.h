// Horizontal bar charts with stacked segments (e.g. the MACs of each stage of a layer), a value axis
// with ticks, a label per bar and its total written at its end.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "draw/scene.h"

namespace convkit::draw {

struct BarSegment {
  std::string label;  // in the legend; segments of equal label share a colour
  int64_t value = 0;
};

struct Bar {
  std::string label;
  std::vector<BarSegment> segments;
  std::string note;  // written after the bar's total, e.g. "9.3x fewer"
};

// `bars` top to bottom under `title`, the value axis labelled `value_label`.
Scene bar_figure(const std::string& title, const std::string& subtitle, const std::vector<Bar>& bars,
                 const std::string& value_label);

}  // namespace convkit::draw
