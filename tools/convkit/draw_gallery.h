// `convkit draw --gallery DIR`: the classic convolution-arithmetic cases (no/half/full padding,
// strides, dilation, each with its transposed counterpart), 1D and 3D, grouped and depthwise, and the
// seeds' composites, each as an animated SVG and a static PNG, with an index.html that shows them.
#pragma once

#include <string>
#include <vector>

#include "convkit/spec.h"
#include "convkit/tensor.h"

namespace convkit::cli {

struct GalleryCase {
  std::string name;         // file stem
  std::string explanation;  // one line for the index
  ConvSpec spec;
  Shape input_spatial;
};

// The diagram cases of the gallery, in the order of the index.
std::vector<GalleryCase> gallery_cases();

// Writes every case (NAME.svg, NAME.png), the composites and DIR/index.html; returns the files written.
std::vector<std::string> write_gallery(const std::string& dir);

}  // namespace convkit::cli
