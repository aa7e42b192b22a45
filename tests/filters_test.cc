// Named filter kernels against their published definitions, and filters::apply (depthwise, magnitude,
// options) against hand-computed results.
#include "convkit/filters.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>

#include "test_support.h"

namespace convkit {
namespace {

using testing::max_abs_difference;

std::vector<float> values(const Tensor& t) { return t.values(); }

double sum(const Tensor& t) { return std::accumulate(t.values().begin(), t.values().end(), 0.0); }

TEST(FilterKernels, TwoDimensionalTextbookValues) {
  EXPECT_EQ(filters::identity(2).shape(), (Shape{1, 1}));
  EXPECT_EQ(values(filters::laplacian(2)), (std::vector<float>{0, 1, 0, 1, -4, 1, 0, 1, 0}));
  EXPECT_EQ(values(filters::edge(2)), (std::vector<float>{-1, -1, -1, -1, 8, -1, -1, -1, -1}));
  EXPECT_EQ(values(filters::sharpen(2)), (std::vector<float>{0, -1, 0, -1, 5, -1, 0, -1, 0}));
  EXPECT_EQ(values(filters::sobel(2, 1)), (std::vector<float>{-1, 0, 1, -2, 0, 2, -1, 0, 1}));  // sobel-x
  EXPECT_EQ(values(filters::sobel(2, 0)), (std::vector<float>{-1, -2, -1, 0, 0, 0, 1, 2, 1}));  // sobel-y
  EXPECT_EQ(values(filters::emboss(2)), (std::vector<float>{-2, -1, 0, -1, 1, 1, 0, 1, 2}));
}

TEST(FilterKernels, OneAndThreeDimensional) {
  EXPECT_EQ(values(filters::laplacian(1)), (std::vector<float>{1, -2, 1}));
  EXPECT_EQ(values(filters::sharpen(1)), (std::vector<float>{-1, 3, -1}));
  EXPECT_EQ(values(filters::sobel(1, 0)), (std::vector<float>{-1, 0, 1}));
  const Tensor lap3 = filters::laplacian(3);
  EXPECT_EQ(lap3.shape(), (Shape{3, 3, 3}));
  EXPECT_EQ(lap3.at({1, 1, 1}), -6.0f);
  EXPECT_EQ(lap3.at({0, 1, 1}), 1.0f);
  EXPECT_EQ(lap3.at({0, 0, 1}), 0.0f);
  EXPECT_EQ(filters::edge(3).at({1, 1, 1}), 26.0f);
  // scipy.ndimage.sobel(axis=-1) on a volume: [-1, 0, 1] along W times [1, 2, 1] along D and H.
  const Tensor sx = filters::sobel(3, 2);
  EXPECT_EQ(sx.at({1, 1, 2}), 4.0f);
  EXPECT_EQ(sx.at({0, 0, 0}), -1.0f);
  EXPECT_EQ(sx.at({2, 1, 0}), -2.0f);
  EXPECT_EQ(filters::emboss(3).at({2, 2, 2}), 3.0f);
  for (int rank = 1; rank <= 3; ++rank) {
    EXPECT_EQ(sum(filters::laplacian(rank)), 0.0) << rank;
    EXPECT_EQ(sum(filters::edge(rank)), 0.0) << rank;
    EXPECT_EQ(sum(filters::sharpen(rank)), 1.0) << rank;
    for (int axis = 0; axis < rank; ++axis) EXPECT_EQ(sum(filters::sobel(rank, axis)), 0.0) << rank;
  }
  EXPECT_THROW(filters::emboss(1), Error);
  EXPECT_THROW(filters::sobel(2, 2), Error);
  EXPECT_THROW(filters::laplacian(4), Error);
}

TEST(FilterKernels, BoxIsANormalisedMean) {
  const Tensor b = filters::box(2, 3);
  EXPECT_EQ(b.shape(), (Shape{3, 3}));
  for (float v : b.values()) EXPECT_FLOAT_EQ(v, 1.0f / 9.0f);
  EXPECT_NEAR(sum(filters::box(3, 4)), 1.0, 1e-6);
  EXPECT_THROW(filters::box(1, 0), Error);
  EXPECT_THROW(filters::box(1, 256), Error);
}

TEST(FilterKernels, GaussianMatchesOpenCV) {
  // sigma <= 0 and odd size <= 7: OpenCV's fixed table, e.g. [1, 4, 6, 4, 1] / 16.
  const Tensor g5 = filters::gaussian(1, 5, 0);
  EXPECT_EQ(values(g5), (std::vector<float>{0.0625f, 0.25f, 0.375f, 0.25f, 0.0625f}));
  // Otherwise exp(-x^2 / (2 sigma^2)) normalised; sigma = 1 gives taps proportional to e^-2, e^-0.5, 1.
  const Tensor g = filters::gaussian(1, 5, 1.0);
  const double norm = 1 + 2 * std::exp(-0.5) + 2 * std::exp(-2.0);
  EXPECT_NEAR(g[0], std::exp(-2.0) / norm, 1e-7);
  EXPECT_NEAR(g[1], std::exp(-0.5) / norm, 1e-7);
  EXPECT_NEAR(g[2], 1 / norm, 1e-7);
  // Default sigma for size 9: 0.3 * ((9 - 1) * 0.5 - 1) + 0.8 = 1.7.
  const Tensor g9 = filters::gaussian(1, 9, 0), g9s = filters::gaussian(1, 9, 1.7);
  EXPECT_LT(max_abs_difference(g9, g9s), 1e-7);
  // 2D and 3D are outer products; every Gaussian sums to 1 and is symmetric.
  const Tensor g2 = filters::gaussian(2, 5, 1.0);
  EXPECT_NEAR(g2.at({1, 3}), g[1] * g[3], 1e-7);
  for (int rank = 1; rank <= 3; ++rank) {
    const Tensor k = filters::gaussian(rank, 6, 1.3);
    EXPECT_NEAR(sum(k), 1.0, 1e-5) << rank;
    for (int64_t i = 0; i < k.numel(); ++i) EXPECT_FLOAT_EQ(k[i], k[k.numel() - 1 - i]);
  }
  EXPECT_THROW(filters::gaussian(2, 5, NAN), Error);
}

TEST(NamedFilters, ParametersDefaultsAndErrors) {
  EXPECT_EQ(filters::named("box", 2).kernels[0].shape(), (Shape{3, 3}));
  EXPECT_EQ(filters::named("box:5", 1).kernels[0].shape(), (Shape{5}));
  EXPECT_EQ(filters::named("gaussian", 2).kernels[0].shape(), (Shape{5, 5}));
  EXPECT_LT(max_abs_difference(filters::named("gaussian:7,2.5", 3).kernels[0], filters::gaussian(3, 7, 2.5)), 1e-9);
  EXPECT_EQ(filters::named("smooth:9", 1).kernels[0].shape(), (Shape{9}));
  const filters::Filter sobel = filters::named("sobel", 3);
  EXPECT_TRUE(sobel.magnitude);
  EXPECT_EQ(sobel.kernels.size(), 3u);
  EXPECT_EQ(filters::named("sobel-z", 3).kernels[0].at({2, 1, 1}), 4.0f);
  EXPECT_EQ(filters::named("gaussian:5,1.5", 2).name, "gaussian:5,1.5");

  auto message = [](const char* text, int rank) {
    try {
      filters::named(text, rank);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("blur", 2).find("unknown filter 'blur'"), std::string::npos);
  EXPECT_NE(message("box:3,4", 2).find("at most 1"), std::string::npos);
  EXPECT_NE(message("box:2.5", 2).find("must be an integer"), std::string::npos);
  EXPECT_NE(message("box:x", 2).find("'x' is not a number"), std::string::npos);
  EXPECT_NE(message("smooth", 2).find("not defined for 2D"), std::string::npos);
  EXPECT_NE(message("sobel-y", 1).find("not defined for 1D"), std::string::npos);
  EXPECT_NE(message("smooth:0", 1).find("size=0"), std::string::npos);
}

TEST(NamedFilters, CustomKernelsAreLifted) {
  const Tensor row({3}, std::vector<float>{1, 2, 1});
  EXPECT_EQ(filters::custom("row", row, 2).kernels[0].shape(), (Shape{1, 3}));
  EXPECT_EQ(filters::custom("row", row, 3).kernels[0].shape(), (Shape{1, 1, 3}));
  EXPECT_THROW(filters::custom("cube", Tensor({2, 2, 2}, 1.0f), 2), Error);
  EXPECT_THROW(filters::custom("empty", Tensor(Shape{0}), 1), Error);
}

TEST(ApplyFilter, BoxSumsWithZeroPadding) {
  filters::Options zeros;
  zeros.padding_mode = PaddingMode::zeros;
  const Tensor y = filters::apply(filters::named("box", 2), Tensor({1, 4, 4}, 9.0f), zeros);
  ASSERT_EQ(y.shape(), (Shape{1, 4, 4}));
  EXPECT_NEAR(y.at({0, 0, 0}), 4.0f, 1e-5);  // corner: 4 of 9 cells inside
  EXPECT_NEAR(y.at({0, 0, 1}), 6.0f, 1e-5);  // edge: 6 of 9
  EXPECT_NEAR(y.at({0, 1, 1}), 9.0f, 1e-5);
  // The default reflect border keeps a constant image constant.
  const Tensor r = filters::apply(filters::named("box", 2), Tensor({1, 4, 4}, 9.0f));
  for (float v : r.values()) EXPECT_NEAR(v, 9.0f, 1e-5);
}

// A reflect border wider than the data is the geometry's error, found before C copies of the kernel are
// made and packed (for a 248^3 kernel that took seconds: a filter_spec fuzz timeout under ASan, whose
// input is a regression seed in fuzz/corpus/filter_spec).
TEST(ApplyFilter, ABorderWiderThanTheDataIsAnErrorBeforeTheKernelIsCopied) {
  testing::expect_error([] { filters::apply(filters::named("gaussian:21", 3), Tensor({4, 9, 9, 9}, 1.0f)); },
                        {"reflect padding 10 on axis D must be smaller than the input size 9"});
}

TEST(ApplyFilter, EachChannelSeparately) {
  std::mt19937 rng(testing::kSeed);
  Tensor x = testing::random_tensor({2, 6, 7}, rng);
  for (int64_t i = 0; i < 42; ++i) x[42 + i] = 10.0f * x[i];  // channel 1 = 10 * channel 0
  const Tensor y = filters::apply(filters::named("sharpen", 2), x);
  ASSERT_EQ(y.shape(), (Shape{2, 6, 7}));
  for (int64_t i = 0; i < 42; ++i) EXPECT_NEAR(y[42 + i], 10.0f * y[i], 1e-4);
}

TEST(ApplyFilter, SobelIsTheGradientMagnitude) {
  std::mt19937 rng(testing::kSeed);
  const Tensor x = testing::random_tensor({1, 7, 8}, rng, true);
  const Tensor gx = filters::apply(filters::named("sobel-x", 2), x);
  const Tensor gy = filters::apply(filters::named("sobel-y", 2), x);
  const Tensor magnitude = filters::apply(filters::named("sobel", 2), x);
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_NEAR(magnitude[i], std::hypot(gx[i], gy[i]), 1e-4) << i;
  // A vertical step 0 -> 1: gx = 4 on the two columns beside it, gy = 0.
  Tensor step({1, 5, 6});
  for (int64_t y = 0; y < 5; ++y)
    for (int64_t c = 3; c < 6; ++c) step.at({0, y, c}) = 1.0f;
  const Tensor s = filters::apply(filters::named("sobel", 2), step);
  EXPECT_EQ(s.at({0, 2, 2}), 4.0f);
  EXPECT_EQ(s.at({0, 2, 3}), 4.0f);
  EXPECT_EQ(s.at({0, 2, 0}), 0.0f);
}

TEST(ApplyFilter, FlipStrideAndDilation) {
  std::mt19937 rng(testing::kSeed);
  const Tensor x = testing::random_tensor({3, 9}, rng, true);
  filters::Options flipped;
  flipped.flip = true;
  const Tensor a = filters::apply(filters::named("sobel-x", 1), x);
  const Tensor b = filters::apply(filters::named("sobel-x", 1), x, flipped);
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_EQ(a[i], -b[i]);  // [-1, 0, 1] reversed is its negative
  filters::Options strided;
  strided.stride = {2};
  EXPECT_EQ(filters::apply(filters::named("smooth:3", 1), x, strided).shape(), (Shape{3, 5}));  // ceil(9 / 2)
  filters::Options dilated;
  dilated.dilation = {2};
  dilated.padding = Padding::valid();
  const Tensor d = filters::apply(filters::custom("pick", Tensor({2}, std::vector<float>{0, 1}), 1), x, dilated);
  ASSERT_EQ(d.shape(), (Shape{3, 7}));
  EXPECT_EQ(d.at({1, 0}), x.at({1, 2}));
  EXPECT_THROW(filters::apply(filters::named("box", 2), Tensor({5})), Error);
}

}  // namespace
}  // namespace convkit
