// The direct depthwise convolution against the reference: hundreds of randomized depthwise specs (rank
// 1-3, both layouts, multipliers 1-3, strides and dilations up to 4, every padding kind and mode, flip,
// bias, 1-wide inputs, kernel == input) on every ISA this CPU runs, 1 and 2 threads bit-identical; the
// suite's depthwise layer shapes; and the plan's choice. Integer-valued data make float sums exact
// whatever the summation order, so those comparisons are exact.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "../src/cpu/depthwise_convolution.h"
#include "../src/cpu/isa.h"
#include "../src/cpu/isa_kernels.h"
#include "convkit/conv.h"
#include "algorithm_support.h"

namespace convkit {
namespace {

using testing::kSeed;

// A random depthwise problem: channel counts around the vector widths (tails of 4, 8 and 16 lanes).
testing::Problem random_depthwise_problem(std::mt19937& rng) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  testing::ProblemOptions options;
  options.allow_transposed = false;
  options.max_spatial = 11;
  testing::Problem p = testing::random_problem(rng, options);
  ConvSpec& s = p.spec;
  const Shape spatial = input_spatial_of(s, p.input_shape);
  static constexpr int64_t kChannels[] = {1, 2, 3, 5, 8, 15, 16, 17, 33};
  s.in_channels = s.groups = kChannels[pick(0, std::size(kChannels) - 1)];
  s.out_channels = s.in_channels * pick(1, 3);
  p.input_shape = make_activation_shape(s, p.input_shape[0], s.in_channels, spatial);
  return p;
}

TEST(DepthwiseConvolution, MatchesReferenceExactlyOnIntegerData) {
  std::mt19937 rng(kSeed);
  for (int trial = 0; trial < 600; ++trial) {
    const testing::Problem problem = random_depthwise_problem(rng);
    ASSERT_EQ(cpu::DepthwiseConvolution::cannot(problem.spec), "") << problem.describe();
    const testing::ProblemData data = testing::random_data(problem, rng, /*integers=*/true);
    const Tensor expected = reference::convolution(problem.spec, data.input, data.weight, data.bias_view());
    ASSERT_TRUE(testing::matches_on_every_isa<cpu::DepthwiseConvolution>(problem, data, expected, 0.0))
        << "trial " << trial;
  }
}

TEST(DepthwiseConvolution, MatchesReferenceOnRealData) {
  std::mt19937 rng(kSeed + 1);
  for (int trial = 0; trial < 150; ++trial) {
    const testing::Problem problem = random_depthwise_problem(rng);
    const testing::ProblemData data = testing::random_data(problem, rng);
    const Tensor expected = reference::convolution(problem.spec, data.input, data.weight, data.bias_view());
    // Each output is a sum of at most K = taps (+ bias) products of values in [-1, 1): float rounding
    // stays below K * 2^-24 * (sum of |terms|) <= K^2 * 6e-8.
    const double k = static_cast<double>(data.weight.numel() / problem.spec.out_channels) + 1.0;
    ASSERT_TRUE(testing::matches_on_every_isa<cpu::DepthwiseConvolution>(problem, data, expected, 1e-6 + k * k * 6e-8))
        << "trial " << trial;
  }
}

// The suite's depthwise layers, scaled down but large enough to run on 2 threads (>= 2^20 multiply-adds):
// full vectors along channels and width, many pixel passes, stride 2, 5x5, 3D, a multiplier, batch > 1,
// and padding modes.
TEST(DepthwiseConvolution, MatchesReferenceOnLayerShapes) {
  std::mt19937 rng(kSeed + 2);
  struct Layer {
    int rank;
    int64_t channels, multiplier, kernel, stride, pad, dilation, spatial, batch;
    PaddingMode mode;
  };
  for (const Layer& l : {Layer{2, 32, 1, 3, 1, 1, 1, 64, 1, PaddingMode::zeros},
                         Layer{2, 96, 1, 3, 2, 1, 1, 81, 1, PaddingMode::zeros},
                         Layer{2, 240, 1, 5, 1, 2, 1, 28, 1, PaddingMode::zeros},
                         Layer{3, 16, 1, 3, 1, 1, 1, 20, 1, PaddingMode::zeros},
                         Layer{2, 24, 2, 3, 1, 2, 2, 40, 2, PaddingMode::reflect},
                         Layer{1, 64, 1, 7, 3, 3, 1, 4000, 2, PaddingMode::circular},
                         Layer{2, 40, 3, 3, 2, 1, 1, 65, 1, PaddingMode::replicate}})
    for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
      testing::Problem p;
      const int64_t c = l.channels;
      p.spec = {.rank = l.rank, .in_channels = c, .out_channels = c * l.multiplier, .kernel = {l.kernel},
                .stride = {l.stride}, .dilation = {l.dilation}, .padding = Padding::symmetric({l.pad}),
                .padding_mode = l.mode, .groups = c, .bias = true, .layout = layout};
      p.input_shape = make_activation_shape(p.spec, l.batch, c, Shape(static_cast<size_t>(l.rank), l.spatial));
      const testing::ProblemData data = testing::random_data(p, rng, /*integers=*/true);
      const Tensor expected = reference::convolution(p.spec, data.input, data.weight, data.bias_view());
      ASSERT_TRUE(testing::matches_on_every_isa<cpu::DepthwiseConvolution>(p, data, expected, 0.0, 2, 1));
    }
}

// The blocking edges: channels_first rows 1 to 4+ vectors wide (several rows per pass: 8, 4, 2, 1 and
// remainders), planes taller than a 16-row band, 3D bands across depths; channels_last inputs on both
// sides of the L2 threshold for channel strips (1 MiB; 65 channels of 64 x 64 are above), border columns of both
// sides in one listed run (wide padding, stride 2, dilation 2), every padding mode.
TEST(DepthwiseConvolution, MatchesReferenceAcrossBlockingEdges) {
  std::mt19937 rng(kSeed + 4);
  struct Case {
    int rank;
    int64_t channels, width, height, kernel, stride, dilation, pad;
    PaddingMode mode;
  };
  for (const Case& k : {Case{2, 3, 5, 37, 3, 1, 1, 1, PaddingMode::zeros},
                        Case{2, 5, 16, 19, 5, 1, 1, 2, PaddingMode::reflect},
                        Case{2, 4, 33, 21, 3, 2, 1, 3, PaddingMode::zeros},
                        Case{2, 2, 50, 17, 3, 1, 2, 2, PaddingMode::replicate},
                        Case{2, 2, 70, 34, 5, 1, 1, 2, PaddingMode::circular},
                        Case{3, 3, 9, 18, 3, 1, 1, 1, PaddingMode::zeros},
                        Case{2, 65, 64, 64, 3, 1, 1, 1, PaddingMode::zeros},
                        Case{2, 65, 9, 7, 7, 1, 1, 3, PaddingMode::zeros}})
    for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
      testing::Problem p;
      const int64_t c = k.channels;
      p.spec = {.rank = k.rank, .in_channels = c, .out_channels = c, .kernel = {k.kernel}, .stride = {k.stride},
                .dilation = {k.dilation}, .padding = Padding::symmetric({k.pad}), .padding_mode = k.mode, .groups = c,
                .bias = true, .layout = layout};
      Shape spatial{k.height, k.width};
      if (k.rank == 3) spatial = Shape{k.height / 2, k.height, k.width};
      p.input_shape = make_activation_shape(p.spec, 1, c, spatial);
      const testing::ProblemData data = testing::random_data(p, rng, /*integers=*/true);
      const Tensor expected = reference::convolution(p.spec, data.input, data.weight, data.bias_view());
      ASSERT_TRUE(testing::matches_on_every_isa<cpu::DepthwiseConvolution>(p, data, expected, 0.0));
    }
}

// The channels_last W-reuse kernel (kw 3, 5, 7, W stride 1 or 2, dilation 1): interior runs of 16- and
// 8-pixel passes (10 and 5 on AVX2) and a few pixels left to the tap loop, full vectors and channel tails
// (17, 40 channels), multipliers 1 and 2, ranks 1-3, zero and reflect padding; dilation 2 takes the tap loop.
TEST(DepthwiseConvolution, ChannelsLastReusesInputsAcrossWTaps) {
  std::mt19937 rng(kSeed + 6);
  for (int rank = 1; rank <= 3; ++rank)
    for (int64_t kernel : {3, 5, 7})
      for (int64_t stride : {1, 2})
        for (int64_t channels : {17, 40}) {
          const int64_t multiplier = 1 + (kernel + stride + channels) % 2;
          const int64_t dilation = kernel == 3 && stride == 1 && channels == 17 ? 2 : 1;
          const int64_t width = (kernel - 1) * dilation + stride * (16 + 8 + 3 + rank);
          testing::Problem p;
          p.spec = {.rank = rank, .in_channels = channels, .out_channels = channels * multiplier,
                    .kernel = {kernel}, .stride = {stride}, .dilation = {dilation},
                    .padding = Padding::symmetric({kernel / 2}),
                    .padding_mode = rank == 2 ? PaddingMode::reflect : PaddingMode::zeros, .groups = channels,
                    .bias = true, .layout = Layout::channels_last};
          Shape spatial(static_cast<size_t>(rank), kernel + 1);
          spatial.back() = width;
          p.input_shape = make_activation_shape(p.spec, 2, channels, spatial);
          const testing::ProblemData data = testing::random_data(p, rng, /*integers=*/true);
          const Tensor expected = reference::convolution(p.spec, data.input, data.weight, data.bias_view());
          ASSERT_TRUE(testing::matches_on_every_isa<cpu::DepthwiseConvolution>(p, data, expected, 0.0, 1, 2));
        }
}

// The channels_first rows kernel with overlapping rows (one D tap, H stride and dilation 1, kh 3 or 5: each
// staged row loaded once for the kh output rows reading it): heights giving passes of 8, 4, 2 and 1 rows,
// widths of 1-5 vectors with tails, kh != kw, a W stride and dilation, multipliers 1 and 2, 3D with one D
// tap, zero and reflect padding; kh 7 and an H dilation of 2 take the plain tap loop beside them.
TEST(DepthwiseConvolution, ChannelsFirstSharesStagedRowsAcrossKernelRows) {
  std::mt19937 rng(kSeed + 7);
  struct Case {
    int rank;
    int64_t kh, kw, height, width, stride_w, dilation_h, dilation_w, multiplier;
    PaddingMode mode;
  };
  for (const Case& k : {Case{2, 5, 5, 28, 28, 1, 1, 1, 1, PaddingMode::zeros},
                        Case{2, 3, 3, 31, 70, 1, 1, 1, 2, PaddingMode::zeros},
                        Case{2, 5, 3, 15, 17, 2, 1, 1, 1, PaddingMode::reflect},
                        Case{2, 3, 5, 9, 5, 1, 1, 2, 1, PaddingMode::zeros},
                        Case{3, 5, 5, 11, 40, 1, 1, 1, 2, PaddingMode::zeros},
                        Case{2, 7, 3, 20, 33, 1, 1, 1, 1, PaddingMode::zeros},
                        Case{2, 3, 3, 20, 33, 1, 2, 1, 1, PaddingMode::zeros}}) {
    const int64_t c = 3;
    testing::Problem p;
    p.spec = {.rank = k.rank, .in_channels = c, .out_channels = c * k.multiplier,
              .kernel = k.rank == 3 ? std::vector<int64_t>{1, k.kh, k.kw} : std::vector<int64_t>{k.kh, k.kw},
              .stride = k.rank == 3 ? std::vector<int64_t>{2, 1, k.stride_w} : std::vector<int64_t>{1, k.stride_w},
              .dilation = k.rank == 3 ? std::vector<int64_t>{1, k.dilation_h, k.dilation_w}
                                      : std::vector<int64_t>{k.dilation_h, k.dilation_w},
              .padding = Padding::same(), .padding_mode = k.mode, .groups = c, .bias = true,
              .layout = Layout::channels_first};
    const Shape spatial = k.rank == 3 ? Shape{3, k.height, k.width} : Shape{k.height, k.width};
    p.input_shape = make_activation_shape(p.spec, 2, c, spatial);
    const testing::ProblemData data = testing::random_data(p, rng, /*integers=*/true);
    const Tensor expected = reference::convolution(p.spec, data.input, data.weight, data.bias_view());
    ASSERT_TRUE(testing::matches_on_every_isa<cpu::DepthwiseConvolution>(p, data, expected, 0.0, 1, 2))
        << p.describe();
  }
}

// Plans write outputs of any strides: channels_last depthwise in place (run_strided), channels_first
// through a staging copy. The view holds every other pixel along each axis and the channels from the
// second of a larger NaN-filled tensor; the cells between stay NaN.
TEST(DepthwiseConvolution, WritesStridedOutputViews) {
  std::mt19937 rng(kSeed + 4);
  for (int trial = 0; trial < 100; ++trial) {
    const testing::Problem problem = random_depthwise_problem(rng);
    const ConvSpec& spec = problem.spec;
    const testing::ProblemData data = testing::random_data(problem, rng, /*integers=*/true);
    const Tensor expected = reference::convolution(spec, data.input, data.weight, data.bias_view());
    const bool last = spec.layout == Layout::channels_last;
    const size_t channel_axis = last ? static_cast<size_t>(spec.rank) + 1 : 1;
    Shape big = expected.shape();
    for (size_t axis = 1; axis < big.size(); ++axis)
      big[axis] = axis == channel_axis ? big[axis] + 2 : 2 * big[axis] + 1;
    Tensor storage(big, std::numeric_limits<float>::quiet_NaN());
    Shape strides = contiguous_strides(big);
    float* first = storage.data() + strides[channel_axis];
    for (size_t axis = 1; axis < big.size(); ++axis)
      if (axis != channel_axis) first += strides[axis], strides[axis] *= 2;
    const TensorView view(first, expected.shape(), strides);
    ConvPlan(spec, data.weight, data.bias_view(), {.threads = 2}).run(data.input, view);
    ASSERT_EQ(testing::max_abs_difference(view, expected), 0.0) << "trial " << trial << ": " << problem.describe();
    const auto nan =
        std::count_if(storage.values().begin(), storage.values().end(), [](float v) { return std::isnan(v); });
    ASSERT_EQ(nan, storage.numel() - expected.numel()) << "cells outside the view written: " << problem.describe();
  }
}

TEST(DepthwiseConvolution, PlansChooseItForDepthwiseSpecsOnly) {
  std::mt19937 rng(kSeed + 3);
  for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
    const ConvSpec depthwise{.rank = 2, .in_channels = 8, .out_channels = 16, .kernel = {3}, .stride = {2},
                             .padding = Padding::same(), .groups = 8, .layout = layout};
    const ConvPlan plan(depthwise, testing::random_tensor(weight_shape(depthwise), rng, true));
    EXPECT_EQ(plan.algorithm().rfind("depthwise.", 0), 0u) << plan.algorithm();
    EXPECT_NE(plan.explain().find("depthwise: chosen, direct depthwise"), std::string::npos) << plan.explain();

    ConvSpec grouped = depthwise;
    grouped.groups = 4;
    const ConvPlan dense(grouped, testing::random_tensor(weight_shape(grouped), rng, true));
    EXPECT_NE(dense.explain().find("depthwise: declined: not depthwise: groups=4 != in_channels=8"), std::string::npos)
        << dense.explain();
    EXPECT_EQ(dense.explain().find("depthwise: chosen"), std::string::npos) << dense.explain();

    // Two input channels, 32 outputs each: channels_last vectorizes along the output channels instead.
    const ConvSpec single{.rank = 2, .in_channels = 2, .out_channels = 64, .kernel = {3}, .groups = 2, .layout = layout};
    const ConvPlan wide(single, testing::random_tensor(weight_shape(single), rng, true));
    if (layout == Layout::channels_last) {
      EXPECT_NE(wide.explain().find("depthwise: declined: multiplier 32 > 2 channels in channels_last"),
                std::string::npos)
          << wide.explain();
      EXPECT_NE(wide.algorithm().rfind("depthwise.", 0), 0u) << wide.algorithm();  // grouped or gemm
    } else {
      EXPECT_EQ(wide.algorithm().rfind("depthwise.", 0), 0u) << wide.algorithm();
    }

    ConvSpec transposed = depthwise;
    transposed.transposed = true;
    EXPECT_EQ(cpu::DepthwiseConvolution::cannot(transposed), "transposed convolution");
    EXPECT_THROW(ConvPlan(transposed, testing::random_tensor(weight_shape(transposed), rng, true), std::nullopt,
                          {.algorithm = "depthwise"}),
                 Error);
  }
}

// The zero insertion of the strided backward data (DepthwiseKernels::expand), every ISA: values at every
// step-th float, zeros (not products: NaN and Inf stay put) between them, nothing written past the last
// value (n of each vector tail, steps with and without the vector path).
TEST(DepthwiseKernels, ExpandInsertsZerosOnEveryIsa) {
  for (cpu::Isa isa : cpu::supported_isas())
    for (int64_t step = 1; step <= 4; ++step)
      for (int64_t n = 1; n <= 40; ++n) {
        std::vector<float> src(static_cast<size_t>(n)), dst(static_cast<size_t>(n * step + 8), 7.0f);
        for (int64_t i = 0; i < n; ++i) src[static_cast<size_t>(i)] = static_cast<float>(i + 1);
        src[0] = std::numeric_limits<float>::infinity();
        src[static_cast<size_t>(n - 1)] = std::numeric_limits<float>::quiet_NaN();
        cpu::isa_kernels(isa).depthwise->expand(src.data(), n, step, dst.data());
        for (int64_t j = 0; j < n * step + 8; ++j) {
          const float got = dst[static_cast<size_t>(j)];
          const bool value = j % step == 0 && j / step < n, written = j <= (n - 1) * step;
          const float want = value ? src[static_cast<size_t>(j / step)] : written ? 0.0f : 7.0f;
          ASSERT_TRUE(got == want || (std::isnan(got) && std::isnan(want)))
              << to_string(isa) << " step " << step << " n " << n << " at " << j << ": " << got << " != " << want;
        }
      }
}

}  // namespace
}  // namespace convkit
