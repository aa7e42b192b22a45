// The FFT loops compiled for avx512 (see fft_impl.h).
#include "fft_impl.h"

namespace convkit::cpu {

const FftKernels& avx512_fft_kernels() {
  static constexpr FftKernels kKernels = fft_kernel_table<Isa::avx512>();
  return kKernels;
}

}  // namespace convkit::cpu
