#include <gtest/gtest.h>

#include "test_support.h"

namespace convkit {
namespace {

TEST(Tensor, ContiguousStridesAndIndexing) {
  EXPECT_EQ(contiguous_strides(Shape{2, 3, 4}), (Shape{12, 4, 1}));
  Tensor t({2, 3}, {0, 1, 2, 3, 4, 5});
  EXPECT_EQ(t.at({1, 2}), 5.0f);
  t.at({0, 1}) = 9.0f;
  EXPECT_EQ(t[1], 9.0f);
  EXPECT_EQ(element_count(Shape{}), 1);
  EXPECT_EQ(to_string(t.shape()), "[2, 3]");
}

TEST(Tensor, PermutedAndFlippedViews) {
  const Tensor t({2, 3}, {0, 1, 2, 3, 4, 5});
  const std::vector<int> axes{1, 0};
  const Tensor transposed = Tensor::copy_of(t.view().permuted(axes));
  EXPECT_EQ(transposed.shape(), (Shape{3, 2}));
  EXPECT_EQ(transposed.values(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_EQ(Tensor::copy_of(t.view().flipped(1)).values(), (std::vector<float>{2, 1, 0, 5, 4, 3}));
  EXPECT_EQ(Tensor::copy_of(t.view().flipped(0)).values(), (std::vector<float>{3, 4, 5, 0, 1, 2}));
  EXPECT_THROW(t.view().permuted(std::vector<int>{0, 0}), Error);
  EXPECT_THROW(t.view().flipped(2), Error);
}

TEST(Tensor, NextIndexWalksRowMajor) {
  Shape index{0, 0};
  std::vector<Shape> seen{index};
  while (next_index(index, Shape{2, 2})) seen.push_back(index);
  EXPECT_EQ(seen, (std::vector<Shape>{{0, 0}, {0, 1}, {1, 0}, {1, 1}}));
}

}  // namespace
}  // namespace convkit
