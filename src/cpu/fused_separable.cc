#include "fused_separable.h"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <vector>

#include "cache_size.h"
#include "convkit/shape.h"
#include "driver_util.h"
#include "parallel.h"

namespace convkit::cpu {
namespace {

bool all_equal(const std::vector<int64_t>& values, int64_t value) {
  return std::all_of(values.begin(), values.end(), [value](int64_t v) { return v == value; });
}

// How the output of one image is cut: `row_blocks` blocks of (at most) `rows` whole rows.
struct Blocking {
  int64_t rows = 1, row_blocks = 1;
};

// Blocks of at most block_bytes of intermediate, but at least kMinBlockPixels: the pointwise GEMM reads
// all its weights once per block (and pads the last tile of MR pixels), which only amortizes over a few
// hundred pixels (e.g. Xception's 728 x 728 weights: 76-pixel blocks made it 13% slower than one GEMM).
// The blocks of an image are then made even, so that they spread evenly over threads. A row wider than
// the budget is a block of its own (a 1D signal is one row: fused in name only, the two stages in turn).
Blocking blocking(int64_t out_rows, int64_t width, int64_t mid_channels, int64_t block_bytes) {
  const int64_t budget =
      std::max(FusedSeparable::kMinBlockPixels, block_bytes / (mid_channels * int64_t{sizeof(float)}));
  Blocking b;
  b.row_blocks = ceil_div(out_rows, std::clamp<int64_t>(budget / width, 1, out_rows));
  b.rows = ceil_div(out_rows, b.row_blocks);
  return b;
}

}  // namespace

std::string FusedSeparable::cannot(const ConvSpec& depthwise, const ConvSpec& pointwise) {
  if (std::string reason = DepthwiseConvolution::cannot(depthwise); !reason.empty()) return "first stage " + reason;
  if (pointwise.transposed || pointwise.groups != 1) return "second stage not an ungrouped convolution";
  if (pointwise.rank != depthwise.rank || pointwise.layout != depthwise.layout ||
      pointwise.in_channels != depthwise.out_channels)
    return "second stage does not read the first stage's output";
  const int rank = pointwise.rank;
  if (!all_equal(per_axis(pointwise.kernel, rank, 1, "kernel"), 1) ||
      !all_equal(per_axis(pointwise.stride, rank, 1, "stride"), 1))
    return "second stage not a stride-1 1x1 convolution";
  // With a 1x1 stride-1 kernel, valid and same pad nothing; explicit pads must be zero.
  const Padding& pad = pointwise.padding;
  if (pad.kind == PaddingKind::explicit_pads && !(all_equal(per_axis(pad.begin, rank, 0, "padding begin"), 0) &&
                                                  all_equal(per_axis(pad.end, rank, 0, "padding end"), 0)))
    return "second stage padded";
  return {};
}

std::string FusedSeparable::prefers_not(const ConvSpec& depthwise) {
  if (depthwise.rank == 3 && depthwise.layout == Layout::channels_first)
    return "channels_first volumes: blocks would stage each input row once per depth that reads it";
  return {};
}

FusedSeparable::FusedSeparable(const ConvSpec& depthwise, ConstTensorView depthwise_weight, const float* depthwise_bias,
                               const ConvSpec& pointwise, ConstTensorView pointwise_weight, const float* pointwise_bias,
                               Isa isa, int64_t block_bytes)
    : pointwise_spec_(pointwise),
      block_bytes_(block_bytes > 0 ? block_bytes : l2_cache_bytes() / 2),
      depthwise_(depthwise, depthwise_weight, depthwise_bias, isa),
      pointwise_(pointwise, pointwise_weight, pointwise_bias, isa) {}

// The output image's rows (all spatial axes but W) and width for `input_shape`.
std::array<int64_t, 2> FusedSeparable::output_rows_and_width(const Shape& input_shape) const {
  const Shape spatial = input_spatial_of(pointwise_spec_, output_shape(depthwise_.spec(), input_shape));
  int64_t rows = 1;
  for (size_t axis = 0; axis + 1 < spatial.size(); ++axis) rows *= spatial[axis];
  return {rows, spatial.back()};
}

int64_t FusedSeparable::row_blocks(const Shape& input_shape) const {
  const auto [out_rows, width] = output_rows_and_width(input_shape);
  return blocking(out_rows, width, pointwise_spec_.in_channels, block_bytes_).row_blocks;
}

void FusedSeparable::run(ConstTensorView input, float* output, int threads) const {
  const ConvSpec& pw = pointwise_spec_;
  const bool channels_last = pw.layout == Layout::channels_last;
  const int64_t batch = input.dim(0), mid = pw.in_channels, cout = pw.out_channels;
  const std::array<int64_t, 2> rows_and_width = output_rows_and_width(input.shape());
  const int64_t out_rows = rows_and_width[0], width = rows_and_width[1];  // (Clang 14: no bindings in OpenMP regions)
  const int64_t out_pixels = out_rows * width;
  const Blocking b = blocking(out_rows, width, mid, block_bytes_);
  const int64_t items = batch * b.row_blocks;
  const int64_t block_floats = b.rows * width * mid + pointwise_.slack_floats();
  const int64_t taps = depthwise_.taps();
  if (batch * out_pixels * mid * (taps + cout) < kSerialMacs) threads = 1;
  using Runner = DepthwiseConvolution::BlockRunner;  // one per thread
  const auto make_runner = [&] { return Runner(depthwise_, input.shape()); };
  parallel_for(threads, items, Schedule::guided, make_runner, [&](Runner& runner, int64_t item) {
    thread_local std::vector<float> block_buffer;
    float* block = scratch(block_buffer, block_floats);
    const int64_t n = item / b.row_blocks, first_row = item % b.row_blocks * b.rows;
    const int64_t last_row = std::min(first_row + b.rows, out_rows);
    runner.run(input.data(), n, first_row, last_row, block);
    // The block's pixels are consecutive in the output image: whole rows.
    const int64_t first_pixel = first_row * width, pixels = (last_row - first_row) * width;
    if (channels_last)
      pointwise_.run(block, pixels, output + (n * out_pixels + first_pixel) * cout, 0);
    else
      pointwise_.run(block, pixels, output + n * cout * out_pixels + first_pixel, out_pixels);
  });
}

std::string FusedSeparable::name() const { 
  return "fused." + depthwise_.name() + "+" + kernel_name("gemm", pointwise_.kernel().isa, pointwise_.kernel().tile());
}

std::string FusedSeparable::details() const {
  return "fused " + name() + ": per thread, blocks of whole output rows whose " +
         std::to_string(pointwise_spec_.in_channels) + "-channel depthwise output fits in " +
         std::to_string(block_bytes_ >> 10) + " KiB feed the pointwise micro-kernel from cache";
}

}  // namespace convkit::cpu
