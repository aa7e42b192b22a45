// The backward plans against the reference backward (convkit/backward.h) on hundreds of randomized
// specs: convolution and transposed, rank 1-3, both layouts, groups and depthwise, stride, dilation,
// every padding kind and mode, flip, output_padding. Integer-valued data make float sums exact whatever
// the order, so those comparisons are exact; 1 and 2 threads must give identical bits; the weight
// GEMM runs on every ISA this CPU has.
#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "../src/cpu/depthwise_backward.h"
#include "../src/cpu/isa.h"
#include "../src/cpu/weight_gradient_algorithm.h"
#include "convkit/backward.h"
#include "convkit/backward_plan.h"
#include "algorithm_support.h"

namespace convkit {
namespace {

using testing::kSeed;

// A random problem (every option); half the time with channel counts that reach full tiles and several
// panels, and larger images.
testing::Problem random_backward_problem(std::mt19937& rng) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  const bool large = pick(0, 1) == 1;
  testing::ProblemOptions options;
  options.max_spatial = large ? 10 : 7;
  testing::Problem p = testing::random_problem(rng, options);
  ConvSpec& s = p.spec;
  const Shape spatial = input_spatial_of(s, p.input_shape);
  const bool depthwise = s.groups == s.in_channels && s.groups > 1;
  if (large && !depthwise) {
    s.in_channels = s.groups * pick(1, 40 / s.groups);
    s.out_channels = s.groups * pick(1, 40 / s.groups);
  }
  p.input_shape = make_activation_shape(s, p.input_shape[0], s.in_channels, spatial);
  return p;
}

// The forward output's shape filled with random values: the gradient flowing back.
Tensor random_grad_output(const testing::Problem& p, std::mt19937& rng, bool integers) {
  return testing::random_tensor(output_shape(p.spec, p.input_shape), rng, integers);
}

const cpu::WeightGradientEntry& weight_algorithm(std::string_view name) {
  for (const cpu::WeightGradientEntry& entry : cpu::weight_gradient_algorithms())
    if (entry.name == name) return entry;
  throw std::logic_error("no weight-gradient algorithm " + std::string(name));
}

// One weight-gradient algorithm on one ISA into a NaN-filled output (a cell it does not write shows).
Tensor run_weight_algorithm(const cpu::WeightGradientEntry& entry, const testing::Problem& p, const Tensor& x,
                            const Tensor& dy, cpu::Isa isa, int threads) {
  const std::unique_ptr<cpu::WeightGradientAlgorithm> algorithm = entry.create(p.spec, isa);
  Tensor out(weight_shape(p.spec), std::numeric_limits<float>::quiet_NaN());
  algorithm->run(x.view(), dy.view(), out.data(), nullptr, threads);
  return out;
}

Tensor run_weight_gemm(const testing::Problem& p, const Tensor& x, const Tensor& dy, cpu::Isa isa, int threads) {
  return run_weight_algorithm(weight_algorithm("gemm"), p, x, dy, isa, threads);
}

Tensor run_data_plan(const testing::Problem& p, const Tensor& weight, const Tensor& dy, int threads) {
  const BackwardDataPlan plan(p.spec, weight, {.threads = threads});
  Tensor dx(p.input_shape, std::numeric_limits<float>::quiet_NaN());
  plan.run(dy, dx.view());
  return dx;
}

TEST(BackwardDataPlan, MatchesReferenceExactlyOnIntegerData) {
  std::mt19937 rng(kSeed);
  for (int trial = 0; trial < 400; ++trial) {
    const testing::Problem p = random_backward_problem(rng);
    const testing::ProblemData data = testing::random_data(p, rng, /*integers=*/true);
    const Tensor dy = random_grad_output(p, rng, true);
    const Tensor expected = reference::convolution_backward_data(p.spec, p.input_shape, data.weight, dy);
    const Tensor one = run_data_plan(p, data.weight, dy, 1);
    ASSERT_EQ(testing::max_abs_difference(one, expected), 0.0)
        << "trial " << trial << " seed " << kSeed << ": " << p.describe() << " via "
        << BackwardDataPlan(p.spec, data.weight).algorithm(p.input_shape);
    ASSERT_TRUE(testing::bit_identical(one, run_data_plan(p, data.weight, dy, 2)))
        << "1 and 2 threads differ, trial " << trial << ": " << p.describe();
  }
}

// Strided convolutions, through their phases or the direct depthwise kernel (and, forced, through the
// transposed plan): strides 2-4
// with kernels shorter than the stride (phases no tap reaches), as long and longer; dilation; every
// padding kind and mode; groups and depthwise; rank 1-3; both layouts; odd sizes where some phases have
// no cell. Exact on integer data; 1 and 2 threads bit-identical.
TEST(BackwardDataPlan, StridedPhasesMatchReferenceExactly) {
  std::mt19937 rng(kSeed + 8);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  testing::ProblemOptions options;
  options.allow_transposed = false;
  options.max_spatial = 11;
  int direct_depthwise = 0;
  for (int trial = 0; trial < 300; ++trial) {
    testing::Problem p;
    for (bool valid = false; !valid;) {
      p = testing::random_problem(rng, options);
      ConvSpec& s = p.spec;
      if (pick(0, 2) == 0) {
        s.groups = s.in_channels;
        s.out_channels = s.in_channels * pick(1, 2);
      }
      for (size_t a = 0; a < static_cast<size_t>(s.rank); ++a) {
        const int64_t stride = a == 0 || pick(0, 1) == 1 ? pick(2, 4) : 1;
        s.stride[a] = stride;
        const int64_t shape = stride == 1 ? 1 : pick(0, 2);  // kernel <, == or > stride
        s.kernel[a] = shape == 0 ? pick(1, stride - 1) : shape == 1 ? stride : pick(stride + 1, 2 * stride + 1);
      }
      p.input_shape = make_activation_shape(s, p.input_shape[0], s.in_channels, input_spatial_of(s, p.input_shape));
      try {
        resolve_geometry(s, input_spatial_of(s, p.input_shape));
        valid = true;
      } catch (const Error&) {  // kernel beyond the padded input: draw again
      }
    }
    const testing::ProblemData data = testing::random_data(p, rng, /*integers=*/true);
    const Tensor dy = random_grad_output(p, rng, true);
    const Tensor expected = reference::convolution_backward_data(p.spec, p.input_shape, data.weight, dy);
    const std::string route = BackwardDataPlan(p.spec, data.weight).algorithm(p.input_shape);
    for (const std::string& algorithm : {std::string(), std::string("transposed")}) {
      Tensor one(p.input_shape, std::numeric_limits<float>::quiet_NaN()), two = one;
      BackwardDataPlan(p.spec, data.weight, {.threads = 1, .algorithm = algorithm}).run(dy, one.view());
      BackwardDataPlan(p.spec, data.weight, {.threads = 2, .algorithm = algorithm}).run(dy, two.view());
      ASSERT_EQ(testing::max_abs_difference(one, expected), 0.0)
          << "trial " << trial << " seed " << kSeed + 8 << ": " << p.describe() << " via "
          << (algorithm.empty() ? route : algorithm);
      ASSERT_TRUE(testing::bit_identical(one, two))
          << "1 and 2 threads differ, trial " << trial << ": " << p.describe();
    }
    const bool depthwise =
        p.spec.groups == p.spec.in_channels && p.spec.groups > 1 && p.spec.out_channels == p.spec.in_channels;
    if (depthwise) {
      EXPECT_NE(route.find("direct depthwise backward"), std::string::npos) << route << ": " << p.describe();
      direct_depthwise += 1;
    }
  }
  EXPECT_GT(direct_depthwise, 20);
}

// A random strided depthwise problem for the direct kernel: one stride > 1 at least, kernels shorter
// than, as long as and longer than the stride, dilation 1-3, every padding kind and mode (and flip),
// multiplier 1 or 2, channels below, at and past a vector, widths below a vector and past it, sizes
// where some phases have no cell.
testing::Problem random_strided_depthwise(std::mt19937& rng) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  testing::ProblemOptions options;
  options.allow_transposed = false;
  options.max_spatial = 21;
  for (;;) {
    testing::Problem p = testing::random_problem(rng, options);
    ConvSpec& s = p.spec;
    const Shape spatial = input_spatial_of(s, p.input_shape);
    s.in_channels = s.groups = pick(0, 1) ? pick(2, 5) : pick(6, 40);
    s.out_channels = s.in_channels * pick(1, 2);
    bool strided = false;
    for (size_t a = 0; a < static_cast<size_t>(s.rank); ++a) {
      const int64_t stride = a + 1 == static_cast<size_t>(s.rank) && !strided ? pick(2, 4) : pick(1, 4);
      strided = strided || stride > 1;
      s.stride[a] = stride;
      const int64_t shape = pick(0, 2);  // kernel <, == or > stride
      s.kernel[a] = shape == 0 ? pick(1, std::max<int64_t>(1, stride - 1)) : shape == 1 ? stride
                                                                            : pick(stride + 1, 2 * stride + 1);
      s.dilation[a] = pick(0, 2) == 0 ? pick(2, 3) : 1;
    }
    p.input_shape = make_activation_shape(s, p.input_shape[0], s.in_channels, spatial);
    try {
      resolve_geometry(s, spatial);
      return p;
    } catch (const Error&) {  // kernel beyond the padded input: draw again
    }
  }
}

// The direct strided depthwise kernel forced onto every ISA of this CPU ("depthwise.<isa>"): exact on
// integer data, 1 and 2 threads bit-identical, every cell written; channels_last with a multiplier goes
// to the phases.
TEST(BackwardDataPlan, DirectDepthwiseMatchesReferenceExactlyOnEveryIsa) {
  std::mt19937 rng(kSeed + 10);
  int direct = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const testing::Problem p = random_strided_depthwise(rng);
    const testing::ProblemData data = testing::random_data(p, rng, /*integers=*/true);
    const Tensor dy = random_grad_output(p, rng, true);
    const Tensor expected = reference::convolution_backward_data(p.spec, p.input_shape, data.weight, dy);
    const bool takes = cpu::DepthwiseBackwardData::cannot(p.spec).empty();
    direct += takes;
    for (cpu::Isa isa : cpu::supported_isas()) {
      const std::string algorithm = takes ? "depthwise." + std::string(to_string(isa)) : "";
      const BackwardDataPlan plan(p.spec, data.weight, {.threads = 1, .algorithm = algorithm});
      const std::string route = plan.algorithm(p.input_shape);
      EXPECT_EQ(route.find("direct depthwise backward") != std::string::npos, takes) << route << ": " << p.describe();
      if (takes) {
        EXPECT_NE(route.find(algorithm + "."), std::string::npos) << route;
      }
      Tensor one(p.input_shape, 1e30f), two = one;  // a cell left unwritten shows
      plan.run(dy, one.view());
      BackwardDataPlan(p.spec, data.weight, {.threads = 2, .algorithm = algorithm}).run(dy, two.view());
      ASSERT_EQ(testing::max_abs_difference(one, expected), 0.0)
          << "trial " << trial << " seed " << kSeed + 10 << ": " << p.describe() << " via " << route;
      ASSERT_TRUE(testing::bit_identical(one, two)) << "1 and 2 threads differ, trial " << trial << ": " << p.describe();
      if (!takes) break;
    }
  }
  EXPECT_GT(direct, 150);
}

// Layers large enough for both threads to take part (the direct kernel runs small ones on one), among
// them MobileNetV2's strided 3x3 and a 3D one: exact on integer data, within the float bound on real
// data, 1 and 2 threads bit-identical, both layouts, multiplier 2 (channels_first), flip, 'same'.
TEST(BackwardDataPlan, DirectDepthwiseLayersExactAndThreadCountIndependent) {
  std::mt19937 rng(kSeed + 11);
  struct Layer {
    int rank;
    int64_t channels, multiplier, kernel, stride, spatial, batch;
    bool flip;
  };
  for (const Layer& l : {Layer{2, 96, 1, 3, 2, 57, 2, false}, Layer{2, 40, 1, 5, 2, 45, 3, true},
                         Layer{2, 24, 2, 3, 3, 50, 2, false}, Layer{3, 24, 1, 3, 2, 17, 1, true},
                         Layer{1, 64, 1, 7, 4, 999, 4, false}})
    for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
      testing::Problem p;
      p.spec = {.rank = l.rank, .in_channels = l.channels, .out_channels = l.channels * l.multiplier,
                .kernel = {l.kernel}, .stride = {l.stride}, .padding = Padding::same(), .groups = l.channels,
                .flip = l.flip, .layout = layout};
      p.input_shape = make_activation_shape(p.spec, l.batch, l.channels, Shape(static_cast<size_t>(l.rank), l.spatial));
      for (bool integers : {true, false}) {
        const testing::ProblemData data = testing::random_data(p, rng, integers);
        const Tensor dy = random_grad_output(p, rng, integers);
        const std::string route = BackwardDataPlan(p.spec, data.weight).algorithm(p.input_shape);
        EXPECT_EQ(route.find("direct depthwise backward") != std::string::npos,
                  layout == Layout::channels_first || l.multiplier == 1)
            << route << ": " << p.describe();
        const Tensor dx = run_data_plan(p, data.weight, dy, 1);
        ASSERT_TRUE(testing::bit_identical(dx, run_data_plan(p, data.weight, dy, 2))) << p.describe();
        const Tensor expected = reference::convolution_backward_data(p.spec, p.input_shape, data.weight, dy);
        const double terms = static_cast<double>(l.multiplier * data.weight.numel() / l.channels);
        ASSERT_LE(testing::max_abs_difference(dx, expected), integers ? 0.0 : 1e-6 + terms * terms * 6e-8)
            << route << ": " << p.describe();
      }
    }
}

// A phase of zeros listed before the first phase with taps, whose gemm sends the whole gradient to the
// transposed plan: that plan must compute every cell (the zeros phase had been kept and run alone, leaving
// the other cells unwritten; found by tests/python/test_backward_torch.py).
TEST(BackwardDataPlan, TransposedRouteAfterAPhaseOfZerosWritesEveryCell) {
  // (2 channels per group: a depthwise layer would take the direct kernel)
  const ConvSpec spec{.rank = 3, .in_channels = 4, .out_channels = 4, .kernel = {3, 3, 3}, .stride = {1, 3, 2},
                      .dilation = {1, 1, 2}, .padding = Padding::symmetric({1, 1, 1}), .groups = 2};
  const Shape input{1, 4, 2, 1, 3};
  std::mt19937 rng(kSeed + 9);
  const Tensor weight = testing::random_tensor(weight_shape(spec), rng, true);
  const Tensor dy = testing::random_tensor(output_shape(spec, input), rng, true);
  const BackwardDataPlan plan(spec, weight);
  EXPECT_NE(plan.algorithm(input).find("adjoint conv_transpose"), std::string::npos) << plan.algorithm(input);
  Tensor dx(input, 1e30f);  // a cell left unwritten shows (a NaN would not: max_abs_difference skips it)
  plan.run(dy, dx.view());
  EXPECT_EQ(testing::max_abs_difference(dx, reference::convolution_backward_data(spec, input, weight, dy)), 0.0);
}

// Phases of one geometry (kernel a multiple of the stride, sizes too) with few gradient channels run as
// one spatial convolution with the phases as channels: exact, 1 and 2 threads alike, both layouts.
TEST(BackwardDataPlan, PhasesOfOneGeometryRunAsOneConvolution) {
  std::mt19937 rng(kSeed + 9);
  struct Case {
    int rank;
    int64_t cin, cout, kernel, stride, spatial, batch;
  };
  for (const Case& c : {Case{1, 1, 16, 20, 4, 200, 2}, Case{1, 2, 5, 6, 3, 33, 1}, Case{2, 1, 6, 4, 2, 12, 2},
                        Case{2, 2, 3, 2, 2, 8, 1}, Case{3, 1, 4, 2, 2, 6, 1}})
    for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
      testing::Problem p;
      p.spec = {.rank = c.rank, .in_channels = c.cin, .out_channels = c.cout, .kernel = {c.kernel},
                .stride = {c.stride}, .layout = layout};
      p.input_shape = make_activation_shape(p.spec, c.batch, c.cin, Shape(static_cast<size_t>(c.rank), c.spatial));
      const testing::ProblemData data = testing::random_data(p, rng, /*integers=*/true);
      const Tensor dy = random_grad_output(p, rng, true);
      const std::string route = BackwardDataPlan(p.spec, data.weight).algorithm(p.input_shape);
      EXPECT_NE(route.find("as one with the phases as channels"), std::string::npos) << route << ": " << p.describe();
      const Tensor dx = run_data_plan(p, data.weight, dy, 1);
      EXPECT_EQ(testing::max_abs_difference(dx, reference::convolution_backward_data(p.spec, p.input_shape,
                                                                                   data.weight, dy)),
                0.0)
          << route << ": " << p.describe();
      EXPECT_TRUE(testing::bit_identical(dx, run_data_plan(p, data.weight, dy, 2))) << p.describe();
    }
}

TEST(BackwardWeightsGemm, MatchesReferenceExactlyOnIntegerDataOnEveryIsa) {
  std::mt19937 rng(kSeed + 1);
  for (int trial = 0; trial < 400; ++trial) {
    const testing::Problem p = random_backward_problem(rng);
    const testing::ProblemData data = testing::random_data(p, rng, /*integers=*/true);
    const Tensor dy = random_grad_output(p, rng, true);
    const Tensor expected = reference::convolution_backward_weights(p.spec, data.input, dy);
    if (p.spec.bias) {
      const WeightGradients planned = BackwardWeightsPlan(p.spec).run(data.input, dy);
      ASSERT_EQ(testing::max_abs_difference(*planned.bias, reference::convolution_backward_bias(p.spec, dy)), 0.0)
          << p.describe();
    }
    for (cpu::Isa isa : cpu::supported_isas()) {
      const Tensor one = run_weight_gemm(p, data.input, dy, isa, 1);
      ASSERT_EQ(testing::max_abs_difference(one, expected), 0.0)
          << "trial " << trial << " seed " << kSeed + 1 << " isa " << to_string(isa) << ": " << p.describe();
      ASSERT_TRUE(testing::bit_identical(one, run_weight_gemm(p, data.input, dy, isa, 2)))
          << "1 and 2 threads differ: " << p.describe();
    }
  }
}

// Real-valued data: each gradient is a sum of at most `terms` products of values in [-1, 1), so float
// rounding stays below terms^2 * 6e-8 (as for the forward plans).
TEST(BackwardPlans, MatchReferenceOnRealData) {
  std::mt19937 rng(kSeed + 2);
  for (int trial = 0; trial < 150; ++trial) {
    const testing::Problem p = random_backward_problem(rng);
    const testing::ProblemData data = testing::random_data(p, rng);
    const Tensor dy = random_grad_output(p, rng, false);
    const double data_terms = static_cast<double>(p.spec.out_channels * data.weight.numel() / p.spec.in_channels);
    ASSERT_LE(testing::max_abs_difference(run_data_plan(p, data.weight, dy, 2),
                                          reference::convolution_backward_data(p.spec, p.input_shape, data.weight, dy)),
              1e-6 + data_terms * data_terms * 6e-8)
        << "trial " << trial << ": " << p.describe();
    const BackwardWeightsPlan plan(p.spec, {.threads = 2});
    const WeightGradients got = plan.run(data.input, dy);
    const double weight_terms = static_cast<double>(dy.numel());
    ASSERT_LE(testing::max_abs_difference(got.weight, reference::convolution_backward_weights(p.spec, data.input, dy)),
              1e-6 + weight_terms * 1e-6)
        << "trial " << trial << ": " << p.describe();
  }
}

// Scaled-down layers of the benchmark suite (full tiles, several panels, batch > 1, work large enough
// for both threads to take part, the last two with more pixels than gemm's L2-sized reduction blocks on
// a 1-2 MiB L2): exact on integer data, identical bits for 1 and 2 threads on real data.
TEST(BackwardPlans, LayerShapesExactAndThreadCountIndependent) {
  std::mt19937 rng(kSeed + 3);
  struct Layer {
    int rank;
    int64_t cin, cout, kernel, stride, pad, dilation, groups, spatial, batch;
    bool transposed;
  };
  for (const Layer& l : {Layer{2, 64, 64, 3, 1, 1, 1, 1, 20, 1, false}, Layer{2, 64, 96, 1, 1, 0, 1, 1, 17, 2, false},
                         Layer{2, 3, 64, 7, 2, 3, 1, 1, 33, 1, false}, Layer{2, 64, 64, 3, 2, 1, 1, 1, 15, 2, false},
                         Layer{2, 32, 32, 3, 1, 6, 6, 1, 16, 1, false}, Layer{1, 30, 10, 5, 1, 0, 1, 1, 64, 3, false},
                         Layer{3, 16, 32, 3, 1, 1, 1, 1, 6, 1, false}, Layer{2, 64, 64, 3, 1, 1, 1, 32, 12, 1, false},
                         Layer{2, 32, 32, 3, 1, 1, 1, 32, 14, 2, false}, Layer{2, 64, 32, 4, 2, 1, 1, 1, 9, 2, true},
                         Layer{2, 48, 48, 3, 2, 1, 1, 48, 23, 2, false},
                         Layer{1, 1, 16, 20, 4, 0, 1, 1, 203, 2, false}, Layer{2, 16, 24, 3, 1, 1, 1, 1, 72, 2, false},
                         Layer{2, 24, 16, 2, 2, 0, 1, 1, 64, 2, true}})
    for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
      testing::Problem p;
      p.spec = {.rank = l.rank, .in_channels = l.cin, .out_channels = l.cout, .kernel = {l.kernel},
                .stride = {l.stride}, .dilation = {l.dilation}, .padding = Padding::symmetric({l.pad}),
                .groups = l.groups, .bias = true, .transposed = l.transposed, .layout = layout};
      p.input_shape = make_activation_shape(p.spec, l.batch, l.cin, Shape(static_cast<size_t>(l.rank), l.spatial));
      for (bool integers : {true, false}) {
        const testing::ProblemData data = testing::random_data(p, rng, integers);
        const Tensor dy = random_grad_output(p, rng, integers);
        const Tensor dx = run_data_plan(p, data.weight, dy, 1);
        ASSERT_TRUE(testing::bit_identical(dx, run_data_plan(p, data.weight, dy, 2))) << p.describe();
        for (cpu::Isa isa : cpu::supported_isas()) {
          const Tensor one = run_weight_gemm(p, data.input, dy, isa, 1);
          ASSERT_TRUE(testing::bit_identical(one, run_weight_gemm(p, data.input, dy, isa, 2)))
              << to_string(isa) << ": " << p.describe();
          if (integers) {
            ASSERT_EQ(testing::max_abs_difference(one,
                                                  reference::convolution_backward_weights(p.spec, data.input, dy)),
                      0.0)
                << to_string(isa) << ": " << p.describe();
          }
        }
        if (integers) {
          // Exact, except through Winograd (the plan's choice for wide stride-1 3x3 adjoints), whose
          // transforms round: within its documented bound, far below one integer step here.
          const Tensor expected = reference::convolution_backward_data(p.spec, p.input_shape, data.weight, dy);
          const bool winograd =
              BackwardDataPlan(p.spec, data.weight).algorithm(p.input_shape).find("winograd") != std::string::npos;
          ASSERT_LE(testing::max_abs_difference(dx, expected), winograd ? 1e-5 * testing::max_abs(expected) : 0.0)
              << p.describe();
        }
      }
    }
}

TEST(BackwardPlans, StridedViewsAndOneAdjointPerInputSize) {
  std::mt19937 rng(kSeed + 4);
  const ConvSpec spec{.rank = 2, .in_channels = 5, .out_channels = 7, .kernel = {3}, .stride = {2},
                      .padding = Padding::same(), .bias = true, .layout = Layout::channels_last};
  const Tensor weight = testing::random_tensor(weight_shape(spec), rng, true);
  const BackwardDataPlan data_plan(spec, weight);
  const BackwardWeightsPlan weights_plan(spec);
  EXPECT_EQ(weights_plan.algorithm().rfind("gemm.", 0), 0u) << weights_plan.algorithm();
  for (const Shape& shape : {Shape{2, 9, 8, 5}, Shape{1, 4, 11, 5}, Shape{2, 9, 8, 5}}) {
    // Input and gradient as reversed views of bigger tensors; outputs into transposed views.
    const Tensor x = testing::random_tensor(shape, rng, true);
    const Tensor dy = testing::random_tensor(output_shape(spec, shape), rng, true);
    const Tensor dy_reversed = Tensor::copy_of(dy.view().flipped(1));
    const ConstTensorView dy_view = dy_reversed.view().flipped(1);
    const Tensor expected_dx = reference::convolution_backward_data(spec, shape, weight, dy);
    Tensor dx_storage({shape[3], shape[2], shape[1], shape[0]});
    const int axes[] = {3, 2, 1, 0};
    const TensorView dx_view = dx_storage.view().permuted(axes);
    data_plan.run(dy_view, dx_view);
    EXPECT_EQ(testing::max_abs_difference(dx_view, expected_dx), 0.0) << to_string(shape);
    const std::string route = "adjoint phases (stride 2x2: 4 stride-1 convs; 5 gradient channels: spatial)";
    EXPECT_NE(data_plan.algorithm(shape).find(route), std::string::npos)
        << data_plan.algorithm(shape);

    Tensor gw_storage(weight_shape(spec)), gb_storage(Shape{7, 2});
    const int weight_axes[] = {3, 2, 1, 0};
    Tensor gw_transposed({weight.dim(3), weight.dim(2), weight.dim(1), weight.dim(0)});
    const TensorView gw_view = gw_transposed.view().permuted(weight_axes);
    const TensorView gb_view(gb_storage.data(), {7}, {2});
    weights_plan.run(x, dy_view, gw_view, gb_view);
    EXPECT_EQ(testing::max_abs_difference(gw_view, reference::convolution_backward_weights(spec, x, dy)), 0.0);
    EXPECT_EQ(testing::max_abs_difference(gb_view, reference::convolution_backward_bias(spec, dy)), 0.0);
  }
}

// A transposed output_shape beyond the span (pad_end < 0, as ONNX's test_convtranspose_output_shape):
// the extra cells get no tap, so their gradient reaches the bias alone.
TEST(BackwardPlans, TransposedOutputShapeBeyondTheSpan) {
  std::mt19937 rng(kSeed + 7);
  for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
    testing::Problem p;  // spans 8 x 7 cells; output_shape asks for stride - 1 more on each axis
    p.spec = {.rank = 2, .in_channels = 2, .out_channels = 3, .kernel = {2, 3}, .stride = {3, 2}, .bias = true,
              .transposed = true, .output_shape = {10, 8}, .layout = layout};
    p.input_shape = make_activation_shape(p.spec, 2, 2, Shape{3, 3});
    const testing::ProblemData data = testing::random_data(p, rng, /*integers=*/true);
    const Tensor dy = random_grad_output(p, rng, true);
    const Tensor expected = reference::convolution_backward_data(p.spec, p.input_shape, data.weight, dy);
    EXPECT_EQ(testing::max_abs_difference(run_data_plan(p, data.weight, dy, 2), expected), 0.0) << p.describe();
    const Tensor weights = reference::convolution_backward_weights(p.spec, data.input, dy);
    for (cpu::Isa isa : cpu::supported_isas())
      EXPECT_EQ(testing::max_abs_difference(run_weight_gemm(p, data.input, dy, isa, 2), weights), 0.0) << p.describe();
    const WeightGradients planned = BackwardWeightsPlan(p.spec, {.threads = 2}).run(data.input, dy);
    EXPECT_EQ(testing::max_abs_difference(*planned.bias, reference::convolution_backward_bias(p.spec, dy)), 0.0);
  }
}

TEST(BackwardPlans, BadArgumentsAreErrorsNamingThem) {
  const ConvSpec spec{.rank = 1, .in_channels = 2, .out_channels = 3, .kernel = {3}, .bias = true};
  const Tensor weight(weight_shape(spec));
  const BackwardDataPlan data_plan(spec, weight);
  const BackwardWeightsPlan weights_plan(spec);
  const Tensor x({1, 2, 8}), dy({1, 3, 6}), wrong_dy({1, 3, 5});
  auto message = [](auto&& f) {
    try {
      f();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { data_plan.run(wrong_dy, x.shape()); }).find("grad_output of shape [1, 3, 5]"),
            std::string::npos);
  EXPECT_NE(message([&] { weights_plan.run(x, wrong_dy); }).find("conv_backward_weights: grad_output"),
            std::string::npos);
  Tensor gw(weight_shape(spec));
  EXPECT_NE(message([&] { weights_plan.run(x, dy, gw.view()); }).find("grad_bias missing"), std::string::npos);
  EXPECT_NE(message([&] { BackwardWeightsPlan(spec, {.algorithm = "winograd"}); }).find("PlanOptions.algorithm=winograd"),
            std::string::npos);
  EXPECT_NE(weights_plan.explain().find("few_channel: chosen"), std::string::npos) << weights_plan.explain();
  EXPECT_NE(message([&] { BackwardDataPlan(spec, Tensor({3, 2, 4})); }).find("weight"), std::string::npos);
  // An unknown ISA in the requested kernel is the backward plan's own error, at construction.
  EXPECT_NE(message([&] { BackwardDataPlan(spec, Tensor(weight_shape(spec)), {.algorithm = "gemm.sse9"}); })
                .find("PlanOptions.algorithm=gemm.sse9"),
            std::string::npos);
}

}  // namespace
}  // namespace convkit
