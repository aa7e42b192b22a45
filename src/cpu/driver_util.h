// Small helpers the algorithms' drivers share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "allocation.h"
#include "convkit/shape.h"

namespace convkit::cpu {

// Spatial axes are handled as (D, H, W); a rank-`rank` spec's axis `axis` sits in slot 3 - rank + axis
// (the leading slots of lower ranks have size 1).
constexpr int kMaxRank = 3;
inline size_t slot(int rank, int axis) { return static_cast<size_t>(kMaxRank - rank + axis); }

// Below this many multiply-adds a layer runs on one thread: waking the pool's threads costs more.
constexpr int64_t kSerialMacs = int64_t{1} << 20;

// ceil(a / b) for b > 0 and any sign of a.
inline int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -(-a / b); }

// A per-thread scratch array that only grows (runs are many, sizes few). An allocation failure is a
// convkit::Error with the size (thrown inside a parallel_for, it reaches the caller).
template <class T>
T* scratch(std::vector<T>& buffer, int64_t count) {
  if (buffer.size() < static_cast<size_t>(count))
    allocating("a per-thread workspace", count, sizeof(T), [&] { buffer.resize(static_cast<size_t>(count)); });
  return buffer.data();
}

// The tap table of one axis: entry q * output + o is the input index output o reads at kernel tap q, after
// the padding mode (-1: a zero of the zero padding).
inline std::vector<int64_t> tap_sources(const AxisGeometry& g, PaddingMode mode) {
  std::vector<int64_t> sources(static_cast<size_t>(g.kernel * g.output));
  for (int64_t q = 0; q < g.kernel; ++q)
    for (int64_t o = 0; o < g.output; ++o)
      sources[static_cast<size_t>(q * g.output + o)] =
          padded_source_index(o * g.stride + q * g.dilation - g.pad_begin, g.input, mode);
  return sources;
}

}  // namespace convkit::cpu
