// Spatial micro-kernels for avx2 (16 ymm registers): 8 lanes, up to 12 accumulators.
#include "spatial_kernel_impl.h"

namespace convkit::cpu {

std::span<const SpatialKernel> avx2_spatial_kernels() {
  static constexpr auto kKernels = spatial_table<8, 12>(Isa::avx2);
  return kKernels;
}

}  // namespace convkit::cpu
