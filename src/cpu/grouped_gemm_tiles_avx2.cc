// The AVX2 igemm kernels of grouped_gemm: the dense engine's, plus one vector wide (8 channels per
// group, which its tiles pad to 16). Compiled with -mavx2 -mfma.
#include "grouped_gemm_convolution.h"
#include "simd_avx2.h"
#include "tile_kernel_impl.h"

#include <vector>

namespace convkit::cpu {

std::span<const TileKernel> avx2_grouped_gemm_kernels() {
  using simd::Avx2;
  static const std::vector<TileKernel> kernels = [] {
    std::vector<TileKernel> all(tile_kernels(Isa::avx2).begin(), tile_kernels(Isa::avx2).end());
    all.push_back(igemm_kernel<Avx2, Isa::avx2, 8, 1>());
    return all;
  }();
  return kernels;
}

}  // namespace convkit::cpu
