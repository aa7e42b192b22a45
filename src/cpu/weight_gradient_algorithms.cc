// The table BackwardWeightsPlan chooses from, in order of preference (see weight_gradient_algorithm.h).
#include "weight_gradient.h"
#include "weight_gradient_algorithm.h"
#include "weight_gradient_direct.h"

#include "convkit/shape.h"

namespace convkit::cpu {
namespace {

std::string always(const ConvSpec&) { return {}; }

// channels_last depthwise puts the channels in the lanes: below 16 most lanes of an AVX-512 vector
// would be idle (Sobel 1 -> 1: 10.5 ms against 0.7 ms along W).
std::string depthwise_prefers_not(const ConvSpec& spec) {
  if (spec.layout == Layout::channels_first || spec.in_channels >= 16) return {};
  return std::to_string(spec.in_channels) + " channels in channels_last fill few vector lanes (few_channel runs along W)";
}

template <class A>
std::unique_ptr<WeightGradientAlgorithm> create(const ConvSpec& spec, Isa isa) {
  return std::make_unique<A>(spec, isa);
}

// channels_last: the channels in the vector lanes; channels_first: along W over staged rows (one
// input and one output channel per group).
std::unique_ptr<WeightGradientAlgorithm> create_depthwise(const ConvSpec& spec, Isa isa) {
  if (spec.layout == Layout::channels_last) return create<ChannelVectorWeightGradient>(spec, isa);
  return std::make_unique<RowWeightGradient>(spec, isa, "depthwise");
}

std::unique_ptr<WeightGradientAlgorithm> create_few_channel(const ConvSpec& spec, Isa isa) {
  return std::make_unique<RowWeightGradient>(spec, isa, "few_channel");
}

// Few channels per group: each call's x vectors feed at most 4 output channels, and a group's (input
// channel, tap) pairs are swept once per 4 output channels, so beyond a handful the GEMM's register
// tile (14 x 32 sums on AVX-512) reuses its loads far better. ResNeXt's 4 x 4 per group is at the limit.
constexpr int64_t kFewChannelPairs = 16;

// Also one input channel per group with a long kernel, channels_first: the GEMM packs taps x pixels of
// it per tile (an im2col of the signal) where the rows read the staged row in place (audio.m5.k80s4,
// 1 -> 128, 80 taps, stride 4: 1.92 -> 0.67 ms; channels_last stages dy with strided copies: slower).
constexpr int64_t kLongKernelTaps = 32;

std::string few_channel_prefers_not(const ConvSpec& spec) {
  const int64_t in_g = spec.in_channels / spec.groups, out_g = spec.out_channels / spec.groups;
  if (in_g * out_g <= kFewChannelPairs) return {};
  int64_t taps = 1;
  for (int64_t k : per_axis(spec.kernel, spec.rank, 1, "kernel")) taps *= k;
  if (in_g == 1 && taps >= kLongKernelTaps && spec.layout == Layout::channels_first) return {};
  return std::to_string(in_g) + " x " + std::to_string(out_g) + " channels per group exceed " +
         std::to_string(kFewChannelPairs) + " (input, output) channel pairs (gemm reuses its loads better)";
}

}  // namespace

std::span<const WeightGradientEntry> weight_gradient_algorithms() {
  static const WeightGradientEntry table[] = {
      {"depthwise", &ChannelVectorWeightGradient::cannot, &depthwise_prefers_not, &create_depthwise},
      {"few_channel", &RowWeightGradient::cannot, &few_channel_prefers_not, &create_few_channel},
      {"gemm", &always, &always, &create<WeightGradient>},
  };
  return table;
}

}  // namespace convkit::cpu
