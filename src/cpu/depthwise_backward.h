// Direct input gradient of a strided depthwise convolution (BackwardDataPlan's route for them),
// output-stationary as oneDNN's jit_uni_dw_conv_bwd_data: each dx row is computed once, in order, from
// the dy rows its taps reach. Along one axis, cell i receives tap q from dy[o] when
// i + pad = o * stride + q * dilation, so dx[i] = sum over those q of w[q] dy[(i + pad - q * d) / s].
//
//   channels_last:  vectorized along the channels, on the forward depthwise pixel kernel: per dx row and W
//                   phase (the cells i = i0 + t * s share their W taps, and consecutive ones read
//                   consecutive dy pixels) one evenly stepping run, its taps the phase's W taps x the
//                   (D, H) taps whose dy row exists; the border cells, whose taps partly fall outside dy,
//                   one at a time with the taps they have. Multiplier 1 only (a dy pixel's channels of
//                   one input channel are `multiplier` apart: not a vector).
//   channels_first: vectorized along the dx width, on the forward depthwise row kernel: dy rows are
//                   staged zero-inserted (dy[o] at s * o, zeros between), so every W tap is a plain
//                   unit-stride correlation tap and a vector of dx holds all the W phases (s x the
//                   useful multiply-adds along W, which the memory-bound layer hides). The staged rows
//                   come in bands per tile of 64 dx rows (rows outside dy staged as zeros), so the
//                   rows of one H phase read their dy rows a fixed step apart and share the weights.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "aligned_buffer.h"
#include "convkit/spec.h"
#include "convkit/tensor.h"
#include "depthwise_kernel.h"
#include "driver_util.h"
#include "isa.h"

namespace convkit::cpu {

// One spatial axis of the gradient: cells [0, target) (the input, or the padded input when its padding
// is folded afterwards), the taps reaching cell i from dy cell o when i + pad = o * stride + q * dilation.
struct DepthwiseBackwardAxis {
  int64_t target = 1, pad = 0, output = 1;  // output: dy cells
  int64_t kernel = 1, stride = 1, dilation = 1;
};
using DepthwiseBackwardGeometry = std::array<DepthwiseBackwardAxis, kMaxRank>;  // by slot (D, H, W)

class DepthwiseBackwardData {
 public:
  // Empty when the direct kernel computes the input gradient of `spec` (depthwise, not transposed, a
  // stride > 1; channels_last with multiplier 1), otherwise why not.
  static std::string cannot(const ConvSpec& spec);
  // Empty when a call of this geometry's staged bands (channels_first) fit the workspace bound.
  std::string cannot(const DepthwiseBackwardGeometry& geometry) const;

  // `weight` in the spec's layout (shape checked); its taps reversed when spec.flip.
  DepthwiseBackwardData(const ConvSpec& spec, ConstTensorView weight, Isa isa);

  // dx (contiguous, `batch` images of geometry's targets, the spec's layout) from dy (contiguous).
  void run(const float* dy, float* dx, int64_t batch, const DepthwiseBackwardGeometry& geometry, int threads) const;
  // The kernel: depthwise.<isa>.channels or .width, the forward micro-kernels it runs on.
  std::string name() const;

 private:
  struct Call;
  ConvSpec spec_;
  const DepthwiseKernels* kernels_ = nullptr;
  int64_t channels_ = 1, multiplier_ = 1;
  int64_t kernel_size_[kMaxRank] = {1, 1, 1};
  int64_t taps_ = 1, padded_channels_ = 1;
  AlignedBuffer weights_;  // channels_last [tap][padded channel], channels_first [output channel][tap]
};

}  // namespace convkit::cpu
