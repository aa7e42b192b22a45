// The depthwise inner loops for portable (see depthwise_kernel_impl.h), compiled with this ISA's flags.
#include "depthwise_kernel_impl.h"
#include "simd_portable.h"

namespace convkit::cpu {

const DepthwiseKernels& portable_depthwise_kernels() {
  static constexpr DepthwiseKernels kernels = depthwise_kernel_table<simd::Portable, Isa::portable>();
  return kernels;
}

}  // namespace convkit::cpu
