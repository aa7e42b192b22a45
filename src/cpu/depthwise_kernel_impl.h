// The depthwise inner loops as templates over a vector type V (simd_<isa>.h), instantiated once per
// ISA by depthwise_<isa>.cc. Only include it from those files: each is compiled with its own flags.
#pragma once

#include "depthwise_kernel.h"

namespace convkit::cpu {

// P pixels from pixel p0 x one vector of channels from c (n of them: a full vector or the masked
// tail), multiplier m.
template <class V, int P, bool kFull>
void channels_last_vector(const ChannelsLastPixels& a, int64_t p0, int64_t c, int64_t n, int64_t m) {
  using Reg = typename V::Reg;
  constexpr int64_t L = V::kLanes;
  const int64_t w_offset = m * a.w_multiplier_stride + c;
  Reg acc[P];
  const Reg init = a.bias ? V::load(a.bias + m * a.bias_multiplier_stride + c) : V::zero();
#pragma GCC unroll 8
  for (int p = 0; p < P; ++p) acc[p] = init;
  for (int64_t t = 0; t < a.taps; ++t) {
    const float* x = a.x[t] + p0 * a.x_step + c;
    const Reg w = V::load(a.w[t] + w_offset);
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p)
      acc[p] = V::fma(kFull ? V::load(x + p * a.x_step) : V::load_partial(x + p * a.x_step, n), w, acc[p]);
  }
  if (a.multiplier == 1) {
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      if (kFull) V::store(a.y + (p0 + p) * a.y_step + c, acc[p]);
      else V::store_partial(a.y + (p0 + p) * a.y_step + c, n, acc[p]);
    }
    return;
  }
  // Output channels c * multiplier + m are `multiplier` apart: scatter through a local copy.
  alignas(64) float lanes[L];
  for (int p = 0; p < P; ++p) {
    V::store(lanes, acc[p]);
    float* y = a.y + (p0 + p) * a.y_step + c * a.multiplier + m;
    for (int64_t l = 0; l < n; ++l) y[l * a.multiplier] = lanes[l];
  }
}

// One vector of channels for every pixel of the run: the pixels sweep the input rows with this vector's
// cache lines, so neighbouring passes find the columns they share in L1.
template <class V, bool kFull>
void channels_last_channel_vector(const ChannelsLastPixels& a, int64_t c, int64_t n, int64_t m) {
  int64_t p = 0;
  for (; p + 8 <= a.pixels; p += 8) channels_last_vector<V, 8, kFull>(a, p, c, n, m);
  if (p + 4 <= a.pixels) channels_last_vector<V, 4, kFull>(a, p, c, n, m), p += 4;
  if (p + 2 <= a.pixels) channels_last_vector<V, 2, kFull>(a, p, c, n, m), p += 2;
  if (p < a.pixels) channels_last_vector<V, 1, kFull>(a, p, c, n, m);
}

template <class V>
void channels_last_pixels(const ChannelsLastPixels& a) {
  constexpr int64_t L = V::kLanes;
  for (int64_t m = 0; m < a.multiplier; ++m) {
    int64_t c = a.channel_begin;
    for (; c + L <= a.channel_end; c += L) channels_last_channel_vector<V, true>(a, c, L, m);
    if (c < a.channel_end) channels_last_channel_vector<V, false>(a, c, a.channel_end - c, m);
  }
}

// kBlock vectors of the output row from column j (the last block may be partial: `n` columns).
template <class V, int kBlock>
void channels_first_block(const ChannelsFirstRow& a, int64_t j, int64_t n) {
  using Reg = typename V::Reg;
  constexpr int64_t L = V::kLanes;
  Reg acc[kBlock];
#pragma GCC unroll 8
  for (int b = 0; b < kBlock; ++b) acc[b] = V::set1(a.bias);
  for (int64_t t = 0; t < a.taps; ++t) {
    const float* x = a.x[t] + j;
    const Reg w = V::set1(a.w[t]);
#pragma GCC unroll 8
    for (int b = 0; b < kBlock; ++b) acc[b] = V::fma(V::load(x + b * L), w, acc[b]);
  }
#pragma GCC unroll 8
  for (int b = 0; b < kBlock; ++b) {
    const int64_t left = n - b * L;
    if (left >= L) V::store(a.y + j + b * L, acc[b]);
    else if (left > 0) V::store_partial(a.y + j + b * L, left, acc[b]);
  }
}

template <class V>
void channels_first_row(const ChannelsFirstRow& a) {
  constexpr int64_t L = V::kLanes, kBlock = 4;
  int64_t j = 0;
  for (; j + kBlock * L <= a.width; j += kBlock * L) channels_first_block<V, kBlock>(a, j, kBlock * L);
  for (; j < a.width; j += L) channels_first_block<V, 1>(a, j, a.width - j < L ? a.width - j : L);
}

// Strided copies for staging rows: vector copies (step 1), vector deinterleaving (step 2, while the
// two source vectors stay inside the n * step floats read), otherwise one float at a time.
template <class V>
void gather(const float* src, int64_t step, int64_t n, float* dst) {
  constexpr int64_t L = V::kLanes;
  int64_t i = 0;
  if (step == 1) {
    for (; i + L <= n; i += L) V::store(dst + i, V::load(src + i));
    if (i < n) V::store_partial(dst + i, n - i, V::load_partial(src + i, n - i));
    return;
  }
  if (step == 2)
    for (; i + L < n; i += L) V::store(dst + i, V::even(V::load(src + 2 * i), V::load(src + 2 * i + L)));
  for (; i < n; ++i) dst[i] = src[i * step];
}

template <class V, Isa kIsa>
constexpr DepthwiseKernels depthwise_kernel_table() {
  return {kIsa, V::kLanes, &channels_last_pixels<V>, &channels_first_row<V>, &gather<V>};
}

}  // namespace convkit::cpu
