#include "draw/bar_chart.h"

#include <algorithm>

#include "convkit/error.h"
#include "draw/chart.h"

namespace convkit::draw {

Scene bar_figure(const std::string& title, const std::string& subtitle, const std::vector<Bar>& bars,
                 const std::string& value_label) {
  if (bars.empty()) fail("draw: a bar chart needs at least one bar");
  constexpr Color kInk{0.1, 0.1, 0.1};
  std::vector<std::string> legend;  // segment labels in order of first appearance
  double label_w = 0, largest = 0;
  for (const Bar& bar : bars) {
    label_w = std::max(label_w, text_width(bar.label, 13, true));
    int64_t total = 0;
    for (const BarSegment& s : bar.segments) {
      if (s.value < 0) fail("draw: bar '", bar.label, "' has a negative segment ", s.value);
      total += s.value;
      if (std::find(legend.begin(), legend.end(), s.label) == legend.end()) legend.push_back(s.label);
    }
    largest = std::max(largest, static_cast<double>(total));
  }
  const double width = 980, left = 24 + label_w + 12, right = width - 200, bar_h = 34, pitch = 52, top = 78;
  const double bottom = top + pitch * static_cast<double>(bars.size());
  Scene scene(width, bottom + 70 + 20 * static_cast<double>((legend.size() + 3) / 4), title);
  scene.add(Text{{width / 2, 26}, title, 16, true, kInk, Anchor::middle}, "title");
  scene.add(Text{{width / 2, 48}, subtitle, 12, false, Color{0.35, 0.35, 0.35}, Anchor::middle}, "subtitle");
  const double hi = largest > 0 ? largest : 1;
  auto px = [&](double v) { return left + v / hi * (right - left); };
  for (double t : linear_ticks(0, hi, 5)) {
    scene.add(Polyline{{{px(t), top - 8}, {px(t), bottom}}, {Color{0.88, 0.88, 0.88}, 1}}, "grid");
    scene.add(Text{{px(t), bottom + 16}, with_commas(static_cast<int64_t>(t)), 11, false, kInk, Anchor::middle}, "tick-label");
  }
  scene.add(Polyline{{{left, top - 8}, {left, bottom}}, {kInk, 1}}, "axes");
  scene.add(Text{{(left + right) / 2, bottom + 38}, value_label, 13, false, kInk, Anchor::middle}, "axis-label");
  for (size_t b = 0; b < bars.size(); ++b) {
    const double y = top + pitch * static_cast<double>(b);
    scene.add(Text{{left - 10, y + bar_h / 2 + 5}, bars[b].label, 13, true, kInk, Anchor::end}, "bar-label");
    double x = 0;
    int64_t total = 0;
    for (const BarSegment& s : bars[b].segments) {
      const auto colour = static_cast<size_t>(std::find(legend.begin(), legend.end(), s.label) - legend.begin());
      scene.add(Rect{px(x), y, px(x + static_cast<double>(s.value)) - px(x), bar_h, palette(colour), Stroke{Color{1, 1, 1}, 1}},
                "bar");
      x += static_cast<double>(s.value);
      total += s.value;
    }
    scene.add(Text{{px(x) + 8, y + bar_h / 2 + 5}, with_commas(total) + (bars[b].note.empty() ? "" : "  " + bars[b].note), 12, false, kInk},
              "bar-value");
  }
  double lx = left, ly = bottom + 62;
  for (size_t i = 0; i < legend.size(); ++i) {
    scene.add(Rect{lx, ly - 11, 14, 14, palette(i), std::nullopt}, "legend");
    scene.add(Text{{lx + 20, ly}, legend[i], 12, false, kInk}, "legend");
    lx += 40 + text_width(legend[i], 12);
    if (lx > width - 200) lx = left, ly += 20;
  }
  return scene;
}

}  // namespace convkit::draw
