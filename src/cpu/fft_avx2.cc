// The FFT loops compiled for avx2 (see fft_impl.h).
#include "fft_impl.h"

namespace convkit::cpu {

const FftKernels& avx2_fft_kernels() {
  static constexpr FftKernels kKernels = fft_kernel_table<Isa::avx2>();
  return kKernels;
}

}  // namespace convkit::cpu
