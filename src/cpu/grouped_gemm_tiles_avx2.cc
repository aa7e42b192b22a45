// The AVX2 igemm kernels of grouped_gemm: the dense engine's, plus one vector wide (8 channels per
// group, which its tiles pad to 16). Compiled with -mavx2 -mfma.
#include "grouped_gemm_convolution.h"
#include "simd_avx2.h"
#include "tile_kernel_impl.h"

namespace convkit::cpu {

namespace {

using simd::Avx2;

constexpr TileKernel kWidths[] = {
    igemm_kernel<Avx2, Isa::avx2, 8, 1>(),
};

}  // namespace

// grouped_gemm's widths beyond the dense engine's tiles (grouped_gemm_convolution.cc joins them).
std::span<const TileKernel> avx2_grouped_gemm_widths() { return kWidths; }

}  // namespace convkit::cpu
