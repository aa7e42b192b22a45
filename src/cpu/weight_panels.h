// Weights packed for the tile micro-kernels (tile_kernel.h), shared by the GEMM drivers: panels of
// `width` output channels (NR when channels are the vector operand, MR otherwise), zero-padded.
#pragma once

#include <cstdint>

#include "aligned_buffer.h"
#include "convkit/spec.h"
#include "convkit/tensor.h"

namespace convkit::cpu {

// Panels [group][panel][k][lane] of `weight` (in `spec`'s layout, any strides): k = (tap * runs + j) *
// run_length + i walks the kernel taps (reversed with flip) and, per tap, the group's Cin/g input channels
// in `runs` runs of run_length = Cin/g/runs, element i of run j being channel i * runs + j (a channel
// shuffle fused into the read, see gemm_convolution.h; runs = 1: channel order). Lanes past Cout/g are zero.
AlignedBuffer pack_weight_panels(const ConvSpec& spec, ConstTensorView weight, int64_t width, int64_t runs = 1);

// Bias panels [group][panel][lane] of `bias` (out_channels values), zero past Cout/g.
AlignedBuffer pack_bias_panels(const ConvSpec& spec, const float* bias, int64_t width);

}  // namespace convkit::cpu
