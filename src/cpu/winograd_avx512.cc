// The Winograd tile transforms for avx512 (see winograd_transform_impl.h); compiled with that ISA's flags.
#include "winograd_transform_impl.h"

namespace convkit::cpu {

std::span<const WinogradTransform> avx512_winograd_transforms() { return kWinogradTable<Avx512, Isa::avx512>; }

}  // namespace convkit::cpu
