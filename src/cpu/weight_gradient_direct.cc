#include "weight_gradient_direct.h"
#include "isa_kernels.h"
#include "depthwise_kernel.h"
#include "driver_util.h"
#include "padded_row.h"
#include "parallel.h"

#include <algorithm>
#include <array>
#include <vector>

#include "convkit/shape.h"

namespace convkit::cpu {

namespace {

size_t at(int64_t i) { return static_cast<size_t>(i); }

// The geometry of one run as (D, H, W) slots; the leading slots of lower ranks have size 1.
struct Axes {
  std::array<int64_t, kMaxRank> in{1, 1, 1}, out{1, 1, 1}, k{1, 1, 1}, s{1, 1, 1}, d{1, 1, 1}, pad{0, 0, 0},
      pad_end{0, 0, 0};
  int64_t batch = 1;

  Axes(const ConvSpec& spec, const Shape& input_shape) : batch(input_shape[0]) {
    const ConvGeometry geometry = resolve_geometry(spec, input_spatial_of(spec, input_shape));
    for (int axis = 0; axis < spec.rank; ++axis) {
      const AxisGeometry& g = geometry.axes[at(axis)];
      const size_t i = slot(spec.rank, axis);
      in[i] = g.input, out[i] = g.output, k[i] = g.kernel, s[i] = g.stride, d[i] = g.dilation;
      pad[i] = g.pad_begin, pad_end[i] = g.pad_end;
    }
  }
  int64_t out_pixels() const { return out[0] * out[1] * out[2]; }
};

int64_t kernel_taps(const ConvSpec& spec) {
  int64_t taps = 1;
  for (int64_t k : per_axis(spec.kernel, spec.rank, 1, "kernel")) taps *= k;
  return taps;
}

// Where dw[o][c][tap] (output channel o, input channel c of its group, tap row-major over the kernel)
// lives in the contiguous weight (convkit/spec.h): channels_first (Cout, Cin/g, k...), channels_last
// (k..., Cin/g, Cout); flip stores tap q at taps - 1 - q.
struct WeightIndex {
  int64_t o_stride, c_stride, tap_stride, taps;
  bool flip;
  explicit WeightIndex(const ConvSpec& spec)
      : taps(kernel_taps(spec)), flip(spec.flip) {
    const int64_t in_g = spec.in_channels / spec.groups;
    const bool last = spec.layout == Layout::channels_last;
    o_stride = last ? 1 : in_g * taps;
    c_stride = last ? spec.out_channels : taps;
    tap_stride = last ? in_g * spec.out_channels : 1;
  }
  int64_t operator()(int64_t o, int64_t c, int64_t tap) const {
    return o * o_stride + c * c_stride + (flip ? taps - 1 - tap : tap) * tap_stride;
  }
};

// Splits `count` items into the fewest chunks of at most `most`, of even sizes: chunk i is
// [i * count / chunks, (i + 1) * count / chunks).
int64_t chunks_of(int64_t count, int64_t most) { return ceil_div(count, most); }
int64_t chunk_begin(int64_t i, int64_t count, int64_t chunks) { return i * count / chunks; }

std::string not_transposed(const ConvSpec& spec) {
  return spec.transposed ? "transposed convolutions (their weight gradient reads dy at the taps; gemm computes them)"
                         : "";
}

}  // namespace

// --- ChannelVectorWeightGradient ---

std::string ChannelVectorWeightGradient::cannot(const ConvSpec& spec) {
  if (std::string reason = not_transposed(spec); !reason.empty()) return reason;
  if (spec.groups != spec.in_channels || spec.out_channels != spec.in_channels)
    return "not depthwise with multiplier 1 (groups=" + std::to_string(spec.groups) + ", in_channels=" +
           std::to_string(spec.in_channels) + ", out_channels=" + std::to_string(spec.out_channels) + ")";
  if (spec.layout == Layout::channels_last && spec.padding_mode != PaddingMode::zeros)
    return std::string("padding_mode=") + std::string(to_string(spec.padding_mode)) +
           " in channels_last (the channel-vector loop reads only cells inside the input)";
  return {};
}

ChannelVectorWeightGradient::ChannelVectorWeightGradient(const ConvSpec& spec, Isa isa)
    : spec_(spec), kernels_(isa_kernels(isa).wgrad), taps_(kernel_taps(spec)) {}

std::string ChannelVectorWeightGradient::name() const {
  const int64_t per_call = std::min<int64_t>(taps_, kernels_->max_taps[0]);
  return kernel_name("depthwise", kernels_->isa, "channels1x" + std::to_string(per_call));
}

std::string ChannelVectorWeightGradient::details() const {
  return name() + ": channels in the vector lanes, the sums of up to " + std::to_string(kernels_->max_taps[0]) +
         " taps per channel vector in registers over each rectangle of pixels reading the same taps";
}

std::size_t ChannelVectorWeightGradient::workspace_bytes(const Shape& input_shape, int) const {
  const Axes a(spec_, input_shape);
  const int64_t lanes = kernels_->lanes, padded = ceil_div(spec_.in_channels, lanes) * lanes;
  // The partial sums (weights in float, bias in double), and per (image, output depth) at most
  // (2k + 1 + pixels / 256) H x (2k + 1) W rectangles with their taps.
  const int64_t rectangles = a.batch * a.out[0] * (2 * a.k[1] + 1 + a.out[1] * a.out[2] / 256) * (2 * a.k[2] + 1);
  return static_cast<std::size_t>(16 * taps_ * padded * 4 + 16 * padded * 8 + rectangles * (5 + 2 * taps_) * 8);
}

namespace {

// Output pixels per rectangle (whole rows): their input stays in L1/L2 for all channel vectors, and the
// calls of the border columns (one column each) still get several rows.
constexpr int64_t kRectanglePixels = 256;
constexpr int64_t kChannelVectorChunks = 16;  // runs of rectangles the reduction is split into
constexpr int64_t kMinVectorItems = 8;        // channel vectors from which threads take whole vectors

// The output indices of one axis cut into runs that read the same kernel taps inside the input.
struct Segment {
  int64_t begin, end;
  std::vector<int64_t> taps;  // the taps inside the input, ascending
};

std::vector<Segment> segments(const Axes& a, size_t i) {
  std::vector<Segment> result;
  for (int64_t o = 0; o < a.out[i]; ++o) {
    std::vector<int64_t> taps;
    for (int64_t q = 0; q < a.k[i]; ++q) {
      const int64_t source = o * a.s[i] + q * a.d[i] - a.pad[i];
      if (source >= 0 && source < a.in[i]) taps.push_back(q);
    }
    if (!result.empty() && result.back().taps == taps) result.back().end = o + 1;
    else result.push_back({o, o + 1, std::move(taps)});
  }
  return result;
}

}  // namespace

void ChannelVectorWeightGradient::run(ConstTensorView input, ConstTensorView grad_output, float* grad_weight,
                                      float* grad_bias, int threads) const {
  const Axes a(spec_, input.shape());
  const int64_t channels = spec_.in_channels, lanes = kernels_->lanes;
  const int64_t padded = ceil_div(channels, lanes) * lanes, vectors = padded / lanes;
  // Eight or more channel vectors: one thread per vector, which sweeps whole segments (the rows of one
  // vector stay in L1; partial sums per chunk of rows cost Xception's 240-channel 5x5 layer 2x).
  // Fewer (mri.dw3d: 2, MobileNetV2's 96 channels: 6): chunks of rectangles of about 256 pixels, all
  // vectors each, which read whole pixels in order (one vector per sweep read 64 of every 384 bytes).
  const bool by_vector = vectors >= kMinVectorItems;
  const int64_t rectangle_rows = by_vector ? a.out[1] : std::max<int64_t>(1, kRectanglePixels / a.out[2]);
  // Rectangles (image, output depth, up to rectangle_rows rows x columns) with the taps they read inside
  // the input: tap index and the x offset of the rectangle's first pixel at that tap (channel 0). In
  // order of their rows, so a block of rows is read from memory once for all channel vectors.
  struct Rectangle {
    int64_t rows, columns, dy_offset, first_tap, tap_count;
  };
  std::vector<Rectangle> rectangles;
  std::vector<Rectangle> untapped;  // pixels whose taps all read padding: they reach the bias alone
  std::vector<int64_t> tap_index, x_offset;
  const std::vector<Segment> seg_d = segments(a, 0), seg_h = segments(a, 1), seg_w = segments(a, 2);
  for (int64_t n = 0; n < a.batch; ++n)
    for (const Segment& sd : seg_d)
      for (int64_t od = sd.begin; od < sd.end; ++od)
        for (const Segment& sh : seg_h)
          for (int64_t oh = sh.begin; oh < sh.end; oh += rectangle_rows)
            for (const Segment& sw : seg_w) {
              Rectangle r{std::min(rectangle_rows, sh.end - oh), sw.end - sw.begin,
                          (((n * a.out[0] + od) * a.out[1] + oh) * a.out[2] + sw.begin) * channels,
                          static_cast<int64_t>(tap_index.size()), 0};
              for (int64_t qd : sd.taps)
                for (int64_t qh : sh.taps)
                  for (int64_t qw : sw.taps) {
                    const int64_t id = od * a.s[0] + qd * a.d[0] - a.pad[0];
                    const int64_t ih = oh * a.s[1] + qh * a.d[1] - a.pad[1];
                    const int64_t iw = sw.begin * a.s[2] + qw * a.d[2] - a.pad[2];
                    tap_index.push_back((qd * a.k[1] + qh) * a.k[2] + qw);
                    x_offset.push_back((((n * a.in[0] + id) * a.in[1] + ih) * a.in[2] + iw) * channels);
                  }
              r.tap_count = static_cast<int64_t>(tap_index.size()) - r.first_tap;
              if (r.tap_count > 0) rectangles.push_back(r);
              else untapped.push_back(r);
            }

  // Items: channel vectors, or a fixed number of runs of consecutive rectangles (the shapes decide it,
  // not the thread count), each summing all channel vectors into its own [tap][channel] partial sums,
  // added in order below.
  const int64_t count = static_cast<int64_t>(rectangles.size());
  const int64_t items = by_vector ? vectors : std::clamp<int64_t>(count, 1, kChannelVectorChunks);
  const int64_t partials = by_vector ? 1 : items;
  std::vector<float> partial(at(partials * taps_ * padded), 0.0f);
  // The bias gradient's partial sums (per item, as the weights'), from the kernel calls of each
  // rectangle's first tap chunk.
  std::vector<double> dy_sums(grad_bias ? at(partials * padded) : 0, 0.0);
  if (a.batch * a.out_pixels() * channels * taps_ < kSerialMacs) threads = 1;
  const int64_t most = kernels_->max_taps[0];
  const float* x = input.data();
  const float* dy = grad_output.data();
  parallel_for(threads, items, [&](int64_t item) {
    float* sums = partial.data() + (by_vector ? 0 : item * taps_ * padded);
    double* item_dy_sums = grad_bias ? dy_sums.data() + (by_vector ? 0 : item * padded) : nullptr;
    std::array<const float*, 28> xs;
    std::array<float*, 28> acc;
    const float* dy_c;
    WgradRows args;
    args.x = xs.data();
    args.dy = &dy_c;
    args.acc = acc.data();
    args.outputs = 1;
    args.x_row_step = a.s[1] * a.in[2] * channels;
    args.dy_row_step = a.out[2] * channels;
    args.x_step = a.s[2] * channels;
    args.dy_step = channels;
    const int64_t first = by_vector ? 0 : chunk_begin(item, count, items);
    const int64_t end = by_vector ? count : chunk_begin(item + 1, count, items);
    for (int64_t i = first; i < end; ++i) {
      const Rectangle& r = rectangles[at(i)];
      args.rows = r.rows;
      args.steps = r.columns;
      const int64_t chunks = chunks_of(r.tap_count, most);
      for (int64_t v = by_vector ? item : 0; v < (by_vector ? item + 1 : vectors); ++v) {
        const int64_t c = v * lanes;
        args.lanes = args.last_lanes = std::min(lanes, channels - c);
        dy_c = dy + r.dy_offset + c;
        for (int64_t chunk = 0; chunk < chunks; ++chunk) {
          const int64_t t0 = chunk_begin(chunk, r.tap_count, chunks), t1 = chunk_begin(chunk + 1, r.tap_count, chunks);
          for (int64_t t = t0; t < t1; ++t) {
            xs[at(t - t0)] = x + x_offset[at(r.first_tap + t)] + c;
            acc[at(t - t0)] = sums + tap_index[at(r.first_tap + t)] * padded + c;
          }
          args.taps = t1 - t0;
          args.dy_sums = item_dy_sums && chunk == 0 ? item_dy_sums + c : nullptr;
          kernels_->rows(args);
        }
      }
    }
  });
  const WeightIndex index(spec_);
  for (int64_t tap = 0; tap < taps_; ++tap)
    for (int64_t c = 0; c < channels; ++c) {
      float total = 0.0f;
      for (int64_t item = 0; item < partials; ++item) total += partial[at((item * taps_ + tap) * padded + c)];
      grad_weight[index(c, 0, tap)] = total;
    }
  if (!grad_bias) return;
  for (int64_t c = 0; c < channels; ++c) {
    double total = 0.0;
    for (int64_t item = 0; item < partials; ++item) total += dy_sums[at(item * padded + c)];
    for (const Rectangle& r : untapped)
      for (int64_t row = 0; row < r.rows; ++row)
        for (int64_t column = 0; column < r.columns; ++column)
          total += dy[r.dy_offset + (row * a.out[2] + column) * channels + c];
    grad_bias[c] = static_cast<float>(total);
  }
}

// --- RowWeightGradient ---

namespace {

constexpr int64_t kBandRows = 16;    // output rows per band
constexpr int64_t kReductionChunks = 32;  // chunks of bands per run, over the groups (see chunks_per_group)

// Chunks of bands each group's reduction is split into: enough items for the threads of a small group
// count, and a number that depends on the shapes only, so the partial sums add up identically.
int64_t chunks_per_group(int64_t groups, int64_t bands) {
  return std::clamp<int64_t>(ceil_div(kReductionChunks, groups), 1, bands);
}

}  // namespace

std::string RowWeightGradient::cannot(const ConvSpec& spec) { return not_transposed(spec); }

RowWeightGradient::RowWeightGradient(const ConvSpec& spec, Isa isa, std::string_view family)
    : spec_(spec),
      family_(family),
      kernels_(isa_kernels(isa).wgrad),
      in_g_(spec.in_channels / spec.groups),
      out_g_(spec.out_channels / spec.groups),
      taps_(kernel_taps(spec)) {
  outputs_ = ceil_div(out_g_, chunks_of(out_g_, kMaxWgradOutputs));
}

std::string RowWeightGradient::name() const {
  const int64_t pairs = in_g_ * taps_;
  const int64_t most = kernels_->max_taps[outputs_ - 1];
  const int64_t per_call = ceil_div(pairs, chunks_of(pairs, most));
  return kernel_name(family_, kernels_->isa, "width" + std::to_string(outputs_) + "x" + std::to_string(per_call));
}

std::string RowWeightGradient::details() const {
  return name() + ": vectorized along W over staged padded rows, " + std::to_string(outputs_) +
         " output channels x (input channel, tap) pairs per call";
}

// One run: geometry, staging layout and the x offsets of the (input channel, tap) pairs in a band.
struct RowWeightGradient::Call {
  const RowWeightGradient& wg;
  Axes a;
  bool last;
  // A staged row holds the W phases the taps read (phase value (qw * d_w) mod s_w), `phase` floats each;
  // output row r of a band reads staged row r * row_step + qh * tap_row_step at kernel row qh. The rows
  // between two output rows' taps are staged only when they are no more than the dilated kernel (a stride
  // beyond it would stage rows no tap reads: a stride of 10000 staged 150,000 rows for 3).
  int64_t phase = 0, pitch = 0, band_rows = 0, band_in_rows = 0, row_step = 0, tap_row_step = 0;
  bool contiguous = true;
  std::vector<int64_t> phases;      // the phase values staged, ascending
  std::vector<int64_t> phase_slot;  // [qw]: where tap qw's phase is staged
  int64_t bands_per_plane = 0, bands = 0, chunks = 0, slots = 0;
  std::vector<int64_t> pair_offset;  // [c * taps + tap]: offset in the staging of the band's first row
  std::vector<std::pair<int64_t, int64_t>> inside;  // per staged phase: the cells [lo, hi) inside the input

  Call(const RowWeightGradient& w, const Shape& input_shape)
      : wg(w), a(w.spec_, input_shape), last(w.spec_.layout == Layout::channels_last) {
    phase = a.out[2] + (a.k[2] - 1) * a.d[2] / a.s[2];
    for (int64_t qw = 0; qw < a.k[2]; ++qw) phases.push_back(qw * a.d[2] % a.s[2]);
    std::sort(phases.begin(), phases.end());
    phases.erase(std::unique(phases.begin(), phases.end()), phases.end());
    for (int64_t qw = 0; qw < a.k[2]; ++qw)
      phase_slot.push_back(std::lower_bound(phases.begin(), phases.end(), qw * a.d[2] % a.s[2]) - phases.begin());
    pitch = static_cast<int64_t>(phases.size()) * phase;
    const int64_t span = (a.k[1] - 1) * a.d[1] + 1;
    contiguous = a.s[1] <= span;
    row_step = contiguous ? a.s[1] : a.k[1];
    tap_row_step = contiguous ? a.d[1] : 1;
    band_rows = std::min(kBandRows, a.out[1]);
    band_in_rows = in_rows(band_rows);
    for (int64_t ph : phases) {  // staged cell j of phase ph is padded cell ph + j * s_w
      const int64_t raw0 = ph - a.pad[2];
      const int64_t lo = std::clamp<int64_t>(ceil_div(-raw0, a.s[2]), 0, phase);
      inside.emplace_back(lo, std::clamp<int64_t>(ceil_div(a.in[2] - raw0, a.s[2]), lo, phase));
    }
    bands_per_plane = ceil_div(a.out[1], kBandRows);
    bands = a.batch * a.out[0] * bands_per_plane;
    chunks = chunks_per_group(w.spec_.groups, bands);
    slots = w.out_g_ * w.in_g_ * w.taps_;
    for (int64_t c = 0; c < w.in_g_; ++c)
      for (int64_t qd = 0; qd < a.k[0]; ++qd)
        for (int64_t qh = 0; qh < a.k[1]; ++qh)
          for (int64_t qw = 0; qw < a.k[2]; ++qw)
            pair_offset.push_back(((c * a.k[0] + qd) * band_in_rows + qh * tap_row_step) * pitch +
                                  phase_slot[at(qw)] * phase + qw * a.d[2] / a.s[2]);
  }

  // Staged rows of a band of `rows` output rows, and the padded H index of staged row j of a band from oh0.
  int64_t in_rows(int64_t rows) const {
    return contiguous ? (rows - 1) * a.s[1] + (a.k[1] - 1) * a.d[1] + 1 : rows * a.k[1];
  }
  int64_t padded_row(int64_t oh0, int64_t j) const {
    return contiguous ? oh0 * a.s[1] + j : (oh0 + j / a.k[1]) * a.s[1] + j % a.k[1] * a.d[1];
  }

  int64_t row_pointers() const { return std::max(band_in_rows, band_rows); }
  int64_t stage_floats() const { return wg.in_g_ * a.k[0] * band_in_rows * pitch; }
  int64_t dy_stage_floats() const { return last ? wg.out_g_ * band_rows * a.out[2] : 0; }

  // Band b (image, output depth, block of rows) of group g: stages its input rows and adds its sums into
  // `sums` ([o][c * taps + tap][lane]) and, unless null (one output channel per group), its dy's into
  // `dy_sums` ([lane]).
  // `src`: row_pointers() pointers of workspace.
  void band(int64_t g, int64_t b, const float* x, const float* dy, float* stage, float* dy_stage, const float** src,
            float* sums, double* dy_sums) const {
    const ConvSpec& spec = wg.spec_;
    const int64_t n = b / (a.out[0] * bands_per_plane), od = b / bands_per_plane % a.out[0];
    const int64_t oh0 = b % bands_per_plane * kBandRows, rows = std::min(kBandRows, a.out[1] - oh0);
    const int64_t staged_rows = in_rows(rows);
    const int64_t cin = spec.in_channels, cout = spec.out_channels;
    const int64_t x_pitch = last ? cin : 1;  // floats between neighbouring cells of a row
    const DepthwiseKernels& copy = *isa_kernels(wg.kernels_->isa).depthwise;
    for (int64_t c = 0; c < wg.in_g_; ++c)
      for (int64_t qd = 0; qd < a.k[0]; ++qd) {
        const int64_t channel = g * wg.in_g_ + c;
        const int64_t id = padded_source_index(od * a.s[0] + qd * a.d[0] - a.pad[0], a.in[0], spec.padding_mode);
        for (int64_t r = 0; r < staged_rows; ++r) {
          const int64_t ih =
              id < 0 ? -1 : padded_source_index(padded_row(oh0, r) - a.pad[1], a.in[1], spec.padding_mode);
          src[r] = ih < 0 ? nullptr
                   : last ? x + ((n * a.in[0] + id) * a.in[1] + ih) * a.in[2] * cin + channel
                          : x + (((n * cin + channel) * a.in[0] + id) * a.in[1] + ih) * a.in[2];
        }
        float* plane = stage + (c * a.k[0] + qd) * band_in_rows * pitch;
        for (size_t p = 0; p < phases.size(); ++p) {
          const int64_t ph = phases[p];
          // Cells [lo, hi) of every row lie inside the input: one vector copy / deinterleave call for
          // all rows (zeros for rows in the zero padding); the few border cells per the padding mode.
          const int64_t lo = inside[p].first, hi = inside[p].second;
          float* dst = plane + static_cast<int64_t>(p) * phase;
          if (hi > lo)
            copy.gather(src, staged_rows, (ph - a.pad[2] + lo * a.s[2]) * x_pitch, a.s[2] * x_pitch, hi - lo, dst + lo,
                        pitch);
          for (int64_t r = 0; r < staged_rows; ++r) {
            float* row = dst + r * pitch;
            if (spec.padding_mode == PaddingMode::zeros || !src[r]) {
              std::fill_n(row, lo, 0.0f);
              std::fill(row + hi, row + phase, 0.0f);
              continue;
            }
            const PaddedRow padded{.src = src[r], .pitch = x_pitch, .size = a.in[2], .pad = a.pad[2],
                                   .limit = a.pad[2] + a.in[2] + a.pad_end[2], .mode = spec.padding_mode};
            gather_padded(padded, ph, a.s[2], lo, row);
            gather_padded(padded, ph + hi * a.s[2], a.s[2], phase - hi, row + hi);
          }
        }
      }
    // channels_last: the band's dy rows of the group's output channels, one contiguous row each.
    if (last)
      for (int64_t o = 0; o < wg.out_g_; ++o) {
        for (int64_t r = 0; r < rows; ++r)
          src[r] = dy + ((n * a.out[0] + od) * a.out[1] + oh0 + r) * a.out[2] * cout + g * wg.out_g_ + o;
        copy.gather(src, rows, 0, cout, a.out[2], dy_stage + o * band_rows * a.out[2], a.out[2]);
      }
    const int64_t lanes = wg.kernels_->lanes;
    std::array<const float*, kMaxWgradOutputs> dys;
    std::array<const float*, 28> xs;
    std::array<float*, kMaxWgradOutputs * 28> acc;
    WgradRows args;
    args.x = xs.data();
    args.dy = dys.data();
    args.acc = acc.data();
    args.rows = rows;
    args.x_row_step = row_step * pitch;
    args.dy_row_step = a.out[2];
    args.steps = ceil_div(a.out[2], lanes);
    args.x_step = args.dy_step = lanes;
    args.lanes = lanes;
    args.last_lanes = a.out[2] - (args.steps - 1) * lanes;
    const int64_t pairs = wg.in_g_ * wg.taps_;
    const int64_t o_chunks = chunks_of(wg.out_g_, wg.outputs_);
    for (int64_t oc = 0; oc < o_chunks; ++oc) {
      const int64_t o0 = chunk_begin(oc, wg.out_g_, o_chunks), o1 = chunk_begin(oc + 1, wg.out_g_, o_chunks);
      for (int64_t o = o0; o < o1; ++o) {
        const int64_t channel = g * wg.out_g_ + o;
        dys[at(o - o0)] = last ? dy_stage + o * band_rows * a.out[2]
                               : dy + (((n * cout + channel) * a.out[0] + od) * a.out[1] + oh0) * a.out[2];
      }
      args.outputs = o1 - o0;
      const int64_t most = wg.kernels_->max_taps[args.outputs - 1];
      const int64_t t_chunks = chunks_of(pairs, most);
      for (int64_t tc = 0; tc < t_chunks; ++tc) {
        const int64_t t0 = chunk_begin(tc, pairs, t_chunks), t1 = chunk_begin(tc + 1, pairs, t_chunks);
        args.taps = t1 - t0;
        for (int64_t t = t0; t < t1; ++t) xs[at(t - t0)] = stage + pair_offset[at(t)];
        for (int64_t o = o0; o < o1; ++o)
          for (int64_t t = t0; t < t1; ++t) acc[at((o - o0) * args.taps + t - t0)] = sums + (o * pairs + t) * lanes;
        args.dy_sums = tc == 0 ? dy_sums : nullptr;
        wg.kernels_->rows(args);
      }
    }
  }
};

void RowWeightGradient::run(ConstTensorView input, ConstTensorView grad_output, float* grad_weight, float* grad_bias,
                            int threads) const {
  const Call call(*this, input.shape());
  const int64_t groups = spec_.groups, lanes = kernels_->lanes;
  const int64_t item_floats = call.slots * lanes;
  // [group][chunk][o][c * taps + tap][lane]: each chunk's partial sums, added up in order below.
  std::vector<float> sums(at(groups * call.chunks * item_floats), 0.0f);
  // [group][chunk][lane]: the bias gradient's partial sums (one output channel per group).
  std::vector<double> dy_sums(grad_bias ? at(groups * call.chunks * lanes) : 0, 0.0);
  if (call.a.batch * call.a.out_pixels() * spec_.out_channels * in_g_ * taps_ < kSerialMacs) threads = 1;
  struct Buffers {
    std::vector<float> stage, dy_stage;
    std::vector<const float*> rows;
  };
  const float* x = input.data();
  const float* dy = grad_output.data();
  parallel_for(threads, groups * call.chunks, Schedule::dynamic, [] { return Buffers{}; },
               [&](Buffers& buffers, int64_t item) {
                 const int64_t g = item / call.chunks, chunk = item % call.chunks;
                 float* stage = scratch(buffers.stage, call.stage_floats());
                 float* dy_stage = scratch(buffers.dy_stage, call.dy_stage_floats());
                 const float** rows = scratch(buffers.rows, call.row_pointers());
                 const int64_t b1 = chunk_begin(chunk + 1, call.bands, call.chunks);
                 for (int64_t b = chunk_begin(chunk, call.bands, call.chunks); b < b1; ++b)
                   call.band(g, b, x, dy, stage, dy_stage, rows, sums.data() + item * item_floats,
                             grad_bias ? dy_sums.data() + item * lanes : nullptr);
               });
  const WeightIndex index(spec_);
  const int64_t pairs = in_g_ * taps_;
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t o = 0; o < out_g_; ++o)
      for (int64_t pair = 0; pair < pairs; ++pair) {
        float total = 0.0f;
        for (int64_t chunk = 0; chunk < call.chunks; ++chunk) {
          const float* lane = sums.data() + (g * call.chunks + chunk) * item_floats + (o * pairs + pair) * lanes;
          for (int64_t l = 0; l < lanes; ++l) total += lane[l];
        }
        grad_weight[index(g * out_g_ + o, pair / taps_, pair % taps_)] = total;
      }
  if (!grad_bias) return;
  for (int64_t g = 0; g < groups; ++g) {
    double total = 0.0;
    for (int64_t k = 0; k < call.chunks * lanes; ++k) total += dy_sums[at(g * call.chunks * lanes + k)];
    grad_bias[g] = static_cast<float>(total);
  }
}

std::size_t RowWeightGradient::workspace_bytes(const Shape& input_shape, int threads) const {
  const Call call(*this, input_shape);
  const int64_t floats = spec_.groups * call.chunks * call.slots * kernels_->lanes +
                         threads * (call.stage_floats() + call.dy_stage_floats());
  const int64_t bias_doubles = sums_bias() ? spec_.groups * call.chunks * kernels_->lanes : 0;
  return static_cast<std::size_t>(floats) * sizeof(float) + static_cast<std::size_t>(bias_doubles) * sizeof(double);
}

}  // namespace convkit::cpu
