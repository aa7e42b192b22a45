#include "depthwise_weight.h"

#include <vector>

#include "convkit/shape.h"

namespace convkit::cpu {

DepthwiseWeight::DepthwiseWeight(const ConvSpec& spec, ConstTensorView weight) : weight_(weight), flip_(spec.flip) {
  const bool last = spec.layout == Layout::channels_last;
  const std::vector<int64_t> kernel = per_axis(spec.kernel, spec.rank, 1, "kernel");
  const Shape& st = weight.strides();
  channel_stride_ = last ? st[static_cast<size_t>(spec.rank) + 1] : st[0];
  for (int axis = 0; axis < spec.rank; ++axis) {
    kernel_size_[slot(spec.rank, axis)] = kernel[static_cast<size_t>(axis)];
    tap_stride_[slot(spec.rank, axis)] = st[static_cast<size_t>(axis) + (last ? 0 : 2)];
  }
}

float DepthwiseWeight::operator()(int64_t o, int64_t tap) const {
  const int64_t q[kMaxRank] = {tap / (kernel_size_[1] * kernel_size_[2]), tap / kernel_size_[2] % kernel_size_[1],
                               tap % kernel_size_[2]};
  int64_t offset = o * channel_stride_;
  for (size_t a = 0; a < kMaxRank; ++a) offset += (flip_ ? kernel_size_[a] - 1 - q[a] : q[a]) * tap_stride_[a];
  return weight_.data()[offset];
}

}  // namespace convkit::cpu
