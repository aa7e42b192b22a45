// Reading one row of an input tensor as the padded row a convolution sees, for the algorithms that
// stage rows (spatial, fft): the padding mode applied, optionally every `step`-th cell only.
#pragma once

#include <cstdint>

#include "convkit/spec.h"

namespace convkit::cpu {

struct PaddedRow {
  const float* src = nullptr;  // cell i of the input row is src[i * pitch]
  int64_t pitch = 1;
  int64_t size = 0;   // input cells
  int64_t pad = 0;    // padding cells before cell 0
  int64_t limit = 0;  // padded cells the convolution reads; cells at or beyond read as zero
  PaddingMode mode = PaddingMode::zeros;
};

// dst[j] = padded cell first + j * step of `row`, for j < count (cells in the padding per the padding
// mode, cells at or beyond row.limit zero). The cells inside the input are a plain copy when step and
// pitch are 1.
void gather_padded(const PaddedRow& row, int64_t first, int64_t step, int64_t count, float* dst);

}  // namespace convkit::cpu
