// The channels_first implicit GEMM's input operand without a per-tile im2col: phase windows.
//
// Along an axis of stride s and dilation d, output o reads padded cell o * s + q * d at kernel tap q, which is
// cell o + (q * d) div s of phase (q * d) mod s (the padded cells p with p mod s equal to it). Split the
// padded input into the phases its taps read, with phase-plane rows of pitch E = out_w + reach_w (reach =
// (k - 1) * d div s, the farthest cell a tap adds), and output (od, oh, ow) becomes the "virtual pixel"
// v = oh * E + ow of depth slice od, and the GEMM operand row of (tap, channel) over a run of virtual pixels
// is one contiguous stretch of one phase plane, at a fixed offset from v: row k = window + offset[k] + v.
// So nothing is packed per tile; each input float is copied about once per phase window instead of
// kd * kh * kw / (sd * sh * sw) times (the ResNet-50 stem: 147 floats packed per output pixel, ~15 copied).
// The virtual pixels with ow >= out_w (reach_w per row) are computed and dropped, so windows are used only
// where they are a small part of a row (suits()).
//
// A block of tiles, virtual pixels [v0, v0 + block) of one (image, group, od), copies per channel, phase
// combination and depth shift a <= reach_d the stretch [v0, v0 + block + reach_h * E + reach_w) of that
// phase plane: at most the block plus kh rows, whatever the image size.
#pragma once

#include <cstdint>
#include <vector>

#include "convkit/shape.h"
#include "convkit/spec.h"
#include "tile_kernel.h"

namespace convkit::cpu {

// Appends `next` (which starts where the last segment ends), merged into the last one when it continues
// it: both zeros, or sources `step` apart.
template <class Segments>
void append_segment(Segments& segments, PixelSegment next, int64_t step) {
  if (!segments.empty()) {
    PixelSegment& last = segments.back();
    if (next.source < 0 ? last.source < 0 : last.source >= 0 && next.source == last.source + last.length * step) {
      last.length += next.length;
      return;
    }
  }
  segments.push_back(next);
}

// The cells c in [0, count) of one axis at padded index c * stride + offset + pad_begin (raw index
// c * stride + offset) cut into segments: inside the input, consecutive cells `stride` apart (one segment);
// padding cells one by one, with the cell the padding mode reads, or -1 (a zero; also past the padded end).
std::vector<PixelSegment> column_runs(const AxisGeometry& g, int64_t offset, int64_t count, PaddingMode mode);

class PhaseWindow {
 public:
  // The reduction's channels: `runs` runs of run_length channels, run j starting at input channel
  // j * run_stride (gemm_convolution.h; one run without a fused channel shuffle).
  struct Channels {
    int64_t runs = 1, run_length = 1, run_stride = 0;
  };

  // Windows for blocks of `block_pixels` virtual pixels, or none (empty()) when the dropped columns would
  // exceed 1/8 of an output row or a window kMaxFloats floats.
  PhaseWindow(const ConvGeometry& geometry, PaddingMode mode, Channels channels, int64_t block_pixels);
  PhaseWindow() = default;  // none
  bool empty() const { return offsets_.empty(); }
  int64_t block_pixels() const { return block_pixels_; }

  int64_t floats() const { return floats_; }  // one window
  // The floats of the window one tile of `width` virtual pixels reads.
  int64_t tile_floats(int64_t width) const { return floats_ / length_ * (length_ - block_pixels_ + width); }
  // offsets()[k]: operand row k = (tap, channel), taps in (D, H, W) order, from the block's first pixel.
  const int64_t* offsets() const { return offsets_.data(); }
  int64_t plane_pixels() const { return plane_pixels_; }  // virtual pixels of one depth slice
  int64_t depth() const { return axes_[0].output; }

  // Copies the window of virtual pixels from v0 of depth slice od; x_g is the group's first input channel.
  void fill(const float* x_g, PackFunction pack, int64_t od, int64_t v0, float* window) const;

  // Writes the real outputs among virtual pixels [v, v + count) of depth slice od: channel i's are
  // c[i * c_stride + j], j < count; y_g[i * y_stride + pixel] receives channel i.
  void write_out(const float* c, int64_t c_stride, int64_t channels, int64_t v, int64_t count, int64_t od,
                 float* y_g, int64_t y_stride) const;

  static constexpr int64_t kMaxFloats = int64_t{1} << 22;

 private:
  // The cells of `phase` an axis has, ceil((padded - phase) / stride), and cell i's input index (-1: zero).
  static int64_t cells(const AxisGeometry& g, int64_t phase);
  int64_t source(const AxisGeometry& g, int64_t phase, int64_t i) const;

  AxisGeometry axes_[3];                     // (D, H, W), size-1 axes below the rank
  std::vector<int64_t> phases_[3];           // per axis, the phases the taps read, ascending
  std::vector<std::vector<PixelSegment>> columns_;  // per W phase: the E cells of a phase-plane row
  PaddingMode mode_ = PaddingMode::zeros;
  Channels channels_;
  int64_t channel_count_ = 1, in_pixels_ = 1;
  int64_t pitch_ = 1;         // E = out_w + reach_w
  int64_t plane_pixels_ = 0;  // (out_h - 1) * E + out_w
  int64_t length_ = 0;        // floats per (channel, phase combination, depth shift)
  int64_t depth_span_ = 1;    // reach_d + 1
  int64_t combos_ = 1;        // phase combinations
  int64_t floats_ = 0;
  int64_t block_pixels_ = 0;
  std::vector<int64_t> offsets_;
};

}  // namespace convkit::cpu
