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

// `entry` on every ISA against the reference (exact) and 1 vs 2 threads (bit-identical); the bias gradient
// too where the algorithm sums it (run once without it: the weights must not depend on it).
::testing::AssertionResult matches_reference(const cpu::WeightGradientEntry& entry, const testing::Problem& p,
                                             std::mt19937& rng) {
  const Tensor x = testing::random_tensor(p.input_shape, rng, true);
  const Tensor dy = testing::random_tensor(output_shape(p.spec, p.input_shape), rng, true);
  const Tensor expected = reference::convolution_backward_weights(p.spec, x, dy);
  const Tensor expected_bias = reference::convolution_backward_bias(p.spec, dy);
  for (cpu::Isa isa : cpu::supported_isas()) {
    const auto algorithm = entry.create(p.spec, isa);
    const bool bias = algorithm->sums_bias();
    Tensor one(weight_shape(p.spec), std::numeric_limits<float>::quiet_NaN());
    Tensor two(weight_shape(p.spec), std::numeric_limits<float>::quiet_NaN());
    Tensor plain(weight_shape(p.spec), std::numeric_limits<float>::quiet_NaN());
    Tensor bias_one(expected_bias.shape(), std::numeric_limits<float>::quiet_NaN());
    Tensor bias_two(expected_bias.shape(), std::numeric_limits<float>::quiet_NaN());
    algorithm->run(x.view(), dy.view(), one.data(), bias ? bias_one.data() : nullptr, 1);
    algorithm->run(x.view(), dy.view(), two.data(), bias ? bias_two.data() : nullptr, 2);
    algorithm->run(x.view(), dy.view(), plain.data(), nullptr, 2);
    if (const double difference = testing::max_abs_difference(one, expected); !(difference == 0.0))
      return ::testing::AssertionFailure() << algorithm->name() << " differs from the reference by " << difference
                                           << ": " << p.describe();
    if (!testing::bit_identical(one, two))
      return ::testing::AssertionFailure() << algorithm->name() << ": 1 and 2 threads differ: " << p.describe();
    if (!testing::bit_identical(one, plain))
      return ::testing::AssertionFailure() << algorithm->name() << ": the weights differ with and without the bias: "
                                           << p.describe();
    if (!bias) continue;
    if (const double difference = testing::max_abs_difference(bias_one, expected_bias); !(difference == 0.0))
      return ::testing::AssertionFailure() << algorithm->name() << "'s bias gradient differs from the reference by "
                                           << difference << ": " << p.describe();
    if (!testing::bit_identical(bias_one, bias_two))
      return ::testing::AssertionFailure() << algorithm->name() << ": bias, 1 and 2 threads differ: " << p.describe();
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
    // Up to 9 vectors of 16: threads split the channel vectors from 8 on, the rows below.
    const int64_t kind = pick(0, 5);
    s.in_channels = s.out_channels = s.groups = kind == 0 ? pick(1, 4) : kind == 5 ? pick(113, 140) : pick(5, 70);
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

// cpu::WeightGradient (gemm) with packed operands of `block_bytes` per K block against the reference (exact on
// integer data), on every ISA, 1 and 2 threads bit-identical.
::testing::AssertionResult gemm_matches_reference(const testing::Problem& p, int64_t block_bytes, std::mt19937& rng) {
  const Tensor x = testing::random_tensor(p.input_shape, rng, true);
  const Tensor dy = testing::random_tensor(output_shape(p.spec, p.input_shape), rng, true);
  const Tensor expected = reference::convolution_backward_weights(p.spec, x, dy);
  for (cpu::Isa isa : cpu::supported_isas()) {
    const cpu::WeightGradient gemm(p.spec, isa, block_bytes);
    Tensor one(weight_shape(p.spec), std::numeric_limits<float>::quiet_NaN());
    Tensor two(weight_shape(p.spec), std::numeric_limits<float>::quiet_NaN());
    gemm.run(x.view(), dy.view(), one.data(), nullptr, 1);
    gemm.run(x.view(), dy.view(), two.data(), nullptr, 2);
    const double difference = testing::max_abs_difference(one, expected);
    if (difference != 0.0 || !testing::bit_identical(one, two))
      return ::testing::AssertionFailure() << gemm.details() << " block_bytes " << block_bytes << ": " << p.describe()
                                           << (difference != 0.0 ? " differs from the reference"
                                                                 : " 1 and 2 threads differ");
  }
  return ::testing::AssertionSuccess();
}

// gemm with its reduction K = batch x pixels cut into blocks of 1, a few (odd) and dozens of indices
// (block budgets far below L2), so blocks start and end inside D rows and span images: 1-3D, transposed,
// groups, both layouts, padding modes, pointwise layers, often several A tiles and D panels. Exact on
// integer data, on every ISA, 1 and 2 threads bit-identical.
TEST(WeightGradientAlgorithms, GemmBlockedReductionMatchesReferenceExactly) {
  std::mt19937 rng(kSeed + 16);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  auto check = [&](const testing::Problem& p, int64_t block_bytes) { return gemm_matches_reference(p, block_bytes, rng); };
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

// gemm's channels_first shifted views (A rows read from x's rows through pointers, or from its W stride
// phases staged once, the border columns packed, K blocks of whole D rows, from one row per block up) and
// its pointwise layers (dy or x as
// the rows, whichever is cheaper; both read in place channels_last), next to the layers that look alike
// but take the other paths (W stride 5, 1x1 with padding or stride): odd sizes, dilation, asymmetric pads,
// every padding mode, 1-3D, transposed, groups, flip, tiles of every width; both layouts, several block sizes. Exact on integer
// data, every ISA, 1 and 2 threads bit-identical.
TEST(WeightGradientAlgorithms, GemmShiftedViewsAndPointwiseMatchReferenceExactly) {
  std::mt19937 rng(kSeed + 17);
  struct Case {
    ConvSpec spec;
    Shape input;
  };
  const Padding pad1 = Padding::symmetric({1});
  const Case cases[] = {
      {{.rank = 2, .in_channels = 5, .out_channels = 7, .kernel = {3}, .padding = pad1}, {2, 5, 11, 31}},
      {{.rank = 2, .in_channels = 9, .out_channels = 20, .kernel = {3}, .dilation = {2},
        .padding = {PaddingKind::explicit_pads, {2, 1}, {2, 3}}},
       {3, 9, 13, 30}},
      {{.rank = 2, .in_channels = 6, .out_channels = 9, .kernel = {3}, .padding = Padding::same(),
        .padding_mode = PaddingMode::reflect},
       {1, 6, 10, 29}},
      {{.rank = 2, .in_channels = 4, .out_channels = 4, .kernel = {3}, .padding = Padding::same(),
        .padding_mode = PaddingMode::circular, .flip = true},
       {2, 4, 9, 28}},
      {{.rank = 2, .in_channels = 4, .out_channels = 33, .kernel = {5, 3}, .stride = {2, 1},
        .padding = Padding::symmetric({2, 1})},
       {1, 4, 15, 29}},
      {{.rank = 2, .in_channels = 4, .out_channels = 6, .kernel = {3}, .stride = {1, 2}, .padding = pad1},
       {1, 4, 9, 61}},
      {{.rank = 2, .in_channels = 3, .out_channels = 17, .kernel = {7}, .stride = {2}, .padding = Padding::symmetric({3})},
       {2, 3, 23, 63}},
      {{.rank = 2, .in_channels = 2, .out_channels = 5, .kernel = {2, 7}, .stride = {1, 3}, .dilation = {1, 2},
        .padding = {PaddingKind::explicit_pads, {0, 4}, {1, 2}}, .padding_mode = PaddingMode::reflect},
       {1, 2, 6, 100}},
      {{.rank = 1, .in_channels = 3, .out_channels = 7, .kernel = {17}, .stride = {4}, .padding = Padding::symmetric({8})},
       {2, 3, 150}},
      {{.rank = 1, .in_channels = 3, .out_channels = 7, .kernel = {5}, .stride = {5}}, {2, 3, 83}},
      {{.rank = 2, .in_channels = 8, .out_channels = 6, .kernel = {4}, .stride = {2}, .padding = pad1, .transposed = true},
       {1, 8, 7, 30}},
      {{.rank = 1, .in_channels = 12, .out_channels = 5, .kernel = {4}, .stride = {2}, .padding = pad1,
        .transposed = true},
       {2, 12, 40}},
      {{.rank = 3, .in_channels = 6, .out_channels = 4, .kernel = {2}, .stride = {2}, .transposed = true},
       {1, 6, 3, 4, 9}},
      {{.rank = 3, .in_channels = 3, .out_channels = 5, .kernel = {3}, .padding = pad1,
        .padding_mode = PaddingMode::replicate},
       {1, 3, 4, 6, 26}},
      {{.rank = 2, .in_channels = 6, .out_channels = 10, .kernel = {3}, .padding = pad1, .transposed = true},
       {2, 6, 9, 28}},
      {{.rank = 1, .in_channels = 16, .out_channels = 24, .kernel = {5}, .padding = Padding::symmetric({2}),
        .groups = 2, .flip = true},
       {3, 16, 40}},
      {{.rank = 2, .in_channels = 40, .out_channels = 6, .kernel = {1}}, {2, 40, 7, 9}},
      {{.rank = 2, .in_channels = 6, .out_channels = 40, .kernel = {1}}, {1, 6, 11, 5}},
      {{.rank = 2, .in_channels = 24, .out_channels = 33, .kernel = {1}, .groups = 3}, {2, 24, 5, 7}},
      {{.rank = 3, .in_channels = 12, .out_channels = 30, .kernel = {1}, .padding = Padding::same()}, {1, 12, 3, 4, 5}},
      {{.rank = 1, .in_channels = 50, .out_channels = 3, .kernel = {1}}, {3, 50, 17}},
      {{.rank = 2, .in_channels = 10, .out_channels = 20, .kernel = {1}, .stride = {2}}, {1, 10, 9, 11}},
      {{.rank = 2, .in_channels = 10, .out_channels = 20, .kernel = {1}, .padding = pad1}, {1, 10, 5, 7}},
      // channels_first widths of the grouped GEMM's table: 80 (ShuffleNet's groups), 112 and 16 D columns.
      {{.rank = 2, .in_channels = 160, .out_channels = 160, .kernel = {1}, .groups = 2}, {1, 160, 5, 6}},
      {{.rank = 1, .in_channels = 7, .out_channels = 112, .kernel = {3}, .padding = pad1}, {2, 7, 19}},
      {{.rank = 2, .in_channels = 5, .out_channels = 16, .kernel = {3}}, {1, 5, 6, 21}},
  };
  for (const Case& c : cases)
    for (Layout layout : {Layout::channels_first, Layout::channels_last})
      for (int64_t block_bytes : {int64_t{1}, int64_t{3000}, int64_t{12000}, int64_t{40000}, int64_t{0}}) {
        testing::Problem p;
        p.spec = c.spec;
        p.spec.layout = layout;
        const Shape spatial(c.input.begin() + 2, c.input.end());
        p.input_shape = make_activation_shape(p.spec, c.input[0], c.input[1], spatial);
        ASSERT_TRUE(gemm_matches_reference(p, block_bytes, rng));
      }
  // mobilenetv2.pw1x1's orientation on AVX-512: x's 144 channels fill 8x48 tiles, dy's 24 a 32-wide one 3/4.
  const ConvSpec pw{.rank = 2, .in_channels = 144, .out_channels = 24, .kernel = {1}, .layout = Layout::channels_last};
  for (cpu::Isa isa : cpu::supported_isas()) {
    if (isa == cpu::Isa::avx512) {
      EXPECT_NE(cpu::WeightGradient(pw, isa).details().find("dy's 24 channels as the rows"), std::string::npos);
    }
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
