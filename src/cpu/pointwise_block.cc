#include "pointwise_block.h"

#include <algorithm>

#include "driver_util.h"

namespace convkit::cpu {
namespace {

constexpr int64_t kBlockTiles = 16;  // channels_last: pixel tiles per pass over the weight panels
constexpr int kMaxTileWidth = 128;   // >= every kernel's MR

// The micro-kernel of the layout's kind whose panel width pads Cout least; on ties the larger tile.
TileKernel choose_kernel(Isa isa, bool channels_last, int64_t cout) {
  const TileKernel* best = nullptr;
  int64_t best_padded = 0;
  for (const TileKernel& k : tile_kernels(isa)) {
    if (k.indirect != channels_last) continue;
    const int64_t width = channels_last ? k.nr : k.mr;
    const int64_t padded = ceil_div(cout, width) * width;
    if (!best || padded < best_padded || (padded == best_padded && k.mr * k.nr > best->mr * best->nr)) {
      best = &k;
      best_padded = padded;
    }
  }
  return *best;
}

}  // namespace

PointwiseBlock::PointwiseBlock(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa)
    : channels_last_(spec.layout == Layout::channels_last),
      cin_(spec.in_channels),
      cout_(spec.out_channels),
      kernel_(choose_kernel(isa, channels_last_, cout_)) {
  panel_width_ = channels_last_ ? kernel_.nr : kernel_.mr;
  panels_ = ceil_div(cout_, panel_width_);
  // Weight (Cout, Cin, 1...) channels_first or (1..., Cin, Cout) channels_last.
  const auto& st = weight.strides();
  const size_t r = static_cast<size_t>(spec.rank);
  const int64_t o_stride = channels_last_ ? st[r + 1] : st[0];
  const int64_t c_stride = channels_last_ ? st[r] : st[1];
  weights_ = AlignedBuffer(static_cast<size_t>(panels_ * cin_ * panel_width_));
  float* out = weights_.data();
  for (int64_t p = 0; p < panels_; ++p)
    for (int64_t c = 0; c < cin_; ++c)
      for (int64_t lane = 0; lane < panel_width_; ++lane) {
        const int64_t o = p * panel_width_ + lane;
        *out++ = o < cout_ ? weight.data()[o * o_stride + c * c_stride] : 0.0f;
      }
  if (bias) {
    bias_ = AlignedBuffer(static_cast<size_t>(panels_ * panel_width_));
    for (int64_t o = 0; o < panels_ * panel_width_; ++o) bias_.data()[o] = o < cout_ ? bias[o] : 0.0f;
  }
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
