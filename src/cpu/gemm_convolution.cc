#include "gemm_convolution.h"
#include "cache_size.h"
#include "isa_kernels.h"
#include "cache_size.h"
#include "driver_util.h"
#include "parallel.h"
#include "phase_window.h"
#include "weight_panels.h"

#include <algorithm>
#include <array>
#include <vector>

#include "convkit/error.h"
#include "convkit/shape.h"

namespace convkit::cpu {
namespace {

constexpr int64_t kMaxBlockTiles = 16;
constexpr int kMaxTileWidth = 128;  // >= every kernel's MR and NR

}  // namespace

std::string GemmConvolution::cannot(const ConvSpec& spec) {
  if (spec.transposed) return "transposed convolution (the transposed algorithm computes those)";
  return {};
}

std::string GemmConvolution::cannot_shuffle(const ConvSpec& spec, int64_t groups) {
  if (std::string reason = cannot(spec); !reason.empty()) return reason;
  if (groups < 1 || spec.in_channels % groups != 0)
    return "shuffle groups " + std::to_string(groups) + " do not divide the " + std::to_string(spec.in_channels) +
           " input channels";
  if (spec.in_channels / spec.groups % groups != 0)
    return "shuffle groups " + std::to_string(groups) + " do not divide the " +
           std::to_string(spec.in_channels / spec.groups) + " input channels per group (the runs would split)";
  return {};
}

namespace {
// The shuffle groups, after checking them (the channel runs divide by them).
int64_t checked_shuffle_groups(const ConvSpec& spec, int64_t groups) {
  if (const std::string reason = GemmConvolution::cannot_shuffle(spec, groups); !reason.empty())
    fail("GemmConvolution: input_shuffle_groups=", groups, ": ", reason);
  return groups;
}
}  // namespace

GemmConvolution::GemmConvolution(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa,
                                 int64_t input_shuffle_groups)
    : spec_(spec), groups_(spec.groups), cin_g_(spec.in_channels / spec.groups),
      cout_g_(spec.out_channels / spec.groups), runs_(checked_shuffle_groups(spec, input_shuffle_groups)),
      run_length_(cin_g_ / runs_), run_stride_(runs_ > 1 ? spec.in_channels / runs_ : 0), group_stride_(run_length_) {
  const bool channels_last = spec.layout == Layout::channels_last;
  const std::vector<int64_t> kernel = per_axis(spec.kernel, spec.rank, 1, "kernel");
  for (int axis = 0; axis < spec.rank; ++axis) kernel_size_[slot(spec.rank, axis)] = kernel[static_cast<size_t>(axis)];
  taps_ = kernel_size_[0] * kernel_size_[1] * kernel_size_[2];
  k_ = taps_ * cin_g_;
  // Ties go to the fewest operand loads per FMA (channels_last 6x64, channels_first 4x96 on AVX-512; see
  // TileTies), except for channels_first 1x1
  // stride-1 layers, whose pixel operand is the input read in place: its K rows lie a whole image plane
  // apart, and 96-float rows of them no longer stay in L1 across the panels (mobilenetv2.pw1x1 0.94-1.02x ->
  // 0.87x oneDNN with 4x96 instead of 8x48; packed operands are contiguous and gained: audio 0.92 -> 1.07x).
  const std::vector<int64_t> stride = per_axis(spec.stride, spec.rank, 1, "stride");
  const bool pixels_in_place = !channels_last && taps_ == 1 && std::ranges::all_of(stride, [](int64_t s) { return s == 1; });
  // Channels_first phase windows (strided layers) with many input channels (a row of the widest tile per
  // channel fills half of L1) run the reduction in K blocks (see run()), between which the partial sums of a
  // tile's Cout/g x NR outputs wait in memory: the larger tile first is 8x48, whose sums take half the space
  // of 4x96's (res3.3x3s2 0.93-0.98x oneDNN instead of 0.82-0.89x; the stem's one pass keeps 4x96:
  // 1.05-1.08x vs 0.99-1.04x).
  const bool strided = std::ranges::any_of(stride, [](int64_t s) { return s > 1; });
  const bool blocked_windows = !channels_last && strided &&
                               cin_g_ * kMaxTileWidth > l1_data_cache_bytes() / 2 / int64_t{sizeof(float)};
  kernel_ = best_tile_kernel(isa_kernels(isa).tiles, channels_last, channels_last, cout_g_,
                             channels_last                       ? TileTies::fewest_loads_vectors_twice
                             : pixels_in_place || blocked_windows ? TileTies::larger
                                                                  : TileTies::fewest_loads);
  // channels_last rows: without groups and with dilation 1 along W, the kw taps of one (D, H) kernel
  // position read kw neighbouring pixels, i.e. kw * Cin consecutive floats: one row pointer serves them.
  const std::vector<int64_t> dilation = per_axis(spec.dilation, spec.rank, 1, "dilation");
  merged_w_ = channels_last && groups_ == 1 && runs_ == 1 && dilation.back() == 1;
  row_taps_ = merged_w_ ? taps_ / kernel_size_[2] : taps_ * runs_;
  row_length_ = k_ / row_taps_;
  panel_width_ = channels_last ? kernel_.nr : kernel_.mr;
  panels_ = ceil_div(cout_g_, panel_width_);

  weights_ = pack_weight_panels(spec, weight, panel_width_, runs_);
  if (bias) bias_ = pack_bias_panels(spec, bias, panel_width_);
  if (kernel_.indirect) {
    zeros_ = AlignedBuffer(static_cast<size_t>(row_length_));
    std::fill_n(zeros_.data(), row_length_, 0.0f);
  }
}

// Everything one call needs: the resolved geometry, per-axis source tables and the tensors.
struct GemmConvolution::Call {
  const GemmConvolution& conv;
  const float* x;
  float* y;
  int64_t in[kMaxRank] = {1, 1, 1}, out[kMaxRank] = {1, 1, 1};
  int64_t in_pixels = 1, out_pixels = 1;  // per image
  int64_t batch_pixels = 1;               // channels_last: the output pixels of all images, one sequence
  int64_t step_w = 1;  // the stride along W: input pixels between neighbouring output pixels of a row
  bool identity = true;                      // output pixel p reads input pixel p, and only it
  // channels_last: the output columns [w_inside_begin, w_inside_end) read inside the input at every W tap.
  int64_t w_inside_begin = 0, w_inside_end = 0;
  // channels_last, per row tap: its D and H kernel taps, the input column its row starts at less ow * stride
  // (W tap q * dilation - pad_begin; tap 0 when merged), and its channel offset (a shuffle run's).
  struct RowTap {
    int64_t d, h, w_offset, channel;
  };
  std::vector<RowTap> row_tap_table;
  // source[axis][tap * out + o]: the input index output o reads at kernel tap `tap` of that axis,
  // after the padding mode (-1: a zero).
  std::array<std::vector<int64_t>, kMaxRank> source;
  // Merged igemm rows: w_first[ow] is the first of the kw consecutive input columns output column ow
  // reads, or -1 when some are in the padding (a border column, needing a patch of the cells
  // padded_source_index names).
  std::vector<int64_t> w_first;
  // channels_first packing: per W kernel tap, the output columns cut into runs that read zeros
  // (source -1) or input columns step_w apart from `source` (column_runs).
  std::vector<std::vector<PixelSegment>> w_runs;
  AxisGeometry w_axis;
  PaddingMode padding_mode = PaddingMode::zeros;
  ConvGeometry geometry;

  Call(const GemmConvolution& c, ConstTensorView input, float* output) : conv(c), x(input.data()), y(output) {
    const ConvSpec& spec = conv.spec_;
    geometry = resolve_geometry(spec, input_spatial_of(spec, input.shape()));
    const bool channels_last = spec.layout == Layout::channels_last;
    for (int axis = 0; axis < spec.rank; ++axis) {
      const AxisGeometry& g = geometry.axes[static_cast<size_t>(axis)];
      const size_t s = slot(spec.rank, axis);
      in[s] = g.input;
      out[s] = g.output;
      step_w = g.stride;  // the last axis is W
      identity = identity && g.kernel == 1 && g.stride == 1 && g.pad_begin == 0 && g.pad_end == 0;
      // W is read through runs (channels_first) or w_first (merged rows), not a per-column table.
      if (s == 2 && !channels_last) {
        for (int64_t q = 0; q < g.kernel; ++q)
          w_runs.push_back(column_runs(g, q * g.dilation - g.pad_begin, g.output, spec.padding_mode));
        continue;
      }
      if (s == 2 && conv.merged_w_) {
        w_first.resize(static_cast<size_t>(g.output));
        for (int64_t ow = 0; ow < g.output; ++ow) {
          const int64_t first = ow * g.stride - g.pad_begin;  // dilation 1 along W when rows are merged
          w_first[static_cast<size_t>(ow)] = first >= 0 && first + g.kernel <= g.input ? first : -1;
        }
        continue;
      }
      source[s] = tap_sources(g, spec.padding_mode);
    }
    for (size_t s = 0; s < kMaxRank; ++s) {
      if (source[s].empty()) source[s] = {0};  // a size-1 axis below the spec's rank
      in_pixels *= in[s];
      out_pixels *= out[s];
    }
    batch_pixels = input.dim(0) * out_pixels;
    w_axis = geometry.axes[static_cast<size_t>(spec.rank - 1)];
    padding_mode = spec.padding_mode;
    // Tap q of column ow reads input column ow * stride + q * dilation - pad_begin: every tap is inside
    // [0, input) when ow * stride >= pad_begin and ow * stride + (kernel - 1) * dilation - pad_begin < input.
    const AxisGeometry& g = w_axis;
    const int64_t last_reach = g.input - 1 + g.pad_begin - (g.kernel - 1) * g.dilation;  // >= ow * stride
    w_inside_begin = std::min(ceil_div(g.pad_begin, g.stride), g.output);
    w_inside_end = std::clamp<int64_t>(last_reach < 0 ? 0 : last_reach / g.stride + 1, w_inside_begin, g.output);
    const int64_t* ks = conv.kernel_size_;
    for (int64_t row_tap = 0; row_tap < conv.row_taps_ && channels_last; ++row_tap) {
      // A merged row tap is a (D, H) kernel position; else (tap, run).
      const int64_t tap = conv.merged_w_ ? row_tap * ks[2] : row_tap / conv.runs_;
      const int64_t run = conv.merged_w_ ? 0 : row_tap % conv.runs_;
      row_tap_table.push_back({tap / (ks[1] * ks[2]), tap / ks[2] % ks[1],
                               tap % ks[2] * g.dilation - g.pad_begin, run * conv.run_stride_});
    }
  }

  // channels_last: output pixel p of the batch's pixel sequence as (image, od, oh, ow), stepped along W.
  // Images lie one after another in both tensors, so tiles run across them (a 116-pixel signal in
  // 14-pixel tiles would otherwise leave a 4-pixel tile per image).
  struct Position {
    int64_t n, od, oh, ow;
  };
  Position position_of(int64_t p) const {
    return {p / out_pixels, p / (out[1] * out[2]) % out[0], p / out[2] % out[1], p % out[2]};
  }
  // Moves `by` <= out[2] - ow pixels along W, into the next row, plane or image at the row's end.
  void advance(Position& q, int64_t by) const {
    if ((q.ow += by) < out[2]) return;
    q.ow = 0;
    if (++q.oh < out[1]) return;
    q.oh = 0;
    if (++q.od < out[0]) return;
    q.od = 0;
    ++q.n;
  }
  // Moves `by` pixels, row by row: the next tile's position without position_of's six divisions, once per
  // block instead of once per tile and row tap (a tile of a short reduction is only a few hundred cycles).
  void skip(Position& q, int64_t by) const {
    for (int64_t n; by > 0; by -= n) {
      n = std::min(by, out[2] - q.ow);
      advance(q, n);
    }
  }

  // A fixed-capacity segment list (one tile's worth) with the push_back/back/empty append_segment uses.
  struct TileSegments {
    PixelSegment items[kMaxTileWidth];
    int64_t count = 0;
    bool empty() const { return count == 0; }
    PixelSegment& back() { return items[count - 1]; }
    void push_back(PixelSegment s) { items[count++] = s; }
  };

  // The output rows a tile of pixels crosses: pixels [begin, begin + length) of the tile are columns ow.. of
  // row (od, oh). The same for every tap, so computed once per tile, not per tap (the 7x7 stem packs 49 taps
  // of only 3 channels per tile: per-tap divisions were a sizeable part of its packing).
  struct TileRows {
    struct Piece {
      int64_t begin, length, ow, oh, od;
    };
    Piece items[kMaxTileWidth];
    int64_t count = 0;
    int64_t covered = 0;  // pixels inside the image; the rest of the tile reads zeros
  };
  void tile_rows(int64_t p0, int64_t width, TileRows& rows) const {
    rows.count = 0;
    rows.covered = std::clamp<int64_t>(out_pixels - p0, 0, width);
    for (int64_t p = p0; p < p0 + rows.covered;) {
      const int64_t ow = p % out[2], oh = p / out[2] % out[1], od = p / (out[1] * out[2]);
      const int64_t n = std::min(out[2] - ow, p0 + rows.covered - p);
      rows.items[rows.count++] = {p - p0, n, ow, oh, od};
      p += n;
    }
  }

  // The segments of the `width` tile pixels `rows` describes at kernel tap `tap` (pixel sources in the image
  // plane; pixels past the end read zeros). One pass per output row of the tile, cut by that tap's W runs.
  void tile_segments(int64_t tap, const TileRows& rows, int64_t width, TileSegments& segments) const {
    const int64_t* ks = conv.kernel_size_;
    const int64_t* sd = &source[0][static_cast<size_t>(tap / (ks[1] * ks[2]) * out[0])];
    const int64_t* sh = &source[1][static_cast<size_t>(tap / ks[2] % ks[1] * out[1])];
    const std::vector<PixelSegment>& runs = w_runs[static_cast<size_t>(tap % ks[2])];
    segments.count = 0;
    for (const TileRows::Piece* piece = rows.items; piece < rows.items + rows.count; ++piece) {
      const int64_t ow = piece->ow, n = piece->length;
      const int64_t id = sd[piece->od], ih = sh[piece->oh];
      if (id < 0 || ih < 0) {
        append_segment(segments, {piece->begin, n, -1}, step_w);
        continue;
      }
      const int64_t row = (id * in[1] + ih) * in[2];
      for (const PixelSegment& run : runs) {
        const int64_t lo = std::max(run.begin, ow), hi = std::min(run.begin + run.length, ow + n);
        if (lo >= hi) continue;
        const int64_t from = run.source < 0 ? -1 : row + run.source + (lo - run.begin) * step_w;
        append_segment(segments, {piece->begin + lo - ow, hi - lo, from}, step_w);
      }
    }
    if (rows.covered < width) append_segment(segments, {rows.covered, width - rows.covered, -1}, step_w);
  }

  // channels_last: the input pixel of the batch (or -1 for a zero) that each of `count` output pixels
  // from p0 (at position `start`) reads at `tap`; pixels past the batch's end read zeros.
  void pixel_sources(int64_t tap, int64_t p0, Position start, int64_t count, int64_t* src) const {
    const int64_t* ks = conv.kernel_size_;
    const int64_t* sd = &source[0][static_cast<size_t>(tap / (ks[1] * ks[2]) * out[0])];
    const int64_t* sh = &source[1][static_cast<size_t>(tap / ks[2] % ks[1] * out[1])];
    const int64_t* sw = &source[2][static_cast<size_t>(tap % ks[2] * out[2])];
    const int64_t pixels = std::min(count, batch_pixels - p0);
    std::fill(src + pixels, src + count, -1);
    Position q = start;
    for (int64_t i = 0; i < pixels; ++i, advance(q, 1)) {
      const int64_t id = sd[q.od], ih = sh[q.oh], iw = sw[q.ow];
      src[i] = id < 0 || ih < 0 || iw < 0 ? -1 : q.n * in_pixels + (id * in[1] + ih) * in[2] + iw;
    }
  }

  // channels_first: packs `width` output pixels from p0 as the GEMM operand, [k = tap * Cin/g + c][pixel]:
  // zeros for padding and pixels past the end, vector copies of the stretches contiguous in the input.
  void pack_pixels(const float* x_g, int64_t p0, int64_t width, float* dst) const {
    TileRows rows;
    tile_rows(p0, width, rows);
    TileSegments segments;
    for (int64_t tap = 0; tap < conv.taps_; ++tap) {
      tile_segments(tap, rows, width, segments);
      for (int64_t j = 0; j < conv.runs_; ++j)
        conv.kernel_.pack(segments.items, segments.count, step_w, x_g + j * conv.run_stride_ * in_pixels, in_pixels,
                          conv.run_length_, dst + (tap * conv.cin_g_ + j * conv.run_length_) * width, width);
    }
  }

  // A merged row of border column ow partly outside the input row x_row: a copy at `patch` of the kw
  // cells (or zeros) the padding mode reads; adds its floats to `used`.
  const float* border_row(const float* x_row, int64_t ow, float* patch, int64_t& used) const {
    const int64_t kw = conv.kernel_size_[2], cin = conv.spec_.in_channels;
    for (int64_t q = 0; q < kw; ++q) {
      const int64_t iw = padded_source_index(ow * w_axis.stride + q - w_axis.pad_begin, w_axis.input, padding_mode);
      if (iw < 0) std::fill_n(patch + q * cin, cin, 0.0f);
      else std::copy_n(x_row + iw * cin, cin, patch + q * cin);
    }
    used += kw * cin;
    return patch;
  }

  // channels_last igemm: the row pointers of the MR pixels from p0 (at `start`), [row tap][pixel]. A row is Cin/g
  // floats (one tap) or, merged along W, kw * Cin floats; rows wholly in the zero padding point at
  // zeros, merged rows partly outside the input at a copy in `patches` of the cells the padding mode
  // reads. Returns the patch floats used.
  int64_t point_rows(const float* x_g, int64_t p0, Position start, const float** rows, float* patches) const {
    const int64_t mr = conv.kernel_.mr;
    if (!conv.merged_w_) {
      int64_t src[kMaxTileWidth];
      for (int64_t tap = 0; tap < conv.taps_; ++tap) {
        pixel_sources(tap, p0, start, mr, src);
        for (int64_t j = 0; j < conv.runs_; ++j)
          for (int64_t i = 0; i < mr; ++i)
            rows[(tap * conv.runs_ + j) * mr + i] =
                src[i] < 0 ? conv.zeros_.data() : x_g + src[i] * conv.spec_.in_channels + j * conv.run_stride_;
      }
      return 0;
    }
    const int64_t* ks = conv.kernel_size_;
    const int64_t cin = conv.spec_.in_channels;
    const int64_t pixels = std::min(mr, batch_pixels - p0);  // the rest of the tile reads zeros
    int64_t used = 0;
    for (int64_t row_tap = 0; row_tap < conv.row_taps_; ++row_tap) {
      const int64_t* sd = &source[0][static_cast<size_t>(row_tap / ks[1] * out[0])];
      const int64_t* sh = &source[1][static_cast<size_t>(row_tap % ks[1] * out[1])];
      const float** tap_rows = rows + row_tap * mr;
      std::fill(tap_rows + pixels, tap_rows + mr, conv.zeros_.data());
      // Output row by output row: the pixels of one row read one input row.
      Position q = start;
      for (int64_t i = 0, n; i < pixels; i += n, advance(q, n)) {
        n = std::min(pixels - i, out[2] - q.ow);
        const int64_t id = sd[q.od], ih = sh[q.oh];
        if (id < 0 || ih < 0) {
          std::fill_n(tap_rows + i, n, conv.zeros_.data());
          continue;
        }
        const float* x_row = x_g + (q.n * in_pixels + (id * in[1] + ih) * in[2]) * cin;
        for (int64_t j = 0; j < n; ++j) {
          const int64_t first = w_first[static_cast<size_t>(q.ow + j)];
          tap_rows[i + j] = first >= 0 ? x_row + first * cin : border_row(x_row, q.ow + j, patches + used, used);
        }
      }
    }
    return used;
  }

  // channels_last igemm, rows read in place: when the tile's pixels lie on one output row, in the columns
  // whose W taps all read inside the input (or anywhere for a 1x1 stride-1 unpadded layer: pixel p reads
  // input pixel p), and no D/H tap of that row reads the zero padding, each row tap's rows are input rows
  // step_w * Cin floats apart. in_place_columns checks the columns; point_rows_in_place the rows: it sets
  // one pointer per row tap (the tile's first pixel's row) and returns that pitch, or 0 (the tile takes
  // point_rows).
  bool in_place_columns(int64_t p0, Position start) const {
    const int64_t pixels = std::min<int64_t>(conv.kernel_.mr, batch_pixels - p0);
    return identity || (start.ow >= w_inside_begin && start.ow + pixels <= w_inside_end);
  }
  int64_t point_rows_in_place(const float* x_g, Position start, const float** rows) const {
    const int64_t cin = conv.spec_.in_channels;
    for (size_t r = 0; r < row_tap_table.size(); ++r) {
      const RowTap& tap = row_tap_table[r];
      const int64_t id = source[0][static_cast<size_t>(tap.d * out[0] + start.od)];
      const int64_t ih = source[1][static_cast<size_t>(tap.h * out[1] + start.oh)];
      if (id < 0 || ih < 0) return 0;
      const int64_t iw = start.ow * step_w + tap.w_offset;
      rows[r] = x_g + (start.n * in_pixels + (id * in[1] + ih) * in[2] + iw) * cin + tap.channel;
    }
    return step_w * cin;
  }

  // channels_first, one input and output row per image (1D, or D = H = 1 with a 1 x 1 x kw kernel and no D/H
  // padding), W stride 1, 32 or
  // more channels per group: tap q of the pixels [p0, p0 + cols) reads input columns p0 + q * dilation -
  // pad_begin on, consecutive in every channel row, so a tile runs one accumulating pass per tap over rows
  // shifted by the tap instead of packing each input float once per tap (packing was a fifth of a 64 -> 64 k5
  // layer's time). Each pass reloads the tile's outputs: with fewer channels per tap the packing is cheaper
  // (accelerometer's 3: 0.15 -> 0.23 ms in place).
  bool shifted_rows() const {
    return in[0] * in[1] == 1 && out[0] * out[1] == 1 && conv.taps_ == conv.kernel_size_[2] && conv.taps_ > 1 && step_w == 1 &&
           conv.runs_ == 1 && conv.cin_g_ >= 32;
  }

  // The tile reads the input rows themselves when every tap's vectors stay inside the row (no padding, no
  // read past the row's end) and a group's rows fit in a quarter of L2 together: long rows put every
  // channel on its own pages (wavenet's 64 x 16384 floats: 1.36x -> 1.13x oneDNN read in place).
  bool reads_rows_in_place(int64_t p0, int cols) const {
    const int64_t lanes = conv.kernel_.lanes, read = ceil_div(cols, lanes) * lanes;
    const int64_t first = p0 - w_axis.pad_begin, last = p0 + (conv.taps_ - 1) * w_axis.dilation - w_axis.pad_begin;
    return first >= 0 && last + read <= in_pixels &&
           conv.cin_g_ * in_pixels * int64_t{sizeof(float)} <= l2_cache_bytes() / 4;
  }

  // Otherwise a copy of the window the tile reads -- its columns rounded up to whole vectors, plus (kw - 1) x
  // dilation -- with the padding cells filled in (and zeros past the padded row, for the last vectors' unused
  // lanes) is cheaper than packing kw x NR columns while the dilation is below NR (it then also fits in the
  // packing's buffer). The adjoint of a valid 1D layer pads kw - 1 columns on both sides.
  bool stages_window() const { return w_axis.dilation < conv.kernel_.nr; }
  int64_t window_columns(int cols) const {
    return ceil_div(cols, conv.kernel_.lanes) * conv.kernel_.lanes + (conv.taps_ - 1) * w_axis.dilation;
  }

  void stage_window(const float* x_g, int64_t p0, int64_t columns, float* window) const {
    const int64_t begin = p0 - w_axis.pad_begin;  // the input column of window column 0
    const int64_t inside_begin = std::clamp<int64_t>(-begin, 0, columns);
    const int64_t inside_end = std::clamp<int64_t>(w_axis.input - begin, inside_begin, columns);
    const int64_t padded_end = w_axis.input + w_axis.pad_end;
    for (int64_t c = 0; c < conv.cin_g_; ++c) {
      const float* row = x_g + c * in_pixels;
      float* to = window + c * columns;
      if (inside_end > inside_begin) std::copy(row + begin + inside_begin, row + begin + inside_end, to + inside_begin);
      const auto edge = [&](int64_t from, int64_t end) {
        if (padding_mode == PaddingMode::zeros) return std::fill(to + from, to + end, 0.0f);
        for (int64_t j = from; j < end; ++j) {
          const int64_t cell = begin + j < padded_end ? padded_source_index(begin + j, w_axis.input, padding_mode) : -1;
          to[j] = cell < 0 ? 0.0f : row[cell];
        }
      };
      edge(0, inside_begin);
      edge(inside_end, columns);
    }
  }

  // One channels_first tile of pixels [p0, p0 + cols) over every weight panel of group g, the reduction in
  // `passes` runs of K / passes rows: run j reads its pixel rows (b_stride floats apart) from pixels_of(j),
  // and the runs after the first add to the outputs.
  template <class PixelsOf>
  void channels_first_tile(float* y_n, int64_t g, int64_t p0, int cols, int64_t passes, int64_t b_stride,
                           PixelsOf pixels_of) const {
    const int64_t mr = conv.kernel_.mr, k_per_pass = conv.k_ / passes;
    TileArgs args;
    args.b_stride = b_stride;
    args.k_per_tap = k_per_pass;
    args.c_row_stride = out_pixels;
    args.cols = cols;
    for (int64_t panel = 0; panel < conv.panels_; ++panel) {
      const int64_t index = g * conv.panels_ + panel;
      args.c = y_n + (g * conv.cout_g_ + panel * mr) * out_pixels + p0;
      args.rows = static_cast<int>(std::min(mr, conv.cout_g_ - panel * mr));
      for (int64_t j = 0; j < passes; ++j) {
        args.b = pixels_of(j);
        args.a_packed = conv.weights_.data() + (index * conv.k_ + j * k_per_pass) * mr;
        args.accumulate = j > 0;
        args.row_bias = j == 0 && conv.bias_.size() ? conv.bias_.data() + index * mr : nullptr;
        conv.kernel_.run(args);
      }
    }
  }

  // channels_first pixel tile `tile` of an image: its first pixel and width, NR wide. With `balanced`, a
  // last tile of at most NR / 2 pixels shares the last two tiles' pixels evenly in whole vectors: 112 pixels
  // run as 64 + 48 instead of 96 + 16, whose single vector per row leaves the tile's few accumulators
  // waiting on the FMA latency (the shifted-row passes; packed tiles measured no gain, their packing is NR wide
  // anyway).
  std::pair<int64_t, int> pixel_tile(int64_t tile, bool balanced) const {
    const int64_t nr = conv.kernel_.nr, lanes = conv.kernel_.lanes, tiles = ceil_div(out_pixels, nr);
    const int64_t base = (tiles - 2) * nr, rest = out_pixels - base;  // the last two tiles' pixels
    if (!balanced || tiles < 2 || rest - nr > nr / 2 || tile < tiles - 2)
      return {tile * nr, static_cast<int>(std::min(nr, out_pixels - tile * nr))};
    const int64_t first_width = ceil_div(ceil_div(rest, lanes), int64_t{2}) * lanes;
    return tile == tiles - 2 ? std::pair{base, static_cast<int>(first_width)}
                             : std::pair{base + first_width, static_cast<int>(rest - first_width)};
  }

  // Output pixel tiles [first, first + count) of image n, group g.
  void channels_first_block(int64_t n, int64_t g, int64_t first, int64_t count) const {
    thread_local std::vector<float> strip;
    const int64_t nr = conv.kernel_.nr;
    const float* x_g = x + (n * conv.spec_.in_channels + g * conv.group_stride_) * in_pixels;
    float* y_n = y + n * conv.spec_.out_channels * out_pixels;
    const bool shifted = shifted_rows();
    for (int64_t tile = first; tile < first + count; ++tile) {
      const std::pair<int64_t, int> span = pixel_tile(tile, shifted);
      const int64_t p0 = span.first;  // plain variables: lambdas below capture them (not bindings, for Clang 14)
      const int cols = span.second;
      if (shifted && reads_rows_in_place(p0, cols)) {  // a pass per W tap over the input rows, shifted by the tap
        channels_first_tile(y_n, g, p0, cols, conv.taps_, in_pixels,
                            [&](int64_t q) { return x_g + p0 + q * w_axis.dilation - w_axis.pad_begin; });
      } else if (shifted && stages_window()) {  // the same over a copy of the window the tile reads
        const int64_t columns = window_columns(cols);
        float* window = scratch(strip, conv.cin_g_ * columns);
        stage_window(x_g, p0, columns, window);
        channels_first_tile(y_n, g, p0, cols, conv.taps_, columns, [&](int64_t q) { return window + q * w_axis.dilation; });
      } else if (identity && conv.runs_ == 1 && cols == nr) {  // 1x1: the input rows are the operand
        channels_first_tile(y_n, g, p0, cols, 1, in_pixels, [&](int64_t) { return x_g + p0; });
      } else {
        float* packed = scratch(strip, conv.k_ * nr);
        pack_pixels(x_g, p0, nr, packed);
        channels_first_tile(y_n, g, p0, cols, 1, nr, [&](int64_t) { return packed; });
      }
    }
  }

  // channels_first through phase windows: tiles [first, first + count) of the virtual pixels of depth slice
  // od of image n, group g. The reduction runs in blocks of `k_block` (tap, channel) rows, each over every
  // weight panel, so that the window rows a block reads stay in L1 across the panels; the panels' sums wait
  // in `sums` (Cout/g x NR) between blocks, and go to y without the dropped columns.
  void channels_first_windowed(const PhaseWindow& window, int64_t k_block, int64_t n, int64_t g, int64_t od,
                               int64_t first, int64_t count) const {
    thread_local std::vector<float> window_buffer, sum_buffer;
    const int64_t nr = conv.kernel_.nr, mr = conv.kernel_.mr, k = conv.k_;
    const float* x_g = x + (n * conv.spec_.in_channels + g * conv.group_stride_) * in_pixels;
    float* y_g = y + (n * conv.spec_.out_channels + g * conv.cout_g_) * out_pixels;
    float* copy = scratch(window_buffer, window.floats());
    float* sums = scratch(sum_buffer, conv.panels_ * mr * nr);
    window.fill(x_g, conv.kernel_.pack, od, first * nr, copy);
    TileArgs args;
    args.c_row_stride = nr;
    for (int64_t tile = first; tile < first + count; ++tile) {
      const int64_t v = tile * nr;
      args.b = copy + (v - first * nr);
      args.cols = static_cast<int>(std::min(nr, window.plane_pixels() - v));
      for (int64_t k0 = 0; k0 < k; k0 += k_block) {
        args.k_per_tap = std::min(k_block, k - k0);
        args.b_offsets = window.offsets() + k0;
        args.accumulate = k0 > 0;
        for (int64_t panel = 0; panel < conv.panels_; ++panel) {
          const int64_t index = g * conv.panels_ + panel;
          args.a_packed = conv.weights_.data() + (index * k + k0) * mr;
          args.c = sums + panel * mr * nr;
          args.rows = static_cast<int>(std::min(mr, conv.cout_g_ - panel * mr));
          args.row_bias = conv.bias_.size() && k0 == 0 ? conv.bias_.data() + index * mr : nullptr;
          conv.kernel_.run(args);
        }
      }
      window.write_out(sums, nr, conv.cout_g_, v, args.cols, od, y_g, out_pixels);
    }
  }

  // Pixel tiles [first, first + count) of the batch's pixel sequence, group g.
  void channels_last_block(int64_t g, int64_t first, int64_t count) const {
    thread_local std::vector<const float*> row_pointers;
    thread_local std::vector<float> patch_buffer;
    const int64_t nr = conv.kernel_.nr, mr = conv.kernel_.mr;
    const int64_t cout = conv.spec_.out_channels;
    const float* x_g = x + g * conv.group_stride_;
    const int64_t tile_rows = conv.row_taps_ * mr;
    const float** rows = scratch(row_pointers, count * tile_rows);
    float* patches = scratch(patch_buffer, count * tile_rows * conv.row_length_);
    int64_t pitch[kMaxBlockTiles];   // per tile: rows in place at this pitch, or 0 (row pointers)
    bool continues[kMaxBlockTiles];  // in place, and its rows follow the previous tile's: one kernel call
    Position start = position_of(first * mr);
    for (int64_t s = 0, used = 0, previous_ow = 0; s < count; ++s, previous_ow = start.ow, skip(start, mr)) {
      const int64_t p0 = (first + s) * mr;
      const bool inside = in_place_columns(p0, start);
      // On the row of an in-place tile (anywhere, for identity), the next tile's rows are MR pitches on:
      // the same D/H taps, no pointers to set (they were a tenth of a K = 15 layer's time).
      continues[s] = inside && s > 0 && pitch[s - 1] > 0 && (identity || start.ow == previous_ow + mr);
      pitch[s] = continues[s] ? pitch[s - 1] : inside ? point_rows_in_place(x_g, start, rows + s * tile_rows) : 0;
      if (pitch[s] == 0) used += point_rows(x_g, p0, start, rows + s * tile_rows, patches + used);
    }
    TileArgs args;
    args.taps = conv.row_taps_;
    args.k_per_tap = conv.row_length_;
    args.b_stride = nr;
    args.c_row_stride = cout;
    for (int64_t panel = 0; panel < conv.panels_; ++panel) {
      const int64_t index = g * conv.panels_ + panel;
      args.cols = static_cast<int>(std::min(nr, conv.cout_g_ - panel * nr));
      args.col_bias = conv.bias_.size() ? conv.bias_.data() + index * nr : nullptr;
      args.b = conv.weights_.data() + index * conv.k_ * nr;
      for (int64_t s = 0, end; s < count; s = end) {
        for (end = s + 1; end < count && continues[end];) ++end;
        const int64_t p0 = (first + s) * mr;
        args.a_rows = rows + s * tile_rows;
        args.a_pitch = pitch[s];
        args.c = y + p0 * cout + g * conv.cout_g_ + panel * nr;
        args.rows = static_cast<int>(std::min((end - s) * mr, batch_pixels - p0));
        conv.kernel_.run(args);
      }
    }
  }
};

void GemmConvolution::run(ConstTensorView input, float* output, int threads) const {
  const Call call(*this, input, output);
  const bool channels_last = spec_.layout == Layout::channels_last;
  const int64_t batch = input.dim(0);
  // channels_last tiles run across images (one pixel sequence); channels_first tiles per image.
  const int64_t images = channels_last ? 1 : batch;
  const int64_t tiles =
      channels_last ? ceil_div(call.batch_pixels, kernel_.mr) : ceil_div(call.out_pixels, kernel_.nr);
  if (batch * spec_.out_channels * call.out_pixels * k_ < kSerialMacs) threads = 1;
  if (!channels_last)
    if (const PhaseWindow window = phase_window(call.geometry, batch, threads); !window.empty()) {
      const int64_t block_tiles = window.block_pixels() / kernel_.nr;
      const int64_t plane_tiles = ceil_div(window.plane_pixels(), kernel_.nr);
      const int64_t blocks = ceil_div(plane_tiles, block_tiles), depth = window.depth();
      // One pass over the reduction when the window stretch a tile reads fits in half of L1 (the stem's 147
      // operand rows read 21 KiB: 3 channels x 4 phases x (96 + 3 rows) floats); otherwise K blocks whose operand
      // rows (NR floats each) fill half of L1 (res3.3x3s2: 64 of 1152 rows, 1.59-1.81 ms vs 1.79-1.96 unblocked).
      const int64_t half_l1 = l1_data_cache_bytes() / 2 / int64_t{sizeof(float)};
      const int64_t k_block = window.tile_floats(kernel_.nr) <= half_l1 ? k_ : std::max<int64_t>(1, half_l1 / kernel_.nr);
      parallel_for(threads, batch * groups_ * depth * blocks, [&](int64_t item) {
        const int64_t plane = item / blocks, first = item % blocks * block_tiles;
        call.channels_first_windowed(window, k_block, plane / (groups_ * depth), plane / depth % groups_,
                                     plane % depth, first, std::min(block_tiles, plane_tiles - first));
      });
      return;
    }
  // Blocks of tiles are the unit of work; at least 4 per thread when the layer allows it. Each output
  // element is computed by one tile in one fixed order, so the result does not depend on `threads`.
  const int64_t block_tiles = std::clamp<int64_t>(images * groups_ * tiles / (4 * threads), 1,
                                                  channels_last ? kMaxBlockTiles : 1);
  const int64_t blocks = ceil_div(tiles, block_tiles);
  const int64_t items = images * groups_ * blocks;
  parallel_for(threads, items, [&](int64_t item) {
    const int64_t n = item / (groups_ * blocks), g = item / blocks % groups_;
    const int64_t first = item % blocks * block_tiles;
    const int64_t count = std::min(block_tiles, tiles - first);
    if (channels_last) call.channels_last_block(g, first, count);
    else call.channels_first_block(n, g, first, count);
  });
}

PhaseWindow GemmConvolution::phase_window(const ConvGeometry& geometry, int64_t batch, int threads) const {
  // Strided layers only: at stride 1 the packing is plain vector copies into aligned, contiguous operand rows,
  // and measured faster (textcnn.k5, 1D: 0.21 ms packed vs 0.22-0.23 ms through windows).
  if (std::ranges::all_of(geometry.axes, [](const AxisGeometry& g) { return g.stride == 1; })) return {};
  // The output slices (image, group, D) and their H x W pixels.
  const size_t rank = geometry.axes.size(), slice_axes = std::min<size_t>(rank, 2);
  int64_t slices = batch * groups_, slice_pixels = 1;
  for (size_t axis = 0; axis < rank; ++axis) (axis + slice_axes >= rank ? slice_pixels : slices) *= geometry.axes[axis].output;
  // Blocks of at most kMaxBlockTiles tiles, at least 4 per thread when the slices have the tiles, and a
  // multiple of `threads` in all, so that the threads can finish together (the stem on 2 threads: 131 tiles
  // in 10 blocks of 14, not 9 of 16, where one thread runs a 16-tile block more than the other).
  const int64_t slice_tiles = ceil_div(slice_pixels, kernel_.nr);
  int64_t slice_blocks = std::max(ceil_div(slice_tiles, kMaxBlockTiles), ceil_div(4 * threads, slices));
  slice_blocks = std::min(slice_blocks, slice_tiles);
  if (slices < threads) slice_blocks = std::min(ceil_div(slice_blocks * slices, threads) * threads / slices, slice_tiles);
  const int64_t block_tiles = ceil_div(slice_tiles, slice_blocks);
  return PhaseWindow(geometry, spec_.padding_mode, {runs_, run_length_, run_stride_}, block_tiles * kernel_.nr);
}

std::size_t GemmConvolution::workspace_bytes(const Shape& input_shape, int threads) const {
  int64_t per_thread =
      spec_.layout == Layout::channels_first
          ? k_ * kernel_.nr * int64_t{sizeof(float)}
          : kMaxBlockTiles * kernel_.mr * row_taps_ * (int64_t{sizeof(float*)} + row_length_ * int64_t{sizeof(float)});
  if (spec_.layout == Layout::channels_first) {
    // One thread has the largest blocks (the run may fall back to one thread).
    const PhaseWindow window =
        phase_window(resolve_geometry(spec_, input_spatial_of(spec_, input_shape)), input_shape[0], 1);
    if (!window.empty()) per_thread = (window.floats() + panels_ * kernel_.mr * kernel_.nr) * int64_t{sizeof(float)};
  }
  return static_cast<std::size_t>(per_thread * threads);
}

std::string GemmConvolution::details() const {
  return "micro-kernel " + name() + (kernel_.indirect ? " (input read through row pointers)" : " (input tiles packed)");
}

}  // namespace convkit::cpu
