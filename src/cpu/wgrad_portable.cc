// The weight-gradient inner loop for portable (see wgrad_kernel_impl.h), compiled with this ISA's flags.
#include "simd_portable.h"
#include "wgrad_kernel_impl.h"

namespace convkit::cpu {

const WgradKernels& portable_wgrad_kernels() {
  static constexpr WgradKernels kernels = wgrad_kernel_table<simd::Portable, Isa::portable>();
  return kernels;
}

}  // namespace convkit::cpu
