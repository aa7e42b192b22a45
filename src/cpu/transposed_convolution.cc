#include "transposed_convolution.h"
#include "isa_kernels.h"
#include "driver_util.h"
#include "parallel.h"

#include <algorithm>
#include <numeric>

#include "convkit/shape.h"

namespace convkit::cpu {
namespace {

constexpr int64_t kMaxBlockTiles = 16;
constexpr int kMaxTileWidth = 128;  // >= every kernel's MR and NR

}  // namespace

std::string TransposedConvolution::cannot(const ConvSpec& spec) {
  if (!spec.transposed) return "not a transposed convolution";
  return {};
}

TransposedConvolution::TransposedConvolution(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa)
    : spec_(spec), groups_(spec.groups), cin_g_(spec.in_channels / spec.groups),
      cout_g_(spec.out_channels / spec.groups) {
  const bool channels_last = spec.layout == Layout::channels_last;
  kernel_ = best_tile_kernel(isa_kernels(isa).tiles, channels_last, channels_last, cout_g_);
  panel_width_ = channels_last ? kernel_.nr : kernel_.mr;
  panels_ = ceil_div(cout_g_, panel_width_);

  const std::vector<int64_t> kernel = per_axis(spec.kernel, spec.rank, 1, "kernel");
  const std::vector<int64_t> stride = per_axis(spec.stride, spec.rank, 1, "stride");
  const std::vector<int64_t> dilation = per_axis(spec.dilation, spec.rank, 1, "dilation");
  std::array<int64_t, kAxes> kernel_size{1, 1, 1};
  for (int axis = 0; axis < spec.rank; ++axis) {
    const size_t s = slot(spec.rank, axis), i = static_cast<size_t>(axis);
    kernel_size[s] = kernel[i];
    stride_[s] = stride[i];
    dilation_[s] = dilation[i];
  }
  // Tap q reaches phase (q * d) mod s; listing q downwards lists the input cells a phase output reads upwards.
  for (size_t a = 0; a < kAxes; ++a) {
    std::vector<int64_t> rhos;
    for (int64_t q = 0; q < kernel_size[a]; ++q) rhos.push_back(q * dilation_[a] % stride_[a]);
    std::sort(rhos.begin(), rhos.end());
    rhos.erase(std::unique(rhos.begin(), rhos.end()), rhos.end());
    for (int64_t rho : rhos) axis_phases_[a].push_back({rho, {}});
    for (int64_t q = kernel_size[a] - 1; q >= 0; --q)
      axis_phases_[a][static_cast<size_t>(reached_index(a, q * dilation_[a] % stride_[a]))].taps.push_back(q);
  }
  phases_ = static_cast<int64_t>(axis_phases_[0].size() * axis_phases_[1].size() * axis_phases_[2].size());

  // Element strides of the transposed weight along (input channel, output channel in group, D, H, W):
  // channels_first (Cin, Cout/g, k...), channels_last (k..., Cout/g, Cin).
  const auto& st = weight.strides();
  const size_t r = static_cast<size_t>(spec.rank);
  const int64_t c_stride = channels_last ? st[r + 1] : st[0];
  const int64_t o_stride = channels_last ? st[r] : st[1];
  std::array<int64_t, kAxes> q_stride{0, 0, 0};
  for (int axis = 0; axis < spec.rank; ++axis)
    q_stride[slot(spec.rank, axis)] = st[static_cast<size_t>(axis) + (channels_last ? 0 : 2)];

  // The phases' panels [phase][group][panel][tap * Cin/g + c][lane]; every kernel tap is in one phase.
  const int64_t taps = kernel_size[0] * kernel_size[1] * kernel_size[2];
  weights_ = AlignedBuffer(static_cast<size_t>(groups_ * panels_ * taps * cin_g_ * panel_width_));
  float* out = weights_.data();
  const int64_t reached_h = static_cast<int64_t>(axis_phases_[1].size());
  const int64_t reached_w = static_cast<int64_t>(axis_phases_[2].size());
  for (int64_t phase = 0; phase < phases_; ++phase) {
    const std::array<int64_t, kAxes> index{phase / (reached_h * reached_w), phase / reached_w % reached_h,
                                           phase % reached_w};
    std::array<const std::vector<int64_t>*, kAxes> lists{};
    for (size_t a = 0; a < kAxes; ++a) lists[a] = &axis_phases_[a][static_cast<size_t>(index[a])].taps;
    const int64_t nh = static_cast<int64_t>(lists[1]->size()), nw = static_cast<int64_t>(lists[2]->size());
    const int64_t phase_taps = static_cast<int64_t>(lists[0]->size()) * nh * nw;
    phase_taps_.push_back(phase_taps);
    phase_weights_.push_back(out - weights_.data());
    max_phase_taps_ = std::max(max_phase_taps_, phase_taps);
    for (int64_t g = 0; g < groups_; ++g)
      for (int64_t p = 0; p < panels_; ++p)
        for (int64_t tap = 0; tap < phase_taps; ++tap) {
          const int64_t t[kAxes] = {tap / (nh * nw), tap / nw % nh, tap % nw};
          int64_t tap_offset = 0;
          for (size_t a = 0; a < kAxes; ++a) {
            const int64_t q = (*lists[a])[static_cast<size_t>(t[a])];
            tap_offset += (spec.flip ? kernel_size[a] - 1 - q : q) * q_stride[a];  // flip: true convolution
          }
          for (int64_t c = 0; c < cin_g_; ++c)
            for (int64_t lane = 0; lane < panel_width_; ++lane) {
              const int64_t o = p * panel_width_ + lane;
              *out++ = o < cout_g_ ? weight.data()[(g * cin_g_ + c) * c_stride + o * o_stride + tap_offset] : 0.0f;
            }
        }
  }
  if (bias) {
    bias_ = AlignedBuffer(static_cast<size_t>(groups_ * panels_ * panel_width_));
    for (int64_t g = 0; g < groups_; ++g)
      for (int64_t o = 0; o < panels_ * panel_width_; ++o)
        bias_.data()[g * panels_ * panel_width_ + o] = o < cout_g_ ? bias[g * cout_g_ + o] : 0.0f;
  }
  if (channels_last) {
    zeros_ = AlignedBuffer(static_cast<size_t>(cin_g_));
    std::fill_n(zeros_.data(), cin_g_, 0.0f);
  }
}

int64_t TransposedConvolution::reached_index(size_t axis, int64_t rho) const {
  const std::vector<ReachedPhase>& reached = axis_phases_[axis];
  const auto at = std::lower_bound(reached.begin(), reached.end(), rho,
                                   [](const ReachedPhase& phase, int64_t value) { return phase.rho < value; });
  return at != reached.end() && at->rho == rho ? at - reached.begin() : -1;
}

// Everything one call needs: the resolved geometry, per-phase index tables, the work items, the tensors.
struct TransposedConvolution::Call {
  // One phase of one axis: outputs first + s * m for m < count; source[tap * count + m] is the input
  // cell output m reads at the phase's tap `tap` of this axis, or -1 (outside the input).
  struct AxisPhase {
    int64_t first = 0, count = 0;
    int64_t reached = -1;  // index in conv.axis_phases_, -1 when no tap reaches the phase
    int64_t taps = 0;
    std::vector<int64_t> source;
  };
  // One phase of the whole output: its three axis phases, taps and pixels (row-major over the counts).
  struct Phase {
    std::array<const AxisPhase*, kAxes> axis{};
    std::array<int64_t, kAxes> taps{};  // tap counts per axis
    int64_t total_taps = 0, pixels = 0;
    const float* weights = nullptr;
  };
  // A run of consecutive tiles of one phase (for every image and group).
  struct Item {
    int64_t phase = 0, first_tile = 0, tiles = 0;
  };

  const TransposedConvolution& conv;
  const float* x;
  float* y;
  std::array<int64_t, kAxes> in{1, 1, 1}, out{1, 1, 1};
  int64_t in_pixels = 1, out_pixels = 1, tile_pixels = 1, tiles = 0;
  std::array<std::vector<AxisPhase>, kAxes> axis_phases;
  std::vector<Phase> phases;

  Call(const TransposedConvolution& c, ConstTensorView input, float* output) : conv(c), x(input.data()), y(output) {
    const ConvSpec& spec = conv.spec_;
    const ConvGeometry geometry = resolve_geometry(spec, input_spatial_of(spec, input.shape()));
    std::array<AxisGeometry, kAxes> axes{};  // size-1 axes below the spec's rank
    for (AxisGeometry& g : axes) g.input = g.output = 1;
    for (int axis = 0; axis < spec.rank; ++axis) axes[slot(spec.rank, axis)] = geometry.axes[static_cast<size_t>(axis)];
    for (size_t a = 0; a < kAxes; ++a) {
      const AxisGeometry& g = axes[a];
      in[a] = g.input;
      out[a] = g.output;
      in_pixels *= g.input;
      out_pixels *= g.output;
      // The phases with outputs: output p lies in phase (p + pad_begin) mod s, so outputs first < min(s, output)
      // start them. The phase's tap q, output m reads input (p + pad_begin - q * dilation) / s, an exact
      // division (ConvTranspose definition, see reference.h).
      for (int64_t first = 0; first < std::min(g.stride, g.output); ++first) {
        AxisPhase phase;
        phase.first = first;
        phase.count = ceil_div(g.output - first, g.stride);
        phase.reached = conv.reached_index(a, ((first + g.pad_begin) % g.stride + g.stride) % g.stride);
        if (phase.reached >= 0) {
          const std::vector<int64_t>& taps = conv.axis_phases_[a][static_cast<size_t>(phase.reached)].taps;
          phase.taps = static_cast<int64_t>(taps.size());
          for (int64_t q : taps)
            for (int64_t m = 0; m < phase.count; ++m) {
              const int64_t t = phase.first + m * g.stride + g.pad_begin - q * g.dilation;
              phase.source.push_back(t >= 0 && t / g.stride < g.input ? t / g.stride : -1);
            }
        }
        axis_phases[a].push_back(std::move(phase));
      }
    }
    // Every combination of the axes' phases; one reached by no tap along some axis gets only the bias.
    tile_pixels = spec.layout == Layout::channels_last ? conv.kernel_.mr : conv.kernel_.nr;
    const size_t n_h = axis_phases[1].size(), n_w = axis_phases[2].size();
    const size_t reached_h = conv.axis_phases_[1].size(), reached_w = conv.axis_phases_[2].size();
    for (size_t index = 0; index < axis_phases[0].size() * n_h * n_w; ++index) {
      const std::array<size_t, kAxes> at{index / (n_h * n_w), index / n_w % n_h, index % n_w};
      Phase phase;
      phase.pixels = 1;
      bool reached = true;
      for (size_t a = 0; a < kAxes; ++a) {
        phase.axis[a] = &axis_phases[a][at[a]];
        phase.taps[a] = phase.axis[a]->taps;
        phase.pixels *= phase.axis[a]->count;
        reached = reached && phase.axis[a]->reached >= 0;
      }
      phase.weights = conv.weights_.data();
      if (reached) {
        const size_t packed = (static_cast<size_t>(phase.axis[0]->reached) * reached_h +
                               static_cast<size_t>(phase.axis[1]->reached)) * reached_w +
                              static_cast<size_t>(phase.axis[2]->reached);
        phase.total_taps = conv.phase_taps_[packed];
        phase.weights += conv.phase_weights_[packed];
      }
      tiles += ceil_div(phase.pixels, tile_pixels);
      phases.push_back(phase);
    }
  }

  // Runs of at most `block_tiles` tiles, never across phases. Ordered by position, then phase: the
  // phases' runs at one position read about the same input cells and write interleaved output cells
  // (channels_first: the W phases share cache lines), so those stay in cache between the phases.
  std::vector<Item> items(int64_t block_tiles) const {
    std::vector<int64_t> phase_tiles;
    for (const Phase& phase : phases) phase_tiles.push_back(ceil_div(phase.pixels, tile_pixels));
    const int64_t most = phase_tiles.empty() ? 0 : *std::max_element(phase_tiles.begin(), phase_tiles.end());
    std::vector<Item> list;
    for (int64_t first = 0; first < most; first += block_tiles)
      for (size_t index = 0; index < phases.size(); ++index)
        if (first < phase_tiles[index])
          list.push_back({static_cast<int64_t>(index), first, std::min(block_tiles, phase_tiles[index] - first)});
    return list;
  }

  // A phase pixel as coordinates (m_D, m_H, m_W) inside its phase; walking them avoids divisions.
  struct Coords {
    int64_t d = 0, h = 0, w = 0;
  };
  static Coords coords(const Phase& phase, int64_t pixel) {
    const int64_t cw = phase.axis[2]->count, ch = phase.axis[1]->count;
    return {pixel / (cw * ch), pixel / cw % ch, pixel % cw};
  }
  static void next(const Phase& phase, Coords& at) {
    if (++at.w == phase.axis[2]->count) {
      at.w = 0;
      if (++at.h == phase.axis[1]->count) at.h = 0, ++at.d;
    }
  }

  // The output pixel (flat spatial index) of a phase pixel.
  int64_t output_pixel(const Phase& phase, const Coords& at) const {
    const std::array<int64_t, kAxes>& s = conv.stride_;
    return ((phase.axis[0]->first + s[0] * at.d) * out[1] + phase.axis[1]->first + s[1] * at.h) * out[2] +
           phase.axis[2]->first + s[2] * at.w;
  }
  // The output pixels of `count` phase pixels from `at`.
  void output_pixels(const Phase& phase, Coords at, int64_t count, int64_t* offsets) const {
    for (int64_t i = 0; i < count; ++i, next(phase, at)) offsets[i] = output_pixel(phase, at);
  }
  // True when `count` phase pixels from `at` lie on one output row (evenly spaced in the output).
  static bool one_row(const Phase& phase, const Coords& at, int64_t count) {
    return at.w + count <= phase.axis[2]->count;
  }

  // The source rows (see AxisPhase) of phase tap `tap` along D, H and W.
  struct TapSources {
    const int64_t *d = nullptr, *h = nullptr, *w = nullptr;
  };
  static TapSources tap_sources(const Phase& phase, int64_t tap) {
    const int64_t nh = phase.taps[1], nw = phase.taps[2];
    return {&phase.axis[0]->source[static_cast<size_t>(tap / (nh * nw) * phase.axis[0]->count)],
            &phase.axis[1]->source[static_cast<size_t>(tap / nw % nh * phase.axis[1]->count)],
            &phase.axis[2]->source[static_cast<size_t>(tap % nw * phase.axis[2]->count)]};
  }

  // The input pixel (or -1 for a zero) each of `count` phase pixels from `at` reads at one tap; pixels
  // past the end read zeros.
  void pixel_sources(const Phase& phase, const TapSources& tap, Coords at, int64_t count, int64_t* src) const {
    for (int64_t i = 0; i < count; ++i, next(phase, at)) {
      const int64_t id = at.d < phase.axis[0]->count ? tap.d[at.d] : -1, ih = tap.h[at.h], iw = tap.w[at.w];
      src[i] = (id < 0 || ih < 0 || iw < 0) ? -1 : (id * in[1] + ih) * in[2] + iw;
    }
  }

  // channels_last: C rows are phase pixels, columns output channels. A tile whose pixels lie on one output
  // row is written in place (rows s_W * Cout floats apart), any other through `tile` and copied pixel by pixel.
  void channels_last_block(int64_t n, int64_t g, const Item& item) const {
    thread_local std::vector<const float*> row_pointers;
    thread_local std::vector<float> tile_buffer;
    const Phase& phase = phases[static_cast<size_t>(item.phase)];
    const int64_t mr = conv.kernel_.mr, nr = conv.kernel_.nr;
    const int64_t cin = conv.spec_.in_channels, cout = conv.spec_.out_channels;
    const float* x_g = x + n * cin * in_pixels + g * conv.cin_g_;
    float* y_n = y + n * cout * out_pixels;
    // Row pointers [tile][tap][pixel]: an input pixel's Cin/g channels of this group, or zeros.
    const int64_t tile_rows = phase.total_taps * mr;
    const float** rows = scratch(row_pointers, std::max<int64_t>(1, item.tiles * tile_rows));
    Coords start[kMaxBlockTiles];  // of each tile
    start[0] = coords(phase, item.first_tile * mr);
    for (int64_t s = 1; s < item.tiles; ++s) {
      start[s] = start[s - 1];
      for (int64_t i = 0; i < mr; ++i) next(phase, start[s]);
    }
    int64_t src[kMaxTileWidth];
    for (int64_t tap = 0; tap < phase.total_taps; ++tap) {
      const TapSources sources = tap_sources(phase, tap);
      for (int64_t s = 0; s < item.tiles; ++s) {
        pixel_sources(phase, sources, start[s], mr, src);
        for (int64_t i = 0; i < mr; ++i)
          rows[s * tile_rows + tap * mr + i] = src[i] < 0 ? conv.zeros_.data() : x_g + src[i] * cin;
      }
    }
    float* tile = scratch(tile_buffer, mr * nr);
    TileArgs args;
    args.taps = phase.total_taps;
    args.k_per_tap = conv.cin_g_;
    args.b_stride = nr;
    for (int64_t panel = 0; panel < conv.panels_; ++panel) {
      const int64_t index = g * conv.panels_ + panel, channel = g * conv.cout_g_ + panel * nr;
      args.b = phase.weights + index * phase.total_taps * conv.cin_g_ * nr;
      args.cols = static_cast<int>(std::min(nr, conv.cout_g_ - panel * nr));
      args.col_bias = conv.bias_.size() ? conv.bias_.data() + index * nr : nullptr;
      for (int64_t s = 0; s < item.tiles; ++s) {
        const int64_t p0 = (item.first_tile + s) * mr;
        args.a_rows = rows + s * tile_rows;
        args.rows = static_cast<int>(std::min(mr, phase.pixels - p0));
        const bool in_place = one_row(phase, start[s], args.rows);
        args.c = in_place ? y_n + output_pixel(phase, start[s]) * cout + channel : tile;
        args.c_row_stride = in_place ? conv.stride_[2] * cout : nr;
        conv.kernel_.run(args);
        if (in_place) continue;
        int64_t offsets[kMaxTileWidth];
        output_pixels(phase, start[s], args.rows, offsets);
        for (int64_t i = 0; i < args.rows; ++i) std::copy_n(tile + i * nr, args.cols, y_n + offsets[i] * cout + channel);
      }
    }
  }

  // channels_first: packs the operand of `width` phase pixels from `at`, [tap * Cin/g + c][pixel]:
  // zeros for cells outside the input and pixels past the end, vector copies of the stretches of
  // consecutive input cells (a phase is a stride-1 correlation, so its rows are such stretches).
  void pack_pixels(const Phase& phase, const float* x_g, const Coords& at, int64_t width, float* dst) const {
    int64_t src[kMaxTileWidth];
    PixelSegment segments[kMaxTileWidth];
    for (int64_t tap = 0; tap < phase.total_taps; ++tap) {
      pixel_sources(phase, tap_sources(phase, tap), at, width, src);
      int64_t count = 0;
      for (int64_t i = 0; i < width; ++i) {
        PixelSegment* last = count ? &segments[count - 1] : nullptr;
        const bool extends = last && (src[i] < 0 ? last->source < 0
                                                 : last->source >= 0 && src[i] == last->source + last->length);
        if (extends) ++last->length;
        else segments[count++] = {i, 1, src[i]};
      }
      conv.kernel_.pack(segments, count, 1, x_g, in_pixels, conv.cin_g_, dst + tap * conv.cin_g_ * width, width);
    }
  }

  // channels_first: C rows are output channels, columns phase pixels.
  void channels_first_block(int64_t n, int64_t g, const Item& item) const {
    thread_local std::vector<float> strip;
    thread_local std::vector<float> tile_buffer;
    const Phase& phase = phases[static_cast<size_t>(item.phase)];
    const int64_t mr = conv.kernel_.mr, nr = conv.kernel_.nr;
    const int64_t k = phase.total_taps * conv.cin_g_;
    const float* x_g = x + (n * conv.spec_.in_channels + g * conv.cin_g_) * in_pixels;
    float* y_n = y + n * conv.spec_.out_channels * out_pixels;
    float* packed = scratch(strip, std::max<int64_t>(1, k * nr));
    float* tile = scratch(tile_buffer, mr * nr);
    int64_t offsets[kMaxTileWidth];
    for (int64_t t = item.first_tile; t < item.first_tile + item.tiles; ++t) {
      const int64_t p0 = t * nr;
      const Coords at = coords(phase, p0);
      pack_pixels(phase, x_g, at, nr, packed);
      TileArgs args;
      args.b = packed;
      args.b_stride = nr;
      args.k_per_tap = k;
      args.cols = static_cast<int>(std::min(nr, phase.pixels - p0));
      // In place when the tile's pixels are consecutive output cells (one row, no W stride).
      const bool in_place = conv.stride_[2] == 1 && one_row(phase, at, args.cols);
      output_pixels(phase, at, args.cols, offsets);
      for (int64_t panel = 0; panel < conv.panels_; ++panel) {
        const int64_t index = g * conv.panels_ + panel;
        float* y_c = y_n + (g * conv.cout_g_ + panel * mr) * out_pixels;
        args.a_packed = phase.weights + index * k * mr;
        args.rows = static_cast<int>(std::min(mr, conv.cout_g_ - panel * mr));
        args.row_bias = conv.bias_.size() ? conv.bias_.data() + index * mr : nullptr;
        args.c = in_place ? y_c + offsets[0] : tile;
        args.c_row_stride = in_place ? out_pixels : nr;
        conv.kernel_.run(args);
        if (!in_place)
          for (int64_t i = 0; i < args.rows; ++i)
            for (int64_t j = 0; j < args.cols; ++j) y_c[i * out_pixels + offsets[j]] = tile[i * nr + j];
      }
    }
  }
};

void TransposedConvolution::run(ConstTensorView input, float* output, int threads) const {
  const Call call(*this, input, output);
  const bool channels_last = spec_.layout == Layout::channels_last;
  const int64_t batch = input.dim(0);
  const int64_t taps = std::accumulate(phase_taps_.begin(), phase_taps_.end(), int64_t{0});
  if (batch * spec_.in_channels * call.in_pixels * cout_g_ * taps < kSerialMacs) threads = 1;
  // Runs of tiles are the unit of work; at least 4 per thread when the layer allows it. Each output
  // element is computed by one tile in one fixed order, so the result does not depend on `threads`.
  const int64_t block_tiles =
      std::clamp<int64_t>(batch * groups_ * call.tiles / (4 * threads), 1, channels_last ? kMaxBlockTiles : 1);
  const std::vector<Call::Item> items = call.items(block_tiles);
  const int64_t count = static_cast<int64_t>(items.size());
  const int64_t work = batch * groups_ * count;
  parallel_for(threads, work, [&](int64_t w) {
    const int64_t n = w / (groups_ * count), g = w / count % groups_;
    const Call::Item& item = items[static_cast<size_t>(w % count)];
    if (channels_last) call.channels_last_block(n, g, item);
    else call.channels_first_block(n, g, item);
  });
}

std::size_t TransposedConvolution::workspace_bytes(const Shape& input_shape, int threads) const {
  const int64_t tile = kernel_.mr * kernel_.nr * int64_t{sizeof(float)};
  const int64_t per_thread =
      tile + (spec_.layout == Layout::channels_first
                  ? max_phase_taps_ * cin_g_ * kernel_.nr * int64_t{sizeof(float)}
                  : kMaxBlockTiles * kernel_.mr * max_phase_taps_ * int64_t{sizeof(float*)});
  // The per-call index tables: one input index per (kernel tap, output cell) of each axis.
  const ConvGeometry geometry = resolve_geometry(spec_, input_spatial_of(spec_, input_shape));
  int64_t tables = 0;
  for (const AxisGeometry& g : geometry.axes) tables += g.kernel * g.output * int64_t{sizeof(int64_t)};
  return static_cast<std::size_t>(per_thread * threads + tables);
}

std::string TransposedConvolution::details() const {
  // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive) on "literal" + std::string&&.
  const auto [fewest, most] = std::minmax_element(phase_taps_.begin(), phase_taps_.end());
  std::string text = "phase decomposition: ";
  text += std::to_string(phases_);
  text += " stride-1 sub-convolutions (stride ";
  for (int axis = 0; axis < spec_.rank; ++axis) {
    if (axis) text += 'x';
    text += std::to_string(stride_[slot(spec_.rank, axis)]);
  }
  text += ", ";
  text += std::to_string(*fewest);
  if (*most != *fewest) {
    text += '-';
    text += std::to_string(*most);
  }
  text += " taps each, no zero insertion), micro-kernel ";
  text += name();
  return text;
}

}  // namespace convkit::cpu
