// The per-ISA inner loops of the grouped channels_last convolution (grouped_convolution.h drives them).
//
// Lanes are output channels. An output channel's group reads only Cin/g = C input channels, so the input
// is first "expanded": per input column, C vectors, the c-th holding in lane o the input channel c of
// lane o's group (a permute of the input vector, or a broadcast when one group fills the vector), stored
// as C planes of the row's columns ([c][column][lane]). The main loop is then a plain FMA stream: per
// kernel tap and c, one weight vector times the expanded input of P neighbouring output pixels. With W
// stride 1 those are neighbouring vectors of one plane, addressed by constant offsets (no index
// registers: with a register per pixel, GCC spilled them and the kernel ran ~25% slower).
#pragma once

#include <cstdint>

#include "isa.h"

namespace convkit::cpu {

constexpr int kGroupedMaxPixels = 12;  // output pixels per pass (accumulators)

struct GroupedExpand {
  const float* const* sources;  // per column, the input of the vector's first group, or null (zeros)
  int64_t columns = 0;
  int64_t cin_g = 0;            // C
  int64_t count = 0;            // input floats to load per column (<= lanes)
  bool broadcast = false;       // one group per vector: entry c is input c broadcast
  const int32_t* index = nullptr;  // [c][lane]: the permute of entry c (when not broadcast)
  float* dst = nullptr;         // [c][column][lane]
};

struct GroupedPixels {
  const float* expanded = nullptr;  // this pass's output pixel 0 at tap offset 0
  const int64_t* tap_offsets = nullptr;  // per tap, floats into `expanded`
  int64_t taps = 0;
  int64_t cin_g = 0;
  int64_t c_step = 0;              // floats between the planes of neighbouring input channels c
  int64_t pixel_step = 0;          // floats between the expanded inputs of neighbouring output pixels
  const float* w = nullptr;        // [tap][c][lane]
  const float* bias = nullptr;     // lanes values, or null
  float* y = nullptr;              // output pixel p, lane o at y[p * y_step + o]
  int64_t y_step = 0;
  int64_t lanes_valid = 0;         // output channels of this vector that exist (<= lanes)
  int pixels = 0;                  // <= kGroupedMaxPixels
};

struct GroupedKernels {
  Isa isa;
  int lanes;
  void (*expand)(const GroupedExpand&);
  // [unit][P - 1]: P pixels per pass; unit: pixel_step is one vector (W stride 1), a constant offset.
  void (*pixels[2][kGroupedMaxPixels])(const GroupedPixels&);
};

}  // namespace convkit::cpu
