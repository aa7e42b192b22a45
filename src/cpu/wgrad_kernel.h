// The per-ISA inner loop of the direct weight-gradient algorithms (weight_gradient_direct.h drives it):
// sums of products of "dy" vectors and "x" vectors over a block of rows and steps, lane by lane,
//
//   acc[o * taps + t][l] += sum over rows r, steps i of
//       dy[o][r * dy_row_step + i * dy_step + l] * x[t][r * x_row_step + i * x_step + l]
//
// with all `outputs` x `taps` sums in registers for the whole call; with one output, optionally also
//
//   dy_sums[l] += sum over rows r, steps i of dy[0][r * dy_row_step + i * dy_step + l]
//
// (a float sum per call, added in double: the bias gradient in the same pass over dy). Vectorized along the channels
// (channels_last depthwise: a step is one pixel, the lanes its channels, the sums per lane are the result)
// or along W (staged rows: a step is one vector of consecutive pixels, the caller adds up the lanes).
// Each dy vector feeds `taps` FMAs and each x vector `outputs` of them. Kernels are named by
// outputs x taps ("few_channel.avx512.width1x9") and listed per ISA in one table.
#pragma once

#include <cstdint>

#include "isa.h"

namespace convkit::cpu {

struct WgradRows {
  const float* const* x = nullptr;  // [taps]
  const float* const* dy = nullptr;  // [outputs]
  float* const* acc = nullptr;      // [outputs * taps], one vector of L floats each (loaded, added to, stored)
  int64_t taps = 0, outputs = 0;
  int64_t rows = 1, x_row_step = 0, dy_row_step = 0;
  int64_t steps = 0, x_step = 0, dy_step = 0;
  // Lanes every step reads (<= L) and the last step reads (<= lanes); the others read as zero.
  int64_t lanes = 0, last_lanes = 0;
  double* dy_sums = nullptr;  // outputs == 1 only: L doubles, or null (no sums of dy)
};

inline constexpr int kMaxWgradOutputs = 4;

struct WgradKernels {
  Isa isa;
  int lanes;
  // The most taps one call may have for 1..kMaxWgradOutputs outputs (the sums must fit the registers; one
  // output keeps a register for dy_sums).
  int max_taps[kMaxWgradOutputs];
  // Any 1 <= outputs <= kMaxWgradOutputs and 1 <= taps <= max_taps[outputs - 1].
  void (*rows)(const WgradRows&);
  // acc[k] += src[base + k] in double for each block base = 0, block, 2 block, ... < n (k < block, the
  // last block cut at n): the bias gradient's sums, `block` independent chains of double adds.
  void (*add_blocks)(const float* src, int64_t n, int64_t block, double* acc);
};

}  // namespace convkit::cpu
