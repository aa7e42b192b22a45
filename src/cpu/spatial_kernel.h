// Micro-kernels of the spatial (few-channel direct) convolution: vectors run along the output's W axis,
// so a layer with one input channel or a handful of output channels still fills the SIMD lanes.
//
// One call computes `width` output columns of P "pieces" (a piece = one vector of L consecutive output
// columns of one output row) for CO output channels, summing over `row_taps` staged input rows (one per
// input channel, D tap and H tap) and `kw` taps along W:
//   out[p][o][col + l] = bias[o] + sum_t sum_q weights[t][q][o] * rows[t][p][col + l + tap_offsets[q]]
// Each loaded input vector feeds CO accumulators and each broadcast weight P of them, all in registers.
// Kernels are named spatial.isa.COxP and listed in one table per ISA (one per CO = 1..kMaxChannels,
// IsaKernels::spatial).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "isa.h"

namespace convkit::cpu {

struct SpatialArgs {
  // rows[t * P + p]: where piece p reads its first column at row tap t, tap_offsets[q] the extra
  // floats for W tap q. Reads may run up to one step past `width` (the staging leaves that slack).
  const float* const* rows = nullptr;
  int64_t row_taps = 0;
  const int64_t* tap_offsets = nullptr;
  int64_t kw = 0;
  const float* weights = nullptr;  // [row_taps][kw][CO]
  const float* bias = nullptr;     // CO values or null
  // out[p]: where piece p writes channel 0 (null: the piece is not stored); channel o is
  // out_channel_stride floats further. Only the first `channels` <= CO channels are stored.
  float* const* out = nullptr;
  const int64_t* piece_column = nullptr;  // [P]: the piece's first column relative to the tile
  int64_t out_channel_stride = 0;
  int channels = 0;
  int64_t width = 0;  // output columns: tiles at col = 0, step, 2 step, ... < width
  int64_t step = 0;   // columns between tiles (the pieces along W times L)
};

using SpatialFunction = void (*)(const SpatialArgs&);

struct SpatialKernel {
  Isa isa;
  int lanes;     // L
  int channels;  // CO
  int pieces;    // P
  SpatialFunction run;
  std::string name() const;
};

inline constexpr int kMaxSpatialChannels = 8;

}  // namespace convkit::cpu
