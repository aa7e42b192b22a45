// The weight gradient of a convolution as a GEMM over packed tiles, for every ConvSpec (rank 1-3, both
// layouts, stride, dilation, padding kinds and modes, groups, flip, transposed).
//
// Every term of the forward sum, y[p] += w[q] * x[i], pairs a cell of one tensor read at a kernel tap
// with a cell of the other read in place: for a convolution x is read at tap q of output pixel p
// (i = source(p*stride + q*dilation - pad_begin)); for a transposed convolution y is written at tap q of
// input pixel i (p = i*stride + q*dilation - pad_begin). Call the tensor read at a tap G ("gathered":
// x, or dy when transposed) and the other D ("direct": dy, or x when transposed). Then, per group,
//
//   dW[(tap, gc)][dc] = sum over k = (image n, pixel t of D) of  G[n, gc, gather(t, tap)] * D[n, dc, t]
//
// a GEMM of M = taps * G channels/group rows, N = D channels/group columns and K = batch * D pixels.
// A (rows (tap, gc)) is packed per tile of MR rows over the whole K: k-major MR floats per pixel for
// channels_last (the MR channels of one pixel are consecutive), row-major for channels_first (the pixels
// of one channel are); B is D itself (channels_last, full panels) or D packed into NR-wide panels.
// Each MR x NR tile of dW is one micro-kernel call holding the whole reduction in registers, so the
// summation order is fixed and the result is identical for every thread count; threads share the tiles.
// Extra memory: MR * K floats per thread plus, when D is packed, one group's panels (NR * K each).
#pragma once

#include <cstddef>
#include <string>

#include "convkit/spec.h"
#include "convkit/tensor.h"
#include "isa.h"
#include "tile_kernel.h"
#include "weight_gradient_algorithm.h"

namespace convkit::cpu {

class WeightGradient final : public WeightGradientAlgorithm {
 public:
  WeightGradient(const ConvSpec& spec, Isa isa);

  void run(ConstTensorView input, ConstTensorView grad_output, float* grad_weight, int threads) const override;
  std::string name() const override;
  std::string details() const override;
  std::size_t workspace_bytes(const Shape& input_shape, int threads) const override;

 private:
  struct Call;

  ConvSpec spec_;
  TileKernel kernel_{};
  int64_t groups_ = 1, gathered_g_ = 1, direct_g_ = 1;  // channels per group of G and D
  int64_t kernel_size_[3] = {1, 1, 1};                 // (D, H, W), leading axes 1 below rank 3
  int64_t taps_ = 1;
};

}  // namespace convkit::cpu
