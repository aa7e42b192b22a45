// The FFT loops of fft.h, instantiated once per ISA by isa_kernels.cc (compiled with each ISA's flags, so
// the same loops become that ISA's vectors).
#pragma once

#include "fft.h"

namespace convkit::cpu::CONVKIT_TARGET {

// The h butterflies of one block, a = the block's first half, c = its second half. Forward (decimation in
// frequency): (a, c) -> (a + c, (a - c) w). Inverse (decimation in time, conjugate twiddles):
// (a, c) -> (a + c conj(w), a - c conj(w)), which undoes (times 2) the forward butterfly.
template <Isa, bool kForward>
void fft_butterflies(float* __restrict ar, float* __restrict ai, float* __restrict cr, float* __restrict ci,
                     const float* __restrict wr, const float* __restrict wi, int64_t h) {
  for (int64_t j = 0; j < h; ++j) {
    if constexpr (kForward) {
      const float dr = ar[j] - cr[j], di = ai[j] - ci[j];
      ar[j] += cr[j];
      ai[j] += ci[j];
      cr[j] = dr * wr[j] - di * wi[j];
      ci[j] = dr * wi[j] + di * wr[j];
    } else {
      const float tr = cr[j] * wr[j] + ci[j] * wi[j], ti = ci[j] * wr[j] - cr[j] * wi[j];
      cr[j] = ar[j] - tr;
      ci[j] = ai[j] - ti;
      ar[j] += tr;
      ai[j] += ti;
    }
  }
}

// One radix-2 stage of span h over every block of 2h cells.
template <Isa kIsa, bool kForward>
void fft_stage(float* re, float* im, int64_t n, int64_t h, const float* tw_re, const float* tw_im) {
  for (int64_t b = 0; b < n; b += 2 * h)
    fft_butterflies<kIsa, kForward>(re + b, im + b, re + b + h, im + b + h, tw_re + h, tw_im + h, h);
}

// The stages of span 2 and 1 fused over blocks of 4 cells (their twiddles are 1 and -i, or +i inverse):
// one pass without multiplies instead of two short-loop passes.
template <Isa, bool kForward>
void fft_last_two_stages(float* __restrict re, float* __restrict im, int64_t n) {
  for (int64_t b = 0; b < n; b += 4) {
    float* r = re + b;
    float* i = im + b;
    if constexpr (kForward) {
      const float s0r = r[0] + r[2], s0i = i[0] + i[2], d0r = r[0] - r[2], d0i = i[0] - i[2];
      const float s1r = r[1] + r[3], s1i = i[1] + i[3], d1r = i[1] - i[3], d1i = r[3] - r[1];  // (x1 - x3) * -i
      r[0] = s0r + s1r, i[0] = s0i + s1i, r[1] = s0r - s1r, i[1] = s0i - s1i;
      r[2] = d0r + d1r, i[2] = d0i + d1i, r[3] = d0r - d1r, i[3] = d0i - d1i;
    } else {
      const float a0r = r[0] + r[1], a0i = i[0] + i[1], a1r = r[0] - r[1], a1i = i[0] - i[1];
      const float c0r = r[2] + r[3], c0i = i[2] + i[3], t1r = i[3] - i[2], t1i = r[2] - r[3];  // (y2 - y3) * i
      r[0] = a0r + c0r, i[0] = a0i + c0i, r[2] = a0r - c0r, i[2] = a0i - c0i;
      r[1] = a1r + t1r, i[1] = a1i + t1i, r[3] = a1r - t1r, i[3] = a1i - t1i;
    }
  }
}

// Decimation in frequency: spans n/2, n/4, ..., 1.
template <Isa kIsa>
void fft_forward(float* re, float* im, int64_t n, const float* tw_re, const float* tw_im) {
  for (int64_t h = n / 2; h >= 4; h /= 2) fft_stage<kIsa, true>(re, im, n, h, tw_re, tw_im);
  if (n >= 4) fft_last_two_stages<kIsa, true>(re, im, n);
  else fft_stage<kIsa, true>(re, im, n, 1, tw_re, tw_im);
}

// Decimation in time: spans 1, 2, ..., n/2, each stage undoing the forward one of the same span.
template <Isa kIsa>
void fft_inverse(float* re, float* im, int64_t n, const float* tw_re, const float* tw_im) {
  if (n >= 4) fft_last_two_stages<kIsa, false>(re, im, n);
  else fft_stage<kIsa, false>(re, im, n, 1, tw_re, tw_im);
  for (int64_t h = 4; h < n; h *= 2) fft_stage<kIsa, false>(re, im, n, h, tw_re, tw_im);
}

template <Isa>
void fft_multiply_add(const float* __restrict a_re, const float* __restrict a_im, const float* __restrict b_re,
                      const float* __restrict b_im, float* __restrict y_re, float* __restrict y_im, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    y_re[j] += a_re[j] * b_re[j] - a_im[j] * b_im[j];
    y_im[j] += a_re[j] * b_im[j] + a_im[j] * b_re[j];
  }
}

template <Isa kIsa>
constexpr FftKernels fft_kernel_table() {
  return {&fft_forward<kIsa>, &fft_inverse<kIsa>, &fft_multiply_add<kIsa>};
}

}  // namespace convkit::cpu::CONVKIT_TARGET
