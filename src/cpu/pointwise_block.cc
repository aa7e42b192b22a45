#include "pointwise_block.h"
#include "isa_kernels.h"

#include <algorithm>

#include "driver_util.h"
#include "weight_panels.h"

namespace convkit::cpu {
namespace {

constexpr int64_t kBlockTiles = 16;  // channels_last: pixel tiles per pass over the weight panels
constexpr int kMaxTileWidth = 128;   // >= every kernel's MR

}  // namespace

PointwiseBlock::PointwiseBlock(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa)
    : channels_last_(spec.layout == Layout::channels_last),
      cin_(spec.in_channels),
      cout_(spec.out_channels),
      kernel_(best_tile_kernel(isa_kernels(isa).tiles, channels_last_, channels_last_, cout_)) {
  panel_width_ = channels_last_ ? kernel_.nr : kernel_.mr;
  panels_ = ceil_div(cout_, panel_width_);
  weights_ = pack_weight_panels(spec, weight, panel_width_);
  if (bias) bias_ = pack_bias_panels(spec, bias, panel_width_);
}

void PointwiseBlock::run(const float* block, int64_t pixels, float* y, int64_t y_channel_stride) const {
  const int64_t mr = kernel_.mr, nr = kernel_.nr;
  TileArgs args;
  args.k_per_tap = cin_;
  if (channels_last_) {
    const float* rows[kBlockTiles * kMaxTileWidth];
    args.b_stride = nr;
    args.c_row_stride = cout_;
    const int64_t tiles = ceil_div(pixels, mr);
    for (int64_t first = 0; first < tiles; first += kBlockTiles) {
      const int64_t count = std::min(kBlockTiles, tiles - first);
      // Rows past the last pixel repeat it (the kernel reads MR rows, writes `rows` of them).
      for (int64_t i = 0; i < count * mr; ++i) rows[i] = block + std::min(first * mr + i, pixels - 1) * cin_;
      for (int64_t panel = 0; panel < panels_; ++panel) {
        args.b = weights_.data() + panel * cin_ * nr;
        args.cols = static_cast<int>(std::min(nr, cout_ - panel * nr));
        args.col_bias = bias_.size() ? bias_.data() + panel * nr : nullptr;
        for (int64_t s = 0; s < count; ++s) {
          const int64_t p0 = (first + s) * mr;
          args.a_rows = rows + s * mr;
          args.c = y + p0 * cout_ + panel * nr;
          args.rows = static_cast<int>(std::min(mr, pixels - p0));
          kernel_.run(args);
        }
      }
    }
    return;
  }
  args.b_stride = pixels;
  args.c_row_stride = y_channel_stride;
  for (int64_t p0 = 0; p0 < pixels; p0 += nr) {
    args.b = block + p0;
    args.cols = static_cast<int>(std::min(nr, pixels - p0));
    for (int64_t panel = 0; panel < panels_; ++panel) {
      args.a_packed = weights_.data() + panel * cin_ * mr;
      args.c = y + panel * mr * y_channel_stride + p0;
      args.rows = static_cast<int>(std::min(mr, cout_ - panel * mr));
      args.row_bias = bias_.size() ? bias_.data() + panel * mr : nullptr;
      kernel_.run(args);
    }
  }
}

}  // namespace convkit::cpu
