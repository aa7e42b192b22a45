#include "plot.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "convkit/error.h"

namespace convkit::cli {
namespace {

constexpr int64_t kMargin = 8;  // pixels between the panel border and its axes
constexpr Rgb kGrid{225, 225, 225}, kAxis{0, 0, 0};

class Canvas {
 public:
  Canvas(int64_t width, int64_t height) : image_({3, height, width}, 255.0f) {}

  void set(int64_t x, int64_t y, Rgb color) {
    if (x < 0 || y < 0 || x >= image_.dim(2) || y >= image_.dim(1)) return;
    for (int64_t c = 0; c < 3; ++c) image_.at({c, y, x}) = color[static_cast<size_t>(c)];
  }

  // Bresenham's line from (x0, y0) to (x1, y1), both ends included.
  void line(int64_t x0, int64_t y0, int64_t x1, int64_t y1, Rgb color) {
    const int64_t dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
    const int64_t sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    for (int64_t error = dx + dy;;) {
      set(x0, y0, color);
      if (x0 == x1 && y0 == y1) return;
      const int64_t twice = 2 * error;
      if (twice >= dy) error += dy, x0 += sx;
      if (twice <= dx) error += dx, y0 += sy;
    }
  }

  Tensor take() { return std::move(image_); }

 private:
  Tensor image_;
};

// The range the panel's values span, widened by 5% (and to a unit range when flat).
std::pair<float, float> y_range(const Panel& panel) {
  float lo = INFINITY, hi = -INFINITY;
  for (const Trace& trace : panel.traces)
    for (float v : trace.values)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  if (!(lo <= hi)) return {0.0f, 1.0f};
  const float pad = hi > lo ? 0.05f * (hi - lo) : 0.5f;
  return {lo - pad, hi + pad};
}

void draw_panel(Canvas& canvas, const Panel& panel, int64_t top, int64_t width, int64_t height) {
  const int64_t left = kMargin, right = width - kMargin, bottom = top + height - kMargin, upper = top + kMargin;
  for (int q = 1; q < 4; ++q) {  // grid at the quarters
    canvas.line(left, upper + (bottom - upper) * q / 4, right, upper + (bottom - upper) * q / 4, kGrid);
    canvas.line(left + (right - left) * q / 4, upper, left + (right - left) * q / 4, bottom, kGrid);
  }
  canvas.line(left, upper, left, bottom, kAxis);
  canvas.line(left, bottom, right, bottom, kAxis);
  const std::pair<float, float> range = y_range(panel);  // (a structured binding cannot be captured by Clang 14)
  auto to_y = [&](float v) {
    const float fraction = (v - range.first) / (range.second - range.first);
    return bottom - static_cast<int64_t>(std::lround(fraction * static_cast<float>(bottom - upper)));
  };
  for (const Trace& trace : panel.traces) {
    const auto n = static_cast<int64_t>(trace.values.size());
    auto to_x = [&](int64_t i) { return left + (n > 1 ? i * (right - left) / (n - 1) : 0); };
    for (int64_t i = 1; i < n; ++i) {
      const float a = trace.values[static_cast<size_t>(i - 1)], b = trace.values[static_cast<size_t>(i)];
      if (std::isfinite(a) && std::isfinite(b)) canvas.line(to_x(i - 1), to_y(a), to_x(i), to_y(b), trace.color);
    }
  }
}

}  // namespace

Tensor plot(const std::vector<Panel>& panels, int64_t width, int64_t panel_height) {
  if (panels.empty() || width < 4 * kMargin || panel_height < 4 * kMargin)
    fail("plot: ", panels.size(), " panels of ", width, "x", panel_height,
         " pixels; expected at least one panel of at least ", 4 * kMargin, "x", 4 * kMargin);
  Canvas canvas(width, panel_height * static_cast<int64_t>(panels.size()));
  for (size_t p = 0; p < panels.size(); ++p)
    draw_panel(canvas, panels[p], static_cast<int64_t>(p) * panel_height, width, panel_height);
  return canvas.take();
}

}  // namespace convkit::cli
