// The FFT loops compiled for portable (see fft_impl.h).
#include "fft_impl.h"

namespace convkit::cpu {

const FftKernels& portable_fft_kernels() {
  static constexpr FftKernels kKernels = fft_kernel_table<Isa::portable>();
  return kKernels;
}

}  // namespace convkit::cpu
