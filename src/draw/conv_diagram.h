// Conv-arithmetic diagrams (after Dumoulin & Visin, "A guide to convolution arithmetic"): the input
// grid with its padding, the kernel's footprint at every output position, and the output grid, with
// the shapes and the formula that gave the output size. Any ConvSpec of rank 1-3: 1D is a strip, 3D a
// row of depth slices; dilation shows the holes between taps; a transposed convolution is drawn as its
// equivalent direct convolution (stride 1 over the input with stride-1 zeros inserted between cells,
// padded by dilation*(k-1) - pad, kernel flipped); channels and groups get a panel of their own.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "convkit/composite.h"
#include "convkit/spec.h"
#include "draw/scene.h"

namespace convkit::draw {

// What a cell of the drawn input grid holds.
enum class Cell { input, padding, inserted_zero };

// One spatial axis as drawn: `cells` input cells (padding and inserted zeros included), `output`
// positions, and the kernel's taps from output position o at cells o * step + q * dilation.
struct DrawnAxis {
  int64_t cells = 1, output = 1, kernel = 1, dilation = 1, step = 1;
  int64_t pad_begin = 0, input = 1, stride = 1;  // as drawn: stride of the inserted zeros (transposed)
  bool transposed = false;
  Cell kind(int64_t i) const;
};

// The three axes (D, H, W) of `spec` on an input of `input_spatial` (lower ranks get size-1 leading
// axes), from resolve_geometry (src/core/shape.cc). An Error when a grid exceeds 48 cells per axis or
// 1024 output positions (a diagram, not a tensor viewer), or for a transposed convolution whose
// padding exceeds dilation*(k-1) (its direct equivalent would crop).
std::vector<DrawnAxis> drawn_axes(const ConvSpec& spec, std::span<const int64_t> input_spatial);

// The text lines under a diagram: shapes and, per axis, the output-size formula with its numbers and
// the frameworks whose rule it is.
std::vector<std::string> formula_lines(const ConvSpec& spec, std::span<const int64_t> input_spatial);

// The animated diagram (SVG plays one frame per output position; PNG/PDF show the first).
Scene conv_animation(const ConvSpec& spec, std::span<const int64_t> input_spatial);
// Every output position as a small multiple, for static formats.
Scene conv_small_multiples(const ConvSpec& spec, std::span<const int64_t> input_spatial);

// A composite's stages side by side (tensor shapes, the operation of each stage and its
// multiplications), next to the standard layer it replaces.
Scene composite_figure(const std::string& title, const ConvSpec& layer, const Composite& composite,
                       std::span<const int64_t> input_shape);

}  // namespace convkit::draw
