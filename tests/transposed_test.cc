// The transposed convolution (phase decomposition) against the reference: hundreds of randomized
// transposed specs (rank 1-3, both layouts, strides 1-4, dilations 1-3 including ones sharing a factor
// with the stride, kernels shorter than the stride, asymmetric / same / output_shape padding,
// output_padding, groups, flip, bias, batch), on every ISA, 1 and 2 threads bit-identical; the benchmark's
// layer shapes scaled down; and the plan's choice. Integer-valued data make float sums exact whatever the
// summation order, so those comparisons are exact.
#include <gtest/gtest.h>

#include <random>

#include "../src/cpu/isa.h"
#include "../src/cpu/transposed_convolution.h"
#include "convkit/conv.h"
#include "algorithm_support.h"

namespace convkit {
namespace {

using testing::kSeed;

// A random transposed problem. Channel counts are sometimes large enough for full tiles and several
// weight panels; spatial sizes small enough for the reference.
testing::Problem random_transposed_problem(std::mt19937& rng) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (;;) {
    testing::Problem p;
    ConvSpec& s = p.spec;
    s.transposed = true;
    s.rank = static_cast<int>(pick(1, 3));
    s.groups = pick(0, 2) == 0 ? pick(2, 3) : 1;
    const bool wide = pick(0, 2) == 0;
    s.in_channels = s.groups * pick(1, wide ? 40 / s.groups : 5);
    s.out_channels = s.groups * pick(1, wide ? 70 / s.groups : 5);
    if (pick(0, 7) == 0) {  // depthwise with a multiplier
      s.groups = s.in_channels;
      s.out_channels = s.in_channels * pick(1, 2);
    }
    s.bias = pick(0, 1) == 1;
    s.flip = pick(0, 3) == 0;
    s.layout = pick(0, 1) ? Layout::channels_last : Layout::channels_first;
    const int64_t max_spatial = s.rank == 3 ? 4 : s.rank == 2 ? 8 : 20;
    Shape spatial;
    for (int a = 0; a < s.rank; ++a) {
      spatial.push_back(pick(1, max_spatial));
      s.kernel.push_back(pick(1, 5));
      s.stride.push_back(pick(1, 4));
      s.dilation.push_back(pick(0, 2) == 0 ? pick(2, 3) : 1);
      s.output_padding.push_back(pick(0, std::max(s.stride.back(), s.dilation.back()) - 1));
    }
    switch (pick(0, 5)) {
      case 0: s.padding = Padding::valid(); break;
      case 1: s.padding = Padding::same(); break;
      case 2: s.padding = Padding::same_lower(); break;
      case 3: {  // ONNX output_shape under any auto_pad: from 3 cells below the span to stride - 1 beyond it
        const Padding kinds[] = {Padding{}, Padding::valid(), Padding::same(), Padding::same_lower()};
        s.padding = kinds[pick(0, 3)];
        for (int a = 0; a < s.rank; ++a) {
          const auto i = static_cast<size_t>(a);
          const int64_t span = transposed_output_size(spatial[i], s.kernel[i], s.stride[i], s.dilation[i], 0, 0,
                                                      s.output_padding[i]);
          s.output_shape.push_back(std::max<int64_t>(1, pick(span - 3, span + s.stride[i] - 1)));
        }
        break;
      }
      default:  // explicit asymmetric pads, possibly cropping more than the kernel reaches
        for (int a = 0; a < s.rank; ++a) {
          s.padding.begin.push_back(pick(0, 4));
          s.padding.end.push_back(pick(0, 4));
        }
    }
    p.input_shape = make_activation_shape(s, pick(1, 2), s.in_channels, spatial);
    try {
      resolve_geometry(s, spatial);
      return p;
    } catch (const Error&) {  // e.g. the pads crop the whole output: draw again
    }
  }
}

TEST(TransposedConvolution, MatchesReferenceExactlyOnIntegerData) {
  std::mt19937 rng(kSeed);
  int kernel_shorter_than_stride = 0, output_shape_beyond_span = 0;
  for (int trial = 0; trial < 500; ++trial) {
    const testing::Problem problem = random_transposed_problem(rng);
    for (size_t a = 0; a < problem.spec.kernel.size(); ++a)
      kernel_shorter_than_stride += problem.spec.kernel[a] < problem.spec.stride[a];
    const ConvSpec& spec = problem.spec;
    if (!spec.output_shape.empty())
      for (const AxisGeometry& g : resolve_geometry(spec, input_spatial_of(spec, problem.input_shape)).axes)
        output_shape_beyond_span += g.pad_end < 0;
    const testing::ProblemData data = testing::random_data(problem, rng, /*integers=*/true);
    const Tensor expected = reference::convolution(problem.spec, data.input, data.weight, data.bias_view());
    ASSERT_TRUE(testing::matches_on_every_isa<cpu::TransposedConvolution>(problem, data, expected, 0.0))
        << "trial " << trial;
  }
  EXPECT_GT(kernel_shorter_than_stride, 50);  // phases reached by no tap were exercised
  EXPECT_GT(output_shape_beyond_span, 20);    // output_shape cells past the span (pad_end < 0) too
}

TEST(TransposedConvolution, MatchesReferenceOnRealData) {
  std::mt19937 rng(kSeed + 1);
  for (int trial = 0; trial < 150; ++trial) {
    const testing::Problem problem = random_transposed_problem(rng);
    const testing::ProblemData data = testing::random_data(problem, rng);
    const Tensor expected = reference::convolution(problem.spec, data.input, data.weight, data.bias_view());
    // Each output is a sum of at most K = taps * Cin/g products of values in [-1, 1) (plus the bias):
    // float rounding stays below (K + 1)^2 * 6e-8.
    const double k = static_cast<double>(data.weight.numel() / problem.spec.out_channels) + 1.0;
    ASSERT_TRUE(testing::matches_on_every_isa<cpu::TransposedConvolution>(problem, data, expected, 1e-6 + k * k * 6e-8))
        << "trial " << trial;
  }
}

// The benchmark suite's transposed layers scaled down (DCGAN 4x4 s2 p1, U-Net 2x2 s2, V-Net 2x2x2 s2,
// 1D k4 s2), plus a grouped and an odd-stride one, in both layouts with batch 2.
TEST(TransposedConvolution, MatchesReferenceOnLayerShapes) {
  std::mt19937 rng(kSeed + 2);
  struct Layer {
    int rank;
    int64_t cin, cout, kernel, stride, pad, groups, spatial;
  };
  for (const Layer& l : {Layer{2, 64, 32, 4, 2, 1, 1, 9}, Layer{2, 48, 40, 2, 2, 0, 1, 13},
                         Layer{3, 32, 16, 2, 2, 0, 1, 5}, Layer{1, 32, 16, 4, 2, 1, 1, 100},
                         Layer{2, 32, 64, 3, 2, 1, 4, 7}, Layer{2, 20, 24, 5, 3, 2, 1, 6}})
    for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
      testing::Problem p;
      p.spec = {.rank = l.rank, .in_channels = l.cin, .out_channels = l.cout, .kernel = {l.kernel},
                .stride = {l.stride}, .padding = Padding::symmetric({l.pad}), .groups = l.groups, .bias = true,
                .transposed = true, .layout = layout};
      p.input_shape = make_activation_shape(p.spec, 2, l.cin, Shape(static_cast<size_t>(l.rank), l.spatial));
      const testing::ProblemData data = testing::random_data(p, rng, /*integers=*/true);
      const Tensor expected = reference::convolution(p.spec, data.input, data.weight, data.bias_view());
      ASSERT_TRUE(testing::matches_on_every_isa<cpu::TransposedConvolution>(p, data, expected, 0.0, 2, 1));
    }
}

// A kernel shorter than the stride leaves whole phases without taps: those cells hold the bias alone.
TEST(TransposedConvolution, PhasesWithoutTapsHoldTheBias) {
  const ConvSpec spec{.rank = 1, .in_channels = 1, .out_channels = 2, .kernel = {2}, .stride = {3}, .bias = true,
                      .transposed = true};
  const Tensor weight(weight_shape(spec), std::vector<float>{1, 2, 3, 4});  // (Cin, Cout, k)
  const Tensor bias(Shape{2}, std::vector<float>{10, 20});
  const Tensor x(Shape{1, 1, 2}, std::vector<float>{1, 5});
  for (cpu::Isa isa : cpu::supported_isas()) {
    const cpu::TransposedConvolution conv(spec, weight.view(), bias.data(), isa);
    Tensor y(output_shape(spec, x.shape()));  // (2 - 1) * 3 + 2 = 5 cells
    conv.run(x.view(), y.data(), 1);
    EXPECT_EQ(y.values(), (std::vector<float>{11, 12, 10, 15, 20, 23, 24, 20, 35, 40})) << to_string(isa);
  }
}

// ONNX's backend test test_convtranspose_output_shape (onnx/backend/test/case/node/convtranspose.py,
// export_convtranspose_attributes): a 3x3 input with strides [3, 2] spans 9x7 cells, and output_shape
// [10, 8] asks for one more on each axis, which holds what output_padding would (here 0: no tap
// reaches it). Its expected output, in both layouts, from the reference, every ISA's fast kernel and a
// plan; with a bias the extra cells hold the bias alone.
TEST(TransposedConvolution, OnnxOutputShapeBeyondTheSpan) {
  const std::vector<float> onnx_channel = {
      0, 0, 1,  1, 3, 2,  2, 0,  //
      0, 0, 1,  1, 3, 2,  2, 0,  //
      0, 0, 1,  1, 3, 2,  2, 0,  //
      3, 3, 7,  4, 9, 5,  5, 0,  //
      3, 3, 7,  4, 9, 5,  5, 0,  //
      3, 3, 7,  4, 9, 5,  5, 0,  //
      6, 6, 13, 7, 15, 8, 8, 0,  //
      6, 6, 13, 7, 15, 8, 8, 0,  //
      6, 6, 13, 7, 15, 8, 8, 0,  //
      0, 0, 0,  0, 0, 0,  0, 0};
  for (Layout layout : {Layout::channels_first, Layout::channels_last})
    for (bool bias : {false, true}) {
      testing::Problem p;
      p.spec = {.rank = 2, .in_channels = 1, .out_channels = 2, .kernel = {3, 3}, .stride = {3, 2}, .bias = bias,
                .transposed = true, .output_shape = {10, 8}, .layout = layout};
      p.input_shape = make_activation_shape(p.spec, 1, 1, Shape{3, 3});
      testing::ProblemData data{Tensor(p.input_shape), Tensor(weight_shape(p.spec), 1.0f), {}};
      for (int64_t i = 0; i < 9; ++i) data.input[i] = static_cast<float>(i);  // np.arange(9): one channel
      if (bias) data.bias = Tensor(Shape{2}, std::vector<float>{10, 20});
      Tensor expected_nchw(Shape{1, 2, 10, 8});
      for (int64_t c = 0; c < 2; ++c)
        for (int64_t i = 0; i < 80; ++i)
          expected_nchw[c * 80 + i] = onnx_channel[static_cast<size_t>(i)] + (bias ? data.bias[c] : 0.0f);
      const int to_nhwc[] = {0, 2, 3, 1};
      const Tensor expected =
          layout == Layout::channels_first ? expected_nchw : Tensor::copy_of(expected_nchw.view().permuted(to_nhwc));
      ASSERT_EQ(output_shape(p.spec, p.input_shape), expected.shape());
      EXPECT_EQ(reference::convolution(p.spec, data.input, data.weight, data.bias_view()).values(), expected.values());
      EXPECT_TRUE(testing::matches_on_every_isa<cpu::TransposedConvolution>(p, data, expected, 0.0));
      const ConvPlan plan(p.spec, data.weight, data.bias_view());
      EXPECT_EQ(plan.run(data.input).values(), expected.values()) << plan.algorithm();
    }
}

// The cells of an output_shape beyond the span are the output_padding cells: output_shape = span + e
// (e < stride) gives exactly the result of output_padding = e, on every rank, layout and auto_pad kind.
TEST(TransposedConvolution, OutputShapeBeyondTheSpanIsOutputPadding) {
  std::mt19937 rng(kSeed + 4);
  for (int rank = 1; rank <= 3; ++rank)
    for (Layout layout : {Layout::channels_first, Layout::channels_last})
      for (const Padding& padding : {Padding{}, Padding::valid(), Padding::same(), Padding::same_lower()}) {
        testing::Problem p;
        p.spec = {.rank = rank, .in_channels = 3, .out_channels = 4, .kernel = {2}, .stride = {3}, .dilation = {2},
                  .padding = padding, .bias = true, .transposed = true, .layout = layout};
        const Shape spatial(static_cast<size_t>(rank), 3);
        p.input_shape = make_activation_shape(p.spec, 2, 3, spatial);
        const testing::ProblemData data = testing::random_data(p, rng, /*integers=*/true);
        ConvSpec padded = p.spec;  // the span (3 - 1) * 3 + 3 = 9, plus 2 cells
        padded.padding = {};
        padded.output_padding = {2};
        p.spec.output_shape = Shape(static_cast<size_t>(rank), 11);
        const Tensor expected = reference::convolution(padded, data.input, data.weight, data.bias_view());
        EXPECT_EQ(reference::convolution(p.spec, data.input, data.weight, data.bias_view()).values(),
                  expected.values())
            << p.describe();
        EXPECT_TRUE(testing::matches_on_every_isa<cpu::TransposedConvolution>(p, data, expected, 0.0));
      }
}

TEST(TransposedConvolution, PlansChooseItAndExplainTheDecomposition) {
  std::mt19937 rng(kSeed + 3);
  const ConvSpec spec{.rank = 2, .in_channels = 8, .out_channels = 6, .kernel = {4}, .stride = {2},
                      .padding = Padding::symmetric({1}), .bias = true, .transposed = true,
                      .layout = Layout::channels_last};
  const Tensor weight = testing::random_tensor(weight_shape(spec), rng, true);
  const Tensor bias = testing::random_tensor(bias_shape(spec), rng, true);
  const ConvPlan plan(spec, weight, bias.view(), {.threads = 2});
  EXPECT_EQ(plan.algorithm().rfind("transposed.", 0), 0u) << plan.algorithm();
  EXPECT_NE(plan.explain().find("transposed: chosen, phase decomposition: 4 stride-1 sub-convolutions (stride 2x2, "
                                "4 taps each"),
            std::string::npos)
      << plan.explain();
  EXPECT_NE(plan.explain().find("gemm: declined: transposed"), std::string::npos) << plan.explain();
  EXPECT_GT(plan.packed_bytes(), static_cast<size_t>(weight.numel()) * sizeof(float));
  EXPECT_GT(plan.workspace_bytes({1, 5, 5, 8}), 0u);
  const Tensor x = testing::random_tensor({2, 5, 5, 8}, rng, true);
  EXPECT_EQ(testing::max_abs_difference(plan.run(x), reference::convolution(spec, x, weight, bias.view())), 0.0);
  // A forward spec is not its business.
  ConvSpec forward = spec;
  forward.transposed = false;
  EXPECT_EQ(cpu::TransposedConvolution::cannot(forward), "not a transposed convolution");
}

}  // namespace
}  // namespace convkit
