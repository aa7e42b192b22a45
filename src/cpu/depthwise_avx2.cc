// The depthwise inner loops for avx2 (see depthwise_kernel_impl.h), compiled with this ISA's flags.
#include "depthwise_kernel_impl.h"
#include "simd_avx2.h"

namespace convkit::cpu {

const DepthwiseKernels& avx2_depthwise_kernels() {
  static constexpr DepthwiseKernels kernels = depthwise_kernel_table<simd::Avx2, Isa::avx2>();
  return kernels;
}

}  // namespace convkit::cpu
