// Grouped convolutions with few channels per group in channels_last (ResNeXt's 32 groups of 4): a
// direct kernel vectorized along the output channels (grouped_kernel.h), where the implicit GEMM would
// run one tiny GEMM per group and waste most of each register tile.
//
// Accepts channels_last, groups > 1, Cout/g a power of two, Cin/g <= Cout/g; rank 1-3, any stride,
// dilation, padding and padding mode (applied while expanding the input), flip, bias.
// Extra memory per thread: kd * kh * (chunk columns) * Cin/g * lanes floats (the expanded input of one
// chunk of at most kChunkColumns output columns).
#pragma once

#include <string>
#include <vector>

#include "algorithm.h"
#include "aligned_buffer.h"
#include "grouped_kernel.h"

namespace convkit::cpu {

class GroupedConvolution final : public Algorithm {
 public:
  static std::string cannot(const ConvSpec& spec);
  static std::string prefers_not(const ConvSpec& spec);

  GroupedConvolution(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa);

  void run(ConstTensorView input, float* output, int threads) const override;
  std::string name() const override;
  std::string details() const override;
  std::size_t packed_bytes() const override { return weights_.bytes() + bias_.bytes(); }
  std::size_t workspace_bytes(const Shape& input_shape, int threads) const override;

 private:
  struct Call;

  ConvSpec spec_;
  const GroupedKernels* kernels_ = nullptr;
  int64_t cin_g_ = 1, cout_g_ = 1;
  int64_t kernel_size_[3] = {1, 1, 1};  // (D, H, W)
  int64_t taps_ = 1;
  int64_t vectors_ = 1;          // vectors of output channels (the last one possibly partial)
  std::vector<int32_t> index_;   // [c][lane] expansion permutes; empty: broadcasts (one group per vector)
  AlignedBuffer weights_;        // [vector][tap][c][lane]
  AlignedBuffer bias_;           // [vector][lane], empty without bias
};

}  // namespace convkit::cpu
