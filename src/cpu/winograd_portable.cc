// The Winograd tile transforms for portable (see winograd_transform_impl.h); compiled with that ISA's flags.
#include "simd_portable.h"
#include "winograd_transform_impl.h"

namespace convkit::cpu {

std::span<const WinogradTransform> portable_winograd_transforms() { return kWinogradTable<simd::Portable, Isa::portable>; }

}  // namespace convkit::cpu
