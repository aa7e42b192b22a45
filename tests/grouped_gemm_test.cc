// The grouped_gemm algorithm (src/cpu/grouped_gemm_convolution.h) against the reference engine on
// randomized grouped channels_last specs, on every ISA, 1 and 2 threads; and the plan's choice.
#include <gtest/gtest.h>

#include <random>

#include "../src/cpu/grouped_gemm_convolution.h"
#include "convkit/conv.h"
#include "convkit/reference.h"
#include "convkit/shape.h"
#include "algorithm_support.h"

namespace convkit {
namespace {

// A random grouped channels_last problem; channels per group from 1 to 40, and the fitted tile widths
// (16, 80, 112) with one channel more and less, so every kernel shape runs with full and partial panels.
testing::Problem random_grouped_problem(std::mt19937& rng) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  testing::ProblemOptions options;
  options.allow_transposed = false;
  options.max_spatial = 9;
  testing::Problem p = testing::random_problem(rng, options);
  ConvSpec& s = p.spec;
  const Shape spatial = input_spatial_of(s, p.input_shape);
  s.layout = Layout::channels_last;
  s.groups = pick(2, 4);
  const int64_t fitted[] = {16, 80, 112};
  const int64_t cout_g = pick(0, 2) == 0 ? fitted[pick(0, 2)] + pick(-1, 1) : pick(1, 40);
  s.out_channels = s.groups * cout_g;
  s.in_channels = s.groups * pick(1, 24);
  p.input_shape = make_activation_shape(s, p.input_shape[0], s.in_channels, spatial);
  return p;
}

TEST(GroupedGemmConvolution, MatchesReferenceExactlyOnIntegerData) {
  std::mt19937 rng(testing::kSeed);
  for (int trial = 0; trial < 200; ++trial) {
    const testing::Problem problem = random_grouped_problem(rng);
    ASSERT_EQ(cpu::GroupedGemmConvolution::cannot(problem.spec), "") << problem.describe();
    const testing::ProblemData data = testing::random_data(problem, rng, /*integers=*/true);
    const Tensor expected = reference::convolution(problem.spec, data.input, data.weight, data.bias_view());
    ASSERT_TRUE(testing::matches_on_every_isa<cpu::GroupedGemmConvolution>(problem, data, expected, 0.0))
        << "trial " << trial;
  }
}

// ShuffleNet's grouped 1x1 (3 groups of 80), big enough for several pixel blocks per thread, with batch 2.
TEST(GroupedGemmConvolution, ShuffleNetLayerMatchesReference) {
  std::mt19937 rng(testing::kSeed + 1);
  const ConvSpec spec{.rank = 2, .in_channels = 240, .out_channels = 240, .kernel = {1, 1}, .groups = 3,
                      .bias = true, .layout = Layout::channels_last};
  const testing::Problem problem{spec, Shape{2, 13, 29, 240}};
  const testing::ProblemData data = testing::random_data(problem, rng, /*integers=*/true);
  const Tensor expected = reference::convolution(spec, data.input, data.weight, data.bias_view());
  ASSERT_TRUE(testing::matches_on_every_isa<cpu::GroupedGemmConvolution>(problem, data, expected, 0.0));
}

std::string algorithm_of(const ConvSpec& spec) { return ConvPlan(spec, Tensor(weight_shape(spec))).algorithm(); }

TEST(GroupedGemmConvolution, PlanChoosesItForManyChannelsPerGroup) {
  const ConvSpec shufflenet{.rank = 2, .in_channels = 240, .out_channels = 240, .kernel = {1, 1}, .groups = 3,
                            .layout = Layout::channels_last};
  const ConvPlan plan(shufflenet, Tensor(weight_shape(shufflenet)));
  EXPECT_EQ(plan.algorithm().rfind("grouped_gemm.", 0), 0u) << plan.explain();
  ConvSpec first = shufflenet;
  first.layout = Layout::channels_first;
  EXPECT_NE(ConvPlan(first, Tensor(weight_shape(first))).explain().find("grouped_gemm: declined: channels_first"),
            std::string::npos);
  // ResNeXt 3x3 layers: 4 and 8 channels per group stay with `grouped`, 16 go here, as do 8 with stride 2.
  ConvSpec resnext{.rank = 2, .in_channels = 512, .out_channels = 512, .kernel = {3, 3},
                   .padding = Padding::symmetric({1, 1}), .groups = 32, .layout = Layout::channels_last};
  EXPECT_EQ(algorithm_of(resnext).rfind("grouped_gemm.", 0), 0u);
  resnext.in_channels = resnext.out_channels = 256;
  EXPECT_EQ(algorithm_of(resnext).rfind("grouped.", 0), 0u);
  resnext.stride = {2, 2};
  EXPECT_EQ(algorithm_of(resnext).rfind("grouped_gemm.", 0), 0u);
}

TEST(GroupedGemmConvolution, PlanTakesSpatialForFewChannelsPerGroupInChannelsFirst) {
  ConvSpec resnext{.rank = 2, .in_channels = 128, .out_channels = 128, .kernel = {3, 3},
                   .padding = Padding::symmetric({1, 1}), .groups = 32, .layout = Layout::channels_first};
  EXPECT_EQ(algorithm_of(resnext).rfind("spatial.", 0), 0u);
  ConvSpec strided = resnext;
  strided.stride = {2, 2};
  EXPECT_EQ(algorithm_of(strided).rfind("gemm.", 0), 0u);
  ConvSpec wide = resnext;
  wide.groups = 8;  // 16 channels per group
  EXPECT_EQ(algorithm_of(wide).rfind("spatial.", 0), std::string::npos);
}

}  // namespace
}  // namespace convkit
