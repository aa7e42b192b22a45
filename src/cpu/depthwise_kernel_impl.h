// The depthwise inner loops as templates over a vector type V (simd_<isa>.h), instantiated once per
// ISA by isa_kernels.cc, in that ISA's namespace and with its flags.
#pragma once

#include <algorithm>
#include <cstdint>

#include "depthwise_kernel.h"

namespace convkit::cpu::CONVKIT_TARGET {

// Where pixel p of the run goes.
template <bool kListed>
int64_t column(const ChannelsLastPixels& a, int64_t p) {
  return kListed ? a.columns[p] : p;
}

// Stores the sums of P pixels from p0 x NV vectors of channels from c (n channels), multiplier m.
template <class V, int P, int NV, bool kFull, bool kListed>
[[gnu::always_inline]] inline void store_pixels(const ChannelsLastPixels& a, int64_t p0, int64_t c, int64_t n, int64_t m,
                  const typename V::Reg (&acc)[P][NV]) {
  constexpr int64_t L = V::kLanes;
  if (a.multiplier == 1) {
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) {
        float* y = a.y + column<kListed>(a, p0 + p) * a.y_step + c + v * L;
        if (kFull) V::store(y, acc[p][v]);
        else V::store_partial(y, n, acc[p][v]);
      }
    return;
  }
  // Output channels c * multiplier + m are `multiplier` apart: scatter through a local copy.
  alignas(64) float lanes[NV * L];
#pragma GCC unroll 16  // (a rolled loop would index the accumulators: GCC would keep them in memory)
  for (int p = 0; p < P; ++p) {
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) V::store(lanes + v * L, acc[p][v]);
    float* y = a.y + column<kListed>(a, p0 + p) * a.y_step + c * a.multiplier + m;
    for (int64_t l = 0; l < n; ++l) y[l * a.multiplier] = lanes[l];
  }
}

// Prefetches (into L2) P evenly stepping pixels from p0 x NV vectors from c in the prefetch_rows input
// rows after the last tap's (no taps: the row lies in the zero padding).
template <class V, int P, int NV>
[[gnu::always_inline]] inline void prefetch_next_rows(const ChannelsLastPixels& a, int64_t p0, int64_t c) {
  if (a.taps == 0) return;
  // Addresses as integers: the rows after the image's last are never read, and a pointer to them would be
  // out-of-bounds arithmetic.
  const auto last = reinterpret_cast<std::uintptr_t>(a.x[a.taps - 1]);
  for (int64_t k = 1; k <= a.prefetch_rows; ++k) {
    const std::uintptr_t next = last + static_cast<std::uintptr_t>((k * a.prefetch_step + p0 * a.x_step + c) * 4);
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) {
        const auto offset = static_cast<std::uintptr_t>((p * a.x_step + v * V::kLanes) * 4);
        __builtin_prefetch(reinterpret_cast<const void*>(next + offset), 0, 2);
      }
  }
}

// P pixels from pixel p0 x NV vectors of channels from c (n channels: NV full vectors, or with NV = 1
// the masked tail), multiplier m; kListed: the pixels' inputs listed per pixel and tap (x_step == 0).
template <class V, int P, int NV, bool kFull, bool kListed>
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
  // Pixel p of a run at base + (p / 4) * step4 + (p % 4) * step: a base register plus step or 2 * step
  // (scaled indexes) or step3. The empty asm hides the steps' values from the optimizer, which would
  // otherwise hoist an offset per pixel and vector out of the loop and spill most of them.
  int64_t step = a.x_step, step3 = 3 * a.x_step, step4 = 4 * a.x_step;
  for (int64_t t = 0; t < a.taps; ++t) {
    asm("" : "+r"(step), "+r"(step3), "+r"(step4));
    Reg w[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) w[v] = V::load(a.w[t] + w_offset + v * L);
    const float* base = kListed ? nullptr : a.x[t] + p0 * step + c;
#pragma GCC unroll 8
    for (int p = 0; p < P; ++p) {
      const float* xp = kListed ? a.x[(p0 + p) * a.taps + t] + c
                                : (p < 4 ? base : base + step4) + (p % 4 == 3 ? step3 : (p % 4) * step);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v)
        acc[p][v] = V::fma(kFull ? V::load(xp + v * L) : V::load_partial(xp + v * L, n), w[v], acc[p][v]);
    }
  }
  if (!kListed) prefetch_next_rows<V, P, NV>(a, p0, c);
  store_pixels<V, P, NV, kFull, kListed>(a, p0, c, n, m, acc);
}

// P pixels from p0 x the channels: pairs of vectors (a pixel's two neighbouring cache lines at once),
// then a single vector, then the masked tail.
template <class V, int P, bool kListed>
void channels_last_pixel_block(const ChannelsLastPixels& a, int64_t p0, int64_t m) {
  constexpr int64_t L = V::kLanes;
  int64_t c = a.channel_begin;
  for (; c + 2 * L <= a.channel_end; c += 2 * L) channels_last_block<V, P, 2, true, kListed>(a, p0, c, 2 * L, m);
  if (c + L <= a.channel_end) channels_last_block<V, P, 1, true, kListed>(a, p0, c, L, m), c += L;
  if (c < a.channel_end) channels_last_block<V, P, 1, false, kListed>(a, p0, c, a.channel_end - c, m);
}

// Pixels [first, a.pixels) of multiplier m in passes of kPixels pixels (2 * kPixels accumulators and 2
// weight vectors fit in the registers), then 4, 2, 1, each pass reading whole input pixels, which keeps
// the memory accesses sequential (callers that want a few channels' input rows to stay in L1 pass
// strips of channels).
template <class V, bool kListed>
void channels_last_run(const ChannelsLastPixels& a, int64_t first, int64_t m) {
  constexpr int kPixels = 2 * 8 + 2 <= V::kRegisters - 2 ? 8 : 4;
  int64_t p = first;
  for (; p + kPixels <= a.pixels; p += kPixels) channels_last_pixel_block<V, kPixels, kListed>(a, p, m);
  if (kPixels > 4 && p + 4 <= a.pixels) channels_last_pixel_block<V, 4, kListed>(a, p, m), p += 4;
  if (p + 2 <= a.pixels) channels_last_pixel_block<V, 2, kListed>(a, p, m), p += 2;
  if (p < a.pixels) channels_last_pixel_block<V, 1, kListed>(a, p, m);
}

// Pixels a row pass of the W-reuse kernel computes: its accumulators, the KW weights of a kernel row
// and an input vector fit in the registers.
template <class V, int KW>
constexpr int kReusePixels = std::min(16, (V::kRegisters - KW - 2) & ~1);

// P consecutive pixels (W stride S, dilation 1) from p0 x one vector of channels from c (n channels: a
// full vector, or the masked tail), multiplier m. Per kernel row the P pixels read (P - 1) * S + KW
// input pixels; each is loaded once and multiplied into every accumulator whose pixel reads it at one
// of the row's KW taps (KW / S of them), with the row's weights in registers: a tap loop would load an
// input per multiply-add, which from L2 is what bounds it. Each pixel still adds its taps in tap order.
template <class V, int KW, int S, int P, bool kFull>
void channels_last_reuse_block(const ChannelsLastPixels& a, int64_t p0, int64_t c, int64_t n, int64_t m) {
  using Reg = typename V::Reg;
  constexpr int kInputs = (P - 1) * S + KW;
  const int64_t w_offset = m * a.w_multiplier_stride + c, pixel = a.x_step / S;
  Reg acc[P][1];
  const Reg init = a.bias ? V::load(a.bias + m * a.bias_multiplier_stride + c) : V::zero();
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) acc[p][0] = init;
  for (int64_t t = 0; t < a.taps; t += KW) {
    Reg w[KW];
#pragma GCC unroll 7
    for (int q = 0; q < KW; ++q) w[q] = V::load(a.w[t + q] + w_offset);
    const float* x = a.x[t] + p0 * a.x_step + c;
#pragma GCC unroll 64
    for (int i = 0; i < kInputs; ++i, x += pixel) {
      Reg in = kFull ? V::load(x) : V::load_partial(x, n);
      // Keep the input in a register: GCC would fold the load into each FMA, a load per FMA again.
      if constexpr (!__is_class(Reg)) asm("" : "+v"(in));
#pragma GCC unroll 7
      for (int q = 0; q < KW; ++q)  // pixel p reads input i at tap q = i - p * S
        if (i >= q && (i - q) % S == 0 && (i - q) / S < P) acc[(i - q) / S][0] = V::fma(in, w[q], acc[(i - q) / S][0]);
    }
  }
  prefetch_next_rows<V, P, 1>(a, p0, c);
  store_pixels<V, P, 1, kFull, false>(a, p0, c, n, m, acc);
}

// P pixels from p0 x the channels, a vector at a time, then the masked tail.
template <class V, int KW, int S, int P>
void channels_last_reuse_pass(const ChannelsLastPixels& a, int64_t p0, int64_t m) {
  constexpr int64_t L = V::kLanes;
  int64_t c = a.channel_begin;
  for (; c + L <= a.channel_end; c += L) channels_last_reuse_block<V, KW, S, P, true>(a, p0, c, L, m);
  if (c < a.channel_end) channels_last_reuse_block<V, KW, S, P, false>(a, p0, c, a.channel_end - c, m);
}

// An evenly stepping run through the W-reuse kernel: passes of P pixels, then the pixels left by one
// pass of P or P / 2 pixels that ends at the run's end (recomputing a few pixels: the same sums in the
// same order, so the same values), or by the tap loop in runs shorter than P / 2.
template <class V, int KW, int S>
void channels_last_reuse_run(const ChannelsLastPixels& a, int64_t m) {
  constexpr int P = kReusePixels<V, KW>;
  int64_t p = 0;
  for (; p + P <= a.pixels; p += P) channels_last_reuse_pass<V, KW, S, P>(a, p, m);
  if (a.pixels - p > P / 2) {
    if (a.pixels >= P) return channels_last_reuse_pass<V, KW, S, P>(a, a.pixels - P, m);
    channels_last_reuse_pass<V, KW, S, P / 2>(a, p, m), p += P / 2;
  }
  if (p == a.pixels) return;
  if (a.pixels >= P / 2) channels_last_reuse_pass<V, KW, S, P / 2>(a, a.pixels - P / 2, m);
  else channels_last_run<V, false>(a, p, m);
}

template <class V>
void channels_last_pixels(const ChannelsLastPixels& a) {
  using Run = void (*)(const ChannelsLastPixels&, int64_t);
  Run run = nullptr;
  if (a.x_step != 0 && (a.stride == 1 || a.stride == 2)) {
    const bool s1 = a.stride == 1;
    switch (a.kw) {
      case 3: run = s1 ? &channels_last_reuse_run<V, 3, 1> : &channels_last_reuse_run<V, 3, 2>; break;
      case 5: run = s1 ? &channels_last_reuse_run<V, 5, 1> : &channels_last_reuse_run<V, 5, 2>; break;
      case 7: run = s1 ? &channels_last_reuse_run<V, 7, 1> : &channels_last_reuse_run<V, 7, 2>; break;
      default: break;
    }
  }
  for (int64_t m = 0; m < a.multiplier; ++m) {
    if (run) run(a, m);
    else if (a.x_step == 0) channels_last_run<V, true>(a, 0, m);
    else channels_last_run<V, false>(a, 0, m);
  }
}

// Accumulators the channels_first kernel keeps: FMA latency x throughput independent sums, leaving
// registers for the weight and the loads.
template <class V>
constexpr int kRowAccumulators = V::kRegisters >= 32 ? 16 : 8;

// Stores R rows from row r0 x B vectors from column j (`n` columns in all).
template <class V, int R, int B>
[[gnu::always_inline]] inline void store_rows(const ChannelsFirstRows& a, int64_t r0, int64_t j, int64_t n,
                                             const typename V::Reg (&acc)[R][B]) {
  constexpr int64_t L = V::kLanes;
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int b = 0; b < B; ++b) {
      float* y = a.y + (r0 + r) * a.y_step + j + b * L;
      const int64_t left = n - b * L;
      if (left >= L) V::store(y, acc[r][b]);
      else V::store_partial(y, left, acc[r][b]);
    }
}

// R rows from row r0 x B vectors from column j (the last vector may be partial: `n` columns in all).
template <class V, int R, int B>
void channels_first_block(const ChannelsFirstRows& a, int64_t r0, int64_t j, int64_t n) {
  using Reg = typename V::Reg;
  constexpr int64_t L = V::kLanes;
  static_assert(R * B <= kRowAccumulators<V>);
  Reg acc[R][B];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int b = 0; b < B; ++b) acc[r][b] = V::set1(a.bias);
  for (int64_t k = 0; k < a.kernel_rows; ++k) {
    const float* x = a.x[k] + r0 * a.row_step + j;
    for (int64_t q = 0; q < a.kw; ++q) {
      const Reg w = V::set1(a.w[k * a.kw + q]);
      const float* xq = x + a.offset[q];
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int b = 0; b < B; ++b) acc[r][b] = V::fma(V::load(xq + r * a.row_step + b * L), w, acc[r][b]);
    }
  }
  store_rows<V, R, B>(a, r0, j, n, acc);
}

// The same for rows_overlap with K kernel rows: per W tap, the K weights of the column in registers and
// each of the R + K - 1 staged rows loaded once for the (up to) K output rows that read it, instead of
// one load per FMA (xception's 5x5 on 28-wide rows was bound by those loads). Each output adds its taps
// W tap by W tap, kernel rows inner.
template <class V, int R, int B, int K>
void channels_first_block_overlap(const ChannelsFirstRows& a, int64_t r0, int64_t j, int64_t n) {
  using Reg = typename V::Reg;
  constexpr int64_t L = V::kLanes;
  Reg acc[R][B];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int b = 0; b < B; ++b) acc[r][b] = V::set1(a.bias);
  const float* x = a.x[0] + r0 * a.row_step + j;
  for (int64_t q = 0; q < a.kw; ++q) {
    Reg w[K];
#pragma GCC unroll 8
    for (int k = 0; k < K; ++k) w[k] = V::set1(a.w[k * a.kw + q]);
    const float* xq = x + a.offset[q];
#pragma GCC unroll 16
    for (int i = 0; i < R + K - 1; ++i)
#pragma GCC unroll 4
      for (int b = 0; b < B; ++b) {
        Reg v = V::load(xq + i * a.row_step + b * L);
        if constexpr (!__is_class(Reg)) asm("" : "+v"(v));  // one load, not one per FMA (see above)
#pragma GCC unroll 8
        for (int k = 0; k < K; ++k)
          if (i - k >= 0 && i - k < R) acc[i - k][b] = V::fma(v, w[k], acc[i - k][b]);
      }
  }
  store_rows<V, R, B>(a, r0, j, n, acc);
}

// channels_first_block, or its rows_overlap form for 3 and 5 kernel rows where the weights fit the
// registers beside the accumulators.
template <class V, int R, int B>
void channels_first_rows_block(const ChannelsFirstRows& a, int64_t r0, int64_t j, int64_t n) {
  if constexpr (R >= 2 && R * B + 5 + B <= V::kRegisters) {
    if (a.rows_overlap && a.kernel_rows == 5) return channels_first_block_overlap<V, R, B, 5>(a, r0, j, n);
    if (a.rows_overlap && a.kernel_rows == 3) return channels_first_block_overlap<V, R, B, 3>(a, r0, j, n);
  }
  channels_first_block<V, R, B>(a, r0, j, n);
}

// R rows from r0 in blocks of 4 vectors; the last 1 to 4 vectors (partial or not) in one block. Blocks
// wider than the row are never taken (the caller picks R so that R x the blocks a row has fit).
template <class V, int R>
void channels_first_pass(const ChannelsFirstRows& a, int64_t r0) {
  constexpr int64_t L = V::kLanes;
  constexpr int kMaxBlock = std::min(4, kRowAccumulators<V> / R);
  int64_t j = 0;
  if constexpr (kMaxBlock == 4)
    for (; a.width - j > 4 * L; j += 4 * L) channels_first_rows_block<V, R, 4>(a, r0, j, 4 * L);
  switch ((a.width - j + L - 1) / L) {
    case 4: if constexpr (kMaxBlock >= 4) channels_first_rows_block<V, R, 4>(a, r0, j, a.width - j); break;
    case 3: if constexpr (kMaxBlock >= 3) channels_first_rows_block<V, R, 3>(a, r0, j, a.width - j); break;
    case 2: if constexpr (kMaxBlock >= 2) channels_first_rows_block<V, R, 2>(a, r0, j, a.width - j); break;
    default: channels_first_rows_block<V, R, 1>(a, r0, j, a.width - j);
  }
}

// The rows in passes of as many rows as the accumulators allow for the row's width (4 rows of 4 vectors,
// or 8 rows of 2 vectors on AVX-512), then halves of that for the rows left.
template <class V>
void channels_first_rows(const ChannelsFirstRows& a) {
  constexpr int64_t L = V::kLanes;
  const int64_t vectors = std::min<int64_t>(4, (a.width + L - 1) / L);
  const int64_t most = std::min<int64_t>(8, kRowAccumulators<V> / vectors);
  int64_t r = 0;
  while (r < a.rows) {
    const int64_t left = std::min(most, a.rows - r);
    if (left >= 8) channels_first_pass<V, 8>(a, r), r += 8;
    else if (left >= 4) channels_first_pass<V, 4>(a, r), r += 4;
    else if (left >= 2) channels_first_pass<V, 2>(a, r), r += 2;
    else channels_first_pass<V, 1>(a, r), r += 1;
  }
}

// Strided copies of rows for staging them: vector copies (step 1), vector deinterleaving (step 2, while
// the two source vectors stay inside the n * step floats read), otherwise one float at a time.
template <class V>
void gather_row(const float* src, int64_t step, int64_t n, float* dst) {
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

template <class V>
void gather(const float* const* src, int64_t rows, int64_t offset, int64_t step, int64_t n, float* dst,
            int64_t dst_step) {
  for (int64_t r = 0; r < rows; ++r) {
    if (src[r]) gather_row<V>(src[r] + offset, step, n, dst + r * dst_step);
    else std::fill_n(dst + r * dst_step, n, 0.0f);
  }
}

// Zero insertion: vectors of interleaved (value, 0) pairs for step 2 (the common stride), else a float
// at a time between zeroed runs.
template <class V>
void expand(const float* src, int64_t n, int64_t step, float* dst) {
  constexpr int64_t L = V::kLanes;
  int64_t i = 0;
  if (step == 2)
    for (; i + L < n; i += L) {  // (< n: the second store ends with a zero past dst[(i + L - 1) * 2])
      const typename V::Reg v = V::load(src + i);
      V::store(dst + 2 * i, V::interleave_zero_low(v));
      V::store(dst + 2 * i + L, V::interleave_zero_high(v));
    }
  if (i == n) return;
  std::fill_n(dst + i * step, (n - 1 - i) * step + 1, 0.0f);
  for (; i < n; ++i) dst[i * step] = src[i];
}

template <class V, Isa kIsa>
constexpr DepthwiseKernels depthwise_kernel_table() {
  return {kIsa, V::kLanes, &channels_last_pixels<V>, &channels_first_rows<V>, &gather<V>, &expand<V>};
}

}  // namespace convkit::cpu::CONVKIT_TARGET
