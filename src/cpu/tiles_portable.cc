// Portable micro-kernels: plain C++ on 4-float "vectors" that the compiler maps to whatever SIMD the
// baseline target has (SSE2 on x86-64). The fallback when no better ISA is available.
#include "simd_portable.h"
#include "tile_kernel_impl.h"

namespace convkit::cpu {
namespace {

using simd::Portable;

constexpr TileKernel kKernels[] = {
    gemm_kernel<Portable, Isa::portable, 4, 2>(), igemm_kernel<Portable, Isa::portable, 4, 2>(),
    gemm_kernel<Portable, Isa::portable, 2, 4>(), igemm_kernel<Portable, Isa::portable, 2, 4>(),
};

}  // namespace

std::span<const TileKernel> portable_tile_kernels() { return kKernels; }

}  // namespace convkit::cpu
