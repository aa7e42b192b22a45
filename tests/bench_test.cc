// The pieces of `convkit bench`: the suite reader and its messages, the layouts of the benchmark data,
// the error measure and the timing loop's bookkeeping (never its times).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "bench/data.h"
#include "bench/suite.h"
#include "bench/timing.h"
#include "convkit/convkit.h"

namespace convkit::cli {
namespace {

const std::string kTinySuite = std::string(CONVKIT_SOURCE_DIR) + "/tests/data/bench_tiny.json";

// A one-layer suite with `fields` (JSON members, comma-separated) after the name.
std::string one_layer(const std::string& fields) {
  return R"({"layers": [{"name": "l", )" + fields + "}]}";
}

// parse_suite must fail with every fragment in its message.
void expect_suite_error(const std::string& text, std::initializer_list<std::string> fragments) {
  try {
    parse_suite(text, "test.json");
    ADD_FAILURE() << "no error for " << text;
  } catch (const Error& e) {
    for (const auto& fragment : fragments)
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what() << "\nlacks: " << fragment;
  }
}

TEST(BenchSuite, ReadsTheRepositorySuite) {
  const BenchSuite suite = read_suite(std::string(CONVKIT_SOURCE_DIR) + "/bench/layers.json");
  ASSERT_GE(suite.layers.size(), 20u);
  EXPECT_NE(suite.note.find("ONNX"), std::string::npos);
  const BenchLayer& stem = suite.layers.front();
  EXPECT_EQ(stem.name, "resnet50.conv1.7x7s2");
  EXPECT_EQ(stem.input, (Shape{1, 3, 224, 224}));
  EXPECT_EQ(stem.padding, (std::vector<int64_t>{3, 3, 3, 3}));
  EXPECT_TRUE(stem.bias);  // absent from the file: the default
  const ConvSpec spec = stem.spec(Layout::channels_last);
  EXPECT_EQ(output_shape(spec, stem.input_shape(Layout::channels_last)), (Shape{1, 112, 112, 64}));
  EXPECT_EQ(conv_cost(spec, stem.input_shape(Layout::channels_last)).macs, 112LL * 112 * 64 * 3 * 7 * 7);
}

TEST(BenchSuite, OptionalFieldsTakeTheirDefaults) {
  const BenchSuite suite = parse_suite(one_layer(R"("input": [2, 4, 9], "out_channels": 6, "kernel": [3])"), "t");
  const BenchLayer& layer = suite.layers.at(0);
  EXPECT_EQ(layer.stride, (std::vector<int64_t>{1}));
  EXPECT_EQ(layer.dilation, (std::vector<int64_t>{1}));
  EXPECT_EQ(layer.padding, (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(layer.output_padding, (std::vector<int64_t>{0}));
  EXPECT_EQ(layer.groups, 1);
  EXPECT_FALSE(layer.transposed);
}

TEST(BenchSuite, BadFilesNameTheFileLayerAndField) {
  expect_suite_error("{\"layers\": [", {"test.json", "not valid JSON"});
  expect_suite_error("[]", {"expected a JSON object"});
  expect_suite_error(R"({"layers": []})", {"non-empty list of layers"});
  expect_suite_error(R"({"version": 2, "layers": []})", {"\"version\"=2"});
  expect_suite_error(R"({"dtype": "float16", "layers": []})", {"float16"});
  expect_suite_error(R"({"layers": [{"input": [1, 1, 4]}]})", {"layer 0", "\"name\" is missing"});
  expect_suite_error(one_layer(R"("input": [1, 2], "out_channels": 1, "kernel": [1])"),
                     {"layer 0 (\"l\")", "\"input\"", "3, 4 or 5"});
  expect_suite_error(one_layer(R"("input": [1, 2, 8, 8], "out_channels": 1, "kernel": [3])"),
                     {"\"kernel\"", "list of 2 integers"});
  expect_suite_error(one_layer(R"("input": [1, 2, 8], "out_channels": 1, "kernel": [3], "padding": [1])"),
                     {"\"padding\"", "list of 2 integers"});
  expect_suite_error(one_layer(R"("input": [1, 2, 8], "out_channels": 1, "kernel": [3], "groups": "2")"),
                     {"\"groups\" must be an integer"});
  expect_suite_error(one_layer(R"("input": [1, 2, 8], "out_channels": 1, "kernel": [3], "transposed": 1)"),
                     {"\"transposed\" must be true or false"});
  expect_suite_error(one_layer(R"("input": [1, 4, 8], "out_channels": 6, "kernel": [3], "groups": 3)"),
                     {"layer 0 (\"l\")", "groups=3"});
  expect_suite_error(one_layer(R"("input": [1, 1, 2], "out_channels": 1, "kernel": [5])"), {"layer 0 (\"l\")"});
  expect_suite_error(R"({"layers": [{"name": "a", "input": [1, 1, 4], "out_channels": 1, "kernel": [1]},
                                    {"name": "a", "input": [1, 1, 4], "out_channels": 1, "kernel": [1]}]})",
                     {"layer 1", "\"a\" is used twice"});
}

TEST(BenchSuite, MissingFileIsAnError) {
  EXPECT_THROW(read_suite(std::string(CONVKIT_SOURCE_DIR) + "/tests/data/no-such-suite.json"), Error);
}

// The channels_last data must describe the same convolution: the reference engine's output in
// channels_last, permuted back, equals its channels_first output on every layer of the tiny suite.
TEST(BenchData, EveryLayoutComputesTheSameConvolution) {
  const BenchSuite suite = read_suite(kTinySuite);
  for (const BenchLayer& layer : suite.layers) {
    SCOPED_TRACE(layer.name);
    const LayerData data = random_layer_data(layer, 7);
    const std::optional<ConstTensorView> bias = data.bias_view();
    const Tensor expected =
        reference::convolution(layer.spec(Layout::channels_first), data.input, data.weight, bias);
    const Tensor input = activation_in_layout(data.input, Layout::channels_last);
    EXPECT_EQ(input.shape(), layer.input_shape(Layout::channels_last));
    const Tensor output = reference::convolution(layer.spec(Layout::channels_last), input,
                                                 weight_in_layout(data.weight, Layout::channels_last), bias);
    const Tensor back = activation_channels_first(output, Layout::channels_last);
    ASSERT_EQ(back.shape(), expected.shape());
    EXPECT_LT(relative_error(back, expected), 1e-6);
  }
}

TEST(BenchData, SameSeedSameData) {
  const BenchLayer layer = read_suite(kTinySuite).layers.at(0);
  EXPECT_EQ(random_layer_data(layer, 3).weight.values(), random_layer_data(layer, 3).weight.values());
  EXPECT_NE(random_layer_data(layer, 3).weight.values(), random_layer_data(layer, 4).weight.values());
}

TEST(BenchData, RelativeErrorIsScaledByTheExpectedOutput) {
  const Tensor expected(Shape{4}, std::vector<float>{1, -4, 2, 0});
  EXPECT_EQ(relative_error(expected, expected), 0.0);
  EXPECT_DOUBLE_EQ(relative_error(Tensor(Shape{4}, std::vector<float>{1, -4, 3, 0}), expected), 0.25);
  EXPECT_EQ(relative_error(Tensor(Shape{4}, std::vector<float>{1, NAN, 2, 0}), expected), HUGE_VAL);
  EXPECT_EQ(relative_error(Tensor(Shape{1}, 1.0f), Tensor(Shape{1}, 0.0f)), HUGE_VAL);
  EXPECT_THROW(relative_error(Tensor(Shape{3}), expected), Error);
}

TEST(BenchTiming, MedianOfOddAndEvenCounts) {
  EXPECT_EQ(median({}), 0.0);
  EXPECT_EQ(median({3, 1, 2}), 2.0);
  EXPECT_EQ(median({4, 1, 3, 2}), 2.5);
}

// Each run gets one untimed call per round (3) and at least min_repetitions timed calls; the statistics
// are ordered.
TEST(BenchTiming, RunsEveryImplementationEnoughTimes) {
  int calls[2] = {0, 0};
  const std::vector<std::function<void()>> runs{[&] { ++calls[0]; }, [&] { ++calls[1]; }};
  const auto timings = measure(runs, {.min_seconds = 0, .min_repetitions = 7});
  ASSERT_EQ(timings.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(timings[i].repetitions, 7);
    EXPECT_EQ(calls[i], 7 + 3);
    EXPECT_LE(timings[i].min_ms, timings[i].median_ms);
    EXPECT_LE(timings[i].median_ms, timings[i].max_ms);
  }
  EXPECT_EQ(measure(runs, {.min_seconds = 0, .min_repetitions = 0}).at(0).repetitions, 1);
}

}  // namespace
}  // namespace convkit::cli
