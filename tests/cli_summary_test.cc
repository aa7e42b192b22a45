// End-to-end tests of `convkit summary`: the model table and its JSON (parsed back), the one-layer mode
// with every --kind, --compare with the seeds' numbers, and the error paths (exit status 2, one line).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "cli_test_support.h"
#include "convkit/convkit.h"

namespace convkit {
namespace {

using Json = nlohmann::json;
using testing::run_cli;
using testing::ScratchDir;

const std::string kExampleModel = std::string(CONVKIT_SOURCE_DIR) + "/examples/models/mobilenet_like.json";

// Runs `convkit summary <arguments> --json` and parses its output.
Json summary_json(const std::string& arguments) {
  const auto result = run_cli("summary " + arguments + " --json");
  EXPECT_EQ(result.status, 0) << result.output;
  return result.status == 0 ? Json::parse(result.output) : Json();
}

std::string summary_text(const std::string& arguments) {
  const auto result = run_cli("summary " + arguments);
  EXPECT_EQ(result.status, 0) << result.output;
  return result.output;
}

void expect_failure(const std::string& arguments, const std::string& fragment) {
  const auto result = run_cli("summary " + arguments);
  EXPECT_EQ(result.status, 2) << result.output;
  EXPECT_NE(result.output.find(fragment), std::string::npos) << result.output;
  EXPECT_EQ(result.output.rfind("convkit: error: ", 0), 0u) << result.output;
  EXPECT_EQ(result.output.find('\n'), result.output.size() - 1) << "expected one line: " << result.output;
}

void expect_contains(const std::string& text, const std::string& fragment) {
  EXPECT_NE(text.find(fragment), std::string::npos) << "missing '" << fragment << "' in\n" << text;
}

Json shape_json(const Shape& shape) { return Json(std::vector<int64_t>(shape.begin(), shape.end())); }

TEST(CliSummary, ModelTable) {
  const std::string text = summary_text(kExampleModel);
  expect_contains(text, "Model: \"mobilenet_like\"");
  expect_contains(text, "Input shape: (224, 224, 3), channels_last");
  for (const char* header : {"Layer (type)", "Output Shape", "Param #", "MACs", "Receptive field"})
    expect_contains(text, header);
  // Conv2D(32, 3, strides=2, padding="same", use_bias=False) on 224x224x3: 864 params, 112*112*32*27 MACs.
  expect_contains(text, " conv2d (Conv2D)");
  expect_contains(text, "(112, 112, 32)");
  expect_contains(text, "10,838,016");
  expect_contains(text, "separable_conv2d_1 (SeparableConv2D)");
  const Model model = read_model(kExampleModel);
  expect_contains(text, "Total params: 211,328");
  EXPECT_EQ(model.total_params(), 211328);
  expect_contains(text, "Total MACs: 264,828,928");
  EXPECT_EQ(model.total_macs(), 264828928);
}

TEST(CliSummary, ModelJsonHasExactlyTheDocumentedFields) {
  const Json summary = summary_json(kExampleModel);
  const Model model = read_model(kExampleModel);
  ASSERT_TRUE(summary.is_object());
  EXPECT_EQ(summary.size(), 2u);
  ASSERT_TRUE(summary.at("layers").is_array());
  ASSERT_EQ(summary.at("layers").size(), model.layers.size());
  const std::set<std::string> fields{"name",   "type", "inputs", "input_shape", "output_shape",
                                     "params", "non_trainable_params", "macs"};
  for (size_t i = 0; i < model.layers.size(); ++i) {
    const Json& layer = summary.at("layers")[i];
    std::set<std::string> keys;
    for (const auto& [key, value] : layer.items()) keys.insert(key);
    EXPECT_EQ(keys, fields);
    EXPECT_EQ(layer.at("name"), model.layers[i].name);
    EXPECT_EQ(layer.at("type"), model.layers[i].type);
    EXPECT_EQ(layer.at("input_shape"), shape_json(model.layers[i].input_shape));
    EXPECT_EQ(layer.at("output_shape"), shape_json(model.layers[i].output_shape));
    EXPECT_EQ(layer.at("params"), model.layers[i].params);
    EXPECT_EQ(layer.at("macs"), model.layers[i].macs);
    EXPECT_EQ(layer.at("inputs"), Json({i == 0 ? "input" : model.layers[i - 1].name}));
  }
  EXPECT_EQ(summary.at("layers")[0].at("params"), 864);
  EXPECT_EQ(summary.at("layers")[0].at("input_shape"), Json({224, 224, 3}));
  EXPECT_EQ(summary.at("total"), Json({{"params", 211328},
                                       {"trainable_params", 211328},
                                       {"non_trainable_params", 0},
                                       {"macs", 264828928}}));
}

TEST(CliSummary, KerasModelsPrintKerasTotals) {
  // keras.applications.ResNet50().summary() ends with these three lines; a functional model's table has
  // Keras's "Connected to" column.
  const std::string models = std::string(CONVKIT_SOURCE_DIR) + "/examples/models/";
  const std::string resnet = summary_text(models + "resnet50.json");
  expect_contains(resnet, "Model: \"resnet50\"");
  expect_contains(resnet, "Total params: 25,636,712\nTrainable params: 25,583,592\nNon-trainable params: 53,120\n");
  expect_contains(resnet, "Connected to");
  expect_contains(resnet, "conv2_block1_0_bn, conv2_block1_3_bn");
  expect_contains(resnet, "Total MACs: 3,857,973,248");
  const std::string vgg = summary_text(models + "vgg16.json");
  expect_contains(vgg, "Total params: 138,357,544\nTrainable params: 138,357,544\nNon-trainable params: 0\n");
  expect_contains(vgg, " flatten (Flatten)            (25088,)");
  EXPECT_EQ(vgg.find("Connected to"), std::string::npos) << "a sequential stack has no Connected to column";
  const Json mobilenet = summary_json(models + "mobilenet.json");
  EXPECT_EQ(mobilenet.at("total"), Json({{"params", 4253864},
                                         {"trainable_params", 4231976},
                                         {"non_trainable_params", 21888},
                                         {"macs", 568740352}}));
  const Json c3d = summary_json(models + "c3d.json");
  EXPECT_EQ(c3d.at("layers")[0].at("inputs"), Json({"input"}));
  EXPECT_EQ(c3d.at("layers")[0].at("output_shape"), Json({16, 112, 112, 64}));
}

TEST(CliSummary, OneLayerReadsTheShapeInLayoutOrder) {
  // Conv2D(64, 3) on a 224x224 RGB image: 1,792 params; channels_first by default, as `convkit conv`.
  Json first = summary_json("--input-shape 3,224,224 --out-channels 64 --kernel 3");
  ASSERT_EQ(first.at("layers").size(), 1u);
  EXPECT_EQ(first.at("layers")[0].at("name"), "conv2d");
  EXPECT_EQ(first.at("layers")[0].at("type"), "Conv2D");
  EXPECT_EQ(first.at("layers")[0].at("input_shape"), Json({3, 224, 224}));
  EXPECT_EQ(first.at("layers")[0].at("output_shape"), Json({64, 222, 222}));
  EXPECT_EQ(first.at("total").at("params"), 1792);
  const int64_t macs = int64_t{222} * 222 * 64 * 27;
  EXPECT_EQ(first.at("total").at("macs"), macs);
  const Json last = summary_json("--layout channels_last --input-shape 224,224,3 --out-channels 64 --kernel 3");
  EXPECT_EQ(last.at("layers")[0].at("output_shape"), Json({222, 222, 64}));
  EXPECT_EQ(last.at("total"), first.at("total"));
  // With one kernel size per axis, a leading batch is recognised; MACs count every sample.
  const Json batched = summary_json("--input-shape 4,3,224,224 --out-channels 64 --kernel 3,3");
  EXPECT_EQ(batched.at("layers")[0].at("input_shape"), Json({3, 224, 224}));
  EXPECT_EQ(batched.at("total").at("macs"), 4 * macs);
  expect_contains(summary_text("--input-shape 4,3,224,224 --out-channels 64 --kernel 3,3"), "batch 4");
  // Without --layout the input line says which layout --input-shape was read in, and how to get Keras's.
  expect_contains(summary_text("--input-shape 3,224,224 --out-channels 64 --kernel 3"),
                  "Input shape: (3, 224, 224), channels_first (the default of --input-shape, as convkit conv; "
                  "--layout channels_last reads spatial...,C as MODEL.json and Keras do)");
  const std::string told = summary_text("--layout channels_last --input-shape 224,224,3 --out-channels 64 --kernel 3");
  expect_contains(told, "Input shape: (224, 224, 3), channels_last\n");
  // --no-bias and the conv options.
  EXPECT_EQ(summary_json("--input-shape 3,224,224 --out-channels 64 --kernel 3 --no-bias").at("total").at("params"),
            1728);
  const Json strided = summary_json("--input-shape 3,224,224 --out-channels 64 --kernel 7 --stride 2 --padding 3");
  EXPECT_EQ(strided.at("layers")[0].at("output_shape"), Json({64, 112, 112}));
  EXPECT_EQ(summary_json("--input-shape 4,50 --out-channels 8 --kernel 3 --dilation 2 --padding same --groups 2")
                .at("layers")[0]
                .at("output_shape"),
            Json({8, 50}));
}

TEST(CliSummary, OneLayerKinds) {
  // Each --kind against the library's own composite on the same layer.
  const ConvSpec layer{.rank = 2, .in_channels = 4, .out_channels = 8, .kernel = {3, 3}, .groups = 2, .bias = true};
  const Shape input{1, 4, 9, 9};
  ConvSpec transposed = layer;
  transposed.transposed = true;
  transposed.stride = {2, 2};
  transposed.output_padding = {1, 1};
  const std::string base = "--input-shape 4,9,9 --out-channels 8 --kernel 3 --groups 2 ";
  const struct {
    std::string options, type;
    Composite expected;
  } cases[] = {
      {"--kind conv", "Conv2D", single_layer(layer)},
      {"--kind transposed --stride 2 --output-padding 1", "Conv2DTranspose", single_layer(transposed)},
      {"--transposed --stride 2 --output-padding 1", "Conv2DTranspose", single_layer(transposed)},
      {"--kind spatial-separable", "SpatialSeparableConv2D", spatial_separable(layer)},
      {"--kind flattened", "FlattenedConv2D", flattened(layer)},
      {"--kind shuffle-grouped", "ShuffleGroupedConv2D", shuffle_grouped_layer(layer)},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.options);
    const Json summary = summary_json(base + c.options);
    const CompositeCost cost = composite_cost(c.expected, input);
    ASSERT_EQ(summary.at("layers").size(), 1u);
    EXPECT_EQ(summary.at("layers")[0].at("type"), c.type);
    EXPECT_EQ(summary.at("layers")[0].at("name"), keras_snake_case(c.type));
    EXPECT_EQ(summary.at("layers")[0].at("output_shape"),
              shape_json(Shape(cost.total.output_shape.begin() + 1, cost.total.output_shape.end())));
    EXPECT_EQ(summary.at("total").at("params"), cost.total.params());
    EXPECT_EQ(summary.at("total").at("macs"), cost.total.macs);
  }
  // Depthwise separable takes no groups; with --depth-multiplier 2: 9*4*2 + 8*8 weights + 8 biases.
  const Json separable = summary_json(
      "--input-shape 4,9,9 --out-channels 8 --kernel 3 --kind depthwise-separable "
      "--depth-multiplier 2");
  EXPECT_EQ(separable.at("layers")[0].at("type"), "SeparableConv2D");
  EXPECT_EQ(separable.at("total").at("params"), 72 + 64 + 8);
  // 1D and 3D layers name their rank.
  EXPECT_EQ(summary_json("--input-shape 2,16 --out-channels 4 --kernel 3 --kind flattened").at("layers")[0].at("type"),
            "FlattenedConv1D");
  EXPECT_EQ(summary_json("--input-shape 1,8,8,8 --out-channels 4 --kernel 3").at("layers")[0].at("type"), "Conv3D");
}

TEST(CliSummary, CompareReproducesTheSeeds) {
  // 7x7x3 -> 5x5x128 with 3x3 kernels: 86,400 multiplications vs 675 + 9,600 = 10,275.
  const std::string seven = "--layout channels_last --input-shape 7,7,3 --out-channels 128 --kernel 3 --compare";
  const std::string text = summary_text(seven);
  expect_contains(text, "86,400");
  expect_contains(text, "depthwise 675 + pointwise 9,600");
  expect_contains(text, "10,275");
  expect_contains(text, "0.119 (8.41x fewer)");
  const Json versions = summary_json(seven).at("versions");
  ASSERT_EQ(versions.size(), 3u);
  EXPECT_EQ(versions[0].at("name"), "standard");
  EXPECT_EQ(versions[0].at("macs"), 86400);
  EXPECT_EQ(versions[1].at("name"), "depthwise separable");
  EXPECT_EQ(versions[1].at("type"), "SeparableConv2D");
  EXPECT_EQ(versions[1].at("macs"), 10275);
  EXPECT_EQ(versions[1].at("stages"), Json::parse(R"([{"name": "depthwise", "macs": 675},
                                                       {"name": "pointwise", "macs": 9600}])"));
  EXPECT_NEAR(versions[1].at("macs_ratio").get<double>(), 10275.0 / 86400.0, 1e-12);
  EXPECT_EQ(versions[2].at("output_shape"), Json({5, 5, 128}));
  // A 3x3 kernel on a 5x5 image: 81 multiplications vs 45 + 27 = 72 spatially separable.
  const std::string five = "--input-shape 1,5,5 --out-channels 1 --kernel 3 --compare --no-bias";
  const Json small = summary_json(five).at("versions");
  EXPECT_EQ(small[0].at("macs"), 81);
  EXPECT_EQ(small[2].at("name"), "spatially separable");
  EXPECT_EQ(small[2].at("macs"), 72);
  EXPECT_EQ(small[2].at("params"), 6);
  expect_contains(summary_text(five), "vertical 45 + horizontal 27");
}

TEST(CliSummary, ErrorsExitWithStatus2) {
  ScratchDir dir;
  expect_failure(dir.file("missing.json"), "missing.json: cannot open for reading");
  std::ofstream(dir.file("bad.json")) << R"({"input_shape": [8, 8, 1], "layers": [{"type": "LSTM"}]})";
  expect_failure(dir.file("bad.json"), "layers[0]: unknown layer type \"LSTM\"");
  std::ofstream(dir.file("broken.json")) << "{\"input_shape\": [8, 8,";
  expect_failure(dir.file("broken.json"), "invalid JSON");
  expect_failure("", "give a MODEL.json, or --input-shape");
  expect_failure(kExampleModel + " --kernel 3", "--kernel describes one layer; it cannot be used with MODEL.json");
  expect_failure(kExampleModel + " --stride 2", "--stride describes one layer");
  expect_failure("--input-shape 3,8,8 --kernel 3", "--input-shape needs --out-channels and --kernel");
  expect_failure("--input-shape 3,8,8 --out-channels 4", "--input-shape needs --out-channels and --kernel");
  expect_failure("--input-shape 3,8,8 --out-channels 4 --kernel 3 --kind dense", "--kind='dense' is not recognised");
  expect_failure("--input-shape 3,8,8 --out-channels 4 --kernel 3 --kind flattened --compare", "--compare splits");
  expect_failure("--input-shape 3,8,8 --out-channels 4 --kernel 3 --kind flattened --transposed",
                 "--transposed cannot be combined with --kind flattened");
  expect_failure("--input-shape 4,8,8 --out-channels 4 --kernel 3 --kind depthwise-separable --groups 2",
                 "--groups=2 does not apply to --kind depthwise-separable");
  expect_failure("--input-shape 4,8,8 --out-channels 4 --kernel 3 --depth-multiplier 2",
                 "--depth-multiplier applies to --kind depthwise-separable");
  expect_failure("--input-shape 3,8,8 --out-channels 4 --kernel 3,3,3", "--input-shape=[3, 8, 8] has 3 sizes");
  expect_failure("--input-shape 3 --out-channels 4 --kernel 3", "--input-shape=[3] has 1 sizes");
  expect_failure("--input-shape 3,x --out-channels 4 --kernel 3", "--input-shape='3,x' is not a comma-separated list");
  expect_failure("--input-shape 3,8,8 --out-channels 4 --kernel 9", "larger than the padded input");
  expect_failure("--input-shape 3,8,8 --out-channels 4 --kernel 3 --groups 2",
                 "groups=2 does not divide in_channels=3");
  expect_failure("--input-shape 3,8,8 --out-channels 4 --kernel 3 --kind depthwise-separable --depth-multiplier 0",
                 "--depth-multiplier=0 must be between 1 and");
  expect_failure("--input-shape 3,99999999999,8 --out-channels 4 --kernel 3", "exceeds the largest size");
  expect_failure("--input-shape 0,3,8,8 --out-channels 4 --kernel 3,3", "batch=0 must be >= 1");
  // CLI11's own parse errors (both a model and --input-shape) also exit with 2.
  EXPECT_EQ(run_cli("summary " + kExampleModel + " --input-shape 3,8,8").status, 2);
}

TEST(CliSummary, Help) {
  const auto result = run_cli("summary --help");
  EXPECT_EQ(result.status, 0);
  for (const char* option :
       {"--input-shape", "--out-channels", "--kernel", "--kind", "--compare", "--json", "--layout"})
    expect_contains(result.output, option);
}

}  // namespace
}  // namespace convkit
