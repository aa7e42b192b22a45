// Convolution kernels written by hand: a matrix as plain text, or nested JSON arrays.
//
// JSON (the text starts with '['): nested arrays of numbers, 1 to 3 levels deep, rectangular. The
// nesting gives the shape: [1, 2, 1] is (3,), [[0, 1, 0], [1, -4, 1], [0, 1, 0]] is (3, 3), and three
// levels are (D, H, W).
//
// Plain text (anything else):
//   - a row is one line of numbers separated by blanks and/or single commas ("1 2 1", "1, 2, 1,");
//   - consecutive rows form a 2D slice; one or more blank lines separate the slices of a 3D kernel;
//   - '#' starts a comment that runs to the end of the line (a line holding only a comment is neither
//     a row nor a separator);
//   - the layout gives the shape: one row is a 1D kernel (W,), several rows a 2D kernel (H, W), several
//     slices a 3D kernel (D, H, W). Every row has the same length and every slice the same row count.
//
// Numbers are read as C's strtod reads them (plus an optional '+') and must be finite after rounding to
// float. The kernel is used as written: deep-learning convolutions are cross-correlations, so the
// entry at the top left meets the top-left input cell of each window (flip it for true convolution).
#pragma once

#include <string>
#include <string_view>

#include "convkit/tensor.h"

namespace convkit::kernel_text {

// Parses a kernel from text or JSON. `name` prefixes every error message (a path, usually).
Tensor parse(std::string_view text, std::string_view name = "<memory>");

// Reads the file at `path` and parses it; errors name the path.
Tensor read(const std::string& path);

}  // namespace convkit::kernel_text
