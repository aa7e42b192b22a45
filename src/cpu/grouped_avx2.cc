// The grouped channels_last kernels for avx2 (see grouped_kernel_impl.h), compiled with this ISA's flags.
#include "grouped_kernel_impl.h"
#include "simd_avx2.h"

namespace convkit::cpu {

const GroupedKernels& avx2_grouped_kernels() {
  static constexpr GroupedKernels kernels = grouped_kernel_table<simd::Avx2, Isa::avx2>();
  return kernels;
}

}  // namespace convkit::cpu
