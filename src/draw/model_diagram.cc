#include "draw/model_diagram.h"

#include <algorithm>
#include <cstdio>

#include "draw/chart.h"

namespace convkit::draw {
namespace {

constexpr Color kInk{0.1, 0.1, 0.1}, kGreyInk{0.35, 0.35, 0.35};

// Keras's shape text without the batch: (112, 112, 64).
std::string shape_text(const Shape& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + ")";
}

// 1.53 G, 86.7 M, 12.3 k: MACs at a glance (the exact count is in `convkit summary`'s table).
std::string short_count(int64_t n) {
  char text[32];
  const auto v = static_cast<double>(n);
  if (v >= 1e9) std::snprintf(text, sizeof text, "%.3g G", v / 1e9);
  else if (v >= 1e6) std::snprintf(text, sizeof text, "%.3g M", v / 1e6);
  else if (v >= 1e4) std::snprintf(text, sizeof text, "%.3g k", v / 1e3);
  else std::snprintf(text, sizeof text, "%lld", static_cast<long long>(n));
  return text;
}

}  // namespace

Scene model_figure(const Model& model, const std::string& title) {
  constexpr double kBoxW = 520, kBoxH = 50, kPitch = 78, kTop = 70;
  const std::string totals = "total params " + with_commas(model.total_params()) + ", MACs " +
                             with_commas(model.total_macs()) + " (" + short_count(model.total_macs()) + ")";
  const double width = std::max(kBoxW + 80, text_width(title, 16, true) + 40);
  const double height = kTop + kPitch * static_cast<double>(model.layers.size() + 1) + 10;
  Scene scene(width, height, title);
  scene.add(Text{{width / 2, 26}, title, 16, true, kInk, Anchor::middle}, "title");
  scene.add(Text{{width / 2, 48}, totals, 12, false, kGreyInk, Anchor::middle}, "totals");
  std::vector<std::string> types;  // colour by layer type, in order of first appearance
  const double x = (width - kBoxW) / 2;
  auto box = [&](size_t row, const std::string& heading, const std::string& details, Color fill) {
    const double y = kTop + kPitch * static_cast<double>(row);
    fill.a = 0.22;
    scene.add(Rect{x, y, kBoxW, kBoxH, fill, Stroke{kInk, 1.2}}, "layer");
    scene.add(Text{{x + kBoxW / 2, y + 20}, heading, 13, true, kInk, Anchor::middle}, "layer-name");
    scene.add(Text{{x + kBoxW / 2, y + 39}, details, 12, false, kInk, Anchor::middle}, "layer-details");
    if (row > 0) {
      const double cx = x + kBoxW / 2, from = y - (kPitch - kBoxH) + 2, to = y - 2;
      scene.add(Polyline{{{cx, from}, {cx, to}}, {kGreyInk, 1.5}}, "arrow");
      scene.add(Polyline{{{cx - 5, to - 7}, {cx, to}, {cx + 5, to - 7}}, {kGreyInk, 1.5}}, "arrow");
    }
  };
  box(0, "input", "shape " + shape_text(model.input_shape) + ", " + std::string(to_string(model.layout)), Color{0.6, 0.6, 0.6});
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const ModelLayer& layer = model.layers[i];
    auto it = std::find(types.begin(), types.end(), layer.type);
    if (it == types.end()) it = types.insert(types.end(), layer.type);
    box(i + 1, layer.name + " (" + layer.type + ")",
        "output " + shape_text(layer.output_shape) + "   params " + with_commas(layer.params) + "   MACs " +
            short_count(layer.macs),
        palette(static_cast<size_t>(it - types.begin())));
  }
  return scene;
}

}  // namespace convkit::draw
