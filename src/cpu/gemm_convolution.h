// Dense convolution as an implicit GEMM over packed weight panels (BLIS/XNNPACK style), for every
// forward (non-transposed) ConvSpec: rank 1-3, both layouts, stride, dilation, every padding kind and
// padding mode, groups, flip, fused bias.
//
//   M x N x K = output pixels x output channels (per group) x (kernel taps * Cin/groups)
//
// The weights are packed once, at plan time, into panels of one micro-kernel width (zero-padded).
// The input side is never expanded to a full im2col matrix:
//   channels_last:  igemm, the micro-kernel reads input pixels through row pointers, one per pixel and
//                   kernel tap (kw taps at once when the W dilation is 1: kw * Cin/g consecutive floats);
//                   rows in the padding point at a zero row, rows partly in the padding at a patch copied
//                   per tile (the cells the padding mode reads);
//   channels_first: a block of tiles copies the stride phases of the input rows it reads (phase_window.h),
//                   in which every operand row is a contiguous stretch; where the rows are too short for
//                   that, the NR pixels of one tile are packed row by row (vector copies of the stretches
//                   that are contiguous in the input); 1x1 stride-1 unpadded layers read the input as is.
// Extra memory per thread: kMaxBlockTiles * MR * taps * (pointer + Cin/g floats) (channels_last),
// taps * Cin/g * NR floats (channels_first, packed) -- bounded by the kernel size, independent of the image
// size -- or a phase window (a block of tiles plus kh rows per channel and phase, at most 16 MiB) and
// Cout/g * NR sums.
//
// A channel shuffle can be fused into the input read (ShuffleNet: shuffle, then this grouped convolution):
// with `input_shuffle_groups` G > 1 the convolution reads channel_shuffle(input, G) without it existing.
// Shuffled channel k is input channel (k % G) * (C / G) + k / G (PyTorch's ChannelShuffle: view
// (G, C/G), transpose, flatten), so when G divides Cin/groups, the Cin/groups channels of group b are G
// runs of Cin/groups/G consecutive input channels, run j starting at j * C/G + b * Cin/groups/G. The
// reduction walks these runs (the weights are packed in the same order): every run is one more row
// pointer (channels_last) or one more packed stretch (channels_first) per kernel tap.
#pragma once

#include <cstddef>
#include <string>

#include "algorithm.h"
#include "aligned_buffer.h"
#include "convkit/spec.h"
#include "convkit/tensor.h"
#include "phase_window.h"
#include "tile_kernel.h"

namespace convkit::cpu {

class GemmConvolution final : public Algorithm {
 public:
  // Empty when this algorithm computes `spec`, otherwise the reason it cannot.
  static std::string cannot(const ConvSpec& spec);

  // Empty when it computes `spec` reading its input through a channel shuffle with `groups` groups.
  static std::string cannot_shuffle(const ConvSpec& spec, int64_t groups);

  // `weight` in the spec's layout (shape already checked); `bias` has out_channels values or is null.
  // `input_shuffle_groups` > 1 reads the input through that channel shuffle (cannot_shuffle() empty).
  GemmConvolution(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa,
                  int64_t input_shuffle_groups = 1);

  // `input` and `output` contiguous in the spec's layout, shapes already checked.
  void run(ConstTensorView input, float* output, int threads) const override;

  std::string name() const override { return kernel_name("gemm", kernel_.isa, kernel_.tile()); }
  std::string details() const override;
  std::size_t packed_bytes() const override { return weights_.bytes() + bias_.bytes() + zeros_.bytes(); }
  std::size_t workspace_bytes(const Shape& input_shape, int threads) const override;
  const TileKernel& kernel() const { return kernel_; }

 private:
  struct Call;  // the per-call state: geometry, index tables, tensors

  // channels_first: the phase windows for blocks of about a quarter of a thread's tiles, or none (empty):
  // stride-1 layers (packed, or read in place), and the geometries PhaseWindow declines.
  PhaseWindow phase_window(const ConvGeometry& geometry, int64_t batch, int threads) const;

  ConvSpec spec_;
  TileKernel kernel_{};
  int64_t groups_ = 1, cin_g_ = 1, cout_g_ = 1;
  // The input channels of group g are `runs_` runs of run_length_ consecutive channels, run j starting at
  // channel j * run_stride_ + g * group_stride_ (one run of Cin/g without a fused shuffle).
  int64_t runs_ = 1, run_length_ = 1, run_stride_ = 0, group_stride_ = 1;
  int64_t kernel_size_[3] = {1, 1, 1};  // (D, H, W), leading axes 1 below rank 3
  int64_t taps_ = 1, k_ = 1;            // taps = kd*kh*kw; k = taps * Cin/g
  bool merged_w_ = false;               // igemm rows span the kw taps along W (dilation 1 along W)
  int64_t row_taps_ = 1, row_length_ = 1;  // igemm: row pointers per pixel and floats per row
  int64_t panel_width_ = 1;             // output channels per weight panel (NR channels_last, MR channels_first)
  int64_t panels_ = 1;                  // weight panels per group
  AlignedBuffer weights_;               // [group][panel][k][panel_width]
  AlignedBuffer bias_;                  // [group][panel][panel_width], empty without bias
  AlignedBuffer zeros_;                 // one zero row of Cin/g floats for padding cells (igemm)
};

}  // namespace convkit::cpu
