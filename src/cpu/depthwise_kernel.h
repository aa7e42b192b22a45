// The per-ISA inner loops of the direct depthwise convolution (depthwise_convolution.h drives them).
//
//   channels_last:  a run of output pixels x a range of channels, vectorized along the channels, 8 pixels per
//                   pass; the caller lists the kernel taps the pixels read as input pointers, the pixels
//                   `x_step` floats apart (or, for the border pixels, a list of pointers per pixel).
//   channels_first: consecutive output rows of one channel, vectorized along the output width; the caller
//                   lists per kernel row a staged input row whose element offset[q] + j is the input that
//                   output column j of the first row reads at W tap q (padded and, for strides > 1,
//                   deinterleaved, by `gather`), the next output rows reading `row_step` floats further.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "isa.h"

namespace convkit::cpu {

struct ChannelsLastPixels {
  int64_t pixels = 0;
  // Tap t: the input of pixel p, channel c is x[t][p * x_step + c], or with x_step == 0 (border pixels,
  // whose taps do not step evenly) x[p * taps + t][c]; its packed weights for multiplier m, channel c
  // are w[t][m * w_multiplier_stride + c] (padded to whole vectors).
  const float* const* x = nullptr;
  const float* const* w = nullptr;
  int64_t taps = 0;
  int64_t x_step = 0;
  int64_t channel_begin = 0, channel_end = 0;  // input channels [begin, end); begin a whole number of vectors
  int64_t multiplier = 1;  // output channel c * multiplier + m reads input channel c
  int64_t w_multiplier_stride = 0;
  const float* bias = nullptr;  // bias[m * bias_multiplier_stride + c] (padded like the weights), or null
  int64_t bias_multiplier_stride = 0;
  // Output of pixel p, input channel c, multiplier m: y[p * y_step + c * multiplier + m]; listed pixels
  // (x_step == 0) at y[columns[p] * y_step + c * multiplier + m].
  float* y = nullptr;
  int64_t y_step = 0;
  const int64_t* columns = nullptr;
  // Evenly stepping pixels along W with dilation 1 set kw (else 0): the taps are kernel rows of kw W taps,
  // tap r * kw + q reading x[r * kw] + q * (x_step / stride). The kernel then loads each input pixel once
  // per kernel row for all the taps that read it (stride 1, 2 and kw 3, 5, 7; others take the tap loop).
  int64_t kw = 0, stride = 1;
  // Evenly stepping pixels also prefetch (into L2) their channels in the prefetch_rows input rows after
  // the last tap's, prefetch_step floats apart: the rows the next output row reads first.
  int64_t prefetch_rows = 0, prefetch_step = 0;
};

struct ChannelsFirstRows {
  // Output row r < rows, column j = bias + sum over kernel rows k < kernel_rows and W taps q < kw of
  // w[k * kw + q] * x[k][r * row_step + offset[q] + j]; each row readable up to offset[q] + the width
  // rounded up to whole vectors. The rows share the weights: several rows per pass give the FMAs
  // independent accumulators when a row is only one or two vectors wide.
  const float* const* x = nullptr;
  int64_t row_step = 0;
  const int64_t* offset = nullptr;
  const float* w = nullptr;
  int64_t kernel_rows = 0, kw = 0;
  int64_t rows = 1;
  int64_t width = 0;
  float bias = 0.0f;
  float* y = nullptr;  // output row r at y + r * y_step
  int64_t y_step = 0;
  // Set when x[k] = x[0] + k * row_step for every kernel row (one D tap, H stride and dilation 1): staged
  // row i then serves output rows i - k, and the kernel loads it once for all of them (3 or 5 kernel rows).
  bool rows_overlap = false;
};

struct DepthwiseKernels {
  Isa isa;
  int lanes;
  void (*pixels)(const ChannelsLastPixels&);
  void (*rows)(const ChannelsFirstRows&);
  // Row r < rows: dst[r * dst_step + i] = src[r][offset + i * step] for i < n, or 0 when src[r] is null.
  void (*gather)(const float* const* src, int64_t rows, int64_t offset, int64_t step, int64_t n, float* dst,
                 int64_t dst_step);
  // dst[i * step] = src[i] for i < n and the floats between them zero: dst[0, (n - 1) * step + 1) is
  // written (the zero-inserted dy rows of the strided backward data, depthwise_backward.h).
  void (*expand)(const float* src, int64_t n, int64_t step, float* dst);
};

}  // namespace convkit::cpu
