// Transposed convolution without zero insertion, for every transposed ConvSpec: rank 1-3, both layouts,
// stride, dilation, every padding rule (explicit, same/same_lower, output_shape), output_padding, groups,
// flip, fused bias. Backward-data of a convolution is this operation with the same weights.
// Work and memory grow with the input, the output and the kernel, never with the stride: only the phases
// some tap reaches (at most k per axis) are packed, and a call walks only the phases some output is in
// (at most min(s, output) per axis).
//
// Phase decomposition (the sub-pixel / "deconvolution as s^rank convolutions" scheme). Along one axis,
// input cell i and kernel tap q reach the uncropped output position t = i*s + q*d, i.e. output
// p = t - pad_begin. Group the outputs by phase rho = t mod s: tap q reaches phase rho exactly when
// q*d = rho (mod s), so each phase gets a fixed subset of the taps (an arithmetic progression of step
// s / gcd(s, d)), and inside a phase output m (t = rho + s*m) reads input i = m - (q*d - rho) / s:
// consecutive outputs of a phase read consecutive inputs. Each phase is therefore a dense stride-1
// correlation of the input with its own sub-kernel (dilated by d / gcd(s, d), with its own offsets),
// computed with the dense engine's micro-kernels, and its outputs land every s-th cell of the output.
// FLOPs = N * Cout * Cin/g * in_pixels * taps, the zero-free count; phases reached by no tap (kernel
// shorter than the stride) and cells no input reaches get the bias (or zero).
//
// The phases are packed at plan time ([phase][group][panel][tap * Cin/g + c][lane], zero beyond Cout/g;
// the packed taps are the kernel's taps, each in exactly one phase). Output tiles are runs of one
// phase's pixels; a tile whose pixels are evenly spaced in the output is written in place, any other
// through a one-tile buffer. Extra memory per thread: channels_last kMaxBlockTiles * MR * taps row
// pointers, channels_first taps * Cin/g * NR floats, plus one MR x NR tile -- bounded by the kernel size,
// independent of the image size (no zero-inserted input, no full-size temporary).
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "algorithm.h"
#include "aligned_buffer.h"
#include "convkit/spec.h"
#include "convkit/tensor.h"
#include "tile_kernel.h"

namespace convkit::cpu {

class TransposedConvolution final : public Algorithm {
 public:
  // Empty when this algorithm computes `spec` (every transposed spec), otherwise the reason it cannot.
  static std::string cannot(const ConvSpec& spec);

  // `weight` in the spec's layout (shape already checked); `bias` has out_channels values or is null.
  TransposedConvolution(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa);

  void run(ConstTensorView input, float* output, int threads) const override;

  std::string name() const override { return kernel_name("transposed", kernel_.isa, kernel_.tile()); }
  std::string details() const override;
  std::size_t packed_bytes() const override { return weights_.bytes() + bias_.bytes() + zeros_.bytes(); }
  std::size_t workspace_bytes(const Shape& input_shape, int threads) const override;

 private:
  struct Call;  // the per-call state: geometry, per-phase index tables, tensors

  static constexpr std::size_t kAxes = 3;  // (D, H, W); lower ranks have leading size-1 axes
  // One phase rho of one axis that kernel taps reach, with those taps q (positions, before flip) in
  // decreasing q, i.e. increasing input index.
  struct ReachedPhase {
    int64_t rho = 0;
    std::vector<int64_t> taps;
  };
  // Index of phase rho in axis_phases_[axis], or -1 when no tap reaches it.
  int64_t reached_index(size_t axis, int64_t rho) const;

  ConvSpec spec_;
  TileKernel kernel_{};
  int64_t groups_ = 1, cin_g_ = 1, cout_g_ = 1;
  std::array<int64_t, kAxes> stride_{1, 1, 1}, dilation_{1, 1, 1};  // (D, H, W), 1 below rank 3
  // Per axis, the phases some tap reaches, by increasing rho.
  std::array<std::vector<ReachedPhase>, kAxes> axis_phases_;
  // Packed phases: the reached phases of every axis combined, index (i_D * n_H + i_H) * n_W + i_W.
  int64_t phases_ = 1;
  std::vector<int64_t> phase_taps_;       // per packed phase: product of its axes' tap counts
  std::vector<int64_t> phase_weights_;    // per packed phase: offset of its panels in weights_
  int64_t max_phase_taps_ = 0;
  int64_t panel_width_ = 1;  // output channels per weight panel (NR channels_last, MR channels_first)
  int64_t panels_ = 1;       // weight panels per group
  AlignedBuffer weights_;    // [phase][group][panel][tap * Cin/g + c][panel_width]
  AlignedBuffer bias_;       // [group][panel][panel_width], empty without bias
  AlignedBuffer zeros_;      // one zero row of Cin/g floats (channels_last rows outside the input)
};

}  // namespace convkit::cpu
