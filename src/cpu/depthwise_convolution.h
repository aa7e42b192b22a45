// Direct depthwise convolution (groups == in_channels, output channel c * multiplier + m reads input
// channel c), for rank 1-3, both layouts, every kernel size, stride, dilation, padding kind and padding
// mode, flip, fused bias. These layers do a few multiply-adds per value read, so they are bound by
// memory bandwidth: the kernels read the input and write the output once, with no im2col.
//
//   channels_last:  vectorized along the channels; P = 1..8 output pixels per pass share each weight
//                   vector (packed at plan time as [multiplier][tap][channel]). Pixels whose taps all
//                   fall inside the input row step through it with a fixed stride; the border pixels of
//                   both sides run together, listing the taps they read (the padding mode's cells, or a
//                   zero pixel). Blocks of 8 output rows go through the channels in strips.
//   channels_first: vectorized along the output width, up to 8 rows per pass sharing each weight; the
//                   input rows are staged (padded by the padding mode and, for a stride s > 1, split
//                   into s phases so that the columns one tap reads are contiguous) in bands of rows
//                   that tiles of 16 output rows read, so the rows one pass reads are a fixed step apart.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "algorithm.h"
#include "aligned_buffer.h"
#include "convkit/spec.h"
#include "convkit/tensor.h"
#include "depthwise_kernel.h"

namespace convkit::cpu {

class DepthwiseConvolution final : public Algorithm {
 public:
  // channels_first: the largest dilated kernel window (cells, H x W) its staged band may hold.
  static constexpr double kMaxStagedWindow = 1 << 20;
  // Empty when `spec` is a (non-transposed) depthwise convolution, otherwise why not.
  static std::string cannot(const ConvSpec& spec);
  // Empty unless another algorithm is expected to be faster: one input channel (groups == 1: spatial), or
  // channels_last with a multiplier larger than the channel count (e.g. a 16 -> 512 channel layer), where
  // the channel vectors would be mostly masked lanes (gemm).
  static std::string prefers_not(const ConvSpec& spec);

  DepthwiseConvolution(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa);

  void run(ConstTensorView input, float* output, int threads) const override;
  // channels_last with unit channel stride: written in place.
  bool run_strided(ConstTensorView input, TensorView output, int threads) const override;
  std::string name() const override;
  std::string details() const override;
  std::size_t packed_bytes() const override { return weights_.bytes() + bias_.bytes(); }
  std::size_t workspace_bytes(const Shape& input_shape, int threads) const override;
  const ConvSpec& spec() const { return spec_; }
  int64_t taps() const { return taps_; }

 private:
  struct Call;  // the per-call state: geometry, index tables, tensors
  void run_call(const Call& call, int64_t batch, int threads) const;

 public:
  // For fused pipelines (the composite plans): blocks of the output, each computed on its own by the
  // calling thread. The index tables are made once per input shape; one runner per thread.
  class BlockRunner {
   public:
    BlockRunner(const DepthwiseConvolution& conv, const Shape& input_shape);
    BlockRunner(BlockRunner&&) noexcept;
    ~BlockRunner();
    // Output rows [first_row, last_row) (row = od * out_h + oh) of image `image` of the contiguous `input`,
    // written to `block` as an output of only those rows: channels_last [pixel][channel], channels_first
    // [channel][pixel], pixel = (row - first_row) * out_w + column.
    void run(const float* input, int64_t image, int64_t first_row, int64_t last_row, float* block);

   private:
    std::unique_ptr<Call> call_;
  };

 private:
  ConvSpec spec_;
  const DepthwiseKernels* kernels_ = nullptr;
  int64_t channels_ = 1, multiplier_ = 1;
  int64_t kernel_size_[3] = {1, 1, 1};  // (D, H, W), leading axes 1 below rank 3
  int64_t taps_ = 1;
  int64_t padded_channels_ = 1;  // channels_last: the channels rounded up to whole vectors
  AlignedBuffer weights_;        // channels_last [m][tap][padded channel], channels_first [out channel][tap]
  AlignedBuffer bias_;           // channels_last [m][padded channel], channels_first [out channel]; or empty
};

}  // namespace convkit::cpu
