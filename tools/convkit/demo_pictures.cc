#include "demo_pictures.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <iostream>
#include <vector>

#include "convkit/convkit.h"
#include "demo_data.h"
#include "plot.h"

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

// Rows of (1, D, H, W) volumes side by side as a grey picture: one row per volume, one column per depth
// in `depths`, each cell enlarged `scale` times (nearest neighbour) and each row stretched to 0..255.
Tensor slice_montage(const std::vector<Tensor>& volumes, const std::vector<int64_t>& depths, int64_t scale) {
  constexpr int64_t kGap = 4;
  const int64_t side_h = volumes[0].dim(2) * scale, side_w = volumes[0].dim(3) * scale;
  const auto rows = static_cast<int64_t>(volumes.size()), columns = static_cast<int64_t>(depths.size());
  Tensor montage({1, rows * (side_h + kGap) - kGap, columns * (side_w + kGap) - kGap}, 255.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const Tensor& v = volumes[static_cast<size_t>(r)];
    const auto [lo, hi] = std::minmax_element(v.values().begin(), v.values().end());
    const float stretch = *hi > *lo ? 255.0f / (*hi - *lo) : 0.0f;
    for (int64_t c = 0; c < columns; ++c)
      for (int64_t y = 0; y < side_h; ++y)
        for (int64_t x = 0; x < side_w; ++x)
          montage.at({0, r * (side_h + kGap) + y, c * (side_w + kGap) + x}) =
              (v.at({0, depths[static_cast<size_t>(c)], y / scale, x / scale}) - *lo) * stretch;
  }
  return montage;
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

void scene_pictures(Pictures& pictures) {
  std::cout << "\nFilters on a 128x128 RGB picture (each channel separately: depthwise, groups = 3; padding same, "
               "reflect border)\n";
  const Tensor scene = demo_scene();
  pictures.step("scene.png", "the input picture, 128x128 RGB",
                [&](const std::string& path) { image::write_png(path, scene); });
  // The seeds' three filters: edge, blur, sharpen; then the Sobel gradient magnitude and emboss.
  const struct {
    const char* filter;
    const char* file;
    const char* contents;
    image::Scaling scaling;
  } steps[] = {
      {"edge", "scene-edge.png", "edge: 3x3, -1 around and 8 in the centre (clamped to 0..255)", image::Scaling::clamp},
      {"gaussian:9,2", "scene-blur.png", "blur: 9x9 Gaussian, sigma 2", image::Scaling::clamp},
      {"sharpen", "scene-sharpen.png", "sharpen: [[0,-1,0],[-1,5,-1],[0,-1,0]]", image::Scaling::clamp},
      {"sobel", "scene-sobel.png", "Sobel gradient magnitude sqrt(gx^2 + gy^2), normalized", image::Scaling::normalize},
      {"emboss", "scene-emboss.png", "emboss: [[-2,-1,0],[-1,1,1],[0,1,2]]", image::Scaling::clamp},
  };
  for (const auto& s : steps)
    pictures.step(s.file, s.contents,
                  [&](const std::string& path) { image::write_png(path, run_filter(s.filter, scene), s.scaling); });
}

void signal_pictures(Pictures& pictures) {
  std::cout << "\nSmoothing a noisy 3-axis accelerometer signal (500 samples at 50 Hz; each axis separately)\n";
  const Tensor signal = demo_accelerometer();
  pictures.step("accel.csv", "the input signal: columns x, y, z in m/s^2", [&](const std::string& path) {
    csv::write(path, {{"x", "y", "z"}, signal});
  });
  pictures.step(
      "accel-smoothing.png", "panels x, y, z: raw (grey), smooth:5 (orange), gaussian:21,4 (blue)",
      [&](const std::string& path) {
        const Tensor average = run_filter("smooth:5", signal), gaussian = run_filter("gaussian:21,4", signal);
        std::vector<Panel> panels;
        for (int64_t axis = 0; axis < 3; ++axis) {
          auto row = [&](const Tensor& t) {
            const float* first = t.data() + axis * t.dim(1);
            return std::vector<float>(first, first + t.dim(1));
          };
          panels.push_back(
              {{{row(signal), {175, 175, 175}}, {row(average), {235, 120, 20}}, {row(gaussian), {30, 80, 200}}}});
        }
        image::write_png(path, plot(panels, 800, 160));
      });
}

void volume_pictures(Pictures& pictures) {
  std::cout << "\n3D filters on a noisy 32^3 volume with a sphere of radius 10 in it\n";
  const Tensor volume = demo_volume();
  pictures.step("volume.npy", "the input volume (32, 32, 32) float32", [&](const std::string& path) {
    npy::write(path, volume.reshaped({32, 32, 32}));
  });
  pictures.step("volume-slices.png", "depths 6, 11, 16, 21, 26; rows: input, gaussian:5, sobel of it",
                [&](const std::string& path) {
                  const Tensor smooth = run_filter("gaussian:5", volume);
                  const Tensor edges = run_filter("sobel", smooth);  // gradient magnitude: the sphere's shell
                  image::write_png(path, slice_montage({volume, smooth, edges}, {6, 11, 16, 21, 26}, 3));
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
