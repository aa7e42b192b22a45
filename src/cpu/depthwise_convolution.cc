#include "depthwise_convolution.h"
#include "driver_util.h"

#include <algorithm>
#include <array>
#include <bit>
#include <vector>

#include "convkit/shape.h"

namespace convkit::cpu {

const DepthwiseKernels& avx512_depthwise_kernels();
const DepthwiseKernels& avx2_depthwise_kernels();
const DepthwiseKernels& portable_depthwise_kernels();

const DepthwiseKernels& depthwise_kernels(Isa isa) {
  switch (isa) {
    case Isa::avx512: return avx512_depthwise_kernels();
    case Isa::avx2: return avx2_depthwise_kernels();
    case Isa::portable: break;
  }
  return portable_depthwise_kernels();
}

namespace {

constexpr int64_t kRowTile = 16;                   // 3D: output rows per H tile (see Call::row_at)

}  // namespace

std::string DepthwiseConvolution::cannot(const ConvSpec& spec) {
  if (spec.transposed) return "transposed convolution";
  if (spec.groups != spec.in_channels)
    return "not depthwise: groups=" + std::to_string(spec.groups) +
           " != in_channels=" + std::to_string(spec.in_channels);
  return {};
}

std::string DepthwiseConvolution::prefers_not(const ConvSpec& spec) {
  if (spec.groups == 1) return "groups=1: one input channel, an ordinary convolution";
  const int64_t multiplier = spec.out_channels / spec.in_channels;
  if (spec.layout == Layout::channels_last && multiplier > spec.in_channels)
    return "multiplier " + std::to_string(multiplier) + " > " + std::to_string(spec.in_channels) +
           " channels in channels_last: gemm vectorizes along the output channels";
  return {};
}

DepthwiseConvolution::DepthwiseConvolution(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa)
    : spec_(spec), kernels_(&depthwise_kernels(isa)), channels_(spec.in_channels),
      multiplier_(spec.out_channels / spec.in_channels) {
  const bool channels_last = spec.layout == Layout::channels_last;
  const std::vector<int64_t> kernel = per_axis(spec.kernel, spec.rank, 1, "kernel");
  for (int axis = 0; axis < spec.rank; ++axis) kernel_size_[slot(spec.rank, axis)] = kernel[static_cast<size_t>(axis)];
  taps_ = kernel_size_[0] * kernel_size_[1] * kernel_size_[2];
  padded_channels_ = ceil_div(channels_, kernels_->lanes) * kernels_->lanes;

  // Weight strides along (output channel, D, H, W): channels_first (Cout, 1, k...), channels_last (k..., 1, Cout).
  const auto& st = weight.strides();
  const int64_t o_stride = channels_last ? st[static_cast<size_t>(spec.rank) + 1] : st[0];
  std::array<int64_t, kMaxRank> q_stride{0, 0, 0};
  for (int axis = 0; axis < spec.rank; ++axis)
    q_stride[slot(spec.rank, axis)] = st[static_cast<size_t>(axis) + (channels_last ? 0 : 2)];
  // The weight of output channel o at kernel tap `tap` (taps in (D, H, W) order; flip reverses them).
  auto weight_at = [&](int64_t o, int64_t tap) {
    const int64_t q[3] = {tap / (kernel_size_[1] * kernel_size_[2]), tap / kernel_size_[2] % kernel_size_[1],
                          tap % kernel_size_[2]};
    int64_t offset = o * o_stride;
    for (size_t a = 0; a < kMaxRank; ++a) offset += (spec.flip ? kernel_size_[a] - 1 - q[a] : q[a]) * q_stride[a];
    return weight.data()[offset];
  };

  const int64_t cout = spec.out_channels;
  if (channels_last) {  // [m][tap][c], zero beyond the channels
    weights_ = AlignedBuffer(static_cast<size_t>(multiplier_ * taps_ * padded_channels_));
    float* out = weights_.data();
    for (int64_t m = 0; m < multiplier_; ++m)
      for (int64_t tap = 0; tap < taps_; ++tap)
        for (int64_t c = 0; c < padded_channels_; ++c)
          *out++ = c < channels_ ? weight_at(c * multiplier_ + m, tap) : 0.0f;
    if (bias) {
      bias_ = AlignedBuffer(static_cast<size_t>(multiplier_ * padded_channels_));
      for (int64_t m = 0; m < multiplier_; ++m)
        for (int64_t c = 0; c < padded_channels_; ++c)
          bias_.data()[m * padded_channels_ + c] = c < channels_ ? bias[c * multiplier_ + m] : 0.0f;
    }
  } else {  // [o][tap]
    weights_ = AlignedBuffer(static_cast<size_t>(cout * taps_));
    for (int64_t o = 0; o < cout; ++o)
      for (int64_t tap = 0; tap < taps_; ++tap) weights_.data()[o * taps_ + tap] = weight_at(o, tap);
    if (bias) {
      bias_ = AlignedBuffer(static_cast<size_t>(cout));
      std::copy_n(bias, cout, bias_.data());
    }
  }
}

// Everything one call needs: the resolved geometry, per-axis source tables and the tensors.
struct DepthwiseConvolution::Call {
  const DepthwiseConvolution& conv;
  const float* x;
  float* y;
  int64_t in[kMaxRank] = {1, 1, 1}, out[kMaxRank] = {1, 1, 1};
  int64_t in_pixels = 1, out_pixels = 1, out_rows = 1;
  int64_t stride[kMaxRank] = {1, 1, 1}, dilation[kMaxRank] = {1, 1, 1}, pad[kMaxRank] = {0, 0, 0};
  // source[axis][q * out + o]: the input index output o reads at kernel tap q of that axis, after the
  // padding mode (-1: a zero).
  std::array<std::vector<int64_t>, kMaxRank> source;
  // channels_last: output columns [interior_begin, interior_end) read every W tap inside the input.
  int64_t interior_begin = 0, interior_end = 0;
  // channels_first: a staged row is stride[2] phases of `phase_length` floats; phase r, element t holds
  // padded column r + stride[2] * t. `stage_runs` lists how to fill it: runs of consecutive elements
  // whose sources step by stride[2] through the input row (source -1: zeros).
  struct Run {
    int64_t begin = 0, length = 0, source = -1;
  };
  int64_t phase_length = 0, staged_size = 0;
  std::vector<Run> stage_runs;
  // The staged rows of one plane are cached by their position (pd, ph) in the padded (D, H) plane, in
  // slot (pd mod slots_d, ph mod slots_h). The rows one output row reads lie within (k - 1) * dilation + 1
  // positions per axis, and those of a tile of output rows (row_at) within (tile - 1) * stride more
  // along H: with that many slots (rounded up to powers of two: a mask, not a division, per row read)
  // no output row evicts a row it reads, and the rows a tile shares between neighbouring depths stay staged.
  int64_t slots_d = 1, slots_h = 1, padded_h = 1, row_slots = 1;
  std::vector<int64_t> tap_offset;  // per W tap: where in a staged row output column 0 reads
  // The part of the output written to y: the whole output, or (BlockRunner) the output rows [first_row,
  // first_row + y_rows) x columns [first_col, last_col) of one image, in natural row order, stored as an
  // output with only those pixels (y_image_pixels = 0: every image writes the same block).
  bool block = false;
  int64_t first_row = 0, y_rows = 1, first_col = 0, last_col = 1, y_image_pixels = 1;
  int64_t stage_begin = 0, stage_end = 0;  // channels_first: the elements of each phase that are staged

  Call(const DepthwiseConvolution& c, const Shape& input_shape, const float* input, float* output)
      : conv(c), x(input), y(output) {
    const ConvSpec& spec = conv.spec_;
    const ConvGeometry geometry = resolve_geometry(spec, input_spatial_of(spec, input_shape));
    for (int axis = 0; axis < spec.rank; ++axis) {
      const AxisGeometry& g = geometry.axes[static_cast<size_t>(axis)];
      const size_t s = slot(spec.rank, axis);
      in[s] = g.input;
      out[s] = g.output;
      stride[s] = g.stride, dilation[s] = g.dilation, pad[s] = g.pad_begin;
      source[s].resize(static_cast<size_t>(g.kernel * g.output));
      for (int64_t q = 0; q < g.kernel; ++q)
        for (int64_t o = 0; o < g.output; ++o)
          source[s][static_cast<size_t>(q * g.output + o)] =
              padded_source_index(o * g.stride + q * g.dilation - g.pad_begin, g.input, spec.padding_mode);
    }
    for (size_t s = 0; s < kMaxRank; ++s) {
      if (source[s].empty()) source[s] = {0};  // a size-1 axis below the spec's rank
      in_pixels *= in[s];
      out_pixels *= out[s];
    }
    out_rows = out[0] * out[1];
    y_rows = out_rows, last_col = out[2], y_image_pixels = out_pixels;
    const AxisGeometry& w = geometry.axes.back();
    if (spec.layout == Layout::channels_last) interior(w);
    else plan_staging(w);
  }

  // Output column ow reads columns ow * s + q * d - pad for q < k: all inside from ceil(pad / s) to the
  // last ow with ow * s + (k - 1) * d - pad <= in - 1.
  void interior(const AxisGeometry& w) {
    const int64_t last = w.input - 1 + w.pad_begin - (w.kernel - 1) * w.dilation;
    interior_begin = std::min(ceil_div(w.pad_begin, w.stride), w.output);
    interior_end = std::clamp(last < 0 ? 0 : last / w.stride + 1, interior_begin, w.output);
  }

  void plan_staging(const AxisGeometry& w) {
    const int64_t lanes = conv.kernels_->lanes, s = w.stride;
    const int64_t max_shift = (w.kernel - 1) * w.dilation / s;
    phase_length = ceil_div(w.output, lanes) * lanes + max_shift;
    staged_size = ceil_div(s * phase_length, lanes) * lanes;
    const int64_t span_h = (conv.kernel_size_[1] - 1) * dilation[1] + 1;
    slots_d = std::bit_ceil(static_cast<uint64_t>((conv.kernel_size_[0] - 1) * dilation[0] + 1));
    slots_h = std::bit_ceil(static_cast<uint64_t>((std::min(kRowTile, out[1]) - 1) * stride[1] + span_h));
    padded_h = (out[1] - 1) * stride[1] + span_h;
    row_slots = slots_d * slots_h;
    const int64_t padded_width = (w.output - 1) * s + (w.kernel - 1) * w.dilation + 1;
    for (int64_t r = 0; r < s; ++r)
      for (int64_t t = 0; t < phase_length; ++t) {
        const int64_t j = r + s * t;
        const int64_t src =
            j < padded_width ? padded_source_index(j - w.pad_begin, w.input, conv.spec_.padding_mode) : -1;
        Run* last = stage_runs.empty() ? nullptr : &stage_runs.back();
        const bool extends = last && t > 0 && (src < 0 ? last->source < 0
                                                       : last->source >= 0 && src == last->source + last->length * s);
        if (extends) ++last->length;
        else stage_runs.push_back({r * phase_length + t, 1, src});
      }
    for (int64_t q = 0; q < w.kernel; ++q)
      tap_offset.push_back(q * w.dilation % s * phase_length + q * w.dilation / s);
    stage_end = phase_length;
  }

  // The output row (od, oh) computed `step`-th. 3D layers go through H in tiles of kRowTile rows, each
  // tile through every depth, so that the input rows shared by neighbouring depths (a few tiles' rows
  // of 3 planes) are still in L2 when reused, however large the planes; in 2D and 1D this is row order.
  std::array<int64_t, 2> row_at(int64_t step) const {
    if (out[0] == 1 || block) return {step / out[1], step % out[1]};
    const int64_t tile = step / (out[0] * kRowTile), in_tile = step % (out[0] * kRowTile);
    const int64_t tile_rows = std::min(kRowTile, out[1] - tile * kRowTile);
    return {in_tile / tile_rows, tile * kRowTile + in_tile % tile_rows};
  }

  // --- channels_last ---

  // Input channels [c_begin, c_end) of the output row computed `step`-th (row_at) of image n: the
  // interior columns in one run, border columns one at a time.
  void channels_last_row(int64_t n, int64_t step, int64_t c_begin, int64_t c_end) const {
    thread_local std::vector<const float*> tap_x, tap_w;
    const int64_t* ks = conv.kernel_size_;
    const int64_t c = conv.channels_, cp = conv.padded_channels_, kw = ks[2];
    const auto [od, oh] = row_at(step);
    const float** xs = scratch(tap_x, conv.taps_);
    const float** ws = scratch(tap_w, conv.taps_);
    // The (D, H) kernel positions whose input row exists (every one, unless the padding is zeros).
    thread_local std::vector<const float*> row_pointers;
    thread_local std::vector<int64_t> row_taps;
    const float** row_ptr = scratch(row_pointers, ks[0] * ks[1]);
    int64_t* row_tap = scratch(row_taps, ks[0] * ks[1]);
    int64_t count = 0;
    for (int64_t a = 0; a < ks[0]; ++a)
      for (int64_t b = 0; b < ks[1]; ++b) {
        const int64_t id = source[0][static_cast<size_t>(a * out[0] + od)];
        const int64_t ih = source[1][static_cast<size_t>(b * out[1] + oh)];
        if (id < 0 || ih < 0) continue;
        row_ptr[count] = x + ((n * in[0] + id) * in[1] + ih) * in[2] * c;
        row_tap[count++] = (a * ks[1] + b) * kw;
      }

    ChannelsLastPixels args;
    args.x = xs;
    args.w = ws;
    args.channel_begin = c_begin;
    args.channel_end = c_end;
    args.multiplier = conv.multiplier_;
    args.w_multiplier_stride = conv.taps_ * cp;
    args.bias = conv.bias_.size() ? conv.bias_.data() : nullptr;
    args.bias_multiplier_stride = cp;
    args.y_step = conv.spec_.out_channels;
    float* y_row = y + (n * y_image_pixels + (od * out[1] + oh - first_row) * (last_col - first_col)) * args.y_step;
    const float* weights = conv.weights_.data();
    const int64_t inner_begin = std::clamp(interior_begin, first_col, last_col);
    const int64_t inner_end = std::clamp(interior_end, inner_begin, last_col);

    if (inner_end > inner_begin) {
      args.taps = 0;
      for (int64_t r = 0; r < count; ++r)
        for (int64_t q = 0; q < kw; ++q) {
          xs[args.taps] = row_ptr[r] + (inner_begin * stride[2] + q * dilation[2] - pad[2]) * c;
          ws[args.taps++] = weights + (row_tap[r] + q) * cp;
        }
      args.pixels = inner_end - inner_begin;
      args.x_step = stride[2] * c;
      args.y = y_row + (inner_begin - first_col) * args.y_step;
      conv.kernels_->pixels(args);
    }
    args.pixels = 1;
    args.x_step = 0;
    for (int64_t ow = first_col; ow < last_col; ++ow) {
      if (ow == inner_begin) ow = std::max(ow, inner_end);
      if (ow >= last_col) break;
      args.taps = 0;
      for (int64_t q = 0; q < kw; ++q) {
        const int64_t iw = source[2][static_cast<size_t>(q * out[2] + ow)];
        if (iw < 0) continue;
        for (int64_t r = 0; r < count; ++r) {
          xs[args.taps] = row_ptr[r] + iw * c;
          ws[args.taps++] = weights + (row_tap[r] + q) * cp;
        }
      }
      args.y = y_row + (ow - first_col) * args.y_step;
      conv.kernels_->pixels(args);
    }
  }

  // --- channels_first ---

  // Input row (id, ih) of the plane `x_plane` staged into `dst`.
  void stage_row(const float* x_plane, int64_t id, int64_t ih, float* dst) const {
    const float* src = x_plane + (id * in[1] + ih) * in[2];
    for (const Run& run : stage_runs) {  // runs lie within one phase
      const int64_t t = run.begin % phase_length;
      const int64_t lo = std::max(t, stage_begin), hi = std::min(t + run.length, stage_end);
      if (lo >= hi) continue;
      if (run.source < 0) std::fill_n(dst + run.begin + lo - t, hi - lo, 0.0f);
      else conv.kernels_->gather(src + run.source + (lo - t) * stride[2], stride[2], hi - lo, dst + run.begin + lo - t);
    }
  }

  // The output rows computed steps [first, last)-th (row_at) of input channel c of image n, for each of
  // its multiplier output channels.
  void channels_first_rows(int64_t n, int64_t c, int64_t first, int64_t last) const {
    thread_local std::vector<float> staged_buffer;
    thread_local std::vector<int64_t> slot_key, tap_index;
    thread_local std::vector<const float*> tap_x;
    thread_local std::vector<float> tap_w;
    const int64_t* ks = conv.kernel_size_;
    const int64_t kw = ks[2];
    float* staged = scratch(staged_buffer, row_slots * staged_size);
    int64_t* keys = scratch(slot_key, row_slots);
    const float** xs = scratch(tap_x, conv.taps_);
    float* ws = scratch(tap_w, conv.taps_);
    int64_t* taps = scratch(tap_index, conv.taps_);
    std::fill_n(keys, row_slots, int64_t{-1});
    const float* x_plane = x + (n * conv.channels_ + c) * in_pixels;

    for (int64_t step = first; step < last; ++step) {
      const auto [od, oh] = row_at(step);
      int64_t count = 0;
      for (int64_t a = 0; a < ks[0]; ++a)
        for (int64_t b = 0; b < ks[1]; ++b) {
          const int64_t id = source[0][static_cast<size_t>(a * out[0] + od)];
          const int64_t ih = source[1][static_cast<size_t>(b * out[1] + oh)];
          if (id < 0 || ih < 0) continue;  // a zero row
          // Padded positions, shifted to start at 0.
          const int64_t pd = od * stride[0] + a * dilation[0], ph = oh * stride[1] + b * dilation[1];
          const int64_t s = (pd & (slots_d - 1)) * slots_h + (ph & (slots_h - 1)), key = pd * padded_h + ph;
          float* staged_row = staged + s * staged_size;
          if (keys[s] != key) stage_row(x_plane, id, ih, staged_row), keys[s] = key;
          for (int64_t q = 0; q < kw; ++q) {
            xs[count] = staged_row + tap_offset[static_cast<size_t>(q)] + first_col;
            taps[count++] = (a * ks[1] + b) * kw + q;
          }
        }
      ChannelsFirstRow args;
      args.x = xs;
      args.taps = count;
      args.width = last_col - first_col;
      for (int64_t m = 0; m < conv.multiplier_; ++m) {
        const int64_t o = c * conv.multiplier_ + m;
        const float* w = conv.weights_.data() + o * conv.taps_;
        if (count == conv.taps_) {
          args.w = w;
        } else {  // some taps read zero rows: their weights left out too
          for (int64_t i = 0; i < count; ++i) ws[i] = w[taps[i]];
          args.w = ws;
        }
        args.bias = conv.bias_.size() ? conv.bias_.data()[o] : 0.0f;
        args.y = y + n * y_image_pixels * conv.spec_.out_channels +
                 (o * y_rows + od * out[1] + oh - first_row) * (last_col - first_col);
        conv.kernels_->row(args);
      }
    }
  }
};

void DepthwiseConvolution::run(ConstTensorView input, float* output, int threads) const {
  const Call call(*this, input.shape(), input.data(), output);
  const int64_t batch = input.dim(0);
  if (batch * spec_.out_channels * call.out_pixels * taps_ < kSerialMacs) threads = 1;
  // Each output is computed by one kernel call in a fixed order, so the result does not depend on `threads`.
  if (spec_.layout == Layout::channels_last) {
    // Items of (image, output row, chunk of channel vectors): whole rows unless there are fewer than 4
    // rows per thread.
    const int64_t rows = batch * call.out_rows, vectors = ceil_div(channels_, kernels_->lanes);
    const int64_t chunks = std::clamp<int64_t>(ceil_div(4 * threads, rows), 1, vectors);
    const int64_t chunk = ceil_div(vectors, chunks) * kernels_->lanes;
    const int64_t items = rows * chunks;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (int64_t item = 0; item < items; ++item) {
      const int64_t row = item / chunks, c = item % chunks * chunk;
      call.channels_last_row(row / call.out_rows, row % call.out_rows, c, std::min(c + chunk, channels_));
    }
    return;
  }
  // Items of (image, channel, block of output rows): at least 4 per thread when the layer allows it;
  // each block stages its input rows once.
  const int64_t planes = batch * channels_;
  const int64_t blocks = std::clamp<int64_t>(ceil_div(4 * threads, planes), 1, call.out_rows);
  const int64_t block_rows = ceil_div(call.out_rows, blocks);
  const int64_t items = planes * blocks;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (int64_t item = 0; item < items; ++item) {
    const int64_t plane = item / blocks, first = item % blocks * block_rows;
    call.channels_first_rows(plane / channels_, plane % channels_, first, std::min(first + block_rows, call.out_rows));
  }
}

DepthwiseConvolution::BlockRunner::BlockRunner(const DepthwiseConvolution& conv, const Shape& input_shape)
    : call_(std::make_unique<Call>(conv, input_shape, nullptr, nullptr)) {
  call_->block = true;
  call_->y_image_pixels = 0;
}

DepthwiseConvolution::BlockRunner::~BlockRunner() = default;

void DepthwiseConvolution::BlockRunner::run(const float* input, int64_t image, int64_t first_row, int64_t last_row,
                                            int64_t first_col, int64_t last_col, float* block) {
  Call& call = *call_;
  call.x = input, call.y = block;
  call.first_row = first_row, call.y_rows = last_row - first_row, call.first_col = first_col, call.last_col = last_col;
  const DepthwiseConvolution& conv = call.conv;
  if (conv.spec_.layout == Layout::channels_last) {
    for (int64_t row = first_row; row < last_row; ++row) call.channels_last_row(image, row, 0, conv.channels_);
    return;
  }
  // Output column j of a tap reads staged element j + shift (shift <= the last tap's offset in its phase).
  const int64_t max_shift = call.tap_offset.back() % call.phase_length;
  call.stage_begin = first_col, call.stage_end = std::min(call.phase_length, last_col + max_shift);
  for (int64_t c = 0; c < conv.channels_; ++c) call.channels_first_rows(image, c, first_row, last_row);
}

std::size_t DepthwiseConvolution::workspace_bytes(const Shape& input_shape, int threads) const {
  int64_t per_thread = 2 * taps_ * int64_t{sizeof(float*)};
  if (spec_.layout == Layout::channels_first) {
    const Call call(*this, input_shape, nullptr, nullptr);
    per_thread += call.row_slots * (call.staged_size * int64_t{sizeof(float)} + int64_t{sizeof(int64_t)});
  }
  return static_cast<std::size_t>(per_thread * threads);
}

std::string DepthwiseConvolution::name() const {
  return "depthwise." + std::string(to_string(kernels_->isa)) +
         (spec_.layout == Layout::channels_last ? ".channels" : ".width");
}

std::string DepthwiseConvolution::details() const {
  const std::string lanes = std::to_string(kernels_->lanes);
  if (spec_.layout == Layout::channels_last)
    return "direct depthwise " + name() + ": " + lanes + " channels per vector, up to 8 pixels per pass";
  return "direct depthwise " + name() + ": " + lanes + " output columns per vector, input rows staged padded" +
         (spec_.stride.empty() || per_axis(spec_.stride, spec_.rank, 1, "stride").back() == 1
              ? ""
              : " and split by the stride");
}

}  // namespace convkit::cpu
