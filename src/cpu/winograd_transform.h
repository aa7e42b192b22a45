// The per-tile Winograd transforms, vectorized along channels (one vector = kLanes channels of one
// tile), compiled once per ISA (isa_kernels.cc) and listed in one table per ISA that the algorithm
// and the tests iterate over. Tile positions xi = (row, column) of the alpha x alpha (2D) or alpha (1D)
// transform grid are numbered row-major.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "isa.h"

namespace convkit::cpu {

// V = BT d B for one tile and `channels` channels: cell (i, j) of the input tile d, channel c, is read
// at d[i * row_stride + j * col_stride + c] (rows only in 2D); V[xi] channel c is written at
// v[xi * v_stride + c].
using InputTransform = void (*)(const float* d, int64_t row_stride, int64_t col_stride, int64_t channels, float* v,
                                int64_t v_stride);

// Y = AT M A + bias for one tile: M[xi] channel c at m[xi * m_stride + c]; bias (channels values) or
// null. Output cell (i, j), channel c, goes to y[i * row_stride + j * col_stride + c], only for i < rows
// and j < cols (a tile cut by the image border).
using OutputTransform = void (*)(const float* m, int64_t m_stride, int64_t channels, const float* bias, float* y,
                                 int64_t row_stride, int64_t col_stride, int rows, int cols);

struct WinogradTransform {
  Isa isa;
  int m;     // output tile size per axis: F(m, 3)
  int rank;  // 1 or 2
  InputTransform input;
  OutputTransform output;
  int alpha() const { return m + 2; }
  int positions() const { return rank == 2 ? alpha() * alpha() : alpha(); }
  // e.g. "winograd.avx512.f4x4" (2D F(4x4, 3x3)) or "winograd.avx2.f6" (1D F(6, 3)).
  std::string name() const;
};

// The transform for (isa, m, rank); every ISA has m = 2, 4, 6 for rank 1 and 2.
const WinogradTransform& winograd_transform(Isa isa, int m, int rank);

}  // namespace convkit::cpu
