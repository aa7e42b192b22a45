// Line plots drawn into an RGB image tensor (no text: colours and panel order carry the meaning).
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "convkit/tensor.h"

namespace convkit::cli {

using Rgb = std::array<uint8_t, 3>;

struct Trace {
  std::vector<float> values{};  // one per sample, drawn left to right
  Rgb color{};
};

// One panel: its traces share the y range (their min..max plus a margin).
struct Panel {
  std::vector<Trace> traces{};
};

// The panels stacked top to bottom, each `panel_height` pixels high and `width` wide: a white
// background, a light grid (quarters), black axes on the left and bottom, and the traces in order
// (later ones drawn over earlier ones). Returns an RGB image (3, H, W) with values 0..255.
Tensor plot(const std::vector<Panel>& panels, int64_t width, int64_t panel_height);

}  // namespace convkit::cli
