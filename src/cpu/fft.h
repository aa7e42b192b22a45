// A compact complex FFT of power-of-two size on split (re, im) float arrays, for convolution only:
// the forward transform is decimation in frequency (natural order in, bit-reversed order out) and the
// inverse decimation in time (bit-reversed in, natural out), so a pointwise product of two forward
// transforms followed by the inverse is a circular convolution with no bit-reversal pass at all.
// inverse(forward(x)) = n * x. The butterflies are plain loops over split arrays that the compiler
// vectorizes; they are compiled once per ISA (isa_kernels.cc, template in fft_impl.h).
//
// Why not a library: Debian bookworm has no libpocketfft-dev, FFTW is GPL, and a convolution needs
// neither real-input packing nor natural-order spectra (two real blocks go through one complex
// transform as its real and imaginary parts), which keeps this to a few dozen lines.
#pragma once

#include <cstdint>
#include <vector>

#include "isa.h"

namespace convkit::cpu {

struct FftKernels {
  // In place; twiddles as FftPlan::twiddle_re/im.
  void (*forward)(float* re, float* im, int64_t n, const float* tw_re, const float* tw_im);
  void (*inverse)(float* re, float* im, int64_t n, const float* tw_re, const float* tw_im);
  // (y_re, y_im) += (a_re, a_im) * (b_re, b_im), pointwise over n bins.
  void (*multiply_add)(const float* a_re, const float* a_im, const float* b_re, const float* b_im, float* y_re,
                       float* y_im, int64_t n);
};


class FftPlan {
 public:
  FftPlan(int64_t n, Isa isa);  // n a power of two >= 2

  int64_t size() const { return n_; }
  void forward(float* re, float* im) const { kernels_->forward(re, im, n_, tw_re_.data(), tw_im_.data()); }
  void inverse(float* re, float* im) const { kernels_->inverse(re, im, n_, tw_re_.data(), tw_im_.data()); }
  void multiply_add(const float* a_re, const float* a_im, const float* b_re, const float* b_im, float* y_re,
                    float* y_im) const {
    kernels_->multiply_add(a_re, a_im, b_re, b_im, y_re, y_im, n_);
  }

 private:
  int64_t n_;
  const FftKernels* kernels_;
  // The twiddles of the stage whose butterflies span h: exp(-2 pi i j / 2h) at [h + j], j < h.
  std::vector<float> tw_re_, tw_im_;
};

}  // namespace convkit::cpu
