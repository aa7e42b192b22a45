// The weight-gradient inner loop for avx2 (see wgrad_kernel_impl.h), compiled with this ISA's flags.
#include "simd_avx2.h"
#include "wgrad_kernel_impl.h"

namespace convkit::cpu {

const WgradKernels& avx2_wgrad_kernels() {
  static constexpr WgradKernels kernels = wgrad_kernel_table<simd::Avx2, Isa::avx2>();
  return kernels;
}

}  // namespace convkit::cpu
