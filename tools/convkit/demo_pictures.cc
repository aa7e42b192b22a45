#include "demo_pictures.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <vector>

#include "convkit/convkit.h"
#include "demo_data.h"
#include "draw/chart.h"
#include "draw/image_panels.h"

namespace convkit::cli {
namespace {

// Prints the shapes and cost of `filter` on x (C, spatial...), and applies it.
Tensor run_filter(const std::string& text, const Tensor& x) {
  const filters::Filter filter = filters::named(text, x.rank() - 1);
  const filters::Options options;
  Shape batched = x.shape();
  batched.insert(batched.begin(), 1);
  int64_t params = 0, macs = 0;
  for (const Tensor& kernel : filter.kernels) {
    const LayerCost cost = conv_cost(filters::depthwise_spec(kernel, x.dim(0), options), batched);
    params += cost.params();
    macs += cost.macs;
  }
  Tensor y = filters::apply(filter, x, options);
  std::cout << "  " << text << ": input " << to_string(x.shape()) << "  kernel " << filter.kernels.size() << " x "
            << to_string(filter.kernels[0].shape()) << " per channel  ->  output " << to_string(y.shape())
            << "   params " << params << ", MACs " << macs << "\n";
  return y;
}

struct Written {
  std::string file, contents;
  double milliseconds;
};

class Pictures {
 public:
  explicit Pictures(std::filesystem::path dir) : dir_(std::move(dir)) { std::filesystem::create_directories(dir_); }

  // Runs `make` (which computes and writes dir/file) and records the file and how long it took.
  void step(const std::string& file, const std::string& contents, const std::function<void(const std::string&)>& make) {
    const auto start = std::chrono::steady_clock::now();
    make((dir_ / file).string());
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    written_.push_back({file, contents, ms});
  }

  void table() const {
    std::cout << "\nFiles written to " << dir_.string() << "/\n";
    std::printf("  %-26s %-64s %10s\n", "file", "contents", "time ms");
    for (const auto& w : written_)
      std::printf("  %-26s %-64s %10.3f\n", w.file.c_str(), w.contents.c_str(), w.milliseconds);
  }

 private:
  std::filesystem::path dir_;
  std::vector<Written> written_;
};

// The scene's pixel values (0..255) as an image panel.
draw::ImagePanel scene_panel(const Tensor& image, std::vector<std::string> caption, image::Scaling scaling) {
  double lo = 0, hi = 255;
  if (scaling == image::Scaling::normalize) {  // the finite range, stretched to 0..255 as image::write_png does
    lo = INFINITY, hi = -INFINITY;
    for (float v : image.values())
      if (std::isfinite(v)) lo = std::min(lo, static_cast<double>(v)), hi = std::max(hi, static_cast<double>(v));
  }
  return {draw::image_from_tensor(image, lo, hi), std::move(caption)};
}

void scene_pictures(Pictures& pictures) {
  std::cout << "\nFilters on a 128x128 RGB picture (each channel separately: depthwise, groups = 3; padding same, "
               "reflect border)\n";
  const Tensor scene = demo_scene();
  const std::vector<std::string> input_caption = {"input: 128x128 RGB"};
  pictures.step("scene.png", "the input picture, 128x128 RGB, shown 2x", [&](const std::string& path) {
    draw::write(draw::image_figure("The demo scene (input of the filters)", {scene_panel(scene, input_caption, image::Scaling::clamp)}, 1, 2),
                path);
  });
  // The seeds' three filters: edge, blur, sharpen; then the Sobel gradient magnitude and emboss.
  const struct {
    const char* filter;
    const char* file;
    const char* title;
    const char* kernel;
    image::Scaling scaling;
  } steps[] = {
      {"edge", "scene-edge.png", "Edge detection", "3x3: -1 around, 8 in the centre (clamped to 0..255)", image::Scaling::clamp},
      {"gaussian:9,2", "scene-blur.png", "Gaussian blur", "9x9 Gaussian, sigma 2", image::Scaling::clamp},
      {"sharpen", "scene-sharpen.png", "Sharpening", "3x3: [[0,-1,0],[-1,5,-1],[0,-1,0]]", image::Scaling::clamp},
      {"sobel", "scene-sobel.png", "Sobel gradient magnitude", "sqrt(gx^2 + gy^2) of 3x3 Sobel, normalized", image::Scaling::normalize},
      {"emboss", "scene-emboss.png", "Emboss", "3x3: [[-2,-1,0],[-1,1,1],[0,1,2]]", image::Scaling::clamp},
  };
  for (const auto& s : steps)
    pictures.step(s.file, std::string(s.title) + ", input | output", [&](const std::string& path) {
      const Tensor y = run_filter(s.filter, scene);
      const std::string title = std::string(s.title) + ": convkit filter " + s.filter;
      draw::write(draw::image_figure(title,
                                     {scene_panel(scene, input_caption, image::Scaling::clamp),
                                      scene_panel(y, {"output: " + std::string(s.filter), s.kernel}, s.scaling)},
                                     2, 2, "depthwise (groups = 3), padding same, reflect border"),
                  path);
    });
}

void signal_pictures(Pictures& pictures) {
  std::cout << "\nSmoothing a noisy 3-axis accelerometer signal (500 samples at 50 Hz; each axis separately)\n";
  const Tensor signal = demo_accelerometer();
  pictures.step("accel.csv", "the input signal: columns x, y, z in m/s^2", [&](const std::string& path) {
    csv::write(path, {{"x", "y", "z"}, signal});
  });
  pictures.step(
      "accel-smoothing.png", "charts of x, y, z: raw, smooth:5, gaussian:21,4",
      [&](const std::string& path) {
        const Tensor average = run_filter("smooth:5", signal), gaussian = run_filter("gaussian:21,4", signal);
        constexpr double kRate = 50.0;  // samples per second
        std::vector<draw::Chart> charts;
        for (int64_t axis = 0; axis < 3; ++axis) {
          auto series = [&](const Tensor& t, std::string label, size_t colour, double width) {
            draw::Series s{.label = std::move(label), .color = draw::palette(colour), .width = width};
            for (int64_t i = 0; i < t.dim(1); ++i)
              s.x.push_back(static_cast<double>(i) / kRate), s.y.push_back(t.at({axis, i}));
            return s;
          };
          const std::string name(1, "xyz"[axis]);
          draw::Series raw = series(signal, "raw", 7, 1.0);
          raw.color = {0.7, 0.7, 0.7};
          charts.push_back({.title = "axis " + name,
                            .x = {.label = "time (s)"},
                            .y = {.label = "acceleration " + name + " (m/s²)"},
                            .series = {raw, series(average, "smooth:5 (moving average)", 1, 2.0),
                                       series(gaussian, "gaussian:21,4", 0, 2.0)}});
        }
        draw::write(draw::chart_figure("Smoothing a 3-axis accelerometer signal (50 Hz, each axis separately)",
                                       charts, 900, 300),
                    path);
      });
}

void volume_pictures(Pictures& pictures) {
  std::cout << "\n3D filters on a noisy 32^3 volume with a sphere of radius 10 in it\n";
  const Tensor volume = demo_volume();
  pictures.step("volume.npy", "the input volume (32, 32, 32) float32", [&](const std::string& path) {
    npy::write(path, volume.reshaped({32, 32, 32}));
  });
  // Depths symmetric about the sphere's centre, 15.5 (between slices 15 and 16 of 0..31).
  const std::vector<int64_t> depths = {4, 10, 15, 16, 21, 27};
  pictures.step("volume-slices.png", "depths 4..27 about the centre; input, gaussian:5, sobel",
                [&](const std::string& path) {
                  const Tensor smooth = run_filter("gaussian:5", volume);
                  const Tensor edges = run_filter("sobel", smooth);  // gradient magnitude: the sphere's shell
                  std::vector<draw::ImagePanel> panels;
                  for (const auto& [v, name] : {std::pair<const Tensor&, const char*>{volume, "input"},
                                                {smooth, "gaussian:5"}, {edges, "sobel(gaussian:5)"}}) {
                    const auto [lo, hi] = std::minmax_element(v.values().begin(), v.values().end());
                    for (int64_t d : depths) {
                      Tensor slice({1, 32, 32});
                      for (int64_t y = 0; y < 32; ++y)
                        for (int64_t x = 0; x < 32; ++x) slice.at({0, y, x}) = v.at({0, d, y, x});
                      char offset[32];
                      std::snprintf(offset, sizeof offset, "%+.1f", static_cast<double>(d) - 15.5);
                      panels.push_back({draw::image_from_tensor(slice, *lo, *hi),
                                        {std::string(name), "depth " + std::to_string(d) + " (centre " + offset + ")"}});
                    }
                  }
                  draw::write(draw::image_figure("3D filters on a 32³ volume: a noisy sphere (radius 10, centre 15.5)",
                                                 panels, depths.size(), 4,
                                                 "rows: input, 3D Gaussian 5x5x5, 3D Sobel magnitude of it; "
                                                 "each row on its own grey scale"),
                              path);
                });
}

}  // namespace

void write_demo_pictures(const std::string& dir) {
  Pictures pictures(dir);
  scene_pictures(pictures);
  signal_pictures(pictures);
  volume_pictures(pictures);
  pictures.table();
}

}  // namespace convkit::cli
