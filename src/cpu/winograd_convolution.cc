#include "winograd_convolution.h"
#include "isa_kernels.h"
#include "driver_util.h"
#include "parallel.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <vector>

#include "cache_size.h"
#include "convkit/shape.h"
#include "finite_scan.h"
#include "padding_only_outputs.h"
#include "tile_kernel.h"
#include "winograd_matrices.h"

namespace convkit::cpu {
namespace {

constexpr int64_t kMinBlockTiles = 16;
constexpr int64_t kMaxTileRows = 128;              // >= every micro-kernel's MR
constexpr int64_t kMinChannels = 32;               // per group, for prefers_not
constexpr int64_t kMaxDepthDilation = 8;           // 3D: the extra input slices a block transforms
// Transformed weights per group beyond which each block streams them from memory for too few tiles: 4 MiB
// in 1D/2D (ResNet-50 res4 F(4x4), 9 MiB for 16 tiles: 0.85x gemm); 16 MiB in 3D, where every depth slice
// adds tiles (C3D conv3a F(4x4), 14 MiB for 8 x 49 tiles: 2.2-2.7x gemm).
int64_t max_transformed_bytes(int rank) { return int64_t{rank == 3 ? 16 : 4} << 20; }

int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// G of F(m, 3), alpha x 3, row-major.
const double* g_matrix(int m) {
  switch (m) {
    case 2: return &WinogradMatrices<2>::g[0][0];
    case 4: return &WinogradMatrices<4>::g[0][0];
    default: return &WinogradMatrices<6>::g[0][0];
  }
}

// The input index cell j of an axis reads after the padding mode, or -1 for a zero. Cells beyond the
// padded input (a tile overhanging the output's end) only feed outputs that are never written: zeros.
int64_t source_index(int64_t j, const AxisGeometry& axis, PaddingMode mode) {
  if (j < -axis.pad_begin || j >= axis.input + axis.pad_end) return -1;
  return padded_source_index(j, axis.input, mode);
}

// dst[j * dst_stride + i] = src[i * src_stride + j * step] for i < rows, j < cols, in 8 x 8 blocks so that
// both sides stay in a few cache lines (the channels_first <-> channels-innermost copies).
void transpose(const float* src, int64_t rows, int64_t cols, int64_t src_stride, int64_t step, float* dst,
               int64_t dst_stride) {
  constexpr int64_t kBlock = 8;  // 8 planes 2^k floats apart share an L1 set: stay below its 12 ways
  for (int64_t i0 = 0; i0 < rows; i0 += kBlock)
    for (int64_t j0 = 0; j0 < cols; j0 += kBlock) {
      const int64_t i1 = std::min(rows, i0 + kBlock), j1 = std::min(cols, j0 + kBlock);
      for (int64_t j = j0; j < j1; ++j)
        for (int64_t i = i0; i < i1; ++i) dst[j * dst_stride + i] = src[i * src_stride + j * step];
    }
}

}  // namespace

std::string WinogradConvolution::cannot(const ConvSpec& spec) {
  if (spec.transposed) return "transposed convolution";
  const std::vector<int64_t> kernel = per_axis(spec.kernel, spec.rank, 1, "kernel");
  const std::vector<int64_t> stride = per_axis(spec.stride, spec.rank, 1, "stride");
  for (int64_t k : kernel)
    if (k != 3) return "kernel=" + convkit::to_string(kernel) + ": F(m, 3) needs a kernel of 3 on every axis";
  for (int64_t s : stride)
    if (s != 1) return "stride=" + convkit::to_string(stride) + ": Winograd tiles need stride 1";
  // A block transforms every input slice its output slices read, 2 D dilations beyond them.
  if (const int64_t d = per_axis(spec.dilation, spec.rank, 1, "dilation")[0]; spec.rank == 3 && d > kMaxDepthDilation)
    return "D dilation " + std::to_string(d) + " > " + std::to_string(kMaxDepthDilation) +
           ": each block would transform 2 dilations of extra input slices";
  return {};
}

std::string WinogradConvolution::prefers_not(const ConvSpec& spec) {
  // Per output value, Winograd does alpha^2/m^2 (2.25 for F(4x4)) multiplications per input channel
  // instead of 9, but pays an input transform per input channel and an output transform per output
  // channel. With few channels per group those transforms (and the narrow GEMMs) cost more than the
  // saved multiplications. The spec has no image size, so small images are not excluded here.
  const int64_t cin_g = spec.in_channels / spec.groups, cout_g = spec.out_channels / spec.groups;
  if (cin_g < kMinChannels || cout_g < kMinChannels)
    return "Cin/groups=" + std::to_string(cin_g) + ", Cout/groups=" + std::to_string(cout_g) + ": below " +
           std::to_string(kMinChannels) + " channels per group the transforms cost more than they save";
  // Every block of tiles streams all alpha^2 transformed filters; beyond what the caches hold they come
  // from memory once per block and the layer is slower than gemm.
  const int64_t bytes = transformed_bytes(spec, tile_size(spec)), limit = max_transformed_bytes(spec.rank);
  if (bytes > limit)
    return "transformed weights of " + std::to_string(bytes >> 20) + " MiB per group exceed " +
           std::to_string(limit >> 20) + " MiB: streamed from memory per block of tiles";
  return {};
}

int64_t WinogradConvolution::transformed_bytes(const ConvSpec& spec, int m) {
  const int64_t alpha = m + 2, positions = spec.rank == 1 ? alpha : alpha * alpha, taps = spec.rank == 3 ? 3 : 1;
  return positions * taps * (spec.in_channels / spec.groups) * (spec.out_channels / spec.groups) * int64_t{sizeof(float)};
}

// Measured on this machine (single thread, CPU time): 2D F(4x4) beat F(2x2) and F(6x6) on ResNet-50 res2
// and VGG-16 conv1_2 (F(6x6) also has a larger error); 1D F(6) beat F(4) on 128 channels; 3D F(4x4) beat
// F(2x2) on C3D conv3a (47-56 vs 65-99 ms). Where the F(4x4) weights exceed the limit (ResNet-50 res4,
// 256 -> 256: 9 MiB), F(2x2) has 16/36 of them (4 MiB) and still 2.25x fewer multiplications than gemm
// (res4 1.3-1.9 ms vs F(4x4) 1.4-2.0 ms, gemm 1.9-2.6 ms).
std::string WinogradConvolution::error_bound(const ConvSpec& spec) {
  const std::string m = std::to_string(tile_size(spec));
  const std::string tile = spec.rank == 1 ? "F(" + m + ", 3)" : "F(" + m + "x" + m + ", 3x3)";
  return "|error| <= 1e-05 * S, S = |b| + sum |w| |x| (" + tile +
         ": the transforms scale values up to 8x and recombine them; tests/winograd_test.cc)";
}

int WinogradConvolution::tile_size(const ConvSpec& spec) {
  if (spec.rank == 1) return 6;
  return transformed_bytes(spec, 4) <= max_transformed_bytes(spec.rank) ? 4 : 2;
}

WinogradConvolution::WinogradConvolution(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa,
                                         int tile)
    : spec_(spec), transform_(winograd_transform(isa, tile ? tile : tile_size(spec), std::min(spec.rank, 2))),
      taps_(spec.rank == 3 ? 3 : 1),
      groups_(spec.groups), cin_g_(spec.in_channels / spec.groups), cout_g_(spec.out_channels / spec.groups),
      kernel_(best_tile_kernel(isa_kernels(isa).tiles, /*indirect=*/true, /*channels_in_columns=*/true, cout_g_)), cout_pad_(round_up(cout_g_, kernel_.nr)) {
  const bool channels_last = spec.layout == Layout::channels_last;
  const int rank = spec.rank, alpha = transform_.alpha(), positions = transform_.positions();
  // Element strides of the weight along (output channel, input channel, D, H, W), per layout:
  // channels_first (Cout, Cin/g, k...), channels_last (k..., Cin/g, Cout). Missing axes have stride 0.
  const auto& st = weight.strides();
  const size_t r = static_cast<size_t>(rank);
  const int64_t o_stride = channels_last ? st[r + 1] : st[0];
  const int64_t c_stride = channels_last ? st[r] : st[1];
  auto axis_stride = [&](int axis) -> int64_t {  // axis 0, 1, 2 = D, H, W
    const int a = axis - (3 - rank);
    return a < 0 ? 0 : (channels_last ? st[static_cast<size_t>(a)] : st[static_cast<size_t>(a) + 2]);
  };
  const int64_t d_stride = axis_stride(0), h_stride = axis_stride(1), w_stride = axis_stride(2);
  const double* g = g_matrix(transform_.m);

  weights_ = AlignedBuffer(static_cast<size_t>(groups_ * positions * taps_ * cin_g_ * cout_pad_));
  // U = G w G^T per (output, input channel, depth tap), computed for all output channels of a group at once:
  // the filters' cells gathered as cell[ky][kx][o], then every step a loop over o (unit stride, vectorised),
  // then each position's values copied into its panels (lanes o % NR of panel o / NR).
  const int64_t nr = kernel_.nr, xi_stride = taps_ * cin_g_ * cout_pad_, n = cout_g_;
  const int rows = rank >= 2 ? 3 : 1;  // filter rows (H); rank 1 has one
  std::vector<double> cell(static_cast<size_t>(rows * 3 * n)), gw(static_cast<size_t>(alpha * 3 * n)),
      u(static_cast<size_t>(positions * n));
  auto at = [&](int k, bool axis_exists) { return spec.flip && axis_exists ? 2 - k : k; };  // flip: reversed
  for (int64_t grp = 0; grp < groups_; ++grp)
    for (int64_t c = 0; c < cin_g_; ++c)
      for (int kd = 0; kd < taps_; ++kd) {
        const float* w = weight.data() + grp * cout_g_ * o_stride + c * c_stride + at(kd, rank == 3) * d_stride;
        for (int ky = 0; ky < rows; ++ky)
          for (int kx = 0; kx < 3; ++kx) {
            const float* from = w + at(ky, rank >= 2) * h_stride + at(kx, true) * w_stride;
            double* to = &cell[static_cast<size_t>((ky * 3 + kx) * n)];
            for (int64_t o = 0; o < n; ++o) to[o] = from[o * o_stride];
          }
        // Rank 1: U = G w. Rank 2: G w along H (alpha x 3), then along W.
        double* along_h = rank == 1 ? u.data() : gw.data();
        const int h_rows = rank == 1 ? 1 : 3, h_cols = rank == 1 ? 1 : 3;
        for (int i = 0; i < alpha; ++i)
          for (int kx = 0; kx < h_cols; ++kx) {
            double* to = &along_h[static_cast<size_t>((i * h_cols + kx) * n)];
            const double g0 = g[i * 3], g1 = g[i * 3 + 1], g2 = g[i * 3 + 2];
            // rank 1: the three taps are cell[0][0..2]; rank 2: column kx of rows 0..2
            const double* c0 = &cell[static_cast<size_t>((rank == 1 ? 0 : kx) * n)];
            const double* c1 = c0 + (rank == 1 ? 1 : h_rows) * n;
            const double* c2 = c0 + (rank == 1 ? 2 : 2 * h_rows) * n;
            for (int64_t o = 0; o < n; ++o) to[o] = g0 * c0[o] + g1 * c1[o] + g2 * c2[o];
          }
        if (rank >= 2)
          for (int i = 0; i < alpha; ++i)
            for (int j = 0; j < alpha; ++j) {
              double* to = &u[static_cast<size_t>((i * alpha + j) * n)];
              const double* row = &gw[static_cast<size_t>(i * 3 * n)];
              const double g0 = g[j * 3], g1 = g[j * 3 + 1], g2 = g[j * 3 + 2];
              for (int64_t o = 0; o < n; ++o) to[o] = g0 * row[o] + g1 * row[n + o] + g2 * row[2 * n + o];
            }
        // U[grp][xi][panel][kd][c][lane] for o = panel * NR + lane: the depth taps are the GEMM's taps.
        float* first = weights_.data() + grp * positions * xi_stride + (kd * cin_g_ + c) * nr;
        for (int xi = 0; xi < positions; ++xi)
          for (int64_t panel = 0; panel * nr < n; ++panel) {
            float* lanes = first + xi * xi_stride + panel * taps_ * cin_g_ * nr;
            const double* from = &u[static_cast<size_t>(xi * n + panel * nr)];
            const int64_t used = std::min(nr, n - panel * nr);
            for (int64_t lane = 0; lane < used; ++lane) lanes[lane] = static_cast<float>(from[lane]);
            std::fill(lanes + used, lanes + nr, 0.0f);  // past Cout/g
          }
      }
  if (bias) {
    bias_ = AlignedBuffer(static_cast<size_t>(spec.out_channels));
    std::copy_n(bias, spec.out_channels, bias_.data());
  }
  weights_finite_ = all_finite(weight.data(), weight.numel());
  direct_ = create_direct(spec, weight, bias, isa);
}

// How one input shape is cut into tiles and blocks of tiles. A dilated 3-wide kernel (dilation d) is a
// dense one on each of the d sub-grids of an axis (polyphase): the outputs p, p + d, p + 2d, ... read
// only the padded input cells p, p + d, ... So tiles live on a plane = (image, phase along H, phase along
// W); their cells are d apart in the input and the output. A block is a tile rectangle of one plane, or
// several whole planes when a plane has fewer tiles than a block holds (small images, many phases).
// Rank 3: the tiles are 2D over (H, W) on every depth slice; a block takes a run of output slices, V is
// transformed for the input slices they read (2 dilations more), and the 3 depth taps are summed in
// the GEMMs (K = 3 Cin/g).
struct WinogradConvolution::Tiling {
  AxisGeometry d, h, w;                    // unit axes below rank 3 (d) and in 1D (h)
  int64_t halo = 0;                        // input slices a block reads beyond its output slices
  int64_t phases_h = 1, phases_w = 1;      // = dilation, or the output size if smaller (phases with outputs)
  int64_t planes = 1;                      // batch * phases_h * phases_w
  int64_t tiles_h = 1, tiles_w = 1;        // output tiles per plane
  int64_t block_depth = 1, block_planes = 1, block_rows = 1, block_cols = 1;  // the last ones may be cut
  int64_t blocks_d = 1, blocks_p = 1, blocks_h = 1, blocks_w = 1;
  int64_t patch_floats = 0, v_floats = 0, m_floats = 0, out_floats = 0;  // per block, at most
  int64_t macs = 0;

  int64_t blocks(int64_t groups) const { return blocks_p * blocks_d * groups * blocks_h * blocks_w; }
  int64_t block_floats() const { return patch_floats + v_floats + m_floats + out_floats; }
  // Whole blocks per thread (each with its own workspace) or every thread on each block in turn.
  bool whole_blocks(int64_t groups, int threads) const { return threads == 1 || blocks(groups) >= 2 * threads; }
};

WinogradConvolution::Tiling WinogradConvolution::tiling(const Shape& input_shape) const {
  Tiling t;
  const ConvGeometry geometry = resolve_geometry(spec_, input_spatial_of(spec_, input_shape));
  const int64_t m = transform_.m, positions = transform_.positions(), tile_rows = transform_.rank == 2 ? m : 1;
  const size_t rank = static_cast<size_t>(spec_.rank);
  t.w = geometry.axes[rank - 1];
  t.h.input = t.h.output = t.d.input = t.d.output = 1;
  if (rank >= 2) t.h = geometry.axes[rank - 2];
  if (rank == 3) t.d = geometry.axes[0];
  t.halo = (taps_ - 1) * t.d.dilation;
  t.phases_h = std::min(t.h.dilation, std::max<int64_t>(t.h.output, 1));
  t.phases_w = std::min(t.w.dilation, std::max<int64_t>(t.w.output, 1));
  t.planes = input_shape[0] * t.phases_h * t.phases_w;
  t.tiles_h = ceil_div(ceil_div(t.h.output, t.phases_h), m);
  t.tiles_w = ceil_div(ceil_div(t.w.output, t.phases_w), m);
  t.macs = input_shape[0] * spec_.out_channels * t.d.output * t.h.output * t.w.output * cin_g_ * taps_ *
           (transform_.rank == 2 ? 9 : 3);
  // V + M of one block: half of L2, or when U (which each block streams whole) is larger, half of U, so
  // that larger blocks stream it fewer times. Measured: on Sapphire Rapids (2 MiB L2), ResNet-50 res4
  // F(2x2), 4 MiB of U: 49 tiles in one block 1.1-1.3x faster than 2 blocks; C3D conv3a F(4x4), 14 MiB
  // of U: 42 ms against 54-63 ms with V + M capped at 1-4 MiB. On Zen 5 (1 MiB L2), V + M at half of L2
  // rather than 1 MiB: ResNet-50 res2 and VGG-16 conv1_2 F(4x4) 1.05-1.15x; at half of U rather than
  // all of it: DeepLab ASPP F(2x2) (4 MiB of U, 324 tiles) 1.15-1.3x at 1 thread, and 1.25x at 2 (6
  // blocks, each thread on whole blocks, instead of 3 split by output channels); C3D even.
  const int64_t block_bytes = std::max(l2_cache_bytes() / 2, static_cast<int64_t>(weights_.bytes()) / groups_ / 2);
  const int64_t budget =
      std::max(kMinBlockTiles, block_bytes / (int64_t{sizeof(float)} * positions * (cin_g_ + cout_pad_)));
  // 3D: a block takes at least 4 halos of output slices (V transforms at most 1.25x the slices they
  // feed; one slice per block transformed each input slice 3 times: 64 -> 64 on 16x28x28 no faster
  // than gemm), so its tiles per slice get that share of the budget.
  const int64_t depth_run = std::min(t.d.output, std::max<int64_t>(1, 4 * t.halo));
  const int64_t slice_budget = std::max(kMinBlockTiles, budget / depth_run);
  const int64_t plane_tiles = t.tiles_h * t.tiles_w;
  if (plane_tiles < slice_budget) {
    t.block_rows = t.tiles_h;
    t.block_cols = t.tiles_w;
    t.block_planes = ceil_div(t.planes, ceil_div(t.planes, slice_budget / plane_tiles));
  } else if (t.tiles_w >= slice_budget) {
    t.block_cols = ceil_div(t.tiles_w, ceil_div(t.tiles_w, slice_budget));
  } else {
    t.block_cols = t.tiles_w;
    const int64_t rows = slice_budget / t.tiles_w;
    t.block_rows = ceil_div(t.tiles_h, ceil_div(t.tiles_h, rows));
  }
  // Then output slices, as many as the rest of the budget holds.
  const int64_t slices = std::max(depth_run, budget / (t.block_planes * t.block_rows * t.block_cols));
  t.block_depth = ceil_div(t.d.output, ceil_div(t.d.output, slices));
  t.blocks_d = ceil_div(t.d.output, t.block_depth);
  t.blocks_p = ceil_div(t.planes, t.block_planes);
  t.blocks_h = ceil_div(t.tiles_h, t.block_rows);
  t.blocks_w = ceil_div(t.tiles_w, t.block_cols);
  const int64_t slice_tiles = t.block_planes * t.block_rows * t.block_cols, v_slices = t.block_depth + t.halo;
  t.patch_floats = v_slices * t.block_planes * (t.block_rows * tile_rows + (tile_rows > 1 ? 2 : 0)) *
                   (t.block_cols * m + 2) * cin_g_;
  t.v_floats = positions * v_slices * slice_tiles * cin_g_;
  t.m_floats = positions * t.block_depth * slice_tiles * cout_pad_;
  if (spec_.layout == Layout::channels_first) t.out_floats = t.block_depth * slice_tiles * m * tile_rows * cout_g_;
  return t;
}

// One block: group g, output slices [z0, z0 + depth), planes [p0, p0 + planes), the tiles
// [ty0, ty0 + rows) x [tx0, tx0 + cols) of each. Its tiles are numbered slice-major, then plane-major,
// then row-major; V has depth + halo slices of slice_tiles() tiles, M depth slices.
struct WinogradConvolution::Block {
  int64_t g = 0, z0 = 0, depth = 1, p0 = 0, planes = 1, ty0 = 0, tx0 = 0, rows = 1, cols = 1;
  int64_t plane_tiles() const { return rows * cols; }
  int64_t slice_tiles() const { return planes * rows * cols; }
  int64_t tiles() const { return depth * slice_tiles(); }
};

// A plane's image and phases: output (or padded input) cells phase + dilation * k along each axis.
struct Plane {
  int64_t n = 0, py = 0, px = 0;
};

// A tile of a block: its slice, plane (local to the block), tile row and column.
struct TileIndex {
  int64_t slice = 0, plane = 0, r = 0, c = 0;
};

// Everything one call needs: the tiling, the tensors, and the phases of a block.
struct WinogradConvolution::Call {
  const WinogradConvolution& conv;
  Tiling t;
  const float* x;
  float* y;
  int64_t m = 1, positions = 1, tile_rows = 1;  // tile_rows: m in 2D and 3D, 1 in 1D
  mutable std::atomic<bool> non_finite{false};  // a block's input holds NaN or Inf: the run goes direct

  Call(const WinogradConvolution& c, ConstTensorView input, float* output)
      : conv(c), t(c.tiling(input.shape())), x(input.data()), y(output), m(c.transform_.m),
        positions(c.transform_.positions()), tile_rows(c.transform_.rank == 2 ? m : 1) {}

  Block block(int64_t index) const {
    Block b;
    const int64_t per_plane = t.blocks_h * t.blocks_w, per_slab = conv.groups_ * per_plane;
    b.p0 = index / (t.blocks_d * per_slab) * t.block_planes;
    b.z0 = index / per_slab % t.blocks_d * t.block_depth;
    b.g = index / per_plane % conv.groups_;
    b.ty0 = index % per_plane / t.blocks_w * t.block_rows;
    b.tx0 = index % t.blocks_w * t.block_cols;
    b.depth = std::min(t.block_depth, t.d.output - b.z0);
    b.planes = std::min(t.block_planes, t.planes - b.p0);
    b.rows = std::min(t.block_rows, t.tiles_h - b.ty0);
    b.cols = std::min(t.block_cols, t.tiles_w - b.tx0);
    return b;
  }
  Plane plane(const Block& b, int64_t local) const {
    const int64_t p = b.p0 + local;
    return {p / (t.phases_h * t.phases_w), p / t.phases_w % t.phases_h, p % t.phases_w};
  }
  static TileIndex tile_index(const Block& b, int64_t tile) {
    const int64_t in_slice = tile % b.slice_tiles();
    return {tile / b.slice_tiles(), in_slice / b.plane_tiles(), in_slice % b.plane_tiles() / b.cols, tile % b.cols};
  }
  int64_t v_slices(const Block& b) const { return b.depth + t.halo; }
  int64_t v_tiles(const Block& b) const { return v_slices(b) * b.slice_tiles(); }
  int64_t patch_rows(const Block& b) const { return tile_rows > 1 ? b.rows * m + 2 : 1; }
  int64_t patch_cols(const Block& b) const { return b.cols * m + 2; }
  int64_t panels() const { return conv.cout_pad_ / conv.kernel_.nr; }
  // Output cells of a tile along an axis, from output index o on, d apart: the tile cut at the border.
  int cells(int64_t o, int64_t output, int64_t d) const {
    return static_cast<int>(std::clamp<int64_t>(ceil_div(output - o, d), 0, m));
  }

  // Phase 1, item = (V slice, local plane, row) of the patch [slice][plane][row][column][c]: the input
  // cells the block's tiles read (with a 2-cell halo), after the padding mode; channels innermost.
  void stage(const Block& b, float* patch, int64_t item) const {
    thread_local std::vector<int64_t> column_sources;
    const PaddingMode mode = conv.spec_.padding_mode;
    const int64_t cin = conv.spec_.in_channels, cin_g = conv.cin_g_, cols = patch_cols(b), dw = t.w.dilation;
    const int64_t slice = item / (b.planes * patch_rows(b)), row = item % patch_rows(b);
    const Plane pl = plane(b, item / patch_rows(b) % b.planes);
    const int64_t iz = source_index(b.z0 + slice - t.d.pad_begin, t.d, mode);
    const int64_t ih = source_index(pl.py + t.h.dilation * (b.ty0 * m + row) - t.h.pad_begin, t.h, mode);
    float* out = patch + item * cols * cin_g;
    if (iz < 0 || ih < 0) {
      std::fill_n(out, cols * cin_g, 0.0f);
      return;
    }
    int64_t* iw = scratch(column_sources, cols);
    for (int64_t col = 0; col < cols; ++col)
      iw[col] = source_index(pl.px + dw * (b.tx0 * m + col) - t.w.pad_begin, t.w, mode);
    const int64_t in_d = t.d.input, in_h = t.h.input, in_w = t.w.input;
    if (conv.spec_.layout == Layout::channels_last) {
      const float* x_row = x + (((pl.n * in_d + iz) * in_h + ih) * in_w) * cin + b.g * cin_g;
      for (int64_t col = 0; col < cols; ++col) {
        if (iw[col] < 0) std::fill_n(out + col * cin_g, cin_g, 0.0f);
        else std::copy_n(x_row + iw[col] * cin, cin_g, out + col * cin_g);
      }
      return;
    }
    // channels_first: a transposing copy; runs of input columns dw apart as blocked transposes.
    const int64_t channel_size = in_d * in_h * in_w;
    const float* x_row = x + (((pl.n * cin + b.g * cin_g) * in_d + iz) * in_h + ih) * in_w;
    for (int64_t col = 0; col < cols;) {
      int64_t end = col + 1;
      if (iw[col] < 0) {
        std::fill_n(out + col * cin_g, cin_g, 0.0f);
      } else {
        while (end < cols && iw[end] == iw[col] + dw * (end - col)) ++end;
        transpose(x_row + iw[col], cin_g, end - col, channel_size, dw, out + col * cin_g, cin_g);
      }
      col = end;
    }
  }

  // Phase 2, tile `tile` of V (input slices): V[xi][tile][c].
  void input_tile(const Block& b, const float* patch, float* v, int64_t tile) const {
    const int64_t cin_g = conv.cin_g_, row_stride = patch_cols(b) * cin_g;
    const TileIndex i = tile_index(b, tile);
    const float* d = patch + ((i.slice * b.planes + i.plane) * patch_rows(b) + i.r * m) * row_stride + i.c * m * cin_g;
    conv.transform_.input(d, row_stride, cin_g, cin_g, v + tile * cin_g, v_tiles(b) * cin_g);
  }

  // Phase 3, item = xi * panels + panel: M[xi][tiles][panel] = sum over depth taps kd of
  // V[xi][tiles of slice + kd * dilation] U[xi][panel][kd], for every tile of the block.
  void gemm(const Block& b, const float* v, float* mb, int64_t item) const {
    const TileKernel& kernel = conv.kernel_;
    const int64_t xi = item / panels(), panel = item % panels(), taps = conv.taps_;
    const int64_t tiles = b.tiles(), slice_tiles = b.slice_tiles(), cin_g = conv.cin_g_, cout_pad = conv.cout_pad_;
    const float* v_xi = v + xi * v_tiles(b) * cin_g;
    const float* rows[kMaxTileRows];
    TileArgs args;
    args.a_rows = rows;
    args.taps = taps;
    args.k_per_tap = cin_g;
    args.b = conv.weights_.data() + ((b.g * positions + xi) * cout_pad + panel * kernel.nr) * taps * cin_g;
    args.b_stride = kernel.nr;
    args.c_row_stride = cout_pad;
    args.cols = kernel.nr;  // M rows hold whole panels
    for (int64_t first = 0; first < tiles; first += kernel.mr) {
      for (int i = 0; i < kernel.mr; ++i) {  // rows past the last tile repeat it; they are not stored
        const int64_t tile = std::min(first + i, tiles - 1);
        for (int64_t kd = 0; kd < taps; ++kd)  // the same tile, kd dilations deeper
          rows[kd * kernel.mr + i] = v_xi + (tile + kd * t.d.dilation * slice_tiles) * cin_g;
      }
      args.c = mb + (xi * tiles + first) * cout_pad + panel * kernel.nr;
      args.rows = static_cast<int>(std::min<int64_t>(kernel.mr, tiles - first));
      kernel.run(args);
    }
  }

  // Phase 4, tile `tile`, channels [c0, c1): Y = AT M A + bias into the output (cells dilation apart), cut
  // at the border.
  void output_tile(const Block& b, const float* mb, float* out_block, int64_t tile, int64_t c0, int64_t c1) const {
    const int64_t cout = conv.spec_.out_channels, cout_g = conv.cout_g_, dh = t.h.dilation, dw = t.w.dilation;
    const int64_t out_d = t.d.output, out_h = t.h.output, out_w = t.w.output;
    const TileIndex i = tile_index(b, tile);
    const Plane pl = plane(b, i.plane);
    const int64_t oz = b.z0 + i.slice, oy = pl.py + dh * (b.ty0 + i.r) * m, ox = pl.px + dw * (b.tx0 + i.c) * m;
    const int rows = cells(oy, out_h, dh), cols = cells(ox, out_w, dw);
    if (rows == 0 || cols == 0) return;  // a tile of a short phase, past the output's end
    const float* bias = conv.bias_.size() ? conv.bias_.data() + b.g * cout_g + c0 : nullptr;
    const float* m_tile = mb + tile * conv.cout_pad_ + c0;
    const int64_t m_stride = b.tiles() * conv.cout_pad_;
    if (conv.spec_.layout == Layout::channels_last) {
      float* y_tile = y + (((pl.n * out_d + oz) * out_h + oy) * out_w + ox) * cout + b.g * cout_g + c0;
      conv.transform_.output(m_tile, m_stride, c1 - c0, bias, y_tile, dh * out_w * cout, dw * cout, rows, cols);
    } else {  // into the block's channels-innermost staging, transposed into the planes by unstage()
      const int64_t row_stride = b.cols * m * cout_g;
      float* o_tile = out_block + ((i.slice * b.planes + i.plane) * b.rows + i.r) * tile_rows * row_stride +
                      i.c * m * cout_g + c0;
      conv.transform_.output(m_tile, m_stride, c1 - c0, bias, o_tile, row_stride, cout_g, rows, cols);
    }
  }

  // Phase 5 (channels_first only), item = (slice, local plane, output row) of the block: staging -> the
  // output planes of channels [c0, c1).
  void unstage(const Block& b, const float* out_block, int64_t item, int64_t c0, int64_t c1) const {
    const int64_t cout_g = conv.cout_g_, out_d = t.d.output, out_h = t.h.output, out_w = t.w.output;
    const int64_t dw = t.w.dilation, block_rows = b.rows * tile_rows;
    const int64_t slice = item / (b.planes * block_rows), row = item % block_rows;
    const Plane pl = plane(b, item / block_rows % b.planes);
    const int64_t oz = b.z0 + slice, oy = pl.py + t.h.dilation * (b.ty0 * m + row), ox = pl.px + dw * b.tx0 * m;
    if (oy >= out_h) return;
    float* y_row = y + (((pl.n * conv.spec_.out_channels + b.g * cout_g) * out_d + oz) * out_h + oy) * out_w + ox;
    // Plane by plane: each output row is written once (the staging rows stay in L1/L2).
    const float* from = out_block + item * b.cols * m * cout_g;
    const int64_t pixels = std::min(b.cols * m, ceil_div(out_w - ox, dw)), channel_size = out_d * out_h * out_w;
    for (int64_t c = c0; c < c1; ++c)
      for (int64_t p = 0; p < pixels; ++p) y_row[c * channel_size + p * dw] = from[p * cout_g + c];
  }

  // The workspace of one block: patch, V (one thread's), M, output staging (channels_first).
  float* patch_of(float* workspace) const { return workspace; }
  float* v_of(float* workspace) const { return workspace + t.patch_floats; }
  float* m_of(float* workspace) const { return workspace + t.patch_floats + t.v_floats; }
  float* out_of(float* workspace) const { return workspace + t.patch_floats + t.v_floats + t.m_floats; }
  int64_t stage_items(const Block& b) const { return v_slices(b) * b.planes * patch_rows(b); }
  int64_t out_items(const Block& b) const {
    return conv.spec_.layout == Layout::channels_first ? b.depth * b.planes * b.rows * tile_rows : 0;
  }

  // Block b by one thread, the output channel panels [p0, p1) (all of the input transform).
  void run_block(const Block& b, float* patch, float* v, float* mb, float* out, int64_t p0, int64_t p1) const {
    const int64_t c0 = p0 * conv.kernel_.nr, c1 = std::min(conv.cout_g_, p1 * conv.kernel_.nr);
    if (non_finite.load(std::memory_order_relaxed)) return;
    for (int64_t item = 0; item < stage_items(b); ++item) stage(b, patch, item);
    if (!all_finite(patch, stage_items(b) * patch_cols(b) * conv.cin_g_, conv.transform_.isa)) {
      non_finite.store(true, std::memory_order_relaxed);
      return;
    }
    for (int64_t tile = 0; tile < v_tiles(b); ++tile) input_tile(b, patch, v, tile);
    for (int64_t xi = 0; xi < positions; ++xi)
      for (int64_t panel = p0; panel < p1; ++panel) gemm(b, v, mb, xi * panels() + panel);
    for (int64_t tile = 0; tile < b.tiles(); ++tile) output_tile(b, mb, out, tile, c0, c1);
    for (int64_t item = 0; item < out_items(b); ++item) unstage(b, out, item, c0, c1);
  }
};

void WinogradConvolution::run(ConstTensorView input, float* output, int threads) const {
  if (weights_finite_) {
    const Call call(*this, input, output);
    run_blocks(call, threads);
    if (!call.non_finite) {
      write_bias_where_all_padding(spec_, resolve_geometry(spec_, input_spatial_of(spec_, input.shape())), input.dim(0),
                                   bias_.size() ? bias_.data() : nullptr, output);
      return;
    }
  }
  direct_->run(input, output, threads);
}

void WinogradConvolution::run_blocks(const Call& call, int threads) const {
  const int64_t blocks = call.t.blocks(groups_), panels = call.panels();
  if (call.t.macs < kSerialMacs) threads = 1;
  if (call.t.whole_blocks(groups_, threads)) {
    parallel_for(threads, blocks, [&](int64_t index) {
      thread_local std::vector<float> workspace;
      float* w = scratch(workspace, call.t.block_floats());
      call.run_block(call.block(index), call.patch_of(w), call.v_of(w), call.m_of(w), call.out_of(w), 0, panels);
    });
    return;
  }
  // Few blocks: each thread takes a share of the output channel panels of every block and transforms
  // the block's input itself (a few % of the work, repeated per thread), so the threads never wait for
  // each other inside the call (a barrier per phase waited for descheduled threads on a loaded machine:
  // ResNet-50 res4, 2 threads, wall clock, 54 ms against 16 ms for gemm). M and the output staging are
  // shared (disjoint columns); patch and V are per thread.
  thread_local std::vector<float> shared;
  float* mb = scratch(shared, call.t.m_floats + call.t.out_floats);
  parallel_for(threads, threads, [&](int64_t share) {
    const int64_t p0 = panels * share / threads, p1 = panels * (share + 1) / threads;
    thread_local std::vector<float> own;
    float* w = scratch(own, call.t.patch_floats + call.t.v_floats);
    if (p0 < p1)
      for (int64_t index = 0; index < blocks; ++index)
        call.run_block(call.block(index), call.patch_of(w), call.v_of(w), mb, mb + call.t.m_floats, p0, p1);
  });
}

std::size_t WinogradConvolution::workspace_bytes(const Shape& input_shape, int threads) const {
  const std::size_t direct = direct_->workspace_bytes(input_shape, threads);  // runs after the blocks, not beside
  const Tiling t = tiling(input_shape);
  if (t.macs < kSerialMacs) threads = 1;
  if (!t.whole_blocks(groups_, threads))  // patch + V per thread, M + staging shared
    return std::max(
        static_cast<std::size_t>(threads * (t.patch_floats + t.v_floats) + t.m_floats + t.out_floats) * sizeof(float),
        direct);
  const int64_t copies = std::min<int64_t>(threads, t.blocks(groups_));
  return std::max(static_cast<std::size_t>(copies * t.block_floats()) * sizeof(float), direct);
}

std::string WinogradConvolution::details() const {
  const std::string m = std::to_string(transform_.m);
  const std::string tile = spec_.rank == 1 ? "F(" + m + ", 3)" : "F(" + m + "x" + m + ", 3x3)";
  return tile + (spec_.rank == 3 ? " per depth slice, 3 depth taps in the GEMMs" : "") + ": " +
         std::to_string(transform_.positions()) + " GEMMs per block of tiles; micro-kernel " + kernel_name("gemm", kernel_.isa, kernel_.tile()) +
         ", weights transformed at plan time; with NaN or Inf in the input or weights: " + direct_->name();
}

}  // namespace convkit::cpu
