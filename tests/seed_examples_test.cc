// The seeds' worked examples (../shared/seeds), exactly: PyTorch nn.Conv1d on x = [1..6] and the
// TensorFlow padding='SAME' examples on ones.
#include <gtest/gtest.h>

#include "test_support.h"

namespace convkit {
namespace {

std::vector<float> run_conv1d(std::vector<float> x, int64_t kernel, int64_t padding = 0, int64_t stride = 1,
                              int64_t dilation = 1) {
  const ConvSpec spec{.rank = 1, .kernel = {kernel}, .stride = {stride}, .dilation = {dilation},
                      .padding = Padding::symmetric({padding})};
  const auto width = static_cast<int64_t>(x.size());
  return reference::convolution(spec, Tensor({1, 1, width}, std::move(x)), Tensor({1, 1, kernel}, 2.0f)).values();
}

const std::vector<float> kOneToSix{1, 2, 3, 4, 5, 6};

TEST(SeedExamples, PyTorchConv1dKernelSizes) {
  EXPECT_EQ(run_conv1d(kOneToSix, 1), (std::vector<float>{2, 4, 6, 8, 10, 12}));
  EXPECT_EQ(run_conv1d(kOneToSix, 2), (std::vector<float>{6, 10, 14, 18, 22}));
  EXPECT_EQ(run_conv1d(kOneToSix, 3), (std::vector<float>{12, 18, 24, 30}));
}

TEST(SeedExamples, PyTorchConv1dPaddingStrideDilation) {
  EXPECT_EQ(run_conv1d(kOneToSix, 3, 1), (std::vector<float>{6, 12, 18, 24, 30, 22}));
  EXPECT_EQ(run_conv1d(kOneToSix, 5, 2), (std::vector<float>{12, 20, 30, 40, 36, 30}));
  EXPECT_EQ(run_conv1d(kOneToSix, 3, 0, 3), (std::vector<float>{12, 30}));
  EXPECT_EQ(run_conv1d(kOneToSix, 3, 0, 1, 2), (std::vector<float>{18, 24}));
}

// Two channels [1..6] and [10..60].
Tensor two_channels() {
  return Tensor({1, 2, 6}, {1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60});
}

TEST(SeedExamples, PyTorchConv1dGroups) {
  const ConvSpec spec{.rank = 1, .in_channels = 2, .out_channels = 2, .kernel = {1}, .groups = 2};
  const Tensor y = reference::convolution(spec, two_channels(), Tensor({2, 1, 1}, {2, 4}));
  EXPECT_EQ(y.values(), (std::vector<float>{2, 4, 6, 8, 10, 12, 40, 80, 120, 160, 200, 240}));
}

TEST(SeedExamples, PyTorchConv1dDepthwiseMultiplier) {
  // groups = in_channels = 2, four outputs: output channel c*2 + j sees input channel c.
  const ConvSpec spec{.rank = 1, .in_channels = 2, .out_channels = 4, .kernel = {1}, .groups = 2};
  const Tensor y = reference::convolution(spec, two_channels(), Tensor({4, 1, 1}, {2, 4, 6, 8}));
  EXPECT_EQ(y.values(), (std::vector<float>{2,  4,   6,   8,   10,  12,  4,   8,   12,  16,  20,  24,
                                            60, 120, 180, 240, 300, 360, 80, 160, 240, 320, 400, 480}));
}

ConvSpec tf_same(int rank, int64_t in_channels = 1, int64_t out_channels = 1) {
  return {.rank = rank, .in_channels = in_channels, .out_channels = out_channels, .kernel = {3},
          .padding = Padding::same(), .layout = Layout::channels_last};
}

TEST(SeedExamples, TensorFlowSame1d) {
  const Tensor y = reference::convolution(tf_same(1), Tensor({1, 5, 1}, 1.0f), Tensor({3, 1, 1}, 1.0f));
  EXPECT_EQ(y.values(), (std::vector<float>{2, 3, 3, 3, 2}));
}

TEST(SeedExamples, TensorFlowSame2d) {
  const Tensor y = reference::convolution(tf_same(2), Tensor({1, 5, 5, 1}, 1.0f), Tensor({3, 3, 1, 1}, 1.0f));
  const std::vector<float> expected{4, 6, 6, 6, 4,  //
                                    6, 9, 9, 9, 6,  //
                                    6, 9, 9, 9, 6,  //
                                    6, 9, 9, 9, 6,  //
                                    4, 6, 6, 6, 4};
  EXPECT_EQ(y.values(), expected);
}

TEST(SeedExamples, TensorFlowSame3d) {
  const Tensor y = reference::convolution(tf_same(3), Tensor({1, 5, 5, 5, 1}, 1.0f), Tensor({3, 3, 3, 1, 1}, 1.0f));
  ASSERT_EQ(y.shape(), (Shape{1, 5, 5, 5, 1}));
  // Each output counts the cells of its 3x3x3 window inside the volume: the product of the
  // per-axis counts, 2 at a border and 3 inside (corners 8, edges 12, faces 18, interior 27).
  for (int64_t d = 0; d < 5; ++d)
    for (int64_t h = 0; h < 5; ++h)
      for (int64_t w = 0; w < 5; ++w) {
        auto count = [](int64_t i) { return (i == 0 || i == 4) ? 2.0f : 3.0f; };
        EXPECT_EQ(y.at({0, d, h, w, 0}), count(d) * count(h) * count(w)) << d << "," << h << "," << w;
      }
}

TEST(SeedExamples, TensorFlowSameMultiChannel) {
  // The seed's 5x5x32 input with 3x3x32x64 filters: every output of ones * ones is the number of
  // in-range taps times 32 channels.
  const Tensor y =
      reference::convolution(tf_same(2, 32, 64), Tensor({1, 5, 5, 32}, 1.0f), Tensor({3, 3, 32, 64}, 1.0f));
  ASSERT_EQ(y.shape(), (Shape{1, 5, 5, 64}));
  for (int64_t o = 0; o < 64; ++o) {
    EXPECT_EQ(y.at({0, 0, 0, o}), 4.0f * 32);
    EXPECT_EQ(y.at({0, 0, 2, o}), 6.0f * 32);
    EXPECT_EQ(y.at({0, 2, 2, o}), 9.0f * 32);
  }
}

TEST(SeedExamples, SignalProcessingConvolutionIsFlippedCorrelation) {
  // Seed 002: deep-learning "convolution" is cross-correlation; the true convolution reverses g.
  const ConvSpec correlation{.rank = 1, .kernel = {3}};
  ConvSpec convolution = correlation;
  convolution.flip = true;
  const Tensor x({1, 1, 6}, kOneToSix);
  EXPECT_EQ(reference::convolution(correlation, x, Tensor({1, 1, 3}, {1, 2, 3})).values(),
            (std::vector<float>{14, 20, 26, 32}));
  EXPECT_EQ(reference::convolution(convolution, x, Tensor({1, 1, 3}, {1, 2, 3})).values(),
            (std::vector<float>{10, 16, 22, 28}));
}

TEST(SeedExamples, TransposedConvolutionUpsamples) {
  // A 2x2 input through a stride-2 2x2 transposed convolution of ones: each input cell becomes a
  // 2x2 block (U-Net's up-convolution).
  const ConvSpec spec{.rank = 2, .kernel = {2}, .stride = {2}, .transposed = true};
  const Tensor y = reference::convolution(spec, Tensor({1, 1, 2, 2}, {1, 2, 3, 4}), Tensor({1, 1, 2, 2}, 1.0f));
  EXPECT_EQ(y.values(), (std::vector<float>{1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4}));
}

}  // namespace
}  // namespace convkit
