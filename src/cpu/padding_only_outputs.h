// Outputs whose every tap falls in zero padding (e.g. padding 3 around a 3x3 kernel: the outer ring).
// The definition makes them exactly the bias, and a direct sum adds only zeros to it; a transform
// (Winograd's tiles, FFT's blocks) spreads the rounding of the block's other values into them. The
// transform algorithms call this after their run so that such outputs are the bias in every algorithm.
#pragma once

#include <cstdint>

#include "convkit/shape.h"
#include "convkit/spec.h"

namespace convkit::cpu {

// Writes the bias (0 without one) into every output of a convolution (not transposed) whose taps all fall
// in zero padding. `output` is contiguous in the spec's layout, `batch` items. Other padding modes have no
// zero cells: nothing to do.
void write_bias_where_all_padding(const ConvSpec& spec, const ConvGeometry& geometry, int64_t batch, const float* bias,
                                  float* output);

}  // namespace convkit::cpu
