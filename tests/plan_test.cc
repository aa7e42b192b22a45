// The fast engine against the reference: every micro-kernel of every ISA this CPU runs against a
// naive GEMM, and the GEMM convolution on hundreds of randomized specs (every option, both layouts,
// 1 and 2 threads), on every ISA. Integer-valued data make float sums exact whatever the summation
// order, so those comparisons are exact; real-valued data are compared with a relative tolerance.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "../src/cpu/gemm_convolution.h"
#include "../src/cpu/isa_kernels.h"
#include "../src/cpu/phase_window.h"
#include "../src/cpu/tile_kernel.h"
#include "convkit/conv.h"
#include "algorithm_support.h"

namespace convkit {
namespace {

using testing::kSeed;

// --- Micro-kernels ---

struct KernelCase {
  int rows, cols;
  int64_t taps, k_per_tap;
  bool row_bias, col_bias;
  bool accumulate = false;  // C += A B (the weight gradient's reduction blocks) instead of the bias
  bool pitched = false;     // indirect: one pointer per tap to rows at a fixed pitch (TileArgs::a_pitch),
                            // then rows may exceed MR (several tiles in one call)
};

// C = bias + A B (or C += A B) for one tile, against a double-precision loop; cells outside rows x cols
// untouched.
void check_kernel(const cpu::TileKernel& kernel, const KernelCase& c, std::mt19937& rng) {
  const int mr = std::max(kernel.mr, c.rows), nr = kernel.nr;  // mr: the A and C rows of the case
  const int64_t k = c.taps * c.k_per_tap;
  std::uniform_real_distribution<float> value(-1.0f, 1.0f);
  auto fill = [&](std::vector<float>& v) { for (float& x : v) x = value(rng); };
  std::vector<float> a(static_cast<size_t>(k * mr)), b(static_cast<size_t>(k * (nr + 3))), row_bias(mr), col_bias(nr);
  fill(a), fill(b), fill(row_bias), fill(col_bias);
  // Indirect kernels read row i of tap t from a row pointer; point them into a copy laid out row-major,
  // rows `pitch` floats apart. Pitched, the pointers are those of each tap's first row; the rows past
  // c.rows are left out of the copy (NaN), which the kernel must not read into a written cell.
  const int64_t pitch = c.k_per_tap + 3;
  std::vector<float> rows_data(static_cast<size_t>(c.taps * mr * pitch), std::numeric_limits<float>::quiet_NaN());
  std::vector<const float*> row_pointers(static_cast<size_t>(c.taps * kernel.mr)), tap_rows(static_cast<size_t>(c.taps));
  for (int64_t t = 0; t < c.taps; ++t)
    for (int i = 0; i < mr; ++i) {
      float* row = &rows_data[static_cast<size_t>((t * mr + i) * pitch)];
      if (!c.pitched || i < c.rows)
        for (int64_t j = 0; j < c.k_per_tap; ++j) row[j] = a[static_cast<size_t>((t * c.k_per_tap + j) * mr + i)];
      if (i < kernel.mr) row_pointers[static_cast<size_t>(t * kernel.mr + i)] = row;
      if (i == 0) tap_rows[static_cast<size_t>(t)] = row;
    }
  const int64_t ldc = nr + 5;
  std::vector<float> out(static_cast<size_t>(mr * ldc), std::numeric_limits<float>::quiet_NaN());
  std::vector<float> start(out.size());
  fill(start);
  if (c.accumulate)
    for (int i = 0; i < c.rows; ++i)
      for (int j = 0; j < c.cols; ++j) out[static_cast<size_t>(i * ldc + j)] = start[static_cast<size_t>(i * ldc + j)];
  cpu::TileArgs args;
  args.a_packed = kernel.indirect ? nullptr : a.data();
  args.a_rows = !kernel.indirect ? nullptr : c.pitched ? tap_rows.data() : row_pointers.data();
  args.a_pitch = c.pitched ? pitch : 0;
  args.taps = kernel.indirect ? c.taps : 1;
  args.k_per_tap = kernel.indirect ? c.k_per_tap : k;
  args.b = b.data();
  args.b_stride = nr + 3;
  args.c = out.data();
  args.c_row_stride = ldc;
  args.rows = c.rows;
  args.cols = c.cols;
  args.row_bias = c.row_bias ? row_bias.data() : nullptr;
  args.col_bias = c.col_bias ? col_bias.data() : nullptr;
  args.accumulate = c.accumulate;
  kernel.run(args);
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < ldc; ++j) {
      const float got = out[static_cast<size_t>(i * ldc + j)];
      if (i >= c.rows || j >= c.cols) {
        ASSERT_TRUE(std::isnan(got)) << to_string(kernel.isa) << " " << kernel.tile() << " wrote outside the tile at " << i << "," << j;
        continue;
      }
      double expected = c.accumulate ? double{start[static_cast<size_t>(i * ldc + j)]}
                                     : (c.row_bias ? row_bias[i] : 0.0) + (c.col_bias ? col_bias[j] : 0.0);
      for (int64_t q = 0; q < k; ++q)
        expected += double{a[static_cast<size_t>(q * mr + i)]} * b[static_cast<size_t>(q * (nr + 3) + j)];
      ASSERT_NEAR(got, expected, 1e-5 * (1.0 + static_cast<double>(k))) << to_string(kernel.isa) << " " << kernel.tile() << " at " << i << "," << j;
    }
}

TEST(MicroKernels, EveryKernelOfEveryIsaMatchesNaiveGemm) {
  std::mt19937 rng(kSeed);
  for (cpu::Isa isa : cpu::supported_isas()) {
    // Every dense tile, and the widths grouped_gemm adds to them.
    const std::span<const cpu::TileKernel> kernels = cpu::isa_kernels(isa).grouped_gemm_tiles;
    ASSERT_FALSE(kernels.empty()) << to_string(isa);
    for (const cpu::TileKernel& kernel : kernels) {
      SCOPED_TRACE(std::string(to_string(isa)) + " " + kernel.tile());
      for (const KernelCase& c : {KernelCase{kernel.mr, kernel.nr, 1, 1, false, false},
                                  KernelCase{kernel.mr, kernel.nr, 3, 17, true, false},
                                  KernelCase{1, kernel.nr, 2, 5, false, true},
                                  KernelCase{kernel.mr - 1, 1, 9, 3, true, true},
                                  KernelCase{kernel.mr / 2 + 1, kernel.nr - 3, 1, 64, false, true},
                                  KernelCase{kernel.mr, kernel.nr, 2, 7, false, false, true},
                                  KernelCase{kernel.mr - 1, kernel.nr - 5, 1, 9, true, true, true}})
        check_kernel(kernel, c, rng);
      if (kernel.indirect)
        for (const KernelCase& c : {KernelCase{kernel.mr, kernel.nr, 3, 15, true, false, false, true},
                                    KernelCase{kernel.mr / 2 + 1, kernel.nr - 3, 2, 5, false, true, false, true},
                                    KernelCase{1, kernel.nr, 1, 80, true, true, false, true},
                                    KernelCase{3 * kernel.mr, kernel.nr, 1, 15, false, true, false, true},
                                    KernelCase{2 * kernel.mr + 3, kernel.nr - 1, 2, 6, true, true, false, true}})
          check_kernel(kernel, c, rng);
    }
  }
}

// --- The GEMM convolution on randomized specs ---

// A random forward problem with channel counts large enough to reach full tiles, several weight
// panels and the indirect (Cin/g >= 16) channels_last path, and images large enough for several tiles.
testing::Problem random_gemm_problem(std::mt19937& rng) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  testing::ProblemOptions options;
  options.allow_transposed = false;
  options.max_spatial = 12;
  testing::Problem p = testing::random_problem(rng, options);
  ConvSpec& s = p.spec;
  const Shape spatial = input_spatial_of(s, p.input_shape);
  const bool depthwise = s.groups == s.in_channels && s.groups > 1;
  if (!depthwise && pick(0, 1)) {
    s.in_channels = s.groups * pick(1, 40 / s.groups);
    s.out_channels = s.groups * pick(1, 70 / s.groups);
  }
  p.input_shape = make_activation_shape(s, p.input_shape[0], s.in_channels, spatial);
  return p;
}

TEST(GemmConvolution, MatchesReferenceExactlyOnIntegerData) {
  std::mt19937 rng(kSeed);
  for (int trial = 0; trial < 400; ++trial) {
    const testing::Problem problem = random_gemm_problem(rng);
    const testing::ProblemData data = testing::random_data(problem, rng, /*integers=*/true);
    const Tensor expected = reference::convolution(problem.spec, data.input, data.weight, data.bias_view());
    ASSERT_TRUE(testing::matches_on_every_isa<cpu::GemmConvolution>(problem, data, expected, 0.0)) << "trial " << trial;
  }
}

TEST(GemmConvolution, MatchesReferenceOnRealData) {
  std::mt19937 rng(kSeed + 1);
  for (int trial = 0; trial < 150; ++trial) {
    const testing::Problem problem = random_gemm_problem(rng);
    const testing::ProblemData data = testing::random_data(problem, rng);
    const Tensor expected = reference::convolution(problem.spec, data.input, data.weight, data.bias_view());
    // Each output is a sum of at most K = taps * Cin/g products of values in [-1, 1): float rounding
    // stays below K * 2^-24 * (sum of |terms|) <= K^2 * 6e-8.
    const double k = static_cast<double>(data.weight.numel() / problem.spec.out_channels);
    ASSERT_TRUE(testing::matches_on_every_isa<cpu::GemmConvolution>(problem, data, expected, 1e-6 + k * k * 6e-8))
        << "trial " << trial;
  }
}

// The layer shapes of the benchmark suite's dense layers, scaled down: full tiles, many panels,
// the 1x1 path that reads the input in place, batch > 1, and stride-2 rows wide enough for the
// packing's even-lane vectors and their tails.
TEST(GemmConvolution, MatchesReferenceOnLayerShapes) {
  std::mt19937 rng(kSeed + 2);
  struct Layer {
    int rank;
    int64_t cin, cout, kernel, stride, pad, dilation, groups, spatial, batch;
  };
  for (const Layer& l : {Layer{2, 64, 64, 3, 1, 1, 1, 1, 20, 1}, Layer{2, 64, 256, 1, 1, 0, 1, 1, 17, 1},
                         Layer{2, 3, 64, 7, 2, 3, 1, 1, 33, 1}, Layer{2, 128, 128, 3, 2, 1, 1, 1, 15, 2},
                         Layer{2, 32, 32, 3, 1, 6, 6, 1, 16, 1}, Layer{1, 30, 10, 5, 1, 0, 1, 1, 64, 3},
                         Layer{1, 1, 32, 80, 4, 0, 1, 1, 400, 1}, Layer{3, 16, 32, 3, 1, 1, 1, 1, 6, 1},
                         Layer{2, 64, 64, 3, 1, 1, 1, 32, 12, 1}, Layer{2, 48, 48, 1, 1, 0, 1, 3, 14, 2},
                         Layer{2, 3, 16, 7, 2, 3, 1, 1, 101, 1}, Layer{1, 4, 8, 5, 2, 1, 1, 1, 333, 2},
                         Layer{1, 3, 64, 5, 1, 0, 1, 1, 40, 5}, Layer{1, 20, 100, 5, 1, 0, 1, 1, 30, 1},
                         Layer{2, 16, 96, 3, 1, 1, 1, 1, 9, 1}, Layer{3, 3, 64, 3, 2, 1, 2, 1, 7, 2}})
    for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
      testing::Problem p;
      p.spec = {.rank = l.rank, .in_channels = l.cin, .out_channels = l.cout, .kernel = {l.kernel},
                .stride = {l.stride}, .dilation = {l.dilation}, .padding = Padding::symmetric({l.pad}),
                .groups = l.groups, .bias = true, .layout = layout};
      p.input_shape = make_activation_shape(p.spec, l.batch, l.cin, Shape(static_cast<size_t>(l.rank), l.spatial));
      const testing::ProblemData data = testing::random_data(p, rng, /*integers=*/true);
      const Tensor expected = reference::convolution(p.spec, data.input, data.weight, data.bias_view());
      ASSERT_TRUE(testing::matches_on_every_isa<cpu::GemmConvolution>(p, data, expected, 0.0, 2, 1));
    }
}

// A random channels_last problem whose tiles mostly read the input in place at a pitch: long rows (many
// interior tiles, besides the border tiles and those that cross rows or images), 1D kernels or 1x1 layers
// of every rank (sometimes 2D/3D kernels: one pointer per (D, H) tap), every stride, dilation, padding kind
// and mode, groups, flip, bias.
testing::Problem random_strided_rows_problem(std::mt19937& rng) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (;;) {
    testing::Problem p;
    ConvSpec& s = p.spec;
    s.rank = static_cast<int>(pick(0, 2) ? 1 : pick(2, 3));
    s.layout = Layout::channels_last;
    s.groups = pick(0, 3) ? 1 : pick(2, 3);
    s.in_channels = s.groups * pick(1, 12);
    s.out_channels = s.groups * pick(1, 40);
    s.bias = pick(0, 1) == 1;
    s.flip = pick(0, 3) == 0;
    s.padding_mode = static_cast<PaddingMode>(pick(0, 3));
    const int64_t max_kernel = s.rank == 1 || pick(0, 3) == 0 ? 9 : 1;
    Shape spatial;
    for (int a = 0; a < s.rank; ++a) {
      spatial.push_back(a == s.rank - 1 ? pick(1, 90) : pick(1, 4));
      s.kernel.push_back(pick(1, a == s.rank - 1 ? max_kernel : std::min<int64_t>(max_kernel, 3)));
      s.stride.push_back(pick(0, 1) ? 1 : pick(2, 4));
      s.dilation.push_back(pick(0, 3) == 0 ? pick(2, 5) : 1);
    }
    switch (pick(0, 3)) {
      case 0: s.padding = Padding::valid(); break;
      case 1: s.padding = Padding::same(); break;
      default:
        for (int a = 0; a < s.rank; ++a) {
          s.padding.begin.push_back(pick(0, 3));
          s.padding.end.push_back(pick(0, 3));
        }
    }
    p.input_shape = make_activation_shape(s, pick(1, 3), s.in_channels, spatial);
    try {
      resolve_geometry(s, spatial);
      return p;
    } catch (const Error&) {  // e.g. a kernel larger than the padded input: draw again
    }
  }
}

TEST(GemmConvolution, ReadsStridedRowsInPlace) {
  std::mt19937 rng(kSeed + 8);
  for (int trial = 0; trial < 200; ++trial) {
    const testing::Problem p = random_strided_rows_problem(rng);
    const testing::ProblemData data = testing::random_data(p, rng, /*integers=*/true);
    const Tensor expected = reference::convolution(p.spec, data.input, data.weight, data.bias_view());
    ASSERT_TRUE(testing::matches_on_every_isa<cpu::GemmConvolution>(p, data, expected, 0.0)) << "trial " << trial;
  }
}

// channels_first rows with 32+ channels per group and W stride 1 (1D, or 2D with one input row) read the
// input in place, one pass per W tap, where every tap's vectors stay inside the row, and a staged copy of the
// window elsewhere (padding cells filled in): random widths put tiles on both sides of that line, padding of
// every mode at either end, remainders of every size.
TEST(GemmConvolution, ShiftedRowReadsMatchTheReferenceExactly) {
  std::mt19937 rng(kSeed + 3);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  const PaddingMode modes[] = {PaddingMode::zeros, PaddingMode::reflect, PaddingMode::replicate, PaddingMode::circular};
  for (int trial = 0; trial < 60; ++trial) {
    testing::Problem p;
    const int rank = static_cast<int>(pick(1, 2));
    const int64_t groups = pick(1, 2), kernel = pick(2, 7), dilation = pick(1, 3);
    const int64_t width = pick(1, 260) + (kernel - 1) * dilation;
    const int64_t pad = pick(0, 1) ? pick(0, kernel - 1) : 0;
    const PaddingMode mode = pad > 0 ? modes[pick(0, 3)] : PaddingMode::zeros;
    std::vector<int64_t> kernel_size(static_cast<size_t>(rank), 1), spatial(static_cast<size_t>(rank), 1);
    kernel_size.back() = kernel;
    spatial.back() = std::max(width, mode == PaddingMode::reflect ? pad + 1 : 1);
    p.spec = {.rank = rank, .in_channels = groups * pick(32, 48), .out_channels = groups * pick(1, 40),
              .kernel = kernel_size, .dilation = {dilation}, .padding = Padding::symmetric({pad}),
              .padding_mode = mode, .groups = groups, .bias = pick(0, 1) == 1, .layout = Layout::channels_first};
    // 2D: one input row, and sometimes H padding, whose extra output rows read the padding only.
    if (rank == 2) p.spec.padding = Padding::explicit_pads({pick(0, 1) * pick(0, 1), pad}, {pick(0, 1) * pick(0, 1), pad});
    if (rank == 2 && mode == PaddingMode::reflect) p.spec.padding = Padding::explicit_pads({0, pad}, {0, pad});
    p.input_shape = make_activation_shape(p.spec, pick(1, 3), p.spec.in_channels, Shape(spatial.begin(), spatial.end()));
    const testing::ProblemData data = testing::random_data(p, rng, /*integers=*/true);
    const Tensor expected = reference::convolution(p.spec, data.input, data.weight, data.bias_view());
    ASSERT_TRUE(testing::matches_on_every_isa<cpu::GemmConvolution>(p, data, expected, 0.0)) << "trial " << trial;
  }
}

// channels_first through phase windows (src/cpu/phase_window.h): random forward specs made channels_first and
// strided, with rows wide enough that most take the windows (strides 2-4, dilation, every padding kind and mode,
// groups, depthwise, flip, batch 2, rank 1-3), exact on integer data, on every ISA, 1 and 2 threads.
TEST(GemmConvolution, PhaseWindowsMatchReferenceExactly) {
  std::mt19937 rng(kSeed + 3);
  testing::ProblemOptions options;
  options.allow_transposed = false;
  options.max_channels = 12;
  options.max_spatial = 40;
  int windowed = 0;
  for (int trial = 0; trial < 150; ++trial) {
    testing::Problem p = testing::random_problem(rng, options);
    const Shape spatial = input_spatial_of(p.spec, p.input_shape);
    p.spec.layout = Layout::channels_first;
    if (std::ranges::all_of(p.spec.stride, [](int64_t s) { return s == 1; })) p.spec.stride.back() = 2;  // windows: strided only
    p.input_shape = make_activation_shape(p.spec, p.input_shape[0], p.spec.in_channels, spatial);
    const ConvGeometry geometry = resolve_geometry(p.spec, spatial);
    windowed += !cpu::PhaseWindow(geometry, p.spec.padding_mode, {.run_length = p.spec.in_channels / p.spec.groups}, 96)
                     .empty();
    const testing::ProblemData data = testing::random_data(p, rng, /*integers=*/true);
    const Tensor expected = reference::convolution(p.spec, data.input, data.weight, data.bias_view());
    ASSERT_TRUE(testing::matches_on_every_isa<cpu::GemmConvolution>(p, data, expected, 0.0)) << "trial " << trial;
  }
  EXPECT_GE(windowed, 75);  // the rest pack per tile (rows too short for the dropped columns)
}

// Ties in padding go to the fewest operand loads per FMA: 1/MR + 2/NV channels_last (the weight panel is the
// vector operand), 1/MR + 1/NV channels_first, except 1x1 stride-1 layers (the input read in place), which keep
// the larger tile.
TEST(GemmConvolution, BreaksTileTiesByTheFewestLoadsPerFma) {
  auto tile = [](cpu::Isa isa, Layout layout, int64_t cout, int64_t kernel = 5) {
    const ConvSpec spec{.rank = 1, .in_channels = 3, .out_channels = cout, .kernel = {kernel}, .layout = layout};
    const Tensor weight(weight_shape(spec), 1.0f);
    return cpu::GemmConvolution(spec, weight.view(), nullptr, isa).kernel().tile();
  };
  for (cpu::Isa isa : cpu::supported_isas()) {
    SCOPED_TRACE(to_string(isa));
    if (isa == cpu::Isa::avx512) {
      EXPECT_EQ(tile(isa, Layout::channels_last, 64), "6x64-indirect");
      EXPECT_EQ(tile(isa, Layout::channels_last, 256), "6x64-indirect");
      EXPECT_EQ(tile(isa, Layout::channels_last, 96), "8x48-indirect");  // vector loads count twice
      EXPECT_EQ(tile(isa, Layout::channels_last, 24), "14x32-indirect");  // pads least
      EXPECT_EQ(tile(isa, Layout::channels_first, 64), "4x96");
      EXPECT_EQ(tile(isa, Layout::channels_first, 64, 1), "8x48");
    } else if (isa == cpu::Isa::avx2) {
      EXPECT_EQ(tile(isa, Layout::channels_last, 64), "6x16-indirect");
      EXPECT_EQ(tile(isa, Layout::channels_first, 64), "4x24");
    } else {
      EXPECT_EQ(tile(isa, Layout::channels_last, 64), "4x8-indirect");  // 2x16 needs as many loads
      EXPECT_EQ(tile(isa, Layout::channels_first, 64), "4x8");
    }
  }
}

// A channel shuffle fused into the read (ShuffleNet): equal to the convolution of channel_shuffle(input, G),
// exactly, for random specs whose channels per group split into G runs.
TEST(GemmConvolution, ReadsThroughAFusedChannelShuffle) {
  std::mt19937 rng(kSeed + 7);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int trial = 0; trial < 200; ++trial) {
    testing::Problem p = random_gemm_problem(rng);
    ConvSpec& s = p.spec;
    const Shape spatial = input_spatial_of(s, p.input_shape);
    const int64_t shuffle = pick(2, 4);
    s.groups = pick(1, 4);
    s.in_channels = s.groups * shuffle * pick(1, 4);
    s.out_channels = s.groups * pick(1, 9);
    p.input_shape = make_activation_shape(s, p.input_shape[0], s.in_channels, spatial);
    const testing::ProblemData data = testing::random_data(p, rng, /*integers=*/true);
    const Tensor shuffled = reference::channel_shuffle(data.input, shuffle, s.layout);
    const Tensor expected = reference::convolution(s, shuffled, data.weight, data.bias_view());
    ASSERT_EQ(cpu::GemmConvolution::cannot_shuffle(s, shuffle), "");
    for (cpu::Isa isa : cpu::supported_isas()) {
      const cpu::GemmConvolution gemm(s, data.weight.view(), data.bias.numel() ? data.bias.data() : nullptr, isa,
                                      shuffle);
      for (int threads : {1, 2}) {
        Tensor out(output_shape(s, p.input_shape), std::numeric_limits<float>::quiet_NaN());
        gemm.run(data.input.view(), out.data(), threads);
        ASSERT_EQ(testing::max_abs_difference(out, expected), 0.0)
            << "trial " << trial << " shuffle " << shuffle << " isa " << to_string(isa) << ": " << p.describe();
      }
    }
  }
}

TEST(GemmConvolution, RefusesShufflesThatSplitAGroupsChannels) {
  const ConvSpec spec{.rank = 2, .in_channels = 12, .out_channels = 6, .kernel = {1}, .groups = 3};
  EXPECT_NE(cpu::GemmConvolution::cannot_shuffle(spec, 3), "");  // 4 channels per group, 3 runs
  EXPECT_NE(cpu::GemmConvolution::cannot_shuffle(spec, 5), "");  // 5 does not divide 12
  EXPECT_EQ(cpu::GemmConvolution::cannot_shuffle(spec, 2), "");
  const Tensor weight(weight_shape(spec), 1.0f);
  EXPECT_THROW(cpu::GemmConvolution(spec, weight.view(), nullptr, cpu::Isa::portable, 3), Error);
}

// --- The public plan API ---

TEST(ConvPlan, RunsStridedViewsAndReportsItsAlgorithm) {
  std::mt19937 rng(kSeed + 3);
  const ConvSpec spec{.rank = 2, .in_channels = 16, .out_channels = 20, .kernel = {3}, .padding = Padding::same(),
                      .padding_mode = PaddingMode::reflect, .bias = true, .layout = Layout::channels_last};
  const Tensor weight = testing::random_tensor(weight_shape(spec), rng, true);
  const Tensor bias = testing::random_tensor(bias_shape(spec), rng, true);
  const ConvPlan plan(spec, weight, bias.view(), {.threads = 2});
  EXPECT_EQ(plan.algorithm().rfind("gemm.", 0), 0u) << plan.algorithm();
  EXPECT_NE(plan.algorithm().find("-indirect"), std::string::npos) << plan.algorithm();
  EXPECT_NE(plan.explain().find("gemm: chosen"), std::string::npos) << plan.explain();
  EXPECT_GT(plan.packed_bytes(), 0u);

  // A flipped (negative-stride) view of a bigger input, into a transposed view of the output.
  const Tensor base = testing::random_tensor({2, 9, 11, 16}, rng, true);
  const ConstTensorView input = base.view().flipped(1);
  const Tensor expected = reference::convolution(spec, input, weight, bias.view());
  Tensor storage(Shape{2, 20, 11, 9}, std::numeric_limits<float>::quiet_NaN());  // (N, C, W, H)
  const std::array<int, 4> to_nhwc{0, 3, 2, 1};
  const TensorView output = storage.view().permuted(to_nhwc);
  plan.run(input, output);
  EXPECT_EQ(testing::max_abs_difference(output, expected), 0.0);
  EXPECT_EQ(testing::max_abs_difference(plan.run(input), expected), 0.0);
}

TEST(ConvPlan, TransposedUsesThePhaseDecompositionAndSaysWhy) {
  std::mt19937 rng(kSeed + 4);
  const ConvSpec spec{.rank = 1, .in_channels = 2, .out_channels = 3, .kernel = {4}, .stride = {2},
                      .transposed = true};
  const Tensor weight = testing::random_tensor(weight_shape(spec), rng);
  const ConvPlan plan(spec, weight);
  EXPECT_EQ(plan.algorithm().rfind("transposed.", 0), 0u) << plan.algorithm();
  EXPECT_NE(plan.explain().find("gemm: declined: transposed"), std::string::npos) << plan.explain();
  const Tensor x = testing::random_tensor({1, 2, 5}, rng);
  const Tensor expected = reference::convolution(spec, x, weight);
  EXPECT_LE(testing::max_abs_difference(plan.run(x), expected), 1e-6);
  const ConvPlan forced(spec, weight, std::nullopt, {.algorithm = "reference"});
  EXPECT_EQ(testing::max_abs_difference(forced.run(x), expected), 0.0);
}

TEST(ConvPlan, ErrorsNameTheArgument) {
  const ConvSpec spec{.rank = 2, .in_channels = 4, .out_channels = 8, .kernel = {3}};
  const Tensor weight(weight_shape(spec));
  auto message = [&](auto&& action) {
    try {
      action();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { ConvPlan(spec, weight, std::nullopt, {.algorithm = "magic"}); }).find("algorithm=magic"),
            std::string::npos);
  EXPECT_NE(message([&] { ConvPlan(spec, weight, std::nullopt, {.threads = -1}); }).find("threads=-1"),
            std::string::npos);
  ConvSpec transposed = spec;
  transposed.transposed = true;
  transposed.in_channels = 8;
  transposed.out_channels = 4;
  EXPECT_NE(message([&] { ConvPlan(transposed, weight, std::nullopt, {.algorithm = "gemm"}); }).find("cannot compute"),
            std::string::npos);
  EXPECT_NE(message([&] { ConvPlan(spec, Tensor({8, 3, 3, 3})); }).find("weight"), std::string::npos);
  const ConvPlan plan(spec, weight);
  Tensor wrong({1, 8, 6, 6});
  EXPECT_NE(message([&] { plan.run(Tensor({1, 4, 7, 7}), wrong.view()); }).find("does not match"), std::string::npos);
  EXPECT_NE(message([&] { plan.run(Tensor({1, 3, 7, 7})); }).find("channels"), std::string::npos);
  EXPECT_NE(message([] { set_num_threads(-2); }).find("threads=-2"), std::string::npos);
}

}  // namespace
}  // namespace convkit
