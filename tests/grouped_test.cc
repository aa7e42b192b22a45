// The grouped channels_last algorithm (src/cpu/grouped_convolution.h) against the reference engine on
// randomized grouped specs, on every ISA, 1 and 2 threads; and the plan's choice.
#include <gtest/gtest.h>

#include <random>

#include "../src/cpu/grouped_convolution.h"
#include "convkit/conv.h"
#include "convkit/reference.h"
#include "convkit/shape.h"
#include "algorithm_support.h"

namespace convkit {
namespace {

// A random problem the grouped algorithm accepts: channels_last, groups > 1, Cout/g a power of two
// (1..32, so vectors hold several groups, one group, or a group spans vectors), Cin/g <= Cout/g.
testing::Problem random_grouped_problem(std::mt19937& rng) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  testing::ProblemOptions options;
  options.allow_transposed = false;
  options.max_spatial = 11;
  testing::Problem p = testing::random_problem(rng, options);
  ConvSpec& s = p.spec;
  const Shape spatial = input_spatial_of(s, p.input_shape);
  s.layout = Layout::channels_last;
  s.groups = pick(2, 9);
  const int64_t cout_g = int64_t{1} << pick(0, 5);
  s.out_channels = s.groups * cout_g;
  s.in_channels = s.groups * pick(1, cout_g);
  p.input_shape = make_activation_shape(s, p.input_shape[0], s.in_channels, spatial);
  return p;
}

TEST(GroupedConvolution, MatchesReferenceExactlyOnIntegerData) {
  std::mt19937 rng(testing::kSeed);
  for (int trial = 0; trial < 300; ++trial) {
    const testing::Problem problem = random_grouped_problem(rng);
    ASSERT_EQ(cpu::GroupedConvolution::cannot(problem.spec), "") << problem.describe();
    const testing::ProblemData data = testing::random_data(problem, rng, /*integers=*/true);
    const Tensor expected = reference::convolution(problem.spec, data.input, data.weight, data.bias_view());
    ASSERT_TRUE(testing::matches_on_every_isa<cpu::GroupedConvolution>(problem, data, expected, 0.0))
        << "trial " << trial;
  }
}

// A ResNeXt-like layer, big enough for several column chunks, vectors and threads.
TEST(GroupedConvolution, ResNeXtLayerMatchesReference) {
  std::mt19937 rng(testing::kSeed + 1);
  const ConvSpec spec{.rank = 2, .in_channels = 64, .out_channels = 64, .kernel = {3, 3},
                      .padding = Padding::symmetric({1, 1}), .groups = 16, .bias = true,
                      .layout = Layout::channels_last};
  const testing::Problem problem{spec, Shape{2, 9, 150, 64}};
  const testing::ProblemData data = testing::random_data(problem, rng, /*integers=*/true);
  const Tensor expected = reference::convolution(spec, data.input, data.weight, data.bias_view());
  ASSERT_TRUE(testing::matches_on_every_isa<cpu::GroupedConvolution>(problem, data, expected, 0.0, 2, 1));
}

TEST(GroupedConvolution, PlanChoosesItForFewChannelsPerGroup) {
  const ConvSpec resnext{.rank = 2, .in_channels = 128, .out_channels = 128, .kernel = {3, 3},
                         .padding = Padding::symmetric({1, 1}), .groups = 32, .layout = Layout::channels_last};
  const ConvPlan plan(resnext, Tensor(weight_shape(resnext)));
  EXPECT_EQ(plan.algorithm().rfind("grouped.", 0), 0u) << plan.explain();
  ConvSpec wide = resnext;
  wide.groups = 4;  // 32 channels per group: gemm
  EXPECT_NE(ConvPlan(wide, Tensor(weight_shape(wide))).explain().find("grouped: declined: in_channels/groups=32"),
            std::string::npos);
  ConvSpec first = resnext;
  first.layout = Layout::channels_first;
  EXPECT_NE(ConvPlan(first, Tensor(weight_shape(first))).explain().find("grouped: declined: channels_first"),
            std::string::npos);
  ConvSpec odd = resnext;
  odd.out_channels = 96;  // 3 per group
  EXPECT_NE(ConvPlan(odd, Tensor(weight_shape(odd))).explain().find("not a power of two"), std::string::npos);
}

}  // namespace
}  // namespace convkit
