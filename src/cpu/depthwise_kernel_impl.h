// The depthwise inner loops as templates over a vector type V (simd_<isa>.h), instantiated once per
// ISA by depthwise_<isa>.cc. Only include it from those files: each is compiled with its own flags.
#pragma once

#include "depthwise_kernel.h"

namespace convkit::cpu {

// P pixels from pixel p0 x NV vectors of channels from c (n channels: NV full vectors, or with NV = 1
// the masked tail), multiplier m.
template <class V, int P, int NV, bool kFull>
void channels_last_block(const ChannelsLastPixels& a, int64_t p0, int64_t c, int64_t n, int64_t m) {
  using Reg = typename V::Reg;
  constexpr int64_t L = V::kLanes;
  static_assert(kFull || NV == 1);
  const int64_t w_offset = m * a.w_multiplier_stride + c;
  Reg acc[P][NV];
#pragma GCC unroll 2
  for (int v = 0; v < NV; ++v) {
    const Reg init = a.bias ? V::load(a.bias + m * a.bias_multiplier_stride + c + v * L) : V::zero();
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) acc[p][v] = init;
  }
  for (int64_t t = 0; t < a.taps; ++t) {
    const float* x = a.x[t] + p0 * a.x_step + c;
    Reg w[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) w[v] = V::load(a.w[t] + w_offset + v * L);
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) {
        const float* xp = x + p * a.x_step + v * L;
        acc[p][v] = V::fma(kFull ? V::load(xp) : V::load_partial(xp, n), w[v], acc[p][v]);
      }
  }
  if (a.multiplier == 1) {
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) {
        float* y = a.y + (p0 + p) * a.y_step + c + v * L;
        if (kFull) V::store(y, acc[p][v]);
        else V::store_partial(y, n, acc[p][v]);
      }
    return;
  }
  // Output channels c * multiplier + m are `multiplier` apart: scatter through a local copy.
  alignas(64) float lanes[NV * L];
  for (int p = 0; p < P; ++p) {
    for (int v = 0; v < NV; ++v) V::store(lanes + v * L, acc[p][v]);
    float* y = a.y + (p0 + p) * a.y_step + c * a.multiplier + m;
    for (int64_t l = 0; l < n; ++l) y[l * a.multiplier] = lanes[l];
  }
}

// P pixels from p0 x the channels: pairs of vectors (a pixel's two neighbouring cache lines at once),
// then a single vector, then the masked tail.
template <class V, int P>
void channels_last_pixel_block(const ChannelsLastPixels& a, int64_t p0, int64_t m) {
  constexpr int64_t L = V::kLanes;
  int64_t c = a.channel_begin;
  for (; c + 2 * L <= a.channel_end; c += 2 * L) channels_last_block<V, P, 2, true>(a, p0, c, 2 * L, m);
  if (c + L <= a.channel_end) channels_last_block<V, P, 1, true>(a, p0, c, L, m), c += L;
  if (c < a.channel_end) channels_last_block<V, P, 1, false>(a, p0, c, a.channel_end - c, m);
}

// The run in passes of kPixels pixels (2 * kPixels accumulators and 2 weight vectors fit in the
// registers), each pass reading whole input pixels, which keeps the memory accesses sequential.
template <class V>
void channels_last_pixels(const ChannelsLastPixels& a) {
  constexpr int kPixels = 2 * 8 + 2 <= V::kRegisters - 2 ? 8 : 4;
  for (int64_t m = 0; m < a.multiplier; ++m) {
    int64_t p = 0;
    for (; p + kPixels <= a.pixels; p += kPixels) channels_last_pixel_block<V, kPixels>(a, p, m);
    if (kPixels > 4 && p + 4 <= a.pixels) channels_last_pixel_block<V, 4>(a, p, m), p += 4;
    if (p + 2 <= a.pixels) channels_last_pixel_block<V, 2>(a, p, m), p += 2;
    if (p < a.pixels) channels_last_pixel_block<V, 1>(a, p, m);
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

// Blocks of 4 vectors; the last 1 to 4 vectors (partial or not) in one block.
template <class V>
void channels_first_row(const ChannelsFirstRow& a) {
  constexpr int64_t L = V::kLanes;
  int64_t j = 0;
  for (; a.width - j > 4 * L; j += 4 * L) channels_first_block<V, 4>(a, j, 4 * L);
  switch ((a.width - j + L - 1) / L) {
    case 4: channels_first_block<V, 4>(a, j, a.width - j); break;
    case 3: channels_first_block<V, 3>(a, j, a.width - j); break;
    case 2: channels_first_block<V, 2>(a, j, a.width - j); break;
    default: channels_first_block<V, 1>(a, j, a.width - j);
  }
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
