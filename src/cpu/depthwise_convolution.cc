#include "depthwise_convolution.h"
#include "depthwise_weight.h"
#include "isa_kernels.h"
#include "driver_util.h"
#include "parallel.h"

#include <algorithm>
#include <array>
#include <bit>
#include <vector>

#include "convkit/shape.h"

namespace convkit::cpu {

namespace {

constexpr int64_t kRowTile = 16;  // output rows per H tile (see Call::row_at)
constexpr int64_t kRowBlock = 8;  // channels_last: output rows per work item

}  // namespace

std::string DepthwiseConvolution::cannot(const ConvSpec& spec) {
  if (spec.transposed) return "transposed convolution";
  if (spec.groups != spec.in_channels)
    return "not depthwise: groups=" + std::to_string(spec.groups) +
           " != in_channels=" + std::to_string(spec.in_channels);
  // channels_first stages a band of padded rows as tall and as wide as the dilated kernel's H x W window:
  // memory that grows with the dilation, not the data (dilation 9212 on a 2x6 image asked 2 GB). D taps
  // are staged by slot, not by span; the other algorithms stage by the output.
  if (spec.layout == Layout::channels_first) {
    const std::vector<int64_t> kernel = per_axis(spec.kernel, spec.rank, 1, "kernel");
    const std::vector<int64_t> dilation = per_axis(spec.dilation, spec.rank, 1, "dilation");
    double window = 1.0;  // in double: two spans near 2^62 each would overflow a product in int64
    std::string spans;
    for (size_t a = kernel.size() >= 2 ? kernel.size() - 2 : 0; a < kernel.size(); ++a) {
      const int64_t span = (kernel[a] - 1) * dilation[a] + 1;  // validate() checked it fits
      window *= static_cast<double>(span);
      spans += (spans.empty() ? "" : " x ") + std::to_string(span);
    }
    if (window > kMaxStagedWindow)
      return "dilated kernel window of " + spans + " cells > " + std::to_string(static_cast<int64_t>(kMaxStagedWindow)) +
             ": channels_first stages it whole";
  }
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
    : spec_(spec), kernels_(isa_kernels(isa).depthwise), channels_(spec.in_channels),
      multiplier_(spec.out_channels / spec.in_channels) {
  const bool channels_last = spec.layout == Layout::channels_last;
  const DepthwiseWeight weight_at(spec, weight);
  std::copy(weight_at.kernel_size().begin(), weight_at.kernel_size().end(), kernel_size_);
  taps_ = weight_at.taps();
  padded_channels_ = ceil_div(channels_, kernels_->lanes) * kernels_->lanes;

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
  // The part of the output written to y: the whole output, or (BlockRunner) the output rows [first_row,
  // first_row + y_rows) of one image, in natural row order, stored as an output of only those rows
  // (y_image_pixels = 0: every image writes the same block).
  bool block = false;
  int64_t first_row = 0, y_rows = 1, y_image_pixels = 1;
  // channels_last: floats between neighbouring output pixels along W, H and D and between images (a
  // contiguous output, or one written in place through a strided view; blocks: no image step).
  int64_t y_pixel_step = 0, y_row_step = 0, y_depth_step = 0, y_image_step = 0;
  int64_t stride[kMaxRank] = {1, 1, 1}, dilation[kMaxRank] = {1, 1, 1}, pad[kMaxRank] = {0, 0, 0};
  // source[axis][q * out + o]: the input index output o reads at kernel tap q of that axis, after the
  // padding mode (-1: a zero).
  std::array<std::vector<int64_t>, kMaxRank> source;
  // channels_last: output columns [interior_begin, interior_end) read every W tap inside the input; the
  // others list their taps' inputs, zero_pixel for the zero padding.
  std::vector<float> zero_pixel;
  std::vector<int64_t> border_columns;
  int64_t interior_begin = 0, interior_end = 0;
  // channels_first: a staged row is the stride phases (q * d mod stride[2]) the W taps read, `phase_length`
  // floats each, by increasing phase (at most k of them, however large the stride); phase r, element t
  // holds padded column r + stride[2] * t. `copy_runs` lists how to fill it: runs of consecutive elements
  // whose sources step by stride[2] through the input row; the other elements are zeros.
  struct Run {
    int64_t begin = 0, length = 0, source = 0;
  };
  int64_t phase_length = 0, staged_size = 0;
  std::vector<Run> copy_runs;
  // The staged rows of one plane come in bands: the padded rows [T * kRowTile * sh, + band_rows) that
  // the output rows of tile T (row_at) read at one padded depth pd, in order, so that the rows a kernel
  // call reads are a fixed step apart. Bands are cached in slot pd mod slots_d, enough slots for the
  // depths one output row reads ((kd - 1) * dd + 1, rounded up to a power of two: a mask, not a
  // division), so the bands neighbouring depths share stay staged. A D dilation much larger than the
  // kernel would make that many slots: then the slot is (pd / dd) mod slots_d, distinct for the kd
  // depths od * sd + a * dd of one output row with kd slots (neighbouring depths rarely share bands then).
  int64_t slots_d = 1, depth_unit = 1, band_rows = 1, band_size = 1, tiles = 1;
  std::vector<int64_t> tap_offset;  // per W tap: where in a staged row output column 0 reads

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
      source[s] = tap_sources(g, spec.padding_mode);
    }
    for (size_t s = 0; s < kMaxRank; ++s) {
      if (source[s].empty()) source[s] = {0};  // a size-1 axis below the spec's rank
      in_pixels *= in[s];
      out_pixels *= out[s];
    }
    out_rows = out[0] * out[1];
    y_rows = out_rows, y_image_pixels = out_pixels;
    y_pixel_step = spec.out_channels, y_row_step = out[2] * y_pixel_step, y_depth_step = out[1] * y_row_step;
    y_image_step = out_pixels * spec.out_channels;
    const AxisGeometry& w = geometry.axes.back();
    if (spec.layout == Layout::channels_last) {
      interior(w);
      zero_pixel.resize(static_cast<size_t>(conv.padded_channels_));
    } else {
      plan_staging(w);
    }
  }

  // Output column ow reads columns ow * s + q * d - pad for q < k: all inside from ceil(pad / s) to the
  // last ow with ow * s + (k - 1) * d - pad <= in - 1. The border columns of both sides run together.
  void interior(const AxisGeometry& w) {
    const int64_t last = w.input - 1 + w.pad_begin - (w.kernel - 1) * w.dilation;
    interior_begin = std::min(ceil_div(w.pad_begin, w.stride), w.output);
    interior_end = std::clamp(last < 0 ? 0 : last / w.stride + 1, interior_begin, w.output);
    for (int64_t ow = 0; ow < w.output; ++ow)
      if (ow < interior_begin || ow >= interior_end) border_columns.push_back(ow);
  }

  void plan_staging(const AxisGeometry& w) {
    const int64_t lanes = conv.kernels_->lanes, s = w.stride;
    const int64_t max_shift = (w.kernel - 1) * w.dilation / s;
    phase_length = ceil_div(w.output, lanes) * lanes + max_shift;
    std::vector<int64_t> phases;  // the phases the taps read
    for (int64_t q = 0; q < w.kernel; ++q) phases.push_back(q * w.dilation % s);
    std::sort(phases.begin(), phases.end());
    phases.erase(std::unique(phases.begin(), phases.end()), phases.end());
    const auto phase_index = [&](int64_t r) {
      return std::lower_bound(phases.begin(), phases.end(), r) - phases.begin();
    };
    staged_size = ceil_div(static_cast<int64_t>(phases.size()) * phase_length, lanes) * lanes;
    const int64_t depth_span = (conv.kernel_size_[0] - 1) * dilation[0] + 1;
    depth_unit = depth_span <= 4 * conv.kernel_size_[0] ? 1 : dilation[0];
    slots_d = std::bit_ceil(static_cast<uint64_t>(depth_unit == 1 ? depth_span : conv.kernel_size_[0]));
    band_rows = tile_band_rows(0);
    band_size = band_rows * staged_size;
    tiles = ceil_div(out[1], kRowTile);
    const int64_t padded_width = (w.output - 1) * s + (w.kernel - 1) * w.dilation + 1;
    for (int64_t r : phases)
      for (int64_t t = 0; t < phase_length; ++t) {
        if (t > 0 && t > (padded_width - 1 - r) / s) break;  // r + s * t is past the padded row (or int64_t)
        const int64_t j = r + s * t, at = phase_index(r) * phase_length + t;
        const int64_t src =
            j < padded_width ? padded_source_index(j - w.pad_begin, w.input, conv.spec_.padding_mode) : -1;
        if (src < 0) continue;
        Run* last = copy_runs.empty() ? nullptr : &copy_runs.back();
        if (last && t > 0 && last->begin + last->length == at && src == last->source + last->length * s)
          ++last->length;
        else
          copy_runs.push_back({at, 1, src});
      }
    for (int64_t q = 0; q < w.kernel; ++q)
      tap_offset.push_back(phase_index(q * w.dilation % s) * phase_length + q * w.dilation / s);
  }

  // The padded rows the output rows of tile T read at one depth.
  int64_t tile_band_rows(int64_t tile) const {
    const int64_t tile_rows = std::min(kRowTile, out[1] - tile * kRowTile);
    return (tile_rows - 1) * stride[1] + (conv.kernel_size_[1] - 1) * dilation[1] + 1;
  }

  // The output row (od, oh) computed `step`-th. 3D layers go through H in tiles of kRowTile rows, each
  // tile through every depth, so that the input rows shared by neighbouring depths (a few tiles' rows
  // of 3 planes) are still in L2 when reused, however large the planes; in 2D and 1D this is row order
  // (tiles of kRowTile rows too).
  std::array<int64_t, 2> row_at(int64_t step) const {
    if (out[0] == 1 || block) return {step / out[1], step % out[1]};
    const int64_t tile = step / (out[0] * kRowTile), in_tile = step % (out[0] * kRowTile);
    const int64_t tile_rows = std::min(kRowTile, out[1] - tile * kRowTile);
    return {in_tile / tile_rows, tile * kRowTile + in_tile % tile_rows};
  }

  // --- channels_last ---

  // Pointers one output row's kernel calls list: weights and interior inputs per tap, inputs per tap of
  // each border column.
  int64_t row_list_size() const { return conv.taps_ * (2 + out[2] - (interior_end - interior_begin)); }

  // The kernel calls (border columns, interior; the channels left to the caller) of the output row
  // computed `step`-th (row_at) of image n into `calls`, their lists in `lists`; returns how many.
  int row_calls(int64_t n, int64_t step, const float** lists, ChannelsLastPixels* calls) const {
    const int64_t* ks = conv.kernel_size_;
    const int64_t c = conv.channels_, cp = conv.padded_channels_, kw = ks[2];
    const auto [od, oh] = row_at(step);
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
    const int64_t taps = count * kw;
    const float** ws = lists;
    const float** xs = lists + taps;
    const float** listed = xs + taps;
    const float* weights = conv.weights_.data();
    for (int64_t r = 0; r < count; ++r)
      for (int64_t q = 0; q < kw; ++q) {
        ws[r * kw + q] = weights + (row_tap[r] + q) * cp;
        xs[r * kw + q] = row_ptr[r] + (interior_begin * stride[2] + q * dilation[2] - pad[2]) * c;
      }

    ChannelsLastPixels args;
    args.w = ws;
    args.taps = taps;
    args.multiplier = conv.multiplier_;
    args.w_multiplier_stride = conv.taps_ * cp;
    args.bias = conv.bias_.size() ? conv.bias_.data() : nullptr;
    args.bias_multiplier_stride = cp;
    args.y_step = y_pixel_step;
    float* y_row = y + n * y_image_step + od * y_depth_step + oh * y_row_step - first_row * y_row_step;
    int made = 0;
    // The border columns, left and right in one run, each pixel listing its taps' inputs (the padding
    // mode's cells, or a zero pixel).
    if (!border_columns.empty()) {
      args.x = listed;
      for (const int64_t ow : border_columns)
        for (int64_t r = 0; r < count; ++r)
          for (int64_t q = 0; q < kw; ++q) {
            const int64_t iw = source[2][static_cast<size_t>(q * out[2] + ow)];
            *listed++ = iw < 0 ? zero_pixel.data() : row_ptr[r] + iw * c;
          }
      args.pixels = static_cast<int64_t>(border_columns.size());
      args.x_step = 0;
      args.y = y_row;
      args.columns = border_columns.data();
      calls[made++] = args;
    }
    if (interior_end > interior_begin) {
      args.x = xs;
      args.pixels = interior_end - interior_begin;
      args.x_step = stride[2] * c;
      args.y = y_row + interior_begin * args.y_step;
      args.kw = dilation[2] == 1 ? kw : 0;
      args.stride = stride[2];
      // The rows the next output row adds: `stride` of them, but never more than the kernel has (a huge
      // stride would otherwise prefetch every row it skips: work growing with the stride, a fuzz find).
      args.prefetch_rows = std::min(stride[1], ks[1]);
      args.prefetch_step = in[2] * c;
      calls[made++] = args;
    }
    return made;
  }

  // Channels per strip (see channels_last_rows): 2 vectors when an image's input fits in L2 (the strip's
  // input rows then stay in L1, kernel rows x width x 128 bytes, for the rows that share them); all of
  // them when it comes from memory, whose prefetchers want it read in order.
  int64_t channels_last_strip() const {
    constexpr int64_t kL2Share = int64_t{1} << 20;
    const int64_t bytes = in_pixels * conv.channels_ * int64_t{sizeof(float)};
    return bytes <= kL2Share ? 2 * conv.kernels_->lanes : conv.padded_channels_;
  }

  // Input channels [c_begin, c_end) of the output rows computed steps [first, last)-th (row_at) of
  // image n, in strips of channels, each through all the rows.
  void channels_last_rows(int64_t n, int64_t first, int64_t last, int64_t c_begin, int64_t c_end) const {
    thread_local std::vector<const float*> list_buffer;
    thread_local std::vector<ChannelsLastPixels> call_buffer;
    const float** lists = scratch(list_buffer, (last - first) * row_list_size());
    ChannelsLastPixels* calls = scratch(call_buffer, 2 * (last - first));
    int64_t count = 0;
    for (int64_t step = first; step < last; ++step)
      count += row_calls(n, step, lists + (step - first) * row_list_size(), calls + count);
    const int64_t strip = channels_last_strip();
    for (int64_t c = c_begin; c < c_end; c += strip)
      for (int64_t i = 0; i < count; ++i) {
        calls[i].channel_begin = c;
        calls[i].channel_end = std::min(c + strip, c_end);
        conv.kernels_->pixels(calls[i]);
      }
  }

  // --- channels_first ---

  // The band of tile `tile` at padded depth pd, staged into `dst`: the copy runs of each row (input rows
  // in the zero padding: zeros). The rest of the band stays zero.
  void stage_band(const float* x_plane, int64_t tile, int64_t pd, float* dst) const {
    thread_local std::vector<const float*> band_source;
    const ConvSpec& spec = conv.spec_;
    const int64_t rows = tile_band_rows(tile), ph0 = tile * kRowTile * stride[1];
    const float** src = scratch(band_source, rows);
    const int64_t id = padded_source_index(pd - pad[0], in[0], spec.padding_mode);
    for (int64_t i = 0; i < rows; ++i) {
      const int64_t ih = padded_source_index(ph0 + i - pad[1], in[1], spec.padding_mode);
      src[i] = id < 0 || ih < 0 ? nullptr : x_plane + (id * in[1] + ih) * in[2];
    }
    for (const Run& run : copy_runs)
      conv.kernels_->gather(src, rows, run.source, stride[2], run.length, dst + run.begin, staged_size);
  }

  // The output rows computed steps [first, last)-th (row_at) of input channel c of image n, for each of
  // its multiplier output channels: the rows of one tile and depth per kernel call.
  void channels_first_rows(int64_t n, int64_t c, int64_t first, int64_t last) const {
    thread_local std::vector<float> staged_buffer;
    thread_local std::vector<int64_t> band_key;
    thread_local std::vector<const float*> row_x;
    const int64_t* ks = conv.kernel_size_;
    const int64_t kernel_rows = ks[0] * ks[1];
    float* staged = scratch(staged_buffer, slots_d * band_size);
    std::fill_n(staged, slots_d * band_size, 0.0f);  // what no copy run writes: zero padding, vector tails
    int64_t* keys = scratch(band_key, slots_d);
    const float** xs = scratch(row_x, kernel_rows);
    std::fill_n(keys, slots_d, int64_t{-1});
    const float* x_plane = x + (n * conv.channels_ + c) * in_pixels;

    ChannelsFirstRows args;
    args.x = xs;
    // Consecutive output rows lie stride rows apart in the band; one output row has no next (and a stride
    // past the image times the row length may not fit int64_t).
    args.row_step = (out[1] > 1 ? stride[1] : 0) * staged_size;
    args.offset = tap_offset.data();
    args.kernel_rows = kernel_rows;
    args.kw = ks[2];
    args.width = out[2];
    args.y_step = out[2];
    // The kernel rows are consecutive staged rows, as are the output rows' first ones (xs below).
    args.rows_overlap = ks[0] == 1 && stride[1] == 1 && dilation[1] == 1;
    for (int64_t step = first; step < last;) {
      const auto [od, oh0] = row_at(step);
      const int64_t tile = oh0 / kRowTile, rows = std::min({last - step, out[1] - oh0, kRowTile - oh0 % kRowTile});
      for (int64_t a = 0; a < ks[0]; ++a) {
        // The band of padded depth pd (shifted to start at 0), staged unless cached.
        const int64_t pd = od * stride[0] + a * dilation[0], key = pd * tiles + tile;
        const int64_t slot_d = (pd / depth_unit) & (slots_d - 1);
        float* band = staged + slot_d * band_size;
        if (keys[slot_d] != key) stage_band(x_plane, tile, pd, band), keys[slot_d] = key;
        for (int64_t b = 0; b < ks[1]; ++b)
          xs[a * ks[1] + b] = band + ((oh0 - tile * kRowTile) * stride[1] + b * dilation[1]) * staged_size;
      }
      args.rows = rows;
      for (int64_t m = 0; m < conv.multiplier_; ++m) {
        const int64_t o = c * conv.multiplier_ + m;
        args.w = conv.weights_.data() + o * conv.taps_;
        args.bias = conv.bias_.size() ? conv.bias_.data()[o] : 0.0f;
        args.y = y + n * y_image_pixels * conv.spec_.out_channels + (o * y_rows + od * out[1] + oh0 - first_row) * out[2];
        conv.kernels_->rows(args);
      }
      step += rows;
    }
  }
};

void DepthwiseConvolution::run(ConstTensorView input, float* output, int threads) const {
  run_call(Call(*this, input.shape(), input.data(), output), input.dim(0), threads);
}

// channels_last writes each output pixel's channels from one base pointer: any pixel strides will do
// (the strided backward-data phases write every s-th pixel of dx this way, without a staging copy).
bool DepthwiseConvolution::run_strided(ConstTensorView input, TensorView output, int threads) const {
  if (spec_.layout != Layout::channels_last || output.strides().back() != 1) return false;
  Call call(*this, input.shape(), input.data(), output.data());
  const Shape& strides = output.strides();  // (N, spatial..., C)
  const auto step = [&](int axis) { return axis < 0 ? 0 : strides[static_cast<size_t>(1 + axis)]; };
  call.y_image_step = strides[0];
  call.y_pixel_step = step(spec_.rank - 1);
  call.y_row_step = step(spec_.rank - 2);
  call.y_depth_step = step(spec_.rank - 3);
  run_call(call, input.dim(0), threads);
  return true;
}

void DepthwiseConvolution::run_call(const Call& call, int64_t batch, int threads) const {
  if (batch * spec_.out_channels * call.out_pixels * taps_ < kSerialMacs) threads = 1;
  // Each output is computed by one kernel call in a fixed order, so the result does not depend on `threads`.
  if (spec_.layout == Layout::channels_last) {
    // Items of (image, block of up to kRowBlock output rows, chunk of channel vectors): evenly sized
    // blocks, and chunks when several threads have fewer than 4 blocks each.
    const int64_t rows = call.out_rows, vectors = ceil_div(channels_, kernels_->lanes);
    const int64_t block_rows = ceil_div(rows, ceil_div(rows, kRowBlock)), blocks = ceil_div(rows, block_rows);
    const int64_t chunks = threads == 1 ? 1 : std::clamp<int64_t>(ceil_div(4 * threads, batch * blocks), 1, vectors);
    const int64_t chunk = ceil_div(vectors, chunks) * kernels_->lanes;
    const int64_t items = batch * blocks * chunks;
    parallel_for(threads, items, [&](int64_t item) {
      const int64_t block = item / chunks, c = item % chunks * chunk, first = block % blocks * block_rows;
      call.channels_last_rows(block / blocks, first, std::min(first + block_rows, rows), c,
                              std::min(c + chunk, channels_));
    });
    return;
  }
  // Items of (image, channel, block of output rows): at least 4 per thread when the layer allows it;
  // each block stages its input rows once.
  const int64_t planes = batch * channels_;
  const int64_t blocks = std::clamp<int64_t>(ceil_div(4 * threads, planes), 1, call.out_rows);
  const int64_t block_rows = ceil_div(call.out_rows, blocks);
  const int64_t items = planes * blocks;
  parallel_for(threads, items, [&](int64_t item) {
    const int64_t plane = item / blocks, first = item % blocks * block_rows;
    call.channels_first_rows(plane / channels_, plane % channels_, first, std::min(first + block_rows, call.out_rows));
  });
}

DepthwiseConvolution::BlockRunner::BlockRunner(const DepthwiseConvolution& conv, const Shape& input_shape)
    : call_(std::make_unique<Call>(conv, input_shape, nullptr, nullptr)) {
  call_->block = true;
  call_->y_image_pixels = 0;
  call_->y_image_step = 0;
}

DepthwiseConvolution::BlockRunner::BlockRunner(BlockRunner&&) noexcept = default;
DepthwiseConvolution::BlockRunner::~BlockRunner() = default;

void DepthwiseConvolution::BlockRunner::run(const float* input, int64_t image, int64_t first_row, int64_t last_row,
                                            float* block) {
  Call& call = *call_;
  call.x = input, call.y = block;
  call.first_row = first_row, call.y_rows = last_row - first_row;
  const DepthwiseConvolution& conv = call.conv;
  if (conv.spec_.layout == Layout::channels_last)
    call.channels_last_rows(image, first_row, last_row, 0, conv.channels_);
  else
    for (int64_t c = 0; c < conv.channels_; ++c) call.channels_first_rows(image, c, first_row, last_row);
}

std::size_t DepthwiseConvolution::workspace_bytes(const Shape& input_shape, int threads) const {
  constexpr int64_t kPointer = sizeof(float*), kFloat = sizeof(float);
  const Call call(*this, input_shape, nullptr, nullptr);
  int64_t per_thread = 0;
  if (spec_.layout == Layout::channels_first) {  // kernel row pointers, the staged bands and their keys
    per_thread = kernel_size_[0] * kernel_size_[1] * kPointer + call.slots_d * (call.band_size * kFloat + 8);
  } else {  // a block's row lists and calls, kernel row tables
    per_thread = kRowBlock * (call.row_list_size() * kPointer + 2 * int64_t{sizeof(ChannelsLastPixels)}) +
                 kernel_size_[0] * kernel_size_[1] * (kPointer + 8);
  }
  return static_cast<std::size_t>(per_thread * threads);
}

std::string DepthwiseConvolution::name() const {
  return kernel_name("depthwise", kernels_->isa, spec_.layout == Layout::channels_last ? "channels" : "width");
}

std::string DepthwiseConvolution::details() const {
  const std::string lanes = std::to_string(kernels_->lanes);
  if (spec_.layout == Layout::channels_last)
    return "direct depthwise " + name() + ": " + lanes + " channels per vector, up to 8 pixels per pass";
  return "direct depthwise " + name() + ": " + lanes +
         " output columns per vector, up to 8 rows per pass, input rows staged padded" +
         (spec_.stride.empty() || per_axis(spec_.stride, spec_.rank, 1, "stride").back() == 1
              ? ""
              : " and split by the stride");
}

}  // namespace convkit::cpu
