// The micro-kernel template, instantiated once per ISA by isa_kernels.cc with a vector type V:
//   V::Reg, V::kLanes, zero(), load(p), broadcast(p), fma(a, b, acc), add(a, b), store(p, v),
//   load_partial(p, n) / store_partial(p, n, v) touching only the first n < kLanes floats, and
//   load_strided(p, step, n): p[0], p[step], ..., p[(n - 1) * step] (n <= kLanes, the rest zero).
#pragma once

#include <algorithm>
#include <cstdint>

#include "tile_kernel.h"

namespace convkit::cpu::CONVKIT_TARGET {

// Rows [row0, row0 + MR) of the call (the first `rows` of them are C's; rows > MR only with a_pitch).
// Inlined into tile's loop: a call per block (frame, vzeroupper) was a tenth of a K = 15 tile's time.
template <class V, int MR, int NV, bool kIndirect>
[[gnu::always_inline]] inline void row_block(const TileArgs& t, int row0) {
  using Reg = typename V::Reg;
  constexpr int L = V::kLanes;
  const int rows = std::min(MR, t.rows - row0);
  const int64_t ldc = t.c_row_stride;
  float* const c = t.c + row0 * ldc;
  // The accumulators start at the bias (or at C), so the output write is only stores. A partial tile
  // goes through a local buffer.
  const bool full = rows == MR && t.cols == NV * L;
  alignas(64) float partial[MR][NV * L];
  Reg acc[MR][NV];
  if (t.accumulate) {
    if (!full) {
      std::fill_n(&partial[0][0], MR * NV * L, 0.0f);
      for (int i = 0; i < rows; ++i) std::copy_n(c + i * ldc, t.cols, partial[i]);
    }
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] = V::load(full ? c + i * ldc + j * L : &partial[i][j * L]);
  } else {
    Reg col_bias[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) col_bias[j] = t.col_bias ? V::load(t.col_bias + j * L) : V::zero();
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      // Only the call's rows: with a_pitch the bias holds `rows` values, fewer than the last block's MR.
      const Reg row_bias = t.row_bias && i < rows ? V::broadcast(t.row_bias + row0 + i) : V::zero();
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] = t.row_bias ? V::add(row_bias, col_bias[j]) : col_bias[j];
    }
  }

  // One step of the reduction: NV vectors of B times MR broadcasts of A.
  auto step = [&acc](const float* b, auto a_of_row) {
    Reg bv[NV];
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) bv[j] = V::load(b + j * L);
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i) {
      const Reg a = V::broadcast(a_of_row(i));
#pragma GCC unroll 8
      for (int j = 0; j < NV; ++j) acc[i][j] = V::fma(a, bv[j], acc[i][j]);
    }
  };

  // Start fetching output lines now: the first write to an output line is a read from memory, which
  // would otherwise stall the stores at the end of the tile (it matters for short reductions, e.g. 1x1).
  // The first rows fetch their own lines, and every MR rows the next MR rows' (a whole tile ahead).
  const auto prefetch_rows = [&](float* from, int count) {
#pragma GCC unroll 32
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
      for (int j = 0; j < NV * L; j += 16)
        if (i < count) __builtin_prefetch(from + i * ldc + j, 1, 3);
  };
  if (row0 == 0) prefetch_rows(c, rows);
  if (t.rows - row0 > MR) prefetch_rows(c + MR * ldc, std::min(MR, t.rows - row0 - MR));

  const float* b = t.b;
  if constexpr (kIndirect) {
    for (int64_t tap = 0; tap < t.taps; ++tap) {
      const float* a_rows[MR];
      if (t.a_pitch > 0) {
        for (int i = 0; i < MR; ++i) a_rows[i] = t.a_rows[tap] + (row0 + std::min(i, rows - 1)) * t.a_pitch;
      } else {
        std::copy_n(t.a_rows + tap * MR, MR, a_rows);
      }
      for (int64_t k = 0; k < t.k_per_tap; ++k, b += t.b_stride) step(b, [&](int i) { return a_rows[i] + k; });
    }
  } else {
    const float* a = t.a_packed;
    const int64_t a_stride = t.a_stride ? t.a_stride : MR;
    if (t.b_offsets) {
      const int64_t* offset = t.b_offsets;
      for (int64_t k = t.taps * t.k_per_tap; k > 0; --k, ++offset, a += a_stride)
        step(b + *offset, [a](int i) { return a + i; });
    } else {
      for (int64_t k = t.taps * t.k_per_tap; k > 0; --k, b += t.b_stride, a += a_stride)
        step(b, [a](int i) { return a + i; });
    }
  }

  // Output write.
#pragma GCC unroll 32
  for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 8
    for (int j = 0; j < NV; ++j) {
      V::store(full ? c + i * ldc + j * L : &partial[i][j * L], acc[i][j]);
    }
  }
  if (!full)
    for (int i = 0; i < rows; ++i) std::copy_n(partial[i], t.cols, c + i * ldc);
}

// The call's rows MR at a time (one block unless A is read at a pitch).
template <class V, int MR, int NV, bool kIndirect>
void tile(const TileArgs& t) {
  for (int row0 = 0; row0 < t.rows; row0 += MR) row_block<V, MR, NV, kIndirect>(t, row0);
}

// A tile whose columns end before its last vectors runs as the tile with only the vectors that hold
// columns: 100 output channels in 32-wide tiles compute 112 columns instead of 128, 124 pixels in 96-wide
// tiles 128 instead of 192 (the operand B rows keep their stride; the vectors past the columns are unread).
template <class V, int MR, int NV, bool kIndirect>
void tile_columns(const TileArgs& t) {
  if constexpr (NV > 1)
    if (t.cols <= (NV - 1) * V::kLanes) return tile_columns<V, MR, NV - 1, kIndirect>(t);
  tile<V, MR, NV, kIndirect>(t);
}

// d[j] = from[j * S] for j < n (S = 2 or 4), through the even lanes of vector pairs (twice for S = 4)
// instead of gathers; each vector's loads cover only the floats up to the last one it needs (masked
// loads at the end of the stretch), so nothing past from[(n - 1) * S] is read.
template <class V, int S>
void decimate_stretch(const float* from, int64_t n, float* d) {
  static_assert(S == 2 || S == 4);
  constexpr int64_t L = V::kLanes;
  for (int64_t j = 0; j < n; j += L, from += S * L) {
    const int64_t span = std::min(S * L, S * (n - j - 1) + 1);  // the floats this vector's elements span
    typename V::Reg v[S];
    for (int k = 0; k < S; ++k) {
      const int64_t count = std::clamp<int64_t>(span - k * L, 0, L);
      v[k] = count == L ? V::load(from + k * L) : count > 0 ? V::load_partial(from + k * L, count) : V::zero();
    }
    typename V::Reg every = V::even(v[0], v[1]);
    if constexpr (S == 4) every = V::even(every, V::even(v[2], v[3]));
    if (n - j >= L) V::store(d + j, every);
    else V::store_partial(d + j, n - j, every);
  }
}

// Segment copies with full vectors and one partial (masked) vector per segment; stretches of stride 2
// and 4 through even-lane shuffles (a stride-2 layer packs every input float kh * kw / 4 times: gathers
// took half of the ResNet-50 stem's time), larger strides through gathers.
constexpr int64_t kMaxGatherStep = (int64_t{1} << 31) / 64;

template <class V>
void pack_segments(const PixelSegment* segments, int64_t count, int64_t step, const float* src, int64_t src_stride,
                   int64_t rows, float* dst, int64_t dst_stride) {
  constexpr int64_t L = V::kLanes;
  for (int64_t r = 0; r < rows; ++r, src += src_stride, dst += dst_stride)
    for (const PixelSegment* s = segments; s < segments + count; ++s) {
      float* d = dst + s->begin;
      int64_t j = 0;
      if (s->source < 0) {
        for (; j + L <= s->length; j += L) V::store(d + j, V::zero());
        if (j < s->length) V::store_partial(d + j, s->length - j, V::zero());
      } else if (step > kMaxGatherStep) {  // gather indices are 32-bit
        const float* from = src + s->source;
        for (; j < s->length; ++j) d[j] = from[j * step];
      } else if (step == 2) {
        decimate_stretch<V, 2>(src + s->source, s->length, d);
      } else if (step == 4) {
        decimate_stretch<V, 4>(src + s->source, s->length, d);
      } else if (step > 1) {
        const float* from = src + s->source;
        for (; j + L <= s->length; j += L) V::store(d + j, V::load_strided(from + j * step, step, L));
        if (j < s->length) V::store_partial(d + j, s->length - j, V::load_strided(from + j * step, step, s->length - j));
      } else {
        const float* from = src + s->source;
        for (; j + L <= s->length; j += L) V::store(d + j, V::load(from + j));
        if (j < s->length) V::store_partial(d + j, s->length - j, V::load_partial(from + j, s->length - j));
      }
    }
}

// The kernel table entries for one ISA: every (MR, NV) shape in both the gemm and igemm variants.
template <class V, Isa kIsa, int MR, int NV>
constexpr TileKernel gemm_kernel() {
  return {kIsa, false, MR, NV * V::kLanes, V::kLanes, &tile_columns<V, MR, NV, false>, &pack_segments<V>};
}
template <class V, Isa kIsa, int MR, int NV>
constexpr TileKernel igemm_kernel() {
  return {kIsa, true, MR, NV * V::kLanes, V::kLanes, &tile_columns<V, MR, NV, true>, &pack_segments<V>};
}

}  // namespace convkit::cpu::CONVKIT_TARGET
