// Spatial micro-kernels for portable (16 xmm registers, SSE2 baseline): 4 lanes, up to 12 accumulators.
#include "spatial_kernel_impl.h"

namespace convkit::cpu {

std::span<const SpatialKernel> portable_spatial_kernels() {
  static constexpr auto kKernels = spatial_table<4, 12>(Isa::portable);
  return kKernels;
}

}  // namespace convkit::cpu
