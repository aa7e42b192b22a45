// The Winograd algorithm against the reference. Winograd is not exact in floating point (the transforms
// scale and recombine values), so outputs are compared per element against a bound scaled to the data:
//   |y - y_ref| <= kRelativeBound * S,   S = |b| + sum |w| |x| over the terms of that output
// (S is the reference convolution of |x| with |w|, plus |b|). Also: the tile transforms of every ISA
// against a direct correlation, 1 vs 2 threads bit-identical, and the plan's choice with its reasons.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "../src/cpu/isa_kernels.h"
#include "../src/cpu/winograd_convolution.h"
#include "../src/cpu/winograd_matrices.h"
#include "../src/cpu/winograd_transform.h"
#include "convkit/conv.h"
#include "algorithm_support.h"

namespace convkit {
namespace {

using testing::kSeed;

// The documented error bound relative to S (docs/engine.md, "Winograd"), for every tile size and rank;
// measured worst over these tests: F(2, 3) 1.8e-7, F(2x2) 3.3e-7 (4.8e-6 in 3D, at borders where few
// terms make S small), F(4, 3) 2.1e-6, F(4x4) 3.4e-6 (3D 2.4e-6), F(6, 3) 3.1e-6; float epsilon is 6e-8.
constexpr double kRelativeBound = 1e-5;

std::vector<double> g_of(int m) {
  const double* g = m == 2 ? &cpu::WinogradMatrices<2>::g[0][0]
                           : m == 4 ? &cpu::WinogradMatrices<4>::g[0][0] : &cpu::WinogradMatrices<6>::g[0][0];
  return std::vector<double>(g, g + (m + 2) * 3);
}

// One tile through input transform, U = G g GT (double), elementwise product, output transform, for
// every transform of every ISA, against the direct correlation of the tile; 19 channels (partial vectors),
// strided input, a bias, and an output cut to rows x cols.
TEST(WinogradTransforms, OneTileMatchesDirectCorrelation) {
  std::mt19937 rng(kSeed);
  std::uniform_real_distribution<double> value(-1.0, 1.0);
  const int64_t channels = 19, pad = 3;
  for (cpu::Isa isa : cpu::supported_isas())
    for (const cpu::WinogradTransform& tr : cpu::isa_kernels(isa).winograd) {
      SCOPED_TRACE(tr.name());
      const int a = tr.alpha(), m = tr.m, h = tr.rank == 2 ? a : 1, oh = tr.rank == 2 ? m : 1;
      const int64_t col_stride = channels + pad, row_stride = a * col_stride + pad;
      std::vector<float> d(static_cast<size_t>(h * row_stride), 0.0f), g(static_cast<size_t>(channels * 9)),
          bias(static_cast<size_t>(channels));
      for (float& v : d) v = static_cast<float>(value(rng));
      for (float& v : g) v = static_cast<float>(value(rng));
      for (float& v : bias) v = static_cast<float>(value(rng));
      std::vector<float> v(static_cast<size_t>(tr.positions() * channels), std::numeric_limits<float>::quiet_NaN());
      tr.input(d.data(), row_stride, col_stride, channels, v.data(), channels);
      // U per channel (filter rows ky < 3 in 2D, one row in 1D), then M = U .* V.
      const std::vector<double> gm = g_of(m);
      for (int64_t c = 0; c < channels; ++c)
        for (int i = 0; i < h; ++i)
          for (int j = 0; j < a; ++j) {
            double u = 0.0;
            for (int ky = 0; ky < (tr.rank == 2 ? 3 : 1); ++ky)
              for (int kx = 0; kx < 3; ++kx)
                u += (tr.rank == 2 ? gm[static_cast<size_t>(i * 3 + ky)] : 1.0) * gm[static_cast<size_t>(j * 3 + kx)] *
                     g[static_cast<size_t>(c * 9 + ky * 3 + kx)];
            v[static_cast<size_t>((i * a + j) * channels + c)] *= static_cast<float>(u);
          }
      const int rows = tr.rank == 2 ? m - 1 : 1, cols = m - 1;
      std::vector<float> y(static_cast<size_t>(oh * m * channels), std::numeric_limits<float>::quiet_NaN());
      tr.output(v.data(), channels, channels, bias.data(), y.data(), m * channels, channels, rows, cols);
      for (int i = 0; i < oh; ++i)
        for (int j = 0; j < m; ++j)
          for (int64_t c = 0; c < channels; ++c) {
            const float got = y[static_cast<size_t>((i * m + j) * channels + c)];
            if (i >= rows || j >= cols) {
              ASSERT_TRUE(std::isnan(got)) << "wrote outside the cut tile at " << i << "," << j;
              continue;
            }
            double expected = bias[static_cast<size_t>(c)];
            for (int ky = 0; ky < (tr.rank == 2 ? 3 : 1); ++ky)
              for (int kx = 0; kx < 3; ++kx)
                expected += double{g[static_cast<size_t>(c * 9 + ky * 3 + kx)]} *
                            d[static_cast<size_t>((i + ky) * row_stride + (j + kx) * col_stride + c)];
            ASSERT_NEAR(got, expected, 1e-4) << "cell " << i << "," << j << " channel " << c;
          }
    }
}

// A random spec the Winograd algorithm computes: 3-wide kernel, stride 1, dilation 1-4, rank 1 to 3,
// every padding kind and mode, groups, flip, bias, both layouts, odd sizes from 1 up.
testing::Problem random_winograd_problem(std::mt19937& rng, int64_t max_channels, int64_t max_spatial) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (;;) {
    testing::Problem p;
    ConvSpec& s = p.spec;
    s.rank = static_cast<int>(pick(1, 3));
    s.groups = pick(0, 2) == 0 ? pick(2, 3) : 1;
    s.in_channels = s.groups * pick(1, max_channels / s.groups);
    s.out_channels = s.groups * pick(1, max_channels / s.groups);
    s.kernel = {3};
    if (pick(0, 2) == 0) s.dilation = {pick(2, 4)};
    s.bias = pick(0, 1) == 1;
    s.flip = pick(0, 3) == 0;
    s.layout = pick(0, 1) ? Layout::channels_last : Layout::channels_first;
    s.padding_mode = pick(0, 2) ? PaddingMode::zeros : static_cast<PaddingMode>(pick(1, 3));
    Shape spatial;
    for (int a = 0; a < s.rank; ++a) spatial.push_back(pick(1, s.rank == 3 ? std::min<int64_t>(max_spatial, 7) : max_spatial));
    switch (pick(0, 4)) {
      case 0: s.padding = Padding::valid(); break;
      case 1: s.padding = Padding::same(); break;
      case 2: s.padding = Padding::same_lower(); break;
      default:
        for (int a = 0; a < s.rank; ++a) {
          s.padding.begin.push_back(pick(0, 2));
          s.padding.end.push_back(pick(0, 2));
        }
    }
    p.input_shape = make_activation_shape(s, pick(1, 2), s.in_channels, spatial);
    try {
      resolve_geometry(s, spatial);
      return p;
    } catch (const Error&) {  // e.g. a 1-wide input without padding: draw again
    }
  }
}

Tensor absolute(const Tensor& t) {
  Tensor a = Tensor::copy_of(t.view());
  for (int64_t i = 0; i < a.numel(); ++i) a[i] = std::fabs(a[i]);
  return a;
}

// The reference output y_ref and the scale S (file comment) of a problem, computed once for every ISA.
struct Expected {
  Tensor y, scale;
};

Expected expected_of(const testing::Problem& p, const testing::ProblemData& data) {
  const Tensor abs_bias = data.bias.numel() ? absolute(data.bias) : Tensor();
  return {reference::convolution(p.spec, data.input, data.weight, data.bias_view()),
          reference::convolution(p.spec, absolute(data.input), absolute(data.weight),
                                 data.bias.numel() ? std::optional<ConstTensorView>(abs_bias.view()) : std::nullopt)};
}

// The largest |y - y_ref| / S over the outputs; NaN anywhere is infinite.
double worst_relative_error(const Expected& e, const Tensor& got) {
  const Tensor& expected = e.y;
  const Tensor& scale = e.scale;
  double worst = 0.0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double diff = std::fabs(double{got[i]} - double{expected[i]});
    if (std::isnan(diff)) return HUGE_VAL;
    worst = std::max(worst, diff / std::max(double{scale[i]}, 1e-30));
  }
  return worst;
}

// Every tile size the plan may pick (per spec: 2D m = 2, 4; 1D m = 2, 4, 6) within its bound.
TEST(WinogradConvolution, RandomSpecsWithinTheBound) {
  std::mt19937 rng(kSeed + 1);
  for (int trial = 0; trial < 300; ++trial) {
    const testing::Problem p = random_winograd_problem(rng, 40, 19);
    ASSERT_EQ(cpu::WinogradConvolution::cannot(p.spec), "") << p.describe();
    const testing::ProblemData data = testing::random_data(p, rng);
    const Expected expected = expected_of(p, data);
    const int m = p.spec.rank >= 2 ? 2 + 2 * (trial % 2) : 2 + 2 * (trial % 3);  // 2D F(6x6) is never used
    for (cpu::Isa isa : cpu::supported_isas()) {
      const double error =
          worst_relative_error(expected, testing::run_algorithm<cpu::WinogradConvolution>(p, data, isa, 2, m));
      ASSERT_LE(error, kRelativeBound) << "trial " << trial << " seed " << kSeed + 1 << " isa " << to_string(isa)
                                     << " m " << m << ": " << p.describe();
    }
  }
}

// Layer shapes big enough for several blocks, both thread schedules (61x58: 6 blocks, whole blocks per
// thread; the others have 1-3 blocks, whose output channel panels the threads share; 256 -> 48 has one
// panel, so one thread idles), full micro-kernel tiles,
// batch > 1, F(2x2) (256 -> 256), dilation (blocks of several phase planes, and tile rectangles of one
// plane), 3D (blocks of several depth slices, also with a dilated depth; 20 slices: two blocks along
// depth, each transforming its halo slices); 1 and 2 threads must agree bit for bit.
TEST(WinogradConvolution, LayerShapesAndThreadsBitIdentical) {
  std::mt19937 rng(kSeed + 2);
  struct Layer {
    int rank;
    int64_t cin, cout, groups, h, w, batch, dilation, depth;  // depth: rank 3 only
  };
  for (const Layer& l : {Layer{2, 64, 64, 1, 61, 58, 1, 1, 1}, Layer{2, 96, 80, 1, 13, 14, 2, 1, 1},
                         Layer{2, 64, 64, 2, 9, 57, 1, 1, 1}, Layer{2, 256, 48, 1, 7, 7, 1, 1, 1},
                         Layer{2, 256, 256, 1, 14, 14, 1, 1, 1}, Layer{2, 64, 72, 1, 32, 29, 2, 6, 1},
                         Layer{2, 48, 64, 1, 70, 40, 1, 3, 1}, Layer{1, 64, 96, 1, 1, 301, 2, 1, 1},
                         Layer{1, 128, 40, 1, 1, 1000, 1, 1, 1}, Layer{1, 64, 64, 1, 1, 500, 2, 5, 1},
                         Layer{3, 64, 48, 1, 9, 10, 1, 1, 5}, Layer{3, 32, 40, 1, 30, 31, 1, 2, 4},
                         Layer{3, 32, 32, 1, 12, 12, 1, 1, 20}, Layer{3, 32, 32, 1, 12, 12, 1, 2, 20}})
    for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
      testing::Problem p;
      p.spec = {.rank = l.rank, .in_channels = l.cin, .out_channels = l.cout, .kernel = {3},
                .dilation = {l.dilation}, .padding = Padding::same(), .groups = l.groups, .bias = true,
                .layout = layout};
      const Shape spatial = l.rank == 3 ? Shape{l.depth, l.h, l.w} : l.rank == 2 ? Shape{l.h, l.w} : Shape{l.w};
      p.input_shape = make_activation_shape(p.spec, l.batch, l.cin, spatial);
      const testing::ProblemData data = testing::random_data(p, rng);
      const Expected expected = expected_of(p, data);
      for (cpu::Isa isa : cpu::supported_isas()) {
        const Tensor one = testing::run_algorithm<cpu::WinogradConvolution>(p, data, isa, 1);
        EXPECT_LE(worst_relative_error(expected, one), kRelativeBound) << to_string(isa) << ": " << p.describe();
        EXPECT_TRUE(testing::bit_identical(one, testing::run_algorithm<cpu::WinogradConvolution>(p, data, isa, 2)))
            << to_string(isa) << ": " << p.describe();
      }
    }
}

// --- The plan's choice ---

std::string explain_for(const ConvSpec& spec) {
  std::mt19937 rng(kSeed + 3);
  const Tensor weight = testing::random_tensor(weight_shape(spec), rng);
  return ConvPlan(spec, weight).explain();
}

TEST(WinogradPlan, ChosenForAResNetLayer) {
  std::mt19937 rng(kSeed + 4);
  for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
    const ConvSpec spec{.rank = 2, .in_channels = 64, .out_channels = 64, .kernel = {3},
                        .padding = Padding::symmetric({1}), .bias = true, .layout = layout};
    const Tensor weight = testing::random_tensor(weight_shape(spec), rng);
    const Tensor bias = testing::random_tensor(bias_shape(spec), rng);
    const ConvPlan plan(spec, weight, bias.view(), {.threads = 2});
    EXPECT_EQ(plan.algorithm().rfind("winograd.", 0), 0u) << plan.algorithm();
    EXPECT_NE(plan.explain().find("winograd: chosen, F(4x4, 3x3)"), std::string::npos) << plan.explain();
    const Tensor x = testing::random_tensor(make_activation_shape(spec, 1, 64, Shape{20, 17}), rng);
    const testing::Problem p{spec, x.shape()};
    const testing::ProblemData data{Tensor::copy_of(x.view()), Tensor::copy_of(weight.view()), Tensor::copy_of(bias.view())};
    EXPECT_LE(worst_relative_error(expected_of(p, data), plan.run(x)), kRelativeBound);
    EXPECT_GT(plan.workspace_bytes(x.shape()), 0u);
  }
}

// Where F(4x4) weights are too large (ResNet-50 res4, 256 -> 256: 9 MiB), F(2x2) (4 MiB); dilated layers; 3D.
TEST(WinogradPlan, F2x2ForWideLayersAndDilated) {
  ConvSpec res4{.rank = 2, .in_channels = 256, .out_channels = 256, .kernel = {3}, .padding = Padding::symmetric({1})};
  EXPECT_EQ(cpu::WinogradConvolution::tile_size(res4), 2);
  EXPECT_NE(explain_for(res4).find("winograd: chosen, F(2x2, 3x3)"), std::string::npos) << explain_for(res4);
  ConvSpec aspp = res4;
  aspp.dilation = {6};
  aspp.padding = Padding::symmetric({6});
  EXPECT_NE(explain_for(aspp).find("winograd: chosen, F(2x2, 3x3)"), std::string::npos) << explain_for(aspp);
  res4.in_channels = res4.out_channels = 64;
  EXPECT_EQ(cpu::WinogradConvolution::tile_size(res4), 4);
  // C3D conv3a (128 -> 256, 3x3x3): F(4x4) per depth slice, 14 MiB of transformed weights (3D limit 16).
  const ConvSpec c3d{.rank = 3, .in_channels = 128, .out_channels = 256, .kernel = {3},
                     .padding = Padding::symmetric({1})};
  EXPECT_NE(explain_for(c3d).find("winograd: chosen, F(4x4, 3x3) per depth slice"), std::string::npos)
      << explain_for(c3d);
}

TEST(WinogradPlan, DeclinedWithTheReason) {
  const ConvSpec base{.rank = 2, .in_channels = 64, .out_channels = 64, .kernel = {3}, .padding = Padding::same()};
  ConvSpec strided = base, five = base, thin = base, wide = base;
  strided.stride = {2};
  five.kernel = {5};
  thin.in_channels = 8;
  wide.in_channels = wide.out_channels = 512;
  EXPECT_NE(explain_for(strided).find("winograd: declined: stride=[2, 2]"), std::string::npos) << explain_for(strided);
  EXPECT_NE(explain_for(five).find("winograd: declined: kernel=[5, 5]"), std::string::npos);
  EXPECT_NE(explain_for(thin).find("winograd: declined: Cin/groups=8"), std::string::npos);
  EXPECT_NE(explain_for(wide).find("winograd: declined: transformed weights of 16 MiB"), std::string::npos)
      << explain_for(wide);
  EXPECT_NE(explain_for(five).find("gemm: chosen"), std::string::npos);
  // Forcing Winograd where it cannot compute is an error naming the reason.
  try {
    ConvPlan(strided, Tensor(weight_shape(strided)), std::nullopt, {.algorithm = "winograd"});
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("stride=[2, 2]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace convkit
