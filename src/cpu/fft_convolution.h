// 1D convolution by FFT overlap-save, for long kernels: the direct paths spend K MACs per output and
// input channel, this one O(log n) per output plus Cin/g products per output channel in the frequency
// domain, so above a measured kernel length (kMinTaps, docs/benchmarks.md) it wins.
//
// Per (image, group) the padded input is cut in blocks of n cells overlapping by Kd - 1 (Kd = the
// dilated kernel length, the kernel zero-stuffed between taps); the circular convolution of a block
// with the reversed kernel is exact for its last n - Kd + 1 cells, which are the outputs. Two
// consecutive blocks go through one complex transform as its real and imaginary parts (the kernel is
// real, so the two results come back separated the same way). Per block pair: Cin/g forward
// transforms, Cout/g * Cin/g pointwise products summed per output channel, Cout/g inverse transforms.
// The kernel spectra (scaled by 1/n) are computed at plan time.
//
// Error: the float FFT's rounding grows with log2(n): |error| <= 5 * 2^-24 * log2(n) * sqrt(n) *
// max|x| * ||w_o||_2 per output (w_o the weights of output channel o), the classical bound of FFT
// convolution with ||x_block||_2 <= sqrt(n) max|x| (tests/fft_test.cc checks it; the errors seen are far below).
// NaN and Inf: one in a block reaches every bin of its transform, so every output of the block pair
// (and 0 * Inf terms add NaN where the definition has +-Inf). Each item scans the blocks it gathers (in
// cache); a run whose input holds a non-finite value, or whose weights do, is computed by the direct
// algorithm a plan would choose without fft (made at plan time), which propagates them as the reference
// defines.
// Stride 1 only (a strided layer would compute outputs it throws away); every padding kind and mode
// (blocks read the padded input through gather_padded), dilation, groups, flip, bias, both layouts.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "algorithm.h"
#include "aligned_buffer.h"
#include "fft.h"

namespace convkit::cpu {

class FftConvolution final : public Algorithm {
 public:
  // Measured crossover (1 -> 1 channel, 1M samples, AVX-512, docs/benchmarks.md): the spatial direct
  // path is faster at 128 taps (6.3 vs 7.5 ms), this one at 256 (7.8 vs 14.7 ms); linear in between.
  static constexpr int64_t kMinTaps = 160;

  static std::string cannot(const ConvSpec& spec);
  static std::string prefers_not(const ConvSpec& spec);
  // The bound above for the spec's transform size, for ConvPlan::explain.
  static std::string error_bound(const ConvSpec& spec);
  // The transform size for a dilated kernel of `taps` cells: the power of two with the least modelled
  // work per output ((Cin/g + Cout/g) transforms of n log2 n, Cin/g * Cout/g products of n, over the
  // n - taps + 1 outputs of a block).
  static int64_t block_size(int64_t taps, int64_t cin_g, int64_t cout_g);

  FftConvolution(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa);

  void run(ConstTensorView input, float* output, int threads) const override;
  std::string name() const override;
  std::string details() const override;
  std::size_t packed_bytes() const override {
    return spectra_.bytes() + bias_.size() * sizeof(float) + direct_->packed_bytes();
  }
  std::size_t workspace_bytes(const Shape& input_shape, int threads) const override;
  int64_t transform_size() const { return fft_.size(); }

 private:
  ConvSpec spec_;
  Isa isa_;
  int64_t groups_ = 1, cin_g_ = 1, cout_g_ = 1;
  int64_t taps_ = 1;  // dilated kernel length
  FftPlan fft_;
  AlignedBuffer spectra_;    // [group][o][c][re n | im n], the reversed kernel's transform / n
  std::vector<float> bias_;  // out_channels values, empty without bias
  bool weights_finite_ = true;
  std::unique_ptr<Algorithm> direct_;  // runs with NaN or Inf in the input or weights (create_direct)
};

}  // namespace convkit::cpu
