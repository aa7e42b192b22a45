#include "depthwise_backward.h"

#include <algorithm>
#include <vector>

#include "convkit/shape.h"
#include "depthwise_weight.h"
#include "isa_kernels.h"
#include "parallel.h"

namespace convkit::cpu {

namespace {

// channels_first: dx rows per band (and work item). Tall: each rows-kernel call then covers up to 32 rows
// of an H phase, and the band rows two tiles share are staged twice less often (mobilenetv2.dw3x3s2:
// 16 rows 0.43-0.45 ms, 32 rows 0.35-0.36 ms, 64 rows 0.33-0.44 ms on a loaded machine).
constexpr int64_t kRowTile = 64;
constexpr int64_t kRowBlock = 8;  // channels_last: dx rows per work item
// channels_first: the floats one thread's bands may hold; beyond, the plan keeps the phase convolutions.
constexpr double kMaxStagedFloats = double(int64_t{1} << 24);

int64_t floor_div(int64_t a, int64_t b) { return -ceil_div(-a, b); }
int64_t mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

// The dy cell that cell i reads at tap q (i + pad = o * stride + q * dilation), or -1: none.
int64_t source_of(const DepthwiseBackwardAxis& a, int64_t i, int64_t q) {
  const int64_t e = i + a.pad - q * a.dilation;
  if (e < 0 || e % a.stride != 0 || e / a.stride >= a.output) return -1;
  return e / a.stride;
}

// channels_first: the staged (zero-inserted) dy row: dy[o] at element stride * o + (k - 1) * d - pad, so
// that dx column j reads it at W tap q from element j + (k - 1 - q) * d; long enough for whole vectors of
// the target row at every tap.
int64_t staged_row_floats(const DepthwiseBackwardAxis& w, int64_t lanes) {
  return (w.kernel - 1) * w.dilation + ceil_div(w.target, lanes) * lanes;
}

// channels_first: the dy rows a tile of kRowTile dx rows reads (at most), and the dy depth planes one dx
// depth reads (their bands' slots: those od lie in a window this wide, so od mod slots never collide).
int64_t band_rows(const DepthwiseBackwardAxis& h) {
  return (kRowTile - 1 + (h.kernel - 1) * h.dilation) / h.stride + 2;
}
int64_t depth_slots(const DepthwiseBackwardAxis& d) { return (d.kernel - 1) * d.dilation / d.stride + 1; }

}  // namespace

std::string DepthwiseBackwardData::cannot(const ConvSpec& spec) {
  if (spec.transposed) return "transposed convolution";
  if (spec.groups != spec.in_channels || spec.groups == 1)
    return "not depthwise: groups=" + std::to_string(spec.groups) + ", in_channels=" + std::to_string(spec.in_channels);
  const std::vector<int64_t> stride = per_axis(spec.stride, spec.rank, 1, "stride");
  if (std::all_of(stride.begin(), stride.end(), [](int64_t s) { return s == 1; }))
    return "stride 1: the adjoint is a forward depthwise convolution";
  const int64_t multiplier = spec.out_channels / spec.in_channels;
  if (spec.layout == Layout::channels_last && multiplier > 1)
    return "channels_last with multiplier " + std::to_string(multiplier) +
           ": the dy channels of one input channel are not contiguous";
  return {};
}

std::string DepthwiseBackwardData::cannot(const DepthwiseBackwardGeometry& g) const {
  if (spec_.layout == Layout::channels_last) return {};
  const double floats = static_cast<double>(depth_slots(g[0])) * static_cast<double>(multiplier_) *
                        static_cast<double>(band_rows(g[1])) * static_cast<double>(staged_row_floats(g[2], kernels_->lanes));
  if (floats > kMaxStagedFloats)
    return "its staged dy bands would hold " + std::to_string(static_cast<int64_t>(floats)) + " floats per thread > " +
           std::to_string(static_cast<int64_t>(kMaxStagedFloats));
  return {};
}

DepthwiseBackwardData::DepthwiseBackwardData(const ConvSpec& spec, ConstTensorView weight, Isa isa)
    : spec_(spec), kernels_(isa_kernels(isa).depthwise), channels_(spec.in_channels),
      multiplier_(spec.out_channels / spec.in_channels) {
  const bool last = spec.layout == Layout::channels_last;
  const DepthwiseWeight weight_at(spec, weight);
  std::copy(weight_at.kernel_size().begin(), weight_at.kernel_size().end(), kernel_size_);
  taps_ = weight_at.taps();
  padded_channels_ = ceil_div(channels_, kernels_->lanes) * kernels_->lanes;
  if (last) {  // [tap][c], zero beyond the channels (multiplier 1)
    weights_ = AlignedBuffer(static_cast<size_t>(taps_ * padded_channels_));
    for (int64_t tap = 0; tap < taps_; ++tap)
      for (int64_t c = 0; c < padded_channels_; ++c)
        weights_.data()[tap * padded_channels_ + c] = c < channels_ ? weight_at(c, tap) : 0.0f;
  } else {  // [o][tap]
    weights_ = AlignedBuffer(static_cast<size_t>(spec.out_channels * taps_));
    for (int64_t o = 0; o < spec.out_channels; ++o)
      for (int64_t tap = 0; tap < taps_; ++tap) weights_.data()[o * taps_ + tap] = weight_at(o, tap);
  }
}

struct DepthwiseBackwardData::Call {
  const DepthwiseBackwardData& conv;
  const DepthwiseBackwardGeometry& g;
  const float* dy;
  float* dx;
  int64_t target_pixels = 1;  // per image

  // channels_last: the W phases of a dx row. Phase cells first + t * stride (t < count) read, at the
  // phase's W taps q (listed by decreasing q: increasing dy column), dy column base[j] + t; cells t in
  // [interior_begin, interior_end) have every one inside dy.
  struct WPhase {
    int64_t first = 0, count = 0, interior_begin = 0, interior_end = 0;
    std::vector<int64_t> taps, base;
    int64_t kw = 0;  // the pixel kernel's W-reuse width: taps one dy column apart, 3, 5 or 7 of them; else 0
  };
  std::vector<WPhase> phases;

  // channels_first: staged rows of row_floats; dy columns [o_begin, o_end) land from element first_element
  // on, every stride-th; tap_offset[q]: where dx column 0 reads W tap q.
  int64_t row_floats = 0, band_floats = 0, slots = 1, o_begin = 0, o_end = 0, first_element = 0;
  std::vector<int64_t> tap_offset;

  Call(const DepthwiseBackwardData& c, const DepthwiseBackwardGeometry& geometry, const float* grad_output,
       float* grad_input)
      : conv(c), g(geometry), dy(grad_output), dx(grad_input) {
    for (const DepthwiseBackwardAxis& a : g) target_pixels *= a.target;
    const DepthwiseBackwardAxis& w = g[2];
    if (conv.spec_.layout == Layout::channels_last) {
      for (int64_t i0 = 0; i0 < std::min(w.stride, w.target); ++i0) phases.push_back(w_phase(i0));
      return;
    }
    row_floats = staged_row_floats(w, conv.kernels_->lanes);
    band_floats = band_rows(g[1]) * row_floats;
    slots = depth_slots(g[0]) * conv.multiplier_;
    const int64_t e0 = (w.kernel - 1) * w.dilation - w.pad;  // the element of dy column 0
    o_begin = std::clamp<int64_t>(ceil_div(-e0, w.stride), 0, w.output);
    o_end = std::clamp<int64_t>(ceil_div(row_floats - e0, w.stride), o_begin, w.output);
    first_element = w.stride * o_begin + e0;
    for (int64_t q = 0; q < w.kernel; ++q) tap_offset.push_back((w.kernel - 1 - q) * w.dilation);
  }

  WPhase w_phase(int64_t i0) const {
    const DepthwiseBackwardAxis& w = g[2];
    WPhase p;
    p.first = i0;
    p.count = ceil_div(w.target - i0, w.stride);
    int64_t lo = 0, hi = p.count;
    for (int64_t q = w.kernel - 1; q >= 0; --q) {
      const int64_t e = i0 + w.pad - q * w.dilation;
      if (mod(e, w.stride) != 0) continue;
      p.taps.push_back(q);
      p.base.push_back(floor_div(e, w.stride));
      lo = std::max(lo, -p.base.back());
      hi = std::min(hi, w.output - p.base.back());
    }
    p.interior_begin = std::min(lo, p.count);
    p.interior_end = std::max(hi, p.interior_begin);
    const int64_t n = static_cast<int64_t>(p.taps.size());
    const bool adjacent = n > 1 && p.base[1] - p.base[0] == 1;  // (taps step evenly through dy)
    if ((n == 3 || n == 5 || n == 7) && adjacent) p.kw = n;
    return p;
  }

  // --- channels_last ---

  // dx row `row` (= td * target_h + th) of image n, channels [c_begin, c_end).
  void channels_last_row(int64_t n, int64_t row, int64_t c_begin, int64_t c_end) const {
    thread_local std::vector<const float*> row_pointers, tap_pointers;
    thread_local std::vector<int64_t> row_taps;
    const int64_t* ks = conv.kernel_size_;
    const int64_t c = conv.channels_, cp = conv.padded_channels_;
    const float** row_ptr = scratch(row_pointers, ks[0] * ks[1]);
    int64_t* row_tap = scratch(row_taps, ks[0] * ks[1]);
    const float** xs = scratch(tap_pointers, 2 * conv.taps_);
    const float** ws = xs + conv.taps_;
    const int64_t td = row / g[1].target, th = row % g[1].target;
    // The (D, H) taps whose dy row exists.
    int64_t rows = 0;
    for (int64_t a = 0; a < ks[0]; ++a) {
      const int64_t od = source_of(g[0], td, a);
      if (od < 0) continue;
      for (int64_t b = 0; b < ks[1]; ++b) {
        const int64_t oh = source_of(g[1], th, b);
        if (oh < 0) continue;
        row_ptr[rows] = dy + ((n * g[0].output + od) * g[1].output + oh) * g[2].output * c;
        row_tap[rows++] = (a * ks[1] + b) * ks[2];
      }
    }
    float* dx_row = dx + (n * target_pixels + row * g[2].target) * c;
    const float* weights = conv.weights_.data();
    ChannelsLastPixels args;
    args.x = xs;
    args.w = ws;
    args.x_step = c;
    args.y_step = g[2].stride * c;
    args.channel_begin = c_begin;
    args.channel_end = c_end;
    for (const WPhase& p : phases) {
      const int64_t nq = static_cast<int64_t>(p.taps.size());
      if (p.interior_end > p.interior_begin) {  // every cell with all its taps: one evenly stepping run
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t j = 0; j < nq; ++j) {
            xs[r * nq + j] = row_ptr[r] + (p.base[static_cast<size_t>(j)] + p.interior_begin) * c;
            ws[r * nq + j] = weights + (row_tap[r] + p.taps[static_cast<size_t>(j)]) * cp;
          }
        args.taps = rows * nq;
        args.pixels = p.interior_end - p.interior_begin;
        args.y = dx_row + (p.first + p.interior_begin * g[2].stride) * c;
        args.kw = p.kw;
        conv.kernels_->pixels(args);
      }
      // The border cells, one at a time with the taps inside dy.
      args.pixels = 1;
      args.kw = 0;
      const auto border = [&](int64_t t) {
        int64_t taps = 0;
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t j = 0; j < nq; ++j) {
            const int64_t o = p.base[static_cast<size_t>(j)] + t;
            if (o < 0 || o >= g[2].output) continue;
            xs[taps] = row_ptr[r] + o * c;
            ws[taps++] = weights + (row_tap[r] + p.taps[static_cast<size_t>(j)]) * cp;
          }
        args.taps = taps;
        args.y = dx_row + (p.first + t * g[2].stride) * c;
        conv.kernels_->pixels(args);
      };
      for (int64_t t = 0; t < p.interior_begin; ++t) border(t);
      for (int64_t t = p.interior_end; t < p.count; ++t) border(t);
    }
  }

  // --- channels_first ---

  // The band of dy rows [oh_first, oh_first + rows) of channel o, depth od, image n, zero-inserted along W
  // (rows outside dy: zeros).
  void stage_band(int64_t n, int64_t o, int64_t od, int64_t oh_first, int64_t rows, float* band) const {
    const DepthwiseBackwardAxis& w = g[2];
    const int64_t spread = o_end > o_begin ? (o_end - o_begin - 1) * w.stride + 1 : 0;
    for (int64_t r = 0; r < rows; ++r) {
      float* dst = band + r * row_floats;
      const int64_t oh = oh_first + r;
      if (oh < 0 || oh >= g[1].output || spread == 0) {
        std::fill_n(dst, row_floats, 0.0f);
        continue;
      }
      const float* src = dy + (((n * conv.spec_.out_channels + o) * g[0].output + od) * g[1].output + oh) * w.output;
      std::fill_n(dst, first_element, 0.0f);
      conv.kernels_->expand(src + o_begin, o_end - o_begin, w.stride, dst + first_element);
      std::fill(dst + first_element + spread, dst + row_floats, 0.0f);
    }
  }

  // dx rows [tile * kRowTile, + kRowTile) of every depth of channel c of image n.
  void channels_first_tile(int64_t n, int64_t c, int64_t tile) const {
    thread_local std::vector<float> staged_buffer, call_weights;
    thread_local std::vector<int64_t> band_keys, depth_taps;
    thread_local std::vector<const float*> row_x;
    const int64_t* ks = conv.kernel_size_;
    const int64_t m = conv.multiplier_;
    const DepthwiseBackwardAxis &d = g[0], &h = g[1], &w = g[2];
    const int64_t h0 = tile * kRowTile, h1 = std::min(h.target, h0 + kRowTile);
    const int64_t oh_first = floor_div(h0 + h.pad - (h.kernel - 1) * h.dilation, h.stride);
    const int64_t rows = floor_div(h1 - 1 + h.pad, h.stride) - oh_first + 1;
    float* staged = scratch(staged_buffer, slots * band_floats);
    int64_t* keys = scratch(band_keys, slots);
    std::fill_n(keys, slots, int64_t{-1});
    int64_t* valid = scratch(depth_taps, 2 * ks[0]);  // (kd, od) pairs of one dx depth
    const int64_t most_rows = m * ks[0] * ks[1];
    const float** xs = scratch(row_x, most_rows);
    float* wc = scratch(call_weights, most_rows * ks[2]);
    const int64_t depth_slots_count = slots / m;

    ChannelsFirstRows args;
    args.x = xs;
    args.row_step = row_floats;
    args.offset = tap_offset.data();
    args.w = wc;
    args.kw = ks[2];
    args.width = w.target;
    args.y_step = h.stride * w.target;
    for (int64_t td = 0; td < d.target; ++td) {
      int64_t depths = 0;
      for (int64_t a = 0; a < ks[0]; ++a) {
        const int64_t od = source_of(d, td, a);
        if (od < 0) continue;
        valid[2 * depths] = a, valid[2 * depths + 1] = od;
        ++depths;
        for (int64_t j = 0; j < m; ++j) {
          const int64_t slot_index = j * depth_slots_count + mod(od, depth_slots_count);
          if (keys[slot_index] == od) continue;
          stage_band(n, c * m + j, od, oh_first, rows, staged + slot_index * band_floats);
          keys[slot_index] = od;
        }
      }
      // Each H phase of the tile: its rows h_first + t * stride read dy rows one staged row apart.
      for (int64_t h_first = h0; h_first < std::min(h0 + h.stride, h1); ++h_first) {
        int64_t k = 0;
        for (int64_t b = 0; b < ks[1]; ++b) {
          const int64_t e = h_first + h.pad - b * h.dilation;
          if (mod(e, h.stride) != 0) continue;
          const int64_t band_row = floor_div(e, h.stride) - oh_first;
          for (int64_t i = 0; i < depths; ++i)
            for (int64_t j = 0; j < m; ++j) {
              const int64_t a = valid[2 * i], od = valid[2 * i + 1];
              const int64_t slot_index = j * depth_slots_count + mod(od, depth_slots_count);
              xs[k] = staged + slot_index * band_floats + band_row * row_floats;
              std::copy_n(conv.weights_.data() + (c * m + j) * conv.taps_ + (a * ks[1] + b) * ks[2], ks[2],
                          wc + k * ks[2]);
              ++k;
            }
        }
        args.kernel_rows = k;
        args.rows = ceil_div(h1 - h_first, h.stride);
        args.y = dx + ((n * conv.channels_ + c) * d.target + td) * h.target * w.target + h_first * w.target;
        conv.kernels_->rows(args);
      }
    }
  }
};

void DepthwiseBackwardData::run(const float* dy, float* dx, int64_t batch, const DepthwiseBackwardGeometry& geometry,
                                int threads) const {
  const Call call(*this, geometry, dy, dx);
  // Multiply-adds: every tap reaches 1 / stride of the cells per axis (in double: no overflow).
  const double macs = static_cast<double>(batch) * static_cast<double>(spec_.out_channels) *
                      static_cast<double>(call.target_pixels) * static_cast<double>(taps_) /
                      (static_cast<double>(geometry[0].stride) * static_cast<double>(geometry[1].stride) *
                       static_cast<double>(geometry[2].stride));
  if (macs < static_cast<double>(kSerialMacs)) threads = 1;
  // Each dx value is computed by one kernel call in a fixed order, so the result does not depend on `threads`.
  if (spec_.layout == Layout::channels_last) {
    // Items of (image, block of up to kRowBlock dx rows, chunk of channel vectors), as the forward kernel.
    const int64_t rows = geometry[0].target * geometry[1].target, vectors = ceil_div(channels_, kernels_->lanes);
    const int64_t block_rows = ceil_div(rows, ceil_div(rows, kRowBlock)), blocks = ceil_div(rows, block_rows);
    const int64_t chunks = threads == 1 ? 1 : std::clamp<int64_t>(ceil_div(4 * threads, batch * blocks), 1, vectors);
    const int64_t chunk = ceil_div(vectors, chunks) * kernels_->lanes;
    parallel_for(threads, batch * blocks * chunks, [&](int64_t item) {
      const int64_t block = item / chunks, c = item % chunks * chunk, first = block % blocks * block_rows;
      for (int64_t row = first; row < std::min(first + block_rows, rows); ++row)
        call.channels_last_row(block / blocks, row, c, std::min(c + chunk, channels_));
    });
    return;
  }
  const int64_t tiles = ceil_div(geometry[1].target, kRowTile);
  parallel_for(threads, batch * channels_ * tiles, [&](int64_t item) {
    const int64_t plane = item / tiles;
    call.channels_first_tile(plane / channels_, plane % channels_, item % tiles);
  });
}

std::string DepthwiseBackwardData::name() const {
  return kernel_name("depthwise", kernels_->isa, spec_.layout == Layout::channels_last ? "channels" : "width");
}

}  // namespace convkit::cpu
