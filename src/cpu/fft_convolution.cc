#include "fft_convolution.h"
#include "driver_util.h"
#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "convkit/shape.h"
#include "finite_scan.h"
#include "padded_row.h"
#include "padding_only_outputs.h"

namespace convkit::cpu {
namespace {

constexpr int64_t kMaxSize = int64_t{1} << 16;     // transforms stay in the L2 cache
constexpr int64_t kSerialWork = int64_t{1} << 20;  // below (modelled flops), one thread

int64_t dilated_taps(const ConvSpec& spec) {
  const int64_t k = per_axis(spec.kernel, 1, 1, "kernel")[0], d = per_axis(spec.dilation, 1, 1, "dilation")[0];
  return (k - 1) * d + 1;
}

}  // namespace

std::string FftConvolution::cannot(const ConvSpec& spec) {
  if (spec.transposed) return "transposed convolution";
  if (spec.rank != 1) return "rank " + std::to_string(spec.rank) + ": 1D only";
  if (const int64_t s = per_axis(spec.stride, 1, 1, "stride")[0]; s != 1)
    return "stride " + std::to_string(s) + ": overlap-save computes every output; strided layers use the direct paths";
  if (dilated_taps(spec) > kMaxSize / 2)
    return "dilated kernel of " + std::to_string(dilated_taps(spec)) + " cells > " + std::to_string(kMaxSize / 2);
  return {};
}

std::string FftConvolution::prefers_not(const ConvSpec& spec) {
  const int64_t k = per_axis(spec.kernel, 1, 1, "kernel")[0];
  if (k < kMinTaps)
    return "kernel " + std::to_string(k) + " < " + std::to_string(kMinTaps) + " taps: the direct paths are faster";
  return {};
}

std::string FftConvolution::error_bound(const ConvSpec& spec) {
  const int64_t n = block_size(dilated_taps(spec), spec.in_channels / spec.groups, spec.out_channels / spec.groups);
  const double scale = 5.0 * 0x1p-24 * std::log2(static_cast<double>(n)) * std::sqrt(static_cast<double>(n));
  std::ostringstream out;
  out << std::setprecision(2) << "|error| <= " << scale << " * max|x| * ||w_o||_2 (" << n
      << "-point blocks: relative to the block's largest input, so an output much smaller than its "
      << "neighbours loses digits)";
  return out.str();
}

int64_t FftConvolution::block_size(int64_t taps, int64_t cin_g, int64_t cout_g) {
  int64_t best = 0;
  double best_cost = 0.0;
  for (int64_t n = std::bit_ceil(static_cast<uint64_t>(std::max<int64_t>(2 * taps, 16))); n <= kMaxSize; n *= 2) {
    const double work = static_cast<double>(cin_g + cout_g) * std::log2(static_cast<double>(n)) +
                        2.0 * static_cast<double>(cin_g * cout_g);
    const double cost = work * static_cast<double>(n) / static_cast<double>(n - taps + 1);
    if (!best || cost < best_cost) best = n, best_cost = cost;
  }
  return best;
}

FftConvolution::FftConvolution(const ConvSpec& spec, ConstTensorView weight, const float* bias, Isa isa)
    : spec_(spec), isa_(isa), groups_(spec.groups), cin_g_(spec.in_channels / spec.groups),
      cout_g_(spec.out_channels / spec.groups), taps_(dilated_taps(spec)),
      fft_(block_size(taps_, cin_g_, cout_g_), isa) {
  const int64_t k = per_axis(spec.kernel, 1, 1, "kernel")[0], d = per_axis(spec.dilation, 1, 1, "dilation")[0];
  const int64_t n = fft_.size();
  // Weight strides along (output channel, input channel, tap): channels_first (Cout, Cin/g, K),
  // channels_last (K, Cin/g, Cout).
  const bool channels_last = spec.layout == Layout::channels_last;
  const auto& st = weight.strides();
  const int64_t o_stride = channels_last ? st[2] : st[0], c_stride = st[1], q_stride = channels_last ? st[0] : st[2];
  spectra_ = AlignedBuffer(static_cast<size_t>(spec.out_channels * cin_g_ * 2 * n));
  std::fill_n(spectra_.data(), spectra_.size(), 0.0f);
  const float scale = 1.0f / static_cast<float>(n);  // a power of two: exact
  for (int64_t o = 0; o < spec.out_channels; ++o)
    for (int64_t c = 0; c < cin_g_; ++c) {
      float* re = spectra_.data() + (o * cin_g_ + c) * 2 * n;
      // Cross-correlation y[i] = sum_q w[q] x[i + q d] is the convolution of x with the reversed,
      // zero-stuffed kernel; with flip (a true convolution) the kernel is used as is.
      for (int64_t q = 0; q < k; ++q) {
        const int64_t cell = q * d;
        re[spec.flip ? cell : taps_ - 1 - cell] = weight.data()[o * o_stride + c * c_stride + q * q_stride] * scale;
      }
      fft_.forward(re, re + n);
    }
  if (bias) bias_.assign(bias, bias + spec.out_channels);
  weights_finite_ = all_finite(weight.data(), weight.numel());
  direct_ = create_direct(spec, weight, bias, isa);
}

void FftConvolution::run(ConstTensorView input, float* output, int threads) const {
  if (!weights_finite_) {
    direct_->run(input, output, threads);
    return;
  }
  std::atomic<bool> non_finite{false};  // a block holds NaN or Inf: the run goes direct
  const AxisGeometry axis = resolve_geometry(spec_, input_spatial_of(spec_, input.shape())).axes[0];
  const int64_t n = fft_.size(), length = n - taps_ + 1;  // outputs per block
  const int64_t blocks = ceil_div(axis.output, length), pairs = ceil_div(blocks, 2);
  const int64_t batch = input.dim(0), cin = spec_.in_channels, cout = spec_.out_channels;
  const bool channels_last = spec_.layout == Layout::channels_last;
  const int64_t items = batch * groups_ * pairs;
  const double work = static_cast<double>(items * (cin_g_ + cout_g_ + cin_g_ * cout_g_) * n);
  if (work < static_cast<double>(kSerialWork)) threads = 1;
  // Each output is computed by one block pair in one fixed order: the result does not depend on `threads`.
  parallel_for(threads, items, [&](int64_t item) {
    thread_local std::vector<float> input_buffer, output_buffer;
    const int64_t b_n = item / (groups_ * pairs), g = item / pairs % groups_, first = item % pairs * 2;
    float* x = scratch(input_buffer, cin_g_ * 2 * n);
    float* y = scratch(output_buffer, 2 * n);
    for (int64_t c = 0; c < cin_g_; ++c) {
      const int64_t channel = g * cin_g_ + c;
      const PaddedRow row{channels_last ? input.data() + b_n * axis.input * cin + channel
                                        : input.data() + (b_n * cin + channel) * axis.input,
                          channels_last ? cin : 1, axis.input, axis.pad_begin, axis.output - 1 + taps_,
                          spec_.padding_mode};
      float* re = x + c * 2 * n;
      gather_padded(row, first * length, 1, n, re);
      if (first + 1 < blocks) gather_padded(row, (first + 1) * length, 1, n, re + n);
      else std::fill_n(re + n, n, 0.0f);
      if (!all_finite(re, 2 * n, isa_)) non_finite.store(true, std::memory_order_relaxed);
      fft_.forward(re, re + n);
    }
    for (int64_t o = g * cout_g_; o < (g + 1) * cout_g_; ++o) {
      std::fill_n(y, 2 * n, 0.0f);
      for (int64_t c = 0; c < cin_g_; ++c) {
        const float* h = spectra_.data() + (o * cin_g_ + c) * 2 * n;
        fft_.multiply_add(x + c * 2 * n, x + c * 2 * n + n, h, h + n, y, y + n);
      }
      fft_.inverse(y, y + n);
      const float b = bias_.empty() ? 0.0f : bias_[static_cast<size_t>(o)];
      for (int64_t half = 0; half < 2 && first + half < blocks; ++half) {
        const int64_t start = (first + half) * length, count = std::min(length, axis.output - start);
        const float* from = y + half * n + taps_ - 1;
        if (channels_last)
          for (int64_t i = 0; i < count; ++i) output[(b_n * axis.output + start + i) * cout + o] = from[i] + b;
        else
          for (int64_t i = 0; i < count; ++i) output[(b_n * cout + o) * axis.output + start + i] = from[i] + b;
      }
    }
  });
  if (non_finite) direct_->run(input, output, threads);
  else write_bias_where_all_padding(spec_, ConvGeometry{{axis}}, batch, bias_.empty() ? nullptr : bias_.data(), output);
}

std::string FftConvolution::name() const {
  return kernel_name("fft", isa_, std::to_string(fft_.size()));
}

std::string FftConvolution::details() const {
  return "overlap-save, complex transforms of " + std::to_string(fft_.size()) + " points, " +
         std::to_string(fft_.size() - taps_ + 1) + " outputs per block, two blocks per transform; with NaN or Inf " +
         "in the input or weights: " + direct_->name();
}

std::size_t FftConvolution::workspace_bytes(const Shape& input_shape, int threads) const {
  return std::max(static_cast<std::size_t>(threads * (cin_g_ + 1) * 2 * fft_.size()) * sizeof(float),
                  direct_->workspace_bytes(input_shape, threads));  // runs after the blocks, not beside
}

}  // namespace convkit::cpu
