// SVG written directly (not through cairo, whose SVG turns text into glyph outlines): text stays text,
// every element carries its role as a class, and frames animate with SMIL (<animate> on visibility,
// which browsers play and which viewers without SMIL show as frame 0).
#include <cstdio>
#include <string>

#include "draw/renderers.h"

namespace convkit::draw {
namespace {

std::string number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6g", v);
  return text;
}

std::string xml_escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default:  // XML 1.0 has no control characters but tab, newline and carriage return
        out += static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r' ? '?' : c;
    }
  }
  return out;
}

std::string base64(const std::vector<uint8_t>& bytes) {
  static constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t n = static_cast<uint32_t>(bytes[i]) << 16 | (i + 1 < bytes.size() ? bytes[i + 1] << 8 : 0) |
                       (i + 2 < bytes.size() ? bytes[i + 2] : 0);
    out += kDigits[n >> 18 & 63];
    out += kDigits[n >> 12 & 63];
    out += i + 1 < bytes.size() ? kDigits[n >> 6 & 63] : '=';
    out += i + 2 < bytes.size() ? kDigits[n & 63] : '=';
  }
  return out;
}

std::string paint_attributes(const std::optional<Color>& fill, const std::optional<Stroke>& stroke) {
  std::string a = " fill=\"" + (fill ? hex(*fill) : std::string("none")) + "\"";
  if (fill && fill->a < 1) a += " fill-opacity=\"" + number(fill->a) + "\"";
  if (stroke) {
    a += " stroke=\"" + hex(stroke->color) + "\" stroke-width=\"" + number(stroke->width) + "\"";
    if (stroke->color.a < 1) a += " stroke-opacity=\"" + number(stroke->color.a) + "\"";
    if (!stroke->dash.empty()) {
      a += " stroke-dasharray=\"";
      for (size_t i = 0; i < stroke->dash.size(); ++i) {
        if (i) a += ',';
        a += number(stroke->dash[i]);
      }
      a += "\"";
    }
  }
  return a;
}

struct Writer {
  std::string& out;
  std::string role_attribute;

  void operator()(const Rect& r) const {
    out += "<rect" + role_attribute + " x=\"" + number(r.x) + "\" y=\"" + number(r.y) + "\" width=\"" + number(r.w) +
           "\" height=\"" + number(r.h) + "\"" + paint_attributes(r.fill, r.stroke) + "/>\n";
  }
  void operator()(const Polyline& p) const {
    std::string points;
    for (const Point& q : p.points) {
      if (!points.empty()) points += ' ';
      points += number(q.x);
      points += ',';
      points += number(q.y);
    }
    out += std::string(p.closed ? "<polygon" : "<polyline") + role_attribute + " points=\"" + points + "\"" +
           paint_attributes(p.closed ? p.fill : std::nullopt, p.stroke) + " stroke-linejoin=\"round\"/>\n";
  }
  void operator()(const Text& t) const {
    const char* anchor = t.anchor == Anchor::start ? "start" : t.anchor == Anchor::middle ? "middle" : "end";
    out += "<text" + role_attribute + " x=\"" + number(t.at.x) + "\" y=\"" + number(t.at.y) + "\" font-size=\"" +
           number(t.size) + "\" text-anchor=\"" + anchor + "\" fill=\"" + hex(t.color) + "\"" +
           (t.bold ? " font-weight=\"bold\"" : "") +
           (t.vertical ? " transform=\"rotate(-90 " + number(t.at.x) + " " + number(t.at.y) + ")\"" : "") + ">" +
           xml_escaped(t.text) + "</text>\n";
  }
  void operator()(const Image& image) const {
    out += "<image" + role_attribute + " x=\"" + number(image.x) + "\" y=\"" + number(image.y) + "\" width=\"" +
           number(image.w) + "\" height=\"" + number(image.h) +
           "\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"data:image/png;base64," +
           base64(encode_png(image)) + "\"/>\n";
  }
};

// The opening tag of frame f's group: hidden except during [f/F, (f+1)/F) of each loop.
std::string frame_group(int f, int frames, double seconds) {
  std::string g = "<g class=\"frame\" data-frame=\"" + std::to_string(f) + "\"" + (f == 0 ? "" : " visibility=\"hidden\"") + ">\n";
  if (frames < 2) return g;
  const double begin = static_cast<double>(f) / frames, end = static_cast<double>(f + 1) / frames;
  std::string values, times;
  if (f == 0) values = "visible;hidden", times = "0;" + number(end);
  else if (f + 1 == frames) values = "hidden;visible", times = "0;" + number(begin);
  else values = "hidden;visible;hidden", times = "0;" + number(begin) + ";" + number(end);
  return g + "<animate attributeName=\"visibility\" values=\"" + values + "\" keyTimes=\"" + times +
         "\" calcMode=\"discrete\" dur=\"" + number(frames * seconds) + "s\" repeatCount=\"indefinite\"/>\n";
}

}  // namespace

std::vector<uint8_t> render_svg(const Scene& scene) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                    number(scene.width()) + "\" height=\"" + number(scene.height()) + "\" viewBox=\"0 0 " +
                    number(scene.width()) + " " + number(scene.height()) +
                    "\" font-family=\"DejaVu Sans, sans-serif\">\n<title>" + xml_escaped(scene.title()) +
                    "</title>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  int open_frame = -1;  // the frame whose <g> is open, -1 for none
  for (const Element& e : scene.elements()) {
    const int frame = e.frame >= 0 && e.frame < scene.frames() ? e.frame : -1;
    if (frame != open_frame) {
      if (open_frame >= 0) out += "</g>\n";
      if (frame >= 0) out += frame_group(frame, scene.frames(), scene.frame_seconds());
      open_frame = frame;
    }
    std::visit(Writer{out, e.role.empty() ? std::string() : " class=\"" + xml_escaped(e.role) + "\""}, e.mark);
  }
  if (open_frame >= 0) out += "</g>\n";
  out += "</svg>\n";
  return {out.begin(), out.end()};
}

}  // namespace convkit::draw
