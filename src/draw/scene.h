// A picture as a list of shapes and text in pixel coordinates (origin top left, y down), independent of
// the file format. write() renders it by the path's extension: .png and .pdf through cairo
// (render_cairo.cc), .svg through render_svg.cc, which keeps text as <text> (searchable, testable) and
// can animate: an element with a frame index is shown only during that frame of a looping animation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace convkit::draw {

struct Color {
  double r = 0, g = 0, b = 0, a = 1;  // 0..1
};
// Hex "#rrggbb" (alpha ignored; SVG opacity is written separately).
std::string hex(Color c);

struct Point {
  double x = 0, y = 0;
};

struct Stroke {
  Color color{};
  double width = 1.0;
  std::vector<double> dash{};  // on/off lengths; empty = solid
};

struct Rect {
  double x = 0, y = 0, w = 0, h = 0;
  std::optional<Color> fill{};
  std::optional<Stroke> stroke{};
};

struct Polyline {
  std::vector<Point> points{};
  Stroke stroke{};
  bool closed = false;
  std::optional<Color> fill{};  // closed polygons only
};

enum class Anchor { start, middle, end };

struct Text {
  Point at{};  // the baseline point the anchor refers to
  std::string text{};
  double size = 12;  // pixels
  bool bold = false;
  Color color{0.1, 0.1, 0.1};
  Anchor anchor = Anchor::start;
  bool vertical = false;  // rotated 90 degrees counter-clockwise (y-axis labels)
};

// An 8-bit grey (channels 1) or RGB (channels 3) raster scaled into the box with nearest-neighbour
// sampling, so that every pixel of a small image stays a visible square.
struct Image {
  double x = 0, y = 0, w = 0, h = 0;
  int64_t width = 0, height = 0, channels = 1;
  std::vector<uint8_t> pixels{};  // row-major, interleaved channels
};

using Mark = std::variant<Rect, Polyline, Text, Image>;

struct Element {
  Mark mark;
  int frame = -1;         // -1: always shown; else shown only during that animation frame
  std::string role = {};  // written as the SVG class ("cell padding", "footprint"): what it depicts
};

class Scene {
 public:
  Scene(double width, double height, std::string title);

  double width() const { return width_; }
  double height() const { return height_; }
  const std::string& title() const { return title_; }
  const std::vector<Element>& elements() const { return elements_; }
  int frames() const { return frames_; }
  double frame_seconds() const { return frame_seconds_; }

  void add(Mark mark, std::string role = {}, int frame = -1);
  // Elements added with a frame index in [0, frames) animate in SVG (each frame `seconds` long, looping);
  // PNG and PDF show frame 0 only (use small multiples for a static picture of every frame).
  void set_animation(int frames, double seconds);

 private:
  double width_, height_;
  std::string title_;
  std::vector<Element> elements_;
  int frames_ = 0;
  double frame_seconds_ = 1.0;
};

// The width in pixels of `text` at `size` in DejaVu Sans (cairo's text extents), for layout.
double text_width(const std::string& text, double size, bool bold = false);

enum class Format { png, svg, pdf };
// The format named by the path's extension (case-insensitive); an Error naming `argument` and the path
// otherwise.
Format format_of(const std::string& path, const std::string& argument);
// Checks before any work that `path` has a picture extension and that its directory exists and is
// writable: an Error naming `argument`, the path and the reason.
void check_output(const std::string& path, const std::string& argument);

// Creates `dir` (and its parents) when missing and checks that it is a writable directory, before any
// work: an Error naming `argument`, the path and the reason.
void prepare_output_dir(const std::string& dir, const std::string& argument);

// The file's bytes in `format`; write() renders by the extension and writes atomically (mode 0666
// minus the umask, files::write_atomically).
std::vector<uint8_t> render(const Scene& scene, Format format);
void write(const Scene& scene, const std::string& path);

}  // namespace convkit::draw
