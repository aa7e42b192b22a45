// Work and memory grow with the data, never with the stride, and no failure aborts (issue 17, item 2):
// strides far beyond the input through every algorithm that accepts them, against the reference, with
// bounded workspaces; exceptions thrown inside parallel regions reach the caller; allocation failures are
// convkit::Errors saying what needed how much memory.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <new>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "../src/cpu/aligned_buffer.h"
#include "../src/cpu/algorithm.h"
#include "../src/cpu/allocation.h"
#include "../src/cpu/depthwise_convolution.h"
#include "../src/cpu/driver_util.h"
#include "../src/core/private/parallel.h"
#include "convkit/convkit.h"
#include "algorithm_support.h"

namespace convkit {
namespace {

using testing::kSeed;

// A generous bound on the per-plan workspace of the small problems below (inputs of a few hundred
// floats); strides of 10^6 used to need terabytes of staging here.
constexpr std::size_t kWorkspaceBound = std::size_t{16} << 20;

std::string message_of(const std::function<void()>& run) {
  try {
    run();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no convkit::Error)";
}

TEST(ParallelFor, RunsEveryIterationOnceOnAnyThreadCount) {
  for (int threads : {1, 2, 3})
    for (cpu::Schedule schedule : {cpu::Schedule::guided, cpu::Schedule::dynamic}) {
      std::vector<std::atomic<int>> runs(1000);
      cpu::parallel_for(threads, 1000, schedule, [] { return 0; },
                        [&](int, int64_t i) { ++runs[static_cast<size_t>(i)]; });
      for (size_t i = 0; i < runs.size(); ++i) ASSERT_EQ(runs[i].load(), 1) << "iteration " << i << ", " << threads;
    }
}

TEST(ParallelFor, AnExceptionInAnIterationReachesTheCaller) {
  for (int threads : {1, 2, 4}) {
    EXPECT_EQ(message_of([&] {
                cpu::parallel_for(threads, 1000, [](int64_t i) {
                  if (i == 637) fail("iteration ", i, " failed");
                });
              }),
              "iteration 637 failed")
        << threads << " threads";
    EXPECT_THROW(cpu::parallel_for(threads, 100, [](int64_t i) {
                   if (i % 7 == 3) throw std::bad_alloc();
                 }),
                 std::bad_alloc);
  }
}

TEST(ParallelFor, AFailingPerThreadStateReachesTheCaller) {
  const auto make_state = []() -> std::vector<float> { throw std::bad_alloc(); };
  std::atomic<int> ran{0};
  const auto count = [&](std::vector<float>&, int64_t) { ++ran; };
  EXPECT_THROW(cpu::parallel_for(2, 100, cpu::Schedule::guided, make_state, count), std::bad_alloc);
  EXPECT_EQ(ran.load(), 0);
}

TEST(ParallelFor, AScratchBeyondTheAddressSpaceIsAnOutOfMemoryError) {
  const std::string message = message_of([] {
    cpu::parallel_for(2, 4, [](int64_t) {
      thread_local std::vector<float> buffer;
      cpu::scratch(buffer, int64_t{1} << 62);
    });
  });
  EXPECT_EQ(message, "out of memory: a per-thread workspace needs 18.4 EB");
}

TEST(Allocation, FailuresSayWhatNeededHowMuch) {
  EXPECT_EQ(cpu::format_bytes(512), "512 bytes");
  EXPECT_EQ(cpu::format_bytes(1536), "1.5 KB");
  EXPECT_EQ(cpu::format_bytes(12.3e9), "12.3 GB");
  EXPECT_EQ(message_of([] {
              cpu::allocating("the test buffer", 3'000'000'000, sizeof(float), []() -> int { throw std::bad_alloc(); });
            }),
            "out of memory: the test buffer needs 12.0 GB");
  volatile std::size_t floats = std::size_t{1} << 62;  // not a constant: GCC would warn about the size
  EXPECT_EQ(message_of([&] { cpu::AlignedBuffer buffer(floats); }),
            "out of memory: the packed weight buffer needs 18.4 EB");
  EXPECT_EQ(cpu::allocating("a small buffer", 3, sizeof(float), [] { return std::vector<float>(3); }).size(), 3u);
}

ConvSpec spec_2d(int64_t stride) {
  ConvSpec spec;
  spec.rank = 2;
  spec.in_channels = spec.out_channels = 1;
  spec.kernel = {3, 3};
  spec.stride = {stride, stride};
  return spec;
}

// The case: x (1,1,8,8), w (1,1,3,3): any stride beyond the input is one output cell, a 3x3 dot
// product, through the spatial algorithm the plan chooses.
TEST(HugeStride, OneOutputCellCostsOneCell) {
  std::mt19937 rng(kSeed);
  const Tensor x = testing::random_tensor({1, 1, 8, 8}, rng), w = testing::random_tensor({1, 1, 3, 3}, rng);
  for (int64_t stride : {int64_t{1000}, int64_t{10000}, int64_t{1} << 40}) {
    const ConvSpec spec = spec_2d(stride);
    const ConvPlan plan(spec, w.view());
    EXPECT_EQ(plan.algorithm().rfind("spatial.", 0), 0u) << plan.algorithm();
    EXPECT_LT(plan.workspace_bytes(x.shape()), kWorkspaceBound) << stride;
    const Tensor y = plan.run(x.view());
    ASSERT_EQ(y.shape(), (Shape{1, 1, 1, 1}));
    EXPECT_LT(testing::max_abs_difference(y, reference::convolution(spec, x, w)), 1e-5) << stride;
  }
}

// channels_last depthwise prefetched, per pass, every input row between two output rows: 2e10 of them at
// an H stride of 19999199998 (a conv_plan fuzz timeout); it now prefetches at most the kernel's rows.
TEST(HugeStride, ChannelsLastDepthwisePrefetchesAtMostTheKernelRows) {
  std::mt19937 rng(kSeed + 6);
  const ConvSpec spec{.rank = 2, .in_channels = 4, .out_channels = 4, .kernel = {6, 3},
                      .stride = {19'999'199'998, 1}, .padding = Padding::explicit_pads({2, 0}, {2, 1}), .groups = 4,
                      .layout = Layout::channels_last};
  const Tensor x = testing::random_tensor({1, 5, 9, 4}, rng, /*integers=*/true);
  const Tensor w = testing::random_tensor(weight_shape(spec), rng, /*integers=*/true);
  const ConvPlan plan(spec, w.view(), std::nullopt, {.algorithm = "depthwise"});
  EXPECT_EQ(testing::max_abs_difference(plan.run(x.view()), reference::convolution(spec, x, w)), 0.0);
}

// channels_first depthwise multiplied the H stride by the staged row length for the step between output
// rows (4e17 x 624: signed overflow, a conv_plan fuzz find) and walked the staged W phases to r + s * t
// (overflow for a W stride of 1e18); a single output row or column needs neither.
TEST(HugeStride, ChannelsFirstDepthwiseStridesDoNotOverflow) {
  std::mt19937 rng(kSeed + 7);
  const int64_t huge[] = {400'000'000'000'000'052, 1'000'000'000'000'000'000};
  for (const std::vector<int64_t>& stride : {std::vector<int64_t>{huge[0], huge[0]}, {1, huge[1]}, {huge[1], 2}}) {
    const ConvSpec spec{.rank = 2, .in_channels = 4, .out_channels = 4, .kernel = {3, 39}, .stride = stride,
                        .padding = Padding::same(), .groups = 4, .bias = true};
    const Tensor x = testing::random_tensor({1, 4, 5, 6}, rng, /*integers=*/true);
    const Tensor w = testing::random_tensor(weight_shape(spec), rng, /*integers=*/true);
    const Tensor b = testing::random_tensor({4}, rng, /*integers=*/true);
    const ConvPlan plan(spec, w.view(), b.view(), {.algorithm = "depthwise"});
    EXPECT_EQ(testing::max_abs_difference(plan.run(x.view()), reference::convolution(spec, x, w, b.view())), 0.0)
        << stride[0] << " " << stride[1];
  }
}

// The gradients of the layer: the adjoint of a stride-10^4 convolution is a transposed one with
// that stride over a 1x1 gradient, the weight gradient a correlation of the input with it.
TEST(HugeStride, BackwardPlansCostOneCell) {
  std::mt19937 rng(kSeed + 5);
  const Tensor x = testing::random_tensor({1, 1, 8, 8}, rng), w = testing::random_tensor({1, 1, 3, 3}, rng);
  const Tensor dy = testing::random_tensor({1, 1, 1, 1}, rng);
  const ConvSpec spec = spec_2d(10000);
  const Tensor dx = BackwardDataPlan(spec, w.view()).run(dy.view(), x.shape());
  EXPECT_LT(testing::max_abs_difference(dx, reference::convolution_backward_data(spec, x.shape(), w, dy)), 1e-6);
  const WeightGradients dw = BackwardWeightsPlan(spec).run(x.view(), dy.view());
  EXPECT_LT(testing::max_abs_difference(dw.weight, reference::convolution_backward_weights(spec, x, dy)), 1e-6);
}

// Transposed: the phases are those some tap reaches and some output lies in, not stride^rank of them.
TEST(HugeStride, TransposedPhasesFollowTheOutput) {
  std::mt19937 rng(kSeed + 1);
  for (int rank = 1; rank <= 3; ++rank) {
    ConvSpec spec;
    spec.rank = rank;
    spec.transposed = true;
    spec.in_channels = 2;
    spec.out_channels = 3;
    spec.bias = true;
    Shape spatial;
    for (int a = 0; a < rank; ++a) {
      spec.kernel.push_back(3);
      spec.stride.push_back(10'000'000);
      spatial.push_back(1);
    }
    for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
      spec.layout = layout;
      const Tensor x = testing::random_tensor(make_activation_shape(spec, 2, 2, spatial), rng);
      const Tensor w = testing::random_tensor(weight_shape(spec), rng), b = testing::random_tensor({3}, rng);
      const ConvPlan plan(spec, w.view(), b.view());
      EXPECT_LT(plan.workspace_bytes(x.shape()), kWorkspaceBound);
      EXPECT_LT(plan.packed_bytes(), kWorkspaceBound);
      const Tensor y = plan.run(x.view());
      EXPECT_EQ(y.shape(), make_activation_shape(spec, 2, 3, Shape(static_cast<size_t>(rank), 3)));
      EXPECT_LT(testing::max_abs_difference(y, reference::convolution(spec, x, w, b.view())), 1e-5)
          << describe(spec);
    }
  }
}

// A D dilation of 10^5 (with as much padding): the depthwise algorithm caches one band per kernel depth
// instead of one per padded depth the kernel spans.
TEST(HugeDilation, DepthwiseBandsFollowTheKernelDepth) {
  std::mt19937 rng(kSeed + 3);
  ConvSpec spec;
  spec.rank = 3;
  spec.in_channels = spec.out_channels = spec.groups = 2;
  spec.kernel = {3, 3, 3};
  spec.dilation = {100000, 1, 1};
  spec.padding = Padding::explicit_pads({100000, 1, 0}, {100001, 1, 2});
  for (int64_t stride_d : {1, 2}) {
    spec.stride = {stride_d, 1, 1};
    const Tensor x = testing::random_tensor({1, 2, 5, 6, 7}, rng, /*integers=*/true);
    const Tensor w = testing::random_tensor(weight_shape(spec), rng, /*integers=*/true);
    const ConvPlan plan(spec, w.view(), std::nullopt, {1, "depthwise"});
    EXPECT_LT(plan.workspace_bytes(x.shape()), kWorkspaceBound);
    EXPECT_EQ(testing::max_abs_difference(plan.run(x.view()), reference::convolution(spec, x, w)), 0.0) << stride_d;
  }
}

// Huge H and W dilations on a tiny image (a fuzz find: dilation 9212, same padding, 2x6 image, depthwise):
// channels_first depthwise would stage a band as large as the dilated window (2 GB), so it declines, and
// the plan's choice stays bounded and exact.
TEST(HugeDilation, ChannelsFirstDepthwiseDeclinesAWindowBeyondItsBand) {
  std::mt19937 rng(kSeed + 5);
  ConvSpec spec{.rank = 2, .in_channels = 4, .out_channels = 4, .kernel = {4, 3}, .dilation = {9212, 9212},
                .padding = Padding::same(), .groups = 4, .bias = true};
  EXPECT_NE(cpu::DepthwiseConvolution::cannot(spec).find("dilated kernel window of 27637 x 18425 cells"),
            std::string::npos) << cpu::DepthwiseConvolution::cannot(spec);
  // A window beyond int64 (fuzz: a dilation near 1e16 on both axes) is declined the same way: the
  // message holds the spans, not their product.
  ConvSpec beyond = spec;
  beyond.dilation = {4'000'000'000'000'000, 4'000'000'000'000'000};
  beyond.kernel = {2};
  EXPECT_NE(cpu::DepthwiseConvolution::cannot(beyond).find("4000000000000001 x 4000000000000001 cells"),
            std::string::npos) << cpu::DepthwiseConvolution::cannot(beyond);
  const Tensor x = testing::random_tensor({2, 4, 2, 6}, rng, /*integers=*/true);
  const Tensor w = testing::random_tensor(weight_shape(spec), rng, /*integers=*/true);
  const Tensor b = testing::random_tensor(bias_shape(spec), rng, /*integers=*/true);
  const ConvPlan plan(spec, w.view(), b.view());
  EXPECT_LT(plan.workspace_bytes(x.shape()), kWorkspaceBound) << plan.algorithm();
  EXPECT_EQ(testing::max_abs_difference(plan.run(x.view()), reference::convolution(spec, x, w, b.view())), 0.0);
  spec.layout = Layout::channels_last;  // stages by the output: keeps the spec
  EXPECT_EQ(cpu::DepthwiseConvolution::cannot(spec), "");
}

// A W dilation much larger than the output chunk: the spatial algorithm stages one segment per tap
// (the phase layout would hold (k - 1) * d / s cells between the taps); H rows by distinct offset.
TEST(HugeDilation, SpatialStagesOneSegmentPerTap) {
  std::mt19937 rng(kSeed + 6);
  for (const std::vector<int64_t>& case_ : std::vector<std::vector<int64_t>>{
           // kernel H, W, stride H, W, dilation H, W, padding H, W
           {3, 3, 1, 1, 7, 100000, 7, 100000},
           {2, 4, 3, 3, 100000, 50, 50000, 75},
           {1, 3, 1, 2, 1, 30, 0, 31}}) {
    for (Layout layout : {Layout::channels_first, Layout::channels_last}) {
      ConvSpec spec;
      spec.rank = 2;
      spec.layout = layout;
      spec.in_channels = 2;
      spec.out_channels = 3;
      spec.bias = true;
      spec.kernel = {case_[0], case_[1]};
      spec.stride = {case_[2], case_[3]};
      spec.dilation = {case_[4], case_[5]};
      spec.padding = Padding::symmetric({case_[6], case_[7]});
      const Shape spatial{9, 10};
      const Tensor x = testing::random_tensor(make_activation_shape(spec, 2, 2, spatial), rng, true);
      const Tensor w = testing::random_tensor(weight_shape(spec), rng, true), b = testing::random_tensor({3}, rng, true);
      const ConvPlan plan(spec, w.view(), b.view(), {2, "spatial"});
      EXPECT_LT(plan.workspace_bytes(x.shape()), kWorkspaceBound) << describe(spec);
      EXPECT_EQ(testing::max_abs_difference(plan.run(x.view()), reference::convolution(spec, x, w, b.view())), 0.0)
          << describe(spec);
    }
  }
}

// Dilations of 10^5 (with as much padding) over a 6x7 input: Winograd's polyphase planes are the phases
// that hold outputs (6 x 7), not dilation^2 of them; a 3D D dilation that large is declined.
TEST(HugeDilation, WinogradPlanesFollowTheOutput) {
  std::mt19937 rng(kSeed + 4);
  ConvSpec spec;
  spec.rank = 2;
  spec.in_channels = spec.out_channels = 4;
  spec.kernel = {3, 3};
  spec.dilation = {100000, 100000};
  spec.padding = Padding::symmetric({100000, 100000});
  const Tensor x = testing::random_tensor({1, 4, 6, 7}, rng), w = testing::random_tensor(weight_shape(spec), rng);
  const ConvPlan plan(spec, w.view(), std::nullopt, {2, "winograd"});
  EXPECT_LT(plan.workspace_bytes(x.shape()), kWorkspaceBound);
  EXPECT_LT(testing::max_abs_difference(plan.run(x.view()), reference::convolution(spec, x, w)), 1e-4);

  spec.rank = 3;
  spec.kernel = {3, 3, 3};
  spec.dilation = {100000, 1, 1};
  spec.padding = Padding::symmetric({100000, 1, 1});
  EXPECT_NE(message_of([&] { ConvPlan(spec, Tensor(weight_shape(spec)).view(), std::nullopt, {1, "winograd"}); })
                .find("D dilation 100000 > 8"),
            std::string::npos);
}

// A random problem whose strides go far beyond the input: forward on any axis (one output cell), transposed
// on the axes with one input cell (the others keep their small strides).
testing::Problem random_huge_stride_problem(std::mt19937& rng) {
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (;;) {
    testing::Problem p = testing::random_problem(rng);
    ConvSpec& s = p.spec;
    const Shape spatial = input_spatial_of(s, p.input_shape);
    // Transposed "same" makes outputs of input * stride cells: explicit and valid padding only.
    if (s.transposed && (s.padding.kind == PaddingKind::same || s.padding.kind == PaddingKind::same_lower)) continue;
    bool huge = false;
    for (int a = 0; a < s.rank; ++a) {
      const auto i = static_cast<size_t>(a);
      if ((s.transposed && spatial[i] != 1) || pick(0, 3) == 0) continue;
      s.stride[i] = pick(20, 1'000'000);  // padded inputs here are at most 16 cells
      huge = true;
    }
    if (!huge) continue;
    try {
      resolve_geometry(s, spatial);
      return p;
    } catch (const Error&) {
    }
  }
}

TEST(HugeStride, EveryAlgorithmMatchesTheReferenceWithABoundedWorkspace) {
  std::mt19937 rng(kSeed + 2);
  std::set<std::string> tested;
  for (int trial = 0; trial < 120; ++trial) {
    const testing::Problem problem = random_huge_stride_problem(rng);
    const testing::ProblemData data = testing::random_data(problem, rng, /*integers=*/true);
    const Tensor expected = reference::convolution(problem.spec, data.input, data.weight, data.bias_view());
    for (const cpu::AlgorithmEntry& entry : cpu::algorithms()) {
      if (!entry.cannot(problem.spec).empty()) continue;
      tested.insert(std::string(entry.name));
      Tensor first;
      for (int threads : {1, 2}) {
        const ConvPlan plan(problem.spec, data.weight.view(), data.bias_view(), {threads, std::string(entry.name)});
        EXPECT_LT(plan.workspace_bytes(problem.input_shape), kWorkspaceBound)
            << entry.name << ", trial " << trial << ": " << problem.describe();
        const Tensor y = plan.run(data.input.view());
        ASSERT_EQ(testing::max_abs_difference(y, expected), 0.0)
            << entry.name << ", " << threads << " threads, trial " << trial << ": " << problem.describe();
        if (threads == 1) first = y;
        else ASSERT_TRUE(testing::bit_identical(first, y)) << entry.name << ": " << problem.describe();
      }
    }
  }
  for (const char* name : {"depthwise", "grouped", "spatial", "grouped_gemm", "gemm", "transposed", "reference"})
    EXPECT_TRUE(tested.count(name)) << name << " never ran";
}

}  // namespace
}  // namespace convkit
