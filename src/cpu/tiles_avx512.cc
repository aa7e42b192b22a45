// AVX-512 micro-kernels (32 zmm registers: up to 28 accumulators + B vectors). Compiled with -mavx512f.
#include "simd_avx512.h"
#include "tile_kernel_impl.h"

namespace convkit::cpu {
namespace {

using simd::Avx512;

constexpr TileKernel kKernels[] = {
    gemm_kernel<Avx512, Isa::avx512, 14, 2>(),  igemm_kernel<Avx512, Isa::avx512, 14, 2>(),
    gemm_kernel<Avx512, Isa::avx512, 8, 3>(),   igemm_kernel<Avx512, Isa::avx512, 8, 3>(),
    gemm_kernel<Avx512, Isa::avx512, 4, 6>(),   igemm_kernel<Avx512, Isa::avx512, 4, 6>(),
};

}  // namespace

std::span<const TileKernel> avx512_tile_kernels() { return kKernels; }

}  // namespace convkit::cpu
