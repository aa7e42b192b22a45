#include "padded_row.h"
#include "driver_util.h"

#include <algorithm>

#include "convkit/shape.h"

namespace convkit::cpu {
void gather_padded(const PaddedRow& row, int64_t first, int64_t step, int64_t count, float* dst) {
  const int64_t raw0 = first - row.pad;  // input index of j = 0; +step per j
  // [lo, hi): the j inside the input and below the limit.
  const int64_t end = std::min(row.size, row.limit - row.pad);
  const int64_t lo = std::clamp<int64_t>(ceil_div(-raw0, step), 0, count);
  const int64_t hi = std::clamp<int64_t>(ceil_div(end - raw0, step), lo, count);
  auto border = [&](int64_t j) {
    const int64_t raw = raw0 + j * step;
    const int64_t source = raw + row.pad < row.limit ? padded_source_index(raw, row.size, row.mode) : -1;
    dst[j] = source < 0 ? 0.0f : row.src[source * row.pitch];
  };
  for (int64_t j = 0; j < lo; ++j) border(j);
  if (hi > lo) {
    const float* from = row.src + (raw0 + lo * step) * row.pitch;
    if (step == 1 && row.pitch == 1) std::copy(from, from + (hi - lo), dst + lo);
    else
      for (int64_t j = lo; j < hi; ++j, from += step * row.pitch) dst[j] = *from;
  }
  for (int64_t j = hi; j < count; ++j) border(j);
}

}  // namespace convkit::cpu
