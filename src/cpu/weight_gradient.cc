#include "weight_gradient.h"
#include "aligned_buffer.h"
#include "cache_size.h"
#include "isa_kernels.h"
#include "driver_util.h"
#include "parallel.h"

#include <algorithm>
#include <array>
#include <vector>

#include "convkit/shape.h"

namespace convkit::cpu {
namespace {

size_t at(int64_t i) { return static_cast<size_t>(i); }

// A thread's packing buffer, grown to `count` floats (64-byte aligned: the panels' rows are whole vectors).
float* aligned_scratch(AlignedBuffer& buffer, int64_t count) {
  if (buffer.size() < at(count)) buffer = AlignedBuffer(at(count), "a per-thread weight-gradient workspace");
  return buffer.data();
}

// The stretches of `segments` (one whole D row) inside pixels [w0, w1), rebased to start at w0.
void clip_segments(const std::vector<PixelSegment>& segments, int64_t w0, int64_t w1, int64_t step,
                   std::vector<PixelSegment>& out) {
  out.clear();
  for (const PixelSegment& s : segments) {
    const int64_t begin = std::max(s.begin, w0), end = std::min(s.begin + s.length, w1);
    if (begin < end) out.push_back({begin - w0, end - begin, s.source < 0 ? -1 : s.source + (begin - s.begin) * step});
  }
}

// A thread's buffers, kept across runs (the sizes repeat).
struct Workspace {
  AlignedBuffer a, b;
  std::vector<PixelSegment> clipped;
  std::vector<const float*> pointers;  // shifted views: [D row][MR]
  std::vector<int64_t> g_rows;
  std::vector<float> zeros;            // the row a view of the padding reads
};

// A 1x1 convolution with stride 1 and no padding: every term pairs x and dy at the same pixel.
bool pointwise_spec(const ConvSpec& spec) {
  if (spec.transposed) return false;
  for (int64_t k : per_axis(spec.kernel, spec.rank, 1, "kernel"))
    if (k != 1) return false;
  for (int64_t s : per_axis(spec.stride, spec.rank, 1, "stride"))
    if (s != 1) return false;
  if (spec.padding.kind != PaddingKind::explicit_pads) return true;  // valid, same: no padding at k = 1, s = 1
  for (const std::vector<int64_t>* pads : {&spec.padding.begin, &spec.padding.end})
    for (int64_t p : per_axis(*pads, spec.rank, 0, "padding"))
      if (p != 0) return false;
  return true;
}

// The time per reduction index of the GEMM with `rows` x `columns` (D) channels on `kernel`, in
// multiply-adds: the padded tile grid, plus for channels_first D's transpose into panels (a scalar load and
// store per float, about 32 multiply-adds of an AVX-512 core: a guess from this machine, Zen 5).
int64_t orientation_cost(const TileKernel& kernel, int64_t rows, int64_t columns, bool channels_first) {
  const int64_t padded_columns = ceil_div(columns, kernel.nr) * kernel.nr;
  return ceil_div(rows, kernel.mr) * kernel.mr * padded_columns + (channels_first ? 32 * padded_columns : 0);
}

}  // namespace

WeightGradient::WeightGradient(const ConvSpec& spec, Isa isa, int64_t block_bytes)
    : spec_(spec), groups_(spec.groups) {
  const int64_t in_g = spec.in_channels / spec.groups, out_g = spec.out_channels / spec.groups;
  const bool channels_first = spec.layout == Layout::channels_first;
  const std::vector<int64_t> kernel = per_axis(spec.kernel, spec.rank, 1, "kernel");
  for (int axis = 0; axis < spec.rank; ++axis) kernel_size_[slot(spec.rank, axis)] = kernel[at(axis)];
  taps_ = kernel_size_[0] * kernel_size_[1] * kernel_size_[2];
  // The kernel for a GEMM of `rows` (taps x G channels) by `columns` (D channels): indirect (A through row
  // pointers) channels_first, from the grouped GEMM's table, which adds widths for 16, 80 and 112 columns
  // (shufflenet's 80 channels per group padded to 96 in 14x32 tiles); packed channels_last. The one whose NR
  // pads the columns least, unless another's padded rows x columns grid is over 10% smaller: a short layer's
  // few rows waste most of a tall tile (accelerometer, 3 channels x 5 taps = 15 rows: 14x32 computed 28 of
  // them; 6x64: 0.66-0.74x -> 0.78-0.84x oneDNN channels_first, 0.90-1.00x -> 1.19-1.26x channels_last).
  auto kernel_for = [&](int64_t rows, int64_t columns) {
    const auto& tiles = channels_first ? isa_kernels(isa).grouped_gemm_tiles : isa_kernels(isa).tiles;
    const auto area = [&](const TileKernel& k) { return ceil_div(rows, k.mr) * k.mr * ceil_div(columns, k.nr) * k.nr; };
    TileKernel best = best_tile_kernel(tiles, channels_first, true, columns);
    for (const TileKernel& k : tiles)
      if (k.indirect == channels_first && area(k) * 10 < area(best) * 9) best = k;
    return best;
  };
  // A pointwise layer reads x and dy alike, so either can be the rows: the cheaper orientation (mobilenetv2.pw1x1
  // channels_last, 144 -> 24: dy's 24 columns filled 3/4 of a 32-wide tile, x's 144 fill 8x48 tiles exactly).
  swapped_ = pointwise_spec(spec) && orientation_cost(kernel_for(out_g, in_g), out_g, in_g, channels_first) <
                                         orientation_cost(kernel_for(in_g, out_g), in_g, out_g, channels_first);
  const bool dy_gathered = spec.transposed || swapped_;
  gathered_g_ = dy_gathered ? out_g : in_g;
  direct_g_ = dy_gathered ? in_g : out_g;
  kernel_ = kernel_for(taps_ * gathered_g_, direct_g_);
  // A K block's D panels (all of the group's, packed or read in place), the G pixels its A tiles gather
  // from (about one per reduction index and channel) and one A tile fill the budget.
  const int64_t floats_per_k = ceil_div(direct_g_, kernel_.nr) * kernel_.nr + gathered_g_ + kernel_.mr;
  k_block_ = std::max<int64_t>(1, (block_bytes > 0 ? block_bytes : l2_cache_bytes() / 2) / (floats_per_k * 4));
}

std::string WeightGradient::name() const {
  return kernel_name("gemm", kernel_.isa, kernel_.tile());
}

// One run: the resolved geometry, the gather tables and the tensors as G and D.
struct WeightGradient::Call {
  const WeightGradient& wg;
  bool channels_last;
  const float *g_data, *d_data;                  // G and D
  int64_t batch = 1;
  int64_t gs[kMaxRank] = {1, 1, 1}, ds[kMaxRank] = {1, 1, 1};  // spatial sizes of G and D
  int64_t g_pixels = 1, d_pixels = 1, g_channels = 1, d_channels = 1;
  int64_t m = 1, k = 0, panels = 1;
  // gather[axis][tap * ds[axis] + t]: the G index D index t meets at that kernel tap, or -1 (none, a zero).
  std::array<std::vector<int64_t>, kMaxRank> gather;
  // w_segments[tap along W]: a D row as stretches of pixels reading G columns step_w apart (the W stride),
  // or zeros (source -1).
  int64_t step_w = 1, dilation_w = 1;
  std::vector<std::vector<PixelSegment>> w_segments;
  // h_segments[tap along H]: the same along H (G rows step_h apart), so that channels_first packs the
  // full D rows of a plane in one call.
  int64_t step_h = 1;
  std::vector<std::vector<PixelSegment>> h_segments;
  bool zero_padding;  // a tap outside G reads a zero (not a reflected or replicated cell)
  // One tap reading the G pixel of D's index (1x1, stride 1, no padding): channels_first A rows are G's
  // planes, read in place.
  bool pointwise = false;
  // channels_first shifted views (oneDNN's brgemm wgrad reads taps as shifted views of src): D columns
  // [view_lo, view_hi) read G columns step_w apart inside G at every W tap q, so A's rows there are G's rows
  // read in place through row pointers, one per (A row, D row), from view_offset[q] of the row in
  // view_data; the other columns (the borders) are packed. K blocks then hold whole D rows.
  bool views = false;
  int64_t view_lo = 0, view_hi = 0;
  std::vector<int64_t> view_offset;
  // view_data: G itself with a W stride of 1; with 2-4, G split into stride phases once per run, each row
  // as step_w runs of phase_length columns (column x at x mod step_w * phase_length + x / step_w), so that a
  // tap's columns are consecutive again (the ResNet-50 stem, stride 2: x's 3 channels staged once instead
  // of each (tap, channel) row packed per block).
  std::vector<float> phases;
  const float* view_data = nullptr;
  int64_t view_pitch = 0, phase_length = 0;

  Call(const WeightGradient& w, ConstTensorView input, ConstTensorView grad_output)
      : wg(w),
        channels_last(w.spec_.layout == Layout::channels_last),
        zero_padding(w.spec_.transposed || w.spec_.padding_mode == PaddingMode::zeros) {
    const ConvSpec& spec = wg.spec_;
    const ConvGeometry geometry = resolve_geometry(spec, input_spatial_of(spec, input.shape()));
    const bool dy_gathered = spec.transposed || wg.swapped_;  // a swapped pointwise layer's gather is the identity
    g_data = dy_gathered ? grad_output.data() : input.data();
    d_data = dy_gathered ? input.data() : grad_output.data();
    batch = input.dim(0);
    g_channels = wg.groups_ * wg.gathered_g_;
    d_channels = wg.groups_ * wg.direct_g_;
    for (int axis = 0; axis < spec.rank; ++axis) {
      const AxisGeometry& a = geometry.axes[at(axis)];
      const size_t s = slot(spec.rank, axis);
      gs[s] = dy_gathered ? a.output : a.input;
      ds[s] = dy_gathered ? a.input : a.output;
      if (s == kMaxRank - 1) step_w = a.stride, dilation_w = a.dilation;
      if (s == kMaxRank - 2) step_h = a.stride;
      gather[s].resize(at(a.kernel * ds[s]));
      for (int64_t q = 0; q < a.kernel; ++q)
        for (int64_t t = 0; t < ds[s]; ++t) {
          const int64_t raw = t * a.stride + q * a.dilation - a.pad_begin;
          gather[s][at(q * ds[s] + t)] = spec.transposed ? (raw >= 0 && raw < a.output ? raw : -1)
                                                         : padded_source_index(raw, a.input, spec.padding_mode);
        }
    }
    for (size_t s = 0; s < kMaxRank; ++s) {
      if (gather[s].empty()) gather[s] = {0};
      g_pixels *= gs[s];
      d_pixels *= ds[s];
    }
    m = wg.taps_ * wg.gathered_g_;
    k = batch * d_pixels;
    panels = ceil_div(wg.direct_g_, wg.kernel_.nr);
    pointwise = wg.taps_ == 1;
    for (size_t s = 0; s < kMaxRank; ++s)
      for (int64_t t = 0; t < ds[s] && pointwise; ++t) pointwise = gs[s] == ds[s] && gather[s][at(t)] == t;
    // The stretches of each tap's D line along W (and H) whose G indices step by the stride.
    auto stretches = [&](size_t axis, int64_t step, std::vector<std::vector<PixelSegment>>& out) {
      out.resize(at(wg.kernel_size_[axis]));
      for (int64_t q = 0; q < wg.kernel_size_[axis]; ++q) {
        const int64_t* line = &gather[axis][at(q * ds[axis])];
        for (int64_t t = 0; t < ds[axis];) {
          int64_t end = t + 1;
          if (line[t] < 0)
            while (end < ds[axis] && line[end] < 0) ++end;
          else  // compared as differences: the stride may be near 2^63
            while (end < ds[axis] && line[end] >= 0 && line[end] - line[end - 1] == step) ++end;
          out[at(q)].push_back({t, end - t, line[t]});
          t = end;
        }
      }
    };
    stretches(2, step_w, w_segments);
    stretches(1, step_h, h_segments);
    // With a W stride the phases are staged once per run, reading and writing G: worth it when packing
    // (taps x G channels per D pixel) copies several times more (the stem: 49 taps, 4 G pixels per D
    // pixel, 0.79x -> 0.91x oneDNN; unet.up2x2s2 and vnet.up3d2s2 copy as much as they pack: 0.82x ->
    // 0.65x, res3.3x3s2's 9 taps per 4 pixels 0.80x -> 0.73x).
    const bool phases_pay = step_w == 1 || wg.taps_ * d_pixels >= 4 * g_pixels;
    if (!channels_last && !pointwise && step_w <= kMaxViewStride && phases_pay && ds[2] <= wg.k_block_) {
      view_hi = ds[2];
      std::vector<PixelSegment> longest(w_segments.size());
      for (size_t q = 0; q < w_segments.size(); ++q) {
        for (const PixelSegment& s : w_segments[q])
          if (s.source >= 0 && s.length > longest[q].length) longest[q] = s;
        view_lo = std::max(view_lo, longest[q].begin);
        view_hi = std::min(view_hi, longest[q].begin + longest[q].length);
      }
      views = view_hi - view_lo >= kMinViewPixels;
      phase_length = ceil_div(gs[2], step_w);
      view_pitch = step_w * phase_length;
      for (const PixelSegment& s : longest) {
        const int64_t x = s.source + (view_lo - s.begin) * step_w;  // the G column at view_lo
        view_offset.push_back(x % step_w * phase_length + x / step_w);
      }
    }
    if (views) view_data = step_w == 1 ? g_data : stage_phases();
  }

  // Shorter interiors pack: each D row costs the kernel a tap loop (MR row pointers copied, the loop set
  // up) and the borders a scalar gather (res4.3x3's 12 of 14: 1.00x -> 0.73x oneDNN; deeplab's 20 of 32 no
  // better). Strides beyond 4 pack (the phases' shuffles are for 2 and 4, a staged row pads to a stride).
  static constexpr int64_t kMinViewPixels = 24, kMaxViewStride = 4;

  // G's rows split into W stride phases (view_data), with the per-ISA decimating copies.
  const float* stage_phases() {
    const int64_t rows = batch * g_channels * gs[0] * gs[1];
    allocating("the weight gradient's stride phases", rows * view_pitch, sizeof(float),
               [&] { phases.resize(at(rows * view_pitch)); });
    std::vector<PixelSegment> segments;
    for (int64_t p = 0; p < step_w; ++p) {
      const int64_t length = std::max<int64_t>(0, ceil_div(gs[2] - p, step_w));
      segments.push_back({p * phase_length, length, p});
      if (length < phase_length) segments.push_back({p * phase_length + length, phase_length - length, -1});
    }
    wg.kernel_.pack(segments.data(), static_cast<int64_t>(segments.size()), step_w, g_data, gs[2], rows,
                    phases.data(), view_pitch);
    return phases.data();
  }

  // The reduction indices per K block: whole D rows with views.
  int64_t block() const {
    const int64_t kb = std::min(wg.k_block_, k);
    return views ? kb / ds[2] * ds[2] : kb;
  }

  // Kernel tap `tap` as (D, H, W) indices.
  std::array<int64_t, kMaxRank> tap_index(int64_t tap) const {
    const int64_t* ks = wg.kernel_size_;
    return {tap / (ks[1] * ks[2]), tap / ks[2] % ks[1], tap % ks[2]};
  }

  // f(n, d, h0, h1, w0, w1, offset) for the D rows h0..h1-1 of plane (n, d), parts [w0, w1), inside
  // reduction indices [k0, k1): the full rows of a plane in the block together, a partial row alone.
  // The coordinates are stepped, not divided out per row: this runs per A row and D row, and the
  // divisions were a third of the packing driver's samples on res2.3x3 channels_first.
  template <class F>
  void for_each_row_run(int64_t k0, int64_t k1, F&& f) const {
    if (k0 >= k1) return;
    const int64_t row = k0 / ds[2];
    int64_t n = row / (ds[0] * ds[1]), d = row / ds[1] % ds[0], h = row % ds[1], w0 = k0 % ds[2];
    for (int64_t kk = k0; kk < k1; w0 = 0) {
      if (w0 == 0 && k1 - kk >= ds[2]) {
        const int64_t rows = std::min(ds[1] - h, (k1 - kk) / ds[2]);
        f(n, d, h, h + rows, int64_t{0}, ds[2], kk - k0);
        kk += rows * ds[2];
        h += rows;
      } else {
        const int64_t w1 = std::min(ds[2], w0 + k1 - kk);
        f(n, d, h, h + 1, w0, w1, kk - k0);
        kk += w1 - w0;
        ++h;
      }
      if (h == ds[1]) {
        h = 0;
        if (++d == ds[0]) d = 0, ++n;
      }
    }
  }

  // f(n, d, h, w0, w1, offset) for each D row's part [w0, w1) inside reduction indices [k0, k1), offset
  // = the index of (n, d, h, w0) less k0: the runs of for_each_row_run, row by row.
  template <class F>
  void for_each_row(int64_t k0, int64_t k1, F&& f) const {
    for_each_row_run(k0, k1, [&](int64_t n, int64_t d, int64_t h0, int64_t h1, int64_t w0, int64_t w1, int64_t offset) {
      for (int64_t h = h0; h < h1; ++h, offset += w1 - w0) f(n, d, h, w0, w1, offset);
    });
  }

  // The W stretches of tap `q` (along W) inside [w0, w1): the whole row's list, or `clipped`.
  const std::vector<PixelSegment>& row_segments(int64_t q, int64_t w0, int64_t w1,
                                                std::vector<PixelSegment>& clipped) const {
    if (w0 == 0 && w1 == ds[2]) return w_segments[at(q)];
    clip_segments(w_segments[at(q)], w0, w1, step_w, clipped);
    return clipped;
  }

  // Whether D must be packed for this panel: always channels_first (its pixels are strided by channel),
  // and a channels_last partial panel (the kernel reads whole NR-wide rows).
  bool packed_b(int64_t panel) const {
    return !channels_last || (panel + 1) * wg.kernel_.nr > wg.direct_g_;
  }
  // The packed panels one K block needs (channels_last: at most the last), and where panel `panel` goes.
  int64_t packed_panels() const { return channels_last ? (packed_b(panels - 1) ? 1 : 0) : panels; }
  int64_t packed_offset(int64_t panel, int64_t kb) const { return channels_last ? 0 : panel * kb * wg.kernel_.nr; }

  // B panel `panel` of group g over reduction indices [k0, k1): [k][NR], D's channels of the panel, zeros
  // past the group's channels.
  void pack_b(int64_t g, int64_t panel, int64_t k0, int64_t k1, float* dst) const {
    const int64_t nr = wg.kernel_.nr, first = g * wg.direct_g_ + panel * nr;
    const int64_t cols = std::min(nr, wg.direct_g_ - panel * nr);
    const PixelSegment segments[2] = {{0, cols, first}, {cols, nr - cols, -1}};
    for (int64_t kk = k0; kk < k1;) {
      const int64_t n = kk / d_pixels, t0 = kk % d_pixels, t1 = std::min(d_pixels, t0 + k1 - kk);
      float* out = dst + (kk - k0) * nr;
      if (channels_last) {  // a pixel's channels are consecutive: vector copies
        wg.kernel_.pack(segments, cols < nr ? 2 : 1, 1, d_data + (n * d_pixels + t0) * d_channels, d_channels,
                        t1 - t0, out, nr);
      } else {  // a transpose, reading each channel's pixels in order (gathers across the planes: a page per
                // lane), 64 pixels at a time so that the NR-float rows written stay in L1
        for (int64_t c0 = t0; c0 < t1; c0 += 64)
          for (int64_t j = 0; j < cols; ++j) {
            const float* plane = d_data + (n * d_channels + first + j) * d_pixels;
            for (int64_t t = c0; t < std::min(t1, c0 + 64); ++t) out[(t - t0) * nr + j] = plane[t];
          }
        if (cols < nr)
          for (int64_t t = t0; t < t1; ++t) std::fill(out + (t - t0) * nr + cols, out + (t - t0 + 1) * nr, 0.0f);
      }
      kk += t1 - t0;
    }
  }

  // B panel `panel` of group g over the block [k0, k1), ordered as the block's A: with views, the interior
  // columns of its D rows, then their borders.
  void pack_b_block(int64_t g, int64_t panel, int64_t k0, int64_t k1, float* dst) const {
    if (!views) return pack_b(g, panel, k0, k1, dst);
    const int64_t nr = wg.kernel_.nr, inner = view_hi - view_lo, border = ds[2] - inner;
    const int64_t rows = (k1 - k0) / ds[2];
    float* borders = dst + rows * inner * nr;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t kr = k0 + r * ds[2];
      pack_b(g, panel, kr + view_lo, kr + view_hi, dst + r * inner * nr);
      pack_b(g, panel, kr, kr + view_lo, borders + r * border * nr);
      pack_b(g, panel, kr + view_hi, kr + ds[2], borders + (r * border + view_lo) * nr);
    }
  }

  // channels_last A tile: rows m0.. of group g over [k0, k1), [k][MR]. Rows sharing a tap read
  // consecutive channels of one G pixel, copied as a run per pixel (masked vector copies); rows past M
  // are zeros.
  void pack_a_pixel_major(int64_t g, int64_t m0, int64_t k0, int64_t k1, float* dst,
                          std::vector<PixelSegment>& clipped) const {
    const int64_t mr = wg.kernel_.mr, gathered = wg.gathered_g_;
    struct Run {
      int64_t row, length, channel;
      std::array<int64_t, kMaxRank> q;
    };
    std::vector<Run> runs;
    for (int64_t i = 0; i < mr && m0 + i < m;) {
      const int64_t tap = (m0 + i) / gathered, channel = (m0 + i) % gathered;
      const int64_t length = std::min({mr - i, gathered - channel, m - m0 - i});
      runs.push_back({i, length, g * gathered + channel, tap_index(tap)});
      i += length;
    }
    const int64_t filled = std::min(mr, m - m0);
    const PixelSegment zero_rows{filled, mr - filled, -1};
    for_each_row(k0, k1, [&](int64_t n, int64_t d, int64_t h, int64_t w0, int64_t w1, int64_t offset) {
      float* out = dst + offset * mr;
      for (const Run& r : runs) {
        const int64_t sd = gather[0][at(r.q[0] * ds[0] + d)], sh = gather[1][at(r.q[1] * ds[1] + h)];
        const float* line =
            sd < 0 || sh < 0 ? nullptr : g_data + ((n * gs[0] + sd) * gs[1] + sh) * gs[2] * g_channels + r.channel;
        for (const PixelSegment& s : row_segments(r.q[2], w0, w1, clipped)) {
          const bool zeros = !line || s.source < 0;
          const PixelSegment run{r.row, r.length, zeros ? -1 : 0};
          wg.kernel_.pack(&run, 1, 1, zeros ? nullptr : line + s.source * g_channels,
                          zeros || s.length == 1 ? 0 : step_w * g_channels, s.length, out + s.begin * mr, mr);
        }
      }
      if (filled < mr) wg.kernel_.pack(&zero_rows, 1, 1, nullptr, 0, w1 - w0, out, mr);
    });
  }

  // channels_first A tile: rows m0.. of group g over [k0, k1), row-major [MR][k1 - k0], one G channel at
  // one tap per row (rows ordered (gc, tap), as channels_first dW is); only the rows below M are written.
  void pack_a_row_major(int64_t g, int64_t m0, int64_t k0, int64_t k1, float* dst,
                           std::vector<PixelSegment>& clipped) const {
    const int64_t rows = std::min<int64_t>(wg.kernel_.mr, m - m0);
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t channel = g * wg.gathered_g_ + (m0 + i) / wg.taps_;
      const auto q = tap_index((m0 + i) % wg.taps_);
      float* row = dst + i * (k1 - k0);
      // Per run of D rows, one pack call per H stretch (short rows made this one call per D row and A row:
      // vnet.up3d2s2's 16-pixel rows, 65,000 calls).
      for_each_row_run(k0, k1, [&](int64_t n, int64_t d, int64_t h0, int64_t h1, int64_t w0, int64_t w1,
                                   int64_t offset) {
        const int64_t sd = gather[0][at(q[0] * ds[0] + d)], width = w1 - w0;
        if (sd < 0) {
          std::fill_n(row + offset, (h1 - h0) * width, 0.0f);
          return;
        }
        const float* plane = g_data + (n * g_channels + channel) * g_pixels + sd * gs[1] * gs[2];
        const std::vector<PixelSegment>& segments = row_segments(q[2], w0, w1, clipped);
        for (const PixelSegment& hs : h_segments[at(q[1])]) {
          const int64_t a = std::max(hs.begin, h0), b = std::min(hs.begin + hs.length, h1);
          if (a >= b) continue;
          float* out = row + offset + (a - h0) * width;
          if (hs.source < 0) {
            std::fill_n(out, (b - a) * width, 0.0f);
            continue;
          }
          wg.kernel_.pack(segments.data(), static_cast<int64_t>(segments.size()), step_w,
                          plane + (hs.source + (a - hs.begin) * step_h) * gs[2], b - a > 1 ? step_h * gs[2] : 0,
                          b - a, out, width);
        }
      });
    }
  }

  // The kernel over k_per_tap reduction indices from kk (within the block [k0, k1)) of tile m0, once per
  // panel. `b`: the block's packed panels.
  void run_panels(int64_t g, int64_t m0, int64_t k0, int64_t k1, int64_t kk, const float* b, float* c,
                  TileArgs& args) const {
    const int64_t nr = wg.kernel_.nr;
    for (int64_t panel = 0; panel < panels; ++panel) {
      if (packed_b(panel)) {
        args.b = b + packed_offset(panel, k1 - k0) + kk * nr;
        args.b_stride = nr;
      } else {
        args.b = d_data + (k0 + kk) * d_channels + g * wg.direct_g_ + panel * nr;
        args.b_stride = d_channels;
      }
      args.c = c + (g * m + m0) * wg.direct_g_ + panel * nr;
      args.cols = static_cast<int>(std::min(nr, wg.direct_g_ - panel * nr));
      wg.kernel_.run(args);
    }
  }

  // How channels_last A tile m0 of group g can be read from G in place (the MR floats the kernel reads per
  // pixel consecutive in G and inside it), when D rows hold >= 2 pixels per panel (pointwise layers: one
  // call per block, G's and D's pixels are consecutive across rows and images): a call per W stretch
  // and panel loads and stores its C tile, and packing costs ~15 cycles per pixel and tile (vgg16.conv1_2,
  // 224-pixel rows, 2 panels, packed for a third of its time; res4.3x3's 14-pixel rows, 8 panels, pack:
  // 1.00x -> 0.85x oneDNN in place, deeplab's 32 pixels, 8 panels, 0.76x -> 0.92x):
  //   one_tap: one tap's consecutive channels, inside one G pixel;
  //   kernel_row: MR rows over several adjacent taps of one kernel row (the stem's 3 channels x 7 taps),
  //   consecutive in G when it has one group and no W dilation; with the zero padding every tap's
  //   valid pixels are one stretch, and the pixels where only some taps are valid are packed.
  enum class InPlace { no, one_tap, kernel_row };
  static constexpr int64_t kInPlaceRowPerPanel = 2;
  InPlace a_in_place(int64_t g, int64_t m0) const {
    const int64_t mr = wg.kernel_.mr, gathered = wg.gathered_g_, row_taps = wg.kernel_size_[2];
    if (!channels_last || (!pointwise && ds[2] < kInPlaceRowPerPanel * panels)) return InPlace::no;
    if (m0 % gathered + std::min(mr, m - m0) <= gathered && g * gathered + m0 % gathered + mr <= g_channels)
      return InPlace::one_tap;
    if (wg.groups_ == 1 && dilation_w == 1 && zero_padding && m0 + mr <= m &&
        m0 / gathered / row_taps == (m0 + mr - 1) / gathered / row_taps)
      return InPlace::kernel_row;
    return InPlace::no;
  }

  // A tile m0 (a_in_place) over [k0, k1) read from G in place, one call per W stretch and panel; the
  // zero padding's pixels add nothing and are skipped. `a`: room for a packed tile, `b`: the block's
  // packed panels.
  void tile_in_place(InPlace how, int64_t g, int64_t m0, int64_t k0, int64_t k1, float* a, const float* b,
                     float* c, TileArgs args, std::vector<PixelSegment>& clipped) const {
    const int64_t gathered = wg.gathered_g_;
    const auto q = tap_index(m0 / gathered);
    const int64_t channel = g * gathered + m0 % gathered;
    // kernel_row: the pixels where every tap of the tile reads inside G, [lo, hi).
    int64_t lo = 0, hi = ds[2], first_begin = 0, first_source = 0;  // and tap q's stretch
    if (how == InPlace::kernel_row)
      for (int64_t qw : {q[2], tap_index((m0 + wg.kernel_.mr - 1) / gathered)[2]}) {
        PixelSegment valid{0, 0, 0};
        for (const PixelSegment& s : w_segments[at(qw)])
          if (s.source >= 0) valid = s;
        if (qw == q[2]) first_begin = valid.begin, first_source = valid.source;
        lo = std::max(lo, valid.begin);
        hi = std::min(hi, valid.begin + valid.length);
      }
    if (pointwise) {  // G's and D's pixels are the block's indices: one call per panel
      args.a_packed = g_data + k0 * g_channels + channel;
      args.a_stride = g_channels;
      args.k_per_tap = k1 - k0;
      run_panels(g, m0, k0, k1, 0, b, c, args);
      return;
    }
    for_each_row(k0, k1, [&](int64_t n, int64_t d, int64_t h, int64_t w0, int64_t w1, int64_t offset) {
      const int64_t sd = gather[0][at(q[0] * ds[0] + d)], sh = gather[1][at(q[1] * ds[1] + h)];
      if (sd < 0 || sh < 0) return;  // every tap of the tile reads this padding row
      const float* line = g_data + ((n * gs[0] + sd) * gs[1] + sh) * gs[2] * g_channels + channel;
      auto in_place = [&](const float* first, int64_t w, int64_t length) {
        args.a_packed = first;
        args.a_stride = length > 1 ? step_w * g_channels : g_channels;
        args.a_rows = nullptr;
        args.k_per_tap = length;
        run_panels(g, m0, k0, k1, offset + w - w0, b, c, args);
      };
      if (how == InPlace::one_tap) {
        for (const PixelSegment& s : row_segments(q[2], w0, w1, clipped))
          if (s.source >= 0) in_place(line + s.source * g_channels, w0 + s.begin, s.length);
        return;
      }
      const int64_t in_lo = std::clamp(lo, w0, w1), in_hi = std::clamp(hi, in_lo, w1);
      auto packed = [&](int64_t x0, int64_t x1) {
        if (x0 >= x1) return;
        const int64_t kk = offset + x0 - w0;
        pack_a_pixel_major(g, m0, k0 + kk, k0 + kk + x1 - x0, a, clipped);
        args.a_packed = a;
        args.a_stride = 0;
        args.k_per_tap = x1 - x0;
        run_panels(g, m0, k0, k1, kk, b, c, args);
      };
      packed(w0, in_lo);
      if (in_lo < in_hi)
        in_place(line + (first_source + (in_lo - first_begin) * step_w) * g_channels, in_lo, in_hi - in_lo);
      packed(in_hi, w1);
    });
  }

  // channels_first A tile m0 of a pointwise layer over [k0, k1): the kernel's row pointers are G's planes,
  // one call per image part of the block and panel (1x1 layers are bound by packing otherwise:
  // mobilenetv2.pw1x1 copies 144 planes for 24 output channels).
  void planes_in_place(int64_t g, int64_t m0, int64_t k0, int64_t k1, const float* b, float* c, TileArgs args) const {
    const int64_t mr = wg.kernel_.mr;
    const float* rows[128];
    args.a_rows = rows;
    for (int64_t kk = k0; kk < k1;) {
      const int64_t n = kk / d_pixels, t0 = kk % d_pixels, t1 = std::min(d_pixels, t0 + k1 - kk);
      for (int64_t i = 0; i < mr; ++i)
        rows[i] = g_data + (n * g_channels + g * wg.gathered_g_ + m0 + (i < args.rows ? i : 0)) * g_pixels + t0;
      args.k_per_tap = t1 - t0;
      run_panels(g, m0, k0, k1, kk - k0, b, c, args);
      kk += t1 - t0;
    }
  }

  // channels_first A tile m0 of group g over the block [k0, k1) (whole D rows) through shifted views: one
  // call over every D row's interior columns, A rows read from G's rows in place (a zero row where the
  // tap reads the padding along D or H), then one call over the borders, packed [MR][rows * border].
  void tile_views(int64_t g, int64_t m0, int64_t k0, int64_t k1, float* a, const float* b, float* c, TileArgs args,
                  Workspace& ws) const {
    const int64_t mr = wg.kernel_.mr, inner = view_hi - view_lo, border = ds[2] - inner;
    const int64_t rows = (k1 - k0) / ds[2], pitch = rows * border;
    const float** pointers = scratch(ws.pointers, rows * mr);
    int64_t* g_rows = scratch(ws.g_rows, rows * mr);  // G's row (n, c, d, h) index, -1 for a padding row
    if (ws.zeros.size() < at(inner)) ws.zeros.assign(at(inner), 0.0f);
    int64_t channel[128];
    std::array<int64_t, kMaxRank> q[128];
    for (int64_t i = 0; i < mr; ++i) {
      const int64_t row = m0 + (i < args.rows ? i : 0);
      channel[i] = g * wg.gathered_g_ + row / wg.taps_;
      q[i] = tap_index(row % wg.taps_);
    }
    const int64_t row0 = k0 / ds[2];
    int64_t n = row0 / (ds[0] * ds[1]), d = row0 / ds[1] % ds[0], h = row0 % ds[1];
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < mr; ++i) {
        const int64_t sd = gather[0][at(q[i][0] * ds[0] + d)], sh = gather[1][at(q[i][1] * ds[1] + h)];
        const int64_t g_row = sd < 0 || sh < 0 ? -1 : ((n * g_channels + channel[i]) * gs[0] + sd) * gs[1] + sh;
        g_rows[r * mr + i] = g_row;
        pointers[r * mr + i] = g_row < 0 ? ws.zeros.data() : view_data + g_row * view_pitch + view_offset[at(q[i][2])];
      }
      if (++h == ds[1]) {
        h = 0;
        if (++d == ds[0]) d = 0, ++n;
      }
    }
    args.a_rows = pointers;
    args.taps = rows;
    args.k_per_tap = inner;
    run_panels(g, m0, k0, k1, 0, b, c, args);
    if (border == 0) return;
    // The borders after the interiors: G's rows are then in cache (gathered first, their loads missed
    // and were 40% of the driver's time on vgg16.conv1_2).
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t i = 0; i < args.rows; ++i) {
        float* packed = a + i * pitch + r * border;
        const int64_t g_row = g_rows[r * mr + i];
        if (g_row < 0) {
          std::fill_n(packed, border, 0.0f);
          continue;
        }
        const float* line = g_data + g_row * gs[2];
        const int64_t* sources = &gather[2][at(q[i][2] * ds[2])];
        for (int64_t w = 0; w < view_lo; ++w) packed[w] = sources[w] < 0 ? 0.0f : line[sources[w]];
        for (int64_t w = view_hi; w < ds[2]; ++w) packed[w - inner] = sources[w] < 0 ? 0.0f : line[sources[w]];
      }
    const float* border_rows[128];
    for (int64_t i = 0; i < mr; ++i) border_rows[i] = a + (i < args.rows ? i : 0) * pitch;
    args.a_rows = border_rows;
    args.taps = 1;
    args.k_per_tap = pitch;
    run_panels(g, m0, k0, k1, rows * inner, b, c, args);
  }

  // Tiles [t0, t1) of group g into the GEMM result `c` ([group][M][D channels/group]): K block after
  // K block, each packing D's panels once and each A tile once.
  void unit(int64_t g, int64_t t0, int64_t t1, float* c, Workspace& ws) const {
    const TileKernel& kernel = wg.kernel_;
    const int64_t mr = kernel.mr, nr = kernel.nr, kb = block();
    float* a = aligned_scratch(ws.a, mr * kb);
    float* b = aligned_scratch(ws.b, std::max<int64_t>(1, packed_panels() * kb * nr));
    const float* rows[128];
    for (int64_t k0 = 0; k0 < k; k0 += kb) {
      const int64_t k1 = std::min(k, k0 + kb);
      for (int64_t panel = 0; panel < panels; ++panel)
        if (packed_b(panel)) pack_b_block(g, panel, k0, k1, b + packed_offset(panel, k1 - k0));
      for (int64_t tile = t0; tile < t1; ++tile) {
        const int64_t m0 = tile * mr;
        TileArgs args;
        args.rows = static_cast<int>(std::min(mr, m - m0));
        args.c_row_stride = wg.direct_g_;
        args.accumulate = true;  // onto the zeroed result, block after block
        if (const InPlace how = a_in_place(g, m0); how != InPlace::no) {
          tile_in_place(how, g, m0, k0, k1, a, b, c, args, ws.clipped);
          continue;
        }
        if (!channels_last && pointwise) {
          planes_in_place(g, m0, k0, k1, b, c, args);
          continue;
        }
        if (views) {
          tile_views(g, m0, k0, k1, a, b, c, args, ws);
          continue;
        }
        if (channels_last) {
          pack_a_pixel_major(g, m0, k0, k1, a, ws.clipped);
          args.a_packed = a;
        } else {
          pack_a_row_major(g, m0, k0, k1, a, ws.clipped);
          for (int64_t i = 0; i < mr; ++i) rows[i] = a + (i < args.rows ? i : 0) * (k1 - k0);
          args.a_rows = rows;
        }
        args.k_per_tap = k1 - k0;
        run_panels(g, m0, k0, k1, 0, b, c, args);
      }
    }
  }
};

std::string WeightGradient::details() const {
  return name() + ": a GEMM per group, (taps x " + std::to_string(gathered_g_) + " channels) x " +
         std::to_string(direct_g_) + " channels" +
         (swapped_ ? " (pointwise: dy's " + std::to_string(gathered_g_) + " channels as the rows)" : "") +
         ", the reduction over batch and pixels in L2-sized blocks of " + std::to_string(k_block_) +
         ", each block's panels packed once";
}

void WeightGradient::run(ConstTensorView input, ConstTensorView grad_output, float* grad_weight, float*,
                         int threads) const {
  const Call call(*this, input, grad_output);
  const int64_t m_tiles = ceil_div(call.m, kernel_.mr);
  // [group][row][dc], rows (tap, gc) for channels_last and (gc, tap) for channels_first; K = 0 leaves zeros
  std::vector<float> result(at(groups_ * call.m * direct_g_));
  if (groups_ * call.m * direct_g_ * call.k < kSerialMacs) threads = 1;
  // Work units: runs of A tiles, enough for the threads (thread count only changes which thread sums a
  // tile, never the order it is summed in).
  const int64_t chunks = std::clamp<int64_t>(ceil_div(threads, groups_), 1, std::max<int64_t>(1, m_tiles));
  const int64_t chunk_tiles = ceil_div(m_tiles, chunks);
  if (call.k > 0)
    parallel_for(threads, groups_ * chunks, Schedule::dynamic, [] { return 0; }, [&](int, int64_t unit) {
      thread_local Workspace workspace;
      const int64_t t0 = unit % chunks * chunk_tiles, t1 = std::min(m_tiles, t0 + chunk_tiles);
      if (t0 < t1) call.unit(unit / chunks, t0, t1, result.data(), workspace);
    });

  // Each group's result transposed into dW, 16 rows at a time (whole lines read, runs of 16 written):
  // row r, column dc of group g goes to row_at(g, r) + dc * pitch.
  const int64_t m = call.m;
  auto transpose = [&](auto row_at, int64_t pitch) {
    for (int64_t g = 0; g < groups_; ++g)
      for (int64_t r0 = 0; r0 < m; r0 += 16)
        for (int64_t dc = 0; dc < direct_g_; ++dc) {
          float* out = grad_weight + dc * pitch;
          const float* in = &result[at(g * m * direct_g_ + dc)];
          for (int64_t r = r0; r < std::min(m, r0 + 16); ++r) out[row_at(g, r)] = in[r * direct_g_];
        }
  };
  if (swapped_) {  // pointwise, rows = dy channels, columns = x channels: channels_first dW is the result
    if (spec_.layout == Layout::channels_first) std::copy(result.begin(), result.end(), grad_weight);
    else transpose([&](int64_t g, int64_t r) { return g * m + r; }, groups_ * gathered_g_);
    return;
  }
  // dW[outer = D channel][inner = G channel/group][tap] in the spec's layout (convkit/spec.h); with flip
  // tap q is stored at k-1-q on every axis, i.e. at taps-1-q in row-major order.
  const int64_t d_channels = groups_ * direct_g_;
  if (spec_.layout == Layout::channels_last) {  // (k..., inner, outer): the result's rows (tap, gc) are dW's
    for (int64_t g = 0; g < groups_; ++g)
      for (int64_t tap = 0; tap < taps_; ++tap)
        for (int64_t gc = 0; gc < gathered_g_; ++gc)
          std::copy_n(&result[at((g * m + tap * gathered_g_ + gc) * direct_g_)], direct_g_,
                      grad_weight + ((spec_.flip ? taps_ - 1 - tap : tap) * gathered_g_ + gc) * d_channels +
                          g * direct_g_);
    return;
  }
  // channels_first (outer, inner, k...): rows (gc, tap), one dW row m floats apart.
  std::vector<int64_t> position(at(m));  // where row r goes in dW's (inner, k) order
  for (int64_t r = 0; r < m; ++r) {
    const int64_t tap = r % taps_;
    position[at(r)] = r - tap + (spec_.flip ? taps_ - 1 - tap : tap);
  }
  transpose([&](int64_t g, int64_t r) { return g * direct_g_ * m + position[at(r)]; }, m);
}

std::size_t WeightGradient::workspace_bytes(const Shape& input_shape, int threads) const {
  const ConvGeometry geometry = resolve_geometry(spec_, input_spatial_of(spec_, input_shape));
  const Shape d_spatial = spec_.transposed || swapped_ ? geometry.input_spatial() : geometry.output_spatial();
  const int64_t kb = std::min(k_block_, input_shape[0] * element_count(d_spatial));
  const int64_t panels = ceil_div(direct_g_, kernel_.nr);
  const bool partial = direct_g_ % kernel_.nr != 0;
  const int64_t packed = spec_.layout == Layout::channels_last ? (partial ? 1 : 0) : panels;
  // shifted views (channels_first): a row pointer (2 floats) per A row and D row of a block, one zero row,
  // and with a W stride of 2-4 G's rows split into phases (each padded to a whole stride)
  const int64_t width = d_spatial.empty() ? 1 : d_spatial.back();
  int64_t views = 0, phases = 0;
  if (spec_.layout == Layout::channels_first) {
    views = 2 * kernel_.mr * ceil_div(kb, width) + width;
    const Shape g_spatial = spec_.transposed || swapped_ ? geometry.output_spatial() : geometry.input_spatial();
    const int64_t stride = geometry.axes.back().stride;
    if (stride > 1 && stride <= 4 && !g_spatial.empty())
      phases = input_shape[0] * groups_ * gathered_g_ * element_count(g_spatial) / g_spatial.back() *
               ceil_div(g_spatial.back(), stride) * stride;
  }
  const int64_t floats = phases + threads * (kernel_.mr * kb + std::max<int64_t>(1, packed * kernel_.nr * kb) + views) +
                         groups_ * taps_ * gathered_g_ * direct_g_;
  return static_cast<std::size_t>(floats) * sizeof(float);
}

}  // namespace convkit::cpu
