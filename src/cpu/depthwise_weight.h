// A depthwise weight read per (output channel, tap), in either layout: the set-up both depthwise
// algorithms (the forward DepthwiseConvolution and DepthwiseBackwardData) pack their weights from.
#pragma once

#include <array>
#include <cstdint>

#include "convkit/spec.h"
#include "convkit/tensor.h"
#include "driver_util.h"

namespace convkit::cpu {

class DepthwiseWeight {
 public:
  // `weight`: channels_first (Cout, 1, k...), channels_last (k..., 1, Cout), any strides.
  DepthwiseWeight(const ConvSpec& spec, ConstTensorView weight);

  // Kernel sizes in (D, H, W) slots (1 below the rank) and their product.
  const std::array<int64_t, kMaxRank>& kernel_size() const { return kernel_size_; }
  int64_t taps() const { return kernel_size_[0] * kernel_size_[1] * kernel_size_[2]; }

  // The weight the forward correlation applies at tap `tap` ((D, H, W) order) of output channel o:
  // spec.flip reads the kernel reversed along every axis.
  float operator()(int64_t o, int64_t tap) const;

 private:
  ConstTensorView weight_;
  bool flip_ = false;
  std::array<int64_t, kMaxRank> kernel_size_{1, 1, 1}, tap_stride_{0, 0, 0};
  int64_t channel_stride_ = 0;
};

}  // namespace convkit::cpu
