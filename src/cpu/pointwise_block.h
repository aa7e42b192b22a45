// The pointwise (1x1, ungrouped) convolution of a block of pixels held in a buffer, for fused pipelines:
// the GEMM micro-kernels (tile_kernel.h) over weights packed once, reading the block where the previous
// stage left it (in cache) and writing the final output.
//
//   channels_last:  block [pixel][Cin]; igemm kernels, A = MR pixels through row pointers, B = weight
//                   panels of NR output channels; y[pixel * Cout + o].
//   channels_first: block [Cin][pixel]; gemm kernels, A = weight panels of MR output channels, B = NR
//                   pixels read from the block as is; y[o * y_channel_stride + pixel].
#pragma once

#include <cstdint>
#include <string>

#include "aligned_buffer.h"
#include "convkit/spec.h"
#include "convkit/tensor.h"
#include "tile_kernel.h"

namespace convkit::cpu {

class PointwiseBlock {
 public:
  // `spec` a 1x1 stride-1 unpadded convolution with groups 1; `weight` in its layout; `bias` Cout values or null.
  PointwiseBlock(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa);

  // y = bias + W x for `pixels` pixels of `block` (layouts above). channels_first reads up to
  // slack_floats() floats past the block's end (values in unused lanes only).
  void run(const float* block, int64_t pixels, float* y, int64_t y_channel_stride) const;
  int64_t slack_floats() const { return kernel_.nr; }
  const TileKernel& kernel() const { return kernel_; }

 private:
  bool channels_last_ = false;
  int64_t cin_ = 1, cout_ = 1;
  TileKernel kernel_{};
  int64_t panel_width_ = 1, panels_ = 1;
  AlignedBuffer weights_;  // [panel][c][panel_width], zero beyond Cout
  AlignedBuffer bias_;     // [panel][panel_width], or empty
};

}  // namespace convkit::cpu
