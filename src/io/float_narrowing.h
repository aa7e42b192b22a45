// double to float conversion shared by the .npy and NIfTI readers (internal header).
#pragma once

#include <cmath>
#include <limits>

namespace convkit::io {

// double to float with IEEE round-to-nearest overflow to infinity (a plain cast of an out-of-range
// finite double is undefined behaviour in C++).
inline float narrow_to_float(double value) {
  constexpr double kMax = std::numeric_limits<float>::max();
  if (std::isnan(value) || std::fabs(value) <= kMax) return static_cast<float>(value);
  // Finite values below FLT_MAX + half an ulp (2^128 - 2^103) round down to FLT_MAX, the rest overflow.
  constexpr double kOverflow = 0x1.ffffffp127;
  const float magnitude = std::fabs(value) < kOverflow ? std::numeric_limits<float>::max()
                                                        : std::numeric_limits<float>::infinity();
  return std::signbit(value) ? -magnitude : magnitude;
}

}  // namespace convkit::io
