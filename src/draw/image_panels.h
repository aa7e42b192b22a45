// Images laid out in a grid, each with a caption under it, under a figure title: the filtered
// pictures, volume slices and every other raster convkit shows.
#pragma once

#include <string>
#include <vector>

#include "convkit/tensor.h"
#include "draw/scene.h"

namespace convkit::draw {

struct ImagePanel {
  Image image{};                       // its box is set by the layout
  std::vector<std::string> caption{};  // one or more short lines
};

// A (C, H, W) tensor with C = 1 or 3 as 8-bit pixels: values mapped linearly so that `lo` -> 0 and
// `hi` -> 255, clamped (NaN -> 0).
Image image_from_tensor(const Tensor& chw, double lo = 0.0, double hi = 255.0);

// The panels in rows of `columns`, each image drawn `scale` times its size, with a figure title and an
// optional line of notes at the bottom.
Scene image_figure(const std::string& title, const std::vector<ImagePanel>& panels, size_t columns, double scale,
                   const std::string& notes = {});

}  // namespace convkit::draw
