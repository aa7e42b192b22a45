// The weight gradient of a convolution as a GEMM over packed tiles, for every ConvSpec (rank 1-3, both
// layouts, stride, dilation, padding kinds and modes, groups, flip, transposed).
//
// Every term of the forward sum, y[p] += w[q] * x[i], pairs a cell of one tensor read at a kernel tap
// with a cell of the other read in place: for a convolution x is read at tap q of output pixel p
// (i = source(p*stride + q*dilation - pad_begin)); for a transposed convolution y is written at tap q of
// input pixel i (p = i*stride + q*dilation - pad_begin). Call the tensor read at a tap G ("gathered":
// x, or dy when transposed) and the other D ("direct": dy, or x when transposed; a pointwise layer, 1x1 with
// stride 1 and no padding, reads both at the same pixel and takes whichever orientation pads its tiles
// and costs least). Then, per group,
//
//   dW[(tap, gc)][dc] = sum over k = (image n, pixel t of D) of  G[n, gc, gather(t, tap)] * D[n, dc, t]
//
// a GEMM of M = taps * G channels/group rows, N = D channels/group columns and K = batch * D pixels,
// its rows ordered as dW's layout has them: (tap, gc) channels_last, (gc, tap) channels_first.
// The reduction is cut into blocks of KB (brgemm style: the packed operands of one block stay in L2, sized
// from the cache this machine has). Per K block a work unit packs D into NR-wide panels [KB][NR] (not for
// channels_last full panels: D is then read in place) once, and each of its A tiles once: k-major MR floats
// per pixel for channels_last (the MR channels of one pixel are consecutive), row-major [MR][KB] for
// channels_first (the pixels of one channel are), unless the kernel can read the tile from G in place
// (channels_last tiles whose MR rows are MR consecutive floats of G at every D pixel, channels_first pointwise
// layers, and channels_first with a W stride up to 4 through shifted views: a row pointer per A row and D
// row into G (or G split into its W stride phases once per run) for the columns every W tap reads inside G,
// the border columns packed, blocks of whole D rows);
// the MR x NR tiles of dW are then one micro-kernel call per (tile, panel, and W stretch when read
// in place), which adds onto the tile. A work unit is a run of A tiles of one group,
// so each tile is summed by one thread, block after block in order: the result does not depend on the
// thread count (KB does not either). Extra memory per thread: MR * KB + packed panels * NR * KB floats (and
// the views' row pointers); with stride phases, one copy of G.
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
  // `block_bytes`: the packed operands' budget per K block (0: half of this machine's L2; tests pass a
  // small one to split short reductions into several blocks).
  WeightGradient(const ConvSpec& spec, Isa isa, int64_t block_bytes = 0);

  void run(ConstTensorView input, ConstTensorView grad_output, float* grad_weight, float* grad_bias,
           int threads) const override;
  std::string name() const override;
  std::string details() const override;
  std::size_t workspace_bytes(const Shape& input_shape, int threads) const override;

 private:
  struct Call;

  ConvSpec spec_;
  TileKernel kernel_{};
  int64_t groups_ = 1, gathered_g_ = 1, direct_g_ = 1;  // channels per group of G and D
  bool swapped_ = false;  // a pointwise convolution run with dy as G (the rows) and x as D
  int64_t kernel_size_[3] = {1, 1, 1};                 // (D, H, W), leading axes 1 below rank 3
  int64_t taps_ = 1;
  int64_t k_block_ = 1;  // KB: reduction indices per block
};

}  // namespace convkit::cpu
