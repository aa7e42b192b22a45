// The per-ISA inner loops of the direct depthwise convolution (depthwise_convolution.h drives them).
//
//   channels_last:  a run of output pixels x a range of channels, vectorized along the channels, 8 pixels per
//                   pass; the caller lists the kernel taps the pixels read (taps in the zero padding left
//                   out) as input pointers, the pixels `x_step` floats apart.
//   channels_first: one output row of one channel, vectorized along the output width; the caller lists
//                   per tap a row whose element j is the input that output column j reads (a staged
//                   copy of the input row: padded and, for strides > 1, deinterleaved), which `gather`
//                   makes.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "isa.h"

namespace convkit::cpu {

struct ChannelsLastPixels {
  int64_t pixels = 0;
  // Tap t: the input of pixel p, channel c is x[t][p * x_step + c]; its packed weights
  // for multiplier m, channel c are w[t][m * w_multiplier_stride + c] (padded to whole vectors).
  const float* const* x = nullptr;
  const float* const* w = nullptr;
  int64_t taps = 0;
  int64_t x_step = 0;
  int64_t channel_begin = 0, channel_end = 0;  // input channels [begin, end); begin a whole number of vectors
  int64_t multiplier = 1;  // output channel c * multiplier + m reads input channel c
  int64_t w_multiplier_stride = 0;
  const float* bias = nullptr;  // bias[m * bias_multiplier_stride + c] (padded like the weights), or null
  int64_t bias_multiplier_stride = 0;
  // Output of pixel p, input channel c, multiplier m: y[p * y_step + c * multiplier + m].
  float* y = nullptr;
  int64_t y_step = 0;
};

struct ChannelsFirstRow {
  // Output column j = bias + sum over taps t of w[t] * x[t][j]; x[t] readable up to the width rounded
  // up to whole vectors.
  const float* const* x = nullptr;
  const float* w = nullptr;
  int64_t taps = 0;
  int64_t width = 0;
  float bias = 0.0f;
  float* y = nullptr;
};

struct DepthwiseKernels {
  Isa isa;
  int lanes;
  void (*pixels)(const ChannelsLastPixels&);
  void (*row)(const ChannelsFirstRow&);
  // dst[i] = src[i * step] for i < n.
  void (*gather)(const float* src, int64_t step, int64_t n, float* dst);
};

const DepthwiseKernels& depthwise_kernels(Isa isa);

}  // namespace convkit::cpu
