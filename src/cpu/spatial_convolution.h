// Direct convolution vectorized along the spatial W axis, for layers with few channels (an image through
// a Sobel or blur filter, RGB through 3 filters, a 1-channel volume through a 5x5x5 kernel): there the
// implicit GEMM has a reduction of only taps * Cin and an output-channel tile it cannot fill, while here
// every vector holds L neighbouring output columns, whatever the channel counts.
//
// Work is split in bands: (image, group, output D index, P output rows, up to kChunk output columns).
// A band first stages the input rows it reads, one per (input channel, D tap, row it reads), each with
// the padding mode applied along W and deinterleaved by the W stride (phase q holds the padded cells
// s * j + q), so the micro-kernel reads plain contiguous vectors for every tap; rows wholly in the zero
// padding point at one zero row, and D/H padding of the other modes is the choice of the source row.
// The output channels of a group are computed in blocks of at most kMaxSpatialChannels, one
// micro-kernel (spatial.isa.COxP) for the whole layer. channels_last inputs are staged from their
// interleaved pixels; channels_last outputs with several channels go through a small per-band buffer.
// Every spec except transposed ones; rank 1-3, both layouts, stride, dilation, every padding kind and
// mode, groups, flip, bias, batch.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "algorithm.h"
#include "aligned_buffer.h"
#include "spatial_kernel.h"

namespace convkit::cpu {

class SpatialConvolution final : public Algorithm {
 public:
  static std::string cannot(const ConvSpec& spec);
  static std::string prefers_not(const ConvSpec& spec);

  SpatialConvolution(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa);

  void run(ConstTensorView input, float* output, int threads) const override;
  std::string name() const override { return kernel_.name(); }
  std::string details() const override;
  std::size_t packed_bytes() const override { return weights_.bytes() + bias_.bytes(); }
  std::size_t workspace_bytes(const Shape& input_shape, int threads) const override;

 private:
  struct Call;  // per-call geometry and the band loop
  void plan_row_slots();

  ConvSpec spec_;
  SpatialKernel kernel_{};
  int64_t groups_ = 1, cin_g_ = 1, cout_g_ = 1;
  int64_t kernel_size_[3] = {1, 1, 1};  // (D, H, W), leading axes 1 below rank 3
  int64_t row_taps_ = 1;                // Cin/g * kd * kh
  int64_t blocks_ = 1, block_width_ = 1;  // output-channel blocks per group, channels per block (= CO)
  int64_t band_rows_ = 1, band_pieces_w_ = 1;  // pieces per band: rows x vectors along W
  // row_slots_[r * KH + kh]: which of a band's `row_slots_used_` distinct input rows (per input channel and
  // D tap) band row r reads at H tap kh; rows read by several (r, kh) are staged once.
  std::vector<int64_t> row_slots_;
  int64_t row_slots_used_ = 0;
  AlignedBuffer weights_;  // [group][block][row tap][kw][CO], zero beyond Cout/g
  AlignedBuffer bias_;     // [group][block][CO], empty without bias
};

}  // namespace convkit::cpu
