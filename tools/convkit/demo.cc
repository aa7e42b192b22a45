// `convkit demo`: every operation of the seeds on small embedded data, computed by the reference
// engine, with shapes, parameters and MACs for each, and a closing table of the steps and timings;
// then the pictures (demo_pictures.h): filtered images, a smoothed signal plot and volume slices; then
// a filter that learns (demo_learning.h); last the convolution-arithmetic gallery (draw_gallery.h).
#include "demo.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "convkit/convkit.h"
#include "demo_learning.h"
#include "draw/scene.h"
#include "draw_gallery.h"
#include "demo_pictures.h"

namespace convkit::cli {
namespace {

Tensor ramp(Shape shape, float start = 1.0f) {
  Tensor t(std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t[i] = start + static_cast<float>(i);
  return t;
}

// A 12x12 grey picture of a bright square on a dark background: edges for Sobel to find.
Tensor square_image() {
  Tensor image({1, 1, 12, 12});
  for (int64_t y = 3; y < 9; ++y)
    for (int64_t x = 3; x < 9; ++x) image.at({0, 0, y, x}) = 9.0f;
  return image;
}

std::string values_of(const Tensor& t, int64_t limit = 12) {
  std::string text = "[";
  for (int64_t i = 0; i < std::min(limit, t.numel()); ++i) {
    char number[32];
    std::snprintf(number, sizeof number, "%s%g", i ? ", " : "", static_cast<double>(t[i]));
    text += number;
  }
  return text + (t.numel() > limit ? ", ...]" : "]");
}

void print_grid(const Tensor& image) {
  const int64_t h = image.dim(2), w = image.dim(3);
  for (int64_t y = 0; y < h; ++y) {
    std::cout << "      ";
    for (int64_t x = 0; x < w; ++x) std::printf("%5.0f", static_cast<double>(image.at({0, 0, y, x})));
    std::cout << "\n";
  }
}

struct StepResult {
  std::string name;
  std::string output_shape;
  int64_t params;
  int64_t macs;
  double milliseconds;
};

class Tour {
 public:
  // Runs one convolution, prints its shapes, cost and (leading) output values.
  Tensor conv(const std::string& name, const ConvSpec& spec, const Tensor& x, const Tensor& w) {
    const auto start = std::chrono::steady_clock::now();
    Tensor y = reference::convolution(spec, x, w);
    const double ms = elapsed_ms(start);
    const LayerCost cost = conv_cost(spec, x.shape());
    std::cout << "  " << name << "\n    " << describe(spec) << "\n    input " << to_string(x.shape()) << "  kernel "
              << to_string(w.shape()) << "  ->  output " << to_string(y.shape()) << "   params " << cost.params()
              << ", MACs " << cost.macs << "\n    output " << values_of(y) << "\n";
    results_.push_back({name, to_string(y.shape()), cost.params(), cost.macs, ms});
    return y;
  }

  // Runs a composite whose stage weights are filled by `weight_of(stage index)`.
  Tensor composite(const std::string& name, const Composite& c, const Tensor& x,
                   const std::function<Tensor(size_t, const Shape&)>& weight_of) {
    std::vector<Tensor> weights;
    std::vector<StageWeights> stage_weights;
    for (const ConvSpec& stage : conv_stages(c)) weights.push_back(weight_of(weights.size(), weight_shape(stage)));
    for (const Tensor& w : weights) stage_weights.push_back({w.view(), std::nullopt});
    const auto start = std::chrono::steady_clock::now();
    Tensor y = reference::run(c, x, stage_weights);
    const double ms = elapsed_ms(start);
    const CompositeCost cost = composite_cost(c, x.shape());
    std::cout << "  " << name << " (" << c.kind << ")\n";
    for (size_t i = 0; i < c.stages.size(); ++i)
      std::cout << "    stage " << i + 1 << " " << c.stages[i].name << ": " << to_string(cost.stages[i].input_shape)
                << " -> " << to_string(cost.stages[i].output_shape) << "   params " << cost.stages[i].params()
                << ", MACs " << cost.stages[i].macs << "\n";
    std::cout << "    total params " << cost.total.params() << ", MACs " << cost.total.macs << "\n";
    results_.push_back({name, to_string(y.shape()), cost.total.params(), cost.total.macs, ms});
    return y;
  }

  void summary() const {
    std::cout << "\nSummary\n";
    std::printf("  %-40s %-20s %10s %12s %10s\n", "step", "output", "params", "MACs", "time ms");
    for (const auto& r : results_)
      std::printf("  %-40s %-20s %10lld %12lld %10.3f\n", r.name.c_str(), r.output_shape.c_str(),
                  static_cast<long long>(r.params), static_cast<long long>(r.macs), r.milliseconds);
  }

 private:
  static double elapsed_ms(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  std::vector<StepResult> results_;
};

ConvSpec conv1d(int64_t kernel, std::vector<int64_t> pads = {0}, int64_t stride = 1, int64_t dilation = 1) {
  return {.rank = 1, .kernel = {kernel}, .stride = {stride}, .dilation = {dilation},
          .padding = Padding::symmetric(std::move(pads))};
}

void run_demo() {
  Tour tour;
  std::cout << "1D convolution (PyTorch nn.Conv1d, x = [1..6], every weight 2)\n";
  const Tensor x = ramp({1, 1, 6});
  for (int64_t k : {1, 2, 3}) tour.conv("conv1d k=" + std::to_string(k), conv1d(k), x, Tensor({1, 1, k}, 2.0f));
  tour.conv("conv1d k=3 padding=1", conv1d(3, {1}), x, Tensor({1, 1, 3}, 2.0f));
  tour.conv("conv1d k=3 stride=3", conv1d(3, {0}, 3), x, Tensor({1, 1, 3}, 2.0f));
  tour.conv("conv1d k=3 dilation=2 (atrous)", conv1d(3, {0}, 1, 2), x, Tensor({1, 1, 3}, 2.0f));

  std::cout << "\nTensorFlow padding='SAME' on ones (channels_last)\n";
  for (int rank = 1; rank <= 3; ++rank) {
    ConvSpec same{.rank = rank, .kernel = {3}, .padding = Padding::same(), .layout = Layout::channels_last};
    Shape input{1}, kernel;
    for (int i = 0; i < rank; ++i) input.push_back(5), kernel.push_back(3);
    input.push_back(1);
    kernel.insert(kernel.end(), {1, 1});
    tour.conv("tf.nn.conv" + std::to_string(rank) + "d SAME ones", same, Tensor(input, 1.0f), Tensor(kernel, 1.0f));
  }

  std::cout << "\nGrouped and depthwise (two channels [1..6] and [10..60])\n";
  Tensor two({1, 2, 6});
  for (int64_t i = 0; i < 6; ++i) two.at({0, 0, i}) = static_cast<float>(i + 1), two.at({0, 1, i}) = 10.0f * static_cast<float>(i + 1);
  tour.conv("grouped conv1d groups=2", {.rank = 1, .in_channels = 2, .out_channels = 2, .kernel = {1}, .groups = 2}, two,
            Tensor({2, 1, 1}, {2.0f, 4.0f}));
  tour.conv("depthwise conv1d multiplier=2", {.rank = 1, .in_channels = 2, .out_channels = 4, .kernel = {1}, .groups = 2},
            two, Tensor({4, 1, 1}, {2.0f, 4.0f, 6.0f, 8.0f}));

  std::cout << "\nTrue convolution versus cross-correlation (flip)\n";
  const Tensor g({1, 1, 3}, {1.0f, 2.0f, 3.0f});
  tour.conv("cross-correlation with g=[1,2,3]", conv1d(3), x, g);
  ConvSpec flipped = conv1d(3);
  flipped.flip = true;
  tour.conv("true convolution with g=[1,2,3]", flipped, x, g);

  std::cout << "\nTransposed convolution (upsampling 2x2 -> 4x4, stride 2)\n";
  tour.conv("conv_transpose2d k=2 s=2",
            {.rank = 2, .kernel = {2}, .stride = {2}, .transposed = true}, ramp({1, 1, 2, 2}), Tensor({1, 1, 2, 2}, 1.0f));

  std::cout << "\nSobel edge filter on a 12x12 square, full 3x3 and spatially separable [1,2,1]^T [-1,0,1]\n";
  const Tensor sobel_x({1, 1, 3, 3}, {-1, 0, 1, -2, 0, 2, -1, 0, 1});
  const SeparableFactors factors = factor_separable(sobel_x.reshaped({3, 3}));
  std::cout << "  factor_separable(sobel_x): column " << values_of(Tensor({3}, factors.factors[0])) << ", row "
            << values_of(Tensor({3}, factors.factors[1])) << "\n";
  const ConvSpec sobel{.rank = 2, .kernel = {3, 3}, .padding = Padding::valid()};
  const Tensor image = square_image();
  const Tensor edges = tour.conv("sobel-x 3x3", sobel, image, sobel_x);
  print_grid(edges);
  tour.composite("sobel-x separable", spatial_separable(sobel), image, [&](size_t i, const Shape& shape) {
    return Tensor(shape, factors.factors[i]);
  });

  std::cout << "\nCosts of the seeds' 7x7x3 -> 5x5x128 layer with 3x3 filters (channels_last)\n";
  const ConvSpec layer{.rank = 2, .in_channels = 3, .out_channels = 128, .kernel = {3, 3}, .layout = Layout::channels_last};
  const Tensor rgb = ramp({1, 7, 7, 3}, 0.0f);
  tour.conv("standard 3x3 conv", layer, rgb, Tensor(weight_shape(layer), 0.01f));
  tour.composite("depthwise separable", depthwise_separable(layer), rgb,
                 [](size_t, const Shape& shape) { return Tensor(shape, 0.01f); });
  tour.composite("flattened", flattened(layer), rgb, [](size_t, const Shape& shape) { return Tensor(shape, 0.01f); });

  std::cout << "\nShuffled grouped convolution (ShuffleNet: GConv 1x1, shuffle, GConv 1x1; 6 channels, 3 groups)\n";
  const ConvSpec gconv = pointwise_grouped(2, 6, 6, 3);
  tour.composite("shuffled grouped", shuffled_grouped(gconv, gconv), ramp({1, 6, 4, 4}),
                 [](size_t, const Shape& shape) { return Tensor(shape, 1.0f); });
  std::cout << "  channel_shuffle([0..5], groups=3) = "
            << values_of(reference::channel_shuffle(ramp({1, 6, 1}, 0.0f), 3, Layout::channels_first)) << "\n";

  std::vector<ConvSpec> stack(3, ConvSpec{.rank = 2, .kernel = {3, 3}});
  std::cout << "\nReceptive field of three stacked 3x3 convolutions: " << receptive_field(stack).size[0] << "x"
            << receptive_field(stack).size[1] << " (the same as one 5x5 plus one 3x3, or one 7x7)\n";
  tour.summary();
}

}  // namespace

void add_demo_command(CLI::App& app) {
  CLI::App* demo = app.add_subcommand("demo", "Walk through every convolution of the seeds on embedded data");
  auto out = std::make_shared<std::string>("convkit-demo");
  demo->add_option("--out", *out, "folder for the pictures and data files")->capture_default_str();
  demo->callback([out] {
    draw::prepare_output_dir(*out, "--out");
    run_demo();
    write_demo_pictures(*out);
    demonstrate_learning(*out);
    const std::string gallery = *out + "/gallery";
    draw::prepare_output_dir(gallery, "--out");
    const size_t files = write_gallery(gallery).size();
    std::cout << "\nConvolution arithmetic gallery (convkit draw --gallery): " << files
              << " files (each diagram as animated SVG and static PNG, and index.html)\n"
              << "\nPictures: " << *out << "/*.png (titled, labelled)\nGallery:  " << gallery
              << "/index.html (animated diagrams; open in a browser)\n";
  });
}

}  // namespace convkit::cli
