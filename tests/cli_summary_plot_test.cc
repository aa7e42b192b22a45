// `convkit summary --plot`: the model as one box per layer (read back from the SVG), the --compare bar
// chart with the seeds' counts, and a bad --plot refused before anything is printed.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "cli_test_support.h"
#include "convkit/convkit.h"

namespace convkit {
namespace {

using testing::run_cli;
using testing::ScratchDir;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST(CliSummaryPlot, OneBoxPerLayerWithShapesParamsAndMacs) {
  ScratchDir dir;
  const std::string model = std::string(CONVKIT_SOURCE_DIR) + "/examples/models/mobilenet_like.json";
  const auto result = run_cli("summary " + model + " --plot " + dir.file("m.svg"));
  ASSERT_EQ(result.status, 0) << result.output;
  const std::string svg = read_text(dir.file("m.svg"));
  const Model parsed = read_model(model);
  EXPECT_EQ(count(svg, "class=\"layer\""), parsed.layers.size() + 1) << "the input and every layer";
  EXPECT_EQ(count(svg, "class=\"arrow\""), 2 * parsed.layers.size());
  for (const ModelLayer& layer : parsed.layers)
    EXPECT_NE(svg.find(">" + layer.name + " (" + layer.type + ")</text>"), std::string::npos) << layer.name;
  EXPECT_NE(svg.find(">output (112, 112, 32)   params 864   MACs 10.8 M</text>"), std::string::npos);
  EXPECT_NE(svg.find("total params 211,328, MACs 264,828,928"), std::string::npos);
  EXPECT_NE(result.output.find("Total params: 211,328"), std::string::npos) << "the table is printed too";
  // The same picture as PNG: its size follows the layer count.
  ASSERT_EQ(run_cli("summary " + model + " --plot " + dir.file("m.png")).status, 0);
  EXPECT_EQ(image::read(dir.file("m.png")).shape(), (Shape{3, 70 + 78 * static_cast<int64_t>(parsed.layers.size() + 1) + 10, 600}));
}

TEST(CliSummaryPlot, CompareDrawsTheSeedsCountsAsBars) {
  ScratchDir dir;
  const auto result = run_cli("summary --input-shape 7,7,3 --layout channels_last --out-channels 128 --kernel 3 "
                              "--no-bias --compare --plot " + dir.file("c.svg"));
  ASSERT_EQ(result.status, 0) << result.output;
  const std::string svg = read_text(dir.file("c.svg"));
  EXPECT_EQ(count(svg, "class=\"bar-label\""), 3u);
  EXPECT_EQ(count(svg, "class=\"bar\""), 1u + 2u + 2u) << "conv; depthwise + pointwise; vertical + horizontal";
  EXPECT_NE(svg.find(">86,400</text>"), std::string::npos);
  EXPECT_NE(svg.find(">10,275  (8.4x fewer)</text>"), std::string::npos);
  EXPECT_NE(svg.find(">multiply-accumulates (MACs) per forward pass</text>"), std::string::npos);
}

TEST(CliSummaryPlot, ABadPlotPathFailsBeforeTheSummary) {
  ScratchDir dir;
  const std::string model = std::string(CONVKIT_SOURCE_DIR) + "/examples/models/mobilenet_like.json";
  const auto result = run_cli("summary " + model + " --plot " + dir.file("m.jpg"));
  EXPECT_EQ(result.status, 2) << result.output;
  EXPECT_NE(result.output.find("--plot=" + dir.file("m.jpg") + ": the extension '.jpg' names no picture format"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(result.output.find("Total params"), std::string::npos) << result.output;
  EXPECT_TRUE(dir.files().empty());
}

}  // namespace
}  // namespace convkit
