// PlanOptions::accuracy (strict: direct algorithms only, within the ordering bound; explain() states each
// algorithm's error bound), and outputs whose every tap falls in zero padding: exactly the bias in every
// algorithm, Winograd and FFT included.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "convkit/backward_plan.h"
#include "convkit/conv.h"
#include "convkit/reference.h"
#include "convkit/shape.h"
#include "../src/cpu/algorithm.h"
#include "test_support.h"

namespace convkit {
namespace {

using testing::kSeed;
using testing::random_tensor;

struct Case {
  ConvSpec spec;
  Shape input;
};

ConvSpec conv_spec(int rank, int64_t cin, int64_t cout, int64_t kernel, std::vector<int64_t> pads,
                   std::vector<int64_t> dilation = {}) {
  ConvSpec spec{.rank = rank, .in_channels = cin, .out_channels = cout,
                .kernel = std::vector<int64_t>(static_cast<size_t>(rank), kernel), .bias = true};
  spec.padding = Padding::explicit_pads(pads, pads);
  if (!dilation.empty()) spec.dilation = dilation;
  return spec;
}

// Specs whose outer outputs read only zero padding, each one an algorithm the fast plan takes
// (Winograd 1D/2D/3D, FFT) or a direct one, in both layouts.
std::vector<Case> padding_cases() {
  std::vector<Case> cases = {
      {conv_spec(2, 32, 32, 3, {3, 3}), {1, 32, 8, 8}},  // the case: Winograd F(4x4)
      {conv_spec(1, 32, 32, 3, {4}), {2, 32, 11}},      // Winograd F(6, 3)
      {conv_spec(3, 32, 32, 3, {3, 2, 3}), {1, 32, 5, 6, 4}},
      {conv_spec(1, 2, 3, 161, {200}), {1, 2, 300}},    // FFT
      {conv_spec(2, 3, 5, 3, {5, 1}, {4, 1}), {1, 3, 2, 7}},  // taps straddle a 2-cell input (dilation 4)
      {conv_spec(2, 8, 8, 5, {6, 6}), {2, 8, 9, 9}},
  };
  const size_t n = cases.size();
  for (size_t i = 0; i < n; ++i) {  // the same in channels_last
    Case c = cases[i];
    c.spec.layout = Layout::channels_last;
    Shape in = c.input;
    in.erase(in.begin() + 1);
    in.push_back(c.input[1]);
    c.input = in;
    cases.push_back(c);
  }
  return cases;
}

// Per axis, whether output o reads only padding: taps o*s - pad + q*d all outside [0, input).
std::vector<std::vector<bool>> padding_only(const ConvSpec& spec, const Shape& spatial) {
  std::vector<std::vector<bool>> flags;
  const ConvGeometry geometry = resolve_geometry(spec, spatial);
  for (const AxisGeometry& g : geometry.axes) {
    std::vector<bool> axis;
    for (int64_t o = 0; o < g.output; ++o) {
      bool none = true;
      for (int64_t q = 0; q < g.kernel; ++q) {
        const int64_t i = o * g.stride - g.pad_begin + q * g.dilation;
        none = none && (i < 0 || i >= g.input);
      }
      axis.push_back(none);
    }
    flags.push_back(axis);
  }
  return flags;
}

TEST(PaddingOnlyOutputs, AreExactlyTheBiasInEveryAlgorithm) {
  std::mt19937 rng(kSeed);
  for (const Case& c : padding_cases()) {
    SCOPED_TRACE(describe(c.spec) + " input " + to_string(c.input));
    const Tensor x = random_tensor(c.input, rng), w = random_tensor(weight_shape(c.spec), rng);
    const Tensor b = random_tensor(bias_shape(c.spec), rng);
    const Shape spatial = input_spatial_of(c.spec, c.input);
    const auto flags = padding_only(c.spec, spatial);
    const bool last = c.spec.layout == Layout::channels_last;
    int checked_algorithms = 0;
    for (const cpu::AlgorithmEntry& entry : cpu::algorithms()) {
      if (!entry.cannot(c.spec).empty()) continue;
      ++checked_algorithms;
      const ConvPlan plan(c.spec, w.view(), b.view(), PlanOptions{.algorithm = std::string(entry.name)});
      const Tensor y = plan.run(x.view());
      const Shape out = output_shape(c.spec, c.input);
      const Shape out_spatial = last ? Shape(out.begin() + 1, out.end() - 1) : Shape(out.begin() + 2, out.end());
      const int64_t channels = c.spec.out_channels;
      int64_t pixels = 1;
      for (int64_t s : out_spatial) pixels *= s;
      int64_t padding_outputs = 0;
      for (int64_t n = 0; n < out[0]; ++n)
        for (int64_t p = 0; p < pixels; ++p) {
          bool outside = false;  // p's coordinates, last axis fastest
          for (int64_t a = c.spec.rank - 1, rest = p; a >= 0; --a) {
            const int64_t size = out_spatial[static_cast<size_t>(a)];
            outside = outside || flags[static_cast<size_t>(a)][static_cast<size_t>(rest % size)];
            rest /= size;
          }
          if (!outside) continue;
          for (int64_t o = 0; o < channels; ++o, ++padding_outputs) {
            const float v = y[last ? (n * pixels + p) * channels + o : (n * channels + o) * pixels + p];
            ASSERT_EQ(v, b[o]) << entry.name << ": output " << p << " of item " << n << ", channel " << o;
          }
        }
      EXPECT_GT(padding_outputs, 0) << "the case has no padding-only output";
    }
    EXPECT_GE(checked_algorithms, 2);
  }
}

// S = |b| + sum |w| |x| per output: the reference convolution of |x| with |w|, plus |b|.
Tensor magnitude_sums(const ConvSpec& spec, const Tensor& x, const Tensor& w, const Tensor& b) {
  auto absolute = [](const Tensor& t) {
    Tensor a = Tensor::copy_of(t.view());
    for (int64_t i = 0; i < a.numel(); ++i) a[i] = std::fabs(a[i]);
    return a;
  };
  const Tensor ax = absolute(x), aw = absolute(w), ab = absolute(b);
  return reference::convolution(spec, ax.view(), aw.view(), ab.view());
}

TEST(StrictAccuracy, ChoosesOnlyDirectAlgorithmsWithinTheOrderingBound) {
  std::mt19937 rng(kSeed);
  const std::vector<Case> cases = {
      {conv_spec(2, 64, 64, 3, {1, 1}), {1, 64, 20, 20}},  // fast: Winograd F(4x4)
      {conv_spec(1, 32, 32, 3, {1}), {2, 32, 50}},        // fast: Winograd F(6, 3)
      {conv_spec(1, 1, 1, 255, {127}), {1, 1, 2000}},     // fast: FFT
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(describe(c.spec));
    const Tensor x = random_tensor(c.input, rng), w = random_tensor(weight_shape(c.spec), rng);
    const Tensor b = random_tensor(bias_shape(c.spec), rng);
    const ConvPlan fast(c.spec, w.view(), b.view());
    const ConvPlan strict(c.spec, w.view(), b.view(), PlanOptions{.accuracy = Accuracy::strict});
    ASSERT_TRUE(fast.algorithm().starts_with("winograd") || fast.algorithm().starts_with("fft")) << fast.algorithm();
    EXPECT_FALSE(strict.algorithm().starts_with("winograd") || strict.algorithm().starts_with("fft"))
        << strict.algorithm();
    EXPECT_NE(strict.explain().find("accuracy=strict"), std::string::npos) << strict.explain();
    EXPECT_NE(strict.explain().find("chosen"), std::string::npos);
    // The reference accumulates in double and rounds once (|error| <= u |y|); the strict plan's float sum of
    // K terms is within gamma_K * S of the exact value, so within (gamma_K + u) * S of the reference.
    const Tensor expected = reference::convolution(c.spec, x.view(), w.view(), b.view());
    const Tensor s = magnitude_sums(c.spec, x, w, b), y = strict.run(x.view());
    double terms = static_cast<double>(c.spec.in_channels) + 1.0;
    for (int64_t k : c.spec.kernel) terms *= static_cast<double>(k);
    const double u = 0x1p-24, gamma = terms * u / (1.0 - terms * u);
    for (int64_t i = 0; i < y.numel(); ++i)
      ASSERT_LE(std::fabs(static_cast<double>(y[i]) - expected[i]), (gamma + u) * s[i]) << "output " << i;
  }
}

TEST(StrictAccuracy, ExplainStatesEveryCandidatesErrorBound) {
  const ConvSpec spec = conv_spec(2, 64, 64, 3, {1, 1});
  const Tensor w(weight_shape(spec), 0.5f), b(bias_shape(spec), 0.0f);
  const std::string text = ConvPlan(spec, w.view(), b.view()).explain();
  // K = 64 * 9 + 1 terms: gamma_K = 577 * 2^-24 / (1 - 577 * 2^-24) = 3.4e-05.
  EXPECT_NE(text.find("gemm: declined: "), std::string::npos) << text;
  EXPECT_NE(text.find("|error| <= 3.4e-05 * S"), std::string::npos) << text;
  EXPECT_NE(text.find("winograd: chosen"), std::string::npos) << text;
  EXPECT_NE(text.find("|error| <= 1e-05 * S"), std::string::npos) << text;
  const ConvSpec long_kernel = conv_spec(1, 1, 1, 255, {127});
  const Tensor lw(weight_shape(long_kernel), 0.5f), lb(bias_shape(long_kernel), 0.0f);
  EXPECT_NE(ConvPlan(long_kernel, lw.view(), lb.view()).explain().find("* max|x| * ||w_o||_2"), std::string::npos);
}

TEST(StrictAccuracy, ConflictsAndNamesAreErrors) {
  const ConvSpec spec = conv_spec(2, 64, 64, 3, {1, 1});
  const Tensor w(weight_shape(spec), 0.5f);
  testing::expect_error(
      [&] { ConvPlan(spec, w.view(), std::nullopt, PlanOptions{.algorithm = "winograd", .accuracy = Accuracy::strict}); },
      {"PlanOptions.algorithm=winograd", "accuracy=strict", "direct"});
  EXPECT_EQ(ConvPlan(spec, w.view(), std::nullopt, PlanOptions{.algorithm = "gemm", .accuracy = Accuracy::strict})
                .algorithm()
                .substr(0, 4),
            "gemm");
  testing::expect_error([] { parse_accuracy("exact", "--accuracy"); }, {"--accuracy='exact'", "fast, strict"});
  EXPECT_EQ(parse_accuracy("strict"), Accuracy::strict);
  EXPECT_EQ(to_string(parse_accuracy("fast")), "fast");
}

TEST(StrictAccuracy, ReachesTheBackwardDataPlansAdjoint) {
  const ConvSpec spec = conv_spec(2, 64, 64, 3, {1, 1});
  const Tensor w(weight_shape(spec), 0.25f);
  const Shape input{1, 64, 20, 20};
  EXPECT_NE(BackwardDataPlan(spec, w.view()).algorithm(input).find("winograd"), std::string::npos);
  EXPECT_EQ(BackwardDataPlan(spec, w.view(), PlanOptions{.accuracy = Accuracy::strict}).algorithm(input).find("winograd"),
            std::string::npos);
}

}  // namespace
}  // namespace convkit
