// Non-finite values (NaN, +-Inf) in the input or the weights give the reference's pattern on every CPU
// algorithm and ISA: NaN exactly where the reference has NaN, Inf of the same sign where it has Inf, the
// finite values within rounding. The reference sums the terms w * x of the definition in IEEE arithmetic
// (a +Inf and a -Inf term give NaN, 0 * Inf gives NaN; zero-padding cells are no terms), so a result does
// not depend on the algorithm a plan chooses.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <sstream>

#include "../src/cpu/algorithm.h"
#include "../src/cpu/isa.h"
#include "../src/cpu/winograd_convolution.h"
#include "convkit/backward.h"
#include "convkit/backward_plan.h"
#include "convkit/composite.h"
#include "convkit/composite_plan.h"
#include "convkit/conv.h"
#include "convkit/filters.h"
#include "convkit/reference.h"
#include "algorithm_support.h"

namespace convkit {
namespace {

using testing::kSeed;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// Empty when `got` has the non-finite pattern of `expected` (isnan, isinf and the sign of every Inf) and
// its finite values are within `tolerance` * (1 + |expected|); otherwise the first difference.
std::string pattern_difference(const Tensor& got, const Tensor& expected, double tolerance = 1e-4) {
  if (got.shape() != expected.shape()) return "shape " + to_string(got.shape()) + " != " + to_string(expected.shape());
  for (int64_t i = 0; i < got.numel(); ++i) {
    const float a = got[i], e = expected[i];
    const bool close = std::isfinite(a) && std::fabs(double{a} - e) <= tolerance * (1.0 + std::fabs(e));
    const bool same = std::isnan(e)   ? std::isnan(a)
                      : std::isinf(e) ? std::isinf(a) && std::signbit(a) == std::signbit(e)
                                      : close;
    if (!same) {
      std::ostringstream out;
      out << "element " << i << ": " << a << " where the reference has " << e;
      return out.str();
    }
  }
  return {};
}

int64_t count_if(const Tensor& t, bool (*predicate)(float)) {
  int64_t count = 0;
  for (int64_t i = 0; i < t.numel(); ++i) count += predicate(t[i]) ? 1 : 0;
  return count;
}
bool is_nan(float v) { return std::isnan(v); }
bool is_inf(float v) { return std::isinf(v); }

// Sets `count` random elements to NaN, +Inf or -Inf and a few others to 0 (0 * Inf is NaN).
void poison(Tensor& t, std::mt19937& rng, int count) {
  std::uniform_int_distribution<int64_t> element(0, t.numel() - 1);
  std::uniform_int_distribution<int> kind(0, 2);
  for (int i = 0; i < count; ++i) {
    const float values[] = {kNaN, kInf, -kInf};
    t[element(rng)] = values[kind(rng)];
  }
  for (int i = 0; i < 2; ++i) t[element(rng)] = 0.0f;
}

// A random problem; every other one with 3-wide stride-1 kernels (what winograd computes) or 1D stride-1
// with longer signals (fft, with several blocks).
testing::Problem draw_problem(std::mt19937& rng, int trial) {
  for (;;) {
    testing::ProblemOptions options;
    if (trial % 4 == 3) options.rank = 1, options.max_spatial = 90;
    testing::Problem p = testing::random_problem(rng, options);
    if (trial % 2 == 0) return p;
    ConvSpec& s = p.spec;
    s.transposed = false;
    s.output_padding.clear();
    for (int a = 0; a < s.rank; ++a) {
      s.stride[static_cast<size_t>(a)] = 1;
      if (trial % 4 == 1) s.kernel[static_cast<size_t>(a)] = 3;
    }
    try {
      resolve_geometry(s, input_spatial_of(s, p.input_shape));
      return p;
    } catch (const Error&) {  // e.g. the kernel now larger than the padded input: draw again
    }
  }
}

// Every algorithm that computes the problem, on every ISA, against the reference.
void expect_every_algorithm_matches(const testing::Problem& p, const testing::ProblemData& data, int trial) {
  const Tensor expected = reference::convolution(p.spec, data.input, data.weight, data.bias_view());
  for (const cpu::AlgorithmEntry& entry : cpu::algorithms()) {
    if (!entry.cannot(p.spec).empty()) continue;
    for (cpu::Isa isa : cpu::supported_isas()) {
      const auto algorithm = entry.create(p.spec, data.weight.view(), p.spec.bias ? data.bias.data() : nullptr, isa);
      Tensor got(output_shape(p.spec, p.input_shape), kNaN);
      algorithm->run(data.input.view(), got.data(), 1 + trial % 2);
      const std::string difference = pattern_difference(got, expected);
      EXPECT_TRUE(difference.empty()) << algorithm->name() << ", trial " << trial << " seed " << kSeed << ": "
                                      << difference << "; " << p.describe();
      if (!difference.empty()) break;
    }
  }
}

// Plans forcing each algorithm that computes the problem, and the plan's own choice, against the reference.
void expect_every_plan_matches(const testing::Problem& p, const testing::ProblemData& data, int trial) {
  const Tensor expected = reference::convolution(p.spec, data.input, data.weight, data.bias_view());
  for (const cpu::AlgorithmEntry& entry : cpu::algorithms()) {
    if (!entry.cannot(p.spec).empty()) continue;
    for (const std::string& name : {std::string(entry.name), std::string()}) {
      const ConvPlan plan(p.spec, data.weight, data.bias_view(), {.threads = 1 + trial % 2, .algorithm = name});
      const std::string difference = pattern_difference(plan.run(data.input), expected);
      EXPECT_TRUE(difference.empty()) << "algorithm=" << name << ": " << plan.explain() << "trial " << trial
                                      << " seed " << kSeed << ": " << difference << "; " << p.describe();
    }
  }
}

TEST(NonFinite, InputsGiveTheReferencePatternOnEveryAlgorithm) {
  std::mt19937 rng(kSeed);
  for (int trial = 0; trial < 400; ++trial) {
    const testing::Problem p = draw_problem(rng, trial);
    testing::ProblemData data = testing::random_data(p, rng);
    poison(data.input, rng, 1 + trial % 3);
    if (p.spec.bias && trial % 5 == 0) poison(data.bias, rng, 1);
    expect_every_algorithm_matches(p, data, trial);
  }
}

// Every algorithm multiplies the weights by the zeros of a staged zero padding, where the definition has
// no term (0 * Inf = NaN): a plan whose weights hold NaN or Inf runs the reference.
TEST(NonFinite, WeightsGiveTheReferencePatternOnEveryPlan) {
  std::mt19937 rng(kSeed + 1);
  for (int trial = 0; trial < 300; ++trial) {
    const testing::Problem p = draw_problem(rng, trial);
    testing::ProblemData data = testing::random_data(p, rng);
    poison(data.weight, rng, 1 + trial % 2);
    if (trial % 3 == 0) poison(data.input, rng, 1);
    expect_every_plan_matches(p, data, trial);
  }
  // Winograd and fft on their own (forced or not, a plan never runs them on such weights).
  for (int trial = 0; trial < 200; ++trial) {
    const testing::Problem p = draw_problem(rng, 2 * trial + 1);
    testing::ProblemData data = testing::random_data(p, rng);
    poison(data.weight, rng, 1 + trial % 2);
    const Tensor expected = reference::convolution(p.spec, data.input, data.weight, data.bias_view());
    for (const cpu::AlgorithmEntry& entry : cpu::algorithms()) {
      if ((entry.name != "winograd" && entry.name != "fft") || !entry.cannot(p.spec).empty()) continue;
      const auto algorithm = entry.create(p.spec, data.weight.view(), p.spec.bias ? data.bias.data() : nullptr,
                                          cpu::supported_isas().front());
      Tensor got(output_shape(p.spec, p.input_shape), kNaN);
      algorithm->run(data.input.view(), got.data(), 2);
      EXPECT_EQ(pattern_difference(got, expected), "") << algorithm->name() << ", trial " << trial << ": "
                                                       << p.describe();
    }
  }
}

// Every Winograd tile size, not only the one the plan picks.
TEST(NonFinite, WinogradEveryTileSize) {
  std::mt19937 rng(kSeed + 2);
  for (int trial = 0; trial < 120; ++trial) {
    const testing::Problem p = draw_problem(rng, 1);
    testing::ProblemData data = testing::random_data(p, rng);
    poison(trial % 2 ? data.input : data.weight, rng, 1 + trial % 3);
    const Tensor expected = reference::convolution(p.spec, data.input, data.weight, data.bias_view());
    for (int m : {2, 4, 6}) {
      const Tensor got = testing::run_algorithm<cpu::WinogradConvolution>(p, data, cpu::supported_isas().front(), 2, m);
      const std::string difference = pattern_difference(got, expected);
      ASSERT_TRUE(difference.empty()) << "F(" << m << "), trial " << trial << ": " << difference << "; "
                                      << p.describe();
    }
  }
}

// The case: a (1, 64, 56, 56) input with one NaN and one +Inf, 3x3 64 -> 64 (the plan takes
// winograd F(4x4)): 576 NaN and 576 Inf, each value reaching 9 cells of 64 channels (was 2,048 NaN, 0 Inf).
TEST(NonFinite, WinogradLayerKeepsEachValueToTheCellsItReaches) {
  std::mt19937 rng(kSeed + 3);
  for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
    const ConvSpec spec{.rank = 2, .in_channels = 64, .out_channels = 64, .kernel = {3, 3},
                        .padding = Padding::same(), .layout = layout};
    const bool last = layout == Layout::channels_last;
    Tensor x = testing::random_tensor(last ? Shape{1, 56, 56, 64} : Shape{1, 64, 56, 56}, rng);
    Tensor w = testing::random_tensor(weight_shape(spec), rng);
    for (int64_t i = 0; i < w.numel(); ++i)
      if (w[i] == 0.0f) w[i] = 0.5f;  // no 0 * Inf
    // Element (channel, row, column): the NaN in channel 5, the Inf in channel 40.
    auto at = [&](int64_t c, int64_t h, int64_t col) {
      return last ? (h * 56 + col) * 64 + c : (c * 56 + h) * 56 + col;
    };
    x[at(5, 21, 30)] = kNaN;
    x[at(40, 9, 45)] = kInf;
    const ConvPlan plan(spec, w);
    ASSERT_EQ(plan.algorithm().rfind("winograd", 0), 0u) << plan.explain();
    const Tensor got = plan.run(x), expected = reference::convolution(spec, x, w);
    EXPECT_EQ(count_if(expected, is_nan), 576);
    EXPECT_EQ(count_if(expected, is_inf), 576);
    EXPECT_EQ(count_if(got, is_nan), 576) << to_string(layout);
    EXPECT_EQ(count_if(got, is_inf), 576) << to_string(layout);
    EXPECT_EQ(pattern_difference(got, expected, 1e-3), "") << to_string(layout);
  }
}

// The filter case: smooth:255 (a 255-tap moving average, computed by fft) over a signal with one
// NaN and one +Inf: 255 NaN and 255 +Inf, around each (was 7,176 NaN).
TEST(NonFinite, FftFilterKeepsEachValueToTheCellsItReaches) {
  std::mt19937 rng(kSeed + 4);
  Tensor x = testing::random_tensor({1, 20000}, rng);
  x[5000] = kNaN;
  x[14000] = kInf;
  const filters::Filter smooth = filters::named("smooth:255", 1);
  const Tensor y = filters::apply(smooth, x, {});
  EXPECT_EQ(count_if(y, is_nan), 255);
  EXPECT_EQ(count_if(y, is_inf), 255);
  for (int64_t i = 0; i < 255; ++i) {
    EXPECT_TRUE(std::isnan(y[5000 - 127 + i])) << i;
    EXPECT_EQ(y[14000 - 127 + i], kInf) << i;
  }
}

// Composites, fused and staged: a depthwise separable layer (fused depthwise + pointwise) and a shuffled
// grouped pair whose first stage (32 channels per group, 3x3) runs winograd and whose second reads
// through the shuffle; NaN and Inf in the input and in each stage's weights.
TEST(NonFinite, CompositesGiveTheReferencePattern) {
  std::mt19937 rng(kSeed + 6);
  for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
    const ConvSpec layer{.rank = 2, .in_channels = 32, .out_channels = 40, .kernel = {3, 3}, .padding = Padding::same(),
                         .bias = true, .layout = layout};
    const ConvSpec first{.rank = 2, .in_channels = 64, .out_channels = 64, .kernel = {3, 3}, .padding = Padding::same(),
                         .groups = 2, .layout = layout};
    const Composite separable = depthwise_separable(layer);
    const Composite shuffled = shuffled_grouped(first, pointwise_grouped(2, 64, 64, 2, layout));
    for (const Composite& composite : {separable, shuffled}) {
      const int64_t channels = composite.stages[0].conv.in_channels;
      const Shape input_shape =
          layout == Layout::channels_first ? Shape{2, channels, 12, 13} : Shape{2, 12, 13, channels};
      for (int target = 0; target < 3; ++target) {  // the input, the first or the last stage's weights
        std::vector<Tensor> weights, biases;
        std::vector<StageWeights> views;
        for (const ConvSpec& spec : conv_stages(composite)) {
          weights.push_back(testing::random_tensor(weight_shape(spec), rng));
          biases.push_back(spec.bias ? testing::random_tensor(bias_shape(spec), rng) : Tensor());
        }
        Tensor input = testing::random_tensor(input_shape, rng);
        poison(target == 0 ? input : weights[target == 1 ? 0 : weights.size() - 1], rng, 3);
        for (size_t i = 0; i < weights.size(); ++i)
          views.push_back({weights[i].view(), biases[i].numel() ? std::optional<ConstTensorView>(biases[i].view())
                                                                : std::nullopt});
        const Tensor expected = reference::run(composite, input, views);
        for (bool fuse : {true, false}) {
          const CompositePlan plan(composite, views, {.threads = 2, .fuse = fuse});
          EXPECT_EQ(pattern_difference(plan.run(input), expected, 1e-3), "")
              << composite.kind << " " << to_string(layout) << " target " << target << " fuse " << fuse << ": "
              << plan.explain();
        }
      }
    }
  }
}

// Backward data of a stride-1 3x3 layer runs a forward plan (winograd here) on the output gradient.
TEST(NonFinite, BackwardDataGivesTheReferencePattern) {
  std::mt19937 rng(kSeed + 5);
  const ConvSpec spec{.rank = 2, .in_channels = 48, .out_channels = 40, .kernel = {3, 3}, .padding = Padding::same()};
  const Shape input_shape{2, 48, 13, 11};
  for (int trial = 0; trial < 4; ++trial) {
    Tensor w = testing::random_tensor(weight_shape(spec), rng);
    Tensor dy = testing::random_tensor(output_shape(spec, input_shape), rng);
    poison(trial < 2 ? dy : w, rng, 2 + trial);
    const BackwardDataPlan plan(spec, w);
    if (trial < 2) {
      EXPECT_NE(plan.algorithm(input_shape).find("winograd"), std::string::npos) << plan.algorithm(input_shape);
    }
    const Tensor got = plan.run(dy, input_shape);
    const Tensor expected = reference::convolution_backward_data(spec, input_shape, w, dy);
    EXPECT_EQ(pattern_difference(got, expected, 1e-3), "")
        << "trial " << trial << " via " << plan.algorithm(input_shape);
  }
}

}  // namespace
}  // namespace convkit
