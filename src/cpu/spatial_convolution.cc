#include "spatial_convolution.h"
#include "isa_kernels.h"
#include "driver_util.h"
#include "parallel.h"

#include <algorithm>
#include <vector>

#include "convkit/shape.h"
#include "padded_row.h"

namespace convkit::cpu {

std::string SpatialKernel::name() const {
  return kernel_name("spatial", isa, std::to_string(channels) + "x" + std::to_string(pieces));
}

namespace {

constexpr int64_t kChunk = 1024;                   
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

}  // namespace

namespace {

std::string grouped_reason(const ConvSpec& spec) {
  const int64_t cin_g = spec.in_channels / spec.groups, cout_g = spec.out_channels / spec.groups;
  if (spec.layout != Layout::channels_first) return "grouped channels_last (grouped, grouped_gemm are faster)";
  if (spec.rank == 3) return "grouped 3D (gemm is faster)";
  for (int64_t s : per_axis(spec.stride, spec.rank, 1, "stride"))
    if (s != 1) return "grouped with stride " + std::to_string(s) + " (gemm is faster)";
  if (cin_g > kMaxSpatialChannels || cout_g > kMaxSpatialChannels)
    return "groups of " + std::to_string(cin_g) + " -> " + std::to_string(cout_g) + " channels: more than " +
           std::to_string(kMaxSpatialChannels) + " per group";
  return {};
}

}  // namespace

std::string SpatialConvolution::cannot(const ConvSpec& spec) {
  if (spec.transposed) return "transposed convolution";
  return {};
}

// With up to 4 input and 8 output channels the implicit GEMM's reduction (taps * Cin) and channel tile
// are too short to keep its registers busy, while here every FMA is a full vector of output columns.
// Measured single-thread, AVX-512 (docs/benchmarks.md): 7-28x gemm on the suite's image/lidar rows,
// 2.2-4.8x on a 4 -> 8 3x3 layer (the corner of the rule); not measured beyond it.
// Grouped channels_first layers with up to 8 input and output channels per group (ResNeXt's 32 groups of
// 4 or 8) have the same short reductions, once per group. Measured single-thread, AVX-512, against gemm:
// 1.3x (4 -> 4 per group, 3x3 on 56x56), 1.0-1.2x (8 -> 8, 28x28), 1.3x (1D, 8 -> 8, k=3); slower with
// stride 2 (0.67x, 8 -> 8) and in 3D (0.95x, 4 -> 4, 3x3x3); channels_last inputs are staged pixel by
// pixel (ResNeXt 4 -> 4: 0.35x the grouped algorithm).
std::string SpatialConvolution::prefers_not(const ConvSpec& spec) {
  if (spec.groups != 1) return grouped_reason(spec);
  if (spec.in_channels > 4)
    return "Cin=" + std::to_string(spec.in_channels) + " > 4: the GEMM reduction is long enough";
  if (spec.out_channels > kMaxSpatialChannels)
    return "Cout=" + std::to_string(spec.out_channels) + " > " + std::to_string(kMaxSpatialChannels) +
           ": fills the GEMM channel tile";
  return {};
}

SpatialConvolution::SpatialConvolution(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa)
    : spec_(spec), groups_(spec.groups), cin_g_(spec.in_channels / spec.groups),
      cout_g_(spec.out_channels / spec.groups) {
  const bool channels_last = spec.layout == Layout::channels_last;
  const std::vector<int64_t> kernel = per_axis(spec.kernel, spec.rank, 1, "kernel");
  for (int axis = 0; axis < spec.rank; ++axis) kernel_size_[slot(spec.rank, axis)] = kernel[static_cast<size_t>(axis)];
  const int64_t* ks = kernel_size_;
  row_taps_ = cin_g_ * ks[0] * ks[1];
  blocks_ = ceil_div(cout_g_, kMaxSpatialChannels);
  block_width_ = ceil_div(cout_g_, blocks_);  // equal blocks: at most one idle channel per block
  kernel_ = isa_kernels(isa).spatial[static_cast<size_t>(block_width_ - 1)];
  // Rows share the staged input between their H taps; a 1D layer has one row, so its pieces run along W.
  (spec.rank == 1 ? band_pieces_w_ : band_rows_) = kernel_.pieces;
  plan_row_slots();

  // Element strides of the weight along (output channel, input channel, D, H, W), as GemmConvolution.
  const auto& st = weight.strides();
  const size_t r = static_cast<size_t>(spec.rank);
  const int64_t o_stride = channels_last ? st[r + 1] : st[0];
  const int64_t c_stride = channels_last ? st[r] : st[1];
  int64_t q_stride[kMaxRank] = {0, 0, 0};
  for (int axis = 0; axis < spec.rank; ++axis)
    q_stride[slot(spec.rank, axis)] = st[static_cast<size_t>(axis) + (channels_last ? 0 : 2)];
  auto tap = [&](size_t a, int64_t q) { return (spec.flip ? ks[a] - 1 - q : q) * q_stride[a]; };

  const int64_t co = block_width_;
  weights_ = AlignedBuffer(static_cast<size_t>(groups_ * blocks_ * row_taps_ * ks[2] * co));
  float* out = weights_.data();
  for (int64_t g = 0; g < groups_; ++g)
    for (int64_t b = 0; b < blocks_; ++b)
      for (int64_t c = 0; c < cin_g_; ++c)
        for (int64_t kd = 0; kd < ks[0]; ++kd)
          for (int64_t kh = 0; kh < ks[1]; ++kh)
            for (int64_t kw = 0; kw < ks[2]; ++kw)
              for (int64_t lane = 0; lane < co; ++lane) {
                const int64_t o = b * co + lane;
                *out++ = o < cout_g_ ? weight.data()[(g * cout_g_ + o) * o_stride + c * c_stride + tap(0, kd) +
                                                     tap(1, kh) + tap(2, kw)]
                                     : 0.0f;
              }
  if (bias) {
    bias_ = AlignedBuffer(static_cast<size_t>(groups_ * blocks_ * co));
    for (int64_t g = 0; g < groups_; ++g)
      for (int64_t o = 0; o < blocks_ * co; ++o)
        bias_.data()[g * blocks_ * co + o] = o < cout_g_ ? bias[g * cout_g_ + o] : 0.0f;
  }
}

// Band row r reads input row (oh0 + r) * s + kh * d - pad at H tap kh: one slot per distinct r * s + kh * d.
// Depends on the spec only, so it is planned once here rather than in every call.
void SpatialConvolution::plan_row_slots() {
  const int64_t h_stride = spec_.rank >= 2 ? per_axis(spec_.stride, spec_.rank, 1, "stride")[static_cast<size_t>(spec_.rank - 2)] : 1;
  const int64_t h_dilation =
      spec_.rank >= 2 ? per_axis(spec_.dilation, spec_.rank, 1, "dilation")[static_cast<size_t>(spec_.rank - 2)] : 1;
  // Offsets beyond 2^62 (a huge stride or dilation, valid for a one-row output) would overflow: then every
  // (r, kh) gets its own slot, which only stages a shared row twice.
  const bool huge = static_cast<double>(band_rows_) * static_cast<double>(h_stride) +
                        static_cast<double>(kernel_size_[1]) * static_cast<double>(h_dilation) >
                    0x1p62;
  std::vector<int64_t> offsets;
  for (int64_t r = 0; r < band_rows_; ++r)
    for (int64_t kh = 0; kh < kernel_size_[1]; ++kh)
      offsets.push_back(huge ? r * kernel_size_[1] + kh : r * h_stride + kh * h_dilation);
  std::vector<int64_t> distinct = offsets;
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  for (int64_t offset : offsets)
    row_slots_.push_back(std::lower_bound(distinct.begin(), distinct.end(), offset) - distinct.begin());
  row_slots_used_ = static_cast<int64_t>(distinct.size());
}

// Everything one call needs: the resolved axes, the band sizes and the band loop.
struct SpatialConvolution::Call {
  struct Axis {
    int64_t in = 1, out = 1, kernel = 1, stride = 1, dilation = 1, pad = 0;
  };

  const SpatialConvolution& conv;
  const float* x;
  float* y;
  Axis axes[kMaxRank];
  int64_t in_pixels = 1, out_pixels = 1;
  int64_t step = 1;         // output columns per kernel tile: pieces along W * L
  int64_t chunk = 1;        // output columns per band, a multiple of step
  int64_t segment_len = 1;  // floats per segment of a staged row
  int64_t row_len = 1;      // floats per staged row: segments * segment_len
  int64_t row_limit = 1;    // padded W cells read by the real outputs; staged cells beyond are zeros
  int64_t h_bands = 1, w_chunks = 1;
  bool staged_output = false;  // channels_last with several output channels: per-band output buffer
  // A staged row is segments of every stride-th padded W cell, segment i from padded cell
  // ow0 * stride + segment_starts[i]; tap q reads its columns from tap_offsets[q] on.
  std::vector<int64_t> segment_starts, tap_offsets;

  Call(const SpatialConvolution& c, ConstTensorView input, float* output) : conv(c), x(input.data()), y(output) {
    const ConvSpec& spec = conv.spec_;
    const ConvGeometry geometry = resolve_geometry(spec, input_spatial_of(spec, input.shape()));
    for (int axis = 0; axis < spec.rank; ++axis) {
      const AxisGeometry& g = geometry.axes[static_cast<size_t>(axis)];
      axes[slot(spec.rank, axis)] = {g.input, g.output, g.kernel, g.stride, g.dilation, g.pad_begin};
    }
    for (const Axis& a : axes) in_pixels *= a.in, out_pixels *= a.out;
    const Axis &h = axes[1], &w = axes[2];
    const int64_t lanes = conv.kernel_.lanes;
    step = conv.band_pieces_w_ * lanes;
    chunk = std::min(round_up(kChunk, step), round_up(w.out, step));
    row_limit = (w.out - 1) * w.stride + (w.kernel - 1) * w.dilation + 1;
    h_bands = ceil_div(h.out, conv.band_rows_);
    w_chunks = ceil_div(w.out, chunk);
    staged_output = spec.layout == Layout::channels_last && spec.out_channels > 1;
    plan_segments(w);
  }

  // Tap q reads padded cells (ow0 + j) * s + q * d. Deinterleaved by stride phase (q * d mod s), the taps of
  // one phase share a segment at consecutive offsets (q * d / s): the best layout for small strides and
  // dilations. Only the phases some tap reads are staged, and when those segments would be longer than one
  // segment per tap (stride or dilation large against the chunk), each tap gets its own: the staging
  // grows with the chunk and the kernel, never with the stride or dilation.
  void plan_segments(const Axis& w) {
    std::vector<int64_t> phases;
    for (int64_t q = 0; q < w.kernel; ++q) phases.push_back(q * w.dilation % w.stride);
    std::sort(phases.begin(), phases.end());
    phases.erase(std::unique(phases.begin(), phases.end()), phases.end());
    const int64_t phase_len = chunk + (w.kernel - 1) * w.dilation / w.stride;
    const int64_t phase_floats = static_cast<int64_t>(phases.size()) * phase_len;
    if (phase_floats <= w.kernel * chunk) {
      segment_starts = phases;
      segment_len = phase_len;
      for (int64_t q = 0; q < w.kernel; ++q) {
        const int64_t phase = q * w.dilation % w.stride;
        const int64_t index = std::lower_bound(phases.begin(), phases.end(), phase) - phases.begin();
        tap_offsets.push_back(index * phase_len + q * w.dilation / w.stride);
      }
    } else {
      segment_len = chunk;
      for (int64_t q = 0; q < w.kernel; ++q) {
        segment_starts.push_back(q * w.dilation);
        tap_offsets.push_back(q * chunk);
      }
    }
    row_len = static_cast<int64_t>(segment_starts.size()) * segment_len;
  }

  int64_t staged_rows() const { return 1 + conv.cin_g_ * axes[0].kernel * conv.row_slots_used_; }  // + the zero row
  int64_t output_buffer() const { return staged_output ? conv.block_width_ * conv.band_rows_ * chunk : 0; }

  // Stages the segments of the padded W row of input row `src` (elements `pitch` apart) that output
  // columns from ow0 read: dst[i * segment_len + j] = padded cell (ow0 + j) * stride + segment_starts[i].
  void stage_row(const float* src, int64_t pitch, int64_t ow0, float* dst) const {
    const Axis& w = axes[2];
    const PaddedRow row{src, pitch, w.in, w.pad, row_limit, conv.spec_.padding_mode};
    for (size_t i = 0; i < segment_starts.size(); ++i)
      gather_padded(row, ow0 * w.stride + segment_starts[i], w.stride, segment_len,
                    dst + static_cast<int64_t>(i) * segment_len);
  }

  const float* input_row(int64_t n, int64_t c, int64_t id, int64_t ih, int64_t* pitch) const {
    const ConvSpec& spec = conv.spec_;
    const int64_t pixel = (id * axes[1].in + ih) * axes[2].in;
    if (spec.layout == Layout::channels_last) {
      *pitch = spec.in_channels;
      return x + (n * in_pixels + pixel) * spec.in_channels + c;
    }
    *pitch = 1;
    return x + (n * spec.in_channels + c) * in_pixels + pixel;
  }

  void band(int64_t n, int64_t g, int64_t od, int64_t hb, int64_t wc) const {
    thread_local std::vector<float> staging, outputs;
    thread_local std::vector<int64_t> staged_at;
    thread_local std::vector<const float*> row_pointers;
    thread_local std::vector<float*> out_pointers;
    thread_local std::vector<int64_t> piece_columns;
    const ConvSpec& spec = conv.spec_;
    const Axis &d = axes[0], &h = axes[1], &w = axes[2];
    const int64_t rows = conv.band_rows_, along_w = conv.band_pieces_w_, pieces = rows * along_w;
    const int64_t lanes = conv.kernel_.lanes, co = conv.block_width_;
    const int64_t oh0 = hb * rows, valid_rows = std::min(rows, h.out - oh0);
    const int64_t ow0 = wc * chunk, width = std::min(chunk, w.out - ow0);

    // The rows each (row tap, piece) reads: staged on first use, or the zero row.
    float* staged = scratch(staging, staged_rows() * row_len);
    std::fill_n(staged, row_len, 0.0f);
    int64_t* slots = scratch(staged_at, staged_rows());
    std::fill_n(slots, staged_rows(), -1);
    int64_t used = 1;
    const float** row_table = scratch(row_pointers, conv.row_taps_ * pieces);
    const int64_t cin_g = conv.cin_g_;
    for (int64_t c = 0; c < cin_g; ++c)
      for (int64_t kd = 0; kd < d.kernel; ++kd) {
        const int64_t id = padded_source_index(od * d.stride + kd * d.dilation - d.pad, d.in, spec.padding_mode);
        for (int64_t kh = 0; kh < h.kernel; ++kh)
          for (int64_t r = 0; r < rows; ++r) {
            const int64_t rr = r < valid_rows ? r : 0;  // pieces below the last output row repeat row 0
            const int64_t j = conv.row_slots_[static_cast<size_t>(rr * h.kernel + kh)];
            const int64_t raw_h = (oh0 + rr) * h.stride + kh * h.dilation - h.pad;
            const int64_t ih = id < 0 ? -1 : padded_source_index(raw_h, h.in, spec.padding_mode);
            const float* row = staged;
            if (ih >= 0) {
              int64_t& at = slots[(c * d.kernel + kd) * conv.row_slots_used_ + j];
              if (at < 0) {
                int64_t pitch = 1;
                const float* src = input_row(n, g * cin_g + c, id, ih, &pitch);
                at = used++;
                stage_row(src, pitch, ow0, staged + at * row_len);
              }
              row = staged + at * row_len;
            }
            const int64_t t = (c * d.kernel + kd) * h.kernel + kh;
            for (int64_t v = 0; v < along_w; ++v) row_table[t * pieces + r * along_w + v] = row + v * lanes;
          }
      }

    float** outs = scratch(out_pointers, pieces);
    int64_t* columns = scratch(piece_columns, pieces);
    for (int64_t p = 0; p < pieces; ++p) columns[p] = p % along_w * lanes;
    float* buffer = scratch(outputs, output_buffer());
    SpatialArgs args;
    args.rows = row_table;
    args.row_taps = conv.row_taps_;
    args.tap_offsets = tap_offsets.data();
    args.kw = w.kernel;
    args.out = outs;
    args.piece_column = columns;
    args.width = width;
    args.step = step;
    const int64_t cout = spec.out_channels;
    for (int64_t b = 0; b < conv.blocks_; ++b) {
      const int64_t o0 = g * conv.cout_g_ + b * co;  // first output channel of the block
      for (int64_t p = 0; p < pieces; ++p) {
        const int64_t r = p / along_w;
        const int64_t pixel = (od * h.out + oh0 + r) * w.out + ow0 + columns[p];
        outs[p] = r >= valid_rows     ? nullptr
                  : staged_output     ? buffer + r * chunk + columns[p]
                                      : y + (n * cout + o0) * out_pixels + pixel;
      }
      args.out_channel_stride = staged_output ? rows * chunk : out_pixels;
      args.channels = static_cast<int>(std::min(co, conv.cout_g_ - b * co));
      args.weights = conv.weights_.data() + (g * conv.blocks_ + b) * conv.row_taps_ * w.kernel * co;
      args.bias = conv.bias_.size() ? conv.bias_.data() + (g * conv.blocks_ + b) * co : nullptr;
      conv.kernel_.run(args);
      if (!staged_output) continue;
      for (int64_t r = 0; r < valid_rows; ++r) {  // interleave the block's channels into the pixels
        float* to = y + (n * out_pixels + (od * h.out + oh0 + r) * w.out + ow0) * cout + o0;
        for (int64_t i = 0; i < width; ++i)
          for (int64_t o = 0; o < args.channels; ++o) to[i * cout + o] = buffer[(o * rows + r) * chunk + i];
      }
    }
  }
};

void SpatialConvolution::run(ConstTensorView input, float* output, int threads) const {
  const Call call(*this, input, output);
  const int64_t batch = input.dim(0), out_d = call.axes[0].out;
  const int64_t per_group = out_d * call.h_bands * call.w_chunks;
  const int64_t items = batch * groups_ * per_group;
  if (batch * spec_.out_channels * call.out_pixels * row_taps_ * kernel_size_[2] < kSerialMacs) threads = 1;
  // Each output element is computed by one band in one fixed order: the result does not depend on `threads`.
  parallel_for(threads, items, [&](int64_t item) {
    const int64_t n = item / (groups_ * per_group), g = item / per_group % groups_;
    const int64_t od = item / (call.h_bands * call.w_chunks) % out_d;
    call.band(n, g, od, item / call.w_chunks % call.h_bands, item % call.w_chunks);
  });
}

std::size_t SpatialConvolution::workspace_bytes(const Shape& input_shape, int threads) const {
  const Call call(*this, ConstTensorView(nullptr, input_shape), nullptr);
  const int64_t pieces = band_rows_ * band_pieces_w_;
  const int64_t floats = call.staged_rows() * call.row_len + call.output_buffer();
  const int64_t pointers = row_taps_ * pieces + pieces;
  return static_cast<std::size_t>(threads * (floats * int64_t{sizeof(float)} + pointers * int64_t{sizeof(void*)} +
                                             (call.staged_rows() + pieces) * int64_t{sizeof(int64_t)}));
}

std::string SpatialConvolution::details() const {
  return "micro-kernel " + kernel_.name() + ": " + std::to_string(kernel_.channels) + " output channels x " +
         std::to_string(kernel_.pieces) + " vectors of " + std::to_string(kernel_.lanes) +
         " output columns per tile, input rows staged per band";
}

}  // namespace convkit::cpu
