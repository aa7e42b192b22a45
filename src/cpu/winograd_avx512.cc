// The Winograd tile transforms for avx512 (see winograd_transform_impl.h); compiled with that ISA's flags.
#include "simd_avx512.h"
#include "winograd_transform_impl.h"

namespace convkit::cpu {

std::span<const WinogradTransform> avx512_winograd_transforms() { return kWinogradTable<simd::Avx512, Isa::avx512>; }

}  // namespace convkit::cpu
