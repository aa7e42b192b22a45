// Kernel text and JSON parsing: shapes from layout or nesting, separators, comments, and errors.
#include "convkit/kernel_text.h"

#include <gtest/gtest.h>

#include "convkit/error.h"

namespace convkit {
namespace {

std::string error_of(std::string_view text) {
  try {
    kernel_text::parse(text, "k.txt");
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

TEST(KernelText, PlainTextLayoutGivesTheShape) {
  const Tensor row = kernel_text::parse("1 2 1\n");
  EXPECT_EQ(row.shape(), (Shape{3}));
  EXPECT_EQ(row.values(), (std::vector<float>{1, 2, 1}));
  EXPECT_EQ(kernel_text::parse("1, 2,1,").values(), (std::vector<float>{1, 2, 1}));
  const Tensor square = kernel_text::parse("# sobel-x\n-1 0 1\n-2 0 2  # middle row\n-1 0 1\n\n");
  EXPECT_EQ(square.shape(), (Shape{3, 3}));
  EXPECT_EQ(square.values(), (std::vector<float>{-1, 0, 1, -2, 0, 2, -1, 0, 1}));
  const Tensor column = kernel_text::parse("1\n2\n1\n");
  EXPECT_EQ(column.shape(), (Shape{3, 1}));
  const Tensor cube = kernel_text::parse("\n1 2\n3 4\n\n\n5 6\n# comment lines do not separate\n7 8\n");
  EXPECT_EQ(cube.shape(), (Shape{2, 2, 2}));
  EXPECT_EQ(cube.values(), (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(kernel_text::parse("0.25\t+0.5\r\n1e-1\t-.5\r\n").values(), (std::vector<float>{0.25f, 0.5f, 0.1f, -0.5f}));
}

TEST(KernelText, JsonNestingGivesTheShape) {
  EXPECT_EQ(kernel_text::parse(" [1, 2, 1]").shape(), (Shape{3}));
  const Tensor lap = kernel_text::parse("[[0, 1, 0], [1, -4, 1], [0, 1, 0]]");
  EXPECT_EQ(lap.shape(), (Shape{3, 3}));
  EXPECT_EQ(lap.values(), (std::vector<float>{0, 1, 0, 1, -4, 1, 0, 1, 0}));
  const Tensor cube = kernel_text::parse("[[[1], [2]], [[3], [4.5]]]");
  EXPECT_EQ(cube.shape(), (Shape{2, 2, 1}));
  EXPECT_EQ(cube.values(), (std::vector<float>{1, 2, 3, 4.5f}));
}

TEST(KernelText, Errors) {
  EXPECT_NE(error_of("1 2 3\n4 5\n").find("k.txt:2: has 2 numbers; expected 3 as on line 1"), std::string::npos);
  EXPECT_NE(error_of("1 2\n3 4\n\n5 6\n").find("slice 2 has 1 rows; expected 2"), std::string::npos);
  EXPECT_NE(error_of("1 x 3").find("k.txt:1: 'x' is not a number"), std::string::npos);
  EXPECT_NE(error_of("1 inf").find("not a finite float"), std::string::npos);
  EXPECT_NE(error_of("1e39").find("not a finite float"), std::string::npos);
  EXPECT_NE(error_of("1,,2").find("k.txt:1:"), std::string::npos);
  EXPECT_NE(error_of("  \n# nothing\n").find("no kernel values"), std::string::npos);
  EXPECT_NE(error_of("[[1, 2], [3]]").find("[1] is an array of 1; expected an array of 2"), std::string::npos);
  EXPECT_NE(error_of("[[1, 2], 3]").find("[1] is number"), std::string::npos);
  EXPECT_NE(error_of("[1, \"a\"]").find("[1] is string; expected a number"), std::string::npos);
  EXPECT_NE(error_of("[[[[1]]]]").find("more than 3 levels"), std::string::npos);
  EXPECT_NE(error_of("[]").find("empty array"), std::string::npos);
  EXPECT_NE(error_of("[1, 2").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error_of("[1e39]").find("not a finite float"), std::string::npos);
}

}  // namespace
}  // namespace convkit
