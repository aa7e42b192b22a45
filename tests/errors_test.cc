// Every bad spec or tensor raises convkit::Error whose message names the argument, the value it got
// and what was expected.
#include <gtest/gtest.h>

#include "test_support.h"

namespace convkit {
namespace {

using testing::expect_error;

ConvSpec conv2d(int64_t in = 4, int64_t out = 8, int64_t kernel = 3) {
  return {.rank = 2, .in_channels = in, .out_channels = out, .kernel = {kernel, kernel}};
}

// Runs the reference on tensors of the given shapes (filled with zeros).
void run(const ConvSpec& spec, const Shape& input, const Shape& weight) {
  reference::convolution(spec, Tensor(input), Tensor(weight));
}

TEST(Errors, GroupsMustDivideChannels) {
  ConvSpec spec = conv2d(64, 128);
  spec.groups = 3;
  expect_error([&] { validate(spec); }, {"groups=3", "does not divide", "in_channels=64"});
  spec = conv2d(6, 8);
  spec.groups = 3;
  expect_error([&] { validate(spec); }, {"groups=3", "does not divide", "out_channels=8"});
  spec.groups = 0;
  expect_error([&] { validate(spec); }, {"groups=0", ">= 1"});
}

TEST(Errors, WeightShapeMustMatchSpec) {
  expect_error([&] { run(conv2d(), {1, 4, 8, 8}, {8, 4, 3, 2}); },
               {"weight of shape [8, 4, 3, 2]", "expected [8, 4, 3, 3]"});
  ConvSpec last = conv2d();
  last.layout = Layout::channels_last;
  expect_error([&] { run(last, {1, 8, 8, 4}, {8, 4, 3, 3}); }, {"weight of shape [8, 4, 3, 3]", "expected [3, 3, 4, 8]"});
  ConvSpec transposed = conv2d();
  transposed.transposed = true;
  expect_error([&] { run(transposed, {1, 4, 8, 8}, {8, 4, 3, 3}); }, {"conv_transpose", "expected [4, 8, 3, 3]"});
}

TEST(Errors, DilatedKernelLargerThanPaddedInput) {
  ConvSpec spec = conv2d(4, 8, 3);
  spec.dilation = {3};
  expect_error([&] { run(spec, {1, 4, 6, 6}, {8, 4, 3, 3}); },
               {"kernel size 3", "dilation 3", "spans 7 cells", "axis H", "padded input (6 + 0 + 0 = 6)"});
  expect_error([&] { run(conv2d(4, 8, 5), {1, 4, 4, 9}, {8, 4, 5, 5}); }, {"kernel size 5", "axis H"});
}

TEST(Errors, StrideAndDilationMustBePositive) {
  ConvSpec spec = conv2d();
  spec.stride = {1, 0};
  expect_error([&] { validate(spec); }, {"stride=[1, 0]", "must be positive"});
  spec.stride = {-2};
  expect_error([&] { validate(spec); }, {"stride=[-2, -2]", "must be positive"});
  spec = conv2d();
  spec.dilation = {0};
  expect_error([&] { validate(spec); }, {"dilation=[0, 0]", "must be positive"});
  spec = conv2d();
  spec.kernel = {3, 0};
  expect_error([&] { validate(spec); }, {"kernel=[3, 0]", "must be positive"});
}

TEST(Errors, OutputPaddingMustBeSmallerThanStrideOrDilation) {
  ConvSpec spec = conv2d();
  spec.transposed = true;
  spec.stride = {2};
  spec.output_padding = {2};
  expect_error([&] { validate(spec); }, {"output_padding=2", "axis H", "smaller than max(stride, dilation)=2"});
  spec.output_padding = {1};
  EXPECT_NO_THROW(validate(spec));
  spec.stride = {1};
  spec.dilation = {3};
  spec.output_padding = {0, 3};
  expect_error([&] { validate(spec); }, {"output_padding=3", "axis W", "max(stride, dilation)=3"});
  ConvSpec forward = conv2d();
  forward.output_padding = {1};
  expect_error([&] { validate(forward); }, {"output_padding=[1]", "only meaningful for a transposed"});
}

TEST(Errors, ReflectPaddingWiderThanInput) {
  ConvSpec spec = conv2d(4, 8, 3);
  spec.padding = Padding::symmetric({3, 1});
  spec.padding_mode = PaddingMode::reflect;
  expect_error([&] { run(spec, {1, 4, 3, 8}, {8, 4, 3, 3}); },
               {"reflect padding 3", "axis H", "smaller than the input size 3"});
  spec.padding = Padding::symmetric({2, 1});
  EXPECT_NO_THROW(run(spec, {1, 4, 3, 8}, {8, 4, 3, 3}));
  spec.padding = Padding::symmetric({4, 1});
  spec.padding_mode = PaddingMode::circular;
  expect_error([&] { run(spec, {1, 4, 3, 8}, {8, 4, 3, 3}); }, {"circular padding 4", "must not exceed the input size 3"});
}

TEST(Errors, TensorRankMustMatchSpec) {
  expect_error([&] { run(conv2d(), {4, 8, 8}, {8, 4, 3, 3}); },
               {"expected a 4-dimensional input (N, C, H, W)", "got 3 dimensions [4, 8, 8]"});
  ConvSpec spec = conv2d();
  spec.layout = Layout::channels_last;
  expect_error([&] { run(spec, {1, 2, 8, 8, 4}, {3, 3, 4, 8}); }, {"(N, H, W, C)", "got 5 dimensions"});
  spec.rank = 4;
  expect_error([&] { validate(spec); }, {"rank=4", "expected 1, 2 or 3"});
}

TEST(Errors, ChannelCountMustMatchSpec) {
  expect_error([&] { run(conv2d(3, 64, 7), {1, 4, 224, 224}, {64, 3, 7, 7}); },
               {"expected input[1, 4, 224, 224]", "to have 3 channels, but got 4 channels instead"});
  // Data in the other layout gets a hint.
  expect_error([&] { run(conv2d(3, 64, 7), {1, 224, 224, 3}, {64, 3, 7, 7}); },
               {"got 224 channels", "looks like channels_last data passed as channels_first"});
}

TEST(Errors, OutputViewAndBiasMustMatch) {
  const ConvSpec spec = conv2d();
  Tensor x({2, 4, 8, 8}), w({8, 4, 3, 3}), wrong({1, 8, 6, 6});
  expect_error([&] { reference::convolution(spec, x, w, std::nullopt, wrong.view()); },
               {"output of shape [1, 8, 6, 6]", "expected [2, 8, 6, 6]"});
  Tensor bias({7});
  expect_error([&] { reference::convolution(spec, x, w, bias.view()); }, {"bias=false"});
  ConvSpec with_bias = spec;
  with_bias.bias = true;
  expect_error([&] { reference::convolution(with_bias, x, w, bias.view()); },
               {"bias of shape [7]", "out_channels=8", "expected [8]"});
  expect_error([&] { reference::convolution(with_bias, x, w); }, {"bias=true but no bias tensor"});
}

TEST(Errors, OutputShapeUnreachable) {
  ConvSpec spec = conv2d(4, 8, 2);
  spec.transposed = true;
  spec.stride = {2};
  spec.output_shape = {10, 8};  // 4 inputs, k=2, s=2 span 8 cells; output_shape may add stride - 1 = 1
  expect_error([&] { resolve_geometry(spec, std::vector<int64_t>{4, 4}); },
               {"output_shape=[10, 8]", "unreachable on axis H", "reaches 8 cells", "at most stride - 1 = 1",
                "so at most 9", "output_padding"});
  spec.output_padding = {1, 0};
  EXPECT_EQ(resolve_geometry(spec, std::vector<int64_t>{4, 4}).output_spatial(), (Shape{10, 8}));
  spec.output_shape = {9};
  expect_error([&] { validate(spec); }, {"output_shape=[9]", "expected 2 spatial sizes"});
  ConvSpec forward = conv2d();
  forward.output_shape = {4, 4};
  expect_error([&] { validate(forward); }, {"output_shape=[4, 4]", "only meaningful for a transposed"});
}

TEST(Errors, ConflictingOrMalformedPadding) {
  ConvSpec spec = conv2d();
  spec.padding = Padding::symmetric({1, 2, 3});
  expect_error([&] { validate(spec); }, {"padding begin=[1, 2, 3]", "expected 1 or 2"});
  spec.padding = Padding::symmetric({-1});
  expect_error([&] { validate(spec); }, {"padding begin=[-1, -1]", ">= 0"});
  spec.padding = Padding::same();
  spec.padding.begin = {1};
  expect_error([&] { validate(spec); }, {"padding=same takes no explicit amounts"});
  spec = conv2d();
  spec.transposed = true;
  spec.padding = Padding::symmetric({1});
  spec.output_shape = {8, 8};
  expect_error([&] { validate(spec); }, {"output_shape=[8, 8]", "explicit padding", "give one"});
  expect_error([] { Padding::onnx({1, 2, 3}); }, {"pads=[1, 2, 3]", "odd number"});
}

TEST(Errors, TransposedSupportsZeroPaddingOnly) {
  ConvSpec spec = conv2d();
  spec.transposed = true;
  spec.padding_mode = PaddingMode::reflect;
  expect_error([&] { validate(spec); }, {"padding_mode=reflect", "transposed", "expected zeros"});
}

TEST(Errors, TransposedPaddingMayNotCropEverything) {
  ConvSpec spec = conv2d(4, 8, 1);
  spec.transposed = true;
  spec.padding = Padding::symmetric({1});
  expect_error([&] { resolve_geometry(spec, std::vector<int64_t>{1, 1}); }, {"output size -1", "axis H", "must be >= 1"});
}

TEST(Errors, EmptyOrZeroSizedInputs) {
  expect_error([&] { run(conv2d(), {1, 4, 0, 8}, {8, 4, 3, 3}); }, {"input size 0", "axis H"});
  ConvSpec spec = conv2d();
  spec.kernel = {};
  expect_error([&] { validate(spec); }, {"kernel is empty"});
  spec = conv2d(0, 8);
  expect_error([&] { validate(spec); }, {"in_channels=0"});
}

TEST(Errors, UnknownNames) {
  expect_error([] { parse_layout("NHWC"); }, {"layout='NHWC'", "channels_first, channels_last"});
  expect_error([] { parse_padding_mode("mirror", "--padding-mode"); },
               {"--padding-mode='mirror'", "zeros, reflect, replicate, circular"});
}

TEST(Errors, TensorConstruction) {
  expect_error([] { Tensor({2, 3}, std::vector<float>(5)); }, {"5 values", "[2, 3]", "holds 6"});
  expect_error([] { Tensor({2, -3}); }, {"[2, -3]", "negative"});
  expect_error([] { Tensor({2, 3}).reshaped({4, 2}); }, {"cannot reshape [2, 3]", "[4, 2]"});
}

}  // namespace
}  // namespace convkit
