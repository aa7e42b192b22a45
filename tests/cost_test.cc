// The cost model: the seeds' numbers exactly, MACs/params/output shapes against brute force and the
// reference engine over random problems, composites as the sum of their stages, receptive fields.
#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "test_support.h"

namespace convkit {
namespace {

using testing::kSeed;
using testing::Problem;
using testing::ProblemOptions;
using testing::random_data;
using testing::random_problem;
using testing::random_tensor;

ConvSpec conv2d(int64_t in, int64_t out, std::vector<int64_t> kernel, Layout layout = Layout::channels_last) {
  ConvSpec s;
  s.rank = static_cast<int>(kernel.size());
  s.in_channels = in;
  s.out_channels = out;
  s.kernel = std::move(kernel);
  s.padding = Padding::valid();
  s.layout = layout;
  return s;
}

// ---------------------------------------------------------------------------------------------
// 1. The seeds' numbers.

TEST(CostSeeds, StandardConvolution7x7x3To5x5x128) {
  const ConvSpec spec = conv2d(3, 128, {3, 3});
  const Shape input{1, 7, 7, 3};
  const LayerCost cost = conv_cost(spec, input);
  EXPECT_EQ(cost.input_shape, input);
  EXPECT_EQ(cost.output_shape, (Shape{1, 5, 5, 128}));
  EXPECT_EQ(cost.macs, 86400);  // 5*5 outputs * 128 filters * 3*3*3 taps
  EXPECT_EQ(cost.weights, 3456);
  EXPECT_EQ(cost.biases, 0);
  EXPECT_EQ(cost.params(), 3456);
}

TEST(CostSeeds, DepthwiseSeparable7x7x3To5x5x128) {
  const ConvSpec spec = conv2d(3, 128, {3, 3});
  const Shape input{1, 7, 7, 3};
  const CompositeCost cost = composite_cost(depthwise_separable(spec), input);
  ASSERT_EQ(cost.stages.size(), 2u);
  EXPECT_EQ(cost.stages[0].macs, 675);  // 5*5 * 3 channels * 3*3
  EXPECT_EQ(cost.stages[0].output_shape, (Shape{1, 5, 5, 3}));
  EXPECT_EQ(cost.stages[1].macs, 9600);  // 5*5 * 128 * 3
  EXPECT_EQ(cost.stages[1].output_shape, (Shape{1, 5, 5, 128}));
  EXPECT_EQ(cost.total.macs, 10275);
  EXPECT_EQ(cost.total.input_shape, input);
  EXPECT_EQ(cost.total.output_shape, (Shape{1, 5, 5, 128}));
  EXPECT_EQ(cost.stages[0].weights, 27);
  EXPECT_EQ(cost.stages[1].weights, 384);
  EXPECT_EQ(cost.total.params(), 411);
  // The saving the seeds quote: 86,400 vs 10,275 multiplications.
  EXPECT_LT(cost.total.macs * 8, conv_cost(spec, input).macs);
}

TEST(CostSeeds, SpatialSeparable3x3On5x5) {
  for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
    SCOPED_TRACE(std::string(to_string(layout)));
    const ConvSpec spec = conv2d(1, 1, {3, 3}, layout);
    const Shape shape = layout == Layout::channels_first ? Shape{1, 1, 5, 5} : Shape{1, 5, 5, 1};
    const LayerCost full = conv_cost(spec, shape);
    EXPECT_EQ(full.macs, 81);
    EXPECT_EQ(full.weights, 9);
    const CompositeCost separable = composite_cost(spatial_separable(spec), shape);
    ASSERT_EQ(separable.stages.size(), 2u);
    EXPECT_EQ(separable.stages[0].macs, 45);  // 3x5 outputs, 3 taps
    EXPECT_EQ(separable.stages[1].macs, 27);  // 3x3 outputs, 3 taps
    EXPECT_EQ(separable.total.macs, 72);
    EXPECT_EQ(separable.total.weights, 6);
    EXPECT_EQ(separable.total.output_shape, full.output_shape);
  }
}

TEST(CostSeeds, KerasConv2D) {
  ConvSpec spec = conv2d(3, 1, {3, 3});
  spec.bias = true;
  const LayerCost cost = conv_cost(spec, Shape{1, 128, 128, 3});
  EXPECT_EQ(cost.output_shape, (Shape{1, 126, 126, 1}));
  EXPECT_EQ(cost.params(), 28);
  EXPECT_EQ(cost.weights, 27);
  EXPECT_EQ(cost.biases, 1);
  EXPECT_EQ(cost.macs, 126 * 126 * 27);
}

TEST(CostSeeds, KerasConv1D) {
  ConvSpec spec = conv2d(3, 1, {5});
  spec.bias = true;
  const LayerCost cost = conv_cost(spec, Shape{1, 120, 3});
  EXPECT_EQ(cost.output_shape, (Shape{1, 116, 1}));
  EXPECT_EQ(cost.params(), 16);
  EXPECT_EQ(cost.macs, 116 * 15);
}

TEST(CostSeeds, KerasConv3D) {
  ConvSpec spec = conv2d(3, 1, {3, 3, 3});
  spec.bias = true;
  const LayerCost cost = conv_cost(spec, Shape{1, 128, 128, 128, 3});
  EXPECT_EQ(cost.output_shape, (Shape{1, 126, 126, 126, 1}));
  EXPECT_EQ(cost.params(), 82);
  EXPECT_EQ(cost.macs, int64_t{126} * 126 * 126 * 81);
}

TEST(CostSeeds, TwoGroupsHalveTheWeights) {
  for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
    SCOPED_TRACE(std::string(to_string(layout)));
    ConvSpec dense = conv2d(64, 128, {3, 3}, layout);
    ConvSpec grouped = dense;
    grouped.groups = 2;
    const Shape input = layout == Layout::channels_first ? Shape{1, 64, 16, 16} : Shape{1, 16, 16, 64};
    const LayerCost d = conv_cost(dense, input), g = conv_cost(grouped, input);
    EXPECT_EQ(d.weights, 73728);
    EXPECT_EQ(g.weights, 36864);
    EXPECT_EQ(2 * g.weights, d.weights);
    EXPECT_EQ(2 * g.macs, d.macs);
    EXPECT_EQ(g.output_shape, d.output_shape);
    // With a bias the biases do not halve (one per output channel either way).
    dense.bias = grouped.bias = true;
    EXPECT_EQ(conv_cost(dense, input).biases, 128);
    EXPECT_EQ(conv_cost(grouped, input).biases, 128);
  }
}

TEST(CostSeeds, TransposedMacsScatterFromTheInput) {
  // ConvTranspose2d(8 -> 4, k=4, s=2, p=1) on 5x5: output 10x10; every input cell * Cout * 16 taps.
  ConvSpec spec;
  spec.rank = 2;
  spec.in_channels = 8;
  spec.out_channels = 4;
  spec.kernel = {4};
  spec.stride = {2};
  spec.padding = Padding::symmetric({1});
  spec.transposed = true;
  const LayerCost cost = conv_cost(spec, Shape{2, 8, 5, 5});
  EXPECT_EQ(cost.output_shape, (Shape{2, 4, 10, 10}));
  EXPECT_EQ(cost.macs, 2 * 25 * 8 * 4 * 16);
  EXPECT_EQ(cost.weights, 8 * 4 * 16);
}

// ---------------------------------------------------------------------------------------------
// 2. Formula vs brute force over random problems.

// Multiply-accumulates counted from the definitions in reference.h, one at a time.
//   conv:       for every output cell (n, o, p): every (c in group(o), tap q) pair, padded taps included.
//   transposed: for every input cell (n, c, i): every (o in group(c), tap q) pair.
int64_t brute_force_macs(const ConvSpec& spec, const Shape& input_spatial, const Shape& output_spatial,
                         int64_t batch) {
  const Shape kernel = per_axis(spec.kernel, spec.rank, 1, "kernel");
  const int64_t in_per_group = spec.in_channels / spec.groups;
  const int64_t out_per_group = spec.out_channels / spec.groups;
  int64_t count = 0;
  if (!spec.transposed) {
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t o = 0; o < spec.out_channels; ++o) {
        const int64_t group = o / out_per_group;
        Shape p(output_spatial.size(), 0);
        do {
          for (int64_t c = group * in_per_group; c < (group + 1) * in_per_group; ++c) {
            Shape q(kernel.size(), 0);
            do ++count;
            while (next_index(q, kernel));
          }
        } while (next_index(p, output_spatial));
      }
  } else {
    for (int64_t n = 0; n < batch; ++n)
      for (int64_t c = 0; c < spec.in_channels; ++c) {
        const int64_t group = c / in_per_group;
        Shape i(input_spatial.size(), 0);
        do {
          for (int64_t o = group * out_per_group; o < (group + 1) * out_per_group; ++o) {
            Shape q(kernel.size(), 0);
            do ++count;
            while (next_index(q, kernel));
          }
        } while (next_index(i, input_spatial));
      }
  }
  return count;
}

TEST(CostFormula, MatchesBruteForceAndReference) {
  std::mt19937 rng(kSeed);
  int cases = 0, transposed = 0;
  for (int i = 0; i < 200; ++i) {
    const Problem p = random_problem(rng);
    SCOPED_TRACE("case " + std::to_string(i) + ": " + p.describe());
    const ConvSpec& s = p.spec;
    transposed += s.transposed;

    const LayerCost cost = conv_cost(s, p.input_shape);
    EXPECT_EQ(cost.input_shape, p.input_shape);

    // Output shape: the one the reference engine produces.
    const auto data = random_data(p, rng);
    const Tensor y = reference::convolution(s, data.input, data.weight, data.bias_view());
    EXPECT_EQ(cost.output_shape, y.shape());

    // Params: the weight tensor's element count (+ Cout biases).
    EXPECT_EQ(cost.weights, element_count(weight_shape(s)));
    EXPECT_EQ(cost.weights, data.weight.numel());
    EXPECT_EQ(cost.biases, s.bias ? s.out_channels : 0);
    EXPECT_EQ(cost.params(), data.weight.numel() + data.bias.numel());

    // MACs from the definition.
    const bool first = s.layout == Layout::channels_first;
    const Shape in_spatial(p.input_shape.begin() + (first ? 2 : 1), p.input_shape.end() - (first ? 0 : 1));
    const Shape out_spatial(y.shape().begin() + (first ? 2 : 1), y.shape().end() - (first ? 0 : 1));
    const int64_t batch = p.input_shape[0];
    EXPECT_EQ(cost.macs, brute_force_macs(s, in_spatial, out_spatial, batch));

    // And the documented closed forms.
    const int64_t taps = element_count(per_axis(s.kernel, s.rank, 1, "kernel"));
    const int64_t formula =
        s.transposed ? batch * element_count(in_spatial) * s.in_channels * (s.out_channels / s.groups) * taps
                     : batch * element_count(out_spatial) * s.out_channels * (s.in_channels / s.groups) * taps;
    EXPECT_EQ(cost.macs, formula);
    ++cases;
  }
  EXPECT_EQ(cases, 200);
  EXPECT_GT(transposed, 20);  // both branches exercised
}

TEST(CostFormula, RejectsInputsThatDoNotFit) {
  const ConvSpec spec = conv2d(3, 8, {3, 3});
  EXPECT_THROW(conv_cost(spec, Shape{1, 7, 7, 4}), Error);  // wrong channel count
  EXPECT_THROW(conv_cost(spec, Shape{1, 7, 3}), Error);     // wrong rank
  EXPECT_THROW(conv_cost(spec, Shape{1, 2, 2, 3}), Error);  // kernel larger than the input
}

// ---------------------------------------------------------------------------------------------
// 3. Composites are the sum of their stages.

// A second grouped convolution for shuffled_grouped on `first`'s output channels.
ConvSpec random_second(std::mt19937& rng, const ConvSpec& first) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  std::vector<int64_t> divisors;
  for (int64_t d = 1; d <= first.out_channels; ++d)
    if (first.out_channels % d == 0) divisors.push_back(d);
  const int64_t groups = divisors[static_cast<size_t>(pick(0, static_cast<int64_t>(divisors.size()) - 1))];
  return pointwise_grouped(first.rank, first.out_channels, groups * pick(1, 3), groups, first.layout, pick(0, 1) == 1);
}

TEST(CostComposite, SumsStagesAndChainsShapes) {
  std::mt19937 rng(kSeed + 1);
  ProblemOptions options;
  options.allow_transposed = false;
  options.allow_flip = false;
  int cases = 0;
  for (int i = 0; i < 80; ++i) {
    const Problem p = random_problem(rng, options);
    const int64_t m = std::uniform_int_distribution<int64_t>(1, 2)(rng);
    const std::vector<std::pair<std::string, Composite>> composites{
        {"depthwise_separable", depthwise_separable(p.spec, m)},
        {"spatial_separable", spatial_separable(p.spec)},
        {"flattened", flattened(p.spec)},
        {"shuffled_grouped", shuffled_grouped(p.spec, random_second(rng, p.spec))},
    };
    for (const auto& [name, composite] : composites) {
      SCOPED_TRACE("case " + std::to_string(i) + ": " + name + " of " + p.describe());
      const CompositeCost cost = composite_cost(composite, p.input_shape);
      ASSERT_EQ(cost.stages.size(), composite.stages.size());

      int64_t macs = 0, weights = 0, biases = 0;
      Shape shape = p.input_shape;
      for (size_t k = 0; k < composite.stages.size(); ++k) {
        const Stage& stage = composite.stages[k];
        const LayerCost& c = cost.stages[k];
        EXPECT_EQ(c.input_shape, shape) << "stage " << k;
        if (stage.is_shuffle()) {
          EXPECT_EQ(c.output_shape, shape) << "stage " << k;
          EXPECT_EQ(c.macs, 0) << "stage " << k;
          EXPECT_EQ(c.params(), 0) << "stage " << k;
        } else {
          const LayerCost alone = conv_cost(stage.conv, shape);
          EXPECT_EQ(c.output_shape, alone.output_shape) << "stage " << k;
          EXPECT_EQ(c.macs, alone.macs) << "stage " << k;
          EXPECT_EQ(c.weights, alone.weights) << "stage " << k;
          EXPECT_EQ(c.biases, alone.biases) << "stage " << k;
        }
        macs += c.macs;
        weights += c.weights;
        biases += c.biases;
        shape = c.output_shape;
      }
      EXPECT_EQ(cost.total.macs, macs);
      EXPECT_EQ(cost.total.weights, weights);
      EXPECT_EQ(cost.total.biases, biases);
      EXPECT_EQ(cost.total.input_shape, p.input_shape);
      EXPECT_EQ(cost.total.output_shape, shape);

      // The total output shape is what the reference engine's run produces.
      std::vector<Tensor> stage_weights, stage_biases;
      for (const ConvSpec& s : conv_stages(composite)) {
        stage_weights.push_back(random_tensor(weight_shape(s), rng));
        stage_biases.push_back(s.bias ? random_tensor(bias_shape(s), rng) : Tensor());
      }
      std::vector<StageWeights> views;
      for (size_t k = 0; k < stage_weights.size(); ++k) {
        views.push_back({stage_weights[k].view(), std::nullopt});
        if (stage_biases[k].numel()) views.back().bias = stage_biases[k].view();
      }
      const Tensor x = random_tensor(p.input_shape, rng);
      EXPECT_EQ(cost.total.output_shape, reference::run(composite, x, views).shape());
      ++cases;
    }
  }
  EXPECT_EQ(cases, 320);
}

TEST(CostComposite, EmptyCompositeIsFree) {
  const Composite empty{"empty", {}};
  const Shape input{1, 3, 4, 4};
  const CompositeCost cost = composite_cost(empty, input);
  EXPECT_TRUE(cost.stages.empty());
  EXPECT_EQ(cost.total.input_shape, input);
  EXPECT_EQ(cost.total.output_shape, input);
  EXPECT_EQ(cost.total.macs, 0);
  EXPECT_EQ(cost.total.params(), 0);
}

// ---------------------------------------------------------------------------------------------
// 4. Receptive field.

ConvSpec layer(int rank, int64_t k, int64_t stride = 1, int64_t dilation = 1, bool transposed = false) {
  ConvSpec s;
  s.rank = rank;
  s.kernel = {k};
  s.stride = {stride};
  s.dilation = {dilation};
  s.transposed = transposed;
  return s;
}

void expect_field(const std::vector<ConvSpec>& stack, double size, double jump) {
  const ReceptiveField f = receptive_field(stack);
  const size_t rank = static_cast<size_t>(stack.front().rank);
  ASSERT_EQ(f.size.size(), rank);
  ASSERT_EQ(f.jump.size(), rank);
  for (size_t a = 0; a < rank; ++a) {
    EXPECT_DOUBLE_EQ(f.size[a], size) << "axis " << a;
    EXPECT_DOUBLE_EQ(f.jump[a], jump) << "axis " << a;
  }
}

TEST(CostReceptiveField, StackedConvolutions) {
  expect_field({layer(2, 3)}, 3, 1);
  expect_field({layer(2, 3), layer(2, 3), layer(2, 3)}, 7, 1);  // three 3x3 see 7x7 (VGG)
  expect_field({layer(2, 3, 2), layer(2, 3)}, 7, 2);             // 1 + 2 + 2*2
  expect_field({layer(2, 3, 1, 2)}, 5, 1);                       // dilated 3x3, d=2
  expect_field({layer(2, 1)}, 1, 1);                             // 1x1 sees one cell
  expect_field({layer(2, 1, 2), layer(2, 3)}, 5, 2);             // 1x1 stride 2 then 3x3: 1 + 0 + 2*2
  // ResNet stem: 7x7/2, 3x3/2 maxpool-like conv, then 3x3: 1 + 6 + 2*2 + 4*2 = 19, jump 8.
  expect_field({layer(2, 7, 2), layer(2, 3, 2), layer(2, 3)}, 19, 4);
}

TEST(CostReceptiveField, WaveNetDilatedStack) {
  std::vector<ConvSpec> stack;
  for (int64_t d = 1; d <= 512; d *= 2) stack.push_back(layer(1, 2, 1, d));
  ASSERT_EQ(stack.size(), 10u);
  expect_field(stack, 1024, 1);
}

TEST(CostReceptiveField, PerAxisKernels) {
  ConvSpec s;
  s.rank = 3;
  s.kernel = {1, 3, 5};
  s.stride = {1, 2, 3};
  s.dilation = {2, 1, 2};
  ConvSpec t = layer(3, 3);
  const ReceptiveField f = receptive_field(std::vector<ConvSpec>{s, t});
  ASSERT_EQ(f.size.size(), 3u);
  // axis D: 1 + 0 + 2*1 = 3; axis H: 1 + 2 + 2*2 = 7; axis W: 1 + 8 + 2*3 = 15.
  EXPECT_DOUBLE_EQ(f.size[0], 3);
  EXPECT_DOUBLE_EQ(f.size[1], 7);
  EXPECT_DOUBLE_EQ(f.size[2], 15);
  EXPECT_DOUBLE_EQ(f.jump[0], 1);
  EXPECT_DOUBLE_EQ(f.jump[1], 2);
  EXPECT_DOUBLE_EQ(f.jump[2], 3);
}

TEST(CostReceptiveField, MixedRankStackThrows) {
  const std::vector<ConvSpec> stack{layer(2, 3), layer(1, 3)};
  try {
    receptive_field(stack);
    ADD_FAILURE() << "did not throw";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("rank"), std::string::npos) << m;
  }
  ConvSpec invalid = layer(2, 3);
  invalid.groups = 0;
  EXPECT_THROW(receptive_field(std::vector<ConvSpec>{layer(2, 3), invalid}), Error);
}

TEST(CostReceptiveField, EmptyStack) {
  const ReceptiveField f = receptive_field(std::span<const ConvSpec>());
  EXPECT_TRUE(f.size.empty());
  EXPECT_TRUE(f.jump.empty());
}

TEST(CostReceptiveField, TransposedLayers) {
  // cost.h: a transposed layer adds floor((k-1)*d / s) * jump and divides the jump by s.
  // conv 3x3/2 (size 3, jump 2), then ConvTranspose k=4, s=2: 3 + floor(3/2) * 2 = 5, jump 1.
  // By hand: output cell p' of the transposed layer reads mid cells floor(p'/2) - 1 and floor(p'/2),
  // and two neighbouring mid cells read 2 + 3 = 5 input cells.
  expect_field({layer(2, 3, 2), layer(2, 4, 2, 1, true)}, 5, 1);
  // Transposed first: 1 + floor(3/2) = 2, jump 1/2; a 3x3 after it adds 2 * 1/2: 3.
  expect_field({layer(2, 4, 2, 1, true), layer(2, 3)}, 3, 0.5);
  // Dilated transposed k=3, d=3, s=2 after a plain 3x3: 3 + floor(6/2) * 1 = 6, jump 1/2.
  expect_field({layer(1, 3), layer(1, 3, 2, 3, true)}, 6, 0.5);
  // Stride-1 transposed is a full convolution: it spans k cells like a conv.
  expect_field({layer(1, 5, 1, 1, true)}, 5, 1);
  // A transposed layer whose kernel is shorter than the stride (k=2, s=4): floor(1/4) = 0, one cell.
  expect_field({layer(1, 2, 4, 1, true)}, 1, 0.25);
}

}  // namespace
}  // namespace convkit
