// Small helpers the algorithms' drivers share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace convkit::cpu {

// Spatial axes are handled as (D, H, W); a rank-`rank` spec's axis `axis` sits in slot 3 - rank + axis
// (the leading slots of lower ranks have size 1).
constexpr int kMaxRank = 3;
inline size_t slot(int rank, int axis) { return static_cast<size_t>(kMaxRank - rank + axis); }

// Below this many multiply-adds a layer runs on one thread: an OpenMP fork costs more.
constexpr int64_t kSerialMacs = int64_t{1} << 20;

// ceil(a / b) for b > 0 and any sign of a.
inline int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -(-a / b); }

// A per-thread scratch array that only grows (runs are many, sizes few).
template <class T>
T* scratch(std::vector<T>& buffer, int64_t count) {
  if (buffer.size() < static_cast<size_t>(count)) buffer.resize(static_cast<size_t>(count));
  return buffer.data();
}

}  // namespace convkit::cpu
