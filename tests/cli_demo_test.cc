// `convkit demo --out DIR`: the text tour runs and every picture and data file is written and readable.
#include <gtest/gtest.h>

#include "cli_test_support.h"
#include "convkit/convkit.h"

namespace convkit {
namespace {

TEST(CliDemo, WritesThePicturesAndData) {
  const testing::ScratchDir dir;
  const auto result = testing::run_cli("demo --out " + dir.file("pictures"));
  ASSERT_EQ(result.status, 0) << result.output;
  EXPECT_NE(result.output.find("Summary"), std::string::npos);
  EXPECT_NE(result.output.find("Files written to"), std::string::npos);
  const auto file = [&](const std::string& name) { return dir.file("pictures/" + name); };
  for (const char* name :
       {"scene.png", "scene-edge.png", "scene-blur.png", "scene-sharpen.png", "scene-sobel.png", "scene-emboss.png"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(image::read(file(name)).shape(), (Shape{3, 128, 128}));
    EXPECT_NE(result.output.find(name), std::string::npos);
  }
  EXPECT_EQ(image::read(file("accel-smoothing.png")).shape(), (Shape{3, 480, 800}));
  EXPECT_EQ(image::read(file("learn-kernel-loss.png")).dim(0), 3);
  EXPECT_NE(result.output.find("learns g reversed"), std::string::npos);
  const Tensor slices = image::read(file("volume-slices.png"));
  EXPECT_EQ(slices.dim(0), 1);
  EXPECT_GT(slices.dim(1), 3 * 32);
  EXPECT_EQ(csv::read(file("accel.csv")).values.shape(), (Shape{3, 500}));
  EXPECT_EQ(npy::read(file("volume.npy")).shape(), (Shape{32, 32, 32}));
  // The pictures differ from the input: the filters ran.
  EXPECT_NE(image::read(file("scene.png")).values(), image::read(file("scene-blur.png")).values());
}

}  // namespace
}  // namespace convkit
