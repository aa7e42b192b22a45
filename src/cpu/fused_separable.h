// Fused depthwise separable convolution: a depthwise stage followed by a pointwise (1x1) stage without a
// round trip of the intermediate through memory. The output is cut into blocks of whole output rows (the
// outermost spatial axes: rows of a 2D image, (depth, row) pairs of a volume), at least one row per block
// (a 1D signal is one row: its two stages simply run in turn, with no cache benefit). For each block, a
// thread computes the depthwise output of every mid channel into its own buffer of at most half of L2
// (block_bytes) with the depthwise kernels, then the pointwise GEMM micro-kernels read it from there and
// write the final output. The blocks depend on the shapes only, and each output is
// computed by one thread, so the result does not depend on the thread count.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "convkit/spec.h"
#include "convkit/tensor.h"
#include "depthwise_convolution.h"
#include "pointwise_block.h"

namespace convkit::cpu {

class FusedSeparable {
 public:
  static constexpr int64_t kMinBlockPixels = 256;  // per block at least, whatever block_bytes says

  // Empty when `depthwise` then `pointwise` can be fused: a depthwise convolution, then an ungrouped,
  // unpadded, stride-1 1x1 convolution of its output in the same layout. Otherwise why not.
  static std::string cannot(const ConvSpec& depthwise, const ConvSpec& pointwise);
  // Empty unless the staged execution is expected to be faster: channels_first volumes, whose blocks (less
  // than a depth plane) stage each input row once per depth that reads it (kd times), where the staged
  // depthwise goes through all depths of a few rows and stages it once (0.86x of staged on X3D's block).
  static std::string prefers_not(const ConvSpec& depthwise);

  // Weights in their specs' layouts (contiguous); biases out_channels values or null. block_bytes: the
  // intermediate per block (per thread); 0 for half of this machine's L2 (measured on Zen 5, 1 MiB L2:
  // 512 KiB blocks ran MobileNet's channels_first blocks 1.1-1.2x faster than 256 KiB, channels_last even).
  FusedSeparable(const ConvSpec& depthwise, ConstTensorView depthwise_weight, const float* depthwise_bias,
                 const ConvSpec& pointwise, ConstTensorView pointwise_weight, const float* pointwise_bias, Isa isa,
                 int64_t block_bytes = 0);

  // `input` contiguous, shape checked against the depthwise spec; `output` contiguous of the pointwise
  // stage's output shape.
  void run(ConstTensorView input, float* output, int threads) const;
  std::string name() const;     // e.g. "fused.depthwise.avx512.channels+gemm.avx512.6x64" (two kernel names)
  std::string details() const;  // one line for explain()
  // How many blocks of rows one image's output is cut into for `input_shape`.
  int64_t row_blocks(const Shape& input_shape) const;

 private:
  std::array<int64_t, 2> output_rows_and_width(const Shape& input_shape) const;

  ConvSpec pointwise_spec_;
  int64_t block_bytes_;
  DepthwiseConvolution depthwise_;
  PointwiseBlock pointwise_;
};

}  // namespace convkit::cpu
