// Sizes near the int64 limit: every size computation of the library (geometry, element counts, strides,
// costs, channel products) either gives the exact answer or a convkit::Error naming the argument and
// its value, before anything is allocated; never a wrapped-around (negative or small) size.
#include <gtest/gtest.h>

#include <limits>

#include "test_support.h"

namespace convkit {
namespace {

using testing::expect_error;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t k2To62 = int64_t{1} << 62;

// A 2D convolution of a 1-channel 8x8 input with a 3x3 kernel (the CLI repro's x.npy and w.npy).
ConvSpec conv3x3() { return {.rank = 2, .in_channels = 1, .out_channels = 1, .kernel = {3, 3}}; }
const Shape kInput{1, 1, 8, 8};

TEST(Overflow, DilatedKernel) {
  EXPECT_EQ(dilated_kernel_size(3, int64_t{1} << 61), k2To62 + 1);
  expect_error([] { dilated_kernel_size(3, kMax, "W"); },
               {"dilation=9223372036854775807 with kernel=3", "more than 2^63 - 1 cells on axis W"});
  ConvSpec spec = conv3x3();
  for (int64_t dilation : {kMax, k2To62}) {
    spec.dilation = {1, dilation};
    expect_error([&] { validate(spec); }, {"dilation=" + std::to_string(dilation), "kernel=3", "axis W"});
    expect_error([&] { output_shape(spec, kInput); }, {"dilation=" + std::to_string(dilation), "axis W"});
    expect_error([&] { ConvPlan(spec, Tensor(weight_shape(spec)).view()); }, {"dilation=", "axis W"});
    expect_error([&] { conv_cost(spec, kInput); }, {"dilation=", "axis W"});
  }
  // 2^61: the dilated kernel fits, and the message quotes it as the positive size it is.
  spec.dilation = {int64_t{1} << 61};
  expect_error([&] { output_shape(spec, kInput); }, {"spans 4611686018427387905 cells on axis H", "larger than"});
  AxisGeometry g{.kernel = 2, .dilation = kMax};
  expect_error([&] { (void)g.dilated_kernel(); }, {"dilation=9223372036854775807 with kernel=2"});
}

TEST(Overflow, ConvPadding) {
  ConvSpec spec = conv3x3();
  spec.padding = Padding::symmetric({kMax});
  expect_error([&] { resolve_geometry(spec, std::vector<int64_t>{8, 8}); },
               {"padding begin=9223372036854775807 and end=9223372036854775807", "input size 8 on axis H",
                "more than 2^63 - 1 cells"});
  expect_error([&] { conv_output_size(8, 3, 1, 1, kMax, 1); }, {"padding 9223372036854775807 + 1", "input size 8"});
  // Pads that fit but make an output no tensor can hold: an Error before any allocation.
  spec.padding = Padding::symmetric({int64_t{1} << 40});
  expect_error([&] { output_shape(spec, kInput); }, {"conv: output: shape [1, 1, 2199023255558, 2199023255558]"});
  const ConvPlan plan(spec, Tensor(weight_shape(spec)).view());
  expect_error([&] { plan.run(Tensor(kInput).view()); }, {"conv: output: shape", "more elements than int64"});
  expect_error([&] { reference::convolution(spec, Tensor(kInput), Tensor(weight_shape(spec))); },
               {"conv: output: shape"});
}

TEST(Overflow, SamePaddingWithHugeStride) {
  // TF 'SAME': out = ceil(8 / stride) = 1; the old ceil_div formed 8 + stride - 1 and wrapped.
  ConvSpec spec = conv3x3();
  spec.padding = Padding::same();
  spec.stride = {kMax};
  const AxisGeometry g = resolve_geometry(spec, std::vector<int64_t>{8, 8}).axes[1];
  EXPECT_EQ(g.output, 1);
  EXPECT_EQ(g.pad_begin + g.pad_end, 0);  // max((1 - 1) * stride + 3 - 8, 0)
  EXPECT_EQ(same_padding(8, 3, kMax, 1, false).end, 0);
}

TEST(Overflow, TransposedSizes) {
  ConvSpec spec = conv3x3();
  spec.transposed = true;
  spec.stride = {kMax};
  expect_error([&] { output_shape(spec, kInput); },
               {"stride=9223372036854775807 with input size 8", "axis H", "transposed convolution output"});
  expect_error([&] { transposed_output_size(8, 3, kMax, 1, 0, 0, 0); }, {"stride 9223372036854775807"});
  // ONNX SAME_*: output_shape = input * stride, which overflows here although the span
  // (input - 1) * stride + 3 fits.
  spec.stride = {3 * (int64_t{1} << 61)};
  spec.padding = Padding::same();
  expect_error([&] { output_shape(spec, Shape{1, 1, 1, 2}); },
               {"stride=6917529027641081856 with input size 2 on axis W", "padding='same'"});
  // Explicit pads as large as int64 allows crop everything: the size message, not a wrapped size.
  spec = conv3x3();
  spec.transposed = true;
  spec.padding = Padding::symmetric({kMax});
  expect_error([&] { output_shape(spec, kInput); },
               {"output size below -2^63 on axis H must be >= 1", "padding 9223372036854775807+9223372036854775807"});
  // The CLI repro: VALID with an output_shape of 2^62 is far beyond the stride - 1 extra cells allowed.
  spec = conv3x3();
  spec.transposed = true;
  spec.padding = Padding::valid();
  spec.output_shape = {k2To62, k2To62};
  expect_error([&] { output_shape(spec, kInput); }, {"output_shape=[4611686018427387904, 4611686018427387904]",
                                                     "unreachable on axis H", "reaches 10 cells"});
}

TEST(Overflow, TensorsThatCannotExist) {
  expect_error([] { element_count(Shape{int64_t{1} << 32, int64_t{1} << 32}); },
               {"shape [4294967296, 4294967296] has more elements than int64"});
  expect_error([] { contiguous_strides(Shape{2, int64_t{1} << 32, int64_t{1} << 32}); },
               {"shape [2, 4294967296, 4294967296]", "strides beyond int64"});
  // 2^62 floats fit in int64 but not in memory addresses (2^64 bytes): an Error, not std::bad_alloc.
  expect_error([] { Tensor(Shape{int64_t{1} << 31, int64_t{1} << 31}); },
               {"tensor: shape [2147483648, 2147483648] holds 4611686018427387904 floats", "more than"});
  expect_error([] { Tensor(Shape{kMax, 2}); }, {"tensor: shape [9223372036854775807, 2]", "more elements"});
  expect_error([] { Tensor(Shape{-1, -1}, std::vector<float>{0.0f}); }, {"tensor: shape [-1, -1]", "negative"});
  EXPECT_EQ(tensor_element_count(Shape{3, 0, kMax}, "t"), 0);
}

TEST(Overflow, Costs) {
  // 2^50 output cells x 2^20 input channels x 9 taps MACs: more than int64 counts.
  ConvSpec spec{.rank = 2, .in_channels = int64_t{1} << 20, .out_channels = 1, .kernel = {3, 3}};
  const int64_t side = (int64_t{1} << 25) + 2;
  expect_error([&] { conv_cost(spec, Shape{1, spec.in_channels, side, side}); },
               {"conv2d", "the MAC count for input [1, 1048576, 33554434, 33554434] exceeds int64"});
  ConvSpec transposed{.rank = 1, .in_channels = int64_t{1} << 20, .out_channels = int64_t{1} << 20,
                      .kernel = {3}, .transposed = true};
  expect_error([&] { conv_cost(transposed, Shape{1, transposed.in_channels, int64_t{1} << 30}); },
               {"the MAC count", "exceeds int64"});
  // The largest counts that fit are exact.
  spec.in_channels = 1;
  EXPECT_EQ(conv_cost(spec, Shape{1, 1, side, side}).macs, (side - 2) * (side - 2) * 9);
}

TEST(Overflow, CompositeChannels) {
  const ConvSpec layer{.rank = 2, .in_channels = 4, .out_channels = 8, .kernel = {3, 3}};
  expect_error([&] { depthwise_separable(layer, k2To62); },
               {"depth_multiplier=4611686018427387904 times in_channels=4"});
}

}  // namespace
}  // namespace convkit
