// `convkit demo --out DIR`: the text tour runs and every picture and data file is written and readable.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "cli_test_support.h"
#include "convkit/convkit.h"

namespace convkit {
namespace {

struct Region {
  double mean = 0, spread = 0;  // over every channel of rows [y0, y1) and columns [x0, x1)
};

Region region_stats(const Tensor& image, int64_t y0, int64_t y1, int64_t x0, int64_t x1) {
  double sum = 0, squares = 0, n = 0;
  for (int64_t c = 0; c < image.dim(0); ++c)
    for (int64_t y = y0; y < std::min(y1, image.dim(1)); ++y)
      for (int64_t x = x0; x < std::min(x1, image.dim(2)); ++x) {
        const double v = image.at({c, y, x});
        sum += v, squares += v * v, n += 1;
      }
  const double mean = sum / std::max(n, 1.0);
  return {mean, std::sqrt(std::max(squares / std::max(n, 1.0) - mean * mean, 0.0))};
}

// The first column from `x` on whose pixel in row `y` is not white (a panel's left edge).
int64_t first_ink(const Tensor& image, int64_t y, int64_t x) {
  for (; x < image.dim(2); ++x)
    for (int64_t c = 0; c < image.dim(0); ++c)
      if (image.at({c, y, x}) < 250.0f) return x;
  return x;
}

TEST(CliDemo, AnUnwritableOutFolderFailsBeforeAnyWork) {
  const testing::ScratchDir dir;
  std::fclose(std::fopen(dir.file("a-file").c_str(), "w"));
  const auto result = testing::run_cli("demo --out " + dir.file("a-file") + "/pictures");
  EXPECT_EQ(result.status, 2) << result.output;
  EXPECT_NE(result.output.find("convkit: error: --out=" + dir.file("a-file") + "/pictures: cannot create the directory"),
            std::string::npos)
      << result.output;
  EXPECT_EQ(result.output.find("Summary"), std::string::npos) << "the tour ran before the check";
}

TEST(CliDemo, WritesThePicturesAndData) {
  const testing::ScratchDir dir;
  const auto result = testing::run_cli("demo --out " + dir.file("pictures"));
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("Summary"), std::string::npos);
  EXPECT_NE(result.output.find("Files written to"), std::string::npos);
  const auto file = [&](const std::string& name) { return dir.file("pictures/" + name); };
  // Each filter's figure: the input and the output panel side by side (128x128 shown 2x) under a title,
  // with captions; the two panels differ (the filter ran) and neither is blank.
  for (const char* name : {"scene-edge.png", "scene-blur.png", "scene-sharpen.png", "scene-sobel.png", "scene-emboss.png"}) {
    SCOPED_TRACE(name);
    const Tensor figure = image::read(file(name));
    ASSERT_EQ(figure.dim(0), 3);
    EXPECT_GE(figure.dim(2), 2 * 256);
    EXPECT_GE(figure.dim(1), 256 + 40);
    EXPECT_NE(result.output.find(name), std::string::npos);
    const int64_t w = figure.dim(2), y0 = 40;  // the panels' top (under the title)
    const int64_t left = first_ink(figure, y0 + 100, 0), right = first_ink(figure, y0 + 100, w / 2);
    const Region input = region_stats(figure, y0, y0 + 256, left, left + 256);
    const Region output = region_stats(figure, y0, y0 + 256, right, right + 256);
    EXPECT_GT(input.spread, 20.0);
    EXPECT_GT(output.spread, 20.0);
    double difference = 0;  // mean |output - input| over the aligned panels
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = y0; y < y0 + 256; ++y)
        for (int64_t x = 0; x < 256; ++x)
          difference += std::fabs(figure.at({c, y, right + x}) - figure.at({c, y, left + x})) / (3 * 256 * 256);
    EXPECT_GT(difference, 2.0);
  }
  const Tensor scene = image::read(file("scene.png"));
  EXPECT_GE(scene.dim(2), 256);
  EXPECT_GT(region_stats(scene, 40, 40 + 256, 0, scene.dim(2)).spread, 20.0);
  // Three charts of 300 px under a 36 px title, 900 px wide; each chart's plot area is not blank.
  const Tensor accel = image::read(file("accel-smoothing.png"));
  EXPECT_EQ(accel.shape(), (Shape{3, 36 + 3 * 300, 900}));
  for (int64_t chart = 0; chart < 3; ++chart)
    EXPECT_GT(region_stats(accel, 36 + chart * 300 + 60, 36 + chart * 300 + 240, 100, 850).spread, 10.0) << chart;
  const Tensor loss = image::read(file("learn-kernel-loss.png"));
  EXPECT_EQ(loss.shape(), (Shape{3, 36 + 420, 720}));
  EXPECT_NE(result.output.find("learns g reversed"), std::string::npos);
  // Six depths by three rows of 32x32 slices shown 4x, with captions.
  const Tensor slices = image::read(file("volume-slices.png"));
  EXPECT_EQ(slices.dim(0), 3);
  EXPECT_GT(slices.dim(1), 3 * 128);
  EXPECT_GT(slices.dim(2), 6 * 128);
  EXPECT_NE(result.output.find("depths 4..27 about the centre"), std::string::npos);
  EXPECT_NE(result.output.find("Gallery:  " + dir.file("pictures") + "/gallery/index.html"), std::string::npos)
      << result.output;
  EXPECT_TRUE(std::filesystem::exists(dir.file("pictures/gallery/depthwise_separable.svg")));
  EXPECT_EQ(csv::read(file("accel.csv")).values.shape(), (Shape{3, 500}));
  EXPECT_EQ(npy::read(file("volume.npy")).shape(), (Shape{32, 32, 32}));
}

}  // namespace
}  // namespace convkit
