// Grouped convolutions in channels_last with many channels per group (ShuffleNet's 1x1 with 3 groups of
// 80 -> 80, RegNet-style 3x3 groups of 16-64): one indirect GEMM per group, as `gemm` computes them, but
//   - with a register tile whose width fits Cout/g (e.g. 5 pixels x 80 channels on AVX-512), where the
//     dense engine's wider tiles would pad 80 channels to 96 (IsaKernels::grouped_gemm_tiles: the dense
//     engine's tiles plus those shapes, isa_kernels.cc);
//   - block by block of output pixels, every group of a block in turn while the block's input pixels
//     (all groups) are in L1/L2, instead of one pass over the image per group.
// Accepts channels_last, groups > 1; rank 1-3, any stride, dilation, padding and padding mode (a row
// pointer per pixel and tap names the cell the padding mode reads; rows in the zero padding point at a
// zero row), flip, bias. Extra memory per thread: taps * (block pixels + MR) row pointers.
#pragma once

#include <string>

#include "algorithm.h"
#include "aligned_buffer.h"
#include "tile_kernel.h"

namespace convkit::cpu {

class GroupedGemmConvolution final : public Algorithm {
 public:
  static std::string cannot(const ConvSpec& spec);
  static std::string prefers_not(const ConvSpec& spec);

  GroupedGemmConvolution(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa);

  void run(ConstTensorView input, float* output, int threads) const override;
  std::string name() const override { return kernel_name("grouped_gemm", kernel_.isa, kernel_.tile()); }
  std::string details() const override;
  std::size_t packed_bytes() const override { return weights_.bytes() + bias_.bytes() + zeros_.bytes(); }
  std::size_t workspace_bytes(const Shape& input_shape, int threads) const override;

 private:
  struct Call;

  ConvSpec spec_;
  TileKernel kernel_{};
  int64_t groups_ = 1, cin_g_ = 1, cout_g_ = 1;
  int64_t kernel_size_[3] = {1, 1, 1};  // (D, H, W), leading axes 1 below rank 3
  int64_t taps_ = 1, k_ = 1;            // k = taps * Cin/g
  int64_t panels_ = 1;                  // weight panels of NR channels per group
  AlignedBuffer weights_;               // [group][panel][k][NR], zero beyond Cout/g
  AlignedBuffer bias_;                  // [group][panel][NR], empty without bias
  AlignedBuffer zeros_;                 // Cin/g zeros: the row of a pixel in the zero padding
};

}  // namespace convkit::cpu
