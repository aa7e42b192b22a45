// `convkit draw`: the diagrams' content read back from the SVG (cells of each kind counted, one frame
// per output position with the kernel's taps in it, the formula present), the static PNG and PDF, the
// errors, and the gallery (every file the index shows exists; opened in headless Chromium when present).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
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

struct Diagram {
  size_t input = 0, padding = 0, zeros = 0, output = 0;
  std::vector<size_t> taps_per_frame, outputs_per_frame;
};

// Counts the cells and, inside each animation frame's <g>, the kernel taps and highlighted outputs.
Diagram parse(const std::string& svg) {
  Diagram d{count(svg, "class=\"cell input\""), count(svg, "class=\"cell padding\""), count(svg, "class=\"cell zero\""),
            count(svg, "class=\"cell output\""), {}, {}};
  for (size_t at = svg.find("<g class=\"frame\""); at != std::string::npos; at = svg.find("<g class=\"frame\"", at + 1)) {
    const std::string frame = svg.substr(at, svg.find("</g>", at) - at);
    d.taps_per_frame.push_back(count(frame, "class=\"footprint\""));
    d.outputs_per_frame.push_back(count(frame, "class=\"footprint-output\""));
  }
  return d;
}

void expect_frames(const Diagram& d, size_t frames, size_t taps) {
  EXPECT_EQ(d.taps_per_frame.size(), frames);
  EXPECT_EQ(d.output, frames) << "one frame per output cell";
  for (size_t f = 0; f < d.taps_per_frame.size(); ++f) {
    EXPECT_EQ(d.taps_per_frame[f], taps) << "frame " << f;
    EXPECT_EQ(d.outputs_per_frame[f], 1u) << "frame " << f;
  }
}

TEST(CliDraw, StridedPaddedConvolution) {
  ScratchDir dir;
  const auto result = run_cli("draw --input-shape 5,5 --kernel 3 --stride 2 --padding 1 --output " + dir.file("s2p1.svg"));
  ASSERT_EQ(result.status, 0) << result.output;
  const std::string svg = read_text(dir.file("s2p1.svg"));
  const Diagram d = parse(svg);
  EXPECT_EQ(d.input, 25u);
  EXPECT_EQ(d.padding, 7u * 7u - 25u);
  EXPECT_EQ(d.zeros, 0u);
  expect_frames(d, 9, 9);
  EXPECT_EQ(count(svg, "<animate attributeName=\"visibility\""), 9u);
  const std::string formula = "H: out = floor((in + pad_begin + pad_end - dilation*(k - 1) - 1) / stride) + 1 = "
                              "floor((5 + 1 + 1 - 1*(3 - 1) - 1) / 2) + 1 = 3";
  EXPECT_NE(svg.find(formula), std::string::npos);
  EXPECT_NE(result.output.find(formula), std::string::npos) << result.output;
  EXPECT_NE(svg.find("rule: PyTorch torch.nn.Conv2d"), std::string::npos);
  EXPECT_NE(svg.find(">output (0, 0): frame 1 of 9</text>"), std::string::npos);
  EXPECT_NE(svg.find(">padding</text>"), std::string::npos);
}

TEST(CliDraw, TransposedShowsTheZeroInsertedDirectEquivalent) {
  ScratchDir dir;
  const auto result = run_cli("draw --input-shape 3,3 --kernel 3 --stride 2 --padding 1 --output-padding 1 --transposed "
                              "--output " + dir.file("t.svg"));
  ASSERT_EQ(result.status, 0) << result.output;
  const std::string svg = read_text(dir.file("t.svg"));
  const Diagram d = parse(svg);
  // 3 cells with one zero between: 5; pads 2*(3-1)/2... begin (k-1) - 1 = 1, end (k-1) - 1 + 1 = 2: 8 per axis.
  EXPECT_EQ(d.input, 9u);
  EXPECT_EQ(d.zeros, 5u * 5u - 9u);
  EXPECT_EQ(d.padding, 8u * 8u - 25u);
  expect_frames(d, 36, 9);
  EXPECT_NE(svg.find("= (3 - 1)*2 - 1 - 1 + 1*(3 - 1) + 1 + 1 = 6"), std::string::npos);
  EXPECT_NE(svg.find(">inserted zero</text>"), std::string::npos);
  EXPECT_NE(svg.find("kernel flipped"), std::string::npos);
}

TEST(CliDraw, DilationOneAndThreeDimensionsAndGroups) {
  ScratchDir dir;
  auto result = run_cli("draw --input-shape 7,7 --dilation 2 --output " + dir.file("d.svg"));
  ASSERT_EQ(result.status, 0) << result.output;
  std::string svg = read_text(dir.file("d.svg"));
  expect_frames(parse(svg), 9, 9);
  EXPECT_EQ(count(svg, "class=\"kernel-extent\""), 9u) << "the dilated kernel's 5x5 extent, holes inside";

  result = run_cli("draw --input-shape 8 --stride 2 --padding 1 --output " + dir.file("strip.svg"));
  ASSERT_EQ(result.status, 0) << result.output;
  Diagram d = parse(read_text(dir.file("strip.svg")));
  EXPECT_EQ(d.input, 8u);
  EXPECT_EQ(d.padding, 2u);
  expect_frames(d, 4, 3);

  result = run_cli("draw --input-shape 3,4,4 --kernel 2,3,3 --padding 0,1,1 --output " + dir.file("v.svg"));
  ASSERT_EQ(result.status, 0) << result.output;
  svg = read_text(dir.file("v.svg"));
  d = parse(svg);
  EXPECT_EQ(d.input, 3u * 4u * 4u);
  EXPECT_EQ(d.padding, 3u * 6u * 6u - 48u);
  expect_frames(d, 2 * 4 * 4, 2 * 3 * 3);
  EXPECT_EQ(count(svg, "class=\"slice-label\""), 3u + 2u);

  result = run_cli("draw --input-shape 5,5 --in-channels 3 --out-channels 6 --groups 3 --output " + dir.file("dw.svg"));
  ASSERT_EQ(result.status, 0) << result.output;
  svg = read_text(dir.file("dw.svg"));
  EXPECT_EQ(count(svg, "class=\"channel-in\""), 3u);
  EXPECT_EQ(count(svg, "class=\"channel-out\""), 6u);
  EXPECT_EQ(count(svg, "class=\"connection\""), 6u) << "each output channel sees its group's one input channel";
  EXPECT_NE(svg.find("depthwise: one input channel per group, multiplier 2"), std::string::npos);
}

TEST(CliDraw, StaticPngAndPdf) {
  ScratchDir dir;
  auto result = run_cli("draw --input-shape 5,5 --stride 2 --padding 1 --output " + dir.file("s.png"));
  ASSERT_EQ(result.status, 0) << result.output;
  const Tensor png = image::read(dir.file("s.png"));
  ASSERT_EQ(png.dim(0), 3);
  EXPECT_GE(png.dim(2), 620);
  // The first panel's kernel taps (blue) are there: count clearly blue pixels.
  int64_t blue = 0;
  for (int64_t y = 0; y < png.dim(1); ++y)
    for (int64_t x = 0; x < png.dim(2); ++x)
      blue += png.at({2, y, x}) > 150 && png.at({0, y, x}) < 140 ? 1 : 0;
  EXPECT_GT(blue, 9 * 9 * 20) << "nine panels of nine taps";
  result = run_cli("draw --input-shape 5,5 --output " + dir.file("s.pdf"));
  ASSERT_EQ(result.status, 0) << result.output;
  const std::string pdf = read_text(dir.file("s.pdf"));
  EXPECT_EQ(pdf.substr(0, 5), "%PDF-");
  EXPECT_NE(pdf.find("DejaVu"), std::string::npos);
}

TEST(CliDraw, ErrorsNameTheArgumentAndLeaveNoFile) {
  ScratchDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--input-shape 5,5 --groups 0 --output " + dir.file("a.svg"), "--groups=0 must be at least 1"},
      {"--input-shape 100,100 --output " + dir.file("a.svg"), "a diagram shows at most 48"},
      {"--input-shape 5,5 --output " + dir.file("a.gif"), "the extension '.gif' names no picture format"},
      {"--input-shape 5,5 --output " + dir.file("no/a.svg"), "cannot write: the directory"},
      {"--input-shape 2,2 --kernel 3 --output " + dir.file("a.svg"), "kernel"},
      {"--input-shape 5,x --output " + dir.file("a.svg"), "--input-shape='5,x' is not a comma-separated list"},
      {"--output " + dir.file("a.svg"), "draw needs --input-shape and --output"},
  };
  for (const auto& [arguments, message] : cases) {
    const auto result = run_cli("draw " + arguments);
    EXPECT_EQ(result.status, 2) << arguments << ": " << result.output;
    EXPECT_NE(result.output.find(message), std::string::npos) << arguments << ": " << result.output;
  }
  EXPECT_TRUE(dir.files().empty());
}

TEST(CliDraw, GalleryIndexShowsEveryCaseAndTheSeedsCounts) {
  ScratchDir dir;
  const auto result = run_cli("draw --gallery " + dir.file("gallery"));
  ASSERT_EQ(result.status, 0) << result.output;
  const std::string html = read_text(dir.file("gallery/index.html"));
  const std::regex image("<img src=\"([a-z0-9_]+)\\.svg\"");
  size_t figures = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), image); it != std::sregex_iterator(); ++it, ++figures) {
    const std::string stem = (*it)[1];
    EXPECT_TRUE(std::filesystem::exists(dir.file("gallery/" + stem + ".svg"))) << stem;
    EXPECT_TRUE(std::filesystem::exists(dir.file("gallery/" + stem + ".png"))) << stem;
  }
  EXPECT_EQ(figures, 24u);
  for (const char* stem : {"no_padding_no_strides", "same_padding", "full_padding", "padding_strides_transposed",
                           "dilation_transposed", "conv1d_strip", "conv3d_slices", "depthwise", "grouped"})
    EXPECT_NE(html.find(std::string("src=\"") + stem + ".svg\""), std::string::npos) << stem;
  // A transposed counterpart for every direct case.
  for (const char* stem : {"no_padding_no_strides", "same_padding", "full_padding", "no_padding_strides",
                           "padding_strides", "padding_strides_odd", "dilation"})
    EXPECT_NE(html.find(std::string("src=\"") + stem + "_transposed.svg\""), std::string::npos) << stem;
  const std::string separable = read_text(dir.file("gallery/depthwise_separable.svg"));
  EXPECT_NE(separable.find(">86,400 mults</text>"), std::string::npos);
  EXPECT_NE(separable.find("675 + 9,600 = 10,275"), std::string::npos);
  const std::string spatial = read_text(dir.file("gallery/spatially_separable.svg"));
  EXPECT_NE(spatial.find(">81 mults</text>"), std::string::npos);
  EXPECT_NE(spatial.find("45 + 27 = 72"), std::string::npos);
  EXPECT_NE(result.output.find("index.html"), std::string::npos);
}

TEST(CliDraw, GalleryRendersInHeadlessChromium) {
  if (std::system("command -v chromium >/dev/null 2>&1") != 0) GTEST_SKIP() << "chromium is not installed (Debian: chromium)";
  ScratchDir dir;
  ASSERT_EQ(run_cli("draw --gallery " + dir.file("g")).status, 0);
  const std::string shot = dir.file("shot.png");
  const std::string command = "timeout 120 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars "
                              "--window-size=1280,1600 --screenshot=" + shot + " file://" + dir.file("g/index.html") +
                              " >/dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  const Tensor png = image::read(shot);
  ASSERT_EQ(png.shape(), (Shape{3, 1600, 1280}));
  // The page shows its diagrams: many pixels of the input cells' blue and the output cells' green.
  int64_t blue = 0, green = 0;
  for (int64_t y = 0; y < png.dim(1); ++y)
    for (int64_t x = 0; x < png.dim(2); ++x) {
      const float r = png.at({0, y, x}), g = png.at({1, y, x}), b = png.at({2, y, x});
      blue += b > 220 && r < 215 && g < 235 ? 1 : 0;
      green += g > 220 && r < 225 && b < 225 ? 1 : 0;
    }
  EXPECT_GT(blue, 20000);
  EXPECT_GT(green, 5000);
}

}  // namespace
}  // namespace convkit
