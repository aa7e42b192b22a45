#include "draw/chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "convkit/error.h"

namespace convkit::draw {
namespace {

constexpr Color kInk{0.1, 0.1, 0.1}, kGrid{0.88, 0.88, 0.88}, kMinorGrid{0.95, 0.95, 0.95};
constexpr double kTitleSize = 15, kLabelSize = 13, kTickSize = 11;

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) { lo = std::min(lo, v), hi = std::max(hi, v); }
  bool empty() const { return !(lo <= hi); }
};

// The value on the axis' scale (log10 for log axes); NaN for points the axis cannot show.
double scaled(double v, const Axis& axis) {
  if (!std::isfinite(v)) return NAN;
  if (axis.log) return v > 0 ? std::log10(v) : NAN;
  return v;
}

// The plotted range of one axis over every series: log axes widen to whole decades, linear ones by 5%.
Range axis_range(const Chart& chart, bool is_x) {
  Range r;
  for (const Series& s : chart.series)
    for (double v : is_x ? s.x : s.y)
      if (const double t = scaled(v, is_x ? chart.x : chart.y); std::isfinite(t)) r.add(t);
  if (r.empty()) return {0, 1};
  const Axis& axis = is_x ? chart.x : chart.y;
  if (axis.log) {
    r.lo = std::floor(r.lo + 1e-9), r.hi = std::ceil(r.hi - 1e-9);  // 1e-14 computed as 10^-14.000000000000002
    if (r.hi == r.lo) r.hi += 1;
    return r;
  }
  if (r.hi == r.lo) return {r.lo - 0.5, r.hi + 0.5};
  if (is_x) return r;  // x spans the samples exactly
  const double pad = 0.05 * (r.hi - r.lo);
  return {r.lo - pad, r.hi + pad};
}

}  // namespace

Color palette(size_t i) {
  static constexpr Color kTab10[] = {{0.122, 0.467, 0.706}, {1.0, 0.498, 0.055}, {0.173, 0.627, 0.173},
                                     {0.839, 0.153, 0.157}, {0.580, 0.404, 0.741}, {0.549, 0.337, 0.294},
                                     {0.890, 0.467, 0.761}, {0.498, 0.498, 0.498}, {0.737, 0.741, 0.133},
                                     {0.090, 0.745, 0.812}};
  return kTab10[i % std::size(kTab10)];
}

std::vector<double> linear_ticks(double lo, double hi, int target) {
  if (!(hi > lo) || target < 1) return {lo};
  // The 1, 2 or 5 x 10^k step nearest (in ratio) to an even split into `target` parts.
  const double rough = (hi - lo) / target, magnitude = std::pow(10.0, std::floor(std::log10(rough)));
  double step = magnitude;
  for (double m : {2.0, 5.0, 10.0})
    if (std::fabs(std::log(m * magnitude / rough)) < std::fabs(std::log(step / rough))) step = m * magnitude;
  std::vector<double> ticks;
  for (double i = std::ceil(lo / step - 1e-9); i * step <= hi + step * 1e-9; i += 1) ticks.push_back(i * step + 0.0);
  return ticks;
}

std::vector<int> decade_ticks(int lo, int hi, int most) {
  const int every = std::max(1, (hi - lo + most - 1) / std::max(1, most));  // ceil(decades / most)
  std::vector<int> ticks;
  for (int k = lo; k <= hi; ++k)
    if (k % every == 0) ticks.push_back(k);  // multiples of `every`, so that 10^0 keeps its tick
  return ticks;
}

std::string tick_label(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.4g", value);
  return text;
}

std::string decade_label(int exponent) {
  static const char* kSuperscript[] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};
  std::string text = "10";
  if (exponent < 0) text += "⁻";
  for (char digit : std::to_string(std::abs(exponent))) text += kSuperscript[digit - '0'];
  return text;
}

std::string with_commas(int64_t value) {
  const std::string digits = std::to_string(value < 0 ? -static_cast<uint64_t>(value) : static_cast<uint64_t>(value));
  std::string text = value < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) text += ',';
    text += digits[i];
  }
  return text;
}

void draw_chart(Scene& scene, const Chart& chart, Box box) {
  const Range xr = axis_range(chart, true), yr = axis_range(chart, false);
  // Room on the left for the widest y tick label and the rotated y label.
  std::vector<std::pair<double, std::string>> y_ticks, x_ticks;
  std::vector<double> y_minor;
  if (chart.y.log) {
    const auto decades = decade_ticks(static_cast<int>(yr.lo), static_cast<int>(yr.hi), 8);
    for (int k : decades) y_ticks.push_back({k, decade_label(k)});
    if (decades.size() > 1 && decades[1] - decades[0] == 1 && yr.hi - yr.lo <= 6)
      for (int k = static_cast<int>(yr.lo); k < static_cast<int>(yr.hi); ++k)
        for (int m = 2; m <= 9; ++m) y_minor.push_back(k + std::log10(m));
  } else {
    for (double t : linear_ticks(yr.lo, yr.hi, 5)) y_ticks.push_back({t, tick_label(t)});
  }
  for (double t : linear_ticks(xr.lo, xr.hi, 6)) x_ticks.push_back({t, tick_label(t)});
  double widest = 0;
  for (const auto& t : y_ticks) widest = std::max(widest, text_width(t.second, kTickSize));
  const double left = box.x + 28 + widest + 8, right = box.x + box.w - 16;
  const double top = box.y + 34, bottom = box.y + box.h - 46;
  if (!(right - left > 20 && bottom - top > 20)) fail("draw: a chart box of ", box.w, "x", box.h, " pixels is too small");

  auto px = [&](double v) { return left + (v - xr.lo) / (xr.hi - xr.lo) * (right - left); };
  auto py = [&](double v) { return bottom - (v - yr.lo) / (yr.hi - yr.lo) * (bottom - top); };

  scene.add(Text{{(left + right) / 2, box.y + 22}, chart.title, kTitleSize, true, kInk, Anchor::middle}, "title");
  for (double m : y_minor) scene.add(Polyline{{{left, py(m)}, {right, py(m)}}, {kMinorGrid, 1}}, "grid");
  for (const auto& [v, label] : y_ticks) {
    scene.add(Polyline{{{left, py(v)}, {right, py(v)}}, {kGrid, 1}}, "grid");
    scene.add(Polyline{{{left - 5, py(v)}, {left, py(v)}}, {kInk, 1}}, "tick");
    scene.add(Text{{left - 8, py(v) + kTickSize * 0.35}, label, kTickSize, false, kInk, Anchor::end}, "tick-label");
  }
  for (const auto& [v, label] : x_ticks) {
    scene.add(Polyline{{{px(v), top}, {px(v), bottom}}, {kGrid, 1}}, "grid");
    scene.add(Polyline{{{px(v), bottom}, {px(v), bottom + 5}}, {kInk, 1}}, "tick");
    scene.add(Text{{px(v), bottom + 8 + kTickSize}, label, kTickSize, false, kInk, Anchor::middle}, "tick-label");
  }
  scene.add(Rect{left, top, right - left, bottom - top, std::nullopt, Stroke{kInk, 1}}, "axes");
  scene.add(Text{{(left + right) / 2, bottom + 40}, chart.x.label, kLabelSize, false, kInk, Anchor::middle}, "axis-label");
  scene.add(Text{{box.x + 18, (top + bottom) / 2}, chart.y.label, kLabelSize, false, kInk, Anchor::middle, true},
            "axis-label");

  for (const Series& s : chart.series) {
    if (s.x.size() != s.y.size()) fail("draw: series '", s.label, "' has ", s.x.size(), " x and ", s.y.size(), " y values");
    std::vector<Point> run;
    auto flush = [&] {
      if (run.size() == 1) scene.add(Rect{run[0].x - 2, run[0].y - 2, 4, 4, s.color, std::nullopt}, "series");
      if (run.size() > 1) scene.add(Polyline{run, {s.color, s.width}}, "series");
      run.clear();
    };
    for (size_t i = 0; i < s.x.size(); ++i) {
      const double x = scaled(s.x[i], chart.x), y = scaled(s.y[i], chart.y);
      if (std::isfinite(x) && std::isfinite(y)) run.push_back({px(x), py(y)});
      else flush();
    }
    flush();
  }

  // The legend: top right inside the axes, one line sample and label per named series.
  double legend_w = 0;
  size_t named = 0;
  for (const Series& s : chart.series)
    if (!s.label.empty()) legend_w = std::max(legend_w, text_width(s.label, kTickSize)), ++named;
  if (named == 0) return;
  const double line_h = kTickSize + 6, lw = legend_w + 44, lh = static_cast<double>(named) * line_h + 8;
  const double lx = right - lw - 8, ly = top + 8;
  scene.add(Rect{lx, ly, lw, lh, Color{1, 1, 1, 0.85}, Stroke{Color{0.6, 0.6, 0.6}, 1}}, "legend");
  double y = ly + 4 + line_h / 2;
  for (const Series& s : chart.series) {
    if (s.label.empty()) continue;
    scene.add(Polyline{{{lx + 8, y}, {lx + 32, y}}, {s.color, s.width + 1}}, "legend");
    scene.add(Text{{lx + 38, y + kTickSize * 0.35}, s.label, kTickSize, false, kInk}, "legend");
    y += line_h;
  }
}

Scene chart_figure(const std::string& title, const std::vector<Chart>& charts, double width, double chart_height) {
  constexpr double kHeader = 36;
  Scene scene(width, kHeader + chart_height * static_cast<double>(charts.size()), title);
  scene.add(Text{{width / 2, 24}, title, 17, true, kInk, Anchor::middle}, "figure-title");
  for (size_t i = 0; i < charts.size(); ++i)
    draw_chart(scene, charts[i], {0, kHeader + chart_height * static_cast<double>(i), width, chart_height});
  return scene;
}

}  // namespace convkit::draw
