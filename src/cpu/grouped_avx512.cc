// The grouped channels_last kernels for avx512 (see grouped_kernel_impl.h), compiled with this ISA's flags.
#include "grouped_kernel_impl.h"
#include "simd_avx512.h"

namespace convkit::cpu {

const GroupedKernels& avx512_grouped_kernels() {
  static constexpr GroupedKernels kernels = grouped_kernel_table<simd::Avx512, Isa::avx512>();
  return kernels;
}

}  // namespace convkit::cpu
