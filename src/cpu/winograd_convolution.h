// Winograd convolution F(m x m, 3 x 3) (2D; 3D per depth slice) and F(m, 3) (1D) for 3-wide, stride-1
// kernels (Lavin & Gray 2016), any dilation, both layouts, groups, every padding kind and padding mode,
// flip, fused bias. Dilation d: tiles on each of the d x d sub-grids (polyphase), cells d apart. 3D: the
// 3 depth taps are summed in the GEMMs (K = 3 Cin/g).
//
// Plan time: each 3x3 (or 3) filter becomes U = G g GT, alpha x alpha values (alpha = m + 2), stored as
// the B operand of the GEMM micro-kernels: panels of NR output channels, [group][xi][panel][tap][c][NR].
// Run time, per block of output tiles (sized to max(1 MiB, U per group)):
//   1. stage: copy the block's input rectangle (tiles + 2-cell halo, padding applied by the padding
//      mode, channels made innermost) into a patch, so the transforms read no borders and no strides;
//   2. input transform: V = BT d B per tile, vectorized along channels, into V[xi][tile][c];
//   3. alpha^2 independent GEMMs M[xi] = V[xi] (tiles x taps Cin/g) * U[xi] (taps Cin/g x Cout/g) with
//      the igemm micro-kernels (rows = tiles read through row pointers, one per tile and depth tap);
//   4. output transform: Y = AT M A + bias per tile, written straight into the output (cut at the border).
// NaN and Inf: one in a tile's input spreads over every output of the tile (and 0 * Inf terms of the
// transforms add NaN where the definition has +-Inf), so the results would depend on the algorithm. Each
// block scans its staged patch (in cache: 1.5-2% of the time, docs/engine.md); a run whose input holds a
// non-finite value, or whose weights do, is computed by the direct algorithm a plan would choose without
// winograd (made at plan time), which propagates them as the reference defines.
// Threads: whole blocks per thread when there are at least two per thread; otherwise each thread takes a
// share of every block's output channel panels and transforms the block's input itself (a small image:
// the threads split the transformed weights instead of each streaming all of them; no barriers). Every
// value is computed by one call in one fixed order: results are bit-identical for every thread count.
// Extra memory: per block (one per thread; or patch + V per thread, M shared) patch + V + M = about
//   tiles * (m^2 * Cin/g + alpha^2 * (Cin/g + Cout/g)) floats (3D: 2 more input slices),
//   tiles <= max(16, max(1 MiB, U) / (4 alpha^2 (Cin/g + Cout/g))).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "algorithm.h"
#include "aligned_buffer.h"
#include "convkit/spec.h"
#include "convkit/tensor.h"
#include "tile_kernel.h"
#include "winograd_transform.h"

namespace convkit::cpu {

class WinogradConvolution final : public Algorithm {
 public:
  // Empty when this algorithm computes `spec`, otherwise the reason it cannot.
  static std::string cannot(const ConvSpec& spec);
  // Empty when it should be faster than gemm for `spec`, otherwise why not.
  static std::string prefers_not(const ConvSpec& spec);
  // The tested bound (docs/engine.md, "Error bound"), for ConvPlan::explain.
  static std::string error_bound(const ConvSpec& spec);
  // The output tile size m of F(m, 3) used for `spec`.
  static int tile_size(const ConvSpec& spec);
  // The transformed weights of F(m, 3) for `spec`, per group.
  static int64_t transformed_bytes(const ConvSpec& spec, int m);

  // tile: the output tile size m, 0 for tile_size(spec) (the tests try every m).
  WinogradConvolution(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa, int tile = 0);

  void run(ConstTensorView input, float* output, int threads) const override;
  std::string name() const override { return transform_.name(); }
  std::string details() const override;
  std::size_t packed_bytes() const override { return weights_.bytes() + bias_.bytes() + direct_->packed_bytes(); }
  std::size_t workspace_bytes(const Shape& input_shape, int threads) const override;

 private:
  struct Tiling;
  struct Block;
  struct Call;

  Tiling tiling(const Shape& input_shape) const;
  // Every block of the call; sets call.non_finite (and stops) when a block's input is not all finite.
  void run_blocks(const Call& call, int threads) const;

  ConvSpec spec_;
  WinogradTransform transform_;  // 2D over (H, W) for rank 3
  int taps_ = 1;                 // depth taps summed in the GEMMs: 3 for rank 3, else 1
  int64_t groups_ = 1, cin_g_ = 1, cout_g_ = 1;
  TileKernel kernel_{};     // the igemm micro-kernel of the GEMMs (rows = tiles, columns = output channels)
  int64_t cout_pad_ = 1;    // Cout/g rounded up to whole panels of kernel_.nr: the row length of M
  AlignedBuffer weights_;  // U: [group][xi][panel][c][NR], zero beyond Cout/g
  AlignedBuffer bias_;     // Cout values, empty without bias
  bool weights_finite_ = true;
  std::unique_ptr<Algorithm> direct_;  // runs with NaN or Inf in the input or weights (create_direct)
};

}  // namespace convkit::cpu
