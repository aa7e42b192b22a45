// Spatial micro-kernels for avx512 (32 zmm registers): 16 lanes, up to 24 accumulators.
#include "spatial_kernel_impl.h"

namespace convkit::cpu {

std::span<const SpatialKernel> avx512_spatial_kernels() {
  static constexpr auto kKernels = spatial_table<16, 24>(Isa::avx512);
  return kKernels;
}

}  // namespace convkit::cpu
