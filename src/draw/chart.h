// Line charts with the parts a reader needs: a title, axis labels with units, tick numbers (linear:
// 1-2-5 steps; log: one tick per decade), a light grid, a legend, and lines 2 px wide.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "draw/scene.h"

namespace convkit::draw {

struct Series {
  std::string label{};
  std::vector<double> x{}, y{};  // same length; a non-finite point (or <= 0 on a log axis) breaks the line
  Color color{};
  double width = 2.0;
};

struct Axis {
  std::string label{};  // with the unit, e.g. "time (s)"
  bool log = false;     // log10 scale with decade ticks; values <= 0 are left out
};

struct Chart {
  std::string title{};
  Axis x{}, y{};
  std::vector<Series> series{};
};

struct Box {
  double x = 0, y = 0, w = 0, h = 0;
};

// The i-th colour of a qualitative palette (matplotlib's tab10), for series and channel groups.
Color palette(size_t i);

// Tick values: linear ticks at multiples of 1, 2 or 5 x 10^k inside [lo, hi] (about `target` of them);
// decade ticks 10^k for k in [lo, hi] (exponents), every n-th decade so that at most `most` remain.
std::vector<double> linear_ticks(double lo, double hi, int target);
std::vector<int> decade_ticks(int lo, int hi, int most);
// "0.25", "1200", "1e+06"; decades as "10⁻³" (Unicode superscripts).
std::string tick_label(double value);
std::string decade_label(int exponent);
// 86400 -> "86,400".
std::string with_commas(int64_t value);

// Draws `chart` into `box` of `scene` (the title on top, the plot area inside the axes' margins).
void draw_chart(Scene& scene, const Chart& chart, Box box);

// A picture of `charts` stacked top to bottom, each `chart_height` high, under a figure title.
Scene chart_figure(const std::string& title, const std::vector<Chart>& charts, double width, double chart_height);

}  // namespace convkit::draw
