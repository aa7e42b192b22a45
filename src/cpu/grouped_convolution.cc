#include "grouped_convolution.h"
#include "isa_kernels.h"
#include "driver_util.h"
#include "parallel.h"

#include <algorithm>
#include <array>
#include <vector>

#include "convkit/shape.h"

namespace convkit::cpu {

namespace {

// Output columns per expansion. The kd * kh expanded rows of a chunk should stay in L1: measured on
// ResNeXt-like layers (AVX-512, 1 thread), 32 columns ran 1.1x (3x3, 4 -> 4 per group) to 1.6x (1D, 8 -> 8)
// faster than 64, and 16 slower again (passes of fewer than kGroupedMaxPixels pixels).
constexpr int64_t kChunkColumns = 32;
constexpr int64_t kMaxRowTaps = 64;               
bool power_of_two(int64_t n) { return n > 0 && (n & (n - 1)) == 0; }

}  // namespace

std::string GroupedConvolution::cannot(const ConvSpec& spec) {
  if (spec.transposed) return "transposed convolution";
  if (spec.groups == 1) return "not grouped";
  if (spec.layout != Layout::channels_last) return "channels_first (vectorized along the channels, it needs channels_last)";
  const int64_t cin_g = spec.in_channels / spec.groups, cout_g = spec.out_channels / spec.groups;
  if (!power_of_two(cout_g)) return "out_channels/groups=" + std::to_string(cout_g) + " is not a power of two";
  const std::vector<int64_t> k = per_axis(spec.kernel, spec.rank, 1, "kernel");
  if (spec.rank >= 2 && k[0] * (spec.rank == 3 ? k[1] : 1) > kMaxRowTaps)
    return "more than " + std::to_string(kMaxRowTaps) + " kernel rows";
  if (cin_g > cout_g)
    return "in_channels/groups=" + std::to_string(cin_g) + " exceeds out_channels/groups=" + std::to_string(cout_g);
  return {};
}

// Measured single-thread, AVX-512, channels_last, against grouped_gemm: 2.4x slower on 3x3 16 -> 16 per group
// (ResNeXt, 14x14), 1.9x faster on 8 -> 8 and 4x on 4 -> 4 (stride 1).
std::string GroupedConvolution::prefers_not(const ConvSpec& spec) {
  const int64_t cin_g = spec.in_channels / spec.groups;
  if (cin_g >= 16)
    return "in_channels/groups=" + std::to_string(cin_g) + ": grouped_gemm is faster from 16 channels per group";
  // With a W stride each output pixel expands `stride` columns of every new row, and the rows of 8 or more
  // channels per group outgrow L1: grouped_gemm measured 1.4x (1D) and 2.7x (3x3, 8 -> 8 per group)
  // faster at stride 2; with 4 per group this kernel stays 2.3x faster than grouped_gemm.
  const std::vector<int64_t> stride = per_axis(spec.stride, spec.rank, 1, "stride");
  const int64_t cout_g = spec.out_channels / spec.groups;
  if (stride.back() > 1 && cout_g >= 8)
    return "W stride " + std::to_string(stride.back()) + " with out_channels/groups=" + std::to_string(cout_g) +
           ": grouped_gemm is faster from 8 channels per group";
  return {};
}

GroupedConvolution::GroupedConvolution(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa)
    : spec_(spec), kernels_(isa_kernels(isa).grouped), cin_g_(spec.in_channels / spec.groups),
      cout_g_(spec.out_channels / spec.groups) {
  const int64_t lanes = kernels_->lanes;
  const std::vector<int64_t> kernel = per_axis(spec.kernel, spec.rank, 1, "kernel");
  for (int axis = 0; axis < spec.rank; ++axis) kernel_size_[slot(spec.rank, axis)] = kernel[static_cast<size_t>(axis)];
  taps_ = kernel_size_[0] * kernel_size_[1] * kernel_size_[2];
  vectors_ = ceil_div(spec.out_channels, lanes);

  // Expansion permutes, when a vector holds several groups (Cout/g < lanes, both powers of two, so vectors
  // start on group boundaries): lane o of entry c reads input c of its group, (o / (Cout/g)) * Cin/g + c
  // floats from the vector's first group (< lanes since Cin/g <= Cout/g). Otherwise entries are broadcasts.
  if (cout_g_ < lanes) {
    index_.resize(static_cast<size_t>(cin_g_ * lanes));
    for (int64_t c = 0; c < cin_g_; ++c)
      for (int64_t o = 0; o < lanes; ++o) index_[static_cast<size_t>(c * lanes + o)] = static_cast<int32_t>(o / cout_g_ * cin_g_ + c);
  }

  // Weights [vector][tap][c][lane] from channels_last (k..., Cin/g, Cout); flip reverses the taps.
  const auto& st = weight.strides();
  const size_t r = static_cast<size_t>(spec.rank);
  std::array<int64_t, kMaxRank> q_stride{0, 0, 0};
  for (int axis = 0; axis < spec.rank; ++axis) q_stride[slot(spec.rank, axis)] = st[static_cast<size_t>(axis)];
  weights_ = AlignedBuffer(static_cast<size_t>(vectors_ * taps_ * cin_g_ * lanes));
  float* out = weights_.data();
  for (int64_t v = 0; v < vectors_; ++v)
    for (int64_t tap = 0; tap < taps_; ++tap) {
      const int64_t q[3] = {tap / (kernel_size_[1] * kernel_size_[2]), tap / kernel_size_[2] % kernel_size_[1],
                            tap % kernel_size_[2]};
      int64_t tap_offset = 0;
      for (size_t a = 0; a < kMaxRank; ++a) tap_offset += (spec.flip ? kernel_size_[a] - 1 - q[a] : q[a]) * q_stride[a];
      for (int64_t c = 0; c < cin_g_; ++c)
        for (int64_t lane = 0; lane < lanes; ++lane) {
          const int64_t o = v * lanes + lane;
          *out++ = o < spec.out_channels ? weight.data()[tap_offset + c * st[r] + o * st[r + 1]] : 0.0f;
        }
    }
  if (bias) {
    bias_ = AlignedBuffer(static_cast<size_t>(vectors_ * lanes));
    for (int64_t o = 0; o < vectors_ * lanes; ++o) bias_.data()[o] = o < spec.out_channels ? bias[o] : 0.0f;
  }
}

std::string GroupedConvolution::name() const {
  return kernel_name("grouped", kernels_->isa, std::to_string(kernels_->lanes));
}

std::string GroupedConvolution::details() const {
  return "direct kernel along the output channels, " + std::to_string(kernels_->lanes) + " lanes, " +
         std::to_string(cin_g_) + " input channel(s) per group expanded per lane";
}

// One run's geometry, and the work of one item: a chunk of output columns of a block of output rows, one
// vector of output channels.
struct GroupedConvolution::Call {
  const GroupedConvolution& conv;
  const float* x;
  float* y;
  AxisGeometry axes[kMaxRank];  // (D, H, W); size-1 axes below the spec's rank
  int64_t in_pixels = 1, out_pixels = 1;
  int64_t chunks = 1;           // chunks of output columns per row
  int64_t row_width = 1;        // expanded input columns per chunk (the widest chunk's)
  int64_t c_floats = 1;         // floats per expanded column: Cin/g vectors (in Cin/g planes of the row)
  // [chunk][u]: the input column expanded column u of the chunk reads (after the padding mode; -1: zero).
  std::vector<int64_t> column_sources;

  Call(const GroupedConvolution& c, const Shape& input_shape, const float* input, float* output)
      : conv(c), x(input), y(output) {
    const ConvGeometry geometry = resolve_geometry(conv.spec_, input_spatial_of(conv.spec_, input_shape));
    for (auto& a : axes) a = AxisGeometry{.input = 1, .output = 1};
    for (int axis = 0; axis < conv.spec_.rank; ++axis)
      axes[slot(conv.spec_.rank, axis)] = geometry.axes[static_cast<size_t>(axis)];
    for (const auto& a : axes) {
      in_pixels *= a.input;
      out_pixels *= a.output;
    }
    const AxisGeometry& w = axes[2];
    chunks = ceil_div(w.output, kChunkColumns);
    row_width = (std::min(kChunkColumns, w.output) - 1) * w.stride + w.dilated_kernel();
    c_floats = conv.cin_g_ * conv.kernels_->lanes;
    for (int64_t chunk = 0; chunk < chunks; ++chunk)
      for (int64_t u = 0; u < row_width; ++u)
        column_sources.push_back(
            padded_source_index(chunk * kChunkColumns * w.stride + u - w.pad_begin, w.input, conv.spec_.padding_mode));
  }

  std::size_t workspace_floats() const {
    return static_cast<size_t>(conv.kernel_size_[0] * conv.kernel_size_[1] * row_width * c_floats);
  }

  // The input index output o of `axis` reads at kernel tap q, after the padding mode (-1: zero).
  int64_t source(int axis, int64_t o, int64_t q) const {
    const AxisGeometry& a = axes[axis];
    return padded_source_index(o * a.stride + q * a.dilation - a.pad_begin, a.input, conv.spec_.padding_mode);
  }

  // Per-thread state of one item: expanded input rows in slots ([slot][c][column][lane]), each slot
  // remembering which input row it holds, so the next output rows reuse the rows they share.
  struct RowCache {
    std::vector<float> rows;
    std::vector<int64_t> keys;  // per slot: (id * H + ih), -1 for a row of zeros, kEmpty when unused
    std::vector<const float*> sources;
    std::vector<int64_t> offsets;  // per tap, floats into `rows` for output pixel 0 of the chunk
    static constexpr int64_t kEmpty = -2;
  };

  // Expands input row `key` (-1: zeros) of image n into `dst`, columns from the chunk starting at ow0.
  void expand_row(int64_t n, int64_t key, int64_t ow0, int64_t v, float* dst, std::vector<const float*>& sources) const {
    const int64_t lanes = conv.kernels_->lanes, cin = conv.spec_.in_channels, cout = conv.spec_.out_channels;
    // The vector's first group, and the input floats of the groups it covers.
    const int64_t first_channel = v * lanes, group = first_channel / conv.cout_g_;
    const int64_t count = std::min(lanes, ceil_div(std::min(lanes, cout - first_channel), conv.cout_g_) * conv.cin_g_);
    const float* x_row = x + (n * in_pixels + key * axes[2].input) * cin + group * conv.cin_g_;
    sources.resize(static_cast<size_t>(row_width));
    const int64_t* columns = &column_sources[static_cast<size_t>(ow0 / kChunkColumns * row_width)];
    for (int64_t u = 0; u < row_width; ++u)
      sources[static_cast<size_t>(u)] = key < 0 || columns[u] < 0 ? nullptr : x_row + columns[u] * cin;
    conv.kernels_->expand({.sources = sources.data(), .columns = row_width, .cin_g = conv.cin_g_, .count = count,
                           .broadcast = conv.index_.empty(), .index = conv.index_.data(), .dst = dst});
  }

  // Makes the cache hold the kd * kh input rows output row (od, oh) reads; sets the tap offsets.
  void load_rows(int64_t n, int64_t od, int64_t oh, int64_t ow0, int64_t v, RowCache& cache) const {
    const int64_t kd = conv.kernel_size_[0], kh = conv.kernel_size_[1], kw = conv.kernel_size_[2];
    const int64_t slots = kd * kh, slot_floats = row_width * c_floats, lanes = conv.kernels_->lanes;
    int64_t wanted[kMaxRowTaps], slot_of[kMaxRowTaps];
    for (int64_t r = 0; r < slots; ++r) {
      const int64_t id = source(0, od, r / kh), ih = source(1, oh, r % kh);
      wanted[r] = id < 0 || ih < 0 ? -1 : id * axes[1].input + ih;
      const auto hit = std::find(cache.keys.begin(), cache.keys.end(), wanted[r]);
      slot_of[r] = hit == cache.keys.end() ? -1 : hit - cache.keys.begin();
    }
    for (int64_t r = 0; r < slots; ++r) {
      if (slot_of[r] >= 0) continue;
      // A slot no row of this output row needs (there are as many slots as row taps).
      int64_t free = 0;
      while (std::find(slot_of, slot_of + slots, free) != slot_of + slots) ++free;
      expand_row(n, wanted[r], ow0, v, cache.rows.data() + free * slot_floats, cache.sources);
      cache.keys[static_cast<size_t>(free)] = wanted[r];
      for (int64_t other = r; other < slots; ++other)
        if (wanted[other] == wanted[r]) slot_of[other] = free;
    }
    for (int64_t tap = 0; tap < conv.taps_; ++tap)
      cache.offsets[static_cast<size_t>(tap)] = slot_of[tap / kw] * slot_floats + tap % kw * axes[2].dilation * lanes;
  }

  // Output rows [row0, row0 + count) of image n, chunk `chunk` of their columns, vector v of output channels.
  void item(int64_t n, int64_t row0, int64_t count, int64_t chunk, int64_t v, RowCache& cache) const {
    const int64_t lanes = conv.kernels_->lanes, cout = conv.spec_.out_channels;
    const int64_t ow0 = chunk * kChunkColumns, columns = std::min(kChunkColumns, axes[2].output - ow0);
    const int64_t slots = conv.kernel_size_[0] * conv.kernel_size_[1];
    cache.rows.resize(workspace_floats());
    cache.keys.assign(static_cast<size_t>(slots), RowCache::kEmpty);
    cache.offsets.resize(static_cast<size_t>(conv.taps_));
    GroupedPixels args{.tap_offsets = cache.offsets.data(), .taps = conv.taps_, .cin_g = conv.cin_g_,
                       .c_step = row_width * lanes, .pixel_step = axes[2].stride * lanes,
                       .w = conv.weights_.data() + v * conv.taps_ * c_floats,
                       .bias = conv.bias_.size() ? conv.bias_.data() + v * lanes : nullptr,
                       .y_step = cout, .lanes_valid = std::min(lanes, cout - v * lanes)};
    for (int64_t row = row0; row < row0 + count; ++row) {
      load_rows(n, row / axes[1].output, row % axes[1].output, ow0, v, cache);
      float* y_row = y + (n * out_pixels + row * axes[2].output + ow0) * cout + v * lanes;
      for (int64_t p = 0; p < columns; p += kGroupedMaxPixels) {
        args.pixels = static_cast<int>(std::min<int64_t>(kGroupedMaxPixels, columns - p));
        args.expanded = cache.rows.data() + p * args.pixel_step;
        args.y = y_row + p * cout;
        conv.kernels_->pixels[axes[2].stride == 1][args.pixels - 1](args);
      }
    }
  }
};

void GroupedConvolution::run(ConstTensorView input, float* output, int threads) const {
  const Call call(*this, input.shape(), input.data(), output);
  const int64_t batch = input.dim(0);
  const int64_t rows = call.axes[0].output * call.axes[1].output;
  if (batch * call.out_pixels * spec_.out_channels * taps_ * cin_g_ < kSerialMacs) threads = 1;
  // Items: blocks of output rows (rows in a block share expanded input rows), at least 4 per thread when
  // the layer allows. Each output element is computed by one item in one fixed order, so the result does
  // not depend on `threads` or on the blocks.
  const int64_t others = batch * call.chunks * vectors_;
  const int64_t row_blocks = std::clamp<int64_t>(ceil_div(4 * threads, others), 1, rows);
  const int64_t block_rows = ceil_div(rows, row_blocks);
  const int64_t items = others * row_blocks;
  const auto make_cache = [] { return Call::RowCache(); };
  parallel_for(threads, items, Schedule::guided, make_cache, [&](Call::RowCache& cache, int64_t i) {
    const int64_t v = i % vectors_, chunk = i / vectors_ % call.chunks;
    const int64_t block = i / (vectors_ * call.chunks) % row_blocks, n = i / (vectors_ * call.chunks * row_blocks);
    const int64_t row0 = block * block_rows;
    if (row0 < rows) call.item(n, row0, std::min(block_rows, rows - row0), chunk, v, cache);
  });
}

std::size_t GroupedConvolution::workspace_bytes(const Shape& input_shape, int threads) const {
  const Call call(*this, input_shape, nullptr, nullptr);
  const std::size_t per_thread = call.workspace_floats() * sizeof(float) + static_cast<size_t>(call.row_width) * sizeof(float*);
  return per_thread * static_cast<size_t>(threads);
}

}  // namespace convkit::cpu
