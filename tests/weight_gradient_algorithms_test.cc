// The weight-gradient algorithms of BackwardWeightsPlan's table (src/cpu/weight_gradient_algorithms.cc),
// each forced on randomized specs of its domain (rank 1-3, both layouts, stride, dilation, every padding
// kind and mode, flip, odd sizes, several 16-row bands and channel vectors, more taps than one call
// holds) against reference::convolution_backward_weights: exact on integer data (the float sums are
// exact in any order), on every ISA this CPU has, 1 and 2 threads bit-identical. Then the plan's choice.
#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "../src/cpu/isa.h"
#include "../src/cpu/weight_gradient.h"
#include "../src/cpu/weight_gradient_algorithm.h"
#include "algorithm_support.h"
#include "convkit/backward.h"
#include "convkit/backward_plan.h"
#include "convkit/error.h"

namespace convkit {
namespace {

using testing::kSeed;

const cpu::WeightGradientEntry& entry_named(std::string_view name) {
  for (const cpu::WeightGradientEntry& entry : cpu::weight_gradient_algorithms())
    if (entry.name == name) return entry;
  throw std::logic_error("no weight-gradient algorithm " + std::string(name));
}

// A random convolution (not transposed) with larger images than the forward tests (bands of 16 rows,
// W beyond a vector), its channels set by `channels(spec)`.
template <class Channels>
testing::Problem random_wgrad_problem(std::mt19937& rng, Channels channels) {
  for (;;) {
    testing::ProblemOptions options;
    options.allow_transposed = false;
    options.max_spatial = std::uniform_int_distribution<int>(0, 1)(rng) ? 40 : 9;
    testing::Problem p = testing::random_problem(rng, options);
    const Shape spatial = input_spatial_of(p.spec, p.input_shape);
    channels(p.spec);
    p.input_shape = make_activation_shape(p.spec, p.input_shape[0], p.spec.in_channels, spatial);
    try {
      resolve_geometry(p.spec, spatial);  // `channels` may have grown the kernel past the padded input
      return p;
    } catch (const Error&) {
    }
  }
}

// `entry` on every ISA against the reference (exact) and 1 vs 2 threads (bit-identical).
::testing::AssertionResult matches_reference(const cpu::WeightGradientEntry& entry, const testing::Problem& p,
                                             std::mt19937& rng) {
  const Tensor x = testing::random_tensor(p.input_shape, rng, true);
  const Tensor dy = testing::random_tensor(output_shape(p.spec, p.input_shape), rng, true);
  const Tensor expected = reference::convolution_backward_weights(p.spec, x, dy);
  for (cpu::Isa isa : cpu::supported_isas()) {
    const auto algorithm = entry.create(p.spec, isa);
    Tensor one(weight_shape(p.spec), std::numeric_limits<float>::quiet_NaN());
    Tensor two(weight_shape(p.spec), std::numeric_limits<float>::quiet_NaN());
    algorithm->run(x.view(), dy.view(), one.data(), 1);
    algorithm->run(x.view(), dy.view(), two.data(), 2);
    if (const double difference = testing::max_abs_difference(one, expected); !(difference == 0.0))
      return ::testing::AssertionFailure() << algorithm->name() << " differs from the reference by " << difference
                                           << ": " << p.describe();
    if (!testing::bit_identical(one, two))
      return ::testing::AssertionFailure() << algorithm->name() << ": 1 and 2 threads differ: " << p.describe();
  }
  return ::testing::AssertionSuccess();
}

void check_random_specs(std::string_view name, int trials, uint32_t seed, auto channels) {
  std::mt19937 rng(seed);
  const cpu::WeightGradientEntry& entry = entry_named(name);
  int run = 0;
  for (int trial = 0; trial < trials; ++trial) {
    const testing::Problem p = random_wgrad_problem(rng, channels);
    if (!entry.cannot(p.spec).empty()) continue;
    ++run;
    ASSERT_TRUE(matches_reference(entry, p, rng)) << "trial " << trial << " seed " << seed;
  }
  EXPECT_GT(run, trials / 2) << name;
}

TEST(WeightGradientAlgorithms, DepthwiseMatchesReferenceExactly) {
  auto pick = [rng = std::mt19937(kSeed + 11)](int64_t lo, int64_t hi) mutable {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  check_random_specs("depthwise", 250, kSeed + 10, [&](ConvSpec& s) {
    // Up to 5 vectors of 16: threads split the channel vectors from 4 on, the rows below.
    s.in_channels = s.out_channels = s.groups = pick(0, 2) == 0 ? pick(1, 4) : pick(5, 70);
    // Sometimes more taps than one call holds (28 on AVX-512, 13 on AVX2).
    if (pick(0, 4) == 0)
      for (int64_t& k : s.kernel) k = s.rank == 1 ? pick(20, 40) : s.rank == 2 ? pick(4, 7) : pick(3, 4);
  });
}

TEST(WeightGradientAlgorithms, FewChannelMatchesReferenceExactly) {
  auto pick = [rng = std::mt19937(kSeed + 15)](int64_t lo, int64_t hi) mutable {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  check_random_specs("few_channel", 250, kSeed + 14, [&](ConvSpec& s) {
    // 1-6 output channels per group (the calls take up to 4), 1-4 input channels, up to 5 groups.
    s.groups = pick(1, 5);
    s.in_channels = s.groups * pick(1, 4);
    s.out_channels = s.groups * pick(1, 6);
    if (pick(0, 4) == 0)  // more (input channel, tap) pairs than one call holds
      for (int64_t& k : s.kernel) k = s.rank == 1 ? pick(10, 30) : s.rank == 2 ? pick(4, 6) : pick(3, 4);
  });
}

TEST(WeightGradientAlgorithms, GemmMatchesReferenceExactlyOnDepthwiseSpecs) {
  auto pick = [rng = std::mt19937(kSeed + 13)](int64_t lo, int64_t hi) mutable {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  check_random_specs("gemm", 40, kSeed + 12,
                     [&](ConvSpec& s) { s.in_channels = s.out_channels = s.groups = pick(1, 20); });
}

// gemm with its reduction K = batch x pixels cut into blocks of 1, a few (odd) and dozens of indices
// (block budgets far below L2), so blocks start and end inside D rows and span images: 1-3D, transposed,
// groups, both layouts, padding modes, pointwise layers, often several A tiles and D panels. Exact on
// integer data, on every ISA, 1 and 2 threads bit-identical.
TEST(WeightGradientAlgorithms, GemmBlockedReductionMatchesReferenceExactly) {
  std::mt19937 rng(kSeed + 16);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  auto check = [&](const testing::Problem& p, int64_t block_bytes) {
    const Tensor x = testing::random_tensor(p.input_shape, rng, true);
    const Tensor dy = testing::random_tensor(output_shape(p.spec, p.input_shape), rng, true);
    const Tensor expected = reference::convolution_backward_weights(p.spec, x, dy);
    for (cpu::Isa isa : cpu::supported_isas()) {
      const cpu::WeightGradient gemm(p.spec, isa, block_bytes);
      Tensor one(weight_shape(p.spec), std::numeric_limits<float>::quiet_NaN());
      Tensor two(weight_shape(p.spec), std::numeric_limits<float>::quiet_NaN());
      gemm.run(x.view(), dy.view(), one.data(), 1);
      gemm.run(x.view(), dy.view(), two.data(), 2);
      const double difference = testing::max_abs_difference(one, expected);
      if (difference != 0.0 || !testing::bit_identical(one, two))
        return ::testing::AssertionFailure() << gemm.name() << " block_bytes " << block_bytes << ": " << p.describe()
                                             << (difference != 0.0 ? " differs from the reference"
                                                                   : " 1 and 2 threads differ");
    }
    return ::testing::AssertionSuccess();
  };
  for (int trial = 0; trial < 150; ++trial) {
    testing::ProblemOptions options;
    options.max_spatial = pick(0, 1) ? 13 : 6;
    testing::Problem p = testing::random_problem(rng, options);
    ConvSpec& s = p.spec;
    const Shape spatial = input_spatial_of(s, p.input_shape);
    if (pick(0, 1) && s.groups < s.in_channels) {  // several tiles (MR rows) and panels (NR columns)
      s.in_channels = s.groups * pick(1, 40);
      s.out_channels = s.groups * pick(1, 40);
    }
    if (pick(0, 4) == 0) {  // pointwise (1x1, stride 1, no padding): channels_first A rows read in place
      s.kernel = {1};
      s.stride = s.dilation = s.output_padding = s.output_shape = {};
      s.padding = Padding{};
    }
    p.input_shape = make_activation_shape(s, pick(1, 3), s.in_channels, spatial);
    ASSERT_TRUE(check(p, pick(0, 2) == 0 ? 1 : pick(100, 20000))) << "trial " << trial;
  }
  // Few input channels and long kernel rows (channels_last tiles over several taps of a row read in
  // place, the border pixels packed): the stem, the accelerometer, asymmetric pads, transposed, 3D.
  struct Few {
    ConvSpec spec;
    Shape input;
  };
  const Few few[] = {
      {{.rank = 2, .in_channels = 3, .out_channels = 40, .kernel = {7}, .stride = {2},
        .padding = Padding::symmetric({3})},
       {1, 3, 21, 45}},
      {{.rank = 1, .in_channels = 3, .out_channels = 20, .kernel = {5}, .padding = Padding::symmetric({2})},
       {3, 3, 50}},
      {{.rank = 1, .in_channels = 3, .out_channels = 20, .kernel = {5}}, {2, 3, 61}},
      {{.rank = 2, .in_channels = 2, .out_channels = 8, .kernel = {3, 8}, .stride = {1, 3},
        .padding = {PaddingKind::explicit_pads, {1, 5}, {0, 2}}},
       {2, 2, 9, 60}},
      {{.rank = 1, .in_channels = 16, .out_channels = 3, .kernel = {6}, .stride = {2}, .transposed = true},
       {2, 16, 40}},
      {{.rank = 3, .in_channels = 2, .out_channels = 5, .kernel = {2, 2, 9},
        .padding = {PaddingKind::explicit_pads, {0, 0, 4}, {0, 0, 4}}},
       {1, 2, 3, 3, 50}},
  };
  for (const Few& f : few)
    for (Layout layout : {Layout::channels_first, Layout::channels_last})
      for (int64_t block_bytes : {int64_t{1}, int64_t{3000}, int64_t{0}}) {
        testing::Problem p;
        p.spec = f.spec;
        p.spec.layout = layout;
        const Shape spatial(f.input.begin() + 2, f.input.end());
        p.input_shape = make_activation_shape(p.spec, f.input[0], f.input[1], spatial);
        ASSERT_TRUE(check(p, block_bytes));
      }
}

TEST(WeightGradientAlgorithms, ForcedDepthwiseDeclinesWithItsReason) {
  const ConvSpec dense{.rank = 2, .in_channels = 4, .out_channels = 8, .kernel = {3}};
  try {
    BackwardWeightsPlan(dense, {.algorithm = "depthwise"});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("PlanOptions.algorithm=depthwise cannot"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not depthwise"), std::string::npos) << e.what();
  }
  const ConvSpec reflect{.rank = 2, .in_channels = 8, .out_channels = 8, .kernel = {3}, .padding = Padding::same(),
                         .padding_mode = PaddingMode::reflect, .groups = 8, .layout = Layout::channels_last};
  const BackwardWeightsPlan plan(reflect);
  EXPECT_NE(plan.explain().find("depthwise: declined: padding_mode=reflect"), std::string::npos) << plan.explain();
}

// Which algorithm the plan takes for the benchmark's layer kinds, and what explain() says.
TEST(WeightGradientAlgorithms, PlanChoosesByLayer) {
  struct Case {
    ConvSpec spec;
    const char* algorithm;  // prefix of BackwardWeightsPlan::algorithm()
  };
  const Case cases[] = {
      {{.rank = 2, .in_channels = 32, .out_channels = 32, .kernel = {3}, .padding = Padding::same(), .groups = 32,
        .layout = Layout::channels_last},
       "depthwise."},
      {{.rank = 3, .in_channels = 32, .out_channels = 32, .kernel = {3}, .padding = Padding::same(), .groups = 32},
       "depthwise."},
      {{.rank = 2, .in_channels = 64, .out_channels = 64, .kernel = {3}, .padding = Padding::same()}, "gemm."},
      {{.rank = 2, .in_channels = 1, .out_channels = 1, .kernel = {3}, .padding = Padding::same()}, "depthwise."},
      {{.rank = 3, .in_channels = 1, .out_channels = 3, .kernel = {5}, .padding = Padding::same(),
        .layout = Layout::channels_last},
       "few_channel."},
      {{.rank = 2, .in_channels = 128, .out_channels = 128, .kernel = {3}, .padding = Padding::same(), .groups = 32},
       "few_channel."},
      {{.rank = 1, .in_channels = 1, .out_channels = 128, .kernel = {80}, .stride = {4}}, "few_channel."},
      {{.rank = 1, .in_channels = 1, .out_channels = 128, .kernel = {80}, .stride = {4}, .layout = Layout::channels_last},
       "gemm."},
  };
  for (const Case& c : cases) {
    const BackwardWeightsPlan plan(c.spec);
    EXPECT_EQ(plan.algorithm().rfind(c.algorithm, 0), 0u) << describe(c.spec) << ": " << plan.explain();
    EXPECT_NE(plan.explain().find(": chosen, " + plan.algorithm()), std::string::npos) << plan.explain();
  }
  const std::string dense = BackwardWeightsPlan(cases[2].spec).explain();
  EXPECT_NE(dense.find("depthwise: declined: not depthwise"), std::string::npos) << dense;
  EXPECT_NE(dense.find("few_channel: declined: 64 x 64 channels per group"), std::string::npos) << dense;
}

}  // namespace
}  // namespace convkit
