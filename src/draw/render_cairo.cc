// PNG and PDF through cairo. Text uses cairo's "toy" text API with DejaVu Sans (fonts-dejavu-core):
// the labels are short single lines, so no shaping library (pango) is needed.
#include <cairo-pdf.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <numbers>

#include "convkit/error.h"
#include "draw/renderers.h"

namespace convkit::draw {
namespace {

constexpr const char* kFont = "DejaVu Sans";

struct SurfaceDeleter {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct ContextDeleter {
  void operator()(cairo_t* c) const { cairo_destroy(c); }
};
using SurfacePtr = std::unique_ptr<cairo_surface_t, SurfaceDeleter>;
using ContextPtr = std::unique_ptr<cairo_t, ContextDeleter>;

cairo_status_t append_bytes(void* closure, const unsigned char* data, unsigned int length) {
  auto* out = static_cast<std::vector<uint8_t>*>(closure);
  out->insert(out->end(), data, data + length);
  return CAIRO_STATUS_SUCCESS;
}

void check(cairo_status_t status, const char* what) {
  if (status != CAIRO_STATUS_SUCCESS) fail("draw: cairo failed to ", what, ": ", cairo_status_to_string(status));
}

void set_color(cairo_t* cr, Color c) { cairo_set_source_rgba(cr, c.r, c.g, c.b, c.a); }

void apply_stroke(cairo_t* cr, const Stroke& s) {
  set_color(cr, s.color);
  cairo_set_line_width(cr, s.width);
  cairo_set_dash(cr, s.dash.data(), static_cast<int>(s.dash.size()), 0);
  cairo_stroke(cr);
}

// cairo's toy fonts come from fontconfig, whose caches live until exit; fontconfig disguises its
// pointers as offsets, so LeakSanitizer reports them as leaks. Releasing both at exit frees them
// (cairo_debug_reset_static_data, then FcFini), after every cairo object is gone.
void release_fonts_at_exit() {
  static std::once_flag once;
  std::call_once(once, [] {
    std::atexit([] {
      cairo_debug_reset_static_data();
      FcFini();
    });
  });
}

void select_font(cairo_t* cr, double size, bool bold) {
  release_fonts_at_exit();
  cairo_select_font_face(cr, kFont, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

// An RGB24 surface holding the image's pixels (grey replicated to the three channels).
SurfacePtr image_surface(const Image& image) {
  SurfacePtr surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, static_cast<int>(image.width),
                                                static_cast<int>(image.height)));
  check(cairo_surface_status(surface.get()), "create an image");
  cairo_surface_flush(surface.get());
  unsigned char* data = cairo_image_surface_get_data(surface.get());
  const int stride = cairo_image_surface_get_stride(surface.get());
  for (int64_t y = 0; y < image.height; ++y)
    for (int64_t x = 0; x < image.width; ++x) {
      const uint8_t* p = image.pixels.data() + (y * image.width + x) * image.channels;
      const uint32_t r = p[0], g = p[image.channels == 3 ? 1 : 0], b = p[image.channels == 3 ? 2 : 0];
      uint32_t pixel = 0xff000000u | r << 16 | g << 8 | b;
      std::memcpy(data + y * stride + x * 4, &pixel, 4);
    }
  cairo_surface_mark_dirty(surface.get());
  return surface;
}

void check_image(const Image& image) {
  if (image.width < 1 || image.height < 1 || image.width > 20000 || image.height > 20000 ||
      (image.channels != 1 && image.channels != 3) ||
      image.pixels.size() != static_cast<size_t>(image.width * image.height * image.channels))
    fail("draw: an image of ", image.width, "x", image.height, "x", image.channels, " with ", image.pixels.size(),
         " bytes; expected 1..20000 pixels a side, 1 or 3 channels and width*height*channels bytes");
}

struct Painter {
  cairo_t* cr;

  void operator()(const Rect& r) const {
    cairo_rectangle(cr, r.x, r.y, r.w, r.h);
    if (r.fill) {
      set_color(cr, *r.fill);
      r.stroke ? cairo_fill_preserve(cr) : cairo_fill(cr);
    }
    if (r.stroke) apply_stroke(cr, *r.stroke);
    cairo_new_path(cr);
  }
  void operator()(const Polyline& p) const {
    if (p.points.empty()) return;
    cairo_move_to(cr, p.points[0].x, p.points[0].y);
    for (size_t i = 1; i < p.points.size(); ++i) cairo_line_to(cr, p.points[i].x, p.points[i].y);
    if (p.closed) cairo_close_path(cr);
    if (p.closed && p.fill) {
      set_color(cr, *p.fill);
      cairo_fill_preserve(cr);
    }
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    apply_stroke(cr, p.stroke);
  }
  void operator()(const Text& t) const {
    select_font(cr, t.size, t.bold);
    cairo_text_extents_t extents;
    cairo_text_extents(cr, t.text.c_str(), &extents);
    const double shift = t.anchor == Anchor::start ? 0 : t.anchor == Anchor::middle ? extents.x_advance / 2 : extents.x_advance;
    cairo_save(cr);
    cairo_translate(cr, t.at.x, t.at.y);
    if (t.vertical) cairo_rotate(cr, -std::numbers::pi / 2);
    cairo_move_to(cr, -shift, 0);
    set_color(cr, t.color);
    cairo_show_text(cr, t.text.c_str());
    cairo_restore(cr);
    cairo_new_path(cr);
  }
  void operator()(const Image& image) const {
    check_image(image);
    const SurfacePtr surface = image_surface(image);
    cairo_save(cr);
    cairo_translate(cr, image.x, image.y);
    cairo_scale(cr, image.w / static_cast<double>(image.width), image.h / static_cast<double>(image.height));
    cairo_set_source_surface(cr, surface.get(), 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_rectangle(cr, 0, 0, static_cast<double>(image.width), static_cast<double>(image.height));
    cairo_fill(cr);
    cairo_restore(cr);
  }
};

void paint(cairo_t* cr, const Scene& scene) {
  cairo_set_source_rgb(cr, 1, 1, 1);
  cairo_paint(cr);
  for (const Element& e : scene.elements())
    if (e.frame <= 0) std::visit(Painter{cr}, e.mark);  // static formats show frame 0
  check(cairo_status(cr), "draw");
}

}  // namespace

double text_width(const std::string& text, double size, bool bold) {
  const SurfacePtr scratch(cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1));  // not static: see above
  const ContextPtr cr(cairo_create(scratch.get()));
  select_font(cr.get(), size, bold);
  cairo_text_extents_t extents;
  cairo_text_extents(cr.get(), text.c_str(), &extents);
  return extents.x_advance;
}

std::vector<uint8_t> render_cairo(const Scene& scene, Format format) {
  std::vector<uint8_t> bytes;
  if (format == Format::pdf) {
    // One pixel of the scene is one PDF point (1/72 inch).
    SurfacePtr surface(cairo_pdf_surface_create_for_stream(append_bytes, &bytes, scene.width(), scene.height()));
    check(cairo_surface_status(surface.get()), "create a PDF");
    cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_TITLE, scene.title().c_str());
    cairo_pdf_surface_set_metadata(surface.get(), CAIRO_PDF_METADATA_CREATOR, "convkit");
    {
      const ContextPtr cr(cairo_create(surface.get()));
      paint(cr.get(), scene);
    }
    cairo_surface_finish(surface.get());
    check(cairo_surface_status(surface.get()), "write the PDF");
    return bytes;
  }
  SurfacePtr surface(cairo_image_surface_create(CAIRO_FORMAT_RGB24, static_cast<int>(std::ceil(scene.width())),
                                                static_cast<int>(std::ceil(scene.height()))));
  check(cairo_surface_status(surface.get()), "create a PNG");
  {
    const ContextPtr cr(cairo_create(surface.get()));
    paint(cr.get(), scene);
  }
  check(cairo_surface_write_to_png_stream(surface.get(), append_bytes, &bytes), "encode the PNG");
  return bytes;
}

std::vector<uint8_t> encode_png(const Image& image) {
  check_image(image);
  const SurfacePtr surface = image_surface(image);
  std::vector<uint8_t> bytes;
  check(cairo_surface_write_to_png_stream(surface.get(), append_bytes, &bytes), "encode an image");
  return bytes;
}

}  // namespace convkit::draw
