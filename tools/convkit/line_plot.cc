// A minimal line plotter: an RGB raster, straight lines, stb_easy_font text, stb_image_write PNG.
#include "line_plot.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include "convkit/error.h"
#include "convkit/files.h"

#define STB_IMAGE_WRITE_STATIC  // private copy: other files may compile their own stb_image_write
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_easy_font.h>
#include <stb/stb_image_write.h>

namespace convkit::cli {
namespace {

using Color = std::array<unsigned char, 3>;
constexpr Color kInk{40, 40, 40}, kGrid{210, 210, 210}, kLine{31, 119, 180};

class Canvas {
 public:
  Canvas(int width, int height)
      : width_(width), height_(height), pixels_(static_cast<size_t>(width * height * 3), 255) {}

  void dot(int x, int y, Color c) {
    if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
    std::copy(c.begin(), c.end(), pixels_.begin() + (static_cast<std::ptrdiff_t>(y) * width_ + x) * 3);
  }
  void rect(int x0, int y0, int x1, int y1, Color c) {
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) dot(x, y, c);
  }
  // A line two pixels wide by stepping along its longer axis.
  void line(double x0, double y0, double x1, double y1, Color c) {
    const int steps = static_cast<int>(std::ceil(std::max(std::fabs(x1 - x0), std::fabs(y1 - y0)))) + 1;
    for (int i = 0; i <= steps; ++i) {
      const double t = static_cast<double>(i) / steps;
      const auto x = static_cast<int>(std::lround(x0 + t * (x1 - x0)));
      const auto y = static_cast<int>(std::lround(y0 + t * (y1 - y0)));
      rect(x, y, x + 2, y + 2, c);
    }
  }
  // Text with its top-left corner at (x, y), scaled 2x; stb_easy_font emits axis-aligned quads.
  void text(int x, int y, const std::string& s, Color c) {
    std::vector<char> buffer(s.size() * 300 + 1000);
    std::string copy = s;
    const int quads = stb_easy_font_print(0, 0, copy.data(), nullptr, buffer.data(), static_cast<int>(buffer.size()));
    for (int q = 0; q < quads; ++q) {
      float corner[2][2];  // vertices 0 and 2 of the quad: (x, y) floats at the start of 16-byte vertices
      std::memcpy(corner[0], buffer.data() + q * 64, sizeof corner[0]);
      std::memcpy(corner[1], buffer.data() + q * 64 + 32, sizeof corner[1]);
      rect(x + static_cast<int>(2 * corner[0][0]), y + static_cast<int>(2 * corner[0][1]),
           x + static_cast<int>(2 * corner[1][0]), y + static_cast<int>(2 * corner[1][1]), c);
    }
  }
  static int text_width(const std::string& s) {
    std::string copy = s;
    return 2 * stb_easy_font_width(copy.data());
  }

  std::vector<unsigned char> png() const {
    std::vector<unsigned char> bytes;
    auto append = [](void* context, void* data, int size) {
      auto* out = static_cast<std::vector<unsigned char>*>(context);
      out->insert(out->end(), static_cast<unsigned char*>(data), static_cast<unsigned char*>(data) + size);
    };
    if (!stbi_write_png_to_func(append, &bytes, width_, height_, 3, pixels_.data(), width_ * 3))
      fail("plot: PNG encoding failed");
    return bytes;
  }

 private:
  int width_, height_;
  std::vector<unsigned char> pixels_;
};

std::string format(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", value);
  return text;
}

}  // namespace

void write_line_plot_png(const std::string& path, std::span<const double> values, const std::string& title,
                         const std::string& x_label, int first_index) {
  if (values.empty()) fail("plot: no values to plot for ", path);
  const bool log_axis = std::all_of(values.begin(), values.end(), [](double v) { return v > 0.0 && std::isfinite(v); });
  std::vector<double> ys;
  for (double v : values) ys.push_back(log_axis ? std::log10(v) : v);
  auto [low, high] = std::minmax_element(ys.begin(), ys.end());
  const double y_min = *low, y_max = *high > *low ? *high : *low + 1.0;

  constexpr int kWidth = 640, kHeight = 400, kLeft = 120, kRight = 20, kTop = 40, kBottom = 50;
  Canvas canvas(kWidth, kHeight);
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  const auto last_index = static_cast<double>(std::max<size_t>(1, values.size() - 1));
  auto px = [&](size_t i) { return kLeft + plot_w * static_cast<double>(i) / last_index; };
  auto py = [&](double y) { return kTop + plot_h * (1.0 - (y - y_min) / (y_max - y_min)); };

  for (int k = 0; k <= 4; ++k) {  // grid lines at every quarter of the y range
    const int y = kTop + static_cast<int>(plot_h * k / 4);
    canvas.rect(kLeft, y, kWidth - kRight, y + 1, kGrid);
  }
  canvas.rect(kLeft, kTop, kLeft + 1, kHeight - kBottom, kInk);
  canvas.rect(kLeft, kHeight - kBottom, kWidth - kRight, kHeight - kBottom + 1, kInk);
  for (size_t i = 1; i < ys.size(); ++i) canvas.line(px(i - 1), py(ys[i - 1]), px(i), py(ys[i]), kLine);
  if (ys.size() == 1) {  // a single value: a dot
    const auto y = static_cast<int>(py(ys[0]));
    canvas.rect(kLeft, y, kLeft + 4, y + 4, kLine);
  }

  auto label = [&](double y) { return format(log_axis ? std::pow(10.0, y) : y); };
  canvas.text((kWidth - Canvas::text_width(title)) / 2, 12, title, kInk);
  canvas.text(kLeft - 8 - Canvas::text_width(label(y_max)), kTop - 6, label(y_max), kInk);
  canvas.text(kLeft - 8 - Canvas::text_width(label(y_min)), kHeight - kBottom - 6, label(y_min), kInk);
  if (log_axis) canvas.text(8, kTop + static_cast<int>(plot_h / 2), "log", kInk);
  canvas.text(kLeft, kHeight - kBottom + 8, std::to_string(first_index), kInk);
  const std::string last = std::to_string(static_cast<size_t>(first_index) + values.size() - 1);
  canvas.text(kWidth - kRight - Canvas::text_width(last), kHeight - kBottom + 8, last, kInk);
  const int x_label_left = kLeft + static_cast<int>(plot_w / 2) - Canvas::text_width(x_label) / 2;
  canvas.text(x_label_left, kHeight - kBottom + 24, x_label, kInk);
  files::write_atomically(path, canvas.png());
}

}  // namespace convkit::cli
