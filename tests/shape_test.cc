// Padding and shape rules against values the frameworks produce (TF, PyTorch, ONNX).
#include <gtest/gtest.h>

#include "test_support.h"

namespace convkit {
namespace {

AxisGeometry axis0(const ConvSpec& spec, std::vector<int64_t> input) {
  return resolve_geometry(spec, input).axes[0];
}

ConvSpec conv1d(int64_t kernel, int64_t stride = 1, int64_t dilation = 1, Padding padding = {}) {
  return {.rank = 1, .kernel = {kernel}, .stride = {stride}, .dilation = {dilation}, .padding = std::move(padding)};
}

TEST(Shape, TensorFlowSamePadding) {
  // tf.nn.conv2d 'SAME': out = ceil(in / stride), the odd cell at the end (ONNX SAME_UPPER).
  AxisPads p = same_padding(224, 7, 2, 1, false);  // ResNet stem: total 5
  EXPECT_EQ(p.begin, 2);
  EXPECT_EQ(p.end, 3);
  p = same_padding(224, 7, 2, 1, true);  // ONNX SAME_LOWER puts the odd cell first
  EXPECT_EQ(p.begin, 3);
  EXPECT_EQ(p.end, 2);
  p = same_padding(6, 3, 2, 1, false);  // total = 2*2 + 3 - 6 = 1
  EXPECT_EQ(p.begin, 0);
  EXPECT_EQ(p.end, 1);
  p = same_padding(10, 3, 1, 2, false);  // dilated: total = 9 + 5 - 10 = 4
  EXPECT_EQ(p.begin, 2);
  EXPECT_EQ(p.end, 2);
  p = same_padding(7, 1, 3, 1, false);  // 1x1 strided: no padding ever
  EXPECT_EQ(p.begin + p.end, 0);
  for (int64_t in = 1; in < 20; ++in)
    for (int64_t s = 1; s < 5; ++s)
      EXPECT_EQ(axis0(conv1d(3, s, 1, Padding::same()), {in}).output, (in + s - 1) / s) << in << " " << s;
}

TEST(Shape, PyTorchConvOutputSize) {
  EXPECT_EQ(conv_output_size(224, 7, 2, 1, 3, 3), 112);  // ResNet-50 conv1
  EXPECT_EQ(conv_output_size(56, 3, 2, 1, 1, 1), 28);    // ResNet-50 res3 downsampling
  EXPECT_EQ(conv_output_size(32, 3, 1, 6, 6, 6), 32);    // DeepLab ASPP rate 6
  EXPECT_EQ(conv_output_size(16000, 80, 4, 1, 0, 0), 3981);  // M5 audio
  EXPECT_EQ(conv_output_size(16384, 2, 1, 256, 256, 0), 16384);  // WaveNet causal
  EXPECT_EQ(conv_output_size(6, 3, 3, 1, 0, 0), 2);
  EXPECT_EQ(conv_output_size(7, 3, 3, 1, 0, 0), 2);  // floor
}

TEST(Shape, TransposedOutputSize) {
  EXPECT_EQ(transposed_output_size(16, 4, 2, 1, 1, 1, 0), 32);  // DCGAN
  EXPECT_EQ(transposed_output_size(64, 2, 2, 1, 0, 0, 0), 128);  // U-Net
  EXPECT_EQ(transposed_output_size(6, 3, 2, 1, 1, 1, 1), 12);   // PyTorch docs: 6 -> 12 with output_padding 1
  EXPECT_EQ(transposed_output_size(4096, 4, 2, 1, 1, 1, 0), 8192);
}

TEST(Shape, TransposedSameFollowsOnnx) {
  ConvSpec spec = conv1d(3, 2, 1, Padding::same());
  spec.transposed = true;
  AxisGeometry g = axis0(spec, {5});  // out = 10, total = 2*4 + 3 - 10 = 1: SAME_UPPER (0, 1)
  EXPECT_EQ(g.output, 10);
  EXPECT_EQ(g.pad_begin, 0);
  EXPECT_EQ(g.pad_end, 1);
  spec.padding = Padding::same_lower();
  g = axis0(spec, {5});
  EXPECT_EQ(g.output, 10);
  EXPECT_EQ(g.pad_begin, 1);
  EXPECT_EQ(g.pad_end, 0);
  // Kernel shorter than the stride: the total is negative; like TF, nothing is cropped at the
  // start and the output still has in * stride cells.
  spec = conv1d(1, 2, 1, Padding::same());
  spec.transposed = true;
  g = axis0(spec, {4});
  EXPECT_EQ(g.output, 8);
  EXPECT_EQ(g.pad_begin, 0);
}

TEST(Shape, TransposedSameValues) {
  // x = [1, 2], kernel ones(3), stride 2: the full result [1, 1, 3, 2, 2] cropped to 4 cells.
  ConvSpec spec = conv1d(3, 2, 1, Padding::same());
  spec.transposed = true;
  const Tensor x({1, 1, 2}, {1, 2}), w({1, 1, 3}, 1.0f);
  EXPECT_EQ(reference::convolution(spec, x, w).values(), (std::vector<float>{1, 1, 3, 2}));
  spec.padding = Padding::same_lower();
  EXPECT_EQ(reference::convolution(spec, x, w).values(), (std::vector<float>{1, 3, 2, 2}));
}

TEST(Shape, TransposedOutputShapeFollowsOnnx) {
  // ONNX ConvTranspose: total = stride*(in-1) + output_padding + ((k-1)*d + 1) - output_shape;
  // NOTSET puts the larger half first, SAME_UPPER the smaller half first.
  ConvSpec spec = conv1d(3, 2);
  spec.transposed = true;
  spec.output_shape = {8};  // total = 8 + 3 - 8 = 3
  AxisGeometry g = axis0(spec, {5});
  EXPECT_EQ(g.output, 8);
  EXPECT_EQ(g.pad_begin, 2);
  EXPECT_EQ(g.pad_end, 1);
  spec.padding = Padding::same();
  g = axis0(spec, {5});
  EXPECT_EQ(g.pad_begin, 1);
  EXPECT_EQ(g.pad_end, 2);
  spec.padding = Padding::valid();  // VALID keeps zero pads: the output is cropped at the end
  g = axis0(spec, {5});
  EXPECT_EQ(g.pad_begin, 0);
  EXPECT_EQ(g.pad_end, 3);
  EXPECT_EQ(g.output, 8);
}

TEST(Shape, TransposedOutputShapeBeyondTheSpan) {
  // The span is 2*4 + 3 = 11 cells; ONNX, ONNX Runtime and PyTorch (output_size) accept up to
  // stride - 1 = 1 more: total = -1, the extra cell at the end whatever the auto_pad kind.
  for (const Padding& padding : {Padding{}, Padding::same(), Padding::same_lower(), Padding::valid()}) {
    ConvSpec spec = conv1d(3, 2, 1, padding);
    spec.transposed = true;
    spec.output_shape = {12};
    const AxisGeometry g = axis0(spec, {5});
    EXPECT_EQ(g.output, 12);
    EXPECT_EQ(g.pad_begin, 0);
    EXPECT_EQ(g.pad_end, -1);
    spec.output_shape = {13};
    try {
      axis0(spec, {5});
      ADD_FAILURE() << "output_shape=[13] accepted with " << to_string(padding.kind);
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("reaches 11 cells"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("at most stride - 1 = 1"), std::string::npos) << e.what();
    }
  }
  // output_padding counts in the span: with output_padding 1 the span is 12, so 13 is reachable.
  ConvSpec spec = conv1d(3, 2);
  spec.transposed = true;
  spec.output_padding = {1};
  spec.output_shape = {13};
  EXPECT_EQ(axis0(spec, {5}).output, 13);
  // Stride 1 allows nothing beyond the span.
  spec = conv1d(3);
  spec.transposed = true;
  spec.output_shape = {8};
  EXPECT_THROW(axis0(spec, {5}), Error);
}

TEST(Shape, WeightShapesPerLayout) {
  ConvSpec spec{.rank = 2, .in_channels = 6, .out_channels = 4, .kernel = {3, 5}, .groups = 2};
  EXPECT_EQ(weight_shape(spec), (Shape{4, 3, 3, 5}));  // (Cout, Cin/g, kH, kW)
  spec.layout = Layout::channels_last;
  EXPECT_EQ(weight_shape(spec), (Shape{3, 5, 3, 4}));  // (kH, kW, Cin/g, Cout)
  spec.transposed = true;
  EXPECT_EQ(weight_shape(spec), (Shape{3, 5, 2, 6}));  // (kH, kW, Cout/g, Cin)
  spec.layout = Layout::channels_first;
  EXPECT_EQ(weight_shape(spec), (Shape{6, 2, 3, 5}));  // (Cin, Cout/g, kH, kW)
  EXPECT_EQ(bias_shape(spec), (Shape{4}));
}

TEST(Shape, ActivationShapesPerLayout) {
  ConvSpec spec{.rank = 3, .in_channels = 1, .out_channels = 3, .kernel = {5}, .padding = Padding::same()};
  EXPECT_EQ(output_shape(spec, Shape{2, 1, 16, 17, 18}), (Shape{2, 3, 16, 17, 18}));
  spec.layout = Layout::channels_last;
  EXPECT_EQ(output_shape(spec, Shape{2, 16, 17, 18, 1}), (Shape{2, 16, 17, 18, 3}));
  EXPECT_EQ(input_spatial_of(spec, Shape{2, 16, 17, 18, 1}), (Shape{16, 17, 18}));
  EXPECT_EQ(make_activation_shape(spec, 4, 7, Shape{1, 2, 3}), (Shape{4, 1, 2, 3, 7}));
  // An empty batch is allowed (as in PyTorch) and gives an empty output.
  spec.layout = Layout::channels_first;
  EXPECT_EQ(reference::convolution(spec, Tensor({0, 1, 4, 4, 4}), Tensor(weight_shape(spec))).shape(),
            (Shape{0, 3, 4, 4, 4}));
}

TEST(Shape, PerAxisArguments) {
  EXPECT_EQ(per_axis({}, 3, 1, "stride"), (std::vector<int64_t>{1, 1, 1}));
  EXPECT_EQ(per_axis({2}, 3, 1, "stride"), (std::vector<int64_t>{2, 2, 2}));
  EXPECT_EQ(per_axis({1, 2, 3}, 3, 1, "stride"), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_THROW(per_axis({1, 2}, 3, 1, "stride"), Error);
  EXPECT_STREQ(axis_name(1, 0), "W");
  EXPECT_STREQ(axis_name(2, 0), "H");
  EXPECT_STREQ(axis_name(3, 0), "D");
}

TEST(Shape, OnnxPadsOrder) {
  const Padding p = Padding::onnx({1, 2, 3, 4});  // [H_begin, W_begin, H_end, W_end]
  EXPECT_EQ(p.begin, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(p.end, (std::vector<int64_t>{3, 4}));
  ConvSpec spec{.rank = 2, .kernel = {1}, .padding = p};
  EXPECT_EQ(output_shape(spec, Shape{1, 1, 5, 5}), (Shape{1, 1, 9, 11}));
}

TEST(Shape, BenchmarkSuiteShapes) {
  // A few layers of bench/layers.json with their known output sizes.
  ConvSpec wavenet{.rank = 1, .in_channels = 64, .out_channels = 64, .kernel = {2}, .dilation = {256},
                   .padding = Padding::explicit_pads({256}, {0})};
  EXPECT_EQ(output_shape(wavenet, Shape{1, 64, 16384}), (Shape{1, 64, 16384}));
  ConvSpec vnet{.rank = 3, .in_channels = 64, .out_channels = 32, .kernel = {2}, .stride = {2}, .transposed = true};
  EXPECT_EQ(output_shape(vnet, Shape{1, 64, 16, 16, 16}), (Shape{1, 32, 32, 32, 32}));
}

TEST(Shape, Describe) {
  ConvSpec spec{.rank = 2, .in_channels = 3, .out_channels = 64, .kernel = {7}, .stride = {2},
                .padding = Padding::symmetric({3}), .bias = true};
  EXPECT_EQ(describe(spec),
            "conv2d 3->64 kernel=[7, 7] stride=[2, 2] dilation=[1, 1] padding=[3, 3]/[3, 3] bias channels_first");
}

}  // namespace
}  // namespace convkit
