// Reference backward passes (convkit/backward.h), checked against facts that do not use their code:
//   1. central differences of L = <y, g> (g a random output gradient) along random directions and along
//      single coordinates, for every ConvSpec option (random problems plus a table of named cases);
//   2. the Toeplitz form: on small problems, every entry of dL/dx and dL/dw equals <C e_j, g> built from
//      the forward engine on unit vectors;
//   3. adjoint identities: backward-data of a convolution is the transposed convolution of dL/dy with
//      the same weights, and backward-data of a transposed convolution is the convolution;
//   4. the seeds' worked examples (PyTorch Conv1d on x = [1..6], TF 'SAME', seed 002's flip) by hand;
//   5. channel shuffle and the composites by central differences through the whole pipeline.
//
// Why central differences can be checked tightly: y is affine in x, in w and in b separately (and a
// composite is affine in each of its tensors separately), so L(p + d) - L(p - d) == <dL/dp, 2d> exactly
// for any step d; the only error is rounding. The reference rounds each output once from a double sum,
// so |y_float - y| <= 2^-24 |y|, and each gradient entry likewise. Hence
//   |(L(p+d) - L(p-d)) - <grad, (p+d) - (p-d)>| <= 2^-24 (sum|g||y+| + sum|g||y-| + sum|grad||2d|)
// (steps taken as the float differences actually stored; the bound is doubled for the double sums).
// With integer-valued data every value is an integer below 2^24 and the check is exact.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "test_support.h"

namespace convkit {
namespace {

using testing::kSeed;
using testing::Problem;
using testing::ProblemData;
using testing::ProblemOptions;
using testing::random_data;
using testing::random_problem;
using testing::random_tensor;

using Forward = std::function<Tensor(const Tensor&)>;

// L = <y, g> in double, and the bound on what the float rounding of y can change it by.
struct Functional {
  double value = 0.0;
  double rounding = 0.0;
};

Functional functional(const Tensor& y, const Tensor& g) {
  EXPECT_EQ(y.shape(), g.shape());
  Functional f;
  for (int64_t i = 0; i < y.numel(); ++i) {
    f.value += static_cast<double>(y[i]) * static_cast<double>(g[i]);
    f.rounding += std::fabs(static_cast<double>(y[i]) * static_cast<double>(g[i]));
  }
  return f;
}

// The central difference of L along `direction` against <grad, step>, within the rounding bound above.
void expect_central_difference(const Forward& forward, const Tensor& param, const Tensor& grad, const Tensor& g,
                               const Tensor& direction, const std::string& what) {
  ASSERT_EQ(grad.shape(), param.shape()) << what;
  Tensor plus = param, minus = param;
  for (int64_t i = 0; i < param.numel(); ++i) {
    plus[i] += direction[i];
    minus[i] -= direction[i];
  }
  const Functional lp = functional(forward(plus), g), lm = functional(forward(minus), g);
  double predicted = 0.0, grad_rounding = 0.0;
  for (int64_t i = 0; i < param.numel(); ++i) {
    const double step = static_cast<double>(plus[i]) - static_cast<double>(minus[i]);  // exact in double
    predicted += static_cast<double>(grad[i]) * step;
    grad_rounding += std::fabs(static_cast<double>(grad[i]) * step);
  }
  const double tolerance = std::ldexp(lp.rounding + lm.rounding + grad_rounding, -23) + 1e-12;
  EXPECT_NEAR(lp.value - lm.value, predicted, tolerance) << what;
}

// A random direction (all coordinates at once) and a few single coordinates (first, last, random).
void expect_gradient(const Forward& forward, const Tensor& param, const Tensor& grad, const Tensor& g,
                     std::mt19937& rng, bool integers, const std::string& what) {
  Tensor direction = random_tensor(param.shape(), rng, integers);
  expect_central_difference(forward, param, grad, g, direction, what + " along a random direction");
  if (param.numel() == 0) return;
  std::vector<int64_t> coordinates{0, param.numel() - 1};
  for (int k = 0; k < 2; ++k) coordinates.push_back(std::uniform_int_distribution<int64_t>(0, param.numel() - 1)(rng));
  for (int64_t j : coordinates) {
    Tensor unit(param.shape());
    unit[j] = integers ? 1.0f : 0.5f;
    expect_central_difference(forward, param, grad, g, unit, what + " at flat index " + std::to_string(j));
  }
}

// Checks dL/dx, dL/dw and dL/db of one problem by central differences.
void expect_conv_gradients(const Problem& p, std::mt19937& rng, bool integers) {
  const ProblemData d = random_data(p, rng, integers);
  const ConvSpec& s = p.spec;
  const Tensor g = random_tensor(output_shape(s, p.input_shape), rng, integers);
  const Tensor gx = reference::convolution_backward_data(s, p.input_shape, d.weight, g);
  const Tensor gw = reference::convolution_backward_weights(s, d.input, g);
  expect_gradient([&](const Tensor& x) { return reference::convolution(s, x, d.weight, d.bias_view()); }, d.input,
                  gx, g, rng, integers, "dL/dx");
  expect_gradient([&](const Tensor& w) { return reference::convolution(s, d.input, w, d.bias_view()); }, d.weight,
                  gw, g, rng, integers, "dL/dw");
  if (s.bias) {
    const Tensor gb = reference::convolution_backward_bias(s, g);
    expect_gradient([&](const Tensor& b) { return reference::convolution(s, d.input, d.weight, b.view()); }, d.bias,
                    gb, g, rng, integers, "dL/db");
  }
}

std::string banner(int index, const Problem& p) {
  return "case " + std::to_string(index) + " (seed " + std::to_string(kSeed) + "): " + p.describe();
}

// Which options the randomized cases exercised; each must appear, or the test proves little.
struct Coverage {
  std::vector<int> rank = std::vector<int>(4), mode = std::vector<int>(4), kind = std::vector<int>(4);
  int transposed = 0, flip = 0, grouped = 0, depthwise_multiplier = 0, strided = 0, dilated = 0, last = 0,
      asymmetric = 0, bias = 0;
  void add(const ConvSpec& s) {
    ++rank[static_cast<size_t>(s.rank)];
    if (!s.transposed) ++mode[static_cast<size_t>(s.padding_mode)];
    ++kind[static_cast<size_t>(s.padding.kind)];
    transposed += s.transposed;
    flip += s.flip;
    grouped += s.groups > 1 && s.groups < s.in_channels;
    depthwise_multiplier += s.groups == s.in_channels && s.out_channels == 2 * s.in_channels && s.groups > 1;
    for (int64_t v : s.stride) strided += v > 1;
    for (int64_t v : s.dilation) dilated += v > 1;
    last += s.layout == Layout::channels_last;
    asymmetric += s.padding.begin != s.padding.end;
    bias += s.bias;
  }
  void expect_complete() const {
    for (int r = 1; r <= 3; ++r) EXPECT_GT(rank[static_cast<size_t>(r)], 0) << "rank " << r;
    for (int m = 0; m < 4; ++m) EXPECT_GT(mode[static_cast<size_t>(m)], 0) << "padding mode " << m;
    for (int k = 0; k < 4; ++k) EXPECT_GT(kind[static_cast<size_t>(k)], 0) << "padding kind " << k;
    for (int count : {transposed, flip, grouped, depthwise_multiplier, strided, dilated, last, asymmetric, bias})
      EXPECT_GT(count, 0);
  }
};

TEST(BackwardFiniteDifference, RandomProblems) {
  std::mt19937 rng(kSeed);
  Coverage coverage;
  ProblemOptions options;
  options.max_channels = 4;
  options.max_spatial = 6;
  for (int i = 0; i < 240; ++i) {
    const Problem p = random_problem(rng, options);
    SCOPED_TRACE(banner(i, p));
    coverage.add(p.spec);
    expect_conv_gradients(p, rng, /*integers=*/i % 2 == 1);
  }
  coverage.expect_complete();
}

// Named cases for what random draws reach rarely: output_shape, wide reflect/circular pads, depthwise
// multipliers with flip in channels_last, 3D asymmetric pads.
TEST(BackwardFiniteDifference, NamedCases) {
  std::vector<Problem> cases;
  auto add = [&](ConvSpec s, Shape spatial, int64_t batch = 2) {
    cases.push_back({s, make_activation_shape(s, batch, s.in_channels, spatial)});
  };
  add({.rank = 1, .in_channels = 2, .out_channels = 3, .kernel = {4}, .padding = Padding::explicit_pads({3}, {2}),
       .padding_mode = PaddingMode::reflect, .bias = true},
      {5});
  add({.rank = 2, .in_channels = 3, .out_channels = 6, .kernel = {3, 2}, .stride = {2, 1}, .dilation = {1, 2},
       .padding = Padding::explicit_pads({2, 0}, {1, 3}), .padding_mode = PaddingMode::circular, .groups = 3,
       .layout = Layout::channels_last},
      {4, 3});
  add({.rank = 2, .in_channels = 2, .out_channels = 4, .kernel = {3, 3}, .padding = Padding::same(),
       .padding_mode = PaddingMode::replicate, .groups = 2, .bias = true, .flip = true,
       .layout = Layout::channels_last},
      {3, 5});
  add({.rank = 3, .in_channels = 2, .out_channels = 2, .kernel = {2, 3, 1}, .stride = {1, 2, 2},
       .padding = Padding::explicit_pads({1, 0, 2}, {0, 2, 1}), .bias = true},
      {3, 4, 3});
  add({.rank = 2, .in_channels = 4, .out_channels = 2, .kernel = {3, 3}, .stride = {2, 3}, .groups = 2,
       .transposed = true, .output_shape = {6, 9}, .flip = true},
      {3, 3});
  add({.rank = 2, .in_channels = 2, .out_channels = 3, .kernel = {2, 3}, .stride = {3, 2}, .bias = true,
       .transposed = true, .output_shape = {10, 8}, .layout = Layout::channels_last},  // beyond the 8 x 7 span
      {3, 3});
  add({.rank = 1, .in_channels = 3, .out_channels = 3, .kernel = {3}, .stride = {3}, .dilation = {2},
       .padding = Padding::same_lower(), .groups = 3, .bias = true, .transposed = true, .output_padding = {2},
       .layout = Layout::channels_last},
      {4});
  add({.rank = 3, .in_channels = 2, .out_channels = 4, .kernel = {2, 2, 2}, .stride = {2, 1, 2},
       .padding = Padding::explicit_pads({0, 1, 1}, {1, 0, 0}), .groups = 2, .transposed = true,
       .output_padding = {1, 0, 1}, .layout = Layout::channels_last},
      {2, 3, 2}, 1);
  std::mt19937 rng(kSeed + 1);
  for (size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(banner(static_cast<int>(i), cases[i]));
    expect_conv_gradients(cases[i], rng, /*integers=*/false);
  }
}

// ---------------------------------------------------------------------------------------------
// 2. The Toeplitz form: dL/dp[j] = <y(e_j) - y(0), g> for y linear in p (bias set to zero).

Tensor jacobian_transpose_times(const Forward& forward, const Shape& param_shape, const Tensor& g) {
  Tensor result(param_shape);
  for (int64_t j = 0; j < result.numel(); ++j) {
    Tensor unit(param_shape);
    unit[j] = 1.0f;
    result[j] = static_cast<float>(functional(forward(unit), g).value);
  }
  return result;
}

TEST(BackwardToeplitz, EveryEntryOnSmallProblems) {
  std::mt19937 rng(kSeed + 2);
  ProblemOptions options;
  options.max_channels = 3;
  options.max_spatial = 5;
  int checked = 0;
  for (int i = 0; checked < 80; ++i) {
    Problem p = random_problem(rng, options);
    p.spec.bias = false;
    if (element_count(p.input_shape) > 120) continue;
    SCOPED_TRACE(banner(i, p));
    const ProblemData d = random_data(p, rng, /*integers=*/true);
    const Tensor g = random_tensor(output_shape(p.spec, p.input_shape), rng, true);
    const ConvSpec& s = p.spec;
    // Integer data: every sum is an exact integer, so the comparison is exact.
    EXPECT_EQ(reference::convolution_backward_data(s, p.input_shape, d.weight, g).values(),
              jacobian_transpose_times([&](const Tensor& x) { return reference::convolution(s, x, d.weight); },
                                       p.input_shape, g)
                  .values());
    EXPECT_EQ(reference::convolution_backward_weights(s, d.input, g).values(),
              jacobian_transpose_times([&](const Tensor& w) { return reference::convolution(s, d.input, w); },
                                       weight_shape(s), g)
                  .values());
    ++checked;
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Adjoint identities against the forward engine's transposed convolution.

// The other direction of `s` with the same weights tensor: pads resolved to explicit numbers, channels
// swapped (a conv weight (Cout, Cin/g, k) is the transposed weight of a Cout -> Cin transposed conv).
ConvSpec adjoint_spec(const ConvSpec& s, const ConvGeometry& geometry) {
  ConvSpec a = s;
  a.transposed = !s.transposed;
  a.bias = false;
  std::swap(a.in_channels, a.out_channels);
  a.padding = Padding::explicit_pads({}, {});
  a.output_padding.clear();
  a.output_shape.clear();
  for (const AxisGeometry& axis : geometry.axes) {
    a.padding.begin.push_back(axis.pad_begin);
    a.padding.end.push_back(axis.pad_end);
    // conv -> transposed: output_padding restores the rows the conv's floor division dropped.
    if (!s.transposed)
      a.output_padding.push_back(axis.input - transposed_output_size(axis.output, axis.kernel, axis.stride,
                                                                     axis.dilation, axis.pad_begin, axis.pad_end, 0));
  }
  return a;
}

TEST(BackwardAdjoint, DataGradientIsTheOtherDirection) {
  std::mt19937 rng(kSeed + 3);
  ProblemOptions options;
  options.allow_padding_modes = false;  // the adjoint of a reflect/replicate/circular pad is no convolution
  int checked[2] = {0, 0};
  for (int i = 0; i < 300; ++i) {
    const Problem p = random_problem(rng, options);
    const ConvSpec& s = p.spec;
    const ConvGeometry geometry = resolve_geometry(s, input_spatial_of(s, p.input_shape));
    const ConvSpec a = adjoint_spec(s, geometry);
    const Tensor weight = random_tensor(weight_shape(s), rng);
    const Tensor g = random_tensor(output_shape(s, p.input_shape), rng);
    Shape adjoint_output;
    try {
      adjoint_output = output_shape(a, g.shape());
    } catch (const Error&) {  // e.g. a transposed conv's output_padding >= stride: no conv reaches its size
      continue;
    }
    if (adjoint_output != p.input_shape) continue;  // same reason, caught by the size rather than validation
    SCOPED_TRACE(banner(i, p) + "; adjoint " + describe(a));
    const Tensor expected = reference::convolution(a, g, weight);
    const Tensor got = reference::convolution_backward_data(s, p.input_shape, weight, g);
    EXPECT_LE(testing::max_abs_difference(expected, got), 1e-5);
    ++checked[s.transposed ? 1 : 0];
  }
  EXPECT_GT(checked[0], 150);
  EXPECT_GT(checked[1], 30);
}

// ---------------------------------------------------------------------------------------------
// 4. The seeds' worked examples backward, by hand. With L = sum(y) (g = ones), dL/dx[i] counts the
// taps that read x[i] times the weight, and dL/dw[q] sums the inputs tap q reads.

struct Conv1dGradients {
  std::vector<float> input, weight, bias;
};

Conv1dGradients conv1d_backward(std::vector<float> x, std::vector<float> w, int64_t padding = 0, int64_t stride = 1,
                                int64_t dilation = 1, bool flip = false) {
  const auto k = static_cast<int64_t>(w.size()), width = static_cast<int64_t>(x.size());
  const ConvSpec spec{.rank = 1, .kernel = {k}, .stride = {stride}, .dilation = {dilation},
                      .padding = Padding::symmetric({padding}), .bias = true, .flip = flip};
  const Tensor input({1, 1, width}, std::move(x)), weight({1, 1, k}, std::move(w));
  const Tensor g(output_shape(spec, input.shape()), 1.0f);
  return {reference::convolution_backward_data(spec, input.shape(), weight, g).values(),
          reference::convolution_backward_weights(spec, input, g).values(),
          reference::convolution_backward_bias(spec, g).values()};
}

const std::vector<float> kOneToSix{1, 2, 3, 4, 5, 6};
using Floats = std::vector<float>;

TEST(BackwardSeeds, PyTorchConv1dKernelSizes) {
  // k=1, weight 2: y = 2x; dL/dx = 2, dL/dw = 1+..+6 = 21, dL/db = 6 outputs.
  const Conv1dGradients k1 = conv1d_backward(kOneToSix, {2});
  EXPECT_EQ(k1.input, Floats(6, 2.0f));
  EXPECT_EQ(k1.weight, Floats{21});
  EXPECT_EQ(k1.bias, Floats{6});
  // k=2: x[0] and x[5] are read once, the others twice; taps read 1..5 and 2..6.
  const Conv1dGradients k2 = conv1d_backward(kOneToSix, {2, 2});
  EXPECT_EQ(k2.input, (Floats{2, 4, 4, 4, 4, 2}));
  EXPECT_EQ(k2.weight, (Floats{15, 20}));
  EXPECT_EQ(k2.bias, Floats{5});
  // k=3: coverage 1,2,3,3,2,1; taps read 1..4, 2..5, 3..6.
  const Conv1dGradients k3 = conv1d_backward(kOneToSix, {2, 2, 2});
  EXPECT_EQ(k3.input, (Floats{2, 4, 6, 6, 4, 2}));
  EXPECT_EQ(k3.weight, (Floats{10, 14, 18}));
  EXPECT_EQ(k3.bias, Floats{4});
}

TEST(BackwardSeeds, PyTorchConv1dPaddingStrideDilation) {
  // padding=1: the ends are read by two taps (the third reads a zero), the others by three;
  // tap 0 reads [0,1..5], tap 2 reads [2..6,0].
  const Conv1dGradients pad = conv1d_backward(kOneToSix, {2, 2, 2}, 1);
  EXPECT_EQ(pad.input, (Floats{4, 6, 6, 6, 6, 4}));
  EXPECT_EQ(pad.weight, (Floats{15, 21, 20}));
  // k=5, padding=2: coverage 3,4,5,5,4,3; tap q reads x[q-2 .. q+3].
  const Conv1dGradients pad2 = conv1d_backward(kOneToSix, {2, 2, 2, 2, 2}, 2);
  EXPECT_EQ(pad2.input, (Floats{6, 8, 10, 10, 8, 6}));
  EXPECT_EQ(pad2.weight, (Floats{10, 15, 21, 20, 18}));
  // stride=3: outputs read [1,2,3] and [4,5,6]; each x once; tap q reads x[q] and x[q+3].
  const Conv1dGradients strided = conv1d_backward(kOneToSix, {2, 2, 2}, 0, 3);
  EXPECT_EQ(strided.input, Floats(6, 2.0f));
  EXPECT_EQ(strided.weight, (Floats{5, 7, 9}));
  // dilation=2: outputs read [1,3,5] and [2,4,6]; tap q reads x[2q] and x[2q+1].
  const Conv1dGradients dilated = conv1d_backward(kOneToSix, {2, 2, 2}, 0, 1, 2);
  EXPECT_EQ(dilated.input, Floats(6, 2.0f));
  EXPECT_EQ(dilated.weight, (Floats{3, 7, 11}));
  EXPECT_EQ(dilated.bias, Floats{2});
}

TEST(BackwardSeeds, Seed002FlippedKernelGradientIsReversed) {
  // True convolution with g = [1, 2, 3] applies [3, 2, 1]; with dL/dy = [1, 0, 0, 0] only the first
  // output (3*1 + 2*2 + 1*3) matters: dL/dx = [3, 2, 1, 0, 0, 0] and dL/dg = [x2, x1, x0] = [3, 2, 1].
  const ConvSpec spec{.rank = 1, .kernel = {3}, .flip = true};
  const Tensor x({1, 1, 6}, kOneToSix), g({1, 1, 3}, Floats{1, 2, 3}), dy({1, 1, 4}, Floats{1, 0, 0, 0});
  EXPECT_EQ(reference::convolution_backward_data(spec, x.shape(), g, dy).values(), (Floats{3, 2, 1, 0, 0, 0}));
  EXPECT_EQ(reference::convolution_backward_weights(spec, x, dy).values(), (Floats{3, 2, 1}));
}

TEST(BackwardSeeds, TensorFlowSame1dOnOnes) {
  // tf.nn.conv1d(ones(5), ones(3), 'SAME'): x[0] and x[4] are read by two taps; the outer taps each miss one cell.
  const ConvSpec spec{.rank = 1, .kernel = {3}, .padding = Padding::same(), .layout = Layout::channels_last};
  const Tensor x({1, 5, 1}, 1.0f), w({3, 1, 1}, 1.0f), g({1, 5, 1}, 1.0f);
  EXPECT_EQ(reference::convolution_backward_data(spec, x.shape(), w, g).values(), (Floats{2, 3, 3, 3, 2}));
  EXPECT_EQ(reference::convolution_backward_weights(spec, x, g).values(), (Floats{4, 5, 4}));
}

TEST(BackwardSeeds, ReflectPaddingFoldsBack) {
  // PyTorch padding_mode='reflect', k=3, padding=1 on [1..4]: the padded row is [2,1,2,3,4,3], so x[1]
  // and x[2] are also read by the padded cells that copy them; with weights [1,1,1] and g = ones,
  // dL/dx = [2, 4, 4, 2] (sum 12 = 4 outputs x 3 taps), and tap 0 reads [2,1,2,3] -> 8.
  const ConvSpec spec{.rank = 1, .kernel = {3}, .padding = Padding::symmetric({1}),
                      .padding_mode = PaddingMode::reflect};
  const Tensor x({1, 1, 4}, Floats{1, 2, 3, 4}), w({1, 1, 3}, 1.0f), g({1, 1, 4}, 1.0f);
  EXPECT_EQ(reference::convolution_backward_data(spec, x.shape(), w, g).values(), (Floats{2, 4, 4, 2}));
  EXPECT_EQ(reference::convolution_backward_weights(spec, x, g).values(), (Floats{8, 10, 12}));
}

TEST(BackwardSeeds, TransposedUpsampleGradientSumsBlocks) {
  // The 2x2 stride-2 transposed conv of ones copies each input cell to a 2x2 block, so dL/dx sums the
  // block of dL/dy, and dL/dw[q] sums the inputs weighted by the gradient at their tap q.
  const ConvSpec spec{.rank = 2, .kernel = {2}, .stride = {2}, .transposed = true};
  Tensor dy({1, 1, 4, 4});
  for (int64_t i = 0; i < 16; ++i) dy[i] = static_cast<float>(i);
  const Tensor x({1, 1, 2, 2}, Floats{1, 2, 3, 4}), w({1, 1, 2, 2}, 1.0f);
  EXPECT_EQ(reference::convolution_backward_data(spec, x.shape(), w, dy).values(), (Floats{10, 18, 42, 50}));
  // tap (0,0) sees dy[0,0], dy[0,2], dy[2,0], dy[2,2] = 0, 2, 8, 10 against x = 1, 2, 3, 4: 68.
  EXPECT_EQ(reference::convolution_backward_weights(spec, x, dy).values(), (Floats{68, 78, 108, 118}));
}

// ---------------------------------------------------------------------------------------------
// 5. Channel shuffle and composites.

TEST(ChannelShuffleBackward, IsTheAdjointAndUndoesTheShuffle) {
  std::mt19937 rng(kSeed + 4);
  for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
    const Shape shape = layout == Layout::channels_first ? Shape{2, 12, 3, 2} : Shape{2, 3, 2, 12};
    for (int64_t groups : {1, 2, 3, 4, 6, 12}) {
      const Tensor x = random_tensor(shape, rng), g = random_tensor(shape, rng);
      const Tensor y = reference::channel_shuffle(x, groups, layout);
      const Tensor gx = reference::channel_shuffle_backward(g, groups, layout);
      EXPECT_EQ(testing::dot(y, g), testing::dot(x, gx)) << "groups " << groups;  // a permutation: exact
      EXPECT_EQ(reference::channel_shuffle_backward(y, groups, layout).values(), x.values()) << "groups " << groups;
    }
  }
  EXPECT_THROW(reference::channel_shuffle_backward(Tensor({1, 6, 2}), 4, Layout::channels_first), Error);
}

// Every composite kind on random layers, by central differences through the whole pipeline (integer
// data: every stage's values are exact integers, so the check is exact).
TEST(CompositeBackward, CentralDifferencesThroughEveryStage) {
  std::mt19937 rng(kSeed + 5);
  ProblemOptions options;
  options.allow_transposed = false;
  options.allow_flip = false;
  options.max_channels = 4;
  options.max_spatial = 5;
  int cases = 0;
  for (int rank = 1; rank <= 3; ++rank) {
    for (int i = 0; i < 12; ++i) {
      options.rank = rank;
      Problem p = random_problem(rng, options);
      ConvSpec dense = p.spec;
      dense.groups = 1;
      const ConvSpec second = pointwise_grouped(rank, p.spec.out_channels, p.spec.out_channels,
                                                p.spec.groups, p.spec.layout, true);
      const std::vector<Composite> composites{depthwise_separable(dense, 1 + i % 2), spatial_separable(p.spec),
                                              flattened(p.spec), shuffled_grouped(p.spec, second)};
      for (const Composite& composite : composites) {
        SCOPED_TRACE(banner(cases++, p) + " as " + composite.kind);
        const Tensor x = random_tensor(p.input_shape, rng, true);
        std::vector<Tensor> weights, biases;
        for (const ConvSpec& s : conv_stages(composite)) {
          weights.push_back(random_tensor(weight_shape(s), rng, true));
          biases.push_back(s.bias ? random_tensor(bias_shape(s), rng, true) : Tensor());
        }
        auto stage_weights = [&](const std::vector<Tensor>& w, const std::vector<Tensor>& b) {
          std::vector<StageWeights> sw;
          for (size_t k = 0; k < w.size(); ++k)
            sw.push_back({w[k].view(), b[k].numel() ? std::optional<ConstTensorView>(b[k].view()) : std::nullopt});
          return sw;
        };
        const Tensor g = random_tensor(reference::run(composite, x, stage_weights(weights, biases)).shape(), rng, true);
        const reference::CompositeGradients grads =
            reference::run_backward(composite, x, stage_weights(weights, biases), g);
        ASSERT_EQ(grads.stages.size(), weights.size());
        expect_gradient([&](const Tensor& t) { return reference::run(composite, t, stage_weights(weights, biases)); },
                        x, grads.input, g, rng, true, "dL/dx");
        for (size_t k = 0; k < weights.size(); ++k) {
          const std::string stage = "stage " + std::to_string(k);
          expect_gradient(
              [&](const Tensor& t) {
                std::vector<Tensor> w = weights;
                w[k] = t;
                return reference::run(composite, x, stage_weights(w, biases));
              },
              weights[k], grads.stages[k].weight, g, rng, true, "dL/dw of " + stage);
          ASSERT_EQ(grads.stages[k].bias.has_value(), biases[k].numel() > 0) << stage;
          if (!grads.stages[k].bias) continue;
          expect_gradient(
              [&](const Tensor& t) {
                std::vector<Tensor> b = biases;
                b[k] = t;
                return reference::run(composite, x, stage_weights(weights, b));
              },
              biases[k], *grads.stages[k].bias, g, rng, true, "dL/db of " + stage);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Errors name the argument.

TEST(BackwardErrors, GradOutputShapeIsChecked) {
  const ConvSpec spec{.rank = 1, .in_channels = 2, .out_channels = 3, .kernel = {3}};
  const Tensor x({1, 2, 8}), w(weight_shape(spec)), wrong({1, 3, 7});
  for (auto call : std::vector<std::function<void()>>{
           [&] { reference::convolution_backward_data(spec, x.shape(), w, wrong); },
           [&] { reference::convolution_backward_weights(spec, x, wrong); },
           [&] { reference::convolution_backward_bias(spec, Tensor({1, 4, 6})); }}) {
    try {
      call();
      ADD_FAILURE() << "expected convkit::Error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("grad_output of shape"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(reference::convolution_backward_data(spec, x.shape(), Tensor({3, 1, 3}), Tensor({1, 3, 6})), Error);
}

}  // namespace
}  // namespace convkit
