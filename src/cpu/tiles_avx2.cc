// AVX2 + FMA micro-kernels (16 ymm registers: 12 accumulators + B vectors). Compiled with -mavx2 -mfma.
#include "simd_avx2.h"
#include "tile_kernel_impl.h"

namespace convkit::cpu {
namespace {

using simd::Avx2;

constexpr TileKernel kKernels[] = {
    gemm_kernel<Avx2, Isa::avx2, 6, 2>(), igemm_kernel<Avx2, Isa::avx2, 6, 2>(),
    gemm_kernel<Avx2, Isa::avx2, 4, 3>(), igemm_kernel<Avx2, Isa::avx2, 4, 3>(),
    gemm_kernel<Avx2, Isa::avx2, 2, 6>(), igemm_kernel<Avx2, Isa::avx2, 2, 6>(),
};

}  // namespace

std::span<const TileKernel> avx2_tile_kernels() { return kKernels; }

}  // namespace convkit::cpu
