// The grouped kernels for one vector type V (simd_<isa>.h), instantiated once per ISA by isa_kernels.cc.
#pragma once

#include <utility>

#include "grouped_kernel.h"

namespace convkit::cpu::CONVKIT_TARGET {

template <class V>
void grouped_expand(const GroupedExpand& e) {
  constexpr int L = V::kLanes;
  const int64_t plane = e.columns * L;
  for (int64_t u = 0; u < e.columns; ++u) {
    const float* src = e.sources[u];
    float* dst = e.dst + u * L;
    if (!src) {
      for (int64_t c = 0; c < e.cin_g; ++c, dst += plane) V::store(dst, V::zero());
    } else if (e.broadcast) {
      for (int64_t c = 0; c < e.cin_g; ++c, dst += plane) V::store(dst, V::set1(src[c]));
    } else {
      const typename V::Reg x = e.count == L ? V::load(src) : V::load_partial(src, e.count);
      for (int64_t c = 0; c < e.cin_g; ++c, dst += plane) V::store(dst, V::permute(x, e.index + c * L));
    }
  }
}

template <class V, int P, bool kUnit>
void grouped_pixels(const GroupedPixels& a) {
  constexpr int L = V::kLanes;
  const int64_t step = kUnit ? L : a.pixel_step;
  using Reg = typename V::Reg;
  const Reg bias = a.bias ? V::load(a.bias) : V::zero();
  Reg acc[P];
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) acc[p] = bias;
  const float* w = a.w;
  for (int64_t t = 0; t < a.taps; ++t) {
    const float* x = a.expanded + a.tap_offsets[t];
    for (int64_t c = 0; c < a.cin_g; ++c, w += L, x += a.c_step) {
      const Reg wv = V::load(w);
#pragma GCC unroll 16
      for (int p = 0; p < P; ++p) acc[p] = V::fma(V::load(x + p * step), wv, acc[p]);
    }
  }
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
    if (a.lanes_valid == L) V::store(a.y + p * a.y_step, acc[p]);
    else V::store_partial(a.y + p * a.y_step, a.lanes_valid, acc[p]);
  }
}

template <class V, Isa kIsa, size_t... P>
constexpr GroupedKernels grouped_kernel_table(std::index_sequence<P...>) {
  return {kIsa, V::kLanes, &grouped_expand<V>,
          {{&grouped_pixels<V, static_cast<int>(P) + 1, false>...},
           {&grouped_pixels<V, static_cast<int>(P) + 1, true>...}}};
}

template <class V, Isa kIsa>
constexpr GroupedKernels grouped_kernel_table() {
  return grouped_kernel_table<V, kIsa>(std::make_index_sequence<kGroupedMaxPixels>());
}

}  // namespace convkit::cpu::CONVKIT_TARGET
