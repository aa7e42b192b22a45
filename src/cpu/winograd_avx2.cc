// The Winograd tile transforms for avx2 (see winograd_transform_impl.h); compiled with that ISA's flags.
#include "simd_avx2.h"
#include "winograd_transform_impl.h"

namespace convkit::cpu {

std::span<const WinogradTransform> avx2_winograd_transforms() { return kWinogradTable<simd::Avx2, Isa::avx2>; }

}  // namespace convkit::cpu
