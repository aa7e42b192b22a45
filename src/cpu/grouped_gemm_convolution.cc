#include "grouped_gemm_convolution.h"
#include "driver_util.h"
#include "parallel.h"
#include "weight_panels.h"

#include <algorithm>
#include <array>
#include <vector>

#include "convkit/shape.h"
#include "isa_kernels.h"
#include "winograd_convolution.h"

namespace convkit::cpu {

namespace {

// Input floats of all groups one pixel block reads per tap: a block stays in L1 (48 KiB) while every
// group's panels pass over it.
constexpr int64_t kBlockFloats = 8192;

}  // namespace

std::string GroupedGemmConvolution::cannot(const ConvSpec& spec) {
  if (spec.transposed) return "transposed convolution";
  if (spec.groups == 1) return "not grouped";
  if (spec.layout != Layout::channels_last) return "channels_first (it reads channels_last pixels by row pointers)";
  return {};
}

// Placed after `grouped` (which takes up to 8 channels per group, a power of two, faster there: ResNeXt
// 4 -> 4 1.16 ms vs 3.5 ms here) and before `winograd` and `gemm`. Measured single-thread, AVX-512,
// channels_last (docs/engine.md): 1.2-2.5x gemm from 12 to 80 channels per group (ShuffleNet 80 -> 80:
// 1.23x; 3 x 3 with 16 -> 16: 2x) and 1.9x winograd at 32 -> 32 (ResNeXt 1024 channels, 7x7); beyond 32
// per group winograd was not compared, so there it keeps the layers it takes.
std::string GroupedGemmConvolution::prefers_not(const ConvSpec& spec) {
  const int64_t cin_g = spec.in_channels / spec.groups, cout_g = spec.out_channels / spec.groups;
  if ((cin_g > 32 || cout_g > 32) && WinogradConvolution::cannot(spec).empty() &&
      WinogradConvolution::prefers_not(spec).empty())
    return "more than 32 channels per group and winograd takes it (not compared there)";
  return {};
}

GroupedGemmConvolution::GroupedGemmConvolution(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa)
    : spec_(spec), groups_(spec.groups), cin_g_(spec.in_channels / spec.groups),
      cout_g_(spec.out_channels / spec.groups) {
  const std::vector<int64_t> kernel = per_axis(spec.kernel, spec.rank, 1, "kernel");
  for (int axis = 0; axis < spec.rank; ++axis) kernel_size_[slot(spec.rank, axis)] = kernel[static_cast<size_t>(axis)];
  taps_ = kernel_size_[0] * kernel_size_[1] * kernel_size_[2];
  k_ = taps_ * cin_g_;
  kernel_ = best_tile_kernel(isa_kernels(isa).grouped_gemm_tiles, /*indirect=*/true, /*channels_in_columns=*/true, cout_g_);
  const int64_t nr = kernel_.nr;
  panels_ = ceil_div(cout_g_, nr);

  weights_ = pack_weight_panels(spec, weight, nr);
  if (bias) bias_ = pack_bias_panels(spec, bias, nr);
  zeros_ = AlignedBuffer(static_cast<size_t>(spec.in_channels));  // group g reads it from g * Cin/g on
  std::fill_n(zeros_.data(), spec.in_channels, 0.0f);
}

std::string GroupedGemmConvolution::details() const {
  return "indirect GEMM per group, micro-kernel " + name() + " (" + std::to_string(panels_) + " panel(s) for " +
         std::to_string(cout_g_) + " channels per group), all groups per block of output pixels";
}

// One run's geometry and the work of one item: a block of output pixels of one image, every group.
struct GroupedGemmConvolution::Call {
  const GroupedGemmConvolution& conv;
  const float* x;
  float* y;
  int64_t in[kMaxRank] = {1, 1, 1}, out[kMaxRank] = {1, 1, 1};
  int64_t in_pixels = 1, out_pixels = 1;
  int64_t tiles = 1, block_tiles = 1, blocks = 1;
  int threads = 1;  // one below kSerialMacs
  // source[axis][q * out + o]: the input index output o of the axis reads at tap q (padding mode applied, -1: zero).
  std::array<std::vector<int64_t>, kMaxRank> source;

  Call(const GroupedGemmConvolution& c, const Shape& input_shape, const float* input, float* output, int max_threads)
      : conv(c), x(input), y(output) {
    const ConvSpec& spec = conv.spec_;
    const ConvGeometry geometry = resolve_geometry(spec, input_spatial_of(spec, input_shape));
    for (int axis = 0; axis < spec.rank; ++axis) {
      const AxisGeometry& g = geometry.axes[static_cast<size_t>(axis)];
      const size_t s = slot(spec.rank, axis);
      in[s] = g.input;
      out[s] = g.output;
      source[s] = tap_sources(g, spec.padding_mode);
    }
    for (size_t s = 0; s < kMaxRank; ++s) {
      if (source[s].empty()) source[s] = {0};
      in_pixels *= in[s];
      out_pixels *= out[s];
    }
    const int64_t mr = conv.kernel_.mr, batch = input_shape[0];
    threads = batch * out_pixels * spec.out_channels * conv.k_ < kSerialMacs ? 1 : max_threads;
    tiles = ceil_div(out_pixels, mr);
    // Blocks that fit kBlockFloats, at least 4 per thread when the layer allows, and a multiple of `threads`
    // items in all: block b holds tiles [b * tiles / blocks, (b + 1) * tiles / blocks), so the threads get
    // the same work within one tile (ShuffleNet's 157 tiles of 5 pixels: 27 blocks of 6 split 14:13).
    const int64_t fit = std::max<int64_t>(1, kBlockFloats / (spec.in_channels * mr));
    blocks = ceil_div(tiles, std::clamp<int64_t>(batch * tiles / (4 * threads), 1, fit));
    blocks = std::min(tiles, ceil_div(ceil_div(batch * blocks, threads) * threads, batch));
    block_tiles = ceil_div(tiles, blocks);  // the largest block's
  }

  int64_t block_pixels() const { return block_tiles * conv.kernel_.mr; }

  // rows[(tile * taps + tap) * MR + r]: group 0's row of output pixel p0 + tile * MR + r at `tap`, for the
  // `count` pixels from p0 (the zero row in the zero padding and past the end). Group g's rows are g * Cin/g
  // floats further (the zero row is Cin floats long for that).
  void point_rows(const float* x_n, int64_t p0, int64_t count, const float** rows) const {
    const int64_t* ks = conv.kernel_size_;
    const int64_t mr = conv.kernel_.mr, taps = conv.taps_, cin = conv.spec_.in_channels;
    for (int64_t tap = 0; tap < taps; ++tap) {
      const int64_t* sd = &source[0][static_cast<size_t>(tap / (ks[1] * ks[2]) * out[0])];
      const int64_t* sh = &source[1][static_cast<size_t>(tap / ks[2] % ks[1] * out[1])];
      const int64_t* sw = &source[2][static_cast<size_t>(tap % ks[2] * out[2])];
      // (od, oh, ow) of pixel p0 + i, stepped along (no divisions per pixel: they were 5% of a 1x1 layer).
      int64_t ow = p0 % out[2], oh = p0 / out[2] % out[1], od = p0 / (out[1] * out[2]);
      for (int64_t t = 0; t < count; t += mr)  // t = tile * MR (count is a multiple of MR)
        for (int64_t r = 0; r < mr; ++r) {
          const int64_t id = p0 + t + r < out_pixels ? sd[od] : -1, ih = sh[oh], iw = sw[ow];
          const bool zero = id < 0 || ih < 0 || iw < 0;
          rows[t * taps + tap * mr + r] = zero ? conv.zeros_.data() : x_n + ((id * in[1] + ih) * in[2] + iw) * cin;
          if (++ow == out[2]) {
            ow = 0;
            if (++oh == out[1]) oh = 0, od = std::min(od + 1, out[0] - 1);
          }
        }
    }
  }

  // Block `block` of image n: per group, per weight panel, every tile of the block.
  void item(int64_t n, int64_t block, std::vector<const float*>& block_rows, std::vector<const float*>& rows) const {
    const int64_t mr = conv.kernel_.mr, nr = conv.kernel_.nr, taps = conv.taps_;
    const int64_t cout = conv.spec_.out_channels;
    const int64_t first = block * tiles / blocks, count = ((block + 1) * tiles / blocks - first) * mr;
    const int64_t p0 = first * mr;
    const float** base = scratch(block_rows, taps * count);
    point_rows(x + n * in_pixels * conv.spec_.in_channels, p0, count, base);
    const float** tile_rows = scratch(rows, taps * mr);
    float* y_n = y + n * out_pixels * cout;
    TileArgs args;
    args.taps = taps;
    args.k_per_tap = conv.cin_g_;
    args.b_stride = nr;
    args.c_row_stride = cout;
    args.a_rows = tile_rows;
    for (int64_t g = 0; g < conv.groups_; ++g) {
      const int64_t offset = g * conv.cin_g_;
      for (int64_t panel = 0; panel < conv.panels_; ++panel) {
        const int64_t index = g * conv.panels_ + panel;
        args.b = conv.weights_.data() + index * conv.k_ * nr;
        args.cols = static_cast<int>(std::min(nr, conv.cout_g_ - panel * nr));
        args.col_bias = conv.bias_.size() ? conv.bias_.data() + index * nr : nullptr;
        for (int64_t t = 0; t < count; t += mr) {
          const float* const* from = base + t * taps;
          for (int64_t j = 0; j < taps * mr; ++j) tile_rows[j] = from[j] + offset;
          args.c = y_n + (p0 + t) * cout + g * conv.cout_g_ + panel * nr;
          args.rows = static_cast<int>(std::min(mr, out_pixels - p0 - t));
          conv.kernel_.run(args);
        }
      }
    }
  }
};

void GroupedGemmConvolution::run(ConstTensorView input, float* output, int threads) const {
  const Call call(*this, input.shape(), input.data(), output, threads);
  // Each output element is computed by one tile in one fixed order: the result does not depend on `threads`.
  const int64_t items = input.dim(0) * call.blocks;
  using Rows = std::array<std::vector<const float*>, 2>;  // the block's rows, a tile's rows
  parallel_for(call.threads, items, Schedule::guided, [] { return Rows(); }, [&](Rows& rows, int64_t i) {
    call.item(i / call.blocks, i % call.blocks, rows[0], rows[1]);
  });
}

std::size_t GroupedGemmConvolution::workspace_bytes(const Shape& input_shape, int threads) const {
  const Call call(*this, input_shape, nullptr, nullptr, threads);
  const int64_t per_thread =
      taps_ * (call.block_pixels() + kernel_.mr) * int64_t{sizeof(void*)};
  return static_cast<std::size_t>(per_thread * threads);
}

}  // namespace convkit::cpu
