// The depthwise inner loops for avx512 (see depthwise_kernel_impl.h), compiled with this ISA's flags.
#include "depthwise_kernel_impl.h"
#include "simd_avx512.h"

namespace convkit::cpu {

const DepthwiseKernels& avx512_depthwise_kernels() {
  static constexpr DepthwiseKernels kernels = depthwise_kernel_table<simd::Avx512, Isa::avx512>();
  return kernels;
}

}  // namespace convkit::cpu
