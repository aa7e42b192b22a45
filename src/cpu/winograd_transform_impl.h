// The Winograd tile transforms as one template over the vector type V (simd_<isa>.h), the tile size m
// and the rank; instantiated once per ISA by isa_kernels.cc, with that ISA's flags. The matrices are
// template arguments, so every coefficient is a compile-time constant: zeros cost nothing, +-1 is an
// add or a subtraction, anything else one FMA.
#pragma once

#include <algorithm>
#include <utility>

#include "winograd_matrices.h"
#include "winograd_transform.h"

namespace convkit::cpu::CONVKIT_TARGET {

// acc (+)= mat[r][j] * x, skipping zeros; `first` is the row's first non-zero column (it starts the sum).
template <class V, const auto& mat, int r, int j, int first>
[[gnu::always_inline]] inline typename V::Reg term(typename V::Reg acc, typename V::Reg x) {
  constexpr float c = mat[r][j];
  if constexpr (c == 0.0f) return acc;
  else if constexpr (j == first) return c == 1.0f ? x : V::mul(V::set1(c), x);
  else if constexpr (c == 1.0f) return V::add(acc, x);
  else if constexpr (c == -1.0f) return V::sub(acc, x);
  else return V::fma(V::set1(c), x, acc);
}

template <const auto& mat, int r, int C>
constexpr int first_nonzero() {
  for (int j = 0; j < C; ++j)
    if (mat[r][j] != 0.0f) return j;
  return C;
}

// sum_j mat[r][j] * in[j * in_stride], one row of the matrix product.
template <class V, const auto& mat, int r, int C, int... j>
[[gnu::always_inline]] inline typename V::Reg row(const typename V::Reg* in, int in_stride, std::integer_sequence<int, j...>) {
  typename V::Reg acc = V::zero();
  ((acc = term<V, mat, r, j, first_nonzero<mat, r, C>()>(acc, in[j * in_stride])), ...);
  return acc;
}

template <class V, const auto& mat, int C, int... r>
[[gnu::always_inline]] inline void rows(const typename V::Reg* in, int in_stride, typename V::Reg* out, int out_stride,
          std::integer_sequence<int, r...>) {
  ((out[r * out_stride] = row<V, mat, r, C>(in, in_stride, std::make_integer_sequence<int, C>{})), ...);
}

// out[r * out_stride] = sum_j mat[r][j] * in[j * in_stride] for r < R (mat is R x C).
template <class V, const auto& mat, int R, int C>
[[gnu::always_inline]] inline void apply(const typename V::Reg* in, int in_stride, typename V::Reg* out, int out_stride) {
  rows<V, mat, C>(in, in_stride, out, out_stride, std::make_integer_sequence<int, R>{});
}

template <class V, int M, int Rank>
void input_transform(const float* d, int64_t row_stride, int64_t col_stride, int64_t channels, float* v,
                     int64_t v_stride) {
  using Mat = WinogradMatrices<M>;
  constexpr int A = M + 2, H = Rank == 2 ? A : 1;
  constexpr int L = V::kLanes;
  for (int64_t c = 0; c < channels; c += L) {
    const int64_t n = std::min<int64_t>(L, channels - c);
    typename V::Reg in[H][A], t[H][A];
#pragma GCC unroll 64
    for (int i = 0; i < H; ++i)
#pragma GCC unroll 64
      for (int j = 0; j < A; ++j) {
        const float* p = d + i * row_stride + j * col_stride + c;
        in[i][j] = n == L ? V::load(p) : V::load_partial(p, n);
      }
#pragma GCC unroll 64
    for (int i = 0; i < H; ++i) apply<V, Mat::bt, A, A>(in[i], 1, t[i], 1);  // along W: t = d B
    if constexpr (Rank == 2)
#pragma GCC unroll 64
      for (int j = 0; j < A; ++j) apply<V, Mat::bt, A, A>(&t[0][j], A, &in[0][j], A);  // along H: BT t
    const typename V::Reg* result = Rank == 2 ? &in[0][0] : &t[0][0];
#pragma GCC unroll 64
    for (int xi = 0; xi < H * A; ++xi) {
      float* p = v + xi * v_stride + c;
      if (n == L) V::store(p, result[xi]);
      else V::store_partial(p, n, result[xi]);
    }
  }
}

template <class V, int M, int Rank>
void output_transform(const float* m, int64_t m_stride, int64_t channels, const float* bias, float* y,
                      int64_t row_stride, int64_t col_stride, int rows, int cols) {
  using Mat = WinogradMatrices<M>;
  constexpr int A = M + 2, H = Rank == 2 ? A : 1, OH = Rank == 2 ? M : 1;
  constexpr int L = V::kLanes;
  for (int64_t c = 0; c < channels; c += L) {
    const int64_t n = std::min<int64_t>(L, channels - c);
    typename V::Reg in[H][A], t[H][M], out[OH][M];
#pragma GCC unroll 64
    for (int i = 0; i < H; ++i)
#pragma GCC unroll 64
      for (int j = 0; j < A; ++j) {
        const float* p = m + (i * A + j) * m_stride + c;
        in[i][j] = n == L ? V::load(p) : V::load_partial(p, n);
      }
#pragma GCC unroll 64
    for (int i = 0; i < H; ++i) apply<V, Mat::at, M, A>(in[i], 1, t[i], 1);  // along W: t = M A
    if constexpr (Rank == 2)
#pragma GCC unroll 64
      for (int j = 0; j < M; ++j) apply<V, Mat::at, M, A>(&t[0][j], M, &out[0][j], M);  // along H: AT t
    else
      std::copy_n(t[0], M, out[0]);
    const typename V::Reg b = bias ? (n == L ? V::load(bias + c) : V::load_partial(bias + c, n)) : V::zero();
    for (int i = 0; i < rows; ++i)
      for (int j = 0; j < cols; ++j) {
        const typename V::Reg value = bias ? V::add(out[i][j], b) : out[i][j];
        float* p = y + i * row_stride + j * col_stride + c;
        if (n == L) V::store(p, value);
        else V::store_partial(p, n, value);
      }
  }
}

// The table entries for one ISA: m = 2, 4, 6 in 1D and 2D.
template <class V, Isa kIsa, int M, int Rank>
constexpr WinogradTransform winograd_entry() {
  return {kIsa, M, Rank, &input_transform<V, M, Rank>, &output_transform<V, M, Rank>};
}

template <class V, Isa kIsa>
constexpr WinogradTransform kWinogradTable[] = {
    winograd_entry<V, kIsa, 2, 1>(), winograd_entry<V, kIsa, 4, 1>(), winograd_entry<V, kIsa, 6, 1>(),
    winograd_entry<V, kIsa, 2, 2>(), winograd_entry<V, kIsa, 4, 2>(), winograd_entry<V, kIsa, 6, 2>(),
};

}  // namespace convkit::cpu::CONVKIT_TARGET
