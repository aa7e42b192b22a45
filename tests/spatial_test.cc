// The spatial (few-channel, vectorized along W) convolution against the reference: every ISA this CPU
// runs, randomized specs with every option in both layouts, the suite's few-channel layer shapes scaled
// down, 1 and 2 threads, and the plan's choice. Integer-valued data make float sums exact whatever the
// summation order, so those comparisons are exact.
#include <gtest/gtest.h>

#include <random>

#include "../src/cpu/isa_kernels.h"
#include "../src/cpu/spatial_convolution.h"
#include "convkit/conv.h"
#include "algorithm_support.h"

namespace convkit {
namespace {

using testing::kSeed;

TEST(SpatialKernels, OneKernelPerChannelCountOnEveryIsa) {
  for (cpu::Isa isa : cpu::supported_isas()) {
    const auto kernels = cpu::isa_kernels(isa).spatial;
    ASSERT_EQ(kernels.size(), static_cast<size_t>(cpu::kMaxSpatialChannels)) << to_string(isa);
    for (size_t i = 0; i < kernels.size(); ++i) {
      EXPECT_EQ(kernels[i].channels, static_cast<int>(i + 1)) << kernels[i].name();
      EXPECT_EQ(kernels[i].isa, isa) << kernels[i].name();
      EXPECT_GE(kernels[i].pieces, 1) << kernels[i].name();
    }
  }
}

// A random forward problem with few channels (up to 4 in, 11 out per group: several channel blocks),
// every option of testing::random_problem, and a W axis wide enough for several vectors and tiles.
testing::Problem random_spatial_problem(std::mt19937& rng) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  testing::ProblemOptions options;
  options.allow_transposed = false;
  options.max_spatial = 9;
  testing::Problem p = testing::random_problem(rng, options);
  ConvSpec& s = p.spec;
  Shape spatial = input_spatial_of(s, p.input_shape);
  const bool depthwise = s.groups == s.in_channels && s.groups > 1;
  if (!depthwise) {
    s.in_channels = s.groups * pick(1, 4);
    s.out_channels = s.groups * pick(1, s.groups == 1 ? 11 : 4);
  }
  Shape wide = spatial;
  wide.back() = pick(1, s.rank == 3 ? 40 : 90);
  try {
    resolve_geometry(s, wide);
    spatial = wide;
  } catch (const Error&) {  // e.g. a kernel wider than the new W: keep the drawn size
  }
  p.input_shape = make_activation_shape(s, p.input_shape[0], s.in_channels, spatial);
  return p;
}

TEST(SpatialConvolution, MatchesReferenceExactlyOnIntegerData) {
  std::mt19937 rng(kSeed);
  for (int trial = 0; trial < 400; ++trial) {
    const testing::Problem problem = random_spatial_problem(rng);
    const testing::ProblemData data = testing::random_data(problem, rng, /*integers=*/true);
    const Tensor expected = reference::convolution(problem.spec, data.input, data.weight, data.bias_view());
    ASSERT_TRUE(testing::matches_on_every_isa<cpu::SpatialConvolution>(problem, data, expected, 0.0))
        << "trial " << trial;
  }
}

TEST(SpatialConvolution, MatchesReferenceOnRealData) {
  std::mt19937 rng(kSeed + 1);
  for (int trial = 0; trial < 150; ++trial) {
    const testing::Problem problem = random_spatial_problem(rng);
    const testing::ProblemData data = testing::random_data(problem, rng);
    const Tensor expected = reference::convolution(problem.spec, data.input, data.weight, data.bias_view());
    // A sum of K = taps * Cin/g products of values in [-1, 1): float rounding below K^2 * 6e-8.
    const double k = static_cast<double>(data.weight.numel() / problem.spec.out_channels);
    ASSERT_TRUE(testing::matches_on_every_isa<cpu::SpatialConvolution>(problem, data, expected, 1e-6 + k * k * 6e-8))
        << "trial " << trial;
  }
}

// The suite's few-channel rows scaled down, large enough that 2 threads really split the work, with W
// crossing the band width: Sobel, RGB x 3 filters, the 5x5x5 volume, a long 1D kernel, strided and
// dilated and reflect-padded variants.
TEST(SpatialConvolution, MatchesReferenceOnLayerShapes) {
  std::mt19937 rng(kSeed + 2);
  struct Layer {
    int rank;
    int64_t cin, cout, kernel, stride, pad, dilation, spatial, batch;
    PaddingMode mode;
  };
  for (const Layer& l : {Layer{2, 1, 1, 3, 1, 1, 1, 420, 1, PaddingMode::zeros},
                         Layer{2, 3, 3, 3, 1, 1, 1, 200, 2, PaddingMode::reflect},
                         Layer{3, 1, 3, 5, 1, 2, 1, 26, 1, PaddingMode::zeros},
                         Layer{1, 1, 2, 257, 1, 128, 1, 3000, 1, PaddingMode::circular},
                         Layer{2, 2, 5, 5, 2, 2, 1, 300, 1, PaddingMode::replicate},
                         Layer{2, 1, 8, 3, 1, 3, 3, 260, 1, PaddingMode::zeros},
                         Layer{1, 4, 3, 31, 3, 0, 2, 5000, 2, PaddingMode::zeros}})
    for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
      testing::Problem p;
      p.spec = {.rank = l.rank, .in_channels = l.cin, .out_channels = l.cout, .kernel = {l.kernel},
                .stride = {l.stride}, .dilation = {l.dilation}, .padding = Padding::symmetric({l.pad}),
                .padding_mode = l.mode, .bias = true, .flip = l.cin == 3, .layout = layout};
      p.input_shape = make_activation_shape(p.spec, l.batch, l.cin, Shape(static_cast<size_t>(l.rank), l.spatial));
      const testing::ProblemData data = testing::random_data(p, rng, /*integers=*/true);
      const Tensor expected = reference::convolution(p.spec, data.input, data.weight, data.bias_view());
      ASSERT_TRUE(testing::matches_on_every_isa<cpu::SpatialConvolution>(p, data, expected, 0.0, 2, 1));
    }
}

TEST(SpatialConvolution, PlanChoosesItForFewChannelsOnlyAndSaysWhy) {
  const ConvSpec sobel{.rank = 2, .in_channels = 1, .out_channels = 1, .kernel = {3}, .padding = Padding::same()};
  const ConvPlan plan(sobel, Tensor(weight_shape(sobel)));
  EXPECT_EQ(plan.algorithm().rfind("spatial.", 0), 0u) << plan.algorithm();
  EXPECT_NE(plan.explain().find("spatial: chosen, micro-kernel spatial."), std::string::npos) << plan.explain();

  const ConvSpec wide{.rank = 2, .in_channels = 64, .out_channels = 64, .kernel = {3}};
  const ConvPlan gemm(wide, Tensor(weight_shape(wide)));
  EXPECT_NE(gemm.explain().find("spatial: declined: Cin=64 > 4"), std::string::npos) << gemm.explain();
  EXPECT_EQ(gemm.explain().find("spatial: chosen"), std::string::npos) << gemm.explain();

  // Forced, it computes what it would not choose.
  const ConvPlan forced(wide, Tensor(weight_shape(wide)), std::nullopt, {.algorithm = "spatial"});
  EXPECT_EQ(forced.algorithm().rfind("spatial.", 0), 0u) << forced.algorithm();
  const ConvSpec transposed{.rank = 1, .in_channels = 1, .out_channels = 1, .kernel = {3}, .transposed = true};
  EXPECT_THROW(ConvPlan(transposed, Tensor(weight_shape(transposed)), std::nullopt, {.algorithm = "spatial"}), Error);
}

}  // namespace
}  // namespace convkit
