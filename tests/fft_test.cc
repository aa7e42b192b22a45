// The FFT and the FFT (overlap-save) convolution against the double-precision DFT and the reference:
// every ISA this CPU runs, randomized 1D specs with every option the path accepts in both layouts,
// 1 and 2 threads bit-identical, the documented error bound, and the plan's choice.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>
#include <random>

#include "../src/cpu/fft.h"
#include "../src/cpu/fft_convolution.h"
#include "../src/cpu/isa.h"
#include "convkit/conv.h"
#include "algorithm_support.h"

namespace convkit {
namespace {

using testing::kSeed;

int64_t bit_reversed(int64_t i, int64_t n) {
  int64_t r = 0;
  for (int64_t bit = 1; bit < n; bit *= 2) r = r * 2 + (i / bit % 2);
  return r;
}

TEST(Fft, ForwardIsTheDftInBitReversedOrderAndInverseUndoesIt) {
  std::mt19937 rng(kSeed);
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  for (cpu::Isa isa : cpu::supported_isas())
    for (int64_t n : {2, 4, 8, 32, 128, 1024}) {
      const cpu::FftPlan plan(n, isa);
      std::vector<float> re(static_cast<size_t>(n)), im(static_cast<size_t>(n));
      for (size_t i = 0; i < re.size(); ++i) re[i] = value(rng), im[i] = value(rng);
      const std::vector<float> re0 = re, im0 = im;
      plan.forward(re.data(), im.data());
      const double tolerance = 4e-7 * std::log2(static_cast<double>(n)) * std::sqrt(static_cast<double>(n));
      for (int64_t k = 0; k < n; ++k) {
        std::complex<double> sum = 0.0;
        for (int64_t j = 0; j < n; ++j)
          sum += std::complex<double>(re0[static_cast<size_t>(j)], im0[static_cast<size_t>(j)]) *
                 std::polar(1.0, -2.0 * std::numbers::pi * static_cast<double>(j * k) / static_cast<double>(n));
        const auto at = static_cast<size_t>(bit_reversed(k, n));
        ASSERT_NEAR(re[at], sum.real(), tolerance) << to_string(isa) << " n=" << n << " bin " << k;
        ASSERT_NEAR(im[at], sum.imag(), tolerance) << to_string(isa) << " n=" << n << " bin " << k;
      }
      plan.inverse(re.data(), im.data());
      for (size_t i = 0; i < re.size(); ++i) {
        ASSERT_NEAR(re[i] / static_cast<float>(n), re0[i], tolerance) << to_string(isa) << " n=" << n;
        ASSERT_NEAR(im[i] / static_cast<float>(n), im0[i], tolerance) << to_string(isa) << " n=" << n;
      }
    }
  EXPECT_THROW(cpu::FftPlan(12, cpu::Isa::portable), Error);
}

TEST(FftConvolution, BlockSizeLeavesRoomForTheKernelAndGrowsWithIt) {
  int64_t previous = 0;
  for (int64_t taps : {1, 5, 64, 256, 1024, 4096, 32768}) {
    const int64_t n = cpu::FftConvolution::block_size(taps, 1, 1);
    EXPECT_GE(n, 2 * taps);
    EXPECT_GE(n, previous);
    EXPECT_EQ(n & (n - 1), 0);
    previous = n;
  }
}

// A random 1D stride-1 problem with a kernel up to 300 taps (often several blocks per signal).
testing::Problem random_fft_problem(std::mt19937& rng) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  testing::ProblemOptions options;
  options.rank = 1;
  options.allow_transposed = false;
  options.max_channels = 4;
  for (;;) {
    testing::Problem p = testing::random_problem(rng, options);
    ConvSpec& s = p.spec;
    s.stride = {1};
    s.kernel = {pick(0, 1) ? pick(1, 8) : pick(9, 300)};
    const Shape spatial{pick(1, 2000)};
    p.input_shape = make_activation_shape(s, p.input_shape[0], s.in_channels, spatial);
    try {
      resolve_geometry(s, spatial);
      return p;
    } catch (const Error&) {  // kernel longer than the padded input: draw again
    }
  }
}

// The bound of fft_convolution.h: 5 * 2^-24 * log2(n) * sqrt(n) * max|x| * max_o ||w_o||_2 (+ the bias add).
double error_bound(const testing::Problem& problem, const testing::ProblemData& data, int64_t n) {
  const Tensor w = data.weight;
  const int64_t per_output = w.numel() / problem.spec.out_channels;
  const bool channels_last = problem.spec.layout == Layout::channels_last;
  double worst_norm = 0.0;
  for (int64_t o = 0; o < problem.spec.out_channels; ++o) {
    double sum = 0.0;
    for (int64_t i = 0; i < per_output; ++i) {
      const float v = channels_last ? w[i * problem.spec.out_channels + o] : w[o * per_output + i];
      sum += double{v} * v;
    }
    worst_norm = std::max(worst_norm, std::sqrt(sum));
  }
  double max_x = 0.0;
  for (int64_t i = 0; i < data.input.numel(); ++i) max_x = std::max(max_x, std::fabs(double{data.input[i]}));
  const double log_n = std::log2(static_cast<double>(n));
  return 5.0 * 0x1p-24 * log_n * std::sqrt(static_cast<double>(n)) * max_x * worst_norm + 0x1p-22;
}

TEST(FftConvolution, MatchesReferenceWithinTheDocumentedBound) {
  std::mt19937 rng(kSeed);
  double worst_ratio = 0.0;
  for (int trial = 0; trial < 250; ++trial) {
    const testing::Problem problem = random_fft_problem(rng);
    ASSERT_EQ(cpu::FftConvolution::cannot(problem.spec), "") << problem.describe();
    const testing::ProblemData data = testing::random_data(problem, rng);
    const Tensor expected = reference::convolution(problem.spec, data.input, data.weight, data.bias_view());
    for (cpu::Isa isa : cpu::supported_isas()) {
      const cpu::FftConvolution conv(problem.spec, data.weight.view(), nullptr, isa);
      const double bound = error_bound(problem, data, conv.transform_size());
      const Tensor one = testing::run_algorithm<cpu::FftConvolution>(problem, data, isa, 1);
      const double error = testing::max_abs_difference(one, expected);
      ASSERT_LE(error, bound) << "trial " << trial << " seed " << kSeed << " isa " << to_string(isa) << ": "
                              << problem.describe();
      worst_ratio = std::max(worst_ratio, error / bound);
      const Tensor two = testing::run_algorithm<cpu::FftConvolution>(problem, data, isa, 2);
      ASSERT_TRUE(testing::bit_identical(one, two))
          << "1 and 2 threads differ, trial " << trial << ": " << problem.describe();
    }
  }
  std::printf("worst error / bound: %.3g\n", worst_ratio);
}

// The signal suite's shape scaled down (kernel 1024 on 8192 samples, several channels, 2 threads
// splitting the blocks), both layouts.
TEST(FftConvolution, LongKernelLayer) {
  std::mt19937 rng(kSeed + 1);
  for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
    testing::Problem p;
    p.spec = {.rank = 1, .in_channels = 2, .out_channels = 3, .kernel = {1024}, .padding = Padding::same(),
              .bias = true, .layout = layout};
    p.input_shape = make_activation_shape(p.spec, 2, 2, Shape{8192});
    const testing::ProblemData data = testing::random_data(p, rng);
    const Tensor expected = reference::convolution(p.spec, data.input, data.weight, data.bias_view());
    for (cpu::Isa isa : cpu::supported_isas()) {
      const cpu::FftConvolution conv(p.spec, data.weight.view(), nullptr, isa);
      const Tensor two = testing::run_algorithm<cpu::FftConvolution>(p, data, isa, 2);
      EXPECT_LE(testing::max_abs_difference(two, expected), error_bound(p, data, conv.transform_size()))
          << to_string(isa) << ": " << p.describe();
      EXPECT_TRUE(testing::bit_identical(two, testing::run_algorithm<cpu::FftConvolution>(p, data, isa, 1)));
    }
  }
}

TEST(FftConvolution, PlanChoosesItForLongKernelsOnlyAndSaysWhy) {
  const ConvSpec long_kernel{.rank = 1, .in_channels = 1, .out_channels = 1, .kernel = {1024},
                             .padding = Padding::same()};
  const ConvPlan plan(long_kernel, Tensor(weight_shape(long_kernel)));
  EXPECT_EQ(plan.algorithm().rfind("fft.", 0), 0u) << plan.algorithm();
  EXPECT_NE(plan.explain().find("fft: chosen, overlap-save"), std::string::npos) << plan.explain();

  const ConvSpec short_kernel{.rank = 1, .in_channels = 1, .out_channels = 1, .kernel = {64}};
  const ConvPlan direct(short_kernel, Tensor(weight_shape(short_kernel)));
  EXPECT_NE(direct.explain().find("fft: declined: kernel 64 < 160 taps"), std::string::npos) << direct.explain();
  EXPECT_EQ(direct.algorithm().rfind("fft.", 0), std::string::npos) << direct.algorithm();

  ConvSpec strided = long_kernel;
  strided.stride = {2};
  EXPECT_NE(ConvPlan(strided, Tensor(weight_shape(strided))).explain().find("fft: declined: stride 2"),
            std::string::npos);
  EXPECT_THROW(ConvPlan(strided, Tensor(weight_shape(strided)), std::nullopt, {.algorithm = "fft"}), Error);
  const ConvSpec image{.rank = 2, .in_channels = 1, .out_channels = 1, .kernel = {3}};
  EXPECT_THROW(ConvPlan(image, Tensor(weight_shape(image)), std::nullopt, {.algorithm = "fft"}), Error);
}

}  // namespace
}  // namespace convkit
