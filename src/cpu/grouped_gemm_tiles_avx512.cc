// The AVX-512 igemm kernels of grouped_gemm: the dense engine's, plus widths fitting common channels per
// group that its tiles pad (16 -> 32, 80 -> 96, 112 -> 192). Compiled with -mavx512f.
#include "grouped_gemm_convolution.h"
#include "simd_avx512.h"
#include "tile_kernel_impl.h"

#include <vector>

namespace convkit::cpu {

std::span<const TileKernel> avx512_grouped_gemm_kernels() {
  using simd::Avx512;
  static const std::vector<TileKernel> kernels = [] {
    std::vector<TileKernel> all(tile_kernels(Isa::avx512).begin(), tile_kernels(Isa::avx512).end());
    for (const TileKernel& k : {igemm_kernel<Avx512, Isa::avx512, 14, 1>(), igemm_kernel<Avx512, Isa::avx512, 5, 5>(),
                                igemm_kernel<Avx512, Isa::avx512, 4, 7>()})
      all.push_back(k);
    return all;
  }();
  return kernels;
}

}  // namespace convkit::cpu
