#include "padding_only_outputs.h"

#include <array>
#include <vector>

namespace convkit::cpu {
namespace {

// Per output cell of one axis: true when taps o*s - pad_begin + q*d, q in [0, k), all miss [0, input).
std::vector<char> all_padding(const AxisGeometry& g) {
  std::vector<char> flags(static_cast<size_t>(g.output), 1);
  for (int64_t o = 0; o < g.output; ++o)
    for (int64_t q = 0; q < g.kernel; ++q)
      if (const int64_t i = o * g.stride - g.pad_begin + q * g.dilation; i >= 0 && i < g.input) {
        flags[static_cast<size_t>(o)] = 0;
        break;
      }
  return flags;
}

}  // namespace

void write_bias_where_all_padding(const ConvSpec& spec, const ConvGeometry& geometry, int64_t batch, const float* bias,
                                  float* output) {
  if (spec.padding_mode != PaddingMode::zeros || spec.transposed) return;
  // Three (D, H, W) slots, leading ones 1-sized for rank < 3.
  std::array<std::vector<char>, 3> flags{std::vector<char>{0}, std::vector<char>{0}, std::vector<char>{0}};
  bool any = false;
  const size_t first = 3 - geometry.axes.size();
  for (size_t a = 0; a < geometry.axes.size(); ++a) {
    flags[first + a] = all_padding(geometry.axes[a]);
    for (char f : flags[first + a]) any = any || f;
  }
  if (!any) return;
  const bool last = spec.layout == Layout::channels_last;
  const int64_t channels = spec.out_channels;
  const auto size = [&](size_t slot) { return static_cast<int64_t>(flags[slot].size()); };
  const int64_t pixels = size(0) * size(1) * size(2);
  for (int64_t n = 0; n < batch; ++n)
    for (int64_t d = 0, pixel = 0; d < size(0); ++d)
      for (int64_t h = 0; h < size(1); ++h)
        for (int64_t w = 0; w < size(2); ++w, ++pixel) {
          if (!flags[0][static_cast<size_t>(d)] && !flags[1][static_cast<size_t>(h)] && !flags[2][static_cast<size_t>(w)])
            continue;
          for (int64_t c = 0; c < channels; ++c)
            output[last ? (n * pixels + pixel) * channels + c : (n * channels + c) * pixels + pixel] = bias ? bias[c] : 0.0f;
        }
}

}  // namespace convkit::cpu
