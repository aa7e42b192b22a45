// The weight-gradient inner loop (wgrad_kernel.h) as a template over a vector type V (simd_<isa>.h),
// instantiated once per ISA by isa_kernels.cc, in that ISA's namespace and with its flags.
#pragma once

#include <algorithm>
#include <utility>

#include "wgrad_kernel.h"

namespace convkit::cpu::CONVKIT_TARGET {

// Steps per block: each x vector then feeds CO * P FMAs per pointer read; more would not leave the
// registers for the sums of many taps.
template <int CO>
constexpr int kWgradSteps = CO <= 2 ? 2 : 1;

// Taps per call for CO outputs: CO * taps sums + CO * P dy vectors + one x vector in the registers, and
// for one output the sum of its dy vectors (WgradRows::dy_sums).
template <class V, int CO>
constexpr int kWgradMaxTaps = std::min(28, (V::kRegisters - CO * kWgradSteps<CO> - 1 - (CO == 1 ? 1 : 0)) / CO);

// Keeps a loaded vector in a register: GCC otherwise folds a fresh load into each of the CO FMAs using it.
// (The portable vector is a struct of floats, which no asm register constraint takes.)
template <class V>
inline void keep_in_register(typename V::Reg& r) {
  if constexpr (!requires { &V::Reg::v; }) asm("" : "+v"(r));
}

// P steps from step i of row r, every load reading `n` lanes (kFull: all of them); kSum: adds the dy
// vectors of output 0 into dy_sum.
template <class V, int CO, int TT, int P, bool kFull, bool kSum>
[[gnu::always_inline]] inline void wgrad_block(const WgradRows& a, int64_t r, int64_t i, int64_t n,
                                              typename V::Reg (&acc)[CO][TT], typename V::Reg& dy_sum) {
  using Reg = typename V::Reg;
  Reg d[CO][P];
#pragma GCC unroll 4
  for (int o = 0; o < CO; ++o) {
    const float* dy = a.dy[o] + r * a.dy_row_step + i * a.dy_step;
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) d[o][p] = kFull ? V::load(dy + p * a.dy_step) : V::load_partial(dy + p * a.dy_step, n);
  }
  if constexpr (kSum) {
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) dy_sum = V::add(dy_sum, d[0][p]);
  }
  const int64_t offset = r * a.x_row_step + i * a.x_step;
#pragma GCC unroll 28
  for (int t = 0; t < TT; ++t) {
    const float* x = a.x[t] + offset;
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) {
      Reg v = kFull ? V::load(x + p * a.x_step) : V::load_partial(x + p * a.x_step, n);
      if constexpr (CO > 1) keep_in_register<V>(v);
#pragma GCC unroll 4
      for (int o = 0; o < CO; ++o) acc[o][t] = V::fma(v, d[o][p], acc[o][t]);
    }
  }
}

template <class V, int CO, int TT, bool kFull, bool kSum>
void wgrad_rows_kernel(const WgradRows& a) {
  using Reg = typename V::Reg;
  constexpr int P = kWgradSteps<CO>;
  Reg acc[CO][TT], dy_sum = V::zero();
#pragma GCC unroll 4
  for (int o = 0; o < CO; ++o)
#pragma GCC unroll 28
    for (int t = 0; t < TT; ++t) acc[o][t] = V::zero();
  // Steps reading `lanes` lanes; a shorter last step (a row's tail along W) is read masked.
  const int64_t whole = a.last_lanes == a.lanes ? a.steps : a.steps - 1;
  for (int64_t r = 0; r < a.rows; ++r) {
    int64_t i = 0;
    for (; i + P <= whole; i += P) wgrad_block<V, CO, TT, P, kFull, kSum>(a, r, i, a.lanes, acc, dy_sum);
    for (; i < whole; ++i) wgrad_block<V, CO, TT, 1, kFull, kSum>(a, r, i, a.lanes, acc, dy_sum);
    if (whole < a.steps) wgrad_block<V, CO, TT, 1, false, kSum>(a, r, i, a.last_lanes, acc, dy_sum);
  }
  if constexpr (kSum) {
    float lanes[V::kLanes];
    V::store(lanes, dy_sum);
    for (int l = 0; l < V::kLanes; ++l) a.dy_sums[l] += lanes[l];
  }
#pragma GCC unroll 4
  for (int o = 0; o < CO; ++o)
#pragma GCC unroll 28
    for (int t = 0; t < TT; ++t) {
      float* sum = a.acc[o * TT + t];
      V::store(sum, V::add(V::load(sum), acc[o][t]));
    }
}

// The kernels of one ISA by [full lanes][outputs - 1][taps - 1], and those of one output that also sum its
// dy by [full lanes][taps - 1]. A struct named by V, not a std::array: an instantiation shared by every
// ISA's file (std::array<void (*)(...)>::operator[]) would be one weak symbol for all of them
// (tests/isa_symbols_test.sh).
template <class V>
struct WgradTable {
  void (*run[2][kMaxWgradOutputs][28])(const WgradRows&) = {};
  void (*summing[2][28])(const WgradRows&) = {};
};

template <class V, int CO, int... kTaps>
constexpr void fill_wgrad_table(WgradTable<V>& table, std::integer_sequence<int, kTaps...>) {
  ((table.run[0][CO - 1][kTaps] = &wgrad_rows_kernel<V, CO, kTaps + 1, false, false>), ...);
  ((table.run[1][CO - 1][kTaps] = &wgrad_rows_kernel<V, CO, kTaps + 1, true, false>), ...);
  if constexpr (CO == 1) {
    ((table.summing[0][kTaps] = &wgrad_rows_kernel<V, 1, kTaps + 1, false, true>), ...);
    ((table.summing[1][kTaps] = &wgrad_rows_kernel<V, 1, kTaps + 1, true, true>), ...);
  }
}

template <class V, int... kOutputs>
constexpr WgradTable<V> wgrad_table(std::integer_sequence<int, kOutputs...>) {
  WgradTable<V> table;
  (fill_wgrad_table<V, kOutputs + 1>(table, std::make_integer_sequence<int, kWgradMaxTaps<V, kOutputs + 1>>{}), ...);
  return table;
}

template <class V>
void wgrad_rows(const WgradRows& a) {
  static constexpr WgradTable<V> table = wgrad_table<V>(std::make_integer_sequence<int, kMaxWgradOutputs>{});
  const int full = a.lanes == V::kLanes ? 1 : 0;
  if (a.dy_sums) return table.summing[full][a.taps - 1](a);
  table.run[full][a.outputs - 1][a.taps - 1](a);
}

// The compiler vectorizes the block loop with this ISA's widest conversions and double adds.
template <class V>
void add_blocks(const float* src, int64_t n, int64_t block, double* acc) {
  for (int64_t base = 0; base < n; base += block) {
    const int64_t m = std::min(block, n - base);
    const float* from = src + base;
    for (int64_t k = 0; k < m; ++k) acc[k] += from[k];
  }
}

template <class V, Isa kIsa>
constexpr WgradKernels wgrad_kernel_table() {
  return {kIsa,
          V::kLanes,
          {kWgradMaxTaps<V, 1>, kWgradMaxTaps<V, 2>, kWgradMaxTaps<V, 3>, kWgradMaxTaps<V, 4>},
          &wgrad_rows<V>,
          &add_blocks<V>};
}

}  // namespace convkit::cpu::CONVKIT_TARGET
