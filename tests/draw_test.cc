// The drawing layer: tick choice, and what each format holds (PNG size and pixels, SVG text and
// animation frames, PDF header and title), atomic writes with the usual mode, bad paths.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "convkit/convkit.h"
#include "draw/chart.h"
#include "draw/image_panels.h"
#include "draw/scene.h"
#include "scratch_dir.h"

namespace convkit::draw {
namespace {

std::string text_of(const std::vector<uint8_t>& bytes) { return {bytes.begin(), bytes.end()}; }

size_t count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

TEST(DrawTicks, LinearTicksStepBy125) {
  EXPECT_EQ(linear_ticks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(linear_ticks(-4.2, 2.7, 5), (std::vector<double>{-4, -3, -2, -1, 0, 1, 2}));
  {
    const auto ticks = linear_ticks(0.31, 0.58, 5);  // step 0.05
    ASSERT_EQ(ticks.size(), 5u);
    for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(ticks[i], 0.35 + 0.05 * static_cast<double>(i), 1e-12);
  }
}

TEST(DrawTicks, DecadesThinnedToAtMostTheRequestedCount) {
  EXPECT_EQ(decade_ticks(-3, 1, 8), (std::vector<int>{-3, -2, -1, 0, 1}));
  EXPECT_EQ(decade_ticks(-14, 1, 8), (std::vector<int>{-14, -12, -10, -8, -6, -4, -2, 0}));
  EXPECT_EQ(decade_ticks(-15, 0, 8), (std::vector<int>{-14, -12, -10, -8, -6, -4, -2, 0}));
  EXPECT_EQ(decade_label(-3), "10⁻³");
  EXPECT_EQ(decade_label(12), "10¹²");
  EXPECT_EQ(tick_label(0.25), "0.25");
}

Chart loss_chart() {
  Series s{.label = "training loss", .color = palette(0)};
  for (int i = 0; i <= 50; ++i) s.x.push_back(i), s.y.push_back(std::pow(10.0, -0.28 * i));  // 10^0 .. 10^-14
  return {.title = "loss", .x = {.label = "step"}, .y = {.label = "mean squared error", .log = true}, .series = {s}};
}

TEST(DrawChart, SvgHoldsTitleLabelsDecadeTicksAndLegend) {
  const std::string svg = text_of(render(chart_figure("Kernel recovery", {loss_chart()}, 720, 420), Format::svg));
  EXPECT_NE(svg.find("<title>Kernel recovery</title>"), std::string::npos);
  EXPECT_NE(svg.find(">mean squared error</text>"), std::string::npos);
  EXPECT_NE(svg.find(">step</text>"), std::string::npos);
  EXPECT_NE(svg.find(">training loss</text>"), std::string::npos);
  EXPECT_EQ(count(svg, "class=\"tick-label\""), 8u + 6u) << "8 decades (even exponents of -14..0) and x = 0, 10, ..., 50";
  EXPECT_NE(svg.find(">10⁻¹⁴</text>"), std::string::npos);
  EXPECT_NE(svg.find(">10⁰</text>"), std::string::npos);
  EXPECT_EQ(count(svg, "class=\"series\""), 1u);
}

TEST(DrawChart, NonFiniteValuesBreakTheLineAndStayInsideTheAxes) {
  Chart chart = loss_chart();
  chart.y.log = false;
  chart.series[0].y[20] = NAN;
  chart.series[0].y[30] = INFINITY;
  Scene scene = chart_figure("diverging", {chart}, 600, 400);
  size_t lines = 0;
  Rect axes;
  for (const Element& e : scene.elements())
    if (e.role == "axes") axes = std::get<Rect>(e.mark);
  for (const Element& e : scene.elements()) {
    if (e.role != "series") continue;
    ++lines;
    for (const Point& p : std::get<Polyline>(e.mark).points) {
      EXPECT_GE(p.x, axes.x);
      EXPECT_LE(p.x, axes.x + axes.w);
      EXPECT_GE(p.y, axes.y);
      EXPECT_LE(p.y, axes.y + axes.h);
    }
  }
  EXPECT_EQ(lines, 3u);
}

TEST(DrawRender, PngHasTheSceneSizeAndItsPixels) {
  const testing::ScratchDir dir;
  Scene scene(120, 80, "two squares");
  scene.add(Rect{10, 10, 40, 40, Color{1, 0, 0}, std::nullopt});
  scene.add(Image{.x = 60, .y = 10, .w = 40, .h = 40, .width = 2, .height = 2, .channels = 1, .pixels = {0, 255, 255, 0}});
  write(scene, dir.file("a.png"));
  const Tensor png = image::read(dir.file("a.png"));
  ASSERT_EQ(png.shape(), (Shape{3, 80, 120}));
  EXPECT_EQ(png.at({0, 30, 30}), 255.0f);  // red square
  EXPECT_EQ(png.at({1, 30, 30}), 0.0f);
  EXPECT_EQ(png.at({0, 20, 70}), 0.0f);  // the image's black top-left pixel, enlarged 20x (nearest)
  EXPECT_EQ(png.at({0, 20, 90}), 255.0f);
  EXPECT_EQ(png.at({1, 70, 5}), 255.0f);  // white background
}

TEST(DrawRender, PdfIsAPdfWithTheTitle) {
  Scene scene(200, 100, "a title");
  scene.add(Text{{10, 50}, "hello", 12});
  const std::string pdf = text_of(render(scene, Format::pdf));
  EXPECT_EQ(pdf.substr(0, 5), "%PDF-");
  EXPECT_NE(pdf.find("(a title)"), std::string::npos);
  EXPECT_NE(pdf.find("DejaVu"), std::string::npos) << "the font is embedded";
}

TEST(DrawRender, SvgAnimatesFramesAndEscapesText) {
  Scene scene(100, 100, "a < b & c");
  scene.set_animation(3, 0.5);
  scene.add(Text{{10, 20}, "x < y", 12}, "label");
  for (int f = 0; f < 3; ++f) scene.add(Rect{10.0 * f, 40, 10, 10, Color{0, 0, 1}, std::nullopt}, "footprint", f);
  const std::string svg = text_of(render(scene, Format::svg));
  EXPECT_NE(svg.find("<title>a &lt; b &amp; c</title>"), std::string::npos);
  EXPECT_NE(svg.find(">x &lt; y</text>"), std::string::npos);
  EXPECT_EQ(count(svg, "<g class=\"frame\""), 3u);
  EXPECT_EQ(count(svg, "<animate attributeName=\"visibility\""), 3u);
  EXPECT_NE(svg.find("dur=\"1.5s\""), std::string::npos);
  EXPECT_NE(svg.find("data-frame=\"1\" visibility=\"hidden\""), std::string::npos);
}

TEST(DrawFiles, WrittenWithTheUsualModeAndBadPathsNamed) {
  const testing::ScratchDir dir;
  const mode_t old = umask(022);
  write(Scene(10, 10, "t"), dir.file("m.svg"));
  umask(old);
  struct stat st {};
  ASSERT_EQ(stat(dir.file("m.svg").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  EXPECT_THROW(
      {
        try {
          check_output(dir.file("nope/x.png"), "--plot");
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("--plot=" + dir.file("nope/x.png") + ": cannot write: the directory"),
                    std::string::npos);
          throw;
        }
      },
      Error);
  EXPECT_THROW(check_output(dir.file("x.jpg"), "--output"), Error);
  EXPECT_EQ(format_of("A.PDF", "x"), Format::pdf);
}

TEST(DrawImages, CaptionsUnderEveryPanel) {
  Tensor grey({1, 4, 4}, 100.0f);
  const Scene scene = image_figure("panels", {{image_from_tensor(grey), {"one", "depth 3"}}, {image_from_tensor(grey), {"two"}}}, 2, 8);
  const std::string svg = text_of(render(scene, Format::svg));
  EXPECT_EQ(count(svg, "class=\"caption\""), 3u);
  EXPECT_EQ(count(svg, "<image class=\"panel\""), 2u);
  EXPECT_NE(svg.find(">depth 3</text>"), std::string::npos);
  EXPECT_THROW(image_from_tensor(Tensor({2, 4, 4})), Error);
}

}  // namespace
}  // namespace convkit::draw
