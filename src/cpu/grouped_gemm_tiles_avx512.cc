// The AVX-512 igemm kernels of grouped_gemm: the dense engine's, plus widths fitting common channels per
// group that its tiles pad (16 -> 32, 80 -> 96, 112 -> 192). Compiled with -mavx512f.
#include "grouped_gemm_convolution.h"
#include "simd_avx512.h"
#include "tile_kernel_impl.h"

namespace convkit::cpu {

namespace {

using simd::Avx512;

constexpr TileKernel kWidths[] = {
    igemm_kernel<Avx512, Isa::avx512, 14, 1>(), igemm_kernel<Avx512, Isa::avx512, 5, 5>(),
    igemm_kernel<Avx512, Isa::avx512, 4, 7>(),
};

}  // namespace

// grouped_gemm's widths beyond the dense engine's tiles (grouped_gemm_convolution.cc joins them).
std::span<const TileKernel> avx512_grouped_gemm_widths() { return kWidths; }

}  // namespace convkit::cpu
