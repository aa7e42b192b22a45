#include "weight_panels.h"

#include <array>
#include <vector>

#include "convkit/shape.h"
#include "driver_util.h"

namespace convkit::cpu {

AlignedBuffer pack_weight_panels(const ConvSpec& spec, ConstTensorView weight, int64_t width, int64_t runs) {
  const bool channels_last = spec.layout == Layout::channels_last;
  const int64_t groups = spec.groups, cin_g = spec.in_channels / groups, cout_g = spec.out_channels / groups;
  const int64_t run_length = cin_g / runs, panels = ceil_div(cout_g, width);
  const std::vector<int64_t> kernel = per_axis(spec.kernel, spec.rank, 1, "kernel");
  std::array<int64_t, kMaxRank> size{1, 1, 1};
  for (int axis = 0; axis < spec.rank; ++axis) size[slot(spec.rank, axis)] = kernel[static_cast<size_t>(axis)];
  const int64_t taps = size[0] * size[1] * size[2];

  // Element strides of the weight along (output channel, input channel, D, H, W), per layout:
  // channels_first (Cout, Cin/g, k...), channels_last (k..., Cin/g, Cout).
  const auto& st = weight.strides();
  const size_t r = static_cast<size_t>(spec.rank);
  const int64_t o_stride = channels_last ? st[r + 1] : st[0];
  const int64_t c_stride = channels_last ? st[r] : st[1];
  std::array<int64_t, kMaxRank> q_stride{0, 0, 0};
  for (int axis = 0; axis < spec.rank; ++axis)
    q_stride[slot(spec.rank, axis)] = st[static_cast<size_t>(axis) + (channels_last ? 0 : 2)];

  AlignedBuffer panels_buffer(static_cast<size_t>(groups * panels * taps * cin_g * width));
  float* out = panels_buffer.data();
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t p = 0; p < panels; ++p)
      for (int64_t tap = 0; tap < taps; ++tap) {
        const int64_t q[kMaxRank] = {tap / (size[1] * size[2]), tap / size[2] % size[1], tap % size[2]};
        int64_t tap_offset = 0;
        for (size_t a = 0; a < kMaxRank; ++a) tap_offset += (spec.flip ? size[a] - 1 - q[a] : q[a]) * q_stride[a];
        for (int64_t k = 0; k < cin_g; ++k) {
          const int64_t c = k % run_length * runs + k / run_length;
          for (int64_t lane = 0; lane < width; ++lane) {
            const int64_t o = p * width + lane;
            *out++ = o < cout_g ? weight.data()[(g * cout_g + o) * o_stride + c * c_stride + tap_offset] : 0.0f;
          }
        }
      }
  return panels_buffer;
}

AlignedBuffer pack_bias_panels(const ConvSpec& spec, const float* bias, int64_t width) {
  const int64_t groups = spec.groups, cout_g = spec.out_channels / groups;
  const int64_t padded = ceil_div(cout_g, width) * width;
  AlignedBuffer panels(static_cast<size_t>(groups * padded));
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t o = 0; o < padded; ++o) panels.data()[g * padded + o] = o < cout_g ? bias[g * cout_g + o] : 0.0f;
  return panels;
}

}  // namespace convkit::cpu
