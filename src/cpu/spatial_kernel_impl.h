// The spatial micro-kernel template, instantiated per ISA by isa_kernels.cc with its lane count L.
// The vectors are GCC/Clang vector extensions: each translation unit's target flags turn them into that
// ISA's registers (and -ffp-contract=fast the multiply-adds into FMAs).
#pragma once

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "spatial_kernel.h"

namespace convkit::cpu::CONVKIT_TARGET {

template <int L>
struct VectorOf {
  typedef float type __attribute__((vector_size(L * sizeof(float))));
};

template <int L, int CO, int P>
void spatial_tile(const SpatialArgs& a) {
  using V = typename VectorOf<L>::type;
  for (int64_t col = 0; col < a.width; col += a.step) {
    V acc[P][CO];
#pragma GCC unroll 32
    for (int p = 0; p < P; ++p)
#pragma GCC unroll 8
      for (int o = 0; o < CO; ++o) acc[p][o] = V{};
    const float* w = a.weights;
    for (int64_t t = 0; t < a.row_taps; ++t) {
      const float* const* rows = a.rows + t * P;
      for (int64_t q = 0; q < a.kw; ++q, w += CO) {
        const int64_t offset = col + a.tap_offsets[q];
        V wv[CO];
#pragma GCC unroll 8
        for (int o = 0; o < CO; ++o) wv[o] = V{} + w[o];
#pragma GCC unroll 32
        for (int p = 0; p < P; ++p) {
          V x;
          std::memcpy(&x, rows[p] + offset, sizeof x);
          // Keeps x in a register: otherwise GCC folds a fresh (often cache-line-splitting) load into each
          // of the CO FMAs, which made the 5x5x5 volume load-bound (-25% time measured).
          asm("" : "+v"(x));
#pragma GCC unroll 8
          for (int o = 0; o < CO; ++o) acc[p][o] += wv[o] * x;
        }
      }
    }
#pragma GCC unroll 32
    for (int p = 0; p < P; ++p) {
      const int64_t n = std::min<int64_t>(L, a.width - col - a.piece_column[p]);
      if (!a.out[p] || n <= 0) continue;
      for (int o = 0; o < a.channels; ++o) {
        const V v = a.bias ? acc[p][o] + a.bias[o] : acc[p][o];
        float* to = a.out[p] + o * a.out_channel_stride + col;
        if (n == L) std::memcpy(to, &v, sizeof v);  // one vector store
        else std::memcpy(to, &v, static_cast<size_t>(n) * sizeof(float));
      }
    }
  }
}

// One kernel per CO = 1..kMaxSpatialChannels, with as many pieces as `registers` accumulators allow
// (leaving room for the CO weights and the input vector).
template <int L, int kRegisters, int CO>
constexpr SpatialKernel spatial_kernel(Isa isa) {
  constexpr int kPieces = std::max(1, kRegisters / CO);
  return {isa, L, CO, kPieces, &spatial_tile<L, CO, kPieces>};
}

template <int L, int kRegisters, int... kChannels>
constexpr std::array<SpatialKernel, sizeof...(kChannels)> spatial_table(Isa isa,
                                                                      std::integer_sequence<int, kChannels...>) {
  return {spatial_kernel<L, kRegisters, kChannels + 1>(isa)...};
}

template <int L, int kRegisters>
constexpr auto spatial_table(Isa isa) {
  return spatial_table<L, kRegisters>(isa, std::make_integer_sequence<int, kMaxSpatialChannels>{});
}

}  // namespace convkit::cpu::CONVKIT_TARGET
