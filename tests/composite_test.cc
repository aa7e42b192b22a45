// Composites (depthwise separable, spatially separable, flattened, shuffled grouped, pointwise
// grouped), channel shuffle and factor_separable. Every composite is checked against the ONE full
// convolution whose kernel it factors; that full kernel is built here by hand with index loops from
// the stage weights, so a composite and its claimed factorisation are tested independently of each
// other's code.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "test_support.h"

namespace convkit {
namespace {

using testing::kSeed;
using testing::max_abs_difference;
using testing::Problem;
using testing::ProblemOptions;
using testing::random_problem;
using testing::random_tensor;

// ---------------------------------------------------------------------------------------------
// Explicit index mappings (independent of the library's own canonicalisation).

// Index of conv weight element (o, c, q...) in channels_first logical terms:
//   channels_first (Cout, Cin/g, k...)   -> [o, c, q...]
//   channels_last  (k..., Cin/g, Cout)   -> [q..., c, o]
Shape weight_index(const ConvSpec& spec, int64_t o, int64_t c, const Shape& q) {
  Shape index;
  if (spec.layout == Layout::channels_first) {
    index = {o, c};
    index.insert(index.end(), q.begin(), q.end());
  } else {
    index = q;
    index.push_back(c);
    index.push_back(o);
  }
  return index;
}

float get_weight(const ConvSpec& spec, const Tensor& w, int64_t o, int64_t c, const Shape& q) {
  const Shape index = weight_index(spec, o, c, q);
  return w.view()[std::span<const int64_t>(index)];
}

void set_weight(const ConvSpec& spec, Tensor& w, int64_t o, int64_t c, const Shape& q, float value) {
  const Shape index = weight_index(spec, o, c, q);
  w.view()[std::span<const int64_t>(index)] = value;
}

// Index of activation element (n, c, p...): channels_first [n, c, p...], channels_last [n, p..., c].
Shape activation_index(Layout layout, int64_t n, int64_t c, const Shape& p) {
  Shape index{n};
  if (layout == Layout::channels_first) index.push_back(c);
  index.insert(index.end(), p.begin(), p.end());
  if (layout == Layout::channels_last) index.push_back(c);
  return index;
}

float get_activation(Layout layout, const Tensor& t, int64_t n, int64_t c, const Shape& p) {
  const Shape index = activation_index(layout, n, c, p);
  return t.view()[std::span<const int64_t>(index)];
}

Shape kernel_of(const ConvSpec& spec) { return per_axis(spec.kernel, spec.rank, 1, "kernel"); }

// A kernel index that is `value` on `axis` and 0 elsewhere (a 1-D stage's tap).
Shape tap_on_axis(int rank, int axis, int64_t value) {
  Shape q(static_cast<size_t>(rank), 0);
  q[static_cast<size_t>(axis)] = value;
  return q;
}

// Calls f(q) for every tap of a kernel of sizes `kernel`.
void for_each_tap(const Shape& kernel, const std::function<void(const Shape&)>& f) {
  Shape q(kernel.size(), 0);
  do {
    f(q);
  } while (next_index(q, kernel));
}

// Random weights for each convolution stage of a composite; biases where the stage has one.
struct StageData {
  std::vector<Tensor> weights, biases;
  std::vector<StageWeights> views() const {
    std::vector<StageWeights> v;
    for (size_t i = 0; i < weights.size(); ++i) {
      StageWeights sw{weights[i].view(), std::nullopt};
      if (biases[i].numel()) sw.bias = biases[i].view();
      v.push_back(sw);
    }
    return v;
  }
};

StageData random_stage_data(const Composite& composite, std::mt19937& rng) {
  StageData d;
  for (const ConvSpec& spec : conv_stages(composite)) {
    d.weights.push_back(random_tensor(weight_shape(spec), rng));
    d.biases.push_back(spec.bias ? random_tensor(bias_shape(spec), rng) : Tensor());
  }
  return d;
}

double tolerance_for(const Tensor& expected) {
  double peak = 0.0;
  for (float v : expected.values()) peak = std::max(peak, std::fabs(static_cast<double>(v)));
  return 1e-5 * (1.0 + peak);
}

// The composite run stage by stage equals the full convolution `layer` with weight W.
void expect_composite_equals_full(const Composite& composite, const StageData& data, const ConvSpec& layer,
                                  const Tensor& W, std::optional<ConstTensorView> bias, const Tensor& x) {
  const Tensor expected = reference::convolution(layer, x, W, bias);
  const auto views = data.views();
  const Tensor actual = reference::run(composite, x, views);
  ASSERT_EQ(actual.shape(), expected.shape());
  EXPECT_LE(max_abs_difference(actual, expected), tolerance_for(expected));
}

// Which options the randomized cases actually exercised.
struct Coverage {
  std::set<int> ranks;
  std::set<Layout> layouts;
  std::set<PaddingKind> kinds;
  std::set<PaddingMode> modes;
  bool strided = false, dilated = false, biased = false, grouped = false, asymmetric = false;
  void add(const ConvSpec& s) {
    ranks.insert(s.rank);
    layouts.insert(s.layout);
    kinds.insert(s.padding.kind);
    modes.insert(s.padding_mode);
    for (int64_t v : per_axis(s.stride, s.rank, 1, "stride")) strided |= v > 1;
    for (int64_t v : per_axis(s.dilation, s.rank, 1, "dilation")) dilated |= v > 1;
    biased |= s.bias;
    grouped |= s.groups > 1;
    if (s.padding.kind == PaddingKind::explicit_pads)
      asymmetric |= per_axis(s.padding.begin, s.rank, 0, "b") != per_axis(s.padding.end, s.rank, 0, "e");
  }
  void expect_complete(bool need_groups) const {
    EXPECT_EQ(ranks.size(), 3u);
    EXPECT_EQ(layouts.size(), 2u);
    EXPECT_EQ(kinds.size(), 4u);
    EXPECT_EQ(modes.size(), 4u);
    EXPECT_TRUE(strided);
    EXPECT_TRUE(dilated);
    EXPECT_TRUE(biased);
    EXPECT_TRUE(asymmetric);
    if (need_groups) {
      EXPECT_TRUE(grouped);
    }
  }
};

// A random ordinary (not transposed, not flipped) layer of the given rank, with its input shape.
Problem random_layer(std::mt19937& rng, int rank) {
  ProblemOptions options;
  options.rank = rank;
  options.allow_transposed = false;
  options.allow_flip = false;
  return random_problem(rng, options);
}

constexpr int kCasesPerRank = 50;

// ---------------------------------------------------------------------------------------------
// 1. Each composite equals the full convolution with the kernel it factors.

TEST(CompositeEquivalence, DepthwiseSeparableEqualsFullConvolution) {
  std::mt19937 rng(kSeed);
  Coverage coverage;
  int cases = 0;
  for (int rank = 1; rank <= 3; ++rank) {
    for (int i = 0; i < kCasesPerRank; ++i) {
      Problem p = random_layer(rng, rank);
      ConvSpec& layer = p.spec;
      layer.groups = 1;  // the depthwise stage defines the grouping; the equivalent full conv is ungrouped
      const int64_t m = std::uniform_int_distribution<int64_t>(1, 3)(rng);
      SCOPED_TRACE("case " + std::to_string(cases) + ": depthwise_separable(" + p.describe() +
                   ", multiplier=" + std::to_string(m) + ")");
      coverage.add(layer);

      const Composite composite = depthwise_separable(layer, m);
      ASSERT_EQ(composite.kind, "depthwise_separable");
      ASSERT_EQ(composite.stages.size(), 2u);
      const ConvSpec& dw = composite.stages[0].conv;
      const ConvSpec& pw = composite.stages[1].conv;
      const int64_t cin = layer.in_channels, cout = layer.out_channels, mid = cin * m;
      EXPECT_EQ(dw.groups, cin);
      EXPECT_EQ(dw.in_channels, cin);
      EXPECT_EQ(dw.out_channels, mid);
      EXPECT_FALSE(dw.bias);
      EXPECT_EQ(pw.in_channels, mid);
      EXPECT_EQ(pw.out_channels, cout);
      EXPECT_EQ(pw.groups, 1);
      EXPECT_EQ(pw.bias, layer.bias);
      EXPECT_EQ(kernel_of(pw), Shape(static_cast<size_t>(rank), 1));

      const Tensor x = random_tensor(p.input_shape, rng);
      const StageData data = random_stage_data(composite, rng);
      const Tensor& D = data.weights[0];
      const Tensor& P = data.weights[1];

      // W[o, c, q] = sum_j P[o, c*m + j] * D[c*m + j, 0, q]
      const Shape zero(static_cast<size_t>(rank), 0);
      Tensor W(weight_shape(layer));
      for (int64_t o = 0; o < cout; ++o)
        for (int64_t c = 0; c < cin; ++c)
          for_each_tap(kernel_of(layer), [&](const Shape& q) {
            double sum = 0.0;
            for (int64_t j = 0; j < m; ++j)
              sum += static_cast<double>(get_weight(pw, P, o, c * m + j, zero)) *
                     static_cast<double>(get_weight(dw, D, c * m + j, 0, q));
            set_weight(layer, W, o, c, q, static_cast<float>(sum));
          });
      std::optional<ConstTensorView> bias;
      if (layer.bias) bias = data.biases[1].view();

      expect_composite_equals_full(composite, data, layer, W, bias, x);
      ++cases;
    }
  }
  EXPECT_EQ(cases, 3 * kCasesPerRank);
  coverage.expect_complete(/*need_groups=*/false);
}

TEST(CompositeEquivalence, SpatialSeparableEqualsFullConvolution) {
  std::mt19937 rng(kSeed + 1);
  Coverage coverage;
  int cases = 0;
  for (int rank = 1; rank <= 3; ++rank) {
    for (int i = 0; i < kCasesPerRank; ++i) {
      const Problem p = random_layer(rng, rank);
      const ConvSpec& layer = p.spec;
      SCOPED_TRACE("case " + std::to_string(cases) + ": spatial_separable(" + p.describe() + ")");
      coverage.add(layer);

      const Composite composite = spatial_separable(layer);
      ASSERT_EQ(composite.kind, "spatial_separable");
      ASSERT_EQ(composite.stages.size(), static_cast<size_t>(rank));
      const ConvSpec& first = composite.stages[0].conv;
      EXPECT_EQ(first.in_channels, layer.in_channels);
      EXPECT_EQ(first.out_channels, layer.out_channels);
      EXPECT_EQ(first.groups, layer.groups);
      for (int a = 0; a < rank; ++a) {
        const ConvSpec& s = composite.stages[static_cast<size_t>(a)].conv;
        Shape k(static_cast<size_t>(rank), 1);
        k[static_cast<size_t>(a)] = kernel_of(layer)[static_cast<size_t>(a)];
        EXPECT_EQ(kernel_of(s), k) << "stage " << a;
        EXPECT_EQ(s.bias, a == rank - 1 && layer.bias) << "stage " << a;
        if (a > 0) {
          EXPECT_EQ(s.groups, layer.out_channels) << "stage " << a;
          EXPECT_EQ(s.in_channels, layer.out_channels) << "stage " << a;
          EXPECT_EQ(s.out_channels, layer.out_channels) << "stage " << a;
        }
      }

      const Tensor x = random_tensor(p.input_shape, rng);
      const StageData data = random_stage_data(composite, rng);

      // W[o, c, q0, q1, ...] = A[o, c, q0] * B1[o, q1] * B2[o, q2] ...
      const int64_t in_per_group = layer.in_channels / layer.groups;
      Tensor W(weight_shape(layer));
      for (int64_t o = 0; o < layer.out_channels; ++o)
        for (int64_t c = 0; c < in_per_group; ++c)
          for_each_tap(kernel_of(layer), [&](const Shape& q) {
            double v = get_weight(first, data.weights[0], o, c, tap_on_axis(rank, 0, q[0]));
            for (int a = 1; a < rank; ++a)
              v *= get_weight(composite.stages[static_cast<size_t>(a)].conv, data.weights[static_cast<size_t>(a)],
                              o, 0, tap_on_axis(rank, a, q[static_cast<size_t>(a)]));
            set_weight(layer, W, o, c, q, static_cast<float>(v));
          });
      std::optional<ConstTensorView> bias;
      if (layer.bias) bias = data.biases.back().view();

      expect_composite_equals_full(composite, data, layer, W, bias, x);
      ++cases;
    }
  }
  EXPECT_EQ(cases, 3 * kCasesPerRank);
  coverage.expect_complete(/*need_groups=*/true);
}

TEST(CompositeEquivalence, FlattenedEqualsFullConvolution) {
  std::mt19937 rng(kSeed + 2);
  Coverage coverage;
  int cases = 0;
  for (int rank = 1; rank <= 3; ++rank) {
    for (int i = 0; i < kCasesPerRank; ++i) {
      const Problem p = random_layer(rng, rank);
      const ConvSpec& layer = p.spec;
      SCOPED_TRACE("case " + std::to_string(cases) + ": flattened(" + p.describe() + ")");
      coverage.add(layer);

      const Composite composite = flattened(layer);
      ASSERT_EQ(composite.kind, "flattened");
      ASSERT_EQ(composite.stages.size(), static_cast<size_t>(rank) + 1);
      const ConvSpec& lateral = composite.stages[0].conv;
      EXPECT_EQ(lateral.groups, layer.groups);
      EXPECT_EQ(kernel_of(lateral), Shape(static_cast<size_t>(rank), 1));
      for (int a = 0; a < rank; ++a) {
        const ConvSpec& s = composite.stages[static_cast<size_t>(a) + 1].conv;
        Shape k(static_cast<size_t>(rank), 1);
        k[static_cast<size_t>(a)] = kernel_of(layer)[static_cast<size_t>(a)];
        EXPECT_EQ(kernel_of(s), k) << "stage " << a + 1;
        EXPECT_EQ(s.groups, layer.out_channels) << "stage " << a + 1;
        EXPECT_EQ(s.bias, a == rank - 1 && layer.bias) << "stage " << a + 1;
      }

      const Tensor x = random_tensor(p.input_shape, rng);
      const StageData data = random_stage_data(composite, rng);

      // W[o, c, q...] = L[o, c] * V0[o, q0] * V1[o, q1] ...
      const int64_t in_per_group = layer.in_channels / layer.groups;
      const Shape zero(static_cast<size_t>(rank), 0);
      Tensor W(weight_shape(layer));
      for (int64_t o = 0; o < layer.out_channels; ++o)
        for (int64_t c = 0; c < in_per_group; ++c)
          for_each_tap(kernel_of(layer), [&](const Shape& q) {
            double v = get_weight(lateral, data.weights[0], o, c, zero);
            for (int a = 0; a < rank; ++a)
              v *= get_weight(composite.stages[static_cast<size_t>(a) + 1].conv,
                              data.weights[static_cast<size_t>(a) + 1], o, 0,
                              tap_on_axis(rank, a, q[static_cast<size_t>(a)]));
            set_weight(layer, W, o, c, q, static_cast<float>(v));
          });
      std::optional<ConstTensorView> bias;
      if (layer.bias) bias = data.biases.back().view();

      expect_composite_equals_full(composite, data, layer, W, bias, x);
      ++cases;
    }
  }
  EXPECT_EQ(cases, 3 * kCasesPerRank);
  coverage.expect_complete(/*need_groups=*/true);
}

// A random second convolution for shuffled_grouped: same rank and layout as `first`, input channels
// first.out_channels, groups a random divisor of them, valid on `spatial`.
ConvSpec random_second(std::mt19937& rng, const ConvSpec& first, const Shape& spatial) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  std::vector<int64_t> divisors;
  for (int64_t d = 1; d <= first.out_channels; ++d)
    if (first.out_channels % d == 0) divisors.push_back(d);
  for (;;) {
    ConvSpec s;
    s.rank = first.rank;
    s.layout = first.layout;
    s.in_channels = first.out_channels;
    s.groups = divisors[static_cast<size_t>(pick(0, static_cast<int64_t>(divisors.size()) - 1))];
    s.out_channels = s.groups * pick(1, 3);
    s.bias = pick(0, 1) == 1;
    for (int a = 0; a < s.rank; ++a) {
      s.kernel.push_back(pick(1, 3));
      s.stride.push_back(pick(1, 2));
      s.dilation.push_back(pick(1, 2));
    }
    switch (pick(0, 3)) {
      case 0: s.padding = Padding::valid(); break;
      case 1: s.padding = Padding::same(); break;
      case 2: s.padding = Padding::same_lower(); break;
      default:
        for (int a = 0; a < s.rank; ++a) {
          s.padding.begin.push_back(pick(0, 2));
          s.padding.end.push_back(pick(0, 2));
        }
    }
    s.padding_mode = static_cast<PaddingMode>(pick(0, 3));
    try {
      resolve_geometry(s, spatial);
      return s;
    } catch (const Error&) {
    }
  }
}

TEST(CompositeEquivalence, ShuffledGroupedEqualsBlockSparseShuffledConvolution) {
  std::mt19937 rng(kSeed + 3);
  Coverage coverage;
  int cases = 0, nontrivial_shuffles = 0;
  for (int rank = 1; rank <= 3; ++rank) {
    for (int i = 0; i < kCasesPerRank; ++i) {
      const Problem p = random_layer(rng, rank);
      const ConvSpec& first = p.spec;
      const Shape y1_spatial = resolve_geometry(first, input_spatial_of(first, p.input_shape)).output_spatial();
      const ConvSpec second = random_second(rng, first, y1_spatial);
      SCOPED_TRACE("case " + std::to_string(cases) + ": shuffled_grouped(" + p.describe() + ", " +
                   describe(second) + ")");
      coverage.add(first);
      coverage.add(second);

      const Composite composite = shuffled_grouped(first, second);
      ASSERT_EQ(composite.kind, "shuffled_grouped");
      ASSERT_EQ(composite.stages.size(), 3u);
      ASSERT_TRUE(composite.stages[1].is_shuffle());
      EXPECT_EQ(composite.stages[1].shuffle_groups, first.groups);
      EXPECT_FALSE(composite.stages[0].is_shuffle());
      EXPECT_FALSE(composite.stages[2].is_shuffle());
      ASSERT_EQ(conv_stages(composite).size(), 2u);
      if (first.groups > 1 && first.groups < first.out_channels) ++nontrivial_shuffles;

      const Tensor x = random_tensor(p.input_shape, rng);
      const StageData data = random_stage_data(composite, rng);
      std::optional<ConstTensorView> b1, b2;
      if (first.bias) b1 = data.biases[0].view();
      if (second.bias) b2 = data.biases[1].view();
      const Tensor y1 = reference::convolution(first, x, data.weights[0], b1);

      // The second conv as an ungrouped conv on the UNshuffled channels: shuffled channel s = i*g + gi
      // is unshuffled channel gi*(C/g) + i; W2full[o, source(s), q] = W2[o, s - group_start(o), q]
      // when s is in o's group, else 0.
      const int64_t C = first.out_channels, g = first.groups;
      const int64_t in_per_group = C / second.groups, out_per_group = second.out_channels / second.groups;
      ConvSpec full = second;
      full.groups = 1;
      Tensor W(weight_shape(full), 0.0f);
      for (int64_t o = 0; o < second.out_channels; ++o) {
        const int64_t group = o / out_per_group;
        for (int64_t s = group * in_per_group; s < (group + 1) * in_per_group; ++s) {
          const int64_t i_ = s / g, gi = s % g;
          const int64_t source = gi * (C / g) + i_;
          for_each_tap(kernel_of(second), [&](const Shape& q) {
            set_weight(full, W, o, source, q, get_weight(second, data.weights[1], o, s - group * in_per_group, q));
          });
        }
      }
      const Tensor expected = reference::convolution(full, y1, W, b2);
      const auto views = data.views();
      const Tensor actual = reference::run(composite, x, views);
      ASSERT_EQ(actual.shape(), expected.shape());
      EXPECT_LE(max_abs_difference(actual, expected), tolerance_for(expected));
      ++cases;
    }
  }
  EXPECT_EQ(cases, 3 * kCasesPerRank);
  EXPECT_GT(nontrivial_shuffles, 20);
  coverage.expect_complete(/*need_groups=*/true);
}

TEST(CompositeEquivalence, PointwiseGroupedIsPerGroupProduct) {
  std::mt19937 rng(kSeed + 4);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  int cases = 0;
  for (int i = 0; i < 120; ++i) {
    const int rank = static_cast<int>(1 + i % 3);
    const int64_t groups = pick(1, 4);
    const int64_t cin = groups * pick(1, 3), cout = groups * pick(1, 3);
    const Layout layout = pick(0, 1) ? Layout::channels_last : Layout::channels_first;
    const bool bias = pick(0, 1) == 1;
    const ConvSpec spec = pointwise_grouped(rank, cin, cout, groups, layout, bias);
    SCOPED_TRACE("case " + std::to_string(i) + ": pointwise_grouped " + describe(spec));
    EXPECT_EQ(spec.rank, rank);
    EXPECT_EQ(spec.in_channels, cin);
    EXPECT_EQ(spec.out_channels, cout);
    EXPECT_EQ(spec.groups, groups);
    EXPECT_EQ(spec.layout, layout);
    EXPECT_EQ(spec.bias, bias);
    EXPECT_FALSE(spec.transposed);
    EXPECT_EQ(kernel_of(spec), Shape(static_cast<size_t>(rank), 1));

    Shape spatial;
    for (int a = 0; a < rank; ++a) spatial.push_back(pick(1, rank == 3 ? 3 : 5));
    const int64_t batch = pick(1, 2);
    const Tensor x = random_tensor(make_activation_shape(spec, batch, cin, spatial), rng);
    const Tensor w = random_tensor(weight_shape(spec), rng);
    const Tensor b = bias ? random_tensor({cout}, rng) : Tensor();
    std::optional<ConstTensorView> bias_view;
    if (bias) bias_view = b.view();
    const Tensor actual = reference::convolution(spec, x, w, bias_view);

    // y[n, o, p] = b[o] + sum_{c < Cin/g} W[o, c] * x[n, group(o)*Cin/g + c, p]
    const int64_t in_per_group = cin / groups, out_per_group = cout / groups;
    const Shape zero(static_cast<size_t>(rank), 0);
    Tensor expected(make_activation_shape(spec, batch, cout, spatial));
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t o = 0; o < cout; ++o) {
        Shape p(static_cast<size_t>(rank), 0);
        do {
          double sum = bias ? b[o] : 0.0;
          for (int64_t c = 0; c < in_per_group; ++c)
            sum += static_cast<double>(get_weight(spec, w, o, c, zero)) *
                   static_cast<double>(get_activation(layout, x, n, (o / out_per_group) * in_per_group + c, p));
          const Shape index = activation_index(layout, n, o, p);
          expected.view()[std::span<const int64_t>(index)] = static_cast<float>(sum);
        } while (next_index(p, spatial));
      }
    ASSERT_EQ(actual.shape(), expected.shape());
    EXPECT_LE(max_abs_difference(actual, expected), 1e-5);
    ++cases;
  }
  EXPECT_EQ(cases, 120);
}

// The seeds' Sobel example: [1,2,1]^T then [-1,0,1] equals the Sobel-x kernel on a 5x5 image.
TEST(CompositeEquivalence, SobelSpatialSeparableSeed) {
  std::mt19937 rng(kSeed + 5);
  ConvSpec layer;
  layer.rank = 2;
  layer.kernel = {3, 3};
  layer.padding = Padding::valid();
  const Tensor image = random_tensor({1, 1, 5, 5}, rng, /*integers=*/true);
  const Tensor sobel({1, 1, 3, 3}, {-1, 0, 1, -2, 0, 2, -1, 0, 1});
  const Tensor full = reference::convolution(layer, image, sobel);
  const Composite composite = spatial_separable(layer);
  ASSERT_EQ(composite.stages.size(), 2u);
  ASSERT_EQ(weight_shape(composite.stages[0].conv), (Shape{1, 1, 3, 1}));
  ASSERT_EQ(weight_shape(composite.stages[1].conv), (Shape{1, 1, 1, 3}));
  const Tensor a({1, 1, 3, 1}, {1, 2, 1});
  const Tensor b({1, 1, 1, 3}, {-1, 0, 1});
  const std::vector<StageWeights> weights{{a.view(), std::nullopt}, {b.view(), std::nullopt}};
  const Tensor staged = reference::run(composite, image, weights);
  EXPECT_EQ(staged.shape(), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(max_abs_difference(staged, full), 0.0);  // integer data: exact
}

// ---------------------------------------------------------------------------------------------
// 2. reference::channel_shuffle

// A tensor whose every element encodes its channel: value = 100 * channel + position.
Tensor channel_coded(Layout layout, int64_t channels, const Shape& spatial, int64_t batch = 1) {
  ConvSpec s;
  s.rank = static_cast<int>(spatial.size());
  s.layout = layout;
  Shape shape{batch};
  if (layout == Layout::channels_first) shape.push_back(channels);
  shape.insert(shape.end(), spatial.begin(), spatial.end());
  if (layout == Layout::channels_last) shape.push_back(channels);
  Tensor t(shape);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t c = 0; c < channels; ++c) {
      Shape p(spatial.size(), 0);
      int64_t position = 0;
      do {
        const Shape index = activation_index(layout, n, c, p);
        t.view()[std::span<const int64_t>(index)] = static_cast<float>(100 * c + 10 * n + position++);
      } while (next_index(p, spatial));
    }
  return t;
}

TEST(CompositeChannelShuffle, HandCheckedSixChannels) {
  // out channel k = in channel (k % g) * (C / g) + k / g
  const std::map<int64_t, std::vector<int64_t>> expected_order{{2, {0, 3, 1, 4, 2, 5}}, {3, {0, 2, 4, 1, 3, 5}},
                                                               {1, {0, 1, 2, 3, 4, 5}}, {6, {0, 1, 2, 3, 4, 5}}};
  for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
    for (const Shape& spatial : {Shape{3}, Shape{2, 2}, Shape{1, 2, 2}}) {
      const Tensor x = channel_coded(layout, 6, spatial, 2);
      for (const auto& [groups, order] : expected_order) {
        SCOPED_TRACE(std::string(to_string(layout)) + " spatial " + to_string(spatial) + " groups " +
                     std::to_string(groups));
        const Tensor y = reference::channel_shuffle(x, groups, layout);
        ASSERT_EQ(y.shape(), x.shape());
        for (int64_t n = 0; n < 2; ++n)
          for (int64_t k = 0; k < 6; ++k) {
            Shape p(spatial.size(), 0);
            do {
              EXPECT_EQ(get_activation(layout, y, n, k, p), get_activation(layout, x, n, order[k], p))
                  << "n=" << n << " out channel " << k;
            } while (next_index(p, spatial));
          }
      }
    }
  }
  // Literal values for the plainest case: (N=1, C=6, W=1) channels_first and (N=1, W=1, C=6) channels_last.
  for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
    const Shape shape = layout == Layout::channels_first ? Shape{1, 6, 1} : Shape{1, 1, 6};
    const Tensor x(shape, {0, 1, 2, 3, 4, 5});
    EXPECT_EQ(reference::channel_shuffle(x, 2, layout).values(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
    EXPECT_EQ(reference::channel_shuffle(x, 3, layout).values(), (std::vector<float>{0, 2, 4, 1, 3, 5}));
  }
  // Rank 2 (N, C): channels_first's axis 1 and channels_last's last axis coincide.
  const Tensor flat({1, 6}, {0, 1, 2, 3, 4, 5});
  EXPECT_EQ(reference::channel_shuffle(flat, 2, Layout::channels_first).values(),
            (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(reference::channel_shuffle(flat, 2, Layout::channels_last).values(),
            (std::vector<float>{0, 3, 1, 4, 2, 5}));
}

TEST(CompositeChannelShuffle, ChannelsLastShufflesOnlyTheLastAxis) {
  // (N=1, W=2, C=4) channels_last with groups 2: per spatial cell, channels [a, b, c, d] -> [a, c, b, d].
  const Tensor x({1, 2, 4}, {0, 1, 2, 3, 10, 11, 12, 13});
  EXPECT_EQ(reference::channel_shuffle(x, 2, Layout::channels_last).values(),
            (std::vector<float>{0, 2, 1, 3, 10, 12, 11, 13}));
  // The same memory read channels_first is (N=1, C=2, W=4): groups 2 of 2 channels is the identity.
  EXPECT_EQ(reference::channel_shuffle(x, 2, Layout::channels_first).values(), x.values());
}

TEST(CompositeChannelShuffle, ShuffleThenInverseRestores) {
  std::mt19937 rng(kSeed + 6);
  int cases = 0;
  for (int64_t channels : {1, 2, 4, 6, 8, 12}) {
    for (int64_t groups = 1; groups <= channels; ++groups) {
      if (channels % groups != 0) continue;
      for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
        for (int rank = 1; rank <= 3; ++rank) {
          SCOPED_TRACE("C=" + std::to_string(channels) + " g=" + std::to_string(groups) + " " +
                       std::string(to_string(layout)) + " rank " + std::to_string(rank));
          Shape spatial(static_cast<size_t>(rank), 2);
          Shape shape{2};
          if (layout == Layout::channels_first) shape.push_back(channels);
          shape.insert(shape.end(), spatial.begin(), spatial.end());
          if (layout == Layout::channels_last) shape.push_back(channels);
          const Tensor x = random_tensor(shape, rng);
          const Tensor once = reference::channel_shuffle(x, groups, layout);
          const Tensor back = reference::channel_shuffle(once, channels / groups, layout);
          EXPECT_EQ(back.values(), x.values());
          // A shuffle is a permutation: the multiset of values is unchanged.
          std::vector<float> a = x.values(), b = once.values();
          std::sort(a.begin(), a.end());
          std::sort(b.begin(), b.end());
          EXPECT_EQ(a, b);
          ++cases;
        }
      }
    }
  }
  EXPECT_GT(cases, 100);
}

std::string error_message(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-convkit exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "did not throw";
  return {};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(CompositeChannelShuffle, Errors) {
  const Tensor six({1, 6, 2}, 1.0f);
  for (int64_t groups : {4, 5, 7, 12}) {
    const std::string m = error_message([&] { reference::channel_shuffle(six, groups, Layout::channels_first); });
    EXPECT_TRUE(contains(m, "groups=" + std::to_string(groups))) << m;
    EXPECT_TRUE(contains(m, "6")) << m;
  }
  const std::string zero = error_message([&] { reference::channel_shuffle(six, 0, Layout::channels_first); });
  EXPECT_TRUE(contains(zero, "groups=0")) << zero;
  EXPECT_TRUE(contains(zero, "6")) << zero;
  const std::string negative = error_message([&] { reference::channel_shuffle(six, -2, Layout::channels_first); });
  EXPECT_TRUE(contains(negative, "groups=-2")) << negative;

  // channels_last: the channel count is the last axis (2 here), which 6-fold shuffling cannot divide.
  const std::string last = error_message([&] { reference::channel_shuffle(six, 3, Layout::channels_last); });
  EXPECT_TRUE(contains(last, "groups=3")) << last;
  EXPECT_TRUE(contains(last, "2 channels")) << last;

  const Tensor rank1({6}, 1.0f);
  const std::string r1 = error_message([&] { reference::channel_shuffle(rank1, 2, Layout::channels_first); });
  EXPECT_TRUE(contains(r1, "rank")) << r1;
  EXPECT_THROW(reference::channel_shuffle(rank1, 1, Layout::channels_last), Error);
  const Tensor rank0(Shape{}, 1.0f);
  EXPECT_THROW(reference::channel_shuffle(rank0, 1, Layout::channels_first), Error);
}

// ---------------------------------------------------------------------------------------------
// 3. factor_separable

// max |prod_a factors[a][i_a] - kernel[i]| over the kernel.
double reconstruction_error(const SeparableFactors& f, const Tensor& kernel) {
  double worst = 0.0;
  Shape index(kernel.shape().size(), 0);
  int64_t flat = 0;
  do {
    double product = 1.0;
    for (size_t a = 0; a < index.size(); ++a) product *= f.factors[a][static_cast<size_t>(index[a])];
    worst = std::max(worst, std::fabs(product - static_cast<double>(kernel[flat++])));
  } while (next_index(index, kernel.shape()));
  return worst;
}

// |cos| of the angle between two vectors (1 when proportional).
double abs_cosine(const std::vector<float>& a, const std::vector<double>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += a[i] * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += b[i] * b[i];
  }
  return std::fabs(ab) / std::sqrt(aa * bb);
}

void expect_factor_shapes(const SeparableFactors& f, const Shape& shape) {
  ASSERT_EQ(f.factors.size(), shape.size());
  for (size_t a = 0; a < shape.size(); ++a) EXPECT_EQ(static_cast<int64_t>(f.factors[a].size()), shape[a]);
}

TEST(CompositeFactorSeparable, SobelX) {
  const Tensor sobel_x({3, 3}, {-1, 0, 1, -2, 0, 2, -1, 0, 1});
  const SeparableFactors f = factor_separable(sobel_x);
  EXPECT_TRUE(f.separable);
  EXPECT_EQ(f.residual, 0.0);
  expect_factor_shapes(f, {3, 3});
  EXPECT_EQ(f.factors[0], (std::vector<float>{1, 2, 1}));
  EXPECT_EQ(f.factors[1], (std::vector<float>{-1, 0, 1}));
}

TEST(CompositeFactorSeparable, SobelY) {
  const Tensor sobel_y({3, 3}, {-1, -2, -1, 0, 0, 0, 1, 2, 1});
  const SeparableFactors f = factor_separable(sobel_y);
  EXPECT_TRUE(f.separable);
  EXPECT_EQ(f.residual, 0.0);
  expect_factor_shapes(f, {3, 3});
  // Sobel-y = [-1, 0, 1]^T [1, 2, 1]: factors are determined up to a scale and a sign exchange.
  EXPECT_NEAR(abs_cosine(f.factors[0], {-1, 0, 1}), 1.0, 1e-12);
  EXPECT_NEAR(abs_cosine(f.factors[1], {1, 2, 1}), 1.0, 1e-12);
  EXPECT_EQ(reconstruction_error(f, sobel_y), 0.0);
  // Documented scale rule: smallest nonzero magnitude 1, first nonzero entry positive.
  EXPECT_EQ(f.factors[0], (std::vector<float>{1, 0, -1}));
  EXPECT_EQ(f.factors[1], (std::vector<float>{-1, -2, -1}));
}

TEST(CompositeFactorSeparable, StridedViewOfSobelX) {
  // A permuted (non-contiguous) view of Sobel-y is Sobel-x and must factor as [1,2,1] x [-1,0,1].
  const Tensor sobel_x_t({3, 3}, {-1, -2, -1, 0, 0, 0, 1, 2, 1});
  const SeparableFactors f = factor_separable(sobel_x_t.view().permuted(std::vector<int>{1, 0}));
  EXPECT_TRUE(f.separable);
  EXPECT_EQ(f.factors[0], (std::vector<float>{1, 2, 1}));
  EXPECT_EQ(f.factors[1], (std::vector<float>{-1, 0, 1}));
}

TEST(CompositeFactorSeparable, GaussianOuterProduct) {
  const std::vector<double> g{1, 4, 6, 4, 1};
  Tensor kernel({5, 5});
  for (int64_t i = 0; i < 5; ++i)
    for (int64_t j = 0; j < 5; ++j) kernel.at({i, j}) = static_cast<float>(g[i] * g[j] / 256.0);
  const SeparableFactors f = factor_separable(kernel);
  EXPECT_TRUE(f.separable);
  expect_factor_shapes(f, {5, 5});
  EXPECT_NEAR(abs_cosine(f.factors[0], g), 1.0, 1e-7);
  EXPECT_NEAR(abs_cosine(f.factors[1], g), 1.0, 1e-7);
  EXPECT_LE(reconstruction_error(f, kernel), 1e-7);
  EXPECT_LE(f.residual, 1e-7);
  // The first factor is the binomial row itself; the last carries the 1/256.
  EXPECT_EQ(f.factors[0], (std::vector<float>{1, 4, 6, 4, 1}));
  EXPECT_GT(f.factors[1][2], 0.0f);
}

TEST(CompositeFactorSeparable, RandomRankOneKernelsAreRecovered) {
  std::mt19937 rng(kSeed + 7);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  int cases = 0;
  for (int i = 0; i < 150; ++i) {
    const int rank = static_cast<int>(1 + i % 3);  // 1-D, 2-D and 3-D kernels
    Shape shape;
    std::vector<std::vector<double>> vectors;
    for (int a = 0; a < rank; ++a) {
      shape.push_back(pick(1, 5));
      std::vector<double> v;
      for (int64_t j = 0; j < shape.back(); ++j) v.push_back(value(rng));
      vectors.push_back(v);
    }
    Tensor kernel(shape);
    Shape index(shape.size(), 0);
    int64_t flat = 0;
    do {
      double product = 1.0;
      for (int a = 0; a < rank; ++a) product *= vectors[static_cast<size_t>(a)][static_cast<size_t>(index[a])];
      kernel[flat++] = static_cast<float>(product);
    } while (next_index(index, shape));
    SCOPED_TRACE("case " + std::to_string(i) + ": rank-1 kernel of shape " + to_string(shape));

    const SeparableFactors f = factor_separable(kernel);
    expect_factor_shapes(f, shape);
    EXPECT_TRUE(f.separable) << "residual " << f.residual;
    EXPECT_LE(reconstruction_error(f, kernel), 1e-5);
    EXPECT_LE(f.residual, 1e-5);
    // The reported residual is the worst mismatch of the returned factors.
    EXPECT_NEAR(f.residual, reconstruction_error(f, kernel), 1e-12);
    for (int a = 0; a < rank; ++a)
      EXPECT_NEAR(abs_cosine(f.factors[static_cast<size_t>(a)], vectors[static_cast<size_t>(a)]), 1.0, 1e-5)
          << "axis " << a;
    // Scale rule: every factor but the last has smallest nonzero magnitude 1 and a positive first
    // nonzero entry.
    for (int a = 0; a + 1 < rank; ++a) {
      float smallest = 0.0f, first = 0.0f;
      for (float v : f.factors[static_cast<size_t>(a)]) {
        if (v == 0.0f) continue;
        if (first == 0.0f) first = v;
        if (smallest == 0.0f || std::fabs(v) < smallest) smallest = std::fabs(v);
      }
      EXPECT_NEAR(smallest, 1.0f, 1e-6) << "axis " << a;
      EXPECT_GT(first, 0.0f) << "axis " << a;
    }
    ++cases;
  }
  EXPECT_EQ(cases, 150);
}

TEST(CompositeFactorSeparable, LaplacianIsNotSeparable) {
  const Tensor laplacian({3, 3}, {0, 1, 0, 1, -4, 1, 0, 1, 0});
  const SeparableFactors f = factor_separable(laplacian);
  EXPECT_FALSE(f.separable);
  EXPECT_GT(f.residual, 0.0);
  expect_factor_shapes(f, {3, 3});
  EXPECT_NEAR(f.residual, reconstruction_error(f, laplacian), 1e-12);
  // Even a huge tolerance relative to the peak (4) cannot hide a mismatch of residual > 0 when 0.
  EXPECT_FALSE(factor_separable(laplacian, 0.0).separable);
  EXPECT_TRUE(factor_separable(laplacian, 1.0).separable);  // residual <= 1.0 * 4
}

TEST(CompositeFactorSeparable, RandomFullRankKernelsAreNotSeparable) {
  std::mt19937 rng(kSeed + 8);
  for (int i = 0; i < 50; ++i) {
    const Tensor kernel = random_tensor({3, 3}, rng);
    SCOPED_TRACE("case " + std::to_string(i));
    const SeparableFactors f = factor_separable(kernel);
    EXPECT_FALSE(f.separable);
    EXPECT_GT(f.residual, 1e-3);
    EXPECT_NEAR(f.residual, reconstruction_error(f, kernel), 1e-12);
  }
}

TEST(CompositeFactorSeparable, ZeroKernel) {
  for (const Shape& shape : {Shape{4}, Shape{3, 3}, Shape{2, 3, 4}}) {
    SCOPED_TRACE(to_string(shape));
    const Tensor zero(shape, 0.0f);
    const SeparableFactors f = factor_separable(zero);
    EXPECT_TRUE(f.separable);
    EXPECT_EQ(f.residual, 0.0);
    expect_factor_shapes(f, shape);
    EXPECT_EQ(reconstruction_error(f, zero), 0.0);
  }
}

TEST(CompositeFactorSeparable, EmptyKernelThrows) {
  for (const Shape& shape : {Shape{0}, Shape{3, 0}, Shape{0, 2, 2}}) {
    SCOPED_TRACE(to_string(shape));
    const Tensor empty(shape);
    const std::string m = error_message([&] { factor_separable(empty); });
    EXPECT_TRUE(contains(m, "empty")) << m;
  }
  const Tensor scalar(Shape{}, 1.0f);
  EXPECT_THROW(factor_separable(scalar), Error);
}

// ---------------------------------------------------------------------------------------------
// 4. Builders reject bad layers.

ConvSpec plain_layer() {
  ConvSpec s;
  s.rank = 2;
  s.in_channels = 4;
  s.out_channels = 8;
  s.kernel = {3};
  return s;
}

TEST(CompositeErrors, TransposedLayerRejected) {
  ConvSpec t = plain_layer();
  t.transposed = true;
  t.stride = {2};
  for (const auto& build : std::vector<std::function<void()>>{
           [&] { depthwise_separable(t); }, [&] { spatial_separable(t); }, [&] { flattened(t); },
           [&] {
             ConvSpec second = plain_layer();
             second.in_channels = t.out_channels;
             shuffled_grouped(t, second);
           }}) {
    const std::string m = error_message(build);
    EXPECT_TRUE(contains(m, "transposed")) << m;
  }
}

TEST(CompositeErrors, FlipRejected) {
  ConvSpec f = plain_layer();
  f.flip = true;
  for (const auto& build : std::vector<std::function<void()>>{
           [&] { depthwise_separable(f); }, [&] { spatial_separable(f); }, [&] { flattened(f); }}) {
    const std::string m = error_message(build);
    EXPECT_TRUE(contains(m, "flip")) << m;
  }
}

TEST(CompositeErrors, DepthMultiplierMustBePositive) {
  for (int64_t m : {0, -1}) {
    const std::string message = error_message([&] { depthwise_separable(plain_layer(), m); });
    EXPECT_TRUE(contains(message, "depth_multiplier=" + std::to_string(m))) << message;
  }
  EXPECT_NO_THROW(depthwise_separable(plain_layer(), 1));
}

TEST(CompositeErrors, ShuffledGroupedMismatch) {
  ConvSpec first = plain_layer();
  first.groups = 2;
  ConvSpec second = plain_layer();
  second.in_channels = 6;  // first.out_channels is 8
  second.groups = 2;
  const std::string m = error_message([&] { shuffled_grouped(first, second); });
  EXPECT_TRUE(contains(m, "second.in_channels=6")) << m;
  EXPECT_TRUE(contains(m, "8")) << m;

  second.in_channels = 8;
  EXPECT_NO_THROW(shuffled_grouped(first, second));
  ConvSpec other_rank = second;
  other_rank.rank = 1;
  EXPECT_THROW(shuffled_grouped(first, other_rank), Error);
  ConvSpec other_layout = second;
  other_layout.layout = Layout::channels_last;
  EXPECT_THROW(shuffled_grouped(first, other_layout), Error);
  ConvSpec flipped = second;
  flipped.flip = true;
  EXPECT_THROW(shuffled_grouped(first, flipped), Error);
}

TEST(CompositeErrors, InvalidLayersRejected) {
  ConvSpec bad = plain_layer();
  bad.groups = 3;  // does not divide 4
  EXPECT_THROW(depthwise_separable(bad), Error);
  EXPECT_THROW(spatial_separable(bad), Error);
  EXPECT_THROW(flattened(bad), Error);
  EXPECT_THROW(pointwise_grouped(2, 4, 8, 3), Error);
  EXPECT_THROW(pointwise_grouped(2, 6, 8, 3), Error);
  EXPECT_THROW(pointwise_grouped(4, 4, 8, 1), Error);
  ConvSpec output_shape_layer = plain_layer();
  output_shape_layer.output_shape = {5, 5};
  EXPECT_THROW(spatial_separable(output_shape_layer), Error);
}

TEST(CompositeErrors, RunWithWrongNumberOfStageWeights) {
  std::mt19937 rng(kSeed + 9);
  const ConvSpec layer = plain_layer();
  const Tensor x = random_tensor({1, 4, 6, 6}, rng);
  const Composite ds = depthwise_separable(layer);
  const Tensor w0 = random_tensor(weight_shape(ds.stages[0].conv), rng);
  const Tensor w1 = random_tensor(weight_shape(ds.stages[1].conv), rng);
  const std::vector<StageWeights> one{{w0.view(), std::nullopt}};
  const std::vector<StageWeights> three{
      {w0.view(), std::nullopt}, {w1.view(), std::nullopt}, {w1.view(), std::nullopt}};
  for (const auto* weights : {&one, &three}) {
    const std::string m = error_message([&] { reference::run(ds, x, *weights); });
    EXPECT_TRUE(contains(m, "expected 2")) << m;
    EXPECT_TRUE(contains(m, std::to_string(weights->size()))) << m;
  }
  EXPECT_THROW(reference::run(ds, x, std::span<const StageWeights>()), Error);

  // shuffled_grouped has three stages but only two convolutions.
  ConvSpec first = plain_layer();
  first.groups = 2;
  ConvSpec second = first;
  second.in_channels = 8;
  const Composite sg = shuffled_grouped(first, second);
  const Tensor s0 = random_tensor(weight_shape(first), rng), s1 = random_tensor(weight_shape(second), rng);
  const std::vector<StageWeights> sg_three{
      {s0.view(), std::nullopt}, {s1.view(), std::nullopt}, {s1.view(), std::nullopt}};
  const std::string m = error_message([&] { reference::run(sg, x, sg_three); });
  EXPECT_TRUE(contains(m, "expected 2")) << m;
  const std::vector<StageWeights> sg_two{{s0.view(), std::nullopt}, {s1.view(), std::nullopt}};
  EXPECT_NO_THROW(reference::run(sg, x, sg_two));
}

}  // namespace
}  // namespace convkit
