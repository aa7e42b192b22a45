// The finite scan of finite_scan.h, compiled once per ISA by isa_kernels.cc (58x58x64 floats, CPU time:
// 32 us portable, 16 us AVX2, 8 us AVX-512).
#pragma once

#include <bit>
#include <cstdint>

namespace convkit::cpu::CONVKIT_TARGET {

// On the bits, so that the loop is integer and/add/or, which the compiler vectorizes (std::isfinite on
// floats it does not): with the sign cleared, an exponent of all ones (NaN, Inf) is >= 0x7f800000, and
// adding 0x00800000 carries into bit 31.
inline bool all_finite(const float* values, int64_t count) {
  uint32_t carries = 0;
  for (int64_t i = 0; i < count; ++i) carries |= (std::bit_cast<uint32_t>(values[i]) & 0x7fffffffu) + 0x00800000u;
  return (carries & 0x80000000u) == 0;
}

}  // namespace convkit::cpu::CONVKIT_TARGET
