#include "draw/image_panels.h"

#include <algorithm>
#include <cmath>

#include "convkit/error.h"

namespace convkit::draw {
namespace {
constexpr Color kInk{0.1, 0.1, 0.1};
constexpr double kCaptionSize = 12, kGap = 16, kHeader = 40;
}  // namespace

Image image_from_tensor(const Tensor& chw, double lo, double hi) {
  if (chw.rank() != 3 || (chw.dim(0) != 1 && chw.dim(0) != 3))
    fail("draw: an image tensor of shape ", chw.shape(), "; expected (C, H, W) with C = 1 or 3");
  Image image{.width = chw.dim(2), .height = chw.dim(1), .channels = chw.dim(0)};
  image.pixels.resize(static_cast<size_t>(chw.numel()));
  const double scale = hi > lo ? 255.0 / (hi - lo) : 0.0;
  for (int64_t y = 0; y < image.height; ++y)
    for (int64_t x = 0; x < image.width; ++x)
      for (int64_t c = 0; c < image.channels; ++c) {
        const double v = (static_cast<double>(chw.at({c, y, x})) - lo) * scale;
        image.pixels[static_cast<size_t>((y * image.width + x) * image.channels + c)] =
            static_cast<uint8_t>(std::isfinite(v) ? std::lround(std::clamp(v, 0.0, 255.0)) : 0);
      }
  return image;
}

Scene image_figure(const std::string& title, const std::vector<ImagePanel>& panels, size_t columns, double scale,
                   const std::string& notes) {
  if (panels.empty() || columns == 0) fail("draw: an image figure needs at least one panel and one column");
  double cell_w = 0, image_h = 0;
  size_t caption_lines = 0;
  for (const ImagePanel& p : panels) {
    cell_w = std::max(cell_w, static_cast<double>(p.image.width) * scale);
    image_h = std::max(image_h, static_cast<double>(p.image.height) * scale);
    caption_lines = std::max(caption_lines, p.caption.size());
    for (const std::string& line : p.caption) cell_w = std::max(cell_w, text_width(line, kCaptionSize));
  }
  const double cell_h = image_h + 8 + static_cast<double>(caption_lines) * (kCaptionSize + 4);
  columns = std::min(columns, panels.size());
  const size_t rows = (panels.size() + columns - 1) / columns;
  const double width = std::max(kGap + static_cast<double>(columns) * (cell_w + kGap), text_width(title, 17, true) + 2 * kGap);
  const double height = kHeader + static_cast<double>(rows) * (cell_h + kGap) + (notes.empty() ? 0 : 24);
  Scene scene(width, height, title);
  scene.add(Text{{width / 2, 26}, title, 17, true, kInk, Anchor::middle}, "figure-title");
  const double grid_left = (width - static_cast<double>(columns) * (cell_w + kGap) + kGap) / 2;
  for (size_t i = 0; i < panels.size(); ++i) {
    const double cx = grid_left + static_cast<double>(i % columns) * (cell_w + kGap);
    const double cy = kHeader + static_cast<double>(i / columns) * (cell_h + kGap);
    Image image = panels[i].image;
    image.w = static_cast<double>(image.width) * scale, image.h = static_cast<double>(image.height) * scale;
    image.x = cx + (cell_w - image.w) / 2, image.y = cy;
    scene.add(std::move(image), "panel");
    double y = cy + image_h + 8 + kCaptionSize;
    for (const std::string& line : panels[i].caption) {
      scene.add(Text{{cx + cell_w / 2, y}, line, kCaptionSize, false, kInk, Anchor::middle}, "caption");
      y += kCaptionSize + 4;
    }
  }
  if (!notes.empty()) scene.add(Text{{width / 2, height - 10}, notes, kCaptionSize, false, Color{0.35, 0.35, 0.35}, Anchor::middle}, "notes");
  return scene;
}

}  // namespace convkit::draw
