// The two back ends of draw::render (scene.h): cairo for PNG and PDF, a direct writer for SVG.
#pragma once

#include <cstdint>
#include <vector>

#include "draw/scene.h"

namespace convkit::draw {

std::vector<uint8_t> render_cairo(const Scene& scene, Format format);  // png or pdf
std::vector<uint8_t> render_svg(const Scene& scene);
// The raster of an Image as PNG bytes at its own resolution (embedded by the SVG writer).
std::vector<uint8_t> encode_png(const Image& image);

}  // namespace convkit::draw
