// Direct weight gradients for the layers a GEMM serves badly (depthwise, few channels), on the per-ISA
// loop of wgrad_kernel.h. For a convolution (not transposed), per group,
//
//   dw[o][c][tap] = sum over images n and output pixels p of  x[n, c, p*stride + tap*dilation - pad] * dy[n, o, p]
//
// (the padding mode's cell for a tap outside the input; none for zeros).
//
//   ChannelVectorWeightGradient (`depthwise`, channels_last): one output channel per input channel; the
//     channels are the vector lanes, so a pixel's dy vector multiplies the x vectors of all taps of a
//     channel block, whose sums stay in registers. Each axis is cut into segments of output pixels
//     reading the same taps inside the input (the border pixels of a 3-wide kernel are 2 segments, the
//     rest one), so a call covers a (rows x columns) rectangle with every tap it lists inside the input:
//     no padding is staged or multiplied. Threads take whole channel vectors (below 8 vectors, shape-fixed
//     runs of rectangles with partial sums added in order).
//   RowWeightGradient (`depthwise` channels_first, `few_channel`): vectorized along W. Per band of 16
//     output rows the input rows it reads are staged padded (padding mode applied, zero rows for the
//     zero padding, split into the stride phases the taps read so a tap reads consecutive cells), then
//     each call sums up to 4 output channels x up to 28 (input channel, tap) pairs over the band. The
//     reduction is split into a fixed number of chunks of bands per group (independent of the thread
//     count), whose partial sums are added in order at the end.
// Both give identical bits for every thread count, and sum the bias gradient in the same pass (one output
// channel per group): each kernel call adds its dy vectors in float, the calls' sums are added in double.
#pragma once

#include <cstdint>
#include <string>

#include "weight_gradient_algorithm.h"
#include "wgrad_kernel.h"

namespace convkit::cpu {

class ChannelVectorWeightGradient final : public WeightGradientAlgorithm {
 public:
  // Depthwise (groups == in_channels == out_channels), channels_last, zero padding, not transposed.
  static std::string cannot(const ConvSpec& spec);
  ChannelVectorWeightGradient(const ConvSpec& spec, Isa isa);

  void run(ConstTensorView input, ConstTensorView grad_output, float* grad_weight, float* grad_bias,
           int threads) const override;
  bool sums_bias() const override { return true; }
  std::string name() const override;
  std::string details() const override;
  std::size_t workspace_bytes(const Shape& input_shape, int threads) const override;

 private:
  ConvSpec spec_;
  const WgradKernels* kernels_;
  int64_t taps_ = 1;
};

class RowWeightGradient final : public WeightGradientAlgorithm {
 public:
  // Every convolution that is not transposed (any groups, padding kind and mode, rank 1-3, both layouts).
  static std::string cannot(const ConvSpec& spec);
  // family: the table entry it serves (few_channel, or depthwise in channels_first), its name's first part.
  RowWeightGradient(const ConvSpec& spec, Isa isa, std::string_view family);

  void run(ConstTensorView input, ConstTensorView grad_output, float* grad_weight, float* grad_bias,
           int threads) const override;
  bool sums_bias() const override { return out_g_ == 1; }  // the kernel sums dy for one output
  std::string name() const override;
  std::string details() const override;
  std::size_t workspace_bytes(const Shape& input_shape, int threads) const override;

 private:
  struct Call;

  ConvSpec spec_;
  std::string_view family_;
  const WgradKernels* kernels_;
  int64_t in_g_ = 1, out_g_ = 1, taps_ = 1;
  int64_t outputs_ = 1;  // output channels per kernel call
};

}  // namespace convkit::cpu
