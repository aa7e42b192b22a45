// The grouped channels_last kernels for portable (see grouped_kernel_impl.h), compiled with this ISA's flags.
#include "grouped_kernel_impl.h"
#include "simd_portable.h"

namespace convkit::cpu {

const GroupedKernels& portable_grouped_kernels() {
  static constexpr GroupedKernels kernels = grouped_kernel_table<simd::Portable, Isa::portable>();
  return kernels;
}

}  // namespace convkit::cpu
