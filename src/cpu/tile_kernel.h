// Register-blocked GEMM micro-kernels (BLIS/XNNPACK style): one call computes an MR x NR tile
//   C[i][j] = bias + sum_k A[i][k] * B[k][j]      (i < MR, j < NR)
// with the whole reduction held in registers. A is the broadcast operand, B the vector operand.
// The convolution drivers use it both ways round:
//   channels_last:  A = MR output pixels (rows of the input, read through per-tap row pointers or
//                   packed), B = packed weights for NR output channels; C rows are pixels.
//   channels_first: A = packed weights for MR output channels, B = NR output pixels (packed input
//                   rows, or the input itself for 1x1); C rows are channels.
// Two variants per MR x NR shape: A packed (gemm), or read through row pointers (igemm, XNNPACK's
// indirect GEMM); every shape of an ISA is listed in its IsaKernels::tiles (isa_kernels.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "isa.h"

namespace convkit::cpu {

struct TileArgs {
  // A, packed (gemm): k-major, MR floats per k. A, indirect (igemm): taps x MR row pointers; row i of
  // tap t is a_rows[t * MR + i] and holds k_per_tap consecutive floats. Or, with a_pitch > 0, one pointer
  // per tap to rows at a fixed pitch: row i of tap t is a_rows[t] + i * a_pitch (rows past `rows` re-read
  // the last one), the input read in place when the pixels' receptive fields are strided stretches.
  const float* a_packed = nullptr;
  const float* const* a_rows = nullptr;
  int64_t a_pitch = 0;
  int64_t a_stride = 0;  // packed A: floats from one k to the next, 0 for MR (A read in place: a pixel pitch)
  int64_t taps = 1;
  int64_t k_per_tap = 0;  // the reduction length is taps * k_per_tap
  // B: one row of NR floats per k, b_stride floats apart, or, with b_offsets, row k at b + b_offsets[k]
  // (channels_first phase windows: each (tap, channel) row is a stretch of one phase plane, phase_window.h).
  const float* b = nullptr;
  int64_t b_stride = 0;
  const int64_t* b_offsets = nullptr;
  // C[i][j] at c[i * c_row_stride + j]; only the first `rows` x `cols` are written. With a_pitch, `rows`
  // may exceed MR: the kernel runs the rows MR at a time (one call for a stretch of tiles).
  float* c = nullptr;
  int64_t c_row_stride = 0;
  int rows = 0;
  int cols = 0;
  // The sums start from these (bias): one value per row (`rows` of them) and/or NR values (one per column), or null.
  const float* row_bias = nullptr;
  const float* col_bias = nullptr;
  // Or, instead of the bias, from C's own values: a reduction split into blocks, summed block by block.
  bool accumulate = false;
};

using TileFunction = void (*)(const TileArgs&);

// Input packing for the channels_first pixel operand: a stretch of consecutive tile pixels whose
// sources are input pixels `step` apart (source >= 0; step = the W stride), or padding zeros (source < 0).
struct PixelSegment {
  int64_t begin = 0, length = 0, source = -1;
};
// For r < rows: dst[r * dst_stride + begin + j] = src[r * src_stride + source + j * step] (or 0), every segment.
// Compiled per ISA next to the micro-kernels (masked vector copies).
using PackFunction = void (*)(const PixelSegment* segments, int64_t count, int64_t step, const float* src,
                              int64_t src_stride, int64_t rows, float* dst, int64_t dst_stride);

struct TileKernel {
  Isa isa;
  bool indirect;  // igemm (A through row pointers) or gemm (A packed)
  int mr;
  int nr;
  int lanes;  // floats per vector: NR is nr / lanes vectors
  TileFunction run;
  PackFunction pack;
  // The tile part of a kernel name (isa.h kernel_name): "14x32", or "14x32-indirect" for igemm.
  std::string tile() const;
};


// How best_tile_kernel breaks a tie between kernels padding the channels equally.
enum class TileTies {
  larger,  // the larger tile (MR x NR), the first listed on equal sizes
  // The fewest operand loads per FMA, 1/MR + 1/NV (MR broadcasts and NV vector loads per MR x NV FMAs; the
  // BLIS argument for square-ish register tiles), then the larger tile: 4x96 before 8x48 on AVX-512.
  fewest_loads,
  // The same with each vector load counted twice, 1/MR + 2/NV: channels_last GEMMs, whose vector operand is
  // the weight panel (K x NR floats, from L2 once K is long) while the broadcast rows stay in L1. 6x64
  // before 14x32, and 8x48 before 4x96 (which measured 0-7% slower than 14x32 at 96 channels).
  fewest_loads_vectors_twice,
};

// The kernel among `kernels` (igemm or gemm per `indirect`) whose panel width -- NR when output channels are
// the vector operand (channels_last), else MR -- pads `channels` output channels least; ties as `ties` says.
TileKernel best_tile_kernel(std::span<const TileKernel> kernels, bool indirect, bool channels_in_columns,
                            int64_t channels, TileTies ties = TileTies::larger);

}  // namespace convkit::cpu
