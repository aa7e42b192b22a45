// Composite plans (convkit/composite_plan.h): the fused depthwise separable execution on every ISA and
// the staged execution of every composite kind, against reference::run on randomized composites (both
// layouts, ranks 1-3, strides, dilations, padding kinds and modes, multipliers, odd sizes, batch > 1),
// bit-identical for 1 and 2 threads; the channel shuffle copy; bad inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <random>
#include <set>

#include "../src/cpu/channel_shuffle.h"
#include "../src/cpu/fused_separable.h"
#include "../src/cpu/isa.h"
#include "convkit/composite_plan.h"
#include "convkit/error.h"
#include "convkit/reference.h"
#include "convkit/shape.h"
#include "test_support.h"

namespace convkit {
namespace {

using testing::kSeed;
using testing::Problem;

// A random ordinary (not transposed, not flipped) layer, with its input shape.
Problem random_layer(std::mt19937& rng, int64_t max_channels = 6) {
  testing::ProblemOptions options;
  options.allow_transposed = false;
  options.allow_flip = false;
  options.max_channels = max_channels;
  options.max_spatial = 9;
  return testing::random_problem(rng, options);
}

// Weights (and biases where a stage has one) for every convolution stage of a composite.
struct StageData {
  std::vector<Tensor> weights, biases;
  std::vector<StageWeights> views() const {
    std::vector<StageWeights> v;
    for (size_t i = 0; i < weights.size(); ++i)
      v.push_back(
          {weights[i].view(), biases[i].numel() ? std::optional<ConstTensorView>(biases[i].view()) : std::nullopt});
    return v;
  }
};

StageData random_stage_data(const Composite& composite, std::mt19937& rng, bool integers) {
  StageData d;
  for (const ConvSpec& spec : conv_stages(composite)) {
    d.weights.push_back(testing::random_tensor(weight_shape(spec), rng, integers));
    d.biases.push_back(spec.bias ? testing::random_tensor(bias_shape(spec), rng, integers) : Tensor());
  }
  return d;
}

bool bit_identical(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::equal(a.values().begin(), a.values().end(), b.values().begin(),
                                              [](float x, float y) { return std::memcmp(&x, &y, sizeof x) == 0; });
}

// The fused blocks' budget in the tests: fixed, so that the same shapes are cut into blocks on every machine.
constexpr int64_t kTestBlockBytes = int64_t{256} << 10;

// Runs the fused algorithm directly on `isa` (the plan always takes the best ISA).
Tensor run_fused(const Composite& composite, const StageData& data, const Tensor& input, cpu::Isa isa, int threads) {
  const ConvSpec& dw = composite.stages[0].conv;
  const ConvSpec& pw = composite.stages[1].conv;
  const cpu::FusedSeparable fused(dw, data.weights[0].view(), data.biases[0].numel() ? data.biases[0].data() : nullptr,
                                  pw, data.weights[1].view(), data.biases[1].numel() ? data.biases[1].data() : nullptr,
                                  isa, kTestBlockBytes);
  Tensor output(output_shape(pw, output_shape(dw, input.shape())), std::numeric_limits<float>::quiet_NaN());
  fused.run(input.view(), output.data(), threads);
  return output;
}

// Checks the fused algorithm on every ISA with 1 and 2 threads: exact on integer data, which every
// summation order computes exactly.
void expect_fused_exact(const Composite& composite, const Shape& input_shape, std::mt19937& rng,
                        const std::string& what) {
  ASSERT_EQ(cpu::FusedSeparable::cannot(composite.stages[0].conv, composite.stages[1].conv), "") << what;
  const StageData data = random_stage_data(composite, rng, /*integers=*/true);
  const Tensor input = testing::random_tensor(input_shape, rng, /*integers=*/true);
  const auto views = data.views();
  const Tensor expected = reference::run(composite, input, views);
  for (cpu::Isa isa : cpu::supported_isas()) {
    const Tensor one = run_fused(composite, data, input, isa, 1);
    ASSERT_EQ(testing::max_abs_difference(one, expected), 0.0) << to_string(isa) << ": " << what;
    ASSERT_TRUE(bit_identical(one, run_fused(composite, data, input, isa, 2))) << to_string(isa) << ": " << what;
  }
}

TEST(FusedSeparable, MatchesReferenceOnRandomSeparableLayers) {
  std::mt19937 rng(kSeed);
  std::set<std::pair<int, Layout>> seen;
  for (int trial = 0; trial < 150; ++trial) {
    const Problem layer = random_layer(rng, trial % 3 == 0 ? 40 : 6);
    const int64_t multiplier = std::uniform_int_distribution<int64_t>(1, 3)(rng);
    const Composite composite = depthwise_separable(layer.spec, multiplier);
    seen.insert({layer.spec.rank, layer.spec.layout});
    expect_fused_exact(composite, layer.input_shape, rng,
                       "trial " + std::to_string(trial) + " m=" + std::to_string(multiplier) + ": " + layer.describe());
  }
  EXPECT_EQ(seen.size(), 6u);  // every rank in both layouts
}

// Shapes large enough to cut into several blocks (kTestBlockBytes, kMinBlockPixels): blocks
// of rows (2D, 3D; a 2D row wider than the budget is a block of its own; a 1D signal is one block), with
// strides, dilations and padding modes at the cuts.
TEST(FusedSeparable, MatchesReferenceAcrossBlocks) {
  std::mt19937 rng(kSeed + 1);
  struct Case {
    int rank;
    int64_t channels, multiplier, out_channels, kernel, stride, dilation, spatial, batch;
    PaddingMode mode;
  };
  for (const Case& c : {Case{2, 64, 1, 24, 3, 1, 1, 45, 2, PaddingMode::zeros},
                        Case{2, 64, 2, 17, 5, 2, 1, 61, 1, PaddingMode::reflect},
                        Case{1, 96, 3, 10, 3, 2, 2, 1500, 2, PaddingMode::circular},
                        Case{1, 64, 1, 33, 7, 1, 3, 2100, 1, PaddingMode::replicate},
                        Case{2, 1024, 1, 8, 3, 1, 1, 300, 1, PaddingMode::reflect},
                        Case{3, 48, 1, 20, 3, 1, 1, 16, 1, PaddingMode::zeros}})
    for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
      ConvSpec layer{.rank = c.rank,
                     .in_channels = c.channels,
                     .out_channels = c.out_channels,
                     .kernel = {c.kernel},
                     .stride = {c.stride},
                     .dilation = {c.dilation},
                     .padding = Padding::same(),
                     .padding_mode = c.mode,
                     .bias = true,
                     .layout = layout};
      if (c.stride > 1) layer.padding = Padding::symmetric({c.kernel / 2 * c.dilation});
      Shape spatial(static_cast<size_t>(c.rank), c.spatial);
      if (c.channels == 1024) spatial = {3, c.spatial};  // one row of 300 x 1024 channels: over the budget
      const Shape input_shape = make_activation_shape(layer, c.batch, c.channels, spatial);
      const Composite composite = depthwise_separable(layer, c.multiplier);
      const std::string what = describe(layer) + " m=" + std::to_string(c.multiplier);
      const cpu::FusedSeparable fused(composite.stages[0].conv, Tensor(weight_shape(composite.stages[0].conv)).view(),
                                      nullptr, composite.stages[1].conv,
                                      Tensor(weight_shape(composite.stages[1].conv)).view(), nullptr,
                                      cpu::supported_isas().back(), kTestBlockBytes);
      EXPECT_EQ(fused.row_blocks(input_shape) > 1, c.rank > 1) << what;  // a 1D signal is one row
      expect_fused_exact(composite, input_shape, rng, what);
    }
}

TEST(FusedSeparable, RealDataWithinFloatRounding) {
  std::mt19937 rng(kSeed + 2);
  for (int trial = 0; trial < 40; ++trial) {
    const Problem layer = random_layer(rng, 24);
    const Composite composite = depthwise_separable(layer.spec, 1 + trial % 2);
    const StageData data = random_stage_data(composite, rng, /*integers=*/false);
    const Tensor input = testing::random_tensor(layer.input_shape, rng);
    const auto views = data.views();
    const Tensor expected = reference::run(composite, input, views);
    // Float rounding of two sums: the depthwise one of `taps` terms in [-1, 1) (error <= taps^2 * 6e-8,
    // values <= taps), then the pointwise one of `mid` terms of magnitude <= taps.
    const ConvSpec& dw = composite.stages[0].conv;
    const double taps = static_cast<double>(data.weights[0].numel() / dw.out_channels);
    const double mid = static_cast<double>(dw.out_channels);
    const double bound = 1e-6 + (mid * taps * taps + mid * mid * taps) * 6e-8;
    for (cpu::Isa isa : cpu::supported_isas())
      ASSERT_LE(testing::max_abs_difference(run_fused(composite, data, input, isa, 2), expected), bound)
          << "trial " << trial << " " << to_string(isa) << ": " << layer.describe();
  }
}

TEST(FusedSeparable, DeclinesWhatItCannotFuse) {
  const ConvSpec dw{.rank = 2, .in_channels = 4, .out_channels = 8, .kernel = {3}, .groups = 4};
  ConvSpec pw{.rank = 2, .in_channels = 8, .out_channels = 5, .kernel = {1}};
  EXPECT_EQ(cpu::FusedSeparable::cannot(dw, pw), "");
  ConvSpec grouped = pw;
  grouped.groups = 2, grouped.out_channels = 6;
  EXPECT_NE(cpu::FusedSeparable::cannot(dw, grouped), "");
  ConvSpec padded = pw;
  padded.padding = Padding::symmetric({1});
  EXPECT_NE(cpu::FusedSeparable::cannot(dw, padded), "");
  ConvSpec strided = pw;
  strided.stride = {2};
  EXPECT_NE(cpu::FusedSeparable::cannot(dw, strided), "");
  ConvSpec dense = dw;
  dense.groups = 1;
  EXPECT_NE(cpu::FusedSeparable::cannot(dense, pw), "");
  pw.layout = Layout::channels_last;
  EXPECT_NE(cpu::FusedSeparable::cannot(dw, pw), "");
}

// --- The public plan: every composite kind, fused and staged ---

// A random composite of `kind` built from a random layer, or nothing when the builder declines the layer.
std::optional<Composite> random_composite(int kind, const Problem& layer, std::mt19937& rng) {
  const ConvSpec& s = layer.spec;
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  try {
    switch (kind) {
      case 0:
        return depthwise_separable(s, pick(1, 2));
      case 1:
        return spatial_separable(s);
      case 2:
        return flattened(s);
      default: {
        const int64_t g = pick(1, 3), mid = g * pick(1, 4);
        return shuffled_grouped(pointwise_grouped(s.rank, s.in_channels * g, mid, g, s.layout),
                                pointwise_grouped(s.rank, mid, g * pick(1, 3), g, s.layout, s.bias));
      }
    }
  } catch (const Error&) {
    return std::nullopt;
  }
}

TEST(CompositePlan, FusedAndStagedMatchReferenceForEveryKind) {
  std::mt19937 rng(kSeed + 3);
  int checked[4] = {0, 0, 0, 0};
  for (int trial = 0; trial < 240; ++trial) {
    const int kind = trial % 4;
    const Problem layer = random_layer(rng);
    const std::optional<Composite> composite = random_composite(kind, layer, rng);
    if (!composite) continue;
    Shape input_shape = layer.input_shape;
    if (kind == 3)
      input_shape[layer.spec.layout == Layout::channels_last ? input_shape.size() - 1 : 1] =
          composite->stages[0].conv.in_channels;
    const StageData data = random_stage_data(*composite, rng, /*integers=*/true);
    const Tensor input = testing::random_tensor(input_shape, rng, /*integers=*/true);
    const auto views = data.views();
    Tensor expected;
    try {
      expected = reference::run(*composite, input, views);
    } catch (const Error&) {  // a later stage does not fit its input (e.g. a kernel larger than the axis)
      EXPECT_THROW(CompositePlan(*composite, views).run(input), Error);
      continue;
    }
    const std::string what = "trial " + std::to_string(trial) + " " + composite->kind + ": " + layer.describe();
    for (bool fuse : {true, false}) {
      const CompositePlan one(*composite, views, {.threads = 1, .fuse = fuse});
      const CompositePlan two(*composite, views, {.threads = 2, .fuse = fuse});
      const bool volume_first = layer.spec.rank == 3 && layer.spec.layout == Layout::channels_first;
      if (kind == 3)  // the shuffle fuses into the second stage's read when gemm runs it (see the test below)
        EXPECT_TRUE(fuse || !one.fused()) << what;
      else
        EXPECT_EQ(one.fused(), fuse && kind == 0 && !volume_first) << what;
      EXPECT_EQ(one.output_shape(input_shape), expected.shape()) << what;
      const Tensor result = one.run(input);
      ASSERT_EQ(testing::max_abs_difference(result, expected), 0.0) << what << " fuse=" << fuse;
      ASSERT_TRUE(bit_identical(result, two.run(input))) << what << " fuse=" << fuse;
    }
    ++checked[kind];
  }
  for (int count : checked) EXPECT_GE(count, 30);
}

// ShuffleNet with 2 or 4 groups of 16 channels (gemm / grouped_gemm run the second stage): the shuffle is not
// copied, the second convolution reads through it.
TEST(CompositePlan, FusesTheShuffleIntoTheNextConvolutionsRead) {
  std::mt19937 rng(kSeed + 5);
  for (int64_t groups : {2, 4})
    for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
      const Composite composite = shuffled_grouped(pointwise_grouped(2, 8 * groups, 16 * groups, groups, layout),
                                                   pointwise_grouped(2, 16 * groups, 4 * groups, groups, layout, true));
      const StageData data = random_stage_data(composite, rng, /*integers=*/true);
      const auto views = data.views();
      const Tensor input = testing::random_tensor(
          layout == Layout::channels_last ? Shape{2, 5, 7, 8 * groups} : Shape{2, 8 * groups, 5, 7}, rng, true);
      const Tensor expected = reference::run(composite, input, views);
      const CompositePlan fused(composite, views, {.threads = 2});
      const CompositePlan staged(composite, views, {.threads = 2, .fuse = false});
      EXPECT_TRUE(fused.fused()) << fused.explain();
      EXPECT_FALSE(staged.fused());
      EXPECT_NE(fused.explain().find("fused into"), std::string::npos) << fused.explain();
      EXPECT_NE(fused.algorithm().find("shuffled."), std::string::npos) << fused.algorithm();
      EXPECT_EQ(testing::max_abs_difference(fused.run(input), expected), 0.0) << groups;
      EXPECT_EQ(testing::max_abs_difference(staged.run(input), expected), 0.0) << groups;
    }
}

TEST(CompositePlan, RunsStridedViewsAndExplainsItsStages) {
  std::mt19937 rng(kSeed + 4);
  const ConvSpec layer{.rank = 2,
                       .in_channels = 8,
                       .out_channels = 12,
                       .kernel = {3},
                       .padding = Padding::same(),
                       .bias = true,
                       .layout = Layout::channels_last};
  const Composite composite = depthwise_separable(layer, 2);
  const StageData data = random_stage_data(composite, rng, true);
  const auto views = data.views();
  const Tensor base = testing::random_tensor({2, 9, 11, 8}, rng, true);
  // Every other row of the base: a strided input view.
  const ConstTensorView input(base.data(), {2, 5, 11, 8}, {9 * 11 * 8, 2 * 11 * 8, 8, 1});
  const Tensor expected = reference::run(composite, input, views);
  for (bool fuse : {true, false}) {
    const CompositePlan plan(composite, views, {.threads = 2, .fuse = fuse});
    Tensor big({2, 5, 11, 24}, -7.0f);  // output into every other channel of a wider tensor
    const TensorView output(big.data(), {2, 5, 11, 12}, {5 * 11 * 24, 11 * 24, 24, 2});
    plan.run(input, output);
    EXPECT_EQ(testing::max_abs_difference(output, expected), 0.0) << "fuse=" << fuse;
    EXPECT_EQ(big.values()[1], -7.0f);  // the skipped channels untouched
    const std::string text = plan.explain();
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 2) << text;
    EXPECT_EQ(text.find("depthwise: fused with pointwise") != std::string::npos, fuse) << text;
    EXPECT_EQ(text.find("not fused: fuse=false") != std::string::npos, !fuse) << text;
  }
}

TEST(CompositePlan, ChannelShuffleCopyMatchesReference) {
  std::mt19937 rng(kSeed + 5);
  for (Layout layout : {Layout::channels_first, Layout::channels_last})
    for (int64_t groups : {1, 2, 3, 6}) {
      const Shape shape = layout == Layout::channels_first ? Shape{2, 12, 5, 3} : Shape{2, 5, 3, 12};
      const Tensor x = testing::random_tensor(shape, rng);
      Tensor y(shape);
      cpu::channel_shuffle(x.view(), groups, layout, y.data(), 2);
      EXPECT_TRUE(bit_identical(y, reference::channel_shuffle(x, groups, layout))) << groups;
    }
}

TEST(CompositePlan, RejectsBadInputsNamingThem) {
  std::mt19937 rng(kSeed + 6);
  const ConvSpec layer{.rank = 2, .in_channels = 4, .out_channels = 6, .kernel = {3}, .bias = true};
  const Composite composite = depthwise_separable(layer);
  const StageData data = random_stage_data(composite, rng, true);
  const auto views = data.views();
  auto expect_error = [](auto&& f, const std::string& part) {
    try {
      f();
      ADD_FAILURE() << "no error; expected one mentioning " << part;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_error([&] { (void)CompositePlan(composite, std::span(views).first(1)); },
               "got weights for 1 stages; expected 2");
  std::vector<StageWeights> swapped = {views[1], views[0]};
  expect_error([&] { (void)CompositePlan(composite, swapped); }, "weight");
  std::vector<StageWeights> no_bias = views;
  no_bias[1].bias.reset();
  expect_error([&] { (void)CompositePlan(composite, no_bias); }, "bias=true but no bias tensor");
  expect_error([&] { (void)CompositePlan(composite, views, {.threads = -1}); }, "threads=-1");
  expect_error([&] { (void)CompositePlan(Composite{"empty", {}}, {}); }, "expected a convolution stage first");
  Composite broken = composite;
  broken.stages[1].conv.in_channels = 5;
  expect_error([&] { (void)CompositePlan(broken, views); }, "in_channels=5 does not match the 4 channels");
  Composite mixed = composite;
  mixed.stages[1].conv.layout = Layout::channels_last;
  expect_error([&] { (void)CompositePlan(mixed, views); }, "layout=channels_last");
  Composite shuffled = composite;
  shuffled.stages.insert(shuffled.stages.begin() + 1, Stage{"shuffle", {}, 3});
  expect_error([&] { (void)CompositePlan(shuffled, views); }, "shuffle_groups=3 does not divide the 4 channels");

  for (bool fuse : {true, false}) {
    const CompositePlan plan(composite, views, {.fuse = fuse});
    const Tensor wrong_channels({1, 3, 8, 8});
    expect_error([&] { plan.run(wrong_channels); }, "channels");
    const Tensor input({1, 4, 8, 8});
    Tensor wrong_output({1, 6, 8, 8});
    expect_error([&] { plan.run(input, wrong_output.view()); }, "does not match the expected [1, 6, 6, 6]");
  }
}

}  // namespace
}  // namespace convkit
