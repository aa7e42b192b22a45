// The weight-gradient inner loop for avx512 (see wgrad_kernel_impl.h), compiled with this ISA's flags.
#include "simd_avx512.h"
#include "wgrad_kernel_impl.h"

namespace convkit::cpu {

const WgradKernels& avx512_wgrad_kernels() {
  static constexpr WgradKernels kernels = wgrad_kernel_table<simd::Avx512, Isa::avx512>();
  return kernels;
}

}  // namespace convkit::cpu
