// The Keras-like model reader: every layer type with Keras's defaults, shapes and parameter counts
// against numbers Keras gives, Keras's output-size rules over a grid, names, receptive fields, and
// every error path.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "convkit/convkit.h"

namespace convkit {
namespace {

// A model of `layers` (a JSON list body) on `input_shape`.
Model parse(const std::string& layers, const std::string& input_shape = "[10, 10, 4]") {
  return parse_model(R"({"input_shape": )" + input_shape + R"(, "layers": [)" + layers + "]}");
}

// The only layer of a one-layer model.
ModelLayer only(const std::string& layer, const std::string& input_shape = "[10, 10, 4]") {
  const Model model = parse(layer, input_shape);
  EXPECT_EQ(model.layers.size(), 1u);
  return model.layers.at(0);
}

void expect_error(const std::string& json, const std::string& fragment) {
  try {
    parse_model(json, "test.json");
    ADD_FAILURE() << "no error for " << json;
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(fragment), std::string::npos) << "message: " << message << "\nexpected: " << fragment;
    EXPECT_EQ(message.rfind("test.json: ", 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

void expect_layer_error(const std::string& layer, const std::string& fragment,
                        const std::string& input_shape = "[10, 10, 4]") {
  expect_error(R"({"input_shape": )" + input_shape + R"(, "layers": [)" + layer + "]}", fragment);
}

// ---------------------------------------------------------------------------------------------
// 1. Keras's numbers for each layer type.

TEST(ModelKeras, Conv2DDefaults) {
  // keras.layers.Conv2D(64, 3) on (224, 224, 3): (None, 222, 222, 64), 1,792 params.
  const ModelLayer layer = only(R"({"type": "Conv2D", "filters": 64, "kernel_size": 3})", "[224, 224, 3]");
  EXPECT_EQ(layer.name, "conv2d");
  EXPECT_EQ(layer.type, "Conv2D");
  EXPECT_EQ(layer.input_shape, (Shape{224, 224, 3}));
  EXPECT_EQ(layer.output_shape, (Shape{222, 222, 64}));
  EXPECT_EQ(layer.params, 1792);
  EXPECT_EQ(layer.macs, int64_t{222} * 222 * 64 * 27);
  EXPECT_EQ(layer.receptive_field, (std::vector<double>{3, 3}));
  // Defaults: strides 1, padding valid, dilation 1, groups 1, use_bias true, channels_last.
  ASSERT_EQ(layer.stages.stages.size(), 1u);
  const ConvSpec& spec = layer.stages.stages[0].conv;
  EXPECT_EQ(spec.stride, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(spec.dilation, (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(spec.padding.kind, PaddingKind::valid);
  EXPECT_EQ(spec.groups, 1);
  EXPECT_TRUE(spec.bias);
  EXPECT_EQ(spec.layout, Layout::channels_last);
}

TEST(ModelKeras, SeedConv2DHas28Parameters) {
  // The seeds: Keras Conv2D(1, (3, 3)) on 128x128x3 has 28 parameters.
  const ModelLayer layer = only(R"({"type": "Conv2D", "filters": 1, "kernel_size": [3, 3]})", "[128, 128, 3]");
  EXPECT_EQ(layer.params, 28);
  EXPECT_EQ(layer.output_shape, (Shape{126, 126, 1}));
}

TEST(ModelKeras, ConvArguments) {
  // Conv2D(8, 3, strides=2, padding="same", groups=2, use_bias=False): out ceil(10/2) = 5, 3*3*2*8 weights.
  const ModelLayer layer = only(
      R"({"type": "Conv2D", "filters": 8, "kernel_size": 3, "strides": 2, "padding": "SAME", "groups": 2,
          "use_bias": false})");
  EXPECT_EQ(layer.output_shape, (Shape{5, 5, 8}));
  EXPECT_EQ(layer.params, 144);
  EXPECT_EQ(layer.macs, 25 * 8 * 2 * 9);
  // Dilation 2: a 3x3 kernel spans 5 cells.
  const ModelLayer dilated =
      only(R"({"type": "Conv2D", "filters": 8, "kernel_size": [3, 1], "dilation_rate": [2, 1]})");
  EXPECT_EQ(dilated.output_shape, (Shape{6, 10, 8}));
  EXPECT_EQ(dilated.params, 3 * 4 * 8 + 8);
  EXPECT_EQ(dilated.receptive_field, (std::vector<double>{5, 1}));
}

TEST(ModelKeras, Conv1DAndConv3D) {
  // Conv1D(16, 5, strides=2, padding="same") on (100, 8): (50, 16), 5*8*16 + 16 = 656.
  const ModelLayer c1 =
      only(R"({"type": "Conv1D", "filters": 16, "kernel_size": 5, "strides": 2, "padding": "same"})", "[100, 8]");
  EXPECT_EQ(c1.output_shape, (Shape{50, 16}));
  EXPECT_EQ(c1.params, 656);
  // Conv3D(8, 3) on (16, 16, 16, 1): (14, 14, 14, 8), 27*8 + 8 = 224.
  const ModelLayer c3 = only(R"({"type": "Conv3D", "filters": 8, "kernel_size": 3})", "[16, 16, 16, 1]");
  EXPECT_EQ(c3.output_shape, (Shape{14, 14, 14, 8}));
  EXPECT_EQ(c3.params, 224);
  EXPECT_EQ(c3.macs, int64_t{14 * 14 * 14} * 8 * 27);
}

TEST(ModelKeras, CausalConv1D) {
  // Keras Conv1D padding="causal": left pad dilation * (k - 1), the output keeps the input length.
  const ModelLayer layer =
      only(R"({"type": "Conv1D", "filters": 8, "kernel_size": 3, "dilation_rate": 2, "padding": "causal"})", "[10, 4]");
  EXPECT_EQ(layer.output_shape, (Shape{10, 8}));
  const Padding& padding = layer.stages.stages[0].conv.padding;
  EXPECT_EQ(padding.begin, (std::vector<int64_t>{4}));
  EXPECT_EQ(padding.end, (std::vector<int64_t>{0}));
  EXPECT_EQ(layer.params, 3 * 4 * 8 + 8);
  // Causal with stride: ceil(in / stride).
  EXPECT_EQ(only(R"({"type": "Conv1D", "filters": 1, "kernel_size": 4, "strides": 3, "padding": "causal"})", "[10, 4]")
                .output_shape,
            (Shape{4, 1}));
}

TEST(ModelKeras, DepthwiseConv) {
  // DepthwiseConv2D(3, depth_multiplier=2) on (32, 32, 16): (30, 30, 32), 3*3*16*2 + 32 = 320.
  const ModelLayer layer =
      only(R"({"type": "DepthwiseConv2D", "kernel_size": 3, "depth_multiplier": 2})", "[32, 32, 16]");
  EXPECT_EQ(layer.name, "depthwise_conv2d");
  EXPECT_EQ(layer.output_shape, (Shape{30, 30, 32}));
  EXPECT_EQ(layer.params, 320);
  EXPECT_EQ(layer.macs, 30 * 30 * 32 * 9);
  EXPECT_EQ(layer.stages.stages[0].conv.groups, 16);
  // DepthwiseConv1D(3) on (20, 4): (18, 4), 3*4 + 4 = 16; depth_multiplier defaults to 1.
  const ModelLayer d1 = only(R"({"type": "DepthwiseConv1D", "kernel_size": 3})", "[20, 4]");
  EXPECT_EQ(d1.output_shape, (Shape{18, 4}));
  EXPECT_EQ(d1.params, 16);
}

TEST(ModelKeras, SeparableConv) {
  // SeparableConv2D(64, 3) on (32, 32, 32): depthwise 9*32 + pointwise 32*64 + bias 64 = 2,400.
  const ModelLayer layer = only(R"({"type": "SeparableConv2D", "filters": 64, "kernel_size": 3})", "[32, 32, 32]");
  EXPECT_EQ(layer.name, "separable_conv2d");
  EXPECT_EQ(layer.output_shape, (Shape{30, 30, 64}));
  EXPECT_EQ(layer.params, 2400);
  EXPECT_EQ(layer.macs, 30 * 30 * 32 * 9 + 30 * 30 * 32 * 64);
  ASSERT_EQ(layer.stages.stages.size(), 2u);
  EXPECT_FALSE(layer.stages.stages[0].conv.bias);  // Keras: the bias is on the pointwise stage only
  EXPECT_TRUE(layer.stages.stages[1].conv.bias);
  // SeparableConv1D(16, 3, depth_multiplier=2, use_bias=False) on (20, 4): 3*4*2 + 8*16 = 152.
  const ModelLayer s1 =
      only(R"({"type": "SeparableConv1D", "filters": 16, "kernel_size": 3, "depth_multiplier": 2, "use_bias": false})",
           "[20, 4]");
  EXPECT_EQ(s1.output_shape, (Shape{18, 16}));
  EXPECT_EQ(s1.params, 152);
}

TEST(ModelKeras, ConvTransposeParameters) {
  // Conv2DTranspose(8, 3, strides=2) on (10, 10, 4): kernel (3, 3, 8, 4) + 8 biases = 296; 21x21.
  const ModelLayer layer = only(R"({"type": "Conv2DTranspose", "filters": 8, "kernel_size": 3, "strides": 2})");
  EXPECT_EQ(layer.name, "conv2d_transpose");
  EXPECT_EQ(layer.output_shape, (Shape{21, 21, 8}));
  EXPECT_EQ(layer.params, 296);
  EXPECT_EQ(layer.macs, 10 * 10 * 4 * 8 * 9);  // every input cell through every tap to every filter
  EXPECT_EQ(
      only(R"({"type": "Conv1DTranspose", "filters": 2, "kernel_size": 4, "strides": 2, "padding": "same"})", "[7, 3]")
          .output_shape,
      (Shape{14, 2}));
  EXPECT_EQ(
      only(R"({"type": "Conv3DTranspose", "filters": 2, "kernel_size": 2, "strides": 2})", "[3, 4, 5, 1]").output_shape,
      (Shape{6, 8, 10, 2}));
}

// The input_shape of a 1D model: [length, channels].
std::string length_input(int64_t length, int64_t channels) {
  std::ostringstream text;
  text << '[' << length << ", " << channels << ']';
  return text.str();
}

// Keras's transposed output length, written out independently of the library
// (keras/src/backend/common/backend_utils.py _get_output_shape_given_tf_padding).
int64_t keras_transposed_length(int64_t in, int64_t k, int64_t s, int64_t d, bool same, int64_t output_padding) {
  const int64_t dk = (k - 1) * d + 1;
  if (!same) return (in - 1) * s + dk + (output_padding >= 0 ? output_padding : std::max(dk, s) - dk);
  return output_padding >= 0 ? (in - 1) * s + dk % 2 + output_padding : in * s;
}

TEST(ModelKeras, ConvTransposeOutputSizesFollowKeras) {
  int cases = 0;
  for (int64_t in = 1; in <= 5; ++in)
    for (int64_t k = 1; k <= 5; ++k)
      for (int64_t s = 1; s <= 3; ++s)
        for (int64_t d : {1, 2})
          for (bool same : {false, true})
            for (int64_t op = -1; op < s; ++op) {  // -1: no output_padding (None)
              if (s > 1 && d > 1) continue;        // Keras refuses the combination
              const int64_t expected = keras_transposed_length(in, k, s, d, same, op);
              std::ostringstream layer;
              layer << R"({"type": "Conv1DTranspose", "filters": 2, "kernel_size": )" << k << R"(, "strides": )" << s
                    << R"(, "dilation_rate": )" << d << R"(, "padding": ")" << (same ? "same" : "valid") << '"';
              if (op >= 0) layer << R"(, "output_padding": )" << op;
              layer << "}";
              const std::string input = length_input(in, 3);
              SCOPED_TRACE(layer.str() + " on " + input);
              if (expected < 1) {  // Keras cannot build it either
                EXPECT_THROW(parse(layer.str(), input), Error);
                continue;
              }
              const ModelLayer result = only(layer.str(), input);
              EXPECT_EQ(result.output_shape, (Shape{expected, 2}));
              ++cases;
            }
  EXPECT_GT(cases, 200);
}

TEST(ModelKeras, ConvOutputSizesFollowKeras) {
  // keras compute_conv_output_shape: valid floor((in - k') / s) + 1; same and causal floor((in - 1) / s) + 1.
  for (int64_t in = 1; in <= 9; ++in)
    for (int64_t k = 1; k <= 4; ++k)
      for (int64_t s = 1; s <= 3; ++s)
        for (const char* padding : {"valid", "same", "causal"}) {
          std::ostringstream text;
          text << R"({"type": "Conv1D", "filters": 1, "kernel_size": )" << k << R"(, "strides": )" << s
               << R"(, "padding": ")" << padding << R"("})";
          const std::string layer = text.str(), input = length_input(in, 2);
          SCOPED_TRACE(layer + " on " + input);
          const bool valid = std::string(padding) == "valid";
          if (valid && k > in) {
            EXPECT_THROW(parse(layer, input), Error);
            continue;
          }
          const int64_t expected = valid ? (in - k) / s + 1 : (in - 1) / s + 1;
          EXPECT_EQ(only(layer, input).output_shape, (Shape{expected, 1}));
        }
}

// ---------------------------------------------------------------------------------------------
// 2. convkit's own layer types.

TEST(ModelConvkit, SpatialSeparableReproducesTheSeeds) {
  // 3x3 on 5x5: 45 + 27 = 72 multiplications instead of 81, 6 weights instead of 9.
  const ModelLayer layer =
      only(R"({"type": "SpatialSeparableConv2D", "filters": 1, "kernel_size": 3, "use_bias": false})", "[5, 5, 1]");
  EXPECT_EQ(layer.name, "spatial_separable_conv2d");
  EXPECT_EQ(layer.output_shape, (Shape{3, 3, 1}));
  EXPECT_EQ(layer.macs, 72);
  EXPECT_EQ(layer.params, 6);
  const ModelLayer full = only(R"({"type": "Conv2D", "filters": 1, "kernel_size": 3, "use_bias": false})", "[5, 5, 1]");
  EXPECT_EQ(full.macs, 81);
}

TEST(ModelConvkit, Flattened) {
  // On (8, 8, 2) to 4 filters, k=3: lateral 2*4, vertical 4*3, horizontal 4*3 weights + 4 biases.
  const ModelLayer layer = only(R"({"type": "FlattenedConv2D", "filters": 4, "kernel_size": 3})", "[8, 8, 2]");
  EXPECT_EQ(layer.output_shape, (Shape{6, 6, 4}));
  EXPECT_EQ(layer.params, 8 + 12 + 12 + 4);
  EXPECT_EQ(layer.macs, 8 * 8 * 4 * 2 + 6 * 8 * 4 * 3 + 6 * 6 * 4 * 3);
  EXPECT_EQ(layer.receptive_field, (std::vector<double>{3, 3}));
}

TEST(ModelConvkit, ChannelShuffleAndShuffleGrouped) {
  const Model model = parse(
      R"({"type": "ChannelShuffle", "groups": 2},
         {"type": "ShuffleGroupedConv2D", "filters": 8, "kernel_size": 3, "groups": 2, "padding": "same"})",
      "[8, 8, 4]");
  ASSERT_EQ(model.layers.size(), 2u);
  const ModelLayer& shuffle = model.layers[0];
  EXPECT_EQ(shuffle.name, "channel_shuffle");
  EXPECT_EQ(shuffle.output_shape, (Shape{8, 8, 4}));
  EXPECT_EQ(shuffle.params, 0);
  EXPECT_EQ(shuffle.macs, 0);
  EXPECT_EQ(shuffle.receptive_field, (std::vector<double>{1, 1}));
  // Grouped 3x3 (4 -> 8, groups 2), shuffle, grouped 1x1 (8 -> 8, groups 2) with the bias.
  const ModelLayer& grouped = model.layers[1];
  EXPECT_EQ(grouped.name, "shuffle_grouped_conv2d");
  EXPECT_EQ(grouped.output_shape, (Shape{8, 8, 8}));
  EXPECT_EQ(grouped.params, 9 * 2 * 8 + 4 * 8 + 8);
  EXPECT_EQ(grouped.macs, 64 * 8 * 2 * 9 + 64 * 8 * 4);
  ASSERT_EQ(grouped.stages.stages.size(), 3u);
  EXPECT_EQ(grouped.stages.stages[1].shuffle_groups, 2);
}

// ---------------------------------------------------------------------------------------------
// 3. The model: names, chaining, receptive field, totals, accepted Keras arguments.

TEST(ModelStack, NamesShapesAndTotals) {
  const Model model = parse(
      R"({"type": "Conv2D", "filters": 8, "kernel_size": 3, "name": "stem"},
         {"type": "Conv2D", "filters": 8, "kernel_size": 3, "strides": 2},
         {"type": "DepthwiseConv2D", "kernel_size": 3, "padding": "same", "activation": "relu",
          "depthwise_initializer": "he_normal", "data_format": "channels_last"},
         {"type": "Conv2D", "filters": 16, "kernel_size": 1, "kernel_initializer": {"class_name": "Zeros"},
          "data_format": null, "trainable": false},
         {"type": "Conv2DTranspose", "filters": 4, "kernel_size": 2, "strides": 2, "name": null})",
      "[17, 17, 3]");
  std::vector<std::string> names;
  for (const auto& layer : model.layers) names.push_back(layer.name);
  // A given name does not advance Keras's counter for the type.
  EXPECT_EQ(names, (std::vector<std::string>{"stem", "conv2d", "depthwise_conv2d", "conv2d_1", "conv2d_transpose"}));
  EXPECT_EQ(model.name, "");
  EXPECT_EQ(model.input_shape, (Shape{17, 17, 3}));
  EXPECT_EQ(model.layers[1].input_shape, (Shape{15, 15, 8}));
  EXPECT_EQ(model.layers[1].output_shape, (Shape{7, 7, 8}));
  EXPECT_EQ(model.output_shape(), (Shape{14, 14, 4}));
  // Receptive field: 3, then 3 more, then (3 - 1) * 2 more, the 1x1 adds nothing; the transposed layer
  // (k=2, s=2) covers floor(1 / 2) = 0 more cells.
  EXPECT_EQ(model.layers[0].receptive_field, (std::vector<double>{3, 3}));
  EXPECT_EQ(model.layers[1].receptive_field, (std::vector<double>{5, 5}));
  EXPECT_EQ(model.layers[2].receptive_field, (std::vector<double>{9, 9}));
  EXPECT_EQ(model.layers[3].receptive_field, (std::vector<double>{9, 9}));
  EXPECT_EQ(model.layers[4].receptive_field, (std::vector<double>{9, 9}));
  int64_t params = 0, macs = 0;
  for (const auto& layer : model.layers) {
    params += layer.params;
    macs += layer.macs;
  }
  EXPECT_EQ(model.total_params(), params);
  EXPECT_EQ(model.total_macs(), macs);
  EXPECT_EQ(model.layers[0].params, 9 * 3 * 8 + 8);
  EXPECT_EQ(model.layers[4].params, 4 * 16 * 4 + 4);
}

TEST(ModelStack, EmptyModelAndModelName) {
  const Model model = parse_model(R"({"name": "empty", "input_shape": [4, 4, 1], "layers": []})");
  EXPECT_EQ(model.name, "empty");
  EXPECT_TRUE(model.layers.empty());
  EXPECT_EQ(model.total_params(), 0);
  EXPECT_EQ(model.output_shape(), (Shape{4, 4, 1}));
}

TEST(ModelStack, KerasSnakeCase) {
  EXPECT_EQ(keras_snake_case("Conv2D"), "conv2d");
  EXPECT_EQ(keras_snake_case("Conv2DTranspose"), "conv2d_transpose");
  EXPECT_EQ(keras_snake_case("DepthwiseConv1D"), "depthwise_conv1d");
  EXPECT_EQ(keras_snake_case("SpatialSeparableConv2D"), "spatial_separable_conv2d");
  EXPECT_EQ(keras_snake_case("ChannelShuffle"), "channel_shuffle");
}

TEST(ModelStack, AppendLayerInChannelsFirstWithBatch) {
  // The library API the CLI's one-layer mode uses: any layout, a batch that multiplies the MACs.
  Model model;
  model.layout = Layout::channels_first;
  model.batch = 2;
  model.input_shape = {3, 7, 7};
  ConvSpec spec{.rank = 2, .in_channels = 3, .out_channels = 128, .kernel = {3, 3}};
  append_layer(model, "separable", "SeparableConv2D", depthwise_separable(spec));
  EXPECT_EQ(model.layers[0].output_shape, (Shape{128, 5, 5}));
  EXPECT_EQ(model.total_macs(), 2 * 10275);  // the seeds' 675 + 9,600 per sample
  ConvSpec wrong = spec;
  wrong.layout = Layout::channels_last;
  EXPECT_THROW(append_layer(model, "x", "Conv2D", single_layer(wrong)), Error);
  model.batch = 0;
  EXPECT_THROW(append_layer(model, "x", "Conv2D", single_layer(spec)), Error);
}

// Every layer's receptive field and totals, kept incrementally, against a recomputation over the whole
// stack so far (the way append_layer did it, which made loading quadratic: 8,000 layers took 108 s).
TEST(ModelStack, IncrementalFieldsAndTotalsMatchARecomputation) {
  const Model model = parse(
      R"({"type": "Conv2D", "filters": 8, "kernel_size": [3, 5], "strides": 2},
         {"type": "Conv2D", "filters": 8, "kernel_size": 3, "dilation_rate": [2, 1]},
         {"type": "SeparableConv2D", "filters": 8, "kernel_size": 3, "strides": 2, "padding": "same"},
         {"type": "ShuffleGroupedConv2D", "filters": 8, "kernel_size": 3, "groups": 2, "padding": "same"},
         {"type": "Conv2DTranspose", "filters": 4, "kernel_size": 5, "strides": 3},
         {"type": "SpatialSeparableConv2D", "filters": 4, "kernel_size": 3},
         {"type": "Conv2DTranspose", "filters": 4, "kernel_size": 2, "strides": 2},
         {"type": "FlattenedConv2D", "filters": 2, "kernel_size": 3})",
      "[64, 64, 4]");
  std::vector<ConvSpec> stack;
  int64_t params = 0, macs = 0;
  for (const ModelLayer& layer : model.layers) {
    for (ConvSpec& spec : conv_stages(layer.stages)) stack.push_back(std::move(spec));
    const ReceptiveField field = receptive_field(stack);
    params += layer.params;
    macs += layer.macs;
    ASSERT_EQ(layer.receptive_field.size(), 2u);
    for (size_t a = 0; a < 2; ++a) {
      // Composed stacks round differently (a jump of 1/3 times 2 against 2 / 3): a few ulps.
      EXPECT_NEAR(layer.receptive_field[a], field.size[a], 1e-12 * field.size[a]) << layer.name << " axis " << a;
      EXPECT_NEAR(layer.receptive_jump[a], field.jump[a], 1e-12 * field.jump[a]) << layer.name << " axis " << a;
    }
    EXPECT_EQ(layer.params_so_far, params);
    EXPECT_EQ(layer.macs_so_far, macs);
  }
  EXPECT_EQ(model.total_params(), params);
  EXPECT_EQ(model.total_macs(), macs);
  EXPECT_NEAR(model.layers[4].receptive_jump[0], 4.0 / 3.0, 1e-12);  // strides 2, 2, then 1/3
}

// 100,000 layers load (appending is constant work per layer), with the totals and field they must have.
TEST(ModelStack, LongModelsLoad) {
  constexpr int kLayers = 100000;
  std::string layers;
  for (int i = 0; i < kLayers; ++i)
    layers += std::string(i ? "," : "") + R"({"type": "Conv1D", "filters": 2, "kernel_size": 3, "padding": "same"})";
  const Model model = parse(layers, "[16, 2]");
  ASSERT_EQ(model.layers.size(), static_cast<size_t>(kLayers));
  EXPECT_EQ(model.layers.back().name, "conv1d_" + std::to_string(kLayers - 1));
  EXPECT_EQ(model.total_params(), kLayers * (3 * 2 * 2 + 2));
  EXPECT_EQ(model.total_macs(), int64_t{kLayers} * 16 * 2 * 2 * 3);
  EXPECT_EQ(model.layers.back().receptive_field, (std::vector<double>{1 + 2.0 * kLayers}));
}

TEST(ModelStack, ReadModelFile) {
  const auto dir = std::filesystem::temp_directory_path() / ("convkit-model-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "m.json").string();
  std::ofstream(path)
      << R"({"input_shape": [5, 5, 1], "layers": [{"type": "Conv2D", "filters": 2, "kernel_size": 3}]})";
  EXPECT_EQ(read_model(path).layers.at(0).params, 20);
  EXPECT_THROW(read_model((dir / "missing.json").string()), Error);
  try {
    read_model(dir.string());
    ADD_FAILURE() << "reading a directory succeeded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("directory"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

// ---------------------------------------------------------------------------------------------
// 4. Errors: each names the layer and the argument.

TEST(ModelErrors, DocumentStructure) {
  expect_error("{", "invalid JSON");
  expect_error("[1, 2]", "must be a JSON object");
  expect_error(R"({"input_shape": [4, 4, 1], "layers": [], "batch": 1})", "unknown key \"batch\"");
  expect_error(R"({"layers": []})", "\"input_shape\" is required");
  expect_error(R"({"input_shape": [4, 4, 1]})", "\"layers\" must be a list");
  expect_error(R"({"input_shape": [4, 4, 1], "layers": {}})", "\"layers\" must be a list");
  expect_error(R"({"name": 3, "input_shape": [4, 4, 1], "layers": []})", "name=3 must be a string");
  expect_error(R"({"input_shape": 4, "layers": []})", "input_shape=4 must be a list of 2 to 4 sizes");
  expect_error(R"({"input_shape": [4], "layers": []})", "input_shape=[4] must be a list of 2 to 4 sizes");
  expect_error(R"({"input_shape": [1, 2, 3, 4, 5], "layers": []})", "must be a list of 2 to 4 sizes");
  expect_error(R"({"input_shape": [0, 4, 1], "layers": []})", "input_shape=0 must be a positive integer");
  expect_error(R"({"input_shape": [-2, 4, 1], "layers": []})", "input_shape=-2 must be a positive integer");
  expect_error(R"({"input_shape": [null, 4, 1], "layers": []})", "unknown size (null)");
  expect_error(R"({"input_shape": [4.5, 4, 1], "layers": []})", "input_shape=4.5 must be an integer");
  expect_error(R"({"input_shape": [4, 4, 1], "layers": [3]})", "layers[0]: must be an object");
  expect_error(R"({"input_shape": [4, 4, 1], "layers": [{"filters": 3}]})", "layers[0]: has no \"type\"");
}

TEST(ModelErrors, TypesAndArgumentNames) {
  expect_layer_error(R"({"type": "LSTM", "units": 3})",
                     "layers[0]: unknown layer type \"LSTM\"; expected one of Conv1D");
  expect_layer_error(R"({"type": 2})", "\"type\" must be a string");
  expect_layer_error(
      R"({"type": "Conv2D", "filters": 8, "kernel_size": 3, "kernal_size": 3})",
      "layers[0] \"conv2d\" (Conv2D): unknown argument \"kernal_size\"; Conv2D takes filters, kernel_size");
  expect_layer_error(R"({"type": "Conv2DTranspose", "filters": 8, "kernel_size": 3, "groups": 2})",
                     "unknown argument \"groups\"");
  expect_layer_error(R"({"type": "DepthwiseConv2D", "kernel_size": 3, "filters": 2})", "unknown argument \"filters\"");
  expect_layer_error(R"({"type": "Conv2D", "filters": 8, "kernel_size": 3, "lora_rank": 2})",
                     "unknown argument \"lora_rank\"");
  // The index counts from 0 and the message names the layer after the ones before it.
  expect_layer_error(R"({"type": "Conv2D", "filters": 8, "kernel_size": 3}, {"type": "Conv2D", "filters": 8})",
                     "layers[1] \"conv2d_1\" (Conv2D): argument 'kernel_size' is required");
  expect_layer_error(R"({"type": "Conv2D", "kernel_size": 3})", "argument 'filters' is required");
  expect_layer_error(R"({"type": "ChannelShuffle"})", "argument 'groups' is required");
}

TEST(ModelErrors, Values) {
  const std::string conv = R"({"type": "Conv2D", "filters": 8, "kernel_size": 3, )";
  expect_layer_error(R"({"type": "Conv2D", "filters": 0, "kernel_size": 3})", "filters=0 must be a positive integer");
  expect_layer_error(R"({"type": "Conv2D", "filters": -8, "kernel_size": 3})", "filters=-8 must be a positive");
  expect_layer_error(R"({"type": "Conv2D", "filters": "8", "kernel_size": 3})", "filters=\"8\" must be an integer");
  expect_layer_error(R"({"type": "Conv2D", "filters": 8, "kernel_size": [3, 3, 3]})",
                     "kernel_size=[3,3,3] must be an integer or a list of 2 integers");
  expect_layer_error(R"({"type": "Conv2D", "filters": 8, "kernel_size": [3, 0]})",
                     "kernel_size=[3,0]: kernel_size=0 must be a positive integer");
  expect_layer_error(R"({"type": "Conv2D", "filters": 8, "kernel_size": [[3], [3]]})",
                     "kernel_size=[...]: kernel_size=[3] must be an integer");
  expect_layer_error(conv + R"("strides": 0})", "strides=0 must be a positive integer");
  expect_layer_error(conv + R"("strides": 2, "dilation_rate": 2})", "not supported in conjunction with dilation_rate");
  expect_layer_error(conv + R"("padding": "full"})",
                     "padding=\"full\" is not recognised; expected \"valid\" or \"same\"");
  expect_layer_error(conv + R"("padding": "causal"})", "padding=\"causal\" is not recognised");
  expect_layer_error(conv + R"("padding": 1})", "padding=1 is not recognised");
  expect_layer_error(conv + R"("groups": 3})", "filters=8 is not divisible by groups=3");
  expect_layer_error(conv + R"("groups": 8})", "groups=8 does not divide in_channels=4");
  expect_layer_error(conv + R"("use_bias": 1})", "use_bias=1 must be true or false");
  expect_layer_error(conv + R"("data_format": "channels_first"})", "data_format=\"channels_first\" is not supported");
  expect_layer_error(conv + R"("name": ""})", "name=\"\" must be a non-empty string");
  expect_layer_error(conv + R"("name": 5})", "name=5 must be a non-empty string");
  expect_layer_error(conv + R"("name": "a"}, )" + conv + R"("name": "a"})",
                     "layers[1] (Conv2D): name \"a\" is already used");
  expect_layer_error(R"({"type": "DepthwiseConv2D", "kernel_size": 3, "depth_multiplier": 0})",
                     "depth_multiplier=0 must be a positive integer");
  expect_layer_error(
      R"({"type": "Conv2DTranspose", "filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 2})",
      "output_padding=[2, 2] must be smaller than strides=[2, 2]");
  expect_layer_error(R"({"type": "Conv2DTranspose", "filters": 2, "kernel_size": 3, "output_padding": -1})",
                     "output_padding=-1 must be >= 0");
  expect_layer_error(R"({"type": "ChannelShuffle", "groups": 3})", "groups=3 does not divide the 4 input channels");
}

TEST(ModelErrors, ShapesThatDoNotFit) {
  expect_layer_error(R"({"type": "Conv1D", "filters": 8, "kernel_size": 3})",
                     "a 1D layer expects an input of 2 dimensions (spatial axes, then channels), got [10, 10, 4]");
  expect_layer_error(R"({"type": "Conv2D", "filters": 8, "kernel_size": 11})", "larger than the padded input");
  // The second layer sees the first one's output (8x8).
  expect_layer_error(
      R"({"type": "Conv2D", "filters": 8, "kernel_size": 3}, {"type": "Conv2D", "filters": 8, "kernel_size": 9})",
      "layers[1] \"conv2d_1\" (Conv2D): kernel size 9");
}

TEST(ModelErrors, HugeNumbersAreRefusedNotOverflowed) {
  expect_layer_error(R"({"type": "Conv2D", "filters": 18446744073709551615, "kernel_size": 1})",
                     "exceeds the largest size convkit accepts");
  expect_layer_error(R"({"type": "Conv2D", "filters": 1073741825, "kernel_size": 1})",
                     "filters=1073741825 exceeds the largest size");
  expect_error(R"({"input_shape": [1e30, 4, 1], "layers": []})", "must be an integer");
  // Each size allowed, but the MAC count would overflow int64 (the output, 2^40 floats, fits).
  expect_error(R"({"input_shape": [1024, 1024, 1073741824],
                   "layers": [{"type": "Conv2D", "filters": 1048576, "kernel_size": 1}]})",
               "overflows int64");
  // An output of 2^70 floats: no tensor can hold it.
  expect_error(R"({"input_shape": [1073741824, 1073741824, 1024],
                   "layers": [{"type": "Conv2D", "filters": 1073741824, "kernel_size": 1}]})",
               "has more elements than int64 can count");
  // Growing transposed layers: an output size beyond the limit.
  expect_error(R"({"input_shape": [1073741824, 1], "layers": [{"type": "Conv1DTranspose", "filters": 1,
                   "kernel_size": 1, "strides": 4}]})",
               "output size");
  // Causal padding (k - 1) * dilation beyond the limit.
  expect_error(R"({"input_shape": [4, 1], "layers": [{"type": "Conv1D", "filters": 1, "kernel_size": 1073741824,
                   "dilation_rate": 1073741824, "padding": "causal"}]})",
               "padding begin");
}


// ---------------------------------------------------------------------------------------------
// 4. Keras's layers other than convolutions (keras_layers.cc): shapes, parameters, MACs, fields.

TEST(ModelLayers, PoolingFollowsKerasOutputSizes) {
  // Keras: pool_size 2, strides = pool_size, padding "valid" by default; valid floor((in - pool) / s) + 1,
  // same floor((in - 1) / s) + 1.
  EXPECT_EQ(only(R"({"type": "MaxPooling2D"})").output_shape, (Shape{5, 5, 4}));
  EXPECT_EQ(only(R"({"type": "MaxPooling2D"})", "[11, 7, 4]").output_shape, (Shape{5, 3, 4}));
  EXPECT_EQ(only(R"({"type": "AveragePooling2D", "pool_size": 3, "strides": 2})", "[11, 11, 4]").output_shape,
            (Shape{5, 5, 4}));
  EXPECT_EQ(only(R"({"type": "MaxPooling2D", "pool_size": 3, "strides": 2, "padding": "same"})", "[11, 11, 4]")
                .output_shape,
            (Shape{6, 6, 4}));
  EXPECT_EQ(only(R"({"type": "MaxPooling2D", "pool_size": [3, 3], "strides": null})", "[9, 9, 4]").output_shape,
            (Shape{3, 3, 4}));
  EXPECT_EQ(only(R"({"type": "AveragePooling1D", "pool_size": 4})", "[10, 2]").output_shape, (Shape{2, 2}));
  EXPECT_EQ(only(R"({"type": "MaxPooling3D", "pool_size": [1, 2, 2]})", "[16, 112, 112, 3]").output_shape,
            (Shape{16, 56, 56, 3}));
  const ModelLayer pool = only(R"({"type": "MaxPooling2D", "pool_size": 3, "strides": 2})", "[11, 11, 4]");
  EXPECT_EQ(pool.params, 0);
  EXPECT_EQ(pool.macs, 0);
  EXPECT_EQ(pool.receptive_field, (std::vector<double>{3, 3}));
  EXPECT_EQ(pool.receptive_jump, (std::vector<double>{2, 2}));
  expect_layer_error(R"({"type": "MaxPooling2D", "pool_size": 3})",
                     "pool_size=[3, 3] is larger than the input's spatial size [2, 2]", "[2, 2, 1]");
  expect_layer_error(R"({"type": "MaxPooling2D"})", "a 2D layer expects an input of 3 dimensions", "[8, 8, 8, 1]");
  expect_layer_error(R"({"type": "MaxPooling2D", "padding": "full"})", "padding=\"full\" is not recognised");
}

TEST(ModelLayers, ReceptiveFieldThroughPooling) {
  // conv 3x3 (3), max pool 2/2 (3 + 1 = 4, jump 2), conv 3x3 (4 + 2 * 2 = 8, jump 2), as VGG's 3, 5, 6, 10...
  const Model model = parse(R"({"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same"},
                               {"type": "MaxPooling2D"},
                               {"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same"},
                               {"type": "UpSampling2D"},
                               {"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same"})",
                            "[16, 16, 3]");
  EXPECT_EQ(model.layers[1].receptive_field, (std::vector<double>{4, 4}));
  EXPECT_EQ(model.layers[2].receptive_field, (std::vector<double>{8, 8}));
  EXPECT_EQ(model.layers[2].receptive_jump, (std::vector<double>{2, 2}));
  // Nearest upsampling by 2 halves the jump: the next 3x3 adds (3 - 1) * 1 input cells.
  EXPECT_EQ(model.layers[3].output_shape, (Shape{16, 16, 4}));
  EXPECT_EQ(model.layers[4].receptive_field, (std::vector<double>{10, 10}));
}

TEST(ModelLayers, GlobalPoolingFlattenDense) {
  EXPECT_EQ(only(R"({"type": "GlobalAveragePooling2D"})").output_shape, (Shape{4}));
  EXPECT_EQ(only(R"({"type": "GlobalMaxPooling2D", "keepdims": true})").output_shape, (Shape{1, 1, 4}));
  EXPECT_EQ(only(R"({"type": "GlobalMaxPooling1D"})", "[7, 3]").output_shape, (Shape{3}));
  EXPECT_EQ(only(R"({"type": "GlobalAveragePooling3D"})", "[4, 4, 4, 5]").output_shape, (Shape{5}));
  // Dense(5) after Flatten of (2, 3, 4): 24 * 5 + 5 params, 120 MACs; the field becomes the whole input.
  const Model model = parse(R"({"type": "Flatten"}, {"type": "Dense", "units": 5},
                               {"type": "Dense", "units": 2, "use_bias": false})",
                            "[2, 3, 4]");
  EXPECT_EQ(model.layers[0].output_shape, (Shape{24}));
  EXPECT_EQ(model.layers[0].receptive_field, (std::vector<double>{2, 3}));
  EXPECT_EQ(model.layers[1].output_shape, (Shape{5}));
  EXPECT_EQ(model.layers[1].params, 125);
  EXPECT_EQ(model.layers[1].macs, 120);
  EXPECT_EQ(model.layers[2].params, 10);
  EXPECT_EQ(model.layers[2].macs, 10);
  // Keras's Dense acts on the last axis of a spatial tensor: per position, in * units MACs.
  const ModelLayer dense = only(R"({"type": "Dense", "units": 2})", "[4, 4, 3]");
  EXPECT_EQ(dense.output_shape, (Shape{4, 4, 2}));
  EXPECT_EQ(dense.params, 8);
  EXPECT_EQ(dense.macs, 16 * 3 * 2);
  EXPECT_EQ(dense.receptive_field, (std::vector<double>{1, 1}));
  expect_layer_error(R"({"type": "Dense"})", "argument 'units' is required");
}

TEST(ModelLayers, BatchNormalizationCountsLikeKeras) {
  // gamma and beta trainable, moving mean and variance not: 4 * C, of which 2 * C non-trainable.
  const ModelLayer bn = only(R"({"type": "BatchNormalization"})", "[8, 8, 16]");
  EXPECT_EQ(bn.output_shape, (Shape{8, 8, 16}));
  EXPECT_EQ(bn.params, 64);
  EXPECT_EQ(bn.non_trainable_params, 32);
  EXPECT_EQ(bn.macs, 0);
  EXPECT_EQ(only(R"({"type": "BatchNormalization", "center": false})", "[8, 8, 16]").params, 48);
  EXPECT_EQ(only(R"({"type": "BatchNormalization", "scale": false, "center": false})", "[8, 8, 16]").params, 32);
  EXPECT_EQ(only(R"({"type": "BatchNormalization", "axis": [3]})", "[8, 8, 16]").params, 64);
  EXPECT_EQ(only(R"({"type": "BatchNormalization", "axis": 1})", "[6, 8, 16]").params, 24);
  // A frozen layer (trainable=false): every parameter is non-trainable, as Keras counts it.
  const Model frozen = parse(R"({"type": "Conv2D", "filters": 2, "kernel_size": 1, "trainable": false},
                                {"type": "BatchNormalization"})");
  EXPECT_EQ(frozen.total_params(), 10 + 8);
  EXPECT_EQ(frozen.total_non_trainable_params(), 10 + 4);
  EXPECT_EQ(frozen.total_trainable_params(), 4);
  expect_layer_error(R"({"type": "BatchNormalization", "axis": 0})", "axis=0 is not a feature axis");
  expect_layer_error(R"({"type": "BatchNormalization", "axis": 4})", "axis=4 is not a feature axis");
  expect_layer_error(R"({"type": "BatchNormalization", "renorm": true})", "renorm=true is not supported");
}

TEST(ModelLayers, ShapePreservingAndReshaping) {
  for (const char* layer : {R"({"type": "Activation", "activation": "relu"})", R"({"type": "ReLU", "max_value": 6.0})",
                            R"({"type": "Softmax"})", R"({"type": "LeakyReLU"})", R"({"type": "Dropout", "rate": 0.5})",
                            R"({"type": "SpatialDropout2D", "rate": 0.5})"}) {
    SCOPED_TRACE(layer);
    const ModelLayer result = only(layer);
    EXPECT_EQ(result.output_shape, (Shape{10, 10, 4}));
    EXPECT_EQ(result.params + result.macs, 0);
  }
  // ZeroPadding: an int, one per axis, or (begin, end) pairs.
  EXPECT_EQ(only(R"({"type": "ZeroPadding2D"})").output_shape, (Shape{12, 12, 4}));
  EXPECT_EQ(only(R"({"type": "ZeroPadding2D", "padding": [1, 2]})").output_shape, (Shape{12, 14, 4}));
  EXPECT_EQ(only(R"({"type": "ZeroPadding2D", "padding": [[0, 1], [2, 3]]})").output_shape, (Shape{11, 15, 4}));
  EXPECT_EQ(only(R"({"type": "ZeroPadding1D", "padding": [2, 3]})", "[10, 4]").output_shape, (Shape{15, 4}));
  EXPECT_EQ(only(R"({"type": "ZeroPadding3D", "padding": [[0, 0], [1, 1], [1, 1]]})", "[1, 7, 7, 2]").output_shape,
            (Shape{1, 9, 9, 2}));
  expect_layer_error(R"({"type": "ZeroPadding2D", "padding": [1, 2, 3]})", "padding=[1,2,3] must be an integer");
  EXPECT_EQ(only(R"({"type": "UpSampling2D", "size": [2, 3]})").output_shape, (Shape{20, 30, 4}));
  EXPECT_EQ(only(R"({"type": "UpSampling1D"})", "[5, 2]").output_shape, (Shape{10, 2}));
  EXPECT_EQ(only(R"({"type": "UpSampling3D"})", "[2, 3, 4, 1]").output_shape, (Shape{4, 6, 8, 1}));
  EXPECT_EQ(only(R"({"type": "Reshape", "target_shape": [-1, 8]})").output_shape, (Shape{50, 8}));
  EXPECT_EQ(only(R"({"type": "Reshape", "target_shape": [400]})").output_shape, (Shape{400}));
  expect_layer_error(R"({"type": "Reshape", "target_shape": [3, -1]})",
                     "target_shape=[3,-1] does not hold the 400 values");
  // A convolution after a Reshape reads the new rank.
  const Model model = parse(R"({"type": "Reshape", "target_shape": [20, 20]},
                               {"type": "Conv1D", "filters": 2, "kernel_size": 3})");
  EXPECT_EQ(model.output_shape(), (Shape{18, 2}));
}

TEST(ModelLayers, FunctionalMergesReadNamedInputs) {
  // A residual block: conv -> conv, added to the input; then a concatenation of two branches.
  const Model model = parse(R"({"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same", "name": "a"},
                               {"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same", "name": "b"},
                               {"type": "Add", "inputs": ["input", "b"], "name": "sum"},
                               {"type": "Conv2D", "filters": 2, "kernel_size": 1, "inputs": ["a"], "name": "c"},
                               {"type": "Concatenate", "inputs": ["sum", "c", "a"]})");
  EXPECT_EQ(model.layers[2].inputs, (std::vector<TensorIndex>{0, 2}));
  EXPECT_EQ(model.layers[2].output_shape, (Shape{10, 10, 4}));
  EXPECT_EQ(model.layers[2].receptive_field, (std::vector<double>{5, 5}));  // the widest input
  EXPECT_EQ(model.layers[3].inputs, (std::vector<TensorIndex>{1}));
  EXPECT_EQ(model.layers[3].input_shape, (Shape{10, 10, 4}));
  EXPECT_EQ(model.layers[3].receptive_field, (std::vector<double>{3, 3}));
  EXPECT_EQ(model.layers[4].name, "concatenate");
  EXPECT_EQ(model.layers[4].output_shape, (Shape{10, 10, 10}));
  EXPECT_EQ(model.total_params(), (36 * 4 + 4) + (36 * 4 + 4) + (4 * 2 + 2));
  // The model input can be renamed (Keras's InputLayer name).
  EXPECT_EQ(parse_model(R"({"input_shape": [4, 2], "input_name": "x",
                            "layers": [{"type": "Add", "inputs": ["x", "x"]}]})")
                .output_shape(),
            (Shape{4, 2}));
  expect_layer_error(R"({"type": "Add"})", "a merge layer needs two or more inputs, got 1");
  expect_layer_error(R"({"type": "Conv2D", "filters": 1, "kernel_size": 1, "inputs": ["input", "input"]})",
                     "reads one input, got 2");
  expect_layer_error(R"({"type": "Add", "inputs": ["input", "later"]})",
                     "\"later\" is not the model input (\"input\") or an earlier layer's name");
  expect_layer_error(R"({"type": "Conv2D", "filters": 2, "kernel_size": 1, "name": "c"},
                        {"type": "Add", "inputs": ["input", "c"]})",
                     "inputs of shapes [10, 10, 4], [10, 10, 2] must all have the same shape");
  expect_layer_error(R"({"type": "Conv2D", "filters": 2, "kernel_size": 3, "name": "c"},
                        {"type": "Concatenate", "inputs": ["input", "c"]})",
                     "must have the same shape except on axis -1");
  expect_layer_error(R"({"type": "Add", "inputs": "input"})", "inputs=\"input\" must be a non-empty list");
}

// ---------------------------------------------------------------------------------------------
// 5. Keras's own model.to_json() and the published models of examples/models.

TEST(ModelKerasJson, Keras2FunctionalAndSequential) {
  // Keras 2 writes inbound nodes as [[["layer", node, tensor, {}], ...]] and the input as an InputLayer
  // with batch_input_shape; a Sequential model may carry it on its first layer instead.
  const Model functional = parse_model(R"({"class_name": "Functional", "config": {"name": "tiny", "layers": [
      {"class_name": "InputLayer", "config": {"batch_input_shape": [null, 8, 8, 3], "name": "input_1"},
       "name": "input_1", "inbound_nodes": []},
      {"class_name": "Conv2D", "config": {"name": "conv", "trainable": true, "dtype": "float32", "filters": 3,
       "kernel_size": [3, 3], "padding": "same", "activation": "relu"}, "name": "conv",
       "inbound_nodes": [[["input_1", 0, 0, {}]]]},
      {"class_name": "Add", "config": {"name": "add"}, "name": "add",
       "inbound_nodes": [[["input_1", 0, 0, {}], ["conv", 0, 0, {}]]]}],
      "input_layers": [["input_1", 0, 0]], "output_layers": [["add", 0, 0]]}, "keras_version": "2.13.1"})");
  EXPECT_EQ(functional.name, "tiny");
  EXPECT_EQ(functional.input_shape, (Shape{8, 8, 3}));
  ASSERT_EQ(functional.layers.size(), 2u);
  EXPECT_EQ(functional.layers[1].inputs, (std::vector<TensorIndex>{0, 1}));
  EXPECT_EQ(functional.total_params(), 84);
  const Model sequential = parse_model(R"({"class_name": "Sequential", "config": {"name": "s", "layers": [
      {"class_name": "Conv1D", "config": {"name": "c", "filters": 2, "kernel_size": [3], "batch_input_shape": [null, 9, 1]}},
      {"class_name": "GlobalMaxPooling1D", "config": {"name": "g"}}]}})");
  EXPECT_EQ(sequential.output_shape(), (Shape{2}));
  // Keras 3's Sequential: an InputLayer with batch_shape.
  const Model keras3 = parse_model(R"({"class_name": "Sequential", "config": {"layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 4, 4, 2], "name": "input_layer"}},
      {"class_name": "Flatten", "config": {"name": "flatten"}}]}})");
  EXPECT_EQ(keras3.output_shape(), (Shape{32}));
  expect_error(R"({"class_name": "Sequential", "config": {"layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 4, 2]}},
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 4, 2]}}]}})",
               "a second InputLayer; convkit summarises models of one input");
  expect_error(R"({"class_name": "Sequential", "config": {"layers": [{"class_name": "Flatten", "config": {}}]}})",
               "no InputLayer");
  expect_error(R"({"class_name": "Functional", "config": {"layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 4, 2], "name": "in"}},
      {"class_name": "Dense", "config": {"name": "d", "units": 2}, "inbound_nodes": [[["in", 0, 0, {}]], [["in", 1, 0, {}]]]}]}})",
               "the layer is called 2 times (shared)");
  expect_error(R"({"class_name": "Sequential", "config": {"layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, null, 2]}}]}})",
               "has an unknown size (null)");
  // Keras 3 nodes: a merge's tensors are one list argument; a malformed tensor is named.
  const Model merged = parse_model(R"({"class_name": "Functional", "config": {"layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 3, 2], "name": "in"}, "name": "in"},
      {"class_name": "Maximum", "config": {"name": "m"}, "name": "m", "inbound_nodes": [{"args": [[
        {"class_name": "__keras_tensor__", "config": {"keras_history": ["in", 0, 0]}},
        {"class_name": "__keras_tensor__", "config": {"keras_history": ["in", 0, 0]}}]], "kwargs": {}}]}]}})");
  EXPECT_EQ(merged.layers.at(0).inputs, (std::vector<TensorIndex>{0, 0}));
  expect_error(R"({"class_name": "Functional", "config": {"layers": [
      {"class_name": "InputLayer", "config": {"batch_shape": [null, 3, 2], "name": "in"}, "name": "in"},
      {"class_name": "ReLU", "config": {}, "name": "r", "inbound_nodes": [{"args": [
        {"class_name": "__keras_tensor__", "config": {"shape": [3, 2]}}]}]}]}})",
               "config.layers[1] (ReLU): a __keras_tensor__ needs config.keras_history");
  expect_error(R"({"class_name": "Functional", "config": {"layers": [{"class_name": 5, "config": {}}]}})",
               "config.layers[0] must be an object with \"class_name\" and \"config\"");
}

const std::string kModels = std::string(CONVKIT_SOURCE_DIR) + "/examples/models/";

TEST(ModelKerasJson, Vgg16IsKerasExactly) {
  // keras.applications.VGG16(): "Total params: 138,357,544" (the Keras applications table: 138.4M).
  const Model model = read_model(kModels + "vgg16.json");
  EXPECT_EQ(model.layers.size(), 22u);  // Keras's 23 less the InputLayer
  EXPECT_EQ(model.total_params(), 138357544);
  EXPECT_EQ(model.total_non_trainable_params(), 0);
  EXPECT_EQ(model.layers[17].output_shape, (Shape{7, 7, 512}));  // block5_pool
  EXPECT_EQ(model.layers[17].receptive_field, (std::vector<double>{212, 212}));  // VGG16's well-known 212
  // 13 convolutions 15,346,630,656 + 3 Dense 123,633,664; Howard et al. 2017 (MobileNets, Table 10) give
  // 15,300 million mult-adds for VGG16.
  EXPECT_EQ(model.total_macs(), 15470264320);
  EXPECT_NEAR(static_cast<double>(model.total_macs()) / 15.3e9, 1.0, 0.02);
}

TEST(ModelKerasJson, MobileNetIsKerasExactly) {
  // keras.applications.MobileNet(): 4,253,864 params, 4,231,976 trainable, 21,888 non-trainable.
  const Model model = read_model(kModels + "mobilenet.json");
  EXPECT_EQ(model.total_params(), 4253864);
  EXPECT_EQ(model.total_trainable_params(), 4231976);
  EXPECT_EQ(model.total_non_trainable_params(), 21888);
  EXPECT_EQ(model.output_shape(), (Shape{1000}));
  // Howard et al. 2017, Table 8: 1.0 MobileNet-224 has 569 million mult-adds.
  EXPECT_EQ(model.total_macs(), 568740352);
  EXPECT_NEAR(static_cast<double>(model.total_macs()) / 569e6, 1.0, 0.001);
}

TEST(ModelKerasJson, ResNet50IsKerasExactly) {
  // keras.applications.ResNet50(): 25,636,712 params, 25,583,592 trainable, 53,120 non-trainable.
  const Model model = read_model(kModels + "resnet50.json");
  EXPECT_EQ(model.total_params(), 25636712);
  EXPECT_EQ(model.total_trainable_params(), 25583592);
  EXPECT_EQ(model.total_non_trainable_params(), 53120);
  EXPECT_EQ(model.output_shape(), (Shape{1000}));
  int adds = 0;
  for (const ModelLayer& layer : model.layers) adds += layer.type == "Add" ? 1 : 0;
  EXPECT_EQ(adds, 16);  // 3 + 4 + 6 + 3 bottleneck blocks
  // He et al. 2016 (Deep Residual Learning, Table 1): 3.8 x 10^9 FLOPs (multiply-adds) for ResNet-50.
  EXPECT_EQ(model.total_macs(), 3857973248);
  EXPECT_NEAR(static_cast<double>(model.total_macs()) / 3.8e9, 1.0, 0.02);
}

TEST(ModelKerasJson, C3dIs3D) {
  // Tran et al. 2015: 8 3x3x3 convolutions (64, 128, 256 x2, 512 x4), pool1 1x2x2, then 2x2x2; fc6/fc7
  // 4096, 487 Sports-1M classes. conv: 27,655,936; fc6 8192*4096+4096; fc7 4096*4096+4096; fc8 4096*487+487.
  const Model model = read_model(kModels + "c3d.json");
  EXPECT_EQ(model.input_shape, (Shape{16, 112, 112, 3}));
  EXPECT_EQ(model.total_params(), 27655936 + 33558528 + 16781312 + 1995239);
  const auto pool5 = std::find_if(model.layers.begin(), model.layers.end(),
                                  [](const ModelLayer& layer) { return layer.name == "pool5"; });
  ASSERT_NE(pool5, model.layers.end());
  EXPECT_EQ(pool5->output_shape, (Shape{1, 4, 4, 512}));
  EXPECT_EQ(model.layers[0].receptive_field, (std::vector<double>{3, 3, 3}));
  EXPECT_EQ(model.layers[1].receptive_field, (std::vector<double>{3, 4, 4}));
}

}  // namespace
}  // namespace convkit
